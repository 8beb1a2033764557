//! timerfd_create(2), timerfd_settime(2), timerfd_gettime(2) (Linux `fs/timerfd.c`): the timer
//! lives in `sentry::fs::timerfd`; this validates arguments, copies `struct itimerspec` in and
//! out, and installs the descriptor.

use std::time::Duration;

use sentry::fs::timerfd::{new_timerfd, TimerFd, TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET};
use sentry::kernel::{SyscallArgs, Task};
use sentry::{Errno, SysResult};

use crate::pipe::install_fd;
use crate::time::read_timespec;

/// `struct itimerspec`: it_interval then it_value, two timespecs.
const ITIMERSPEC_SIZE: usize = 32;

fn itimerspec_bytes(value: Duration, interval: Duration) -> [u8; ITIMERSPEC_SIZE] {
    let mut b = [0u8; ITIMERSPEC_SIZE];
    for (i, d) in [interval, value].iter().enumerate() {
        let o = i * 16;
        b[o..o + 8].copy_from_slice(&(d.as_secs() as i64).to_ne_bytes());
        b[o + 8..o + 16].copy_from_slice(&i64::from(d.subsec_nanos()).to_ne_bytes());
    }
    b
}

/// timerfd_create(2): CLOCK_REALTIME, CLOCK_MONOTONIC or CLOCK_BOOTTIME; TFD_NONBLOCK and
/// TFD_CLOEXEC (the O_ values).
pub fn sys_timerfd_create(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let flags = a.i32(1);
    let file = new_timerfd(a.i32(0), flags)?;
    let fd = install_fd(t, file, flags & libc::O_CLOEXEC != 0)?;
    Ok(fd as u64)
}

/// timerfd_settime(2): (fd, flags, new, old).
pub fn sys_timerfd_settime(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (fd, flags, new, old) = (a.i32(0), a.i32(1), a.u64(2), a.u64(3));
    let interval = read_timespec(t, new)?;
    let value = read_timespec(t, new.wrapping_add(16))?;
    if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(Errno::EINVAL);
    }
    let file = t.fd_table.get(fd)?;
    let timer = TimerFd::of(&file).ok_or(Errno::EINVAL)?;
    let (old_value, old_interval) = timer.set(flags, value, interval)?;
    if old != 0 {
        t.mm.copy_out(old, &itimerspec_bytes(old_value, old_interval))?;
    }
    Ok(0)
}

/// timerfd_gettime(2): (fd, curr).
pub fn sys_timerfd_gettime(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let file = t.fd_table.get(a.i32(0))?;
    let timer = TimerFd::of(&file).ok_or(Errno::EINVAL)?;
    let (value, interval) = timer.get()?;
    t.mm.copy_out(a.u64(1), &itimerspec_bytes(value, interval))?;
    Ok(0)
}
