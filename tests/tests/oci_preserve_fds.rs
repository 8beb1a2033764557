//! `create`/`run --preserve-fds N` (runc's `create.go`: "Pass N additional file descriptors to
//! the container (stdio + $LISTEN_FDS + N in total)"): the caller's fds 3 .. 3+N-1 are the
//! container init's fds of the same numbers, and nothing more is. The caller holds a pipe at
//! fd 3; the container writes to its fd 3 and the test reads what arrived. Every scenario runs
//! against our `runsc` and against `runc`, the reference (the harness in `tests::oci`).

use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use tests::oci::*;

/// Makes `w` the child's fd 3 (without close-on-exec) when `cmd` is spawned.
fn with_fd3(cmd: &mut Command, w: &OwnedFd) {
    let raw = w.as_raw_fd();
    // SAFETY: the hook runs in the forked child before exec and makes only dup2 or fcntl,
    // both async-signal-safe, on descriptors the child inherited; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let r = if raw == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(raw, 3)
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Reads the pipe `r` to end-of-file (every writer gone).
fn read_to_end(r: OwnedFd) -> String {
    let mut s = String::new();
    fs::File::from(r).read_to_string(&mut s).unwrap();
    s
}

const SCRIPT: &str = "echo through fd3 >&3; echo out; \
                      (echo x >&4) 2>/dev/null && echo fd4 open || echo fd4 closed";

#[test]
fn run_passes_a_preserved_pipe_at_fd_3() {
    for (i, rt) in runtimes().iter().enumerate() {
        let b = busybox_bundle(&format!("oci-preserve-run-{}", rt.name), SCRIPT, |_| {});
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let mut cmd = rt.command(&["run", "--preserve-fds", "1", "--bundle"]);
        cmd.arg(&b)
            .arg(tests::unique_id(&format!("preserve{i}-")))
            .current_dir(&b)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        with_fd3(&mut cmd, &w);
        let child = cmd.spawn().unwrap();
        drop(w);
        let o = child.wait_with_output().unwrap();
        let name = rt.name;
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert_eq!(tests::shell_status(o.status), 0, "{name}: {out}{err}");
        assert_eq!(out, "out\nfd4 closed\n", "{name} (stderr: {err})");
        assert_eq!(read_to_end(r), "through fd3\n", "{name}");
        rt.cleanup();
        let _ = fs::remove_dir_all(&b);
    }
}

/// `create --preserve-fds 1` then `start`: the descriptor waits in the created container for
/// its init, and the caller of `create` may close its own copy meanwhile.
#[test]
fn create_passes_a_preserved_pipe_at_fd_3_to_start() {
    for (i, rt) in runtimes().iter().enumerate() {
        let b = busybox_bundle(&format!("oci-preserve-create-{}", rt.name), SCRIPT, |_| {});
        let id = tests::unique_id(&format!("preservec{i}-"));
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let out = fs::File::create(b.join("out")).unwrap();
        let pid_file = b.join("init.pid");
        let mut cmd = rt.command(&["create", "--preserve-fds", "1", "--bundle"]);
        cmd.arg(&b)
            .arg("--pid-file")
            .arg(&pid_file)
            .arg(&id)
            .current_dir(&b)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        with_fd3(&mut cmd, &w);
        let status = cmd.status().unwrap();
        drop(w);
        let name = rt.name;
        assert!(
            status.success(),
            "{name} create: {}",
            fs::read_to_string(b.join("out")).unwrap_or_default()
        );
        let pid: i32 = fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let o = rt.short(&["start", &id]);
        assert_eq!(o.status, 0, "{name} start: {}", o.stderr);
        assert_eq!(reap(pid), 0, "{name}");
        assert_eq!(read_to_end(r), "through fd3\n", "{name}");
        assert_eq!(
            fs::read_to_string(b.join("out")).unwrap(),
            "out\nfd4 closed\n",
            "{name}"
        );
        let o = rt.short(&["delete", &id]);
        assert_eq!(o.status, 0, "{name} delete: {}", o.stderr);
        rt.cleanup();
        let _ = fs::remove_dir_all(&b);
    }
}
