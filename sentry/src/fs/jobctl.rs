//! Terminal job control shared by host terminals (`fs::host::tty`) and the sentry's own
//! pseudo-terminals (`fs::devpts`), after Linux `drivers/tty/tty_jobctrl.c`: which sandbox
//! session a terminal controls (`tty->ctrl.session`), its foreground process group
//! (`tty->ctrl.pgrp`), and the ioctls on them (TIOCSCTTY, TIOCNOTTY, TIOCGPGRP, TIOCSPGRP,
//! TIOCGSID), plus the background-group check (`__tty_check_change`) for SIGTTIN/SIGTTOU.
//!
//! The process tree is never locked under a terminal's job lock: pids are read from the
//! kernel first.

use std::sync::Mutex;

use crate::abi::signal::{SigInfo, SI_KERNEL};
use crate::kernel::signal::send_to_process;
use crate::kernel::{Kernel, Task};
use crate::{Errno, SysResult};

/// ioctl numbers (include/uapi/asm-generic/ioctls.h).
pub const TIOCSCTTY: u32 = 0x540e;
pub const TIOCGPGRP: u32 = 0x540f;
pub const TIOCSPGRP: u32 = 0x5410;
pub const TIOCNOTTY: u32 = 0x5422;
pub const TIOCGSID: u32 = 0x5429;

/// Which sandbox session a terminal controls, and its foreground process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobState {
    pub session: Option<i32>,
    pub foreground: i32,
}

/// The job-control state of one terminal.
#[derive(Debug, Default)]
pub struct TtyJob(Mutex<JobState>);

/// Whether sandbox session `sid` already has a controlling terminal of either kind.
pub fn session_has_ctty(sid: i32) -> bool {
    crate::fs::host::tty::controlling_tty(sid).is_some()
        || crate::fs::devpts::controlling_pty(sid).is_some()
}

/// Sends `sig` to every live process of sandbox process group `pgrp`, as the terminal driver
/// does (`kill_pgrp`, SI_KERNEL); returns how many were signalled.
pub fn signal_pgrp(kernel: &Kernel, pgrp: i32, sig: i32) -> usize {
    let mut n = 0;
    for pid in kernel.process_group(pgrp) {
        if let Some(tg) = kernel.thread_group(pid) {
            send_to_process(&tg, SigInfo::from_sender(sig, SI_KERNEL, 0, 0));
            n += 1;
        }
    }
    n
}

/// SIGHUP then SIGCONT to the process `leader` (a hangup of its session's terminal,
/// `tty_signal_session_leader`); whether it exists.
pub fn hangup_leader(kernel: &Kernel, leader: i32) -> bool {
    let Some(tg) = kernel.thread_group(leader) else {
        return false;
    };
    send_to_process(&tg, SigInfo::from_sender(libc::SIGHUP, SI_KERNEL, 0, 0));
    send_to_process(&tg, SigInfo::from_sender(libc::SIGCONT, SI_KERNEL, 0, 0));
    true
}

/// The int an ioctl passes by value: the low half of the register, as the kernel reads it.
pub fn int_arg(arg: u64) -> i32 {
    i32::from_ne_bytes(((arg & 0xffff_ffff) as u32).to_ne_bytes())
}

impl TtyJob {
    pub fn new(state: JobState) -> TtyJob {
        TtyJob(Mutex::new(state))
    }

    pub fn get(&self) -> JobState {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set(&self, j: JobState) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = j;
    }

    /// The state, if this is the caller's controlling terminal (ENOTTY if not).
    pub fn of_caller(&self, t: &Task) -> SysResult<JobState> {
        let sid = t.kernel.sid_of(t.tg.pid)?;
        let j = self.get();
        if j.session == Some(sid) {
            Ok(j)
        } else {
            Err(Errno::ENOTTY)
        }
    }

    /// Whether this terminal controls the caller's session.
    pub fn is_ctty_of(&self, t: &Task) -> bool {
        self.of_caller(t).is_ok()
    }

    /// `__tty_check_change`: a process of a background group of the session this terminal
    /// controls that reads (`sig` SIGTTIN) or writes/changes it (SIGTTOU) gets `sig` sent to
    /// its group and EINTR (restarted after the stop); EIO for a read with SIGTTIN blocked.
    /// A blocked SIGTTOU lets the change through.
    pub fn check_change(&self, t: &Task, sig: i32) -> SysResult<()> {
        let Ok(j) = self.of_caller(t) else {
            return Ok(());
        };
        let pgrp = t.kernel.pgid_of(t.tg.pid)?;
        if j.foreground == 0 || pgrp == j.foreground {
            return Ok(());
        }
        if t.signal_mask & (1u64 << (sig - 1)) != 0 {
            return if sig == libc::SIGTTIN {
                Err(Errno::EIO)
            } else {
                Ok(())
            };
        }
        signal_pgrp(&t.kernel, pgrp, sig);
        Err(Errno::EINTR)
    }

