//! A process (after gVisor's `pkg/sentry/kernel/thread_group.go`): what the threads of one pid
//! share: signal actions, rlimits, the program image's names, and the exit status. Its place in
//! the process tree (parent, children, process group, session, zombie state) lives in the
//! kernel's `ProcessTree` (kernel/process_tree.rs) under one lock, as Linux's `tasklist_lock`.
//!
//! Lock order: the kernel's process tree lock, then `ThreadGroup::state`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::kernel::Credentials;
use crate::mm::MemoryManager;
use crate::vfs::{FdTable, FsContext};

use crate::kernel::wait::WaitQueue;

/// rt_sigaction's view of one signal's disposition (`struct sigaction` as the kernel stores it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// A resource limit pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub cur: u64,
    pub max: u64,
}

pub const RLIM_INFINITY: u64 = u64::MAX;
pub const RLIMIT_COUNT: usize = 16;

/// Linux's defaults for init (`include/asm-generic/resource.h`), with the stack at 8 MiB and
/// open files at 1024/1048576 as a container runtime gives them.
pub fn default_rlimits() -> [Rlimit; RLIMIT_COUNT] {
    let inf = Rlimit {
        cur: RLIM_INFINITY,
        max: RLIM_INFINITY,
    };
    let mut r = [inf; RLIMIT_COUNT];
    r[libc::RLIMIT_STACK as usize] = Rlimit {
        cur: 8 << 20,
        max: RLIM_INFINITY,
    };
    r[libc::RLIMIT_CORE as usize] = Rlimit {
        cur: 0,
        max: RLIM_INFINITY,
    };
    r[libc::RLIMIT_NOFILE as usize] = Rlimit {
        cur: 1024,
        max: 1 << 20,
    };
    r[libc::RLIMIT_NPROC as usize] = Rlimit {
        cur: 63_000,
        max: 63_000,
    };
    r[libc::RLIMIT_MEMLOCK as usize] = Rlimit {
        cur: 8 << 20,
        max: 8 << 20,
    };
    r[libc::RLIMIT_SIGPENDING as usize] = Rlimit {
        cur: 63_000,
        max: 63_000,
    };
    r[libc::RLIMIT_MSGQUEUE as usize] = Rlimit {
        cur: 819_200,
        max: 819_200,
    };
    r[libc::RLIMIT_NICE as usize] = Rlimit { cur: 0, max: 0 };
    r[libc::RLIMIT_RTPRIO as usize] = Rlimit { cur: 0, max: 0 };
    r
}

/// User and system CPU time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user: Duration,
    pub sys: Duration,
}

impl CpuTimes {
    pub fn total(&self) -> Duration {
        self.user + self.sys
    }

    fn add(&mut self, o: CpuTimes) {
        self.user += o.user;
        self.sys += o.sys;
    }
}

/// Linux's CPU clock ids for another thread group or thread (`include/linux/posix-timers.h`):
/// `~pid << 3 | which`, with bit 2 for a thread clock.
const CPUCLOCK_PROF: i32 = 0;
const CPUCLOCK_VIRT: i32 = 1;
const CPUCLOCK_SCHED: i32 = 2;
const CPUCLOCK_PERTHREAD: i32 = 4;

/// Host pids and tids are below 2^22 (`PID_MAX_LIMIT`), so `~pid << 3` stays negative and
/// never names a wall clock.
fn cpu_clock_id(pid: i32, which: i32) -> Option<i32> {
    (1..=(1 << 22))
        .contains(&pid)
        .then_some((!pid << 3) | which)
}

fn host_clock(id: Option<i32>) -> Option<Duration> {
    let ts = nix::time::clock_gettime(nix::time::ClockId::from_raw(id?)).ok()?;
    Some(Duration::new(
        u64::try_from(ts.tv_sec()).ok()?,
        u32::try_from(ts.tv_nsec()).ok()?,
    ))
}

/// The CPU time the host accounted to host process `host_pid` (all its threads): user from
/// its CPUCLOCK_VIRT clock, system as CPUCLOCK_PROF less that. Zero once it is gone.
/// (The host lets any process read another's process CPU clock; thread clocks only within
/// its own thread group, see `pid_for_clock` in kernel/time/posix-cpu-timers.c.)
pub fn host_process_cpu(host_pid: i32) -> CpuTimes {
    let id = |which: i32| cpu_clock_id(host_pid, which);
    let user = host_clock(id(CPUCLOCK_VIRT)).unwrap_or_default();
    let prof = host_clock(id(CPUCLOCK_PROF)).unwrap_or_default();
    CpuTimes {
        user,
        sys: prof.saturating_sub(user),
    }
}

