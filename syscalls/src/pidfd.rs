//! pidfd_open(2), pidfd_send_signal(2), pidfd_getfd(2) (Linux `kernel/pid.c`,
//! `kernel/signal.c`): a pidfd names one process (`sentry::fs::pidfd`) until it is reaped;
//! waitid(P_PIDFD) and CLONE_PIDFD live in wait.rs and clone.rs.

use std::sync::Arc;

use sentry::abi::signal::{SigInfo, SI_TKILL, SI_USER};
use sentry::fs::pidfd::{new_pidfd, PidFd};
use sentry::kernel::signal::{self as ksig, signal_number};
use sentry::kernel::{SyscallArgs, Task, ThreadGroup};
use sentry::{Errno, SysResult};

use crate::pipe::install_fd;

/// `PIDFD_THREAD` (= O_EXCL): a pidfd for a thread, which this sandbox does not make.
const PIDFD_THREAD: i32 = libc::O_EXCL;
/// pidfd_send_signal's scope flags (Linux 6.9): thread, thread group, process group.
const PIDFD_SIGNAL_THREAD_GROUP: u32 = 2;

/// The process a pidfd names; EBADF for a descriptor that is not a pidfd.
pub fn pidfd_target(t: &Task, fd: i32) -> SysResult<(Arc<ThreadGroup>, i32)> {
    let file = t.fd_table.get(fd)?;
    let pidfd = PidFd::of(&file).ok_or(Errno::EBADF)?;
    Ok((pidfd.thread_group().clone(), file.flags()))
}

/// Whether the process has been reaped (its pid no longer names it).
fn reaped(t: &Task, tg: &Arc<ThreadGroup>) -> bool {
    t.kernel
        .thread_group(tg.pid)
        .is_none_or(|now| !Arc::ptr_eq(&now, tg))
}

/// pidfd_open(pid, flags): PIDFD_NONBLOCK (O_NONBLOCK) only.
pub fn sys_pidfd_open(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (pid, flags) = (a.i32(0), a.u32(1));
    let flags = i32::try_from(flags).map_err(|_| Errno::EINVAL)?;
    if flags & !(libc::O_NONBLOCK | PIDFD_THREAD) != 0 || flags & PIDFD_THREAD != 0 || pid <= 0 {
        return Err(Errno::EINVAL);
    }
    let Some(tg) = t.kernel.thread_group(pid) else {
        // A live thread that leads no process needs PIDFD_THREAD.
        return Err(if t.kernel.task(pid).is_some() {
            Errno::EINVAL
        } else {
            Errno::ESRCH
        });
    };
    let fd = install_fd(t, new_pidfd(tg, flags), true)?;
    Ok(fd as u64)
}

/// pidfd_send_signal(pidfd, sig, info, flags).
pub fn sys_pidfd_send_signal(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (fd, raw_sig, info_addr, flags) = (a.i32(0), a.i32(1), a.addr(2), a.u32(3));
    if flags != 0 && flags != PIDFD_SIGNAL_THREAD_GROUP {
        return Err(Errno::EINVAL);
    }
    let (tg, _) = pidfd_target(t, fd)?;
    let sig = if raw_sig == 0 {
        0
    } else {
        signal_number(raw_sig)?
    };
    let to_self = Arc::ptr_eq(&tg, &t.tg);
    let info = if info_addr != 0 {
        let mut info = SigInfo::new(0, 0);
        t.mm.copy_in(info_addr, &mut info.bytes)?;
        if info.signo() != sig {
            return Err(Errno::EINVAL);
        }
        if !to_self && (info.code() >= 0 || info.code() == SI_TKILL) {
            return Err(Errno::EPERM);
        }
        info
    } else {
        SigInfo::from_sender(sig, SI_USER, t.tg.pid, t.creds.uid)
    };
    if reaped(t, &tg) {
        return Err(Errno::ESRCH);
    }
    if sig != 0 {
        ksig::send_to_process(&tg, info);
    }
    Ok(0)
}

/// pidfd_getfd(pidfd, targetfd, flags): a duplicate of the target's descriptor, installed
/// close-on-exec. Every process in the sandbox may reach every other (one user, no LSM), as
/// ptrace access would allow for root.
pub fn sys_pidfd_getfd(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (fd, target_fd, flags) = (a.i32(0), a.i32(1), a.u32(2));
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let (tg, _) = pidfd_target(t, fd)?;
    if tg.has_exited() || reaped(t, &tg) {
        return Err(Errno::ESRCH);
    }
    let table = tg.view_fd_table().ok_or(Errno::ESRCH)?;
    let file = table.get(target_fd)?;
    let new = install_fd(t, file, true)?;
    Ok(new as u64)
}
