//! Signal state and delivery (after gVisor's `pkg/sentry/kernel/task_signals.go`, Linux's
//! `kernel/signal.c` and `arch/x86/kernel/signal.c`, semantics per signal(7)): per-thread and
//! per-process pending sets, sending with wake-ups, delivery by disposition (default action or
//! an `rt_sigframe` on the user or alternate stack), `rt_sigreturn`, syscall restarts after a
//! signal, the process's ITIMER_REAL, and job control (group stop by SIGSTOP/SIGTSTP/SIGTTIN/
//! SIGTTOU, resumption by SIGCONT, after Linux `prepare_signal` and `do_signal_stop`).
//!
//! Lock order: a process's job-control state, then its thread registry, then a thread's pending
//! set or interrupter; the process pending set and the timer are leaves. No pending lock is held while the thread
//! group's state lock (actions) is taken, or the other way round.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::abi::signal::{self as abi, SigInfo, SigStack};
use crate::kernel::process_tree::JobEvent;
use crate::kernel::task::ExitStatus;
use crate::kernel::thread_group::{SigAction, ThreadGroup};
use crate::kernel::wait::TaskWaker;
use crate::kernel::Task;
use crate::platform::Interrupter;
use crate::{Errno, SysResult};

pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;
/// SIGKILL and SIGSTOP can be neither caught, blocked nor ignored.
pub const UNBLOCKABLE: u64 = bit(libc::SIGKILL) | bit(libc::SIGSTOP);
/// Highest signal number.
pub const NSIG: i32 = 64;
/// First real-time signal number: real-time signals queue, standard ones coalesce.
const SIGRTMIN: i32 = 32;
/// Signals raised synchronously by the task's own instruction: delivered first.
const SYNCHRONOUS: u64 = bit(libc::SIGSEGV)
    | bit(libc::SIGBUS)
    | bit(libc::SIGILL)
    | bit(libc::SIGTRAP)
    | bit(libc::SIGFPE)
    | bit(libc::SIGSYS);

/// The mask bit of signal `sig` (1..=64).
pub const fn bit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}

/// Validates a signal number from the application (1..=64).
pub fn signal_number(raw: i32) -> SysResult<i32> {
    if (1..=NSIG).contains(&raw) {
        Ok(raw)
    } else {
        Err(Errno::EINVAL)
    }
}

/// What a default action does (signal(7)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DefaultAction {
    Terminate,
    Ignore,
    Stop,
    Continue,
}

fn default_action(sig: i32) -> DefaultAction {
    match sig {
        libc::SIGCHLD | libc::SIGURG | libc::SIGWINCH => DefaultAction::Ignore,
        libc::SIGCONT => DefaultAction::Continue,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => DefaultAction::Stop,
        _ => DefaultAction::Terminate,
    }
}

/// Signals whose default action stops the process.
const STOP_SIGNALS: u64 =
    bit(libc::SIGSTOP) | bit(libc::SIGTSTP) | bit(libc::SIGTTIN) | bit(libc::SIGTTOU);

/// True if delivering `sig` under `action` would do nothing at all. SIGCONT's default action
/// (resuming a stopped group) happens when it is sent, so its delivery is a no-op.
fn is_ignored(sig: i32, action: &SigAction) -> bool {
    match action.handler {
        SIG_IGN => sig != libc::SIGKILL && sig != libc::SIGSTOP,
        SIG_DFL => matches!(
            default_action(sig),
            DefaultAction::Ignore | DefaultAction::Continue
        ),
        _ => false,
    }
}

/// Job-control state of a process (Linux's `SIGNAL_STOP_STOPPED`, `SIGNAL_CLD_CONTINUED`).
#[derive(Debug, Default)]
struct JobControl {
    /// The signal that stopped the group, while it is stopped.
    stopped: Option<i32>,
    /// SIGCONT ended a stop and the parent has not been told yet.
    continued_unreported: bool,
}

/// How an interrupted syscall behaves after signal delivery (Linux's restart codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartKind {
    /// ERESTARTSYS: restart if no handler runs or the handler has SA_RESTART; else EINTR.
    Sys,
    /// ERESTARTNOHAND: restart only if no handler runs (pause, sigsuspend, sleeps).
    NoHand,
    /// ERESTARTNOINTR: always restart.
    NoIntr,
    /// Never restart: EINTR reaches the application (sigtimedwait).
    Never,
}

/// A pending set: a bitmask plus the queued siginfos (one per standard signal at most).
#[derive(Debug, Default)]
struct PendingSet {
    mask: u64,
    queue: Vec<SigInfo>,
}

impl PendingSet {
    /// Queues `info`; a standard signal already pending is coalesced (false).
    fn push(&mut self, info: SigInfo) -> bool {
        let sig = info.signo();
        if sig < SIGRTMIN && self.mask & bit(sig) != 0 {
            return false;
        }
        self.mask |= bit(sig);
        self.queue.push(info);
        true
    }

    /// Removes the lowest-numbered signal in `want` (synchronous ones first).
    fn take(&mut self, want: u64) -> Option<SigInfo> {
        let avail = self.mask & want;
        if avail == 0 {
            return None;
        }
        let pick = if avail & SYNCHRONOUS != 0 {
            avail & SYNCHRONOUS
        } else {
            avail
        };
        let sig = pick.trailing_zeros() as i32 + 1;
        let i = self.queue.iter().position(|s| s.signo() == sig)?;
        let info = self.queue.remove(i);
        if !self.queue.iter().any(|s| s.signo() == sig) {
            self.mask &= !bit(sig);
        }
        Some(info)
    }

