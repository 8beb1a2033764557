//! The kernel: global sandbox state (after gVisor's `pkg/sentry/kernel/kernel.go`): the
//! platform, the syscall table, the VFS, the PID namespace and the boot-time facts.

pub mod clone;
pub mod creds;
pub mod futex;
mod host;
pub mod ipc;
pub mod posix_timer;
pub mod process_tree;
pub mod seccomp;
pub mod signal;
pub mod strace;
mod sys;
pub mod syscall;
pub mod task;
pub mod thread_group;
pub mod wait;

use std::collections::{BTreeMap, HashSet};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Instant, SystemTime};

pub use creds::{CapSets, Credentials};
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
    /// A writable root is the gofer's files read-write, without the overlay (`--overlay=none`):
    /// writes reach the host's root directory.
    pub root_direct: bool,
    /// Host directories the gofer serves, mounted at their paths (OCI bind mounts).
    pub mounts: Vec<crate::vfs::BindMount>,
    /// What the OCI spec says about the init process and the sandbox beyond the above.
    pub settings: SandboxSettings,
}

/// The OCI `process` and `linux` settings the kernel applies (runtime-spec `config.md`,
/// `config-linux.md`); the default is what a sandbox without a spec gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSettings {
    /// `process.rlimits`: (resource number, limit) pairs replacing the defaults of
    /// `thread_group::default_rlimits` for init and for processes started by `runsc exec`.
    pub rlimits: Vec<(u32, thread_group::Rlimit)>,
    /// `process.user.umask` of init.
    pub umask: u32,
    /// `process.noNewPrivileges` for init and exec'd processes.
    pub no_new_privs: bool,
    /// `process.oomScoreAdj`: what /proc/PID/oom_score_adj starts at (the sentry has no OOM
    /// killer; the host side is `runsc create`'s).
    pub oom_score_adj: i32,
    /// The NIS domain name (`domainname`, uname(2)'s last field).
    pub domainname: String,
    /// `linux.sysctl`, keyed by path below /proc/sys ("net/ipv4/ip_forward").
    pub sysctl: BTreeMap<String, String>,
    /// `linux.maskedPaths`: existing files read as /dev/null, directories as an empty
    /// read-only tmpfs.
    pub masked_paths: Vec<Vec<u8>>,
    /// `linux.readonlyPaths`: existing paths re-mounted read-only.
    pub readonly_paths: Vec<Vec<u8>>,
    /// `linux.seccomp`: the filter every process the kernel starts (init, `runsc exec`)
    /// carries from its first instruction.
    pub seccomp: Option<seccomp::Program>,
    /// `--network`: loopback only in the sentry, or the host's network through host sockets.
    pub network: crate::net::NetworkMode,
    /// Host terminals get numbers of the sandbox's own /dev/pts (a container's console is
    /// /dev/pts/0, as under runc); false: their host numbers (`runsc do` on the caller's).
    pub own_pts_numbers: bool,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            rlimits: Vec::new(),
            umask: 0o022,
            no_new_privs: false,
            oom_score_adj: 0,
            domainname: "(none)".into(),
            sysctl: BTreeMap::new(),
            masked_paths: Vec::new(),
            readonly_paths: Vec::new(),
            seccomp: None,
            network: crate::net::NetworkMode::None,
            own_pts_numbers: false,
        }
    }
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

/// The sandbox's UTS namespace names.
#[derive(Debug, Clone)]
pub struct UtsNames {
    pub hostname: String,
    pub domainname: String,
}