/// The CPU time of host thread `host_tid` of the sentry itself (a task's sentry thread:
/// the time spent handling its syscalls and faults). Zero once it is gone.
pub fn sentry_thread_cpu(host_tid: i32) -> Duration {
    host_clock(cpu_clock_id(host_tid, CPUCLOCK_SCHED | CPUCLOCK_PERTHREAD)).unwrap_or_default()
}

/// A process's CPU time (Linux's `signal_struct` utime/stime and cutime/cstime). The host
/// accounts the application's own instructions to the stub process that runs them (user
/// time), and the sentry's handling of its syscalls to each task's sentry thread (system
/// time); what earlier stubs (before an exec) and exited threads used is carried here.
#[derive(Debug, Default)]
pub struct CpuAccount {
    inner: Mutex<CpuInner>,
}

#[derive(Debug, Default)]
struct CpuInner {
    /// Time of address spaces left behind (exec) and of exited sentry threads.
    retired: CpuTimes,
    /// Live tasks' sentry threads: tid -> host tid.
    sentry_threads: BTreeMap<i32, i32>,
    /// The whole total, fixed when the last thread exits.
    final_total: Option<CpuTimes>,
    /// Reaped children's totals (their own and their reaped children's).
    children: CpuTimes,
}

impl CpuAccount {
    fn lock(&self) -> std::sync::MutexGuard<'_, CpuInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Task `tid` runs on sentry host thread `host_tid`.
    pub fn add_thread(&self, tid: i32, host_tid: i32) {
        self.lock().sentry_threads.insert(tid, host_tid);
    }

    /// Task `old` took over the leader's tid `new` (exec from a non-leader thread).
    pub fn rename_thread(&self, old: i32, new: i32) {
        let mut c = self.lock();
        if let Some(host_tid) = c.sentry_threads.remove(&old) {
            c.sentry_threads.insert(new, host_tid);
        }
    }

    /// Task `tid` is exiting (called on its own sentry thread): its system time is kept.
    pub fn remove_thread(&self, tid: i32) {
        let mut c = self.lock();
        if let Some(host_tid) = c.sentry_threads.remove(&tid) {
            c.retired.sys += sentry_thread_cpu(host_tid);
        }
    }

    /// The stub process `host_pid` is being left (exec, exit): its time is kept.
    pub fn retire_address_space(&self, host_pid: i32) {
        let t = host_process_cpu(host_pid);
        self.lock().retired.add(t);
    }

    /// The process's total, with `host_pid` its current stub process (None once it has none).
    pub fn process_total(&self, host_pid: Option<i32>) -> CpuTimes {
        let c = self.lock();
        if let Some(f) = c.final_total {
            return f;
        }
        let mut t = c.retired;
        for host_tid in c.sentry_threads.values() {
            t.sys += sentry_thread_cpu(*host_tid);
        }
        drop(c);
        if let Some(pid) = host_pid {
            t.add(host_process_cpu(pid));
        }
        t
    }

    /// Fixes the total as the last thread exits (after `retire_address_space`).
    pub fn finish(&self) {
        let total = self.process_total(None);
        self.lock().final_total = Some(total);
    }

    /// The reaped children's time (RUSAGE_CHILDREN, times' cutime/cstime).
    pub fn children(&self) -> CpuTimes {
        self.lock().children
    }

    /// A dead process's total with its reaped children's (what its parent's wait reports).
    pub fn total_with_children(&self) -> CpuTimes {
        let c = self.lock();
        let mut t = c.final_total.unwrap_or(c.retired);
        t.add(c.children);
        t
    }

    /// A child was reaped: its total and its own reaped children's count as this one's.
    pub fn add_reaped_child(&self, child: &CpuAccount) {
        let t = child.total_with_children();
        self.lock().children.add(t);
    }
}

/// Mutable per-process state.
#[derive(Debug, Clone)]
pub struct ThreadGroupState {
    pub actions: [SigAction; 64],
    pub rlimits: [Rlimit; RLIMIT_COUNT],
    /// Sandbox path of the running executable (/proc/PID/exe).
    pub exe_path: Vec<u8>,
    /// argv of the current image (/proc/PID/cmdline).
    pub argv: Vec<Vec<u8>>,
    /// envp of the current image (/proc/PID/environ).
    pub envv: Vec<Vec<u8>>,
    /// The auxiliary vector the current image started with (/proc/PID/auxv).
    pub auxv: Vec<u8>,
    /// The thread name (/proc/PID/comm), at most 15 bytes.
    pub comm: Vec<u8>,
    /// prctl(PR_SET_CHILD_SUBREAPER).
    pub child_subreaper: bool,
    /// prctl(PR_SET_DUMPABLE) (Linux keeps it per mm; per process is what the sandbox shows).
    pub dumpable: bool,
    /// setpriority(2)'s nice value, -20..=19 (Linux keeps it per thread).
    pub nice: i32,
    /// sched_setscheduler(2)'s policy and real-time priority.
    pub sched_policy: i32,
    pub sched_priority: i32,
    /// personality(2)'s persona.
    pub personality: u32,
    /// /proc/PID/oom_score_adj (the spec's oomScoreAdj at start; fork inherits it).
    pub oom_score_adj: i32,
    /// SCHED_RESET_ON_FORK: a forked child goes back to SCHED_OTHER (from a real-time
    /// policy) or nice 0 (from a negative one), without the flag.
    pub sched_reset_on_fork: bool,
    /// ioprio_set(2)'s class and data, as ioprio_get(2) returns them (0: class NONE).
    pub ioprio: u16,
}