    /// Queues a POSIX timer's expiry: if a siginfo of the same timer (`si_tid`) is still
    /// queued, its `si_overrun` grows by one plus `info`'s instead. True if newly queued.
    fn push_timer(&mut self, info: SigInfo) -> bool {
        let field = |b: &[u8], off: usize| {
            i32::from_ne_bytes(b[off..off + 4].try_into().expect("invariant: 4 bytes"))
        };
        let (sig, timer_id) = (info.signo(), field(&info.bytes, 16));
        let queued = self.queue.iter_mut().find(|q| {
            q.signo() == sig && q.code() == abi::SI_TIMER && field(&q.bytes, 16) == timer_id
        });
        if let Some(q) = queued {
            // The queued one may be of an older setting of the timer (its generation, in
            // the kernel-private word at 32): then it becomes this setting's, overruns anew.
            let same_setting = q.bytes[32..36] == info.bytes[32..36];
            let more = field(&info.bytes, 20).saturating_add(1);
            let overrun = if same_setting {
                field(&q.bytes, 20).saturating_add(more)
            } else {
                field(&info.bytes, 20)
            };
            q.bytes[20..24].copy_from_slice(&overrun.to_ne_bytes());
            q.bytes[32..36].copy_from_slice(&info.bytes[32..36]);
            return false;
        }
        self.push(info)
    }

    fn remove_signal(&mut self, sig: i32) {
        self.queue.retain(|s| s.signo() != sig);
        self.mask &= !bit(sig);
    }
}

/// A pending set behind its lock, with a copy of its mask that is rewritten, under the lock,
/// whenever a guard is dropped: reading the copy is reading the mask under the lock at some
/// instant, without taking it (the task loop's check before each switch).
#[derive(Debug, Default)]
struct PendingCell {
    set: Mutex<PendingSet>,
    mask: AtomicU64,
}

/// The pending lock was poisoned (a holder panicked).
#[derive(Debug)]
struct Poisoned;

/// A locked pending set; publishes the mask on release.
struct PendingGuard<'a> {
    set: MutexGuard<'a, PendingSet>,
    published: &'a AtomicU64,
}

impl std::ops::Deref for PendingGuard<'_> {
    type Target = PendingSet;
    fn deref(&self) -> &PendingSet {
        &self.set
    }
}

impl std::ops::DerefMut for PendingGuard<'_> {
    fn deref_mut(&mut self) -> &mut PendingSet {
        &mut self.set
    }
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        // Runs before the field's drop releases the lock.
        self.published.store(self.set.mask, Ordering::Release);
    }
}

impl PendingCell {
    fn lock(&self) -> Result<PendingGuard<'_>, Poisoned> {
        Ok(PendingGuard {
            set: self.set.lock().map_err(|_| Poisoned)?,
            published: &self.mask,
        })
    }

    /// The mask as of the last release of the lock.
    fn published_mask(&self) -> u64 {
        self.mask.load(Ordering::Acquire)
    }
}

/// What other tasks reach of one thread: its pending set and its kick.
#[derive(Default)]
struct ThreadShared {
    pending: PendingCell,
    interrupter: Mutex<Option<Arc<dyn Interrupter>>>,
}

impl ThreadShared {
    fn kick(&self) {
        let i = self
            .interrupter
            .lock()
            .expect("invariant: interrupter lock is never poisoned")
            .clone();
        if let Some(i) = i {
            i.interrupt();
        }
    }
}

/// Per-thread signal state (pending signals addressed to this thread).
#[derive(Default)]
pub struct TaskSignals {
    shared: Arc<ThreadShared>,
    /// A fault signal forced by the platform, delivered before anything else.
    forced: Option<SigInfo>,
    /// Set by a syscall handler before it returns EINTR: how to restart (default `Sys`).
    restart_hint: Option<RestartKind>,
    /// An EINTR syscall waiting for delivery to decide its restart.
    restart: Option<RestartKind>,
    /// sigsuspend's saved mask: restored once a handler frame has been built (or after).
    saved_mask: Option<u64>,
    registered: bool,
}

impl std::fmt::Debug for TaskSignals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskSignals")
            .field("forced", &self.forced)
            .field("restart", &self.restart)
            .finish_non_exhaustive()
    }
}

impl TaskSignals {
    /// The handle others use to kick this task out of application code.
    pub fn set_interrupter(&self, i: Arc<dyn Interrupter>) {
        *self
            .shared
            .interrupter
            .lock()
            .expect("invariant: interrupter lock is never poisoned") = Some(i);
    }

    /// Tells the loop how to restart the syscall if it returns EINTR (default: ERESTARTSYS).
    pub fn set_restart(&mut self, kind: RestartKind) {
        self.restart_hint = Some(kind);
    }

    /// sigsuspend: `mask` is restored after the handler frame is built.
    pub fn save_mask_for_suspend(&mut self, mask: u64) {
        self.saved_mask = Some(mask);
    }

    /// Queues a signal for this thread (the caller's own thread).
    pub fn queue(&self, info: SigInfo) {
        self.shared
            .pending
            .lock()
            .expect("invariant: pending lock is never poisoned")
            .push(info);
    }

    fn pending_mask(&self) -> u64 {
        self.shared
            .pending
            .lock()
            .expect("invariant: pending lock is never poisoned")
            .mask
    }

    fn take(&self, want: u64) -> Option<SigInfo> {
        self.shared
            .pending
            .lock()
            .expect("invariant: pending lock is never poisoned")
            .take(want)
    }
}

struct ThreadEntry {
    waker: Weak<TaskWaker>,
    shared: Weak<ThreadShared>,
}

/// The process's ITIMER_REAL.
#[derive(Debug, Default)]
struct RealTimer {
    deadline: Option<Instant>,
    interval: Duration,
    /// Bumped at each setting: a timer thread of an older generation exits.
    generation: u64,
}

#[derive(Default)]
struct ProcessShared {
    pending: PendingCell,
    threads: Mutex<BTreeMap<i32, ThreadEntry>>,
    timer: Mutex<RealTimer>,
    timer_cv: Condvar,
    jobctl: Mutex<JobControl>,
    /// `stopped.is_some() || continued_unreported` of `jobctl`, rewritten under its lock at
    /// each release (see `JobControlGuard`).
    jobctl_busy: AtomicBool,
}

/// The locked job-control state; publishes `jobctl_busy` on release.
struct JobControlGuard<'a> {
    state: MutexGuard<'a, JobControl>,
    busy: &'a AtomicBool,
}

