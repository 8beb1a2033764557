//! A process (after gVisor's `pkg/sentry/kernel/thread_group.go`): what the threads of one pid
//! share: signal actions, rlimits, the program image's names, and the exit status. Its place in
//! the process tree (parent, children, process group, session, zombie state) lives in the
//! kernel's `ProcessTree` (kernel/process_tree.rs) under one lock, as Linux's `tasklist_lock`.
//!
//! Lock order: the kernel's process tree lock, then `ThreadGroup::state`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

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
    /// The thread name (/proc/PID/comm), at most 15 bytes.
    pub comm: Vec<u8>,
    /// prctl(PR_SET_CHILD_SUBREAPER).
    pub child_subreaper: bool,
    /// prctl(PR_SET_DUMPABLE) (Linux keeps it per mm; per process is what the sandbox shows).
    pub dumpable: bool,
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
                comm: Vec::new(),
                child_subreaper: false,
                dumpable: true,
            }),
            signals: Default::default(),
            child_wait: WaitQueue::new(),
            child_events: AtomicU64::new(0),
            exiting: AtomicBool::new(false),
            views: Mutex::new(ProcessViews::default()),
        }
    }

    /// Records the leader's current resources for /proc (kept weakly: they die with it).
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
        *tg.state
            .lock()
            .expect("invariant: thread group state lock is never poisoned") = copied;
        tg
    }

    /// Whether exit_group or a fatal signal is tearing the process down.
    pub fn is_exiting(&self) -> bool {
        self.exiting.load(Ordering::SeqCst)
    }

    /// Marks the process as exiting; true for the first caller.
    pub(crate) fn mark_exiting(&self) -> bool {
        !self.exiting.swap(true, Ordering::SeqCst)
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
