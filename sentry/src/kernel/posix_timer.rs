//! POSIX per-process interval timers (after Linux `kernel/time/posix-timers.c` and
//! timer_create(2)): a process's table of timers, each on a clock, notifying by a signal to the
//! process (SIGEV_SIGNAL), to one of its threads (SIGEV_THREAD_ID) or not at all (SIGEV_NONE).
//! An armed signalling timer has a sentry thread that sleeps until each expiry and queues a
//! `SI_TIMER` siginfo; an expiry while that siginfo is still queued grows its `si_overrun`
//! instead (Linux re-arms at dequeue and counts the missed periods: the same count). The
//! overrun of the last delivered signal is what timer_getoverrun(2) reports.
//!
//! Timers on the process's CPU clocks (CLOCK_PROCESS_CPUTIME_ID, and setitimer(2)'s
//! ITIMER_VIRTUAL and ITIMER_PROF, which live here too) have no host timer to sleep on: their
//! thread polls the process's CPU time (`CpuAccount`) every few milliseconds.
//!
//! Timers belong to the thread group; fork starts with none, exec deletes them, and they end
//! with the process (ITIMER_VIRTUAL/PROF survive exec and are not inherited by fork, as Linux).
//!
//! Lock order: the table lock, then one timer's state lock; the signal pending locks are taken
//! with neither held.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::abi::signal::{SigInfo, SI_TIMER};
use crate::kernel::ThreadGroup;
use crate::{Errno, SysResult};

/// `sigevent.sigev_notify` values (`include/uapi/asm-generic/siginfo.h`).
pub const SIGEV_SIGNAL: i32 = 0;
pub const SIGEV_NONE: i32 = 1;
pub const SIGEV_THREAD: i32 = 2;
pub const SIGEV_THREAD_ID: i32 = 4;

/// timer_settime's `TIMER_ABSTIME` flag.
pub const TIMER_ABSTIME: i32 = 1;

/// How a timer tells the process that it expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// SIGEV_NONE: nothing; timer_gettime shows the progress.
    None,
    /// SIGEV_SIGNAL (and the kernel side of SIGEV_THREAD): a process-directed signal.
    Process { signo: i32, value: u64 },
    /// SIGEV_THREAD_ID: a signal to thread `tid` of the process.
    Thread { signo: i32, value: u64, tid: i32 },
}

/// The clock a timer counts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerClock {
    /// A wall or monotonic clock id (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME...).
    /// Expiries are kept on the sentry's monotonic clock; an absolute time is converted at
    /// setting.
    Wall(i32),
    /// The process's CPU time: user and system (CLOCK_PROCESS_CPUTIME_ID, ITIMER_PROF), or
    /// user only (`user_only`, ITIMER_VIRTUAL).
    ProcessCpu { user_only: bool },
}

/// How often a CPU-clock timer's thread looks at the process's CPU time.
const CPU_POLL: Duration = Duration::from_millis(2);

/// The sentry's monotonic clock as a duration since the first use.
fn monotonic_now() -> Duration {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed()
}

impl TimerClock {
    /// The clock's reading for process `tg` (deadlines are kept in these terms).
    fn now(&self, tg: &ThreadGroup) -> Duration {
        match *self {
            TimerClock::Wall(_) => monotonic_now(),
            TimerClock::ProcessCpu { user_only } => {
                let host_pid = tg.view_mm().map(|mm| mm.address_space().host_pid());
                let t = tg.cpu.process_total(host_pid);
                if user_only {
                    t.user
                } else {
                    t.total()
                }
            }
        }
    }

    /// The clock's reading as an application sees it (for TIMER_ABSTIME).
    fn app_now(&self, tg: &ThreadGroup) -> SysResult<Duration> {
        match *self {
            TimerClock::Wall(clock) => clock_now(clock),
            TimerClock::ProcessCpu { .. } => Ok(self.now(tg)),
        }
    }
}

#[derive(Debug, Default)]
struct TimerState {
    /// Next expiry on the timer's clock (`TimerClock::now`); None when disarmed.
    deadline: Option<Duration>,
    interval: Duration,
    /// New at each setting and at deletion (from one counter for all timers, so that a
    /// reused timer id never matches an old signal): the thread of an older setting exits
    /// and its queued signal is dropped.
    generation: u64,
    /// The overrun count of the last delivered signal (timer_getoverrun).
    overrun_last: i32,
    deleted: bool,
}

