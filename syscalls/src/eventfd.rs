//! eventfd(2) and eventfd2(2) (Linux `fs/eventfd.c`): the counter lives in
//! `sentry::fs::eventfd`; this validates flags and installs the descriptor.

use sentry::fs::eventfd::{new_eventfd, EFD_SEMAPHORE};
use sentry::kernel::{SyscallArgs, Task};
use sentry::{Errno, SysResult};

use crate::pipe::install_fd;

fn do_eventfd2(t: &mut Task, initval: u32, flags: i32) -> SysResult<u64> {
    if flags & !(EFD_SEMAPHORE | libc::O_NONBLOCK | libc::O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let file = new_eventfd(initval, flags)?;
    let fd = install_fd(t, file, flags & libc::O_CLOEXEC != 0)?;
    Ok(fd as u64)
}

/// eventfd(2): no flags.
pub fn sys_eventfd(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_eventfd2(t, a.u32(0), 0)
}

/// eventfd2(2): EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC.
pub fn sys_eventfd2(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_eventfd2(t, a.u32(0), a.i32(1))
}
