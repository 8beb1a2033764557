//! A write to a pipe whose reader is gone fails with EPIPE and raises SIGPIPE, whose default
//! action kills the writer: `yes | head -c N` leaves `yes` dead of signal 13 (shell status
//! 141), natively and in the sandbox.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tests::{runsc_bin, shell_status, FIXED_ENV};

/// Reads some bytes of the child's stdout, closes the pipe and returns the child's shell status.
fn status_after_reader_closes(mut child: Child) -> i32 {
    let mut out = child.stdout.take().expect("stdout is piped");
    let mut buf = [0u8; 4096];
    let mut got = 0;
    while got < 64 << 10 {
        match out.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(got > 0, "the writer wrote nothing");
    drop(out);
    let deadline = Instant::now() + tests::DEFAULT_TIMEOUT;
    loop {
        if let Some(s) = child.try_wait().expect("waiting for the writer") {
            return shell_status(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the writer did not die after its reader closed the pipe");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(program: &std::path::Path, args: &[&str]) -> Child {
    Command::new(program)
        .args(args)
        .env_clear()
        .envs(FIXED_ENV.iter().copied())
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning the writer")
}

#[test]
fn yes_dies_of_sigpipe_natively_and_sandboxed() {
    let yes = std::path::Path::new("/usr/bin/yes");
    let native = status_after_reader_closes(spawn(yes, &[]));
    assert_eq!(native, 128 + libc::SIGPIPE);
    let sandboxed = status_after_reader_closes(spawn(&runsc_bin(), &["do", "--", "/usr/bin/yes"]));
    assert_eq!(sandboxed, 128 + libc::SIGPIPE);
}