/// One timer.
#[derive(Debug)]
pub struct PosixTimer {
    pub id: i32,
    /// An interval timer of setitimer(2): its signal is a plain SI_KERNEL one.
    itimer: bool,
    pub clock: TimerClock,
    pub notify: Notify,
    state: Mutex<TimerState>,
    cv: Condvar,
}

impl PosixTimer {
    fn lock(&self) -> std::sync::MutexGuard<'_, TimerState> {
        self.state
            .lock()
            .expect("invariant: posix timer lock is never poisoned")
    }

    /// The SI_TIMER siginfo of one expiry of setting `generation`: si_tid (the timer id),
    /// si_overrun, si_value, and in the kernel-private word after them (Linux's
    /// `si_sys_private`) the generation, which dequeue checks and clears.
    fn siginfo(&self, signo: i32, value: u64, overrun: i32, generation: u64) -> SigInfo {
        if self.itimer {
            return SigInfo::new(signo, crate::abi::signal::SI_KERNEL);
        }
        let mut info = SigInfo::new(signo, SI_TIMER);
        info.bytes[16..20].copy_from_slice(&self.id.to_ne_bytes());
        info.bytes[20..24].copy_from_slice(&overrun.to_ne_bytes());
        info.bytes[24..32].copy_from_slice(&value.to_ne_bytes());
        info.bytes[32..36].copy_from_slice(&(generation as u32).to_ne_bytes());
        info
    }
}

/// Time left until `deadline` for a timer of period `interval`, at `now`: a periodic timer
/// whose expiry passed shows the time to its next period, a one-shot one shows zero.
fn time_left(deadline: Option<Duration>, interval: Duration, now: Duration) -> Duration {
    let Some(d) = deadline else {
        return Duration::ZERO;
    };
    if d > now {
        return d - now;
    }
    if interval.is_zero() {
        return Duration::ZERO;
    }
    let late = now - d;
    let periods = late.as_nanos() / interval.as_nanos() + 1;
    let next = interval.as_nanos() * periods - late.as_nanos();
    Duration::from_nanos(u64::try_from(next).unwrap_or(u64::MAX))
}

/// Number of expiries at or before `now` of a timer due at `deadline` with period `interval`
/// (at least 1 when `deadline <= now`), and the next deadline after them.
fn expiries(deadline: Duration, interval: Duration, now: Duration) -> (u64, Option<Duration>) {
    if interval.is_zero() {
        return (1, None);
    }
    let late = now.saturating_sub(deadline).as_nanos();
    let n = late / interval.as_nanos() + 1;
    let n64 = u64::try_from(n).unwrap_or(u64::MAX);
    let advance = interval.as_nanos().saturating_mul(n);
    let next = u64::try_from(advance)
        .ok()
        .and_then(|ns| deadline.checked_add(Duration::from_nanos(ns)));
    (n64, next)
}

/// The current time of a wall clock, as a duration since its epoch.
fn clock_now(clock: i32) -> SysResult<Duration> {
    let ts =
        nix::time::clock_gettime(nix::time::ClockId::from_raw(clock)).map_err(|_| Errno::EINVAL)?;
    Ok(Duration::new(
        u64::try_from(ts.tv_sec()).unwrap_or(0),
        u32::try_from(ts.tv_nsec()).unwrap_or(0),
    ))
}

#[derive(Debug, Default)]
struct Table {
    next_id: i32,
    timers: BTreeMap<i32, Arc<PosixTimer>>,
}

/// A process's POSIX timers (Linux's `signal_struct.posix_timers`) and its CPU-time interval
/// timers (`signal_struct.it[]`).
#[derive(Debug, Default)]
pub struct PosixTimers {
    table: Mutex<Table>,
    itimer_virtual: Mutex<Option<Arc<PosixTimer>>>,
    itimer_prof: Mutex<Option<Arc<PosixTimer>>>,
}

/// setitimer(2)'s CPU-time timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ITimer {
    /// ITIMER_VIRTUAL: user time, SIGVTALRM.
    Virtual,
    /// ITIMER_PROF: user and system time, SIGPROF.
    Prof,
}

