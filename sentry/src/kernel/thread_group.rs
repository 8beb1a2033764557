//! A process (after gVisor's `pkg/sentry/kernel/thread_group.go`): what the threads of one pid
//! share: signal actions, rlimits, the program image's names, and the exit status.

use std::sync::Mutex;
use std::time::Instant;

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
}

/// One process.
pub struct ThreadGroup {
    pub pid: i32,
    pub ppid: i32,
    pub start: Instant,
    pub state: Mutex<ThreadGroupState>,
    /// Signals pending for the whole process.
    pub signals: crate::kernel::signal::ProcessSignals,
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
            }),
            signals: Default::default(),
        }
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
