//! The front end's side of a sandbox's control socket (the protocol is in `sentry::control`):
//! `runsc create` binds and listens, `start`, `kill` and `wait` connect and send one line.
//!
//! A unix socket path holds at most 107 bytes, and a container directory under Docker's root
//! with a 64-character id comes close; so both ends go through `/proc/self/fd/N/sandbox.sock`
//! with N an `O_PATH` descriptor of the directory, which is short whatever the root.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

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
