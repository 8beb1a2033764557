//! wait4(2) and waitid(2) (Linux `kernel/exit.c`): argument decoding and the status/siginfo
//! encoding (exited, killed, stopped, continued); the search for a child is `Kernel::wait_child` (sentry/src/kernel/process_tree.rs).
//! A reaped child's CPU time (its own and its reaped children's) is reported in `rusage` and
//! added to the waiter's RUSAGE_CHILDREN, as Linux's `wait_task_zombie` does.

use std::sync::Arc;

use sentry::kernel::process_tree::{ChildState, WALL, WCLONE, WNOTHREAD};
use sentry::kernel::thread_group::CpuTimes;
use sentry::kernel::{SyscallArgs, Task, ThreadGroup, WaitOptions, WaitResult, WaitTarget};
use sentry::{Errno, SysResult};

use crate::time::rusage_bytes;

/// The caller's process's children, taken before a wait so a reaped one can be found after.
fn children(t: &Task) -> Vec<(i32, Arc<ThreadGroup>)> {
    let tree = t.kernel.tree();
    let Some(me) = tree.procs.get(&t.tg.pid) else {
        return Vec::new();
    };
    me.children
        .iter()
        .filter_map(|c| tree.procs.get(c).map(|e| (*c, e.tg.clone())))
        .collect()
}

/// The reaped child's CPU time (with its reaped children's), also added to the caller's
/// RUSAGE_CHILDREN unless the child stays waitable (WNOWAIT) or only changed state.
fn account_reaped(
    t: &Task,
    before: &[(i32, Arc<ThreadGroup>)],
    r: &WaitResult,
    nowait: bool,
) -> CpuTimes {
    let Some((_, child)) = before.iter().find(|(pid, _)| *pid == r.pid) else {
        return CpuTimes::default();
    };
    if !matches!(r.status, ChildState::Exited(_)) {
        return CpuTimes::default();
    }
    let total = child.cpu.total_with_children();
    if !nowait {
        t.tg.cpu.add_reaped_child(&child.cpu);
    }
    total
}
const SIGINFO_SIZE: usize = 128;
const P_ALL: i32 = 0;
const P_PID: i32 = 1;
const P_PGID: i32 = 2;
const P_PIDFD: i32 = 3;

/// wait4(pid, wstatus, options, rusage).
pub fn sys_wait4(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let pid = a.i32(0);
    let options = a.i32(2);
    let known = libc::WNOHANG | libc::WUNTRACED | libc::WCONTINUED | WNOTHREAD | WCLONE | WALL;
    if options & !known != 0 {
        return Err(Errno::EINVAL);
    }
    let target = match pid {
        i32::MIN => return Err(Errno::ESRCH),
        -1 => WaitTarget::Any,
        0 => WaitTarget::Pgid(t.kernel.pgid_of(t.tg.pid)?),
        p if p < 0 => WaitTarget::Pgid(-p),
        p => WaitTarget::Pid(p),
    };
    let opts = WaitOptions {
        target,
        flags: options | libc::WEXITED,
    };
    let kernel = t.kernel.clone();
    let before = children(t);
    let Some(r) = kernel.wait_child(t, opts)? else {
        return Ok(0);
    };
    let usage = account_reaped(t, &before, &r, false);
    if a.addr(1) != 0 {
        t.mm.copy_out(a.addr(1), &r.status.wait_status().to_ne_bytes())?;
    }
    if a.addr(3) != 0 {
        t.mm.copy_out(a.addr(3), &rusage_bytes(usage))?;
    }
    Ok(r.pid as u64)
}

/// waitid(idtype, id, infop, options, rusage).
pub fn sys_waitid(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let id = a.i32(1);
    let options = a.i32(3);
    let known = libc::WNOHANG
        | libc::WEXITED
        | libc::WSTOPPED
        | libc::WCONTINUED
        | libc::WNOWAIT
        | WNOTHREAD
        | WCLONE
        | WALL;
    if options & !known != 0 || options & (libc::WEXITED | libc::WSTOPPED | libc::WCONTINUED) == 0 {
        return Err(Errno::EINVAL);
    }
    let mut options = options;
    let mut pidfd_nonblock = false;
    let target = match a.i32(0) {
        P_ALL => WaitTarget::Any,
        P_PIDFD => {
            let (tg, file_flags) = crate::pidfd::pidfd_target(t, id)?;
            // A non-blocking pidfd makes the wait WNOHANG, and "nothing yet" EAGAIN.
            if file_flags & libc::O_NONBLOCK != 0 {
                pidfd_nonblock = options & libc::WNOHANG == 0;
                options |= libc::WNOHANG;
            }
            WaitTarget::Pid(tg.pid)
        }
        P_PID if id > 0 => WaitTarget::Pid(id),
        P_PGID if id == 0 => WaitTarget::Pgid(t.kernel.pgid_of(t.tg.pid)?),
        P_PGID if id > 0 => WaitTarget::Pgid(id),
        _ => return Err(Errno::EINVAL),
    };
    let kernel = t.kernel.clone();
    let before = children(t);
    let result = kernel.wait_child(
        t,
        WaitOptions {
            target,
            flags: options,
        },
    )?;
    if pidfd_nonblock && result.is_none() {
        return Err(Errno::EAGAIN);
    }
    let usage = result
        .as_ref()
        .map(|r| account_reaped(t, &before, r, options & libc::WNOWAIT != 0))
        .unwrap_or_default();
    let infop = a.addr(2);
    if infop != 0 {
        let mut info = [0u8; SIGINFO_SIZE];
        if let Some(r) = result {
            let (code, status) = r.status.code_and_status();
            info[0..4].copy_from_slice(&libc::SIGCHLD.to_ne_bytes());
            info[8..12].copy_from_slice(&code.to_ne_bytes());
            info[16..20].copy_from_slice(&r.pid.to_ne_bytes());
            info[20..24].copy_from_slice(&r.uid.to_ne_bytes());
            info[24..28].copy_from_slice(&status.to_ne_bytes());
            t.mm.copy_out(infop, &info)?;
        } else {
            t.mm.copy_out(infop, &info[..32])?;
        }
    }
    if a.addr(4) != 0 {
        t.mm.copy_out(a.addr(4), &rusage_bytes(usage))?;
    }
    Ok(0)
}
