//! Clocks, sleeping and CPU time: clock_gettime(2), clock_getres(2), gettimeofday(2), time(2),
//! nanosleep(2), clock_nanosleep(2), getrusage(2), times(2). Most programs read clocks through
//! the vDSO, which the stub keeps; these are the trapped fallbacks. CPU clocks and CPU times
//! come from the process's accounting (`sentry::kernel::thread_group::CpuAccount`), never from
//! the sentry's own host clocks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
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

/// How far away the absolute time `when` on `clock` is (zero once it has passed).
fn until(clock: i32, when: Duration) -> SysResult<Duration> {
    let id = clock_id(clock)?;
    let now = clock_gettime(id).map_err(|_| Errno::EINVAL)?;
    let now = Duration::new(
        now.tv_sec().max(0) as u64,
        now.tv_nsec().clamp(0, 999_999_999) as u32,
    );
    Ok(when.saturating_sub(now))
}

/// Blocks until `deadline` (Ok) or until a signal must be dealt with (Err(EINTR)).
fn block_until(t: &mut Task, deadline: Instant) -> SysResult<()> {
    match sentry::kernel::signal::block_until(t, Some(deadline), || false) {
        Ok(()) | Err(Errno::ETIMEDOUT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// What restart_syscall(2) continues: an interrupted relative sleep (Linux's
/// `restart_block.nanosleep`): its deadline and where the time left goes.
#[derive(Debug, Clone, Copy)]
struct SleepRestart {
    deadline: Instant,
    rem: u64,
}

/// The restart blocks of interrupted relative sleeps, by (kernel, tid). A block is taken by the
/// restart_syscall that continues the sleep; a stale one (a handler ran and EINTR reached the
/// application) is replaced by the task's next interrupted sleep.
static RESTARTS: Mutex<BTreeMap<(usize, i32), SleepRestart>> = Mutex::new(BTreeMap::new());

fn restarts() -> std::sync::MutexGuard<'static, BTreeMap<(usize, i32), SleepRestart>> {
    RESTARTS.lock().unwrap_or_else(|p| p.into_inner())
}

fn restart_key(t: &Task) -> (usize, i32) {
    (Arc::as_ptr(&t.kernel) as usize, t.tid)
}

/// A relative sleep until `deadline` (Linux `do_nanosleep` with `HRTIMER_MODE_REL`). When a
/// signal interrupts it the time left is written to `rem` (if given; EFAULT if that fails)
/// and the syscall ends with EINTR; if no handler runs, the application re-enters through
/// restart_syscall(2), which sleeps to the same deadline (ERESTART_RESTARTBLOCK).
fn sleep_relative(t: &mut Task, deadline: Instant, rem: u64) -> SysResult<u64> {
    if block_until(t, deadline).is_ok() {
        return Ok(0);
    }
    if rem != 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        t.mm.copy_out(rem, &timespec_bytes(duration_timespec(left)))?;
    }
    restarts().insert(restart_key(t), SleepRestart { deadline, rem });
    // Restarting (no handler runs) re-enters as restart_syscall, not as the original sleep.
    t.regs.orig_rax = libc::SYS_restart_syscall as u64;
    t.signals
        .set_restart(sentry::kernel::signal::RestartKind::NoHand);
    Err(Errno::EINTR)
}

/// An absolute sleep until `when` on `clock` (`HRTIMER_MODE_ABS`): interrupted, it returns
/// EINTR without touching `rem` and, if no handler runs, restarts with its own arguments,
/// hence to the same deadline (ERESTARTNOHAND).
fn sleep_absolute(t: &mut Task, clock: i32, when: Duration) -> SysResult<u64> {
    let deadline = Instant::now() + until(clock, when)?;
    if block_until(t, deadline).is_ok() {
        // A realtime clock set forward or back moves the deadline: sleep on if it is ahead.
        if until(clock, when)?.is_zero() {
            return Ok(0);
        }
        return sleep_absolute(t, clock, when);
    }
    t.signals
        .set_restart(sentry::kernel::signal::RestartKind::NoHand);
    Err(Errno::EINTR)
}

/// restart_syscall(2): continues the interrupted relative sleep of this task; EINTR when
/// there is nothing to continue (Linux `do_no_restart_syscall`).
pub fn sys_restart_syscall(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    let Some(r) = restarts().remove(&restart_key(t)) else {
        return Err(Errno::EINTR);
    };
    sleep_relative(t, r.deadline, r.rem)
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

/// nanosleep(2): a relative sleep on CLOCK_MONOTONIC.
pub fn sys_nanosleep(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let d = read_timespec(t, a.addr(0))?;
    sleep_relative(t, Instant::now() + d, a.addr(1))
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
        sleep_absolute(t, clock, d)
    } else {
        sleep_relative(t, Instant::now() + d, a.addr(3))
    }
}
