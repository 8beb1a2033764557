//! signalfd(2) and signalfd4(2) (Linux `fs/signalfd.c`): the file lives in
//! `sentry::fs::signalfd`; this copies the mask in, validates flags, and creates a signalfd or
//! updates the mask of an existing one.

use sentry::fs::signalfd::{new_signalfd, SignalFd};
use sentry::kernel::signal::PendingView;
use sentry::kernel::{SyscallArgs, Task};
use sentry::{Errno, SysResult};

use crate::pipe::install_fd;

fn do_signalfd4(t: &mut Task, fd: i32, addr: u64, sizemask: u64, flags: i32) -> SysResult<u64> {
    if sizemask != 8 {
        return Err(Errno::EINVAL);
    }
    let mut b = [0u8; 8];
    t.mm.copy_in(addr, &mut b)?;
    let mask = u64::from_ne_bytes(b);
    if flags & !(libc::O_NONBLOCK | libc::O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    if fd == -1 {
        let file = new_signalfd(PendingView::of(t), mask, flags)?;
        let fd = install_fd(t, file, flags & libc::O_CLOEXEC != 0)?;
        return Ok(fd as u64);
    }
    let file = t.fd_table.get(fd)?;
    SignalFd::of(&file).ok_or(Errno::EINVAL)?.set_mask(mask);
    Ok(fd as u64)
}

/// signalfd(2): (fd, mask, sizemask), no flags.
pub fn sys_signalfd(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_signalfd4(t, a.i32(0), a.u64(1), a.u64(2), 0)
}

/// signalfd4(2): (fd, mask, sizemask, flags) with SFD_NONBLOCK and SFD_CLOEXEC.
pub fn sys_signalfd4(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_signalfd4(t, a.i32(0), a.u64(1), a.u64(2), a.i32(3))
}