impl std::ops::Deref for JobControlGuard<'_> {
    type Target = JobControl;
    fn deref(&self) -> &JobControl {
        &self.state
    }
}

impl std::ops::DerefMut for JobControlGuard<'_> {
    fn deref_mut(&mut self) -> &mut JobControl {
        &mut self.state
    }
}

impl Drop for JobControlGuard<'_> {
    fn drop(&mut self) {
        // Runs before the field's drop releases the lock.
        let busy = self.state.stopped.is_some() || self.state.continued_unreported;
        self.busy.store(busy, Ordering::Release);
    }
}

impl ProcessShared {
    fn lock_threads(&self) -> std::sync::MutexGuard<'_, BTreeMap<i32, ThreadEntry>> {
        self.threads
            .lock()
            .expect("invariant: thread registry lock is never poisoned")
    }

    /// Interrupts every live thread (waits end with EINTR; running ones are kicked).
    fn wake_all(&self) {
        let threads = self.lock_threads();
        for e in threads.values() {
            if let Some(w) = e.waker.upgrade() {
                w.interrupt();
            }
            if let Some(s) = e.shared.upgrade() {
                s.kick();
            }
        }
    }

    fn queue(&self, info: SigInfo) {
        self.prepare(info.signo());
        self.pending
            .lock()
            .expect("invariant: pending lock is never poisoned")
            .push(info);
        self.wake_all();
    }

    fn lock_jobctl(&self) -> JobControlGuard<'_> {
        JobControlGuard {
            state: self
                .jobctl
                .lock()
                .expect("invariant: job control lock is never poisoned"),
            busy: &self.jobctl_busy,
        }
    }

    /// Send-time effects of job-control signals (Linux `prepare_signal`): a stop signal
    /// discards pending SIGCONTs; SIGCONT discards pending stop signals and resumes a stopped
    /// group, whatever its disposition. The caller wakes the threads.
    fn prepare(&self, sig: i32) {
        // The job-control lock is held for the whole of this, as deliver_pending holds it from
        // dequeuing a stop signal to starting the stop: a SIGCONT either removes the pending
        // stop before it is dequeued, or finds the stop begun and ends it. (Released between
        // the two, a stop dequeued in the gap was begun after the SIGCONT and never ended.)
        let mut j = self.lock_jobctl();
        let drop_mask = if sig == libc::SIGCONT {
            if j.stopped.take().is_some() {
                j.continued_unreported = true;
            }
            STOP_SIGNALS
        } else if STOP_SIGNALS & bit(sig) != 0 {
            bit(libc::SIGCONT)
        } else {
            return;
        };
        let threads: Vec<Arc<ThreadShared>> = self
            .lock_threads()
            .values()
            .filter_map(|e| e.shared.upgrade())
            .collect();
        for t in threads {
            remove_mask(
                &mut t
                    .pending
                    .lock()
                    .expect("invariant: pending lock is never poisoned"),
                drop_mask,
            );
        }
        remove_mask(
            &mut self
                .pending
                .lock()
                .expect("invariant: pending lock is never poisoned"),
            drop_mask,
        );
        drop(j);
    }
}

/// Removes every signal in `mask` from `set`.
fn remove_mask(set: &mut PendingSet, mask: u64) {
    for sig in 1..=NSIG {
        if mask & bit(sig) != 0 && set.mask & bit(sig) != 0 {
            set.remove_signal(sig);
        }
    }
}

/// Per-process signal state (pending signals addressed to the process, its threads' wakers,
/// and ITIMER_REAL).
#[derive(Default)]
pub struct ProcessSignals {
    shared: Arc<ProcessShared>,
}

impl std::fmt::Debug for ProcessSignals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessSignals").finish_non_exhaustive()
    }
}

impl ProcessSignals {
    /// Makes thread `tid` reachable by kill/tgkill. Idempotent; the task loop also does it
    /// before a task first runs.
    pub fn register_thread(&self, tid: i32, waker: &Arc<TaskWaker>, signals: &TaskSignals) {
        self.shared.lock_threads().insert(
            tid,
            ThreadEntry {
                waker: Arc::downgrade(waker),
                shared: Arc::downgrade(&signals.shared),
            },
        );
    }

    pub fn unregister_thread(&self, tid: i32) {
        self.shared.lock_threads().remove(&tid);
    }

    /// Tids of the registered live threads, ascending.
    pub fn thread_ids(&self) -> Vec<i32> {
        self.shared
            .lock_threads()
            .iter()
            .filter(|(_, e)| e.shared.strong_count() > 0)
            .map(|(t, _)| *t)
            .collect()
    }

    /// Queues a process-directed signal and wakes the threads.
    pub fn queue(&self, info: SigInfo) {
        self.shared.queue(info);
    }

    /// Queues a POSIX timer's SI_TIMER signal to the process (`tid` None) or to thread `tid`,
    /// counting an overrun instead if that timer's signal is still queued there. ESRCH if the
    /// thread is gone.
    pub fn queue_timer(&self, tid: Option<i32>, info: SigInfo) -> SysResult<()> {
        self.shared.prepare(info.signo());
        let Some(tid) = tid else {
            let fresh = self
                .shared
                .pending
                .lock()
                .expect("invariant: pending lock is never poisoned")
                .push_timer(info);
            if fresh {
                self.shared.wake_all();
            }
            return Ok(());
        };
        let (waker, shared) = {
            let threads = self.shared.lock_threads();
            let e = threads.get(&tid).ok_or(Errno::ESRCH)?;
            (e.waker.upgrade(), e.shared.upgrade().ok_or(Errno::ESRCH)?)
        };
        let fresh = shared
            .pending
            .lock()
            .expect("invariant: pending lock is never poisoned")
            .push_timer(info);
        if fresh {
            if let Some(w) = waker {
                w.interrupt();
            }
            shared.kick();
        }
        Ok(())
    }