/// Most timers one process may hold (Linux bounds them by RLIMIT_SIGPENDING; a fixed bound
/// keeps a sentry thread per armed timer in check).
const MAX_TIMERS: usize = 4096;

impl PosixTimers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table
            .lock()
            .expect("invariant: posix timer table lock is never poisoned")
    }

    fn get(&self, id: i32) -> SysResult<Arc<PosixTimer>> {
        self.lock().timers.get(&id).cloned().ok_or(Errno::EINVAL)
    }

    /// timer_create: a disarmed timer; returns its id (ids count up from 0, as Linux 6.x).
    pub fn create(&self, clock: TimerClock, notify: Notify) -> SysResult<i32> {
        self.create_with(clock, |_| notify)
    }

    /// timer_create whose notification depends on the new id (no sigevent: SIGALRM with the
    /// id as `sival_int`).
    pub fn create_with(
        &self,
        clock: TimerClock,
        notify: impl FnOnce(i32) -> Notify,
    ) -> SysResult<i32> {
        let mut t = self.lock();
        if t.timers.len() >= MAX_TIMERS {
            return Err(Errno::EAGAIN);
        }
        let mut id = t.next_id;
        while t.timers.contains_key(&id) {
            id = id.checked_add(1).unwrap_or(0);
        }
        t.next_id = id.checked_add(1).unwrap_or(0);
        t.timers.insert(
            id,
            Arc::new(PosixTimer {
                id,
                itimer: false,
                clock,
                notify: notify(id),
                state: Mutex::new(TimerState::default()),
                cv: Condvar::new(),
            }),
        );
        Ok(id)
    }

    /// timer_delete: EINVAL for an unknown id. A signal already queued stays pending until
    /// dequeued, where it is dropped (`accept_delivery`).
    pub fn delete(&self, id: i32) -> SysResult<()> {
        let timer = self.lock().timers.remove(&id).ok_or(Errno::EINVAL)?;
        retire(&timer);
        Ok(())
    }

    /// Deletes every timer (exec, process exit).
    pub fn delete_all(&self) {
        let timers = std::mem::take(&mut self.lock().timers);
        for timer in timers.values() {
            retire(timer);
        }
    }

    /// Number of timers the process holds.
    pub fn count(&self) -> usize {
        self.lock().timers.len()
    }

    /// timer_gettime on process `tg`'s timer `id`: (time to the next expiry, interval);
    /// zeros when disarmed.
    pub fn get_time(&self, tg: &ThreadGroup, id: i32) -> SysResult<(Duration, Duration)> {
        let timer = self.get(id)?;
        Ok(current(tg, &timer))
    }

    /// The ITIMER_VIRTUAL or ITIMER_PROF timer, made on first use.
    fn itimer(&self, which: ITimer) -> Arc<PosixTimer> {
        let (slot, user_only, signo) = match which {
            ITimer::Virtual => (&self.itimer_virtual, true, libc::SIGVTALRM),
            ITimer::Prof => (&self.itimer_prof, false, libc::SIGPROF),
        };
        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert_with(|| {
            Arc::new(PosixTimer {
                id: -1,
                itimer: true,
                clock: TimerClock::ProcessCpu { user_only },
                notify: Notify::Process { signo, value: 0 },
                state: Mutex::new(TimerState::default()),
                cv: Condvar::new(),
            })
        })
        .clone()
    }

    /// timer_getoverrun: the overrun count of the last delivered expiry signal.
    pub fn overrun(&self, id: i32) -> SysResult<i32> {
        Ok(self.get(id)?.lock().overrun_last)
    }

    /// At the dequeue of `info`: false for the signal of a timer deleted or re-set since it
    /// was queued, which Linux drops there (sigpending(2) still showed it). Otherwise records
    /// the delivered overrun count (timer_getoverrun) and clears the private generation word.
    pub fn accept_delivery(&self, info: &mut SigInfo) -> bool {
        if info.code() != SI_TIMER {
            return true;
        }
        let word = |off: usize| {
            u32::from_ne_bytes(
                info.bytes[off..off + 4]
                    .try_into()
                    .expect("invariant: 4 bytes"),
            )
        };
        let (id, overrun, generation) = (word(16) as i32, word(20) as i32, word(32));
        if generation == 0 {
            // Not a timer's: one a process queued to itself with rt_sigqueueinfo.
            return true;
        }
        let Ok(timer) = self.get(id) else {
            return false;
        };
        let mut s = timer.lock();
        if s.deleted || s.generation as u32 != generation {
            return false;
        }
        s.overrun_last = overrun;
        info.bytes[32..36].fill(0);
        true
    }
}

