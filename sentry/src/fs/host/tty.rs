//! Host terminals given to the sandbox (after gVisor's `pkg/sentry/fsimpl/host/tty.go`; Linux
//! `drivers/tty/tty_jobctrl.c` and tty_ioctl(4)). The line discipline (canonical mode, echo,
//! ^C) stays on the host: termios and window-size requests pass through to the host fd. Job
//! control is kept in the sandbox's own terms: which sandbox session the terminal controls and
//! its foreground process group (sandbox pids), as Linux keeps `tty->session` and `tty->pgrp`.
//!
//! A host terminal handed to the sandbox as stdio starts as the controlling terminal of init's
//! session (1) with init's process group (1) in the foreground, as gVisor does for a container
//! with `process.terminal`. Every host terminal the sentry holds is in one process-wide
//! registry (a sentry runs one kernel): /dev/tty and /dev/pts/N find it there.
//!
//! The registry does not keep a terminal alive: the sandbox's open files on it do (each holds
//! its `HostTty`). When the last one closes (an `exec --tty` process and everything it left
//! behind have ended) the host slave fd closes, and the master the engine holds reads EIO, as
//! it does under runc once the last holder of the slave exits (Linux `pty_close`, `tty_hangup`
//! of the other side). Until then /dev/pts/N names it.
//!
//! The job-control state and its ioctls are `fs::jobctl`'s, shared with the sentry's own
//! pseudo-terminals (`fs::devpts`).
//!
//! Lock order: `REGISTRY`, then a terminal's `job`; the process tree is never locked under
//! either (pids are read from the kernel before locking).
//!
//! Not modelled: SIGTTOU/SIGTTIN for background groups (the host sees only the sentry, which
//! is always in the host foreground), and TIOCNOTTY by a process that is not the session
//! leader (it succeeds without effect: the controlling terminal belongs to the session here).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::sys;
pub use crate::fs::jobctl::signal_pgrp;
use crate::fs::jobctl::{hangup_leader, JobState, TtyJob};
pub use crate::fs::jobctl::{TIOCGPGRP, TIOCGSID, TIOCNOTTY, TIOCSCTTY, TIOCSPGRP};
use crate::kernel::{Kernel, Task};
use crate::{Errno, SysResult};

/// ioctl numbers (include/uapi/asm-generic/ioctls.h).
pub const TCGETS: u32 = 0x5401;
pub const TCSETS: u32 = 0x5402;
pub const TCSETSW: u32 = 0x5403;
pub const TCSETSF: u32 = 0x5404;
pub const TCSBRK: u32 = 0x5409;
pub const TCXONC: u32 = 0x540a;
pub const TCFLSH: u32 = 0x540b;
pub const TIOCGWINSZ: u32 = 0x5413;
pub const TIOCSWINSZ: u32 = 0x5414;
pub const FIONREAD: u32 = 0x541b;

/// The host requests a sandbox terminal may reach (the seccomp filter allows exactly these).
pub const HOST_TTY_IOCTLS: &[u32] = &[
    TCGETS, TCSETS, TCSETSW, TCSETSF, TCSBRK, TCXONC, TCFLSH, TIOCGWINSZ, TIOCSWINSZ, FIONREAD,
];

/// `sizeof(struct termios)` as the kernel copies it for TCGETS/TCSETS.
pub const TERMIOS_SIZE: usize = 36;
/// `sizeof(struct winsize)`.
pub const WINSIZE_SIZE: usize = 8;

/// One host terminal held by the sentry.
pub struct HostTty {
    /// A host fd on the terminal, for /dev/tty and /dev/pts/N opens.
    fd: Arc<OwnedFd>,
    rdev: u64,
    /// Its N in the sandbox's /dev/pts: numbered in the sandbox's own devpts instance, as a
    /// container's console is /dev/pts/0 under runc (`newinstance`), whatever the host's is.
    number: u32,
    job: TtyJob,
}

/// The terminals the sandbox holds open (weakly: see the module doc).
static REGISTRY: Mutex<Vec<Weak<HostTty>>> = Mutex::new(Vec::new());

/// Whether host terminals are numbered in the sandbox's own /dev/pts (OCI containers) rather
/// than by their host minor (`runsc do`, whose terminal is the caller's).
static OWN_NUMBERING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Chooses the numbering of host terminals (`SandboxSettings::own_pts_numbers`), at boot.
pub fn set_own_numbering(own: bool) {
    OWN_NUMBERING.store(own, std::sync::atomic::Ordering::Relaxed);
}

fn registry() -> MutexGuard<'static, Vec<Weak<HostTty>>> {
    REGISTRY
        .lock()
        .expect("invariant: the tty registry lock is never poisoned")
}