    /// Queues a thread-directed signal for thread `tid`; ESRCH if it is not registered.
    pub fn queue_to_thread(&self, tid: i32, info: SigInfo) -> SysResult<()> {
        let (waker, shared) = {
            let threads = self.shared.lock_threads();
            let e = threads.get(&tid).ok_or(Errno::ESRCH)?;
            (e.waker.upgrade(), e.shared.upgrade().ok_or(Errno::ESRCH)?)
        };
        let sig = info.signo();
        if (STOP_SIGNALS | bit(libc::SIGCONT)) & bit(sig) != 0 {
            // Job control acts on the whole group: every thread must re-check.
            self.shared.prepare(sig);
            self.shared.wake_all();
        }
        shared
            .pending
            .lock()
            .expect("invariant: pending lock is never poisoned")
            .push(info);
        if let Some(w) = waker {
            w.interrupt();
        }
        shared.kick();
        Ok(())
    }

    fn pending_mask(&self) -> u64 {
        self.shared
            .pending
            .lock()
            .expect("invariant: pending lock is never poisoned")
            .mask
    }

    fn take(&self, want: u64) -> Option<SigInfo> {
        self.shared
            .pending
            .lock()
            .expect("invariant: pending lock is never poisoned")
            .take(want)
    }

    /// The signal that stopped the process, while it is group-stopped (/proc's "T (stopped)").
    pub fn stopped_by(&self) -> Option<i32> {
        self.shared.lock_jobctl().stopped
    }

    /// True once for a SIGCONT that ended a stop: the caller tells the parent.
    fn take_continued(&self) -> bool {
        std::mem::take(&mut self.shared.lock_jobctl().continued_unreported)
    }

    /// ITIMER_REAL: (time left, interval), zero when disarmed.
    pub fn real_timer(&self) -> (Duration, Duration) {
        let t = self
            .shared
            .timer
            .lock()
            .expect("invariant: timer lock is never poisoned");
        let left = t
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or_default();
        (left, t.interval)
    }

    /// Arms (non-zero `value`) or disarms ITIMER_REAL; SIGALRM is queued to the process at
    /// expiry, then every `interval` if non-zero. Returns the previous setting.
    pub fn set_real_timer(&self, value: Duration, interval: Duration) -> (Duration, Duration) {
        let old = self.real_timer();
        let generation = {
            let mut t = self
                .shared
                .timer
                .lock()
                .expect("invariant: timer lock is never poisoned");
            t.generation += 1;
            t.deadline = (!value.is_zero()).then(|| Instant::now() + value);
            t.interval = interval;
            t.generation
        };
        self.shared.timer_cv.notify_all();
        if !value.is_zero() {
            let shared = Arc::downgrade(&self.shared);
            let spawned = std::thread::Builder::new()
                .name("itimer-real".into())
                .spawn(move || run_real_timer(shared, generation));
            if let Err(e) = spawned {
                crate::warn!("ITIMER_REAL: cannot start its timer thread: {e}");
            }
        }
        old
    }
}

/// The body of an ITIMER_REAL thread: fires SIGALRM until disarmed or re-armed.
fn run_real_timer(shared: Weak<ProcessShared>, generation: u64) {
    loop {
        let Some(p) = shared.upgrade() else { return };
        let mut t = p
            .timer
            .lock()
            .expect("invariant: timer lock is never poisoned");
        if t.generation != generation {
            return;
        }
        let Some(deadline) = t.deadline else { return };
        let now = Instant::now();
        if now < deadline {
            // Wake at the deadline or when re-armed; bounded so a dead process is noticed.
            let wait = (deadline - now).min(Duration::from_secs(1));
            drop(p.timer_cv.wait_timeout(t, wait));
            continue;
        }
        t.deadline = (!t.interval.is_zero()).then(|| deadline + t.interval);
        drop(t);
        p.queue(SigInfo::new(libc::SIGALRM, abi::SI_KERNEL));
    }
}

/// Sends `info` to the process `tg` (kill, rt_sigqueueinfo, the timer).
pub fn send_to_process(tg: &ThreadGroup, info: SigInfo) {
    tg.signals.queue(info);
}

/// Sends `info` to thread `tid` of `tg` (tgkill, tkill, rt_tgsigqueueinfo).
pub fn send_to_thread(tg: &ThreadGroup, tid: i32, info: SigInfo) -> SysResult<()> {
    tg.signals.queue_to_thread(tid, info)
}

/// Raises a signal on the calling thread itself (SIGPIPE on a broken pipe, for example).
pub fn raise_self(task: &Task, info: SigInfo) {
    task.signals.queue(info);
}

/// Makes `task` reachable from other tasks (idempotent).
fn ensure_registered(task: &mut Task) {
    if !task.signals.registered {
        task.signals.set_interrupter(task.interrupter());
        task.tg
            .signals
            .register_thread(task.tid, &task.waker, &task.signals);
        task.signals.registered = true;
    }
}

/// Signals pending for `task` (thread and process sets).
pub fn pending(task: &Task) -> u64 {
    task.signals.pending_mask() | task.tg.signals.pending_mask() | forced_mask(task)
}

fn forced_mask(task: &Task) -> u64 {
    task.signals.forced.map(|f| bit(f.signo())).unwrap_or(0)
}

/// True if a pending signal is unblocked and not ignored: a wait must end with EINTR.
pub fn has_deliverable(task: &Task) -> bool {
    let avail = pending(task) & !task.signal_mask;
    if avail == 0 {
        return false;
    }
    if task.signals.forced.is_some() {
        return true;
    }
    let actions = task.tg.with_state(|s| s.actions);
    (1..=NSIG).any(|sig| avail & bit(sig) != 0 && !is_ignored(sig, &actions[sig as usize - 1]))
}

/// Blocks until `ready()` (Ok), a deliverable signal arrives (EINTR) or `deadline` (ETIMEDOUT).
/// Wake-ups for signals that are blocked or ignored are absorbed.
pub fn block_until(
    task: &Task,
    deadline: Option<Instant>,
    mut ready: impl FnMut() -> bool,
) -> SysResult<()> {
    loop {
        if ready() {
            return Ok(());
        }
        // A signal made deliverable by a mask change (sigsuspend) has no wake-up of its own.
        // A group stop started by a sibling also ends the wait: the task loop parks the task.
        if has_deliverable(task) || task.handle.is_killed() || stop_requested(task) {
            return Err(Errno::EINTR);
        }
        match task.waker.wait_until(deadline, &mut ready) {
            // An exit request (exit_group, a fatal signal elsewhere) also interrupts: keep it.
            Err(Errno::EINTR)
                if !has_deliverable(task) && !task.handle.is_killed() && !stop_requested(task) =>
            {
                task.waker.clear_interrupt()
            }
            r => return r,
        }
    }
}