/// One sandbox's kernel.
pub struct Kernel {
    pub platform: Arc<dyn Platform>,
    pub table: SyscallTable,
    pub vfs: Arc<Vfs>,
    /// The UTS names (host name, NIS domain name): the spec's at boot, then sethostname(2) and
    /// setdomainname(2)'s.
    uts: Mutex<UtsNames>,
    pub strace: Option<StraceConfig>,
    /// CPUs offered to the application (sched_getaffinity, /proc/cpuinfo), fixed at boot.
    pub ncpus: usize,
    /// Monotonic instant of boot (uptime, process start times).
    pub boot_instant: Instant,
    pub boot_time: SystemTime,
    init_creds: Credentials,
    /// The spec's settings (`KernelConfig::settings`); hostname stays above.
    pub settings: SandboxSettings,
    stdio: Mutex<Option<[OwnedFd; 3]>>,
    next_pid: AtomicI32,
    /// Every task and process (the sandbox's PID namespace): see `process_tree`.
    tree: Mutex<process_tree::ProcessTree>,
    /// Signalled whenever a task leaves the tree.
    tree_cv: Condvar,
    /// Futex wait queues.
    pub futexes: futex::FutexTable,
    /// The sandbox's System V IPC namespace (shm, semaphores, message queues).
    pub ipc: ipc::IpcNamespace,
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
            root_direct: config.root_direct,
            mounts: config.mounts,
        };
        let vfs = Vfs::new_sandbox_with(Arc::new(config.gofer), &opts)
            .map_err(|e| BootError::Vfs(e.to_string()))?;
        vfs.apply_path_policy(
            &config.settings.masked_paths,
            &config.settings.readonly_paths,
        )
        .map_err(|e| BootError::Vfs(e.to_string()))?;
        crate::net::set_mode(config.settings.network);
        crate::fs::host::tty::set_own_numbering(config.settings.own_pts_numbers);
        Ok(Arc::new(Kernel {
            platform,
            table,
            vfs: Arc::new(vfs),
            uts: Mutex::new(UtsNames {
                hostname: config.hostname,
                domainname: config.settings.domainname.clone(),
            }),
            strace: config.strace,
            ncpus: host_cpu_count(),
            boot_instant: Instant::now(),
            boot_time: SystemTime::now(),
            init_creds: config.creds,
            settings: config.settings,
            stdio: Mutex::new(Some(config.stdio)),
            next_pid: AtomicI32::new(1),
            tree: Mutex::new(Default::default()),
            tree_cv: Condvar::new(),
            futexes: futex::FutexTable::default(),
            ipc: ipc::IpcNamespace::new(),
            unimplemented_seen: Mutex::new(HashSet::new()),
        }))
    }

    /// Allocates the next pid (thread ids share the space, as on Linux).
    /// The host and NIS domain names (uname(2), /proc/sys/kernel/{hostname,domainname}).
    pub fn uts_names(&self) -> UtsNames {
        self.uts
            .lock()
            .expect("invariant: the UTS lock is never poisoned")
            .clone()
    }

    /// sethostname(2)/setdomainname(2): replaces one name.
    pub fn set_uts_name(&self, domain: bool, name: String) {
        let mut u = self
            .uts
            .lock()
            .expect("invariant: the UTS lock is never poisoned");
        if domain {
            u.domainname = name;
        } else {
            u.hostname = name;
        }
    }

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
        self.apply_process_settings(&mut task);
        task.fs.swap_umask(self.settings.umask);
        let path = init.argv.first().cloned().unwrap_or_default();
        task.execve(&path, init.argv, init.envv)
            .map_err(InitError::Exec)?;
        Ok(task)
    }
}

impl Kernel {
    /// The spec's rlimits and no_new_privs on a process the kernel starts itself.
    fn apply_process_settings(&self, task: &mut Task) {
        task.tg.with_state(|s| {
            for &(res, limit) in &self.settings.rlimits {
                if let Some(slot) = s.rlimits.get_mut(res as usize) {
                    *slot = limit;
                }
            }
            s.oom_score_adj = self.settings.oom_score_adj;
        });
        task.tg.rlimits_changed();
        task.no_new_privs |= self.settings.no_new_privs;
    }

    /// The capabilities of a process started by `runsc exec`: never beyond the container's
    /// bounding set (the spec's, which its init carries).
    fn exec_caps(&self, asked: creds::CapSets) -> creds::CapSets {
        let bnd = self.init_creds.caps.bounding;
        creds::CapSets {
            effective: asked.effective & bnd,
            permitted: asked.permitted & bnd,
            inheritable: asked.inheritable & bnd,
            bounding: bnd,
            ambient: asked.ambient & bnd,
        }
    }

    /// /proc/PID/oom_score_adj of process `pid` (kept with the process: fork inherits it).
    pub fn oom_score_adj(&self, pid: i32) -> i32 {
        self.thread_group(pid)
            .map_or(self.settings.oom_score_adj, |tg| {
                tg.with_state(|s| s.oom_score_adj)
            })
    }

    /// Records a write of /proc/PID/oom_score_adj (checked by the caller to -1000..=1000).
    pub fn set_oom_score_adj(&self, pid: i32, value: i32) {
        if let Some(tg) = self.thread_group(pid) {
            tg.with_state(|s| s.oom_score_adj = value);
        }
    }
}

