//! POSIX per-process timers (timer_create(2), timer_settime(2), timer_gettime(2),
//! timer_getoverrun(2), timer_delete(2); Linux `kernel/time/posix-timers.c`): argument
//! decoding and checks in Linux's order; the timers live in `sentry::kernel::posix_timer`.

use std::time::Duration;

use sentry::kernel::posix_timer::{
    self, Notify, TimerClock, SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_THREAD_ID,
};
use sentry::kernel::signal::NSIG;
use sentry::kernel::{SyscallArgs, Task};
use sentry::{Errno, SysResult};

/// `struct sigevent` is 64 bytes: sigev_value (8), sigev_signo, sigev_notify, then the union
/// whose first int is `sigev_notify_thread_id`.
const SIGEVENT_SIZE: usize = 64;
/// `struct itimerspec`: it_interval then it_value, two timespecs.
const ITIMERSPEC_SIZE: usize = 32;

fn i32_at(b: &[u8], off: usize) -> i32 {
    i32::from_ne_bytes(b[off..off + 4].try_into().expect("invariant: 4 bytes"))
}

fn i64_at(b: &[u8], off: usize) -> i64 {
    i64::from_ne_bytes(b[off..off + 8].try_into().expect("invariant: 8 bytes"))
}

/// The clock of a new timer: EINVAL for an unknown id (and, here, for thread CPU clocks and
/// other processes' CPU clocks), EOPNOTSUPP for clocks Linux cannot time (the raw and coarse
/// clocks, and the alarm clocks, for want of a wake-up RTC).
fn timer_clock(own_pid: i32, id: i32) -> SysResult<TimerClock> {
    match id {
        // `~pid << 3 | which` (glibc makes CLOCK_PROCESS_CPUTIME_ID into pid 0's): a process
        // clock (bit 2 clear) of the caller; which 1 (VIRT) is user time only.
        id if id < 0 => {
            let (pid, thread, which) = (!(id >> 3), id & 4 != 0, id & 3);
            if thread || which == 3 || (pid != 0 && pid != own_pid) {
                return Err(Errno::EINVAL);
            }
            Ok(TimerClock::ProcessCpu {
                user_only: which == 1,
            })
        }
        libc::CLOCK_REALTIME | libc::CLOCK_MONOTONIC | libc::CLOCK_BOOTTIME | libc::CLOCK_TAI => {
            Ok(TimerClock::Wall(id))
        }
        libc::CLOCK_PROCESS_CPUTIME_ID => Ok(TimerClock::ProcessCpu { user_only: false }),
        libc::CLOCK_MONOTONIC_RAW
        | libc::CLOCK_REALTIME_COARSE
        | libc::CLOCK_MONOTONIC_COARSE
        | libc::CLOCK_REALTIME_ALARM
        | libc::CLOCK_BOOTTIME_ALARM => Err(Errno::EOPNOTSUPP),
        _ => Err(Errno::EINVAL),
    }
}

/// Decodes a `struct sigevent` as Linux's `good_sigevent` checks it.
fn decode_sigevent(t: &Task, b: &[u8; SIGEVENT_SIZE]) -> SysResult<Notify> {
    let value = u64::from_ne_bytes(b[..8].try_into().expect("invariant: 8 bytes"));
    let (signo, notify, tid) = (i32_at(b, 8), i32_at(b, 12), i32_at(b, 16));
    let valid_signo = (1..=NSIG).contains(&signo);
    match notify {
        SIGEV_NONE => Ok(Notify::None),
        SIGEV_SIGNAL | SIGEV_THREAD if valid_signo => Ok(Notify::Process { signo, value }),
        // The process tree knows a new thread from its clone on, before it first runs.
        SIGEV_THREAD_ID if tid == t.tid || t.kernel.threads_of(t.tg.pid).contains(&tid) => {
            if valid_signo {
                Ok(Notify::Thread { signo, value, tid })
            } else {
                Err(Errno::EINVAL)
            }
        }
        _ => Err(Errno::EINVAL),
    }
}