/// Removes and returns the next pending signal in `want`: forced first, then the thread's,
/// then the process's.
fn dequeue(task: &mut Task, want: u64) -> Option<SigInfo> {
    if let Some(f) = task.signals.forced {
        if want & bit(f.signo()) != 0 {
            task.signals.forced = None;
            return Some(f);
        }
    }
    let thread = task.signals.pending_mask() & want;
    let process = task.tg.signals.pending_mask() & want;
    let t_sync = thread & SYNCHRONOUS != 0;
    let p_sync = process & SYNCHRONOUS != 0;
    let thread_first = thread != 0
        && (t_sync
            || (!p_sync && (process == 0 || thread.trailing_zeros() <= process.trailing_zeros())));
    let mut info = if thread_first {
        task.signals.take(want)
    } else {
        task.tg.signals.take(want)
    }?;
    if !task.tg.timers.accept_delivery(&mut info) {
        // The signal of a timer deleted or re-set since it was queued: dropped, as Linux
        // drops it at dequeue; look for the next one.
        return dequeue(task, want);
    }
    Some(info)
}

/// What one thread sees pending (its own set and its process's), for signalfd files, which
/// poll and dequeue without a `&mut Task` (Linux reads `current`'s sets). Forced fault
/// signals are not visible here.
#[derive(Clone)]
pub struct PendingView {
    thread: Weak<ThreadShared>,
    process: Weak<ProcessShared>,
    /// For the POSIX timers' overrun bookkeeping at dequeue.
    tg: Weak<ThreadGroup>,
}

impl PendingView {
    pub fn of(task: &Task) -> PendingView {
        PendingView {
            thread: Arc::downgrade(&task.signals.shared),
            process: Arc::downgrade(&task.tg.signals.shared),
            tg: Arc::downgrade(&task.tg),
        }
    }

    /// A view of no task: nothing is ever pending.
    pub fn detached() -> PendingView {
        PendingView {
            thread: Weak::new(),
            process: Weak::new(),
            tg: Weak::new(),
        }
    }

    /// The pending signals (thread and process sets); 0 once both are gone.
    pub fn pending(&self) -> u64 {
        let lock = |p: &PendingCell| {
            p.lock()
                .expect("invariant: pending lock is never poisoned")
                .mask
        };
        self.thread.upgrade().map_or(0, |t| lock(&t.pending))
            | self.process.upgrade().map_or(0, |p| lock(&p.pending))
    }

    /// Removes the next pending signal in `want` (never SIGKILL/SIGSTOP): the thread's set
    /// first, then the process's.
    pub fn take(&self, want: u64) -> Option<SigInfo> {
        let want = want & !UNBLOCKABLE;
        let take = |p: &PendingCell| {
            p.lock()
                .expect("invariant: pending lock is never poisoned")
                .take(want)
        };
        loop {
            let mut info = self
                .thread
                .upgrade()
                .and_then(|t| take(&t.pending))
                .or_else(|| self.process.upgrade().and_then(|p| take(&p.pending)))?;
            match self.tg.upgrade() {
                // A stale timer signal is dropped (see `dequeue`).
                Some(tg) if !tg.timers.accept_delivery(&mut info) => continue,
                _ => return Some(info),
            }
        }
    }
}

/// sigtimedwait's dequeue: the next pending signal in `set`, whether blocked or not.
pub fn dequeue_in(task: &mut Task, set: u64) -> Option<SigInfo> {
    dequeue(task, set & !UNBLOCKABLE)
}

/// Ends the whole process by signal `sig`: the task loop's exit takes the other threads down
/// (`Kernel::exit_group`).
fn kill_process(task: &mut Task, sig: i32) {
    task.exit_status = Some(ExitStatus::Signaled(sig));
}

/// Rewinds the interrupted syscall so it runs again on return to the application.
fn rewind_syscall(task: &mut Task) {
    task.regs.rip = task.regs.rip.wrapping_sub(2);
    task.regs.rax = task.regs.orig_rax;
}

/// Whether the task's process is group-stopped and the task must park (SIGKILL and exit
/// requests win over a stop).
fn stop_requested(task: &Task) -> bool {
    task.tg.signals.stopped_by().is_some()
        && !task.handle.is_killed()
        && pending(task) & bit(libc::SIGKILL) == 0
}

/// Parks the task while its process is stopped (Linux `do_signal_stop`'s schedule), then tells
/// the parent about a SIGCONT that ended the stop (CLD_CONTINUED), once per stop.
fn park_while_stopped(task: &mut Task) {
    while stop_requested(task) {
        task.waker.clear_interrupt();
        let tg = task.tg.clone();
        let handle = task.handle.clone();
        // EINTR (a signal arrived) or Ok (resumed) both lead to a re-check.
        let _ = task.waker.wait_until(None, || {
            tg.signals.stopped_by().is_none() || handle.is_killed()
        });
    }
    task.waker.clear_interrupt();
    if task.tg.signals.take_continued() {
        let kernel = task.kernel.clone();
        kernel.notify_job_control(task.tg.pid, JobEvent::Continued);
    }
}

/// A stop signal's default action, once the group stop has begun (`first` for the task that
/// began it): the parent is told (CLD_STOPPED) and this task parks until SIGCONT or SIGKILL.
fn group_stop(task: &mut Task, sig: i32, first: bool) {
    task.tg.signals.shared.wake_all();
    if first {
        let kernel = task.kernel.clone();
        kernel.notify_job_control(task.tg.pid, JobEvent::Stopped(sig));
    }
    park_while_stopped(task);
}

