//! wait4(2) and waitid(2) (Linux `kernel/exit.c`): argument decoding and the status/siginfo
//! encoding (exited, killed, stopped, continued); the search for a child is `Kernel::wait_child` (sentry/src/kernel/process_tree.rs).
//! Resource usage is reported as zero.

use sentry::kernel::process_tree::{WALL, WCLONE, WNOTHREAD};
use sentry::kernel::{SyscallArgs, Task, WaitOptions, WaitTarget};
use sentry::{Errno, SysResult};

const RUSAGE_SIZE: usize = 144;
const SIGINFO_SIZE: usize = 128;
const P_ALL: i32 = 0;
const P_PID: i32 = 1;
const P_PGID: i32 = 2;

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
    let Some(r) = kernel.wait_child(t, opts)? else {
        return Ok(0);
    };
    if a.addr(1) != 0 {
        t.mm.copy_out(a.addr(1), &r.status.wait_status().to_ne_bytes())?;
    }
    if a.addr(3) != 0 {
        t.mm.copy_out(a.addr(3), &[0u8; RUSAGE_SIZE])?;
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
    let target = match a.i32(0) {
        P_ALL => WaitTarget::Any,
        P_PID if id > 0 => WaitTarget::Pid(id),
        P_PGID if id == 0 => WaitTarget::Pgid(t.kernel.pgid_of(t.tg.pid)?),
        P_PGID if id > 0 => WaitTarget::Pgid(id),
        _ => return Err(Errno::EINVAL),
    };
    let kernel = t.kernel.clone();
    let result = kernel.wait_child(
        t,
        WaitOptions {
            target,
            flags: options,
        },
    )?;
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
        t.mm.copy_out(a.addr(4), &[0u8; RUSAGE_SIZE])?;
    }
    Ok(0)
}
