//! The container's terminal (after runc's `utils.SendFd`/`tty.go` and gVisor's
//! `runsc/console/console.go`; pty(7), tty_ioctl(4), unix(7) SCM_RIGHTS): a host pty pair whose
//! master goes to the `--console-socket` listener and whose slave becomes the sandbox's stdio.
//!
//! The sentry's side of a terminal: `runsc boot` makes the slave its own controlling terminal
//! (setsid(2) + TIOCSCTTY) before its seccomp filter, so that the signals the host line
//! discipline raises (^C, ^\, ^Z, a resize) reach it; they are blocked in every sentry thread
//! and one thread takes them with sigwait(3) and forwards them to the sandbox's foreground
//! process group.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::pty::{openpty, Winsize};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use thiserror::Error;

/// What runc sends as the message's bytes beside the master (the master's own name).
pub const MASTER_NAME: &[u8] = b"/dev/ptmx";

/// The signals a host terminal raises in its foreground process group, which the sentry
/// forwards to the sandbox's (SIGHUP: the master was closed).
pub const TERMINAL_SIGNALS: &[Signal] = &[
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTSTP,
    Signal::SIGWINCH,
    Signal::SIGHUP,
];

/// A terminal that could not be made or handed over.
#[derive(Debug, Error)]
pub enum ConsoleError {
    #[error("opening a pty pair: {0}")]
    Open(#[source] nix::errno::Errno),
    #[error("console socket {path}: {source}")]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("sending the pty master to console socket {path}: {source}")]
    Send {
        path: PathBuf,
        #[source]
        source: nix::errno::Errno,
    },
    #[error("{what}: {source}")]
    Stdio {
        what: &'static str,
        #[source]
        source: nix::errno::Errno,
    },
    #[error("making the terminal the sentry's controlling terminal: {0}")]
    Session(#[source] nix::errno::Errno),
}

/// A host pty pair: `master` for the console socket, `slave` for the container's fds 0-2.
/// Both are close-on-exec; the slave was opened without becoming anyone's controlling terminal.
#[derive(Debug)]
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    /// `/dev/pts/N`.
    pub slave_path: PathBuf,
}

impl Pty {
    /// Opens a pty pair; `size` is (rows, columns), as process.consoleSize's (height, width).
    pub fn open(size: Option<(u16, u16)>) -> Result<Pty, ConsoleError> {
        let ws = size.map(|(rows, cols)| Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        });
        let pair = openpty(ws.as_ref(), None).map_err(ConsoleError::Open)?;
        // Copies above stdio (F_DUPFD_CLOEXEC from 3), close-on-exec: our fds 0-2 may have
        // been closed, and openpty would then have handed those numbers out.
        let lift = |fd: OwnedFd| {
            fd.as_fd()
                .try_clone_to_owned()
                .map_err(|e| ConsoleError::Open(io_errno(&e)))
        };
        let pair = nix::pty::OpenptyResult {
            master: lift(pair.master)?,
            slave: lift(pair.slave)?,
        };
        let slave_path = std::fs::read_link(format!("/proc/self/fd/{}", pair.slave.as_raw_fd()))
            .map_err(|e| ConsoleError::Open(io_errno(&e)))?;
        Ok(Pty {
            master: pair.master,
            slave: pair.slave,
            slave_path,
        })
    }
}

fn io_errno(e: &std::io::Error) -> nix::errno::Errno {
    nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// process.consoleSize as (rows, columns), when given and non-zero (sizes beyond u16 clamp).
pub fn console_size(spec: &oci_spec::runtime::Spec) -> Option<(u16, u16)> {
    let b = spec.process().as_ref()?.console_size()?;
    let clamp = |v: u64| u16::try_from(v).unwrap_or(u16::MAX);
    (b.height() > 0 || b.width() > 0).then(|| (clamp(b.height()), clamp(b.width())))
}

/// Connects to the `--console-socket` listener at `socket_path` and sends `master` there with
/// SCM_RIGHTS in one message whose bytes are [`MASTER_NAME`], as runc does (containerd, conmon
/// and runc's `recvtty` receive it so).
pub fn send_master(socket_path: &Path, master: &OwnedFd) -> Result<(), ConsoleError> {
    let sock = UnixStream::connect(socket_path).map_err(|source| ConsoleError::Connect {
        path: socket_path.to_path_buf(),
        source,
    })?;
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(MASTER_NAME)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|source| ConsoleError::Send {
        path: socket_path.to_path_buf(),
        source,
    })?;
    Ok(())
}