/// The terminals some open file still holds (forgetting the released ones).
fn live() -> Vec<Arc<HostTty>> {
    let mut reg = registry();
    reg.retain(|w| w.strong_count() > 0);
    reg.iter().filter_map(Weak::upgrade).collect()
}

/// The N of /dev/pts/N for a Unix98 pty slave (majors 136-143, 256 minors each).
pub fn pts_index(rdev: u64) -> Option<u32> {
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    (136..=143)
        .contains(&major)
        .then(|| (major - 136) * 256 + minor)
}

/// Whether host fd `fd` is a terminal (isatty(3): TCGETS succeeds).
pub fn host_isatty(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    let mut t = [0u8; TERMIOS_SIZE];
    sys::ioctl_out(fd, TCGETS, &mut t).is_ok()
}

/// The terminal for host device `rdev`, registered on first sight with `fd` and controlling
/// `session` (foreground group = the session's leader group).
pub(super) fn attach(fd: &Arc<OwnedFd>, rdev: u64, session: Option<i32>) -> Arc<HostTty> {
    let pairs = crate::fs::devpts::pair_numbers();
    let mut reg = registry();
    reg.retain(|w| w.strong_count() > 0);
    let held: Vec<Arc<HostTty>> = reg.iter().filter_map(Weak::upgrade).collect();
    if let Some(t) = held.iter().find(|t| t.rdev == rdev) {
        return t.clone();
    }
    let own = OWN_NUMBERING.load(std::sync::atomic::Ordering::Relaxed);
    let number = match pts_index(rdev) {
        Some(host) if !own => host,
        _ => (0..)
            .find(|n| !pairs.contains(n) && !held.iter().any(|t| t.number == *n))
            .expect("invariant: a free number below u32::MAX"),
    };
    let tty = Arc::new(HostTty {
        fd: fd.clone(),
        rdev,
        number,
        job: TtyJob::new(JobState {
            session,
            foreground: session.unwrap_or(0),
        }),
    });
    reg.push(Arc::downgrade(&tty));
    drop(reg);
    // `held` may hold the last reference of a terminal released meanwhile: dropped unlocked.
    drop(held);
    tty
}

/// The controlling terminal of sandbox session `sid`, if it has one.
pub fn controlling_tty(sid: i32) -> Option<Arc<HostTty>> {
    live().into_iter().find(|t| t.job().session == Some(sid))
}

/// The host terminal the sandbox calls /dev/pts/`n`, if the sentry holds it.
pub fn pts(n: u32) -> Option<Arc<HostTty>> {
    live().into_iter().find(|t| t.number == n)
}

/// The sandbox's N of the host terminal with device `rdev` (its /dev/pts/N name), if held.
pub fn sandbox_number(rdev: u64) -> Option<u32> {
    live().iter().find(|t| t.rdev == rdev).map(|t| t.number)
}