/// The lock-free check that `deliver_pending` has nothing to do: no group stop or unreported
/// SIGCONT, nothing pending (forced, thread or process), no syscall restart or sigsuspend
/// mask to settle. Each published value is the locked value at some instant, so this sees
/// what the locked reads would have seen at that instant; a signal queued afterwards kicks the
/// task's interrupter, and the switch returns at once, as it does after the locked reads.
fn nothing_to_deliver(task: &Task) -> bool {
    task.signals.forced.is_none()
        && task.signals.restart.is_none()
        && task.signals.saved_mask.is_none()
        && !task.tg.signals.shared.jobctl_busy.load(Ordering::Acquire)
        && task.signals.shared.pending.published_mask() == 0
        && task.tg.signals.shared.pending.published_mask() == 0
}

/// Called by the task loop before every switch into application code: delivers what is
/// pending and unblocked (runs a handler by building a frame, or takes the default action,
/// which may set `task.exit_status` or stop the process).
pub fn deliver_pending(task: &mut Task) {
    ensure_registered(task);
    task.waker.clear_interrupt();
    if nothing_to_deliver(task) {
        return;
    }
    park_while_stopped(task);
    let mut restart = task.signals.restart.take();
    let mut handled = false;
    loop {
        let want = !task.signal_mask | UNBLOCKABLE;
        // The job-control lock is held from dequeue to the start of a stop, so a SIGCONT sent
        // in between (which finds no stop yet) cannot be lost (Linux holds siglock).
        let tg = task.tg.clone();
        let mut jobctl = tg.signals.shared.lock_jobctl();
        let Some(info) = dequeue(task, want) else {
            break;
        };
        let sig = info.signo();
        let action = task.tg.with_state(|s| s.actions[sig as usize - 1]);
        if sig != libc::SIGKILL
            && action.handler == SIG_DFL
            && default_action(sig) == DefaultAction::Stop
        {
            let first = jobctl.stopped.is_none();
            jobctl.stopped = Some(sig);
            jobctl.continued_unreported = false;
            drop(jobctl);
            group_stop(task, sig, first);
            continue;
        }
        drop(jobctl);
        if sig == libc::SIGKILL || (action.handler == SIG_DFL && !is_ignored(sig, &action)) {
            kill_process(task, sig);
            return;
        }
        if is_ignored(sig, &action) {
            continue;
        }
        if let Some(kind) = restart.take() {
            let again = kind == RestartKind::NoIntr
                || (kind == RestartKind::Sys && action.flags & abi::SA_RESTART != 0);
            if again {
                rewind_syscall(task);
            } else {
                task.regs.rax = (-(Errno::EINTR as i64)) as u64;
            }
        }
        let old_mask = task.signals.saved_mask.take().unwrap_or(task.signal_mask);
        if let Err(e) = setup_frame(task, &info, &action, old_mask) {
            crate::debug!("task {}: signal {sig} frame: {e:?}", task.tid);
            kill_process(task, libc::SIGSEGV);
            return;
        }
        handled = true;
        let mut mask = old_mask | action.mask;
        if action.flags & abi::SA_NODEFER == 0 {
            mask |= bit(sig);
        }
        task.signal_mask = mask & !UNBLOCKABLE;
        if action.flags & abi::SA_RESETHAND != 0 {
            task.tg
                .with_state(|s| s.actions[sig as usize - 1] = SigAction::default());
        }
    }
    if !handled {
        if let Some(kind) = restart {
            if kind != RestartKind::Never {
                rewind_syscall(task);
            }
        }
    }
    if let Some(m) = task.signals.saved_mask.take() {
        task.signal_mask = m;
    }
}

/// Whether `sp` lies on the task's alternate signal stack.
fn on_alt_stack(task: &Task, sp: u64) -> bool {
    let (ss_sp, flags, size) = task.alt_stack;
    flags & abi::SS_DISABLE == 0 && sp > ss_sp && sp - ss_sp <= size
}

/// `sas_ss_flags`: SS_DISABLE, SS_ONSTACK (when `sp` is on the alternate stack) or 0.
pub fn alt_stack_flags(task: &Task, sp: u64) -> i32 {
    let (_, flags, _) = task.alt_stack;
    if flags & abi::SS_DISABLE != 0 {
        abi::SS_DISABLE
    } else if on_alt_stack(task, sp) {
        abi::SS_ONSTACK
    } else {
        0
    }
}