/// This process's stdio as it was before [`redirect_stdio`]; dropping it puts it back (a
/// descriptor that was closed is closed again).
#[derive(Debug)]
pub struct SavedStdio {
    saved: [Option<OwnedFd>; 3],
}

/// Makes `fd` this process's fds 0, 1 and 2 (so that the children it starts inherit it as their
/// stdio) until the returned guard is dropped.
pub fn redirect_stdio(fd: BorrowedFd<'_>) -> Result<SavedStdio, ConsoleError> {
    let dup = |f: BorrowedFd<'_>| match f.try_clone_to_owned() {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.raw_os_error() == Some(libc::EBADF) => Ok(None),
        Err(e) => Err(ConsoleError::Stdio {
            what: "saving stdio",
            source: io_errno(&e),
        }),
    };
    let saved = [
        dup(std::io::stdin().as_fd())?,
        dup(std::io::stdout().as_fd())?,
        dup(std::io::stderr().as_fd())?,
    ];
    let guard = SavedStdio { saved };
    for n in 0..3 {
        nix::unistd::dup2(fd.as_raw_fd(), n).map_err(|source| ConsoleError::Stdio {
            what: "redirecting stdio to the terminal",
            source,
        })?;
    }
    Ok(guard)
}

impl Drop for SavedStdio {
    fn drop(&mut self) {
        for (n, fd) in (0..).zip(&self.saved) {
            let _ = match fd {
                Some(fd) => nix::unistd::dup2(fd.as_raw_fd(), n).map(drop),
                None => nix::unistd::close(n),
            };
        }
    }
}

/// Whether `fd` is a terminal that is not already this process's controlling terminal (a
/// console made for the container, not the terminal of the user who ran `runsc do`).
pub fn is_unowned_terminal(fd: BorrowedFd<'_>) -> bool {
    nix::unistd::isatty(fd.as_raw_fd()).unwrap_or(false) && sys::tiocgsid(fd).is_err()
}

/// Blocks [`TERMINAL_SIGNALS`] in the calling thread (and so in every thread it starts later).
pub fn block_terminal_signals() -> Result<(), ConsoleError> {
    terminal_sigset()
        .thread_block()
        .map_err(|source| ConsoleError::Stdio {
            what: "blocking terminal signals",
            source,
        })
}

/// Unblocks [`TERMINAL_SIGNALS`] in the calling thread.
pub fn unblock_terminal_signals() {
    let _ = terminal_sigset().thread_unblock();
}

fn terminal_sigset() -> SigSet {
    let mut set = SigSet::empty();
    for &s in TERMINAL_SIGNALS {
        set.add(s);
    }
    set
}

/// Makes terminal `fd` this process's controlling terminal in a new session of its own
/// (setsid(2), then TIOCSCTTY without stealing), so that it is in the terminal's foreground
/// process group.
pub fn take_controlling_terminal(fd: BorrowedFd<'_>) -> Result<(), ConsoleError> {
    nix::unistd::setsid().map_err(ConsoleError::Session)?;
    sys::tiocsctty(fd).map_err(ConsoleError::Session)
}

/// The window size of terminal `fd` as (rows, columns) (TIOCGWINSZ).
pub fn window_size(fd: BorrowedFd<'_>) -> nix::Result<(u16, u16)> {
    sys::tiocgwinsz(fd).map(|w| (w.ws_row, w.ws_col))
}

