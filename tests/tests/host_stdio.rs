//! The sandbox's stdio are host descriptors (pipes from the engine, terminals). A task blocked
//! reading one that the other side never feeds must still be killed by SIGKILL and interrupted
//! by a handled signal, as natively: compared with a native run, stdin a pipe this test holds
//! open without writing.

use std::process::{Command, Stdio};

use tests::runsc_bin;

const SCRIPT: &str = "exec 3<&0; cat <&3 & sleep 0.3; kill -9 $!; wait $!; echo \"cat: $?\"; \
    python3 -c 'import os, signal\n\
def boom(*a): raise InterruptedError\n\
signal.signal(signal.SIGALRM, boom)\n\
signal.setitimer(signal.ITIMER_REAL, 0.3)\n\
try:\n    os.read(0, 10)\n    print(\"read returned\")\n\
except InterruptedError:\n    print(\"read interrupted\")\n'";

fn run(mut cmd: Command, what: &str) -> (i32, String) {
    let (r, w) = nix::unistd::pipe().unwrap();
    cmd.env_clear()
        .envs(tests::FIXED_ENV.iter().copied())
        .stdin(Stdio::from(r))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let o = tests::run(cmd, tests::DEFAULT_TIMEOUT, what);
    // Held open, never written, until the program is done.
    drop(w);
    (o.status, o.stdout_str())
}

#[test]
fn blocked_reads_of_host_stdin_obey_signals() {
    let mut native = Command::new("/bin/sh");
    native.args(["-c", SCRIPT]);
    let mut sandboxed = Command::new(runsc_bin());
    sandboxed.args(["do", "--", "/bin/sh", "-c", SCRIPT]);
    let n = run(native, "native sh");
    let s = run(sandboxed, "runsc do sh");
    assert_eq!(n, (0, "cat: 137\nread interrupted\n".to_string()));
    assert_eq!(s, n, "sandboxed (left) vs native");
}