/// A process started from outside the sandbox into its running kernel (`runsc exec`, after
/// gVisor's `Kernel.CreateProcess` for `runsc exec`): it has no parent in the sandbox (its
/// ppid is 0, like init's), leads a session of its own, and its exit status is collected with
/// [`Kernel::wait_process`] instead of by a parent's wait4.
pub struct ExecProcess {
    /// `argv[0]` names the program: a path, or a name searched in the `PATH` of `envv`.
    pub argv: Vec<Vec<u8>>,
    pub envv: Vec<Vec<u8>>,
    /// Absolute working directory in the sandbox.
    pub cwd: Vec<u8>,
    pub creds: Credentials,
    /// Host descriptors that become the process's fds 0, 1, 2, 3... in order (at least 3).
    pub fds: Vec<OwnedFd>,
    /// The root directory (and `cwd`'s base) when not the sandbox's: a pod's app container's
    /// own tree (`Vfs::new_detached_tree`).
    pub root: Option<Arc<crate::vfs::Dentry>>,
    /// A pod app container's own `process`/`linux` settings for its init, in place of the
    /// sandbox's (None: the sandbox's, as for `runsc exec`).
    pub own: Option<OwnSettings>,
}

/// The settings of a pod app container's spec that its init gets instead of the sandbox's
/// (runtime-spec `config.md` `process`, `config-linux.md` `seccomp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnSettings {
    /// `process.rlimits` over the defaults.
    pub rlimits: Vec<(u32, thread_group::Rlimit)>,
    /// `process.user.umask`.
    pub umask: u32,
    /// `process.noNewPrivileges`.
    pub no_new_privs: bool,
    /// `process.capabilities` (None: the user's usual ones).
    pub caps: Option<CapSets>,
    /// `process.oomScoreAdj`.
    pub oom_score_adj: i32,
    /// `linux.seccomp`.
    pub seccomp: Option<seccomp::Program>,
}

impl Default for OwnSettings {
    fn default() -> Self {
        OwnSettings {
            rlimits: Vec::new(),
            umask: 0o022,
            no_new_privs: false,
            caps: None,
            oom_score_adj: 0,
            seccomp: None,
        }
    }
}

impl std::fmt::Debug for ExecProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecProcess")
            .field("argv", &self.argv)
            .field("cwd", &self.cwd)
            .field("fds", &self.fds)
            .field("own_root", &self.root.as_ref().map(|r| r.path()))
            .finish_non_exhaustive()
    }
}

/// `PATH` used to find an exec'd program when its environment has none (runc's default).
const DEFAULT_EXEC_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Kernel {
    /// Starts `p` on a host thread of its own and returns its pid once its program is loaded.
    /// Errors: the container's init has ended (ESRCH), a bad working directory
    /// ([`InitError::Cwd`]), execve's errors (`Exec`: ENOENT when no `PATH` entry holds the
    /// program, EACCES...). A process that failed to start leaves no trace in the tree.
    pub fn start_process(self: &Arc<Self>, p: ExecProcess) -> Result<i32, InitError> {
        if self.init_has_ended() {
            return Err(InitError::Exec(crate::Errno::ESRCH));
        }
        let (tx, rx) = std::sync::mpsc::channel::<Result<i32, InitError>>();
        let kernel = self.clone();
        let spawned = std::thread::Builder::new()
            .name("task-exec".into())
            .stack_size(EXEC_THREAD_STACK)
            .spawn(move || kernel.run_exec_process(p, tx));
        if let Err(e) = spawned {
            crate::warn!("exec: spawning a host thread: {e}");
            return Err(InitError::Exec(crate::Errno::EAGAIN));
        }
        rx.recv()
            .unwrap_or(Err(InitError::Exec(crate::Errno::EAGAIN)))
    }

    /// Blocks until process `pid` (one made by [`Kernel::start_process`]) has ended, removes it
    /// from the tree and returns how it ended; None if there is no such process.
    pub fn wait_process(&self, pid: i32) -> Option<ExitStatus> {
        let status = self.wait_zombie(pid)?;
        self.unregister_thread_group(pid);
        Some(status)
    }

    /// Whether the sandbox's init process is gone or going (no new process may start).
    fn init_has_ended(&self) -> bool {
        self.thread_group(1).is_none_or(|tg| tg.is_exiting())
    }

    /// The host thread of an exec'd process: build its task, load its program, report, run.
    fn run_exec_process(
        self: Arc<Self>,
        p: ExecProcess,
        started: std::sync::mpsc::Sender<Result<i32, InitError>>,
    ) {
        let mut fds = p.fds.into_iter();
        let (Some(fd0), Some(fd1), Some(fd2)) = (fds.next(), fds.next(), fds.next()) else {
            let _ = started.send(Err(InitError::Exec(crate::Errno::EBADF)));
            return;
        };
        // The working directory first: the task below is in the tree as soon as it exists.
        let own_root = match &p.root {
            None => None,
            Some(root) => match resolve_dir_in(&self.vfs, root, &p.cwd) {
                Ok(cwd) => Some((root.clone(), cwd)),
                Err(errno) => {
                    let _ = started.send(Err(InitError::Cwd { path: p.cwd, errno }));
                    return;
                }
            },
        };
        let sandbox_cwd: &[u8] = if own_root.is_some() { b"/" } else { &p.cwd };
        if let Err(errno) = crate::vfs::FsContext::new(&self.vfs, sandbox_cwd) {
            let _ = started.send(Err(InitError::Cwd { path: p.cwd, errno }));
            return;
        }
        let mut creds = p.creds;
        creds.caps = match p.own.as_ref().and_then(|o| o.caps) {
            Some(caps) => caps,
            None => self.exec_caps(creds.caps),
        };
        let mut task = match Task::new_init(&self, creds, [fd0, fd1, fd2], sandbox_cwd) {
            Ok(t) => t,
            Err(e) => {
                let _ = started.send(Err(e));
                return;
            }
        };
        if let Some((root, cwd)) = own_root {
            task.fs.set_root(root);
            task.fs.set_cwd(cwd);
        }
        match &p.own {
            None => self.apply_process_settings(&mut task),
            Some(own) => {
                task.tg.with_state(|s| {
                    for &(res, limit) in &own.rlimits {
                        if let Some(slot) = s.rlimits.get_mut(res as usize) {
                            *slot = limit;
                        }
                    }
                });
                task.tg.rlimits_changed();
                task.no_new_privs = own.no_new_privs;
                task.fs.swap_umask(own.umask);
                task.seccomp = seccomp::TaskSeccomp::with_program(task.tid, own.seccomp.clone());
                self.set_oom_score_adj(task.tid, own.oom_score_adj);
            }
        }
        for (i, fd) in fds.enumerate() {
            let n = i as i32 + 3;
            let _ = task
                .fd_table
                .install_at(n, crate::fs::host::stdio_file(fd, n), false);
        }
        let pid = task.tid;
        if let Err(errno) = execvp(&mut task, p.argv, p.envv) {
            // Let the task go through its exit so that the tree and the platform are clean.
            task.exit_status = Some(ExitStatus::Exited(127));
            task.run();
            self.unregister_thread_group(pid);
            let _ = started.send(Err(InitError::Exec(errno)));
            return;
        }
        if self.init_has_ended() {
            task.exit_status = Some(ExitStatus::Signaled(libc::SIGKILL));
        }
        if started.send(Ok(pid)).is_err() {
            task.exit_status = Some(ExitStatus::Signaled(libc::SIGKILL));
        }
        task.run();
    }
}