/// One process.
pub struct ThreadGroup {
    pub pid: i32,
    /// The parent at creation. The current parent (after reparenting) is
    /// `Kernel::parent_of(pid)`.
    pub ppid: i32,
    pub start: Instant,
    pub state: Mutex<ThreadGroupState>,
    /// Signals pending for the whole process.
    pub signals: crate::kernel::signal::ProcessSignals,
    /// wait4/waitid callers of this process wait here for a child to change state.
    pub child_wait: WaitQueue,
    /// Bumped whenever a child changes state (`notify_child_event`), so waiters can tell.
    child_events: AtomicU64,
    /// Set once exit_group (or a fatal signal) has started killing the process.
    exiting: AtomicBool,
    /// CPU time accounting (getrusage, times, CPU clocks).
    pub cpu: CpuAccount,
    /// Set once the last thread has exited (pidfds poll readable).
    exited: AtomicBool,
    /// RLIMIT_FSIZE's soft limit mirrored out of `state`, so that write(2) checks it without
    /// the state lock (`rlimits_changed` refreshes it after every change to the limits).
    fsize_limit: AtomicU64,
    /// Pollers of this process's pidfds wait here for its exit.
    pub exit_wait: WaitQueue,
    /// timer_create(2)'s timers (none after fork; deleted at exec and exit).
    pub timers: crate::kernel::posix_timer::PosixTimers,
    /// What /proc shows of this process to other processes (see `publish_views`).
    views: Mutex<ProcessViews>,
}

/// Weak handles on a process's memory, files, filesystem context and credentials, published
/// by its task code so /proc/PID can read them from another process.
#[derive(Default)]
struct ProcessViews {
    mm: Weak<MemoryManager>,
    fd_table: Weak<FdTable>,
    fs: Weak<FsContext>,
    creds: Weak<Credentials>,
}

impl ThreadGroup {
    pub fn new(pid: i32, ppid: i32) -> ThreadGroup {
        ThreadGroup {
            pid,
            ppid,
            start: Instant::now(),
            state: Mutex::new(ThreadGroupState {
                actions: [SigAction::default(); 64],
                rlimits: default_rlimits(),
                exe_path: Vec::new(),
                argv: Vec::new(),
                envv: Vec::new(),
                auxv: Vec::new(),
                comm: Vec::new(),
                child_subreaper: false,
                dumpable: true,
                nice: 0,
                sched_policy: 0,
                sched_priority: 0,
                personality: 0,
                oom_score_adj: 0,
                sched_reset_on_fork: false,
                ioprio: 0,
            }),
            signals: Default::default(),
            child_wait: WaitQueue::new(),
            child_events: AtomicU64::new(0),
            exiting: AtomicBool::new(false),
            exited: AtomicBool::new(false),
            fsize_limit: AtomicU64::new(u64::MAX),
            exit_wait: WaitQueue::new(),
            timers: Default::default(),
            cpu: Default::default(),
            views: Mutex::new(ProcessViews::default()),
        }
    }

    /// Records the leader's current resources for /proc (kept weakly: they die with it).
    /// Publishes the credentials alone: a forked child's, at fork, before its task runs and
    /// publishes the rest (RLIMIT_NPROC counts it from then on).
    pub fn publish_creds(&self, creds: &Arc<Credentials>) {
        self.views.lock().unwrap_or_else(|p| p.into_inner()).creds = Arc::downgrade(creds);
    }

    pub fn publish_views(
        &self,
        mm: &Arc<MemoryManager>,
        fd_table: &Arc<FdTable>,
        fs: &Arc<FsContext>,
        creds: &Arc<Credentials>,
    ) {
        *self.views.lock().unwrap_or_else(|p| p.into_inner()) = ProcessViews {
            mm: Arc::downgrade(mm),
            fd_table: Arc::downgrade(fd_table),
            fs: Arc::downgrade(fs),
            creds: Arc::downgrade(creds),
        };
    }