/// Builds the x86_64 `rt_sigframe` (as `setup_rt_frame`/`get_sigframe` do) and points the
/// registers at the handler.
fn setup_frame(
    task: &mut Task,
    info: &SigInfo,
    action: &SigAction,
    old_mask: u64,
) -> SysResult<()> {
    if action.flags & abi::SA_RESTORER == 0 {
        return Err(Errno::EFAULT);
    }
    let orig_sp = task.regs.rsp;
    let (ss_sp, ss_flags, ss_size) = task.alt_stack;
    let uc_stack = SigStack {
        sp: ss_sp,
        flags: ss_flags,
        size: ss_size,
    };
    // The red zone below the interrupted stack pointer is the application's.
    let mut sp = orig_sp.wrapping_sub(128);
    if action.flags & abi::SA_ONSTACK != 0 && alt_stack_flags(task, orig_sp) == 0 {
        sp = ss_sp.wrapping_add(ss_size);
        if ss_flags & abi::SS_AUTODISARM != 0 {
            task.alt_stack = (0, abi::SS_DISABLE, 0);
        }
    }
    let fp = match task.fpstate() {
        Ok(fp) => fp,
        Err(e) => {
            crate::debug!("task {}: no FP state for a signal frame: {e}", task.tid);
            abi::default_fxsave()
        }
    };
    let (fp, xsave) = abi::frame_fpstate(fp);
    sp = sp.wrapping_sub(fp.len() as u64) & !63;
    let fp_addr = sp;
    sp = sp.wrapping_sub(abi::RT_SIGFRAME_SIZE as u64);
    sp = (sp & !15).wrapping_sub(8);

    let mut frame = [0u8; abi::RT_SIGFRAME_SIZE];
    frame[..8].copy_from_slice(&action.restorer.to_ne_bytes());
    let uc = &mut frame[abi::FRAME_UC..abi::FRAME_UC + abi::UCONTEXT_SIZE];
    let mut uc_flags = abi::UC_SIGCONTEXT_SS | abi::UC_STRICT_RESTORE_SS;
    if xsave {
        uc_flags |= abi::UC_FP_XSTATE;
    }
    uc[..8].copy_from_slice(&uc_flags.to_ne_bytes());
    uc[abi::UC_STACK..abi::UC_STACK + abi::STACK_SIZE].copy_from_slice(&uc_stack.to_bytes());
    let cr2 = match info.signo() {
        libc::SIGSEGV | libc::SIGBUS => info.addr(),
        _ => 0,
    };
    abi::encode_sigcontext(
        &mut uc[abi::UC_MCONTEXT..abi::UC_SIGMASK],
        &task.regs,
        old_mask,
        cr2,
        fp_addr,
    );
    uc[abi::UC_SIGMASK..abi::UC_SIGMASK + 8].copy_from_slice(&old_mask.to_ne_bytes());
    frame[abi::FRAME_INFO..].copy_from_slice(&info.bytes);

    task.mm.copy_out(fp_addr, &fp)?;
    task.mm.copy_out(sp, &frame)?;

    let regs = &mut task.regs;
    regs.rdi = info.signo() as u64;
    regs.rsi = sp + abi::FRAME_INFO as u64;
    regs.rdx = sp + abi::FRAME_UC as u64;
    regs.rax = 0;
    regs.rsp = sp;
    regs.rip = action.handler;
    // The handler starts with the direction, trap and resume flags clear.
    regs.eflags &= !(0x400 | 0x100 | 0x10000);
    Ok(())
}

/// The eflags bits a signal handler may change (`FIX_EFLAGS` in `arch/x86/kernel/signal.c`).
const FIX_EFLAGS: u64 = 0x40000 | 0x800 | 0x400 | 0x100 | 0x80 | 0x40 | 0x10 | 0x4 | 0x1 | 0x10000;

/// rt_sigreturn(2): restores the registers, mask, alternate stack and FP state from the frame
/// whose return address the handler's `ret` just popped.
pub fn sigreturn(task: &mut Task) -> SysResult<u64> {
    let frame = task.regs.rsp.wrapping_sub(8);
    let mut uc = [0u8; abi::UCONTEXT_SIZE];
    if let Err(e) = task.mm.copy_in(frame + abi::FRAME_UC as u64, &mut uc) {
        crate::debug!("task {}: rt_sigreturn: bad frame at {frame:#x}", task.tid);
        kill_process(task, libc::SIGSEGV);
        return Err(e);
    }
    let mut regs = task.regs;
    let (eflags, fp_addr, _ss) =
        abi::decode_sigcontext(&uc[abi::UC_MCONTEXT..abi::UC_SIGMASK], &mut regs);
    regs.eflags = (task.regs.eflags & !FIX_EFLAGS) | (eflags & FIX_EFLAGS);
    // Segments stay the user's; no syscall is in progress after a sigreturn.
    regs.cs = task.regs.cs;
    regs.ss = task.regs.ss;
    regs.orig_rax = u64::MAX;
    let mask = abi::get_u64(&uc, abi::UC_SIGMASK);
    task.signal_mask = mask & !UNBLOCKABLE;
    let st = SigStack::from_bytes(&uc[abi::UC_STACK..abi::UC_STACK + abi::STACK_SIZE]);
    // As `restore_altstack`: a failing setting is ignored.
    let _ = set_alt_stack(task, regs.rsp, st);
    if fp_addr != 0 {
        restore_fpstate(task, fp_addr);
    }
    task.regs = regs;
    task.regs_replaced = true;
    Ok(regs.rax)
}

fn restore_fpstate(task: &mut Task, addr: u64) {
    let mut fx = vec![0u8; abi::FXSAVE_SIZE];
    if task.mm.copy_in(addr, &mut fx).is_err() {
        return;
    }
    if let Some((_, xstate)) = abi::xstate_sizes(&fx) {
        fx.resize(xstate, 0);
        if task
            .mm
            .copy_in(addr + abi::FXSAVE_SIZE as u64, &mut fx[abi::FXSAVE_SIZE..])
            .is_err()
        {
            return;
        }
    }
    abi::fpstate_for_restore(&mut fx);
    if let Err(e) = task.set_fpstate(&fx) {
        crate::debug!("task {}: FP state not restored: {e}", task.tid);
    }
}

/// sigaltstack(2)'s setting with Linux's checks, `sp` being the current stack pointer.
pub fn set_alt_stack(task: &mut Task, sp: u64, st: SigStack) -> SysResult<()> {
    if on_alt_stack(task, sp) {
        return Err(Errno::EPERM);
    }
    match st.flags & !abi::SS_AUTODISARM {
        abi::SS_DISABLE => task.alt_stack = (0, abi::SS_DISABLE, 0),
        0 | abi::SS_ONSTACK => {
            if st.size < abi::MINSIGSTKSZ {
                return Err(Errno::ENOMEM);
            }
            task.alt_stack = (st.sp, st.flags & abi::SS_AUTODISARM, st.size);
        }
        _ => return Err(Errno::EINVAL),
    }
    Ok(())
}

/// A synchronous fault from the platform (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP). As
/// Linux's `force_sig_info`, a blocked or ignored fault signal is unblocked and reset to its
/// default action, so it kills the process.
pub fn force_fault_signal(task: &mut Task, signo: i32, code: i32, addr: u64) {
    crate::debug!(
        "task {}: fault signal {signo} code {code} at {addr:#x}",
        task.tid
    );
    if signal_number(signo).is_err() {
        task.exit_status = Some(ExitStatus::Signaled(libc::SIGSEGV));
        return;
    }
    let idx = signo as usize - 1;
    let blocked = task.signal_mask & bit(signo) != 0;
    task.tg.with_state(|s| {
        if blocked || s.actions[idx].handler == SIG_IGN {
            s.actions[idx].handler = SIG_DFL;
        }
    });
    task.signal_mask &= !bit(signo);
    task.signals.forced = Some(SigInfo::fault(signo, code, addr));
}