/// (time left, interval) of `timer` now.
fn current(tg: &ThreadGroup, timer: &PosixTimer) -> (Duration, Duration) {
    let now = timer.clock.now(tg);
    let s = timer.lock();
    (time_left(s.deadline, s.interval, now), s.interval)
}

/// getitimer(ITIMER_VIRTUAL or ITIMER_PROF) of process `tg`: (time left, interval).
pub fn get_itimer(tg: &ThreadGroup, which: ITimer) -> (Duration, Duration) {
    current(tg, &tg.timers.itimer(which))
}

/// setitimer(ITIMER_VIRTUAL or ITIMER_PROF) of process `tg`: a zero `value` disarms; returns
/// the previous setting.
pub fn set_itimer(
    tg: &Arc<ThreadGroup>,
    which: ITimer,
    value: Duration,
    interval: Duration,
) -> SysResult<(Duration, Duration)> {
    arm(tg, &tg.timers.itimer(which), 0, value, interval)
}

/// A timer setting's generation, unique among all timers of the sentry.
fn next_generation() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Disarms a timer for good: its thread exits at its next look.
fn retire(timer: &PosixTimer) {
    let mut s = timer.lock();
    s.deleted = true;
    s.deadline = None;
    s.generation = next_generation();
    drop(s);
    timer.cv.notify_all();
}

/// timer_settime on process `tg`: arms (non-zero `value`, relative or, with TIMER_ABSTIME, a
/// time on the timer's clock) or disarms timer `id`; returns the previous (left, interval).
pub fn set_time(
    tg: &Arc<ThreadGroup>,
    id: i32,
    flags: i32,
    value: Duration,
    interval: Duration,
) -> SysResult<(Duration, Duration)> {
    arm(tg, &tg.timers.get(id)?, flags, value, interval)
}

/// Sets `timer` of process `tg` (timer_settime, setitimer).
fn arm(
    tg: &Arc<ThreadGroup>,
    timer: &Arc<PosixTimer>,
    flags: i32,
    value: Duration,
    interval: Duration,
) -> SysResult<(Duration, Duration)> {
    let now = timer.clock.now(tg);
    let delay = if value.is_zero() {
        None
    } else if flags & TIMER_ABSTIME != 0 {
        Some(value.saturating_sub(timer.clock.app_now(tg)?))
    } else {
        Some(value)
    };
    let (old, generation) = {
        let mut s = timer.lock();
        let old = (time_left(s.deadline, s.interval, now), s.interval);
        s.generation = next_generation();
        s.deleted = false;
        s.deadline = delay.map(|d| now.saturating_add(d));
        s.interval = if delay.is_some() {
            interval
        } else {
            Duration::ZERO
        };
        (old, s.generation)
    };
    timer.cv.notify_all();
    if delay.is_some() && timer.notify != Notify::None {
        let weak_tg = Arc::downgrade(tg);
        let t = timer.clone();
        let spawned = std::thread::Builder::new()
            .name("posix-timer".into())
            .spawn(move || run_timer(t, weak_tg, generation));
        if let Err(e) = spawned {
            crate::warn!("timer_settime: cannot start the timer thread: {e}");
            return Err(Errno::EAGAIN);
        }
    }
    Ok(old)
}

