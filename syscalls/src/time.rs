//! Clocks, sleeping and CPU time: clock_gettime(2), clock_getres(2), gettimeofday(2), time(2),
//! nanosleep(2), clock_nanosleep(2), getrusage(2), times(2). Most programs read clocks through
//! the vDSO, which the stub keeps; these are the trapped fallbacks. CPU clocks and CPU times
//! come from the process's accounting (`sentry::kernel::thread_group::CpuAccount`), never from
//! the sentry's own host clocks.

use std::time::{Duration, Instant};

use nix::sys::time::TimeSpec;
use nix::time::{clock_getres, clock_gettime, ClockId};
use sentry::kernel::thread_group::CpuTimes;
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

/// The CPU clocks (Linux `include/linux/posix-timers.h`): CLOCK_PROCESS_CPUTIME_ID and
/// CLOCK_THREAD_CPUTIME_ID, or `~pid << 3 | which` (bit 2: a thread clock; which: 0 PROF,
/// 1 VIRT, 2 SCHED) as clock_getcpuclockid(3) and pthread_getcpuclockid(3) make them. A pid
/// of 0 is the caller; other processes' and threads' clocks are EINVAL here.
fn cpu_clock(t: &Task, id: i32) -> Option<SysResult<Duration>> {
    let (thread, which) = match id {
        libc::CLOCK_PROCESS_CPUTIME_ID => (false, 2),
        libc::CLOCK_THREAD_CPUTIME_ID => (true, 2),
        id if id < 0 => {
            let pid = !(id >> 3);
            let thread = id & 4 != 0;
            let which = id & 3;
            let mine = pid == 0 || (thread && pid == t.tid) || (!thread && pid == t.tg.pid);
            if which == 3 || !mine {
                return Some(Err(Errno::EINVAL));
            }
            (thread, which)
        }
        _ => return None,
    };
    let times = if thread {
        thread_cpu(t)
    } else {
        process_cpu(t)
    };
    Some(Ok(if which == 1 {
        times.user
    } else {
        times.total()
    }))
}

/// The calling thread's CPU time: its time in application code, and its sentry thread's
/// CPU time (the caller runs on it).
pub fn thread_cpu(t: &Task) -> CpuTimes {
    let sys = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(|ts| Duration::new(ts.tv_sec() as u64, ts.tv_nsec() as u32))
        .unwrap_or_default();
    CpuTimes {
        user: t.app_time,
        sys,
    }
}

/// The calling process's CPU time (all its threads, past images included).
pub fn process_cpu(t: &Task) -> CpuTimes {
    t.tg.cpu
        .process_total(Some(t.mm.address_space().host_pid()))
}

fn duration_timespec(d: Duration) -> TimeSpec {
    TimeSpec::new(d.as_secs() as i64, i64::from(d.subsec_nanos()))
}

pub fn sys_clock_gettime(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    if let Some(cpu) = cpu_clock(t, a.i32(0)) {
        t.mm.copy_out(a.addr(1), &timespec_bytes(duration_timespec(cpu?)))?;
        return Ok(0);
    }
    let id = clock_id(a.i32(0))?;
    let ts = clock_gettime(id).map_err(|_| Errno::EINVAL)?;
    t.mm.copy_out(a.addr(1), &timespec_bytes(ts))?;
    Ok(0)
}

/// `struct rusage` (144 bytes): ru_utime and ru_stime as timevals, then 14 longs that stay
/// zero (the sandbox does not count faults, context switches or I/O blocks).
pub fn rusage_bytes(c: CpuTimes) -> [u8; RUSAGE_SIZE] {
    let mut b = [0u8; RUSAGE_SIZE];
    for (i, d) in [c.user, c.sys].iter().enumerate() {
        let o = i * 16;
        b[o..o + 8].copy_from_slice(&(d.as_secs() as i64).to_ne_bytes());
        b[o + 8..o + 16].copy_from_slice(&i64::from(d.subsec_micros()).to_ne_bytes());
    }
    b
}

pub const RUSAGE_SIZE: usize = 144;

/// getrusage(2): RUSAGE_SELF, RUSAGE_CHILDREN (reaped ones), RUSAGE_THREAD.
pub fn sys_getrusage(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let c = match a.i32(0) {
        libc::RUSAGE_SELF => process_cpu(t),
        libc::RUSAGE_CHILDREN => t.tg.cpu.children(),
        libc::RUSAGE_THREAD => thread_cpu(t),
        _ => return Err(Errno::EINVAL),
    };
    t.mm.copy_out(a.addr(1), &rusage_bytes(c))?;
    Ok(0)
}

/// Clock ticks (USER_HZ = 100) in `d`.
fn ticks(d: Duration) -> i64 {
    (d.as_millis() / 10) as i64
}

/// times(2): `struct tms` in clock ticks, and the ticks since boot.
pub fn sys_times(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    if a.addr(0) != 0 {
        let (me, children) = (process_cpu(t), t.tg.cpu.children());
        let mut b = [0u8; 32];
        for (i, d) in [me.user, me.sys, children.user, children.sys]
            .iter()
            .enumerate()
        {
            b[i * 8..i * 8 + 8].copy_from_slice(&ticks(*d).to_ne_bytes());
        }
        t.mm.copy_out(a.addr(0), &b)?;
    }
    Ok(ticks(t.kernel.boot_instant.elapsed()) as u64)
}

pub fn sys_clock_getres(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    if let Some(cpu) = cpu_clock(t, a.i32(0)) {
        cpu?;
        if a.addr(1) != 0 {
            let ns = duration_timespec(Duration::from_nanos(1));
            t.mm.copy_out(a.addr(1), &timespec_bytes(ns))?;
        }
        return Ok(0);
    }
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
