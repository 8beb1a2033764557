//! Clocks and sleeping: clock_gettime(2), clock_getres(2), gettimeofday(2), time(2),
//! nanosleep(2), clock_nanosleep(2). Most programs read clocks through the vDSO, which the
//! stub keeps; these are the trapped fallbacks.

use std::time::{Duration, Instant};

use nix::sys::time::TimeSpec;
use nix::time::{clock_getres, clock_gettime, ClockId};
use sentry::kernel::{SyscallArgs, Task};
use sentry::{Errno, SysResult};

/// The clocks an application may read; per-process CPU clocks (negative ids) are refused.
fn clock_id(id: i32) -> SysResult<ClockId> {
    match id {
        libc::CLOCK_REALTIME
        | libc::CLOCK_MONOTONIC
        | libc::CLOCK_PROCESS_CPUTIME_ID
        | libc::CLOCK_THREAD_CPUTIME_ID
        | libc::CLOCK_MONOTONIC_RAW
        | libc::CLOCK_REALTIME_COARSE
        | libc::CLOCK_MONOTONIC_COARSE
        | libc::CLOCK_BOOTTIME
        | libc::CLOCK_REALTIME_ALARM
        | libc::CLOCK_BOOTTIME_ALARM
        | libc::CLOCK_TAI => Ok(ClockId::from_raw(id)),
        _ => Err(Errno::EINVAL),
    }
}

fn timespec_bytes(ts: TimeSpec) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&ts.tv_sec().to_ne_bytes());
    b[8..].copy_from_slice(&ts.tv_nsec().to_ne_bytes());
    b
}

/// Reads a `struct timespec` and validates it as the kernel does (EINVAL for a negative time
/// or nanoseconds outside 0..1e9).
pub fn read_timespec(t: &Task, addr: u64) -> SysResult<Duration> {
    let mut b = [0u8; 16];
    t.mm.copy_in(addr, &mut b)?;
    let sec = i64::from_ne_bytes(b[..8].try_into().expect("invariant: 8 bytes"));
    let nsec = i64::from_ne_bytes(b[8..].try_into().expect("invariant: 8 bytes"));
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(sec as u64, nsec as u32))
}

/// Sleeps until the absolute time `when` on `clock`, not interruptible by signals.
pub fn sleep_until(clock: i32, when: Duration) -> SysResult<()> {
    let id = clock_id(clock)?;
    let now = clock_gettime(id).map_err(|_| Errno::EINVAL)?;
    let now = Duration::new(now.tv_sec() as u64, now.tv_nsec() as u32);
    if when > now {
        std::thread::sleep(when - now);
    }
    Ok(())
}

/// Sleeps until the absolute time `when` on `clock`; EINTR if a signal handler must run.
fn sleep_until_interruptible(
    t: &mut Task,
    clock: i32,
    when: Duration,
) -> Result<(), (Errno, Duration)> {
    let id = clock_id(clock).map_err(|e| (e, Duration::ZERO))?;
    let now = clock_gettime(id).map_err(|_| (Errno::EINVAL, Duration::ZERO))?;
    let now = Duration::new(now.tv_sec() as u64, now.tv_nsec() as u32);
    if when > now {
        sleep_for(t, when - now)?;
    }
    Ok(())
}

/// Sleeps for `d`; on a signal returns the time left as Err((EINTR, left)). The syscall is
/// restarted (with its original arguments) only if no handler runs.
fn sleep_for(t: &mut Task, d: Duration) -> Result<(), (Errno, Duration)> {
    let deadline = Instant::now() + d;
    match sentry::kernel::signal::block_until(t, Some(deadline), || false) {
        Ok(()) | Err(Errno::ETIMEDOUT) => Ok(()),
        Err(e) => {
            t.signals
                .set_restart(sentry::kernel::signal::RestartKind::NoHand);
            Err((e, deadline.saturating_duration_since(Instant::now())))
        }
    }
}

/// Writes the unslept time to `rem` (if given) and returns EINTR.
fn interrupted(t: &Task, rem: u64, e: Errno, left: Duration) -> SysResult<u64> {
    if rem != 0 {
        let ts = TimeSpec::new(left.as_secs() as i64, i64::from(left.subsec_nanos()));
        t.mm.copy_out(rem, &timespec_bytes(ts))?;
    }
    Err(e)
}

pub fn sys_clock_gettime(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let id = clock_id(a.i32(0))?;
    let ts = clock_gettime(id).map_err(|_| Errno::EINVAL)?;
    t.mm.copy_out(a.addr(1), &timespec_bytes(ts))?;
    Ok(0)
}

pub fn sys_clock_getres(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let id = clock_id(a.i32(0))?;
    if a.addr(1) != 0 {
        let ts = clock_getres(id).map_err(|_| Errno::EINVAL)?;
        t.mm.copy_out(a.addr(1), &timespec_bytes(ts))?;
    }
    Ok(0)
}

/// gettimeofday(2); the obsolete timezone is reported as UTC with no DST.
pub fn sys_gettimeofday(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    if a.addr(0) != 0 {
        let ts = clock_gettime(ClockId::CLOCK_REALTIME).map_err(|_| Errno::EINVAL)?;
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&ts.tv_sec().to_ne_bytes());
        b[8..].copy_from_slice(&(ts.tv_nsec() / 1000).to_ne_bytes());
        t.mm.copy_out(a.addr(0), &b)?;
    }
    if a.addr(1) != 0 {
        t.mm.copy_out(a.addr(1), &[0u8; 8])?;
    }
    Ok(0)
}

pub fn sys_time(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let ts = clock_gettime(ClockId::CLOCK_REALTIME).map_err(|_| Errno::EINVAL)?;
    let secs = ts.tv_sec();
    if a.addr(0) != 0 {
        t.mm.copy_out(a.addr(0), &secs.to_ne_bytes())?;
    }
    Ok(secs as u64)
}

pub fn sys_nanosleep(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let d = read_timespec(t, a.addr(0))?;
    match sleep_for(t, d) {
        Ok(()) => Ok(0),
        Err((e, left)) => interrupted(t, a.addr(1), e, left),
    }
}

const TIMER_ABSTIME: i32 = 1;

pub fn sys_clock_nanosleep(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let clock = a.i32(0);
    match clock {
        libc::CLOCK_REALTIME | libc::CLOCK_MONOTONIC | libc::CLOCK_BOOTTIME | libc::CLOCK_TAI => {}
        libc::CLOCK_THREAD_CPUTIME_ID => return Err(Errno::EINVAL),
        _ if clock_id(clock).is_ok() => return Err(Errno::ENOTSUP),
        _ => return Err(Errno::EINVAL),
    }
    let flags = a.i32(1);
    if flags & !TIMER_ABSTIME != 0 {
        return Err(Errno::EINVAL);
    }
    let d = read_timespec(t, a.addr(2))?;
    if flags & TIMER_ABSTIME != 0 {
        sleep_until_interruptible(t, clock, d).map_err(|(e, _)| e)?;
        Ok(0)
    } else {
        match sleep_for(t, d) {
            Ok(()) => Ok(0),
            Err((e, left)) => interrupted(t, a.addr(3), e, left),
        }
    }
}