/// The N of every /dev/pts/N the sentry holds, ascending.
pub fn pts_numbers() -> Vec<u32> {
    let mut v: Vec<u32> = live().iter().map(|t| t.number).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The foreground process group of the first terminal that controls a session: where the
/// signals the host terminal raises (SIGINT, SIGQUIT, SIGTSTP, SIGWINCH) belong.
pub fn foreground_pgrp() -> Option<i32> {
    live().iter().find_map(|t| {
        let j = t.job();
        j.session.map(|_| j.foreground)
    })
}

/// Delivers `sig`, raised by the host line discipline of host terminal `host_rdev` (the
/// sentry's controlling terminal), as Linux's tty layer would: SIGHUP (hangup) to the leader of
/// the session the terminal controls, with SIGCONT; anything else (SIGINT, SIGQUIT, SIGTSTP,
/// SIGWINCH) to its foreground process group. Returns how many processes were signalled (0
/// when the terminal controls no session).
pub fn deliver_terminal_signal(kernel: &Kernel, host_rdev: u64, sig: i32) -> usize {
    let Some(job) = live().iter().find(|t| t.rdev == host_rdev).map(|t| t.job()) else {
        return 0;
    };
    match (sig, job.session) {
        (libc::SIGHUP, Some(leader)) => usize::from(hangup_leader(kernel, leader)),
        _ => signal_pgrp(kernel, job.foreground, sig),
    }
}

impl HostTty {
    fn job(&self) -> JobState {
        self.job.get()
    }

    /// A host fd on this terminal.
    pub fn host_fd(&self) -> Arc<OwnedFd> {
        self.fd.clone()
    }

    /// The host device number.
    pub fn rdev(&self) -> u64 {
        self.rdev
    }

    /// The session this terminal controls, if any.
    pub fn session(&self) -> Option<i32> {
        self.job().session
    }

    /// The foreground process group.
    pub fn foreground(&self) -> i32 {
        self.job().foreground
    }

    /// Makes this terminal the controlling terminal of sandbox session `sid` with process group
    /// `foreground` in the foreground, whatever it controlled before (for a process the sandbox
    /// starts on a terminal of its own, `runsc exec --tty`, once it leads session `sid`).
    pub fn attach_session(&self, sid: i32, foreground: i32) {
        self.job.set(JobState {
            session: Some(sid),
            foreground,
        });
    }

    /// One terminal ioctl(2) by `t` on a file over host fd `fd` of this terminal; `arg` is the
    /// application's argument (a pointer or an int).
    pub fn ioctl(&self, t: &Task, fd: &OwnedFd, req: u32, arg: u64) -> SysResult<u64> {
        let fd = fd.as_fd();
        match req {
            TCGETS => {
                let mut b = [0u8; TERMIOS_SIZE];
                sys::ioctl_out(fd, req, &mut b)?;
                t.mm.copy_out(arg, &b)?;
                Ok(0)
            }
            TCSETS | TCSETSW | TCSETSF => {
                let mut b = [0u8; TERMIOS_SIZE];
                t.mm.copy_in(arg, &mut b)?;
                sys::ioctl_in(fd, req, &b)?;
                Ok(0)
            }
            TIOCGWINSZ => {
                let mut b = [0u8; WINSIZE_SIZE];
                sys::ioctl_out(fd, req, &mut b)?;
                t.mm.copy_out(arg, &b)?;
                Ok(0)
            }
            TIOCSWINSZ => {
                // The host raises SIGWINCH in its foreground group (the sentry) when the size
                // changes; `runsc boot` forwards it to ours.
                let mut b = [0u8; WINSIZE_SIZE];
                t.mm.copy_in(arg, &mut b)?;
                sys::ioctl_in(fd, req, &b)?;
                Ok(0)
            }
            FIONREAD => {
                let mut b = [0u8; 4];
                sys::ioctl_out(fd, req, &mut b)?;
                t.mm.copy_out(arg, &b)?;
                Ok(0)
            }
            TCSBRK | TCXONC | TCFLSH => {
                // The int is the low half of the register, as the kernel reads it.
                let v = i32::from_ne_bytes(
                    u32::try_from(arg & 0xffff_ffff)
                        .map_err(|_| Errno::EINVAL)?
                        .to_ne_bytes(),
                );
                sys::ioctl_int(fd, req, v)?;
                Ok(0)
            }
            _ => self
                .job
                .ioctl(t, req, arg, false)
                .unwrap_or(Err(Errno::ENOTTY)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pts_numbers_come_from_the_slave_device() {
        assert_eq!(pts_index(libc::makedev(136, 5)), Some(5));
        assert_eq!(pts_index(libc::makedev(137, 2)), Some(258));
        assert_eq!(pts_index(libc::makedev(5, 0)), None);
        assert_eq!(pts_index(libc::makedev(4, 1)), None);
    }

    #[test]
    fn a_pty_slave_is_a_tty_and_a_pipe_is_not() {
        let pty = nix::pty::openpty(None, None).unwrap();
        assert!(host_isatty(pty.slave.as_fd()));
        let (r, _w) = nix::unistd::pipe().unwrap();
        assert!(!host_isatty(r.as_fd()));
    }

    #[test]
    fn one_terminal_is_registered_once() {
        let pty = nix::pty::openpty(None, None).unwrap();
        let st = crate::fs::sys::fstat(pty.slave.as_fd()).unwrap();
        let fd = Arc::new(pty.slave);
        let a = attach(&fd, st.st_rdev, None);
        let b = attach(&Arc::new(fd.try_clone().unwrap()), st.st_rdev, Some(7));
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.session(), None);
        assert_eq!(a.foreground(), 0);
        // Numbered in the sandbox's devpts, not by the host's minor.
        let n = sandbox_number(st.st_rdev).unwrap();
        assert!(pts_numbers().contains(&n));
        assert!(pts(n).is_some_and(|t| Arc::ptr_eq(&t, &a)));
    }

    #[test]
    fn the_master_reads_eio_once_the_last_sandbox_file_on_the_slave_closes() {
        let pty = nix::pty::openpty(None, None).unwrap();
        let rdev = crate::fs::sys::fstat(pty.slave.as_fd()).unwrap().st_rdev;
        let first = crate::fs::host::stdio_file_in_session(pty.slave, 0, None);
        let n = sandbox_number(rdev).unwrap();
        // A second open through /dev/pts/N keeps it held after the first closes.
        let again = crate::fs::host::tty_ops(&pts(n).unwrap());
        drop(first);
        assert_eq!(sandbox_number(rdev), Some(n));
        drop(again);
        assert_eq!(sandbox_number(rdev), None);
        assert!(pts(n).is_none_or(|t| t.rdev != rdev));
        let mut b = [0u8; 8];
        assert_eq!(
            nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&pty.master), &mut b),
            Err(Errno::EIO)
        );
    }
}