/// The body of an armed signalling timer's thread: queues its signal at each expiry until the
/// timer is re-set, deleted, or its process has no thread left.
fn run_timer(timer: Arc<PosixTimer>, tg: Weak<ThreadGroup>, generation: u64) {
    loop {
        let Some(process) = tg.upgrade() else { return };
        if process.is_exiting() || process.signals.thread_ids().is_empty() {
            return;
        }
        let Some(deadline) = timer.lock().deadline else {
            return;
        };
        let now = timer.clock.now(&process);
        let mut s = timer.lock();
        if s.generation != generation || s.deleted {
            return;
        }
        if now < deadline {
            drop(process);
            // Bounded so that a process that went away is noticed; a CPU clock is polled.
            let wait = match timer.clock {
                TimerClock::Wall(_) => (deadline - now).min(Duration::from_secs(1)),
                TimerClock::ProcessCpu { .. } => (deadline - now).min(CPU_POLL),
            };
            drop(timer.cv.wait_timeout(s, wait));
            continue;
        }
        let (n, next) = expiries(deadline, s.interval, now);
        s.deadline = next;
        drop(s);
        let extra = i32::try_from(n - 1).unwrap_or(i32::MAX);
        match timer.notify {
            Notify::None => {}
            Notify::Process { signo, value } if timer.itimer => {
                crate::kernel::signal::send_to_process(
                    &process,
                    timer.siginfo(signo, value, 0, generation),
                );
            }
            Notify::Process { signo, value } => {
                // Process-directed queueing cannot fail.
                let _ = process
                    .signals
                    .queue_timer(None, timer.siginfo(signo, value, extra, generation));
            }
            Notify::Thread { signo, value, tid } => {
                // A target thread that exited receives nothing (Linux finds no task).
                let _ = process
                    .signals
                    .queue_timer(Some(tid), timer.siginfo(signo, value, extra, generation));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_count_up_and_unknown_ids_are_einval() {
        let t = PosixTimers::default();
        let a = t.create(TimerClock::Wall(libc::CLOCK_MONOTONIC), Notify::None);
        let b = t.create(TimerClock::Wall(libc::CLOCK_MONOTONIC), Notify::None);
        assert_eq!((a, b), (Ok(0), Ok(1)));
        assert_eq!(t.delete(0), Ok(()));
        assert_eq!(t.delete(0), Err(Errno::EINVAL));
        assert_eq!(t.get_time(&ThreadGroup::new(1, 0), 7), Err(Errno::EINVAL));
        assert_eq!(
            t.create(TimerClock::Wall(libc::CLOCK_MONOTONIC), Notify::None),
            Ok(2)
        );
        t.delete_all();
        assert_eq!(t.count(), 0);
    }

    #[test]
    fn periodic_time_left_wraps_to_the_next_period() {
        let now = Duration::from_secs(100);
        let ms = Duration::from_millis;
        assert_eq!(time_left(Some(now + ms(5)), ms(10), now), ms(5));
        assert_eq!(time_left(Some(now), ms(10), now + ms(23)), ms(7));
        assert_eq!(time_left(Some(now), Duration::ZERO, now + ms(23)), ms(0));
        assert_eq!(time_left(None, ms(10), now), ms(0));
    }

    #[test]
    fn missed_periods_are_counted() {
        let now = Duration::from_secs(100);
        let ms = Duration::from_millis;
        assert_eq!(expiries(now, ms(10), now), (1, Some(now + ms(10))));
        assert_eq!(expiries(now, ms(10), now + ms(35)), (4, Some(now + ms(40))));
        assert_eq!(expiries(now, Duration::ZERO, now + ms(35)), (1, None));
    }

    #[test]
    fn delivery_records_the_overrun() {
        let t = PosixTimers::default();
        let id = t
            .create(
                TimerClock::Wall(libc::CLOCK_MONOTONIC),
                Notify::Process {
                    signo: libc::SIGALRM,
                    value: 9,
                },
            )
            .unwrap();
        let timer = t.get(id).unwrap();
        let generation = next_generation();
        timer.lock().generation = generation;
        let mut info = timer.siginfo(libc::SIGALRM, 9, 3, generation);
        assert!(t.accept_delivery(&mut info));
        assert_eq!(t.overrun(id), Ok(3));
        assert_eq!(&info.bytes[32..36], &[0; 4], "the private word is cleared");

        // A signal of an older setting, or of a deleted timer, is dropped at dequeue.
        let mut stale = timer.siginfo(libc::SIGALRM, 9, 0, generation);
        timer.lock().generation = next_generation();
        assert!(!t.accept_delivery(&mut stale));
        let mut gone = timer.siginfo(libc::SIGALRM, 9, 0, timer.lock().generation);
        t.delete(id).unwrap();
        assert!(!t.accept_delivery(&mut gone));
        // One queued by rt_sigqueueinfo with code SI_TIMER (no generation) passes.
        let mut forged = SigInfo::new(libc::SIGALRM, SI_TIMER);
        assert!(t.accept_delivery(&mut forged));
    }
}