/// timer_create(clockid, sevp, timerid).
pub fn sys_timer_create(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (clock, sevp, idp) = (a.i32(0), a.addr(1), a.addr(2));
    let event = if sevp != 0 {
        let mut b = [0u8; SIGEVENT_SIZE];
        t.mm.copy_in(sevp, &mut b)?;
        Some(b)
    } else {
        None
    };
    let clock = timer_clock(t.tg.pid, clock)?;
    let notify = match &event {
        Some(b) => Some(decode_sigevent(t, b)?),
        None => None,
    };
    // Without a sigevent: SIGALRM to the process, with the timer id as sival_int.
    let timers = &t.tg.timers;
    let id = match notify {
        Some(n) => timers.create(clock, n)?,
        None => timers.create_with(clock, |id| Notify::Process {
            signo: libc::SIGALRM,
            value: u64::from(id as u32),
        })?,
    };
    if let Err(e) = t.mm.copy_out(idp, &id.to_ne_bytes()) {
        let _ = t.tg.timers.delete(id);
        return Err(e);
    }
    Ok(0)
}

/// Reads a `struct itimerspec`: EFAULT first, then EINVAL for an invalid timespec.
fn read_itimerspec(t: &Task, addr: u64) -> SysResult<(Duration, Duration)> {
    let mut b = [0u8; ITIMERSPEC_SIZE];
    t.mm.copy_in(addr, &mut b)?;
    let ts = |off: usize| {
        let (sec, nsec) = (i64_at(&b, off), i64_at(&b, off + 8));
        if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
            return Err(Errno::EINVAL);
        }
        Ok(Duration::new(sec as u64, nsec as u32))
    };
    let interval = ts(0)?;
    let value = ts(16)?;
    Ok((value, interval))
}

fn itimerspec_bytes(value: Duration, interval: Duration) -> [u8; ITIMERSPEC_SIZE] {
    let mut b = [0u8; ITIMERSPEC_SIZE];
    for (i, d) in [interval, value].iter().enumerate() {
        let o = i * 16;
        let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        b[o..o + 8].copy_from_slice(&secs.to_ne_bytes());
        b[o + 8..o + 16].copy_from_slice(&i64::from(d.subsec_nanos()).to_ne_bytes());
    }
    b
}

/// timer_settime(timerid, flags, new_value, old_value).
pub fn sys_timer_settime(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (id, flags, new, old) = (a.i32(0), a.i32(1), a.addr(2), a.addr(3));
    if new == 0 {
        return Err(Errno::EINVAL);
    }
    let (value, interval) = read_itimerspec(t, new)?;
    let (old_value, old_interval) = posix_timer::set_time(&t.tg, id, flags, value, interval)?;
    if old != 0 {
        t.mm.copy_out(old, &itimerspec_bytes(old_value, old_interval))?;
    }
    Ok(0)
}

/// timer_gettime(timerid, curr_value).
pub fn sys_timer_gettime(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (value, interval) = t.tg.timers.get_time(&t.tg, a.i32(0))?;
    t.mm.copy_out(a.addr(1), &itimerspec_bytes(value, interval))?;
    Ok(0)
}

/// timer_getoverrun(timerid).
pub fn sys_timer_getoverrun(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let n = t.tg.timers.overrun(a.i32(0))?;
    Ok(u64::from(n.max(0) as u32))
}

/// timer_delete(timerid).
pub fn sys_timer_delete(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.tg.timers.delete(a.i32(0))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_without_timers_are_eopnotsupp_and_unknown_ones_einval() {
        assert_eq!(
            timer_clock(5, libc::CLOCK_MONOTONIC),
            Ok(TimerClock::Wall(libc::CLOCK_MONOTONIC))
        );
        assert_eq!(
            timer_clock(5, libc::CLOCK_MONOTONIC_RAW),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(timer_clock(5, 10), Err(Errno::EINVAL));
        assert_eq!(timer_clock(5, 99), Err(Errno::EINVAL));
        let process_sched = |pid: i32| (!pid << 3) | 2;
        let cpu = Ok(TimerClock::ProcessCpu { user_only: false });
        assert_eq!(timer_clock(5, process_sched(0)), cpu);
        assert_eq!(timer_clock(5, process_sched(5)), cpu);
        assert_eq!(timer_clock(5, process_sched(6)), Err(Errno::EINVAL));
        assert_eq!(timer_clock(5, process_sched(0) | 4), Err(Errno::EINVAL));
    }

    #[test]
    fn itimerspec_is_interval_then_value() {
        let b = itimerspec_bytes(Duration::from_millis(1500), Duration::from_secs(2));
        assert_eq!(i64_at(&b, 0), 2);
        assert_eq!(i64_at(&b, 16), 1);
        assert_eq!(i64_at(&b, 24), 500_000_000);
    }
}