/// Called with every syscall's result before it is written to `rax`: an EINTR is recorded
/// for `deliver_pending`, which restarts the syscall or lets EINTR through.
pub fn on_syscall_return(
    task: &mut Task,
    _args: &crate::kernel::SyscallArgs,
    result: SysResult<u64>,
) -> SysResult<u64> {
    let hint = task.signals.restart_hint.take();
    if result == Err(Errno::EINTR) && !task.regs_replaced {
        task.signals.restart = Some(hint.unwrap_or(RestartKind::Sys));
    }
    result
}

/// Drops pending signals that the action now ignores (rt_sigaction setting SIG_IGN, as
/// POSIX requires).
pub fn flush_ignored(task: &mut Task, sig: i32) {
    let action = task.tg.with_state(|s| s.actions[sig as usize - 1]);
    if is_ignored(sig, &action) {
        task.signals
            .shared
            .pending
            .lock()
            .expect("invariant: pending lock is never poisoned")
            .remove_signal(sig);
        task.tg
            .signals
            .shared
            .pending
            .lock()
            .expect("invariant: pending lock is never poisoned")
            .remove_signal(sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_masks_follow_every_change_under_the_lock() {
        let shared = ProcessShared::default();
        assert_eq!(shared.pending.published_mask(), 0);
        shared.queue(SigInfo::new(libc::SIGUSR1, 0));
        assert_eq!(shared.pending.published_mask(), bit(libc::SIGUSR1));
        // A stop signal is dropped by SIGCONT's preparation, which also publishes.
        shared.queue(SigInfo::new(libc::SIGTSTP, 0));
        shared.prepare(libc::SIGCONT);
        assert_eq!(shared.pending.published_mask(), bit(libc::SIGUSR1));
        let taken = shared.pending.lock().unwrap().take(u64::MAX);
        assert_eq!(taken.map(|i| i.signo()), Some(libc::SIGUSR1));
        assert_eq!(shared.pending.published_mask(), 0);
        assert!(!shared.jobctl_busy.load(Ordering::Acquire));
        shared.lock_jobctl().stopped = Some(libc::SIGSTOP);
        assert!(shared.jobctl_busy.load(Ordering::Acquire));
        shared.prepare(libc::SIGCONT);
        // Resumed, but the parent has not been told yet: still busy.
        assert!(shared.jobctl_busy.load(Ordering::Acquire));
        std::mem::take(&mut shared.lock_jobctl().continued_unreported);
        assert!(!shared.jobctl_busy.load(Ordering::Acquire));
    }

    #[test]
    fn standard_signals_coalesce_and_realtime_ones_queue() {
        let mut p = PendingSet::default();
        assert!(p.push(SigInfo::new(libc::SIGUSR1, 0)));
        assert!(!p.push(SigInfo::new(libc::SIGUSR1, 0)));
        assert!(p.push(SigInfo::new(40, -1)));
        assert!(p.push(SigInfo::new(40, -1)));
        assert_eq!(p.queue.len(), 3);
        assert_eq!(p.take(bit(40)).map(|s| s.signo()), Some(40));
        assert_ne!(p.mask & bit(40), 0);
        assert_eq!(p.take(bit(40)).map(|s| s.signo()), Some(40));
        assert_eq!(p.mask & bit(40), 0);
    }

    #[test]
    fn lowest_number_first_but_synchronous_before_all() {
        let mut p = PendingSet::default();
        p.push(SigInfo::new(libc::SIGUSR2, 0));
        p.push(SigInfo::new(libc::SIGSEGV, 1));
        p.push(SigInfo::new(libc::SIGHUP, 0));
        assert_eq!(p.take(!0).map(|s| s.signo()), Some(libc::SIGSEGV));
        assert_eq!(p.take(!0).map(|s| s.signo()), Some(libc::SIGHUP));
        assert_eq!(p.take(!bit(libc::SIGUSR2)), None);
        assert_eq!(p.take(!0).map(|s| s.signo()), Some(libc::SIGUSR2));
    }

    #[test]
    fn queue_to_unknown_thread_is_esrch_and_registered_thread_is_woken() {
        let ps = ProcessSignals::default();
        let ts = TaskSignals::default();
        let waker = TaskWaker::new();
        assert_eq!(
            ps.queue_to_thread(5, SigInfo::new(libc::SIGUSR1, 0)),
            Err(Errno::ESRCH)
        );
        ps.register_thread(5, &waker, &ts);
        ps.queue_to_thread(5, SigInfo::new(libc::SIGUSR1, 0))
            .unwrap();
        assert!(waker.is_interrupted());
        assert_eq!(ts.pending_mask(), bit(libc::SIGUSR1));
        ps.unregister_thread(5);
        assert!(ps.thread_ids().is_empty());
    }

    #[test]
    fn real_timer_queues_sigalrm_to_the_process() {
        let ps = ProcessSignals::default();
        let ts = TaskSignals::default();
        let waker = TaskWaker::new();
        ps.register_thread(1, &waker, &ts);
        ps.set_real_timer(Duration::from_millis(10), Duration::ZERO);
        let r = waker.wait_until(Some(Instant::now() + Duration::from_secs(5)), || false);
        assert_eq!(r, Err(Errno::EINTR));
        assert_eq!(ps.pending_mask(), bit(libc::SIGALRM));
        assert_eq!(ps.real_timer(), (Duration::ZERO, Duration::ZERO));
    }

    #[test]
    fn default_actions_follow_signal_7() {
        let dfl = SigAction::default();
        assert!(is_ignored(libc::SIGCHLD, &dfl));
        assert!(!is_ignored(libc::SIGTERM, &dfl));
        let ign = SigAction {
            handler: SIG_IGN,
            ..dfl
        };
        assert!(is_ignored(libc::SIGTERM, &ign));
        assert!(!is_ignored(libc::SIGKILL, &ign));
    }
}