    /// The published memory manager, if the process still has one.
    pub fn view_mm(&self) -> Option<Arc<MemoryManager>> {
        self.views
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .mm
            .upgrade()
    }

    /// The published fd table.
    pub fn view_fd_table(&self) -> Option<Arc<FdTable>> {
        self.views
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .fd_table
            .upgrade()
    }

    /// The published filesystem context (cwd, root, umask).
    pub fn view_fs(&self) -> Option<Arc<FsContext>> {
        self.views
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .fs
            .upgrade()
    }

    /// The published credentials.
    pub fn view_creds(&self) -> Option<Arc<Credentials>> {
        self.views
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .creds
            .upgrade()
    }

    /// A child process of `parent`'s (fork): a copy of its signal actions, limits and image
    /// names (execve of the child replaces them).
    pub fn new_child(pid: i32, parent: &ThreadGroup) -> ThreadGroup {
        let tg = ThreadGroup::new(pid, parent.pid);
        let mut copied = parent.with_state(|s| s.clone());
        copied.child_subreaper = false;
        if copied.sched_reset_on_fork {
            // Linux `sched_fork`.
            if matches!(copied.sched_policy, 1 | 2) {
                copied.sched_policy = 0;
                copied.sched_priority = 0;
                copied.nice = 0;
            } else {
                copied.nice = copied.nice.max(0);
            }
            copied.sched_reset_on_fork = false;
        }
        *tg.state
            .lock()
            .expect("invariant: thread group state lock is never poisoned") = copied;
        tg.rlimits_changed();
        tg
    }

    /// Refreshes what is mirrored of `state.rlimits`; called after any change to them.
    pub fn rlimits_changed(&self) {
        let fsize = self.with_state(|s| s.rlimits[libc::RLIMIT_FSIZE as usize].cur);
        self.fsize_limit.store(fsize, Ordering::Relaxed);
    }

    /// RLIMIT_FSIZE's soft limit, read without the state lock (write(2)'s hot path).
    pub fn fsize_limit(&self) -> u64 {
        self.fsize_limit.load(Ordering::Relaxed)
    }

    /// Whether exit_group or a fatal signal is tearing the process down.
    pub fn is_exiting(&self) -> bool {
        self.exiting.load(Ordering::SeqCst)
    }

    /// Marks the process as exiting; true for the first caller.
    pub(crate) fn mark_exiting(&self) -> bool {
        !self.exiting.swap(true, Ordering::SeqCst)
    }

    /// Whether every thread has exited (the process is a zombie or reaped).
    pub fn has_exited(&self) -> bool {
        self.exited.load(Ordering::SeqCst)
    }

    /// Records that the last thread exited and wakes pidfd pollers.
    pub fn mark_exited(&self) {
        self.exited.store(true, Ordering::SeqCst);
        self.exit_wait.notify();
    }

    /// Tells this process's wait4/waitid callers that a child changed state.
    pub fn notify_child_event(&self) {
        self.child_events.fetch_add(1, Ordering::SeqCst);
        self.child_wait.notify();
    }

    /// The child-event counter (a waiter re-checks when it moves).
    pub fn child_event_count(&self) -> u64 {
        self.child_events.load(Ordering::SeqCst)
    }

    /// Runs `f` with the state locked.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut ThreadGroupState) -> R) -> R {
        let mut g = self
            .state
            .lock()
            .expect("invariant: thread group state lock is never poisoned");
        f(&mut g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_process_clock_of_this_process_counts_its_user_time() {
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let t = host_process_cpu(std::process::id() as i32);
        assert!(t.total() > Duration::ZERO);
        let me = nix::unistd::gettid().as_raw();
        assert!(sentry_thread_cpu(me) > Duration::ZERO);
        assert_eq!(host_process_cpu(i32::MAX), CpuTimes::default());
        assert_eq!(host_process_cpu(0), CpuTimes::default());
    }

    #[test]
    fn reaped_children_add_up_and_final_total_is_kept() {
        let child = CpuAccount::default();
        child.lock().retired = CpuTimes {
            user: Duration::from_millis(5),
            sys: Duration::from_millis(1),
        };
        child.finish();
        let grandchild_total = CpuTimes {
            user: Duration::from_millis(2),
            sys: Duration::ZERO,
        };
        child.lock().children = grandchild_total;
        let parent = CpuAccount::default();
        parent.add_reaped_child(&child);
        assert_eq!(parent.children().user, Duration::from_millis(7));
        assert_eq!(parent.children().sys, Duration::from_millis(1));
        assert_eq!(child.process_total(None).user, Duration::from_millis(5));
    }
}