/// Waits for one of [`TERMINAL_SIGNALS`] (blocked beforehand) and returns its number.
pub fn wait_terminal_signal() -> Result<i32, ConsoleError> {
    terminal_sigset()
        .wait()
        .map(|s| s as i32)
        .map_err(|source| ConsoleError::Stdio {
            what: "waiting for terminal signals",
            source,
        })
}

/// The raw terminal ioctls nix has no safe wrapper for.
mod sys {
    use std::os::fd::{AsRawFd, BorrowedFd};

    use nix::errno::Errno;

    /// TIOCGSID: the session of the terminal, if it is the caller's controlling terminal.
    pub fn tiocgsid(fd: BorrowedFd<'_>) -> nix::Result<libc::pid_t> {
        let mut sid: libc::pid_t = 0;
        // SAFETY: TIOCGSID writes one pid_t to the pointer, which points at `sid`, live and
        // exclusively borrowed for the call; `fd` is valid for the call.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGSID, &mut sid) };
        Errno::result(r).map(|_| sid)
    }

    /// TIOCGWINSZ: the terminal's window size.
    pub fn tiocgwinsz(fd: BorrowedFd<'_>) -> nix::Result<nix::pty::Winsize> {
        let mut ws = nix::pty::Winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes one struct winsize to the pointer, which points at `ws`,
        // live and exclusively borrowed for the call; `fd` is valid for the call.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
        Errno::result(r).map(|_| ws)
    }

    /// TIOCSCTTY with argument 0: never steals a terminal that controls another session.
    pub fn tiocsctty(fd: BorrowedFd<'_>) -> nix::Result<()> {
        // SAFETY: TIOCSCTTY takes an int by value and touches no memory of ours; `fd` is valid.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0 as libc::c_int) };
        Errno::result(r).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{recvmsg, ControlMessageOwned};
    use std::io::{IoSliceMut, Read, Write};
    use std::os::fd::FromRawFd;
    use std::os::unix::net::UnixListener;

    #[test]
    fn a_pty_has_the_size_asked_and_a_pts_name() {
        let pty = Pty::open(Some((31, 97))).unwrap();
        assert!(
            pty.slave_path.starts_with("/dev/pts/"),
            "{:?}",
            pty.slave_path
        );
        assert_eq!(window_size(pty.slave.as_fd()).unwrap(), (31, 97));
        assert!(is_unowned_terminal(pty.slave.as_fd()));
        let (r, _w) = nix::unistd::pipe().unwrap();
        assert!(!is_unowned_terminal(r.as_fd()));
    }

    #[test]
    fn the_master_reaches_the_console_socket_and_carries_data() {
        let dir = std::env::temp_dir().join(format!("console-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("console.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let pty = Pty::open(None).unwrap();
        send_master(&path, &pty.master).unwrap();
        let (conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        )
        .unwrap();
        let mut got = None;
        for c in msg.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(fds) = c {
                got = fds.first().copied();
            }
        }
        let n = msg.bytes;
        assert_eq!(&buf[..n], MASTER_NAME);
        // SAFETY: the fd just arrived by SCM_RIGHTS and nothing else owns it.
        let mut master = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(got.unwrap()) });
        let mut slave = std::fs::File::from(pty.slave);
        slave.write_all(b"hi\n").unwrap();
        let mut out = [0u8; 8];
        let k = master.read(&mut out).unwrap();
        assert_eq!(&out[..k], b"hi\r\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn console_size_reads_height_and_width() {
        let spec: oci_spec::runtime::Spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.2","process":{"cwd":"/","args":["sh"],"terminal":true,
                "consoleSize":{"height":24,"width":80},"user":{"uid":0,"gid":0}},
                "root":{"path":"rootfs"}}"#,
        )
        .unwrap();
        assert_eq!(console_size(&spec), Some((24, 80)));
        let none: oci_spec::runtime::Spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.2","process":{"cwd":"/","args":["sh"],
                "user":{"uid":0,"gid":0}},"root":{"path":"rootfs"}}"#,
        )
        .unwrap();
        assert_eq!(console_size(&none), None);
    }
}