/// The directory `path` resolved from `root` (a tree's root dentry) as the sentry itself.
fn resolve_dir_in(
    vfs: &Vfs,
    root: &Arc<crate::vfs::Dentry>,
    path: &[u8],
) -> crate::SysResult<Arc<crate::vfs::Dentry>> {
    let r = crate::vfs::Resolver {
        vfs,
        task: None,
        root: root.clone(),
    };
    let path: &[u8] = if path.is_empty() { b"/" } else { path };
    let d = r.resolve(root.clone(), path, true)?;
    if !d.inode.stat(None)?.is_dir() {
        return Err(crate::Errno::ENOTDIR);
    }
    Ok(d)
}

/// Host stack of an exec'd process's task thread (as for clone's threads).
const EXEC_THREAD_STACK: usize = 2 << 20;

/// execvp(3) in the sandbox: `argv[0]` as a path when it holds a `/`, else each absolute
/// directory of `PATH` in turn; ENOENT when none holds it, EACCES when one held it but was not
/// executable and nothing else was found.
fn execvp(task: &mut Task, argv: Vec<Vec<u8>>, envv: Vec<Vec<u8>>) -> crate::SysResult<()> {
    let program = argv.first().cloned().unwrap_or_default();
    if program.is_empty() {
        return Err(crate::Errno::ENOENT);
    }
    if program.contains(&b'/') {
        return task.execve(&program, argv, envv);
    }
    let path_var = envv
        .iter()
        .find_map(|kv| kv.strip_prefix(b"PATH=".as_slice()))
        .unwrap_or(DEFAULT_EXEC_PATH)
        .to_vec();
    let mut denied = false;
    for dir in path_var.split(|&b| b == b':') {
        if dir.first() != Some(&b'/') {
            continue;
        }
        let mut candidate = dir.to_vec();
        if candidate.last() != Some(&b'/') {
            candidate.push(b'/');
        }
        candidate.extend_from_slice(&program);
        match task.execve(&candidate, argv.clone(), envv.clone()) {
            Ok(()) => return Ok(()),
            Err(crate::Errno::ENOENT | crate::Errno::ENOTDIR) => {}
            Err(crate::Errno::EACCES) => denied = true,
            Err(e) => return Err(e),
        }
    }
    Err(if denied {
        crate::Errno::EACCES
    } else {
        crate::Errno::ENOENT
    })
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
