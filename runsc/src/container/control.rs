//! The front end's side of a sandbox's control socket (the protocol is in `sentry::control`):
//! `runsc create` binds and listens, `start`, `kill` and `wait` connect and send one line;
//! `exec` sends its request with the new process's stdio attached (`SCM_RIGHTS`) and keeps the
//! connection until the process's exit status arrives on it ([`ExecConn`]).
//!
//! A unix socket path holds at most 107 bytes, and a container directory under Docker's root
//! with a 64-character id comes close; so both ends go through `/proc/self/fd/N/sandbox.sock`
//! with N an `O_PATH` descriptor of the directory, which is short whatever the root.

use std::fs::File;
use std::io::{BufRead, BufReader, IoSlice, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
pub use sentry::control::ExecRequest;

const SOCKET_NAME: &str = "sandbox.sock";

fn short_path(dir: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}/{SOCKET_NAME}", dir.as_raw_fd()))
}

fn open_dir(dir: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
}

/// Binds and listens on `<dir>/sandbox.sock`; the descriptor goes to the sentry.
pub fn listen(dir: &Path) -> std::io::Result<OwnedFd> {
    let d = open_dir(dir)?;
    let listener = UnixListener::bind(short_path(&d))?;
    Ok(OwnedFd::from(listener))
}

/// Sends `request` to the sentry of the container in `dir`; returns its reply line.
pub fn call(dir: &Path, request: &str) -> Result<String, String> {
    let d = open_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut conn = UnixStream::connect(short_path(&d))
        .map_err(|e| format!("the sandbox does not answer ({e}): it has stopped"))?;
    conn.write_all(format!("{request}\n").as_bytes())
        .map_err(|e| format!("sending {request:?} to the sandbox: {e}"))?;
    let mut line = String::new();
    BufReader::new(conn)
        .read_line(&mut line)
        .map_err(|e| format!("reading the sandbox's reply: {e}"))?;
    let line = line.trim_end();
    if line.is_empty() {
        return Err("the sandbox hung up without a reply: it has stopped".into());
    }
    match line.strip_prefix("error: ") {
        Some(msg) => Err(msg.to_string()),
        None => Ok(line.to_string()),
    }
}

/// A process started by [`exec`]: its pid in the sandbox and the connection on which its exit
/// status will arrive.
#[derive(Debug)]
pub struct ExecConn {
    pub pid: i32,
    conn: UnixStream,
}

/// Asks the sentry of the container in `dir` to start `request`'s process with `fds` as its
/// descriptors 0, 1, 2...; returns once it has started. The error is the sentry's message.
pub fn exec(dir: &Path, request: &ExecRequest, fds: &[BorrowedFd<'_>]) -> Result<ExecConn, String> {
    let (conn, reply) = send_with_fds(dir, &request.encode(), fds)?;
    if let Some(msg) = reply.strip_prefix("error: ") {
        return Err(msg.to_string());
    }
    match reply.strip_prefix("pid ").map(str::parse::<i32>) {
        Some(Ok(pid)) => Ok(ExecConn { pid, conn }),
        _ if reply.is_empty() => Err("the sandbox hung up without a reply: it has stopped".into()),
        _ => Err(format!("unexpected reply from the sandbox: {reply:?}")),
    }
}

/// Sends `request` (one line, without its newline) with `fds` attached to the sentry of the
/// container in `dir`; returns the connection and the first reply line, read so that nothing
/// after it is consumed (the connection may go to another process to read the rest).
pub fn send_with_fds(
    dir: &Path,
    request: &str,
    fds: &[BorrowedFd<'_>],
) -> Result<(UnixStream, String), String> {
    let d = open_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut conn = UnixStream::connect(short_path(&d))
        .map_err(|e| format!("the sandbox does not answer ({e}): it has stopped"))?;
    let line = format!("{request}\n");
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let sent = loop {
        match sendmsg::<()>(
            conn.as_raw_fd(),
            &[IoSlice::new(line.as_bytes())],
            &[ControlMessage::ScmRights(&raw)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => break other,
        }
    }
    .map_err(|e| format!("sending a request to the sandbox: {e}"))?;
    // The descriptors went with the first bytes; a long request may need more writes.
    conn.write_all(&line.as_bytes()[sent..])
        .map_err(|e| format!("sending a request to the sandbox: {e}"))?;
    // One byte at a time: nothing after the first line may be consumed here, as the
    // connection may be handed to another process to read the status (`exec --detach`).
    let reply =
        read_line_unbuffered(&mut conn).map_err(|e| format!("reading the sandbox's reply: {e}"))?;
    Ok((conn, reply))
}

/// Connects to the control socket in `dir` and hangs up at once (wakes a server that checks
/// whether to go on serving after each connection); errors are of no interest.
pub fn knock(dir: &Path) {
    if let Ok(d) = open_dir(dir) {
        let _ = UnixStream::connect(short_path(&d));
    }
}

impl ExecConn {
    /// The connection, to hand to another process ([`wait_exec_status`] reads it there).
    pub fn into_fd(self) -> OwnedFd {
        OwnedFd::from(self.conn)
    }

    /// Blocks until the process has ended; returns its status (128+N for signal N).
    pub fn wait(self) -> i32 {
        wait_exec_status(self.into_fd())
    }
}

/// Reads the `exit STATUS` line of an exec connection (or of whatever holds the rest of it);
/// a sandbox that went away without one killed the process with it: 137, as runc reports
/// for the processes of a container that is killed.
pub fn wait_exec_status(conn: OwnedFd) -> i32 {
    let mut line = String::new();
    let _ = BufReader::new(File::from(conn)).read_line(&mut line);
    line.trim_end()
        .strip_prefix("exit ")
        .and_then(|n| n.parse().ok())
        .unwrap_or(128 + libc::SIGKILL)
}

fn read_line_unbuffered(conn: &mut UnixStream) -> std::io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 4096 {
        match conn.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_directories_still_bind_and_connect() {
        let long = std::env::temp_dir()
            .join(format!("runsc-ctl-{}", std::process::id()))
            .join("x".repeat(120));
        std::fs::create_dir_all(&long).unwrap();
        let fd = listen(&long).unwrap();
        let listener = UnixListener::from(fd);
        let server = std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let mut line = String::new();
            BufReader::new(conn.try_clone().unwrap())
                .read_line(&mut line)
                .unwrap();
            let mut conn = conn;
            let reply = if line == "start\n" { "ok" } else { "error: no" };
            writeln!(conn, "{reply}").unwrap();
        });
        assert_eq!(call(&long, "start"), Ok("ok".to_string()));
        server.join().unwrap();
        assert!(call(&long, "start").is_err(), "nobody listens any more");
        let _ = std::fs::remove_dir_all(long.parent().unwrap());
    }
}