    /// TIOCSPGRP (`tiocspgrp`): ENOTTY unless our controlling terminal; EINVAL for a negative
    /// group, ESRCH for an empty one, EPERM for one of another session.
    pub fn set_foreground(&self, t: &Task, pgrp: i32) -> SysResult<()> {
        let j = self.of_caller(t)?;
        if pgrp < 0 {
            return Err(Errno::EINVAL);
        }
        let members = t.kernel.process_group(pgrp);
        if members.is_empty() {
            return Err(Errno::ESRCH);
        }
        let sid = j.session.ok_or(Errno::ENOTTY)?;
        if !members
            .iter()
            .any(|&p| t.kernel.sid_of(p).is_ok_and(|s| s == sid))
        {
            return Err(Errno::EPERM);
        }
        self.set(JobState {
            session: Some(sid),
            foreground: pgrp,
        });
        Ok(())
    }

    /// TIOCSCTTY (`tiocsctty`): the caller must lead a session without a controlling terminal;
    /// a terminal controlling another session is taken only with `steal` by root.
    pub fn make_controlling(&self, t: &Task, steal: bool) -> SysResult<()> {
        let pid = t.tg.pid;
        let sid = t.kernel.sid_of(pid)?;
        let pgid = t.kernel.pgid_of(pid)?;
        let j = self.get();
        if sid == pid && j.session == Some(sid) {
            return Ok(());
        }
        if sid != pid || session_has_ctty(sid) {
            return Err(Errno::EPERM);
        }
        if j.session.is_some() && !(steal && t.creds.euid == 0) {
            return Err(Errno::EPERM);
        }
        self.set(JobState {
            session: Some(sid),
            foreground: pgid,
        });
        Ok(())
    }

    /// The implicit TIOCSCTTY of an open(2) without O_NOCTTY (`tty_open_proc_set_tty`): a
    /// session leader without a controlling terminal acquires this one if it controls no
    /// session yet.
    pub fn set_on_open(&self, t: &Task) {
        let pid = t.tg.pid;
        let (Ok(sid), Ok(pgid)) = (t.kernel.sid_of(pid), t.kernel.pgid_of(pid)) else {
            return;
        };
        if sid != pid || self.get().session.is_some() || session_has_ctty(sid) {
            return;
        }
        self.set(JobState {
            session: Some(sid),
            foreground: pgid,
        });
    }

    /// TIOCNOTTY (`disassociate_ctty`): a session leader gives its terminal up, and the
    /// foreground group gets SIGHUP and SIGCONT. Another member of the session succeeds
    /// without effect (the controlling terminal belongs to the session here).
    pub fn disassociate(&self, t: &Task) -> SysResult<()> {
        let j = self.of_caller(t)?;
        if j.session != Some(t.tg.pid) {
            return Ok(());
        }
        self.set(JobState::default());
        signal_pgrp(&t.kernel, j.foreground, libc::SIGHUP);
        signal_pgrp(&t.kernel, j.foreground, libc::SIGCONT);
        Ok(())
    }

    /// The job-control ioctls; None for other requests. `any_caller`: TIOCGPGRP/TIOCGSID need
    /// not come from the controlled session (a pty master asking about its replica).
    pub fn ioctl(&self, t: &Task, req: u32, arg: u64, any_caller: bool) -> Option<SysResult<u64>> {
        let r = match req {
            TIOCGPGRP => (|| {
                let j = if any_caller {
                    self.get()
                } else {
                    self.of_caller(t)?
                };
                t.mm.copy_out(arg, &j.foreground.to_ne_bytes())?;
                Ok(0)
            })(),
            TIOCGSID => (|| {
                let j = if any_caller {
                    self.get()
                } else {
                    self.of_caller(t)?
                };
                let sid = j.session.ok_or(Errno::ENOTTY)?;
                t.mm.copy_out(arg, &sid.to_ne_bytes())?;
                Ok(0)
            })(),
            TIOCSPGRP => (|| {
                let mut b = [0u8; 4];
                t.mm.copy_in(arg, &mut b)?;
                self.set_foreground(t, i32::from_ne_bytes(b))?;
                Ok(0)
            })(),
            TIOCSCTTY => self.make_controlling(t, int_arg(arg) == 1).map(|()| 0),
            TIOCNOTTY => self.disassociate(t).map(|()| 0),
            _ => return None,
        };
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_int_args_take_the_low_half() {
        let j = TtyJob::default();
        assert_eq!(j.get(), JobState::default());
        j.set(JobState {
            session: Some(4),
            foreground: 9,
        });
        assert_eq!(j.get().foreground, 9);
        assert_eq!(int_arg(0xffff_ffff_0000_0001), 1);
        assert_eq!(int_arg(0xffff_ffff), -1);
    }
}
