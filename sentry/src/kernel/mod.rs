//! The kernel: global sandbox state (after gVisor's `pkg/sentry/kernel/kernel.go`): the
//! platform, the syscall table, the VFS, the PID namespace and the boot-time facts.

pub mod clone;
pub mod creds;
pub mod futex;
mod host;
pub mod posix_timer;
pub mod process_tree;
pub mod signal;
pub mod strace;
mod sys;
pub mod syscall;
pub mod task;
pub mod thread_group;
pub mod wait;

use std::collections::HashSet;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Instant, SystemTime};

pub use creds::Credentials;
pub use host::{host_cpu_count, host_sysinfo, host_uname, random_fill, HostSysinfo, HostUname};
pub use process_tree::{TaskHandle, WaitOptions, WaitResult, WaitTarget};
pub use strace::StraceConfig;
pub use syscall::{ArgKind, Handler, Support, SyscallArgs, SyscallEntry, SyscallTable};
pub use task::{ExitStatus, Task};
pub use thread_group::ThreadGroup;

use crate::platform::Platform;
use crate::vfs::Vfs;

/// What `runsc boot` knows when it creates the kernel.
pub struct KernelConfig {
    /// The connected gofer channel serving the root filesystem.
    pub gofer: gofer::GoferClient,
    /// The host descriptors that become the init process's fds 0, 1 and 2.
    pub stdio: [OwnedFd; 3],
    pub hostname: String,
    /// Credentials of the init process.
    pub creds: Credentials,
    pub strace: Option<StraceConfig>,
    /// The root filesystem is the gofer's files read-only (OCI `root.readonly`); when false it
    /// is a writable overlay whose changes stay in sentry memory (`fs::overlay`).
    pub root_readonly: bool,
    /// Host directories the gofer serves, mounted at their paths (OCI bind mounts).
    pub mounts: Vec<crate::vfs::BindMount>,
}

/// The first process to start.
#[derive(Debug, Clone)]
pub struct InitProcess {
    pub argv: Vec<Vec<u8>>,
    pub envv: Vec<Vec<u8>>,
    /// Absolute working directory in the sandbox.
    pub cwd: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("setting up the root filesystem: {0}")]
    Vfs(String),
    #[error("starting the init process: {0}")]
    Init(#[from] crate::platform::PlatformError),
}

/// One sandbox's kernel.
pub struct Kernel {
    pub platform: Arc<dyn Platform>,
    pub table: SyscallTable,
    pub vfs: Arc<Vfs>,
    pub hostname: String,
    pub strace: Option<StraceConfig>,
    /// CPUs offered to the application (sched_getaffinity, /proc/cpuinfo), fixed at boot.
    pub ncpus: usize,
    /// Monotonic instant of boot (uptime, process start times).
    pub boot_instant: Instant,
    pub boot_time: SystemTime,
    init_creds: Credentials,
    stdio: Mutex<Option<[OwnedFd; 3]>>,
    next_pid: AtomicI32,
    /// Every task and process (the sandbox's PID namespace): see `process_tree`.
    tree: Mutex<process_tree::ProcessTree>,
    /// Signalled whenever a task leaves the tree.
    tree_cv: Condvar,
    /// Futex wait queues.
    pub futexes: futex::FutexTable,
    /// Syscall numbers already reported as unimplemented (each is logged once).
    unimplemented_seen: Mutex<HashSet<u64>>,
}

impl Kernel {
    pub fn new(
        config: KernelConfig,
        table: SyscallTable,
        platform: Arc<dyn Platform>,
    ) -> Result<Arc<Kernel>, BootError> {
        let opts = crate::vfs::SandboxOptions {
            root_readonly: config.root_readonly,
            mounts: config.mounts,
        };
        let vfs = Vfs::new_sandbox_with(Arc::new(config.gofer), &opts)
            .map_err(|e| BootError::Vfs(e.to_string()))?;
        Ok(Arc::new(Kernel {
            platform,
            table,
            vfs: Arc::new(vfs),
            hostname: config.hostname,
            strace: config.strace,
            ncpus: host_cpu_count(),
            boot_instant: Instant::now(),
            boot_time: SystemTime::now(),
            init_creds: config.creds,
            stdio: Mutex::new(Some(config.stdio)),
            next_pid: AtomicI32::new(1),
            tree: Mutex::new(Default::default()),
            tree_cv: Condvar::new(),
            futexes: futex::FutexTable::default(),
            unimplemented_seen: Mutex::new(HashSet::new()),
        }))
    }

    /// Allocates the next pid (thread ids share the space, as on Linux).
    pub fn allocate_pid(&self) -> i32 {
        self.next_pid.fetch_add(1, Ordering::Relaxed)
    }

    /// Adds a process under its creation-time parent (`tg.ppid`), with SIGCHLD as exit signal.
    pub fn register_thread_group(&self, tg: &Arc<ThreadGroup>) {
        self.add_process(tg, tg.ppid, libc::SIGCHLD);
    }

    /// Forgets a process entirely (as if reaped).
    pub fn unregister_thread_group(&self, pid: i32) {
        let mut tree = self.tree();
        if let Some(p) = tree.procs.remove(&pid) {
            if let Some(parent) = tree.procs.get_mut(&p.parent) {
                parent.children.remove(&pid);
            }
        }
    }

    /// The process with this pid (zombies included, until reaped).
    pub fn thread_group(&self, pid: i32) -> Option<Arc<ThreadGroup>> {
        self.tree().procs.get(&pid).map(|p| p.tg.clone())
    }

    /// Pids of all processes (zombies included), ascending.
    pub fn pids(&self) -> Vec<i32> {
        self.tree().procs.keys().copied().collect()
    }

    /// Records an unimplemented syscall; true the first time a number is seen.
    pub fn note_unimplemented(&self, nr: u64) -> bool {
        self.unimplemented_seen
            .lock()
            .expect("invariant: unimplemented set lock is never poisoned")
            .insert(nr)
    }

    /// Creates the init process (pid 1) on the calling host thread and loads its program.
    /// Errors are execve's (ENOENT, EACCES, ENOEXEC...), for `runsc` to report like a shell.
    pub fn create_init(self: &Arc<Self>, init: InitProcess) -> Result<Task, InitError> {
        let stdio = self
            .stdio
            .lock()
            .expect("invariant: stdio lock is never poisoned")
            .take()
            .ok_or(InitError::Exec(crate::Errno::EBUSY))?;
        let mut task = Task::new_init(self, self.init_creds.clone(), stdio, &init.cwd)?;
        let path = init.argv.first().cloned().unwrap_or_default();
        task.execve(&path, init.argv, init.envv)
            .map_err(InitError::Exec)?;
        Ok(task)
    }
}

/// Why the init process could not start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0}")]
    Platform(#[from] crate::platform::PlatformError),
    #[error("{}", .0.desc())]
    Exec(crate::Errno),
    /// The working directory does not exist (or is not a directory) in the sandbox.
    #[error("working directory {}: {}", String::from_utf8_lossy(.path), .errno.desc())]
    Cwd { path: Vec<u8>, errno: crate::Errno },
}
