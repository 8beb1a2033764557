//! clone(2), fork(2), vfork(2), clone3(2): a new task on a new host thread (after Linux
//! `kernel/fork.c` `copy_process` and gVisor's `pkg/sentry/kernel/task_clone.go`).
//!
//! The platform stub of the child (a copy-on-write fork of the parent's stub, or a new stub
//! thread in the same address space for `CLONE_VM`) must be made on the parent's host thread;
//! the child's host thread then adopts it. The parent waits for that hand-over (so a failure is
//! the parent's clone error), registers the child in the process tree, writes
//! `CLONE_PARENT_SETTID`, and only then lets the child run.

use std::sync::mpsc;
use std::sync::Arc;

use crate::kernel::process_tree::TaskHandle;
use crate::kernel::task::VforkDone;
use crate::kernel::thread_group::ThreadGroup;
use crate::kernel::Task;
use crate::mm::MemoryManager;
use crate::platform::{Interrupter, PendingStub};
use crate::vfs::FdTable;
use crate::{Errno, SysResult};

pub const CSIGNAL: u64 = 0xff;
pub const CLONE_VM: u64 = 0x100;
pub const CLONE_FS: u64 = 0x200;
pub const CLONE_FILES: u64 = 0x400;
pub const CLONE_SIGHAND: u64 = 0x800;
pub const CLONE_PIDFD: u64 = 0x1000;
pub const CLONE_PTRACE: u64 = 0x2000;
pub const CLONE_VFORK: u64 = 0x4000;
pub const CLONE_PARENT: u64 = 0x8000;
pub const CLONE_THREAD: u64 = 0x10000;
pub const CLONE_SYSVSEM: u64 = 0x40000;
pub const CLONE_SETTLS: u64 = 0x80000;
pub const CLONE_PARENT_SETTID: u64 = 0x100000;
pub const CLONE_CHILD_CLEARTID: u64 = 0x200000;
pub const CLONE_DETACHED: u64 = 0x400000;
pub const CLONE_UNTRACED: u64 = 0x800000;
pub const CLONE_CHILD_SETTID: u64 = 0x1000000;
pub const CLONE_IO: u64 = 0x8000_0000;

/// Flags this sandbox implements (namespaces and CLONE_CLEAR_SIGHAND are not).
const SUPPORTED: u64 = CSIGNAL
    | CLONE_PIDFD
    | CLONE_VM
    | CLONE_FS
    | CLONE_FILES
    | CLONE_SIGHAND
    | CLONE_PTRACE
    | CLONE_VFORK
    | CLONE_PARENT
    | CLONE_THREAD
    | CLONE_SYSVSEM
    | CLONE_SETTLS
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_CLEARTID
    | CLONE_DETACHED
    | CLONE_UNTRACED
    | CLONE_CHILD_SETTID
    | CLONE_IO;

/// Host stack of a task's sentry thread.
const TASK_THREAD_STACK: usize = 2 << 20;

/// clone's arguments, decoded (clone3's `struct clone_args` or clone's registers).
#[derive(Debug, Clone, Copy, Default)]
pub struct CloneArgs {
    pub flags: u64,
    /// New stack pointer for the child (0: the parent's).
    pub stack: u64,
    pub parent_tid: u64,
    pub child_tid: u64,
    pub tls: u64,
    /// Signal for the parent when the child exits (clone: `flags & CSIGNAL`).
    pub exit_signal: i32,
    /// With CLONE_PIDFD: where the child's pidfd number is stored (clone: `parent_tid`).
    pub pidfd: u64,
}

/// How the child gets its address space.
enum ChildMemory {
    /// A new address space: the host fork of the parent's, to adopt, and the parent's
    /// bookkeeping to copy.
    Fork(PendingStub, Arc<MemoryManager>),
    /// The parent's address space, with a new stub thread to adopt.
    Shared(PendingStub, Arc<MemoryManager>),
}

impl Task {
    /// clone: starts the child task and returns its tid.
    pub fn clone_task(&mut self, args: CloneArgs) -> SysResult<i32> {
        let flags = args.flags;
        if flags & !SUPPORTED != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & CLONE_THREAD != 0 && flags & CLONE_SIGHAND == 0 {
            return Err(Errno::EINVAL);
        }
        if flags & CLONE_SIGHAND != 0 && flags & CLONE_VM == 0 {
            return Err(Errno::EINVAL);
        }
        if !(0..=64).contains(&args.exit_signal) {
            return Err(Errno::EINVAL);
        }
        if flags & CLONE_PIDFD != 0 {
            // A pidfd names a process here (no PIDFD_THREAD); it cannot share its slot with
            // CLONE_PARENT_SETTID's tid (Linux `kernel_clone`, `copy_process`).
            if flags & (CLONE_THREAD | CLONE_DETACHED) != 0
                || (flags & CLONE_PARENT_SETTID != 0 && args.pidfd == args.parent_tid)
            {
                return Err(Errno::EINVAL);
            }
            // A bad pointer fails the clone before any child exists.
            self.mm.copy_out(args.pidfd, &(-1i32).to_ne_bytes())?;
        }
        if self.tg.is_exiting() {
            return Err(Errno::EINTR);
        }
        self.check_nproc()?;
        let kernel = self.kernel.clone();
        // Phase timing for --debug (where a fork's time goes).
        let timing = crate::log::debug_enabled();
        let t0 = std::time::Instant::now();
        let memory = if flags & CLONE_VM != 0 {
            let stub = self.mm.address_space().new_thread().inspect_err(|e| {
                crate::warn!("clone: new stub thread: {e}");
            })?;
            ChildMemory::Shared(stub, self.mm.clone())
        } else {
            let stub = self.mm.address_space().fork().inspect_err(|e| {
                crate::warn!("fork: host fork of the stub: {e}");
            })?;
            ChildMemory::Fork(stub, self.mm.clone())
        };
        let t_mem = t0.elapsed();
        let tid = kernel.allocate_pid();
        let (tg, parent) = if flags & CLONE_THREAD != 0 {
            (self.tg.clone(), None)
        } else {
            let parent = if flags & CLONE_PARENT != 0 {
                kernel.parent_of(self.tg.pid).unwrap_or(0)
            } else {
                self.tg.pid
            };
            let child = Arc::new(ThreadGroup::new_child(tid, &self.tg));
            child.publish_creds(&self.creds);
            (child, Some(parent))
        };
        let fd_table = if flags & CLONE_FILES != 0 {
            self.fd_table.clone()
        } else {
            Arc::new(FdTable::fork(&self.fd_table))
        };
        let fs = if flags & CLONE_FS != 0 {
            self.fs.clone()
        } else {
            Arc::new(self.fs.fork())
        };
        let mut regs = self.regs;
        regs.rax = 0;
        if args.stack != 0 {
            regs.rsp = args.stack;
        }
        if flags & CLONE_SETTLS != 0 {
            regs.fs_base = args.tls;
        }
        let vfork = (flags & CLONE_VFORK != 0).then(|| Arc::new(VforkDone::default()));
        let alt_stack = if flags & CLONE_VM != 0 && flags & CLONE_VFORK == 0 {
            (0, libc::SS_DISABLE, 0)
        } else {
            self.alt_stack
        };
        let seed = ChildSeed {
            kernel: kernel.clone(),
            tid,
            tg: tg.clone(),
            fd_table,
            fs,
            creds: self.creds.clone(),
            regs,
            signal_mask: self.signal_mask,
            clear_child_tid: if flags & CLONE_CHILD_CLEARTID != 0 {
                args.child_tid
            } else {
                0
            },
            child_settid: (flags & CLONE_CHILD_SETTID != 0).then_some(args.child_tid),
            alt_stack,
            no_new_privs: self.no_new_privs,
            seccomp: self.seccomp.for_child(tid, flags & CLONE_THREAD != 0),
            vfork_done: vfork.clone(),
        };
        let t_seed = t0.elapsed();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<Arc<dyn Interrupter>, Errno>>();
        let (go_tx, go_rx) = mpsc::channel::<bool>();
        let spawned = std::thread::Builder::new()
            .name(format!("task-{tid}"))
            .stack_size(TASK_THREAD_STACK)
            .spawn(move || child_main(seed, memory, ready_tx, go_rx));
        if let Err(e) = spawned {
            crate::warn!("clone: spawning a host thread: {e}");
            return Err(Errno::EAGAIN);
        }
        let interrupter = match ready_rx.recv() {
            Ok(Ok(i)) => i,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(Errno::EAGAIN),
        };
        if timing {
            crate::debug!(
                "clone timing (µs): address space {}, task state {}, host thread ready {}",
                t_mem.as_micros(),
                (t_seed - t_mem).as_micros(),
                (t0.elapsed() - t_seed).as_micros()
            );
        }
        if let Some(parent) = parent {
            kernel.add_process(&tg, parent, args.exit_signal);
        }
        let handle = Arc::new(TaskHandle::new(
            tid,
            tg.clone(),
            crate::kernel::wait::TaskWaker::new(),
            interrupter,
        ));
        // A child runs on the CPUs its parent thread may run on (sched_setaffinity(2)).
        handle.set_affinity(self.handle.affinity());
        // The child's task takes its waker from this handle, so both share it.
        kernel.add_task(handle);
        if flags & CLONE_PARENT_SETTID != 0 {
            // Linux writes it before the child runs; a bad pointer is ignored there too.
            let _ = self.mm.copy_out(args.parent_tid, &tid.to_ne_bytes());
        }
        if flags & CLONE_PIDFD != 0 {
            // Installed close-on-exec in the parent before the child runs (a child sharing
            // the fd table sees it too).
            let limit = self
                .tg
                .with_state(|s| s.rlimits[libc::RLIMIT_NOFILE as usize].cur);
            let file = crate::fs::pidfd::new_pidfd(tg.clone(), 0);
            let installed = self.fd_table.install_below(
                file,
                true,
                0,
                i32::try_from(limit).unwrap_or(i32::MAX),
            );
            // The pointer was checked writable above; a racing unmap leaves the fd unnamed.
            if let Ok(fd) = installed {
                let _ = self.mm.copy_out(args.pidfd, &fd.to_ne_bytes());
            }
        }
        if go_tx.send(true).is_err() {
            kernel.task_exited(tid, tg.pid, 0);
            return Err(Errno::EAGAIN);
        }
        if let Some(v) = vfork {
            v.wait();
        }
        Ok(tid)
    }
}

/// Capability numbers (`include/uapi/linux/capability.h`).
const CAP_SYS_ADMIN: u32 = 21;
const CAP_SYS_RESOURCE: u32 = 24;

impl Task {
    /// RLIMIT_NPROC as Linux's `copy_process` applies it: EAGAIN when the tasks (threads
    /// included) of the caller's real uid already number at least the soft limit, unless the
    /// caller is uid 0 or has CAP_SYS_RESOURCE or CAP_SYS_ADMIN.
    fn check_nproc(&self) -> SysResult<()> {
        let limit = self
            .tg
            .with_state(|s| s.rlimits[libc::RLIMIT_NPROC as usize].cur);
        let uid = self.creds.uid;
        if limit == crate::kernel::thread_group::RLIM_INFINITY
            || uid == 0
            || self.creds.has_cap(CAP_SYS_RESOURCE)
            || self.creds.has_cap(CAP_SYS_ADMIN)
        {
            return Ok(());
        }
        if tasks_of_uid(&self.kernel, uid, self.tg.pid) as u64 >= limit {
            return Err(Errno::EAGAIN);
        }
        Ok(())
    }
}

/// How many tasks of the sandbox belong to real uid `uid` (Linux's per-user
/// `UCOUNT_RLIMIT_NPROC`): every thread of a live process, and a zombie until it is reaped.
/// A process's uid is the one its leader published (`ThreadGroup::view_creds`); `own_pid`
/// (whose caller is checking) is counted as having `uid`.
fn tasks_of_uid(kernel: &crate::kernel::Kernel, uid: u32, own_pid: i32) -> usize {
    let procs: Vec<(i32, Arc<ThreadGroup>, usize)> = kernel
        .tree()
        .procs
        .iter()
        .map(|(pid, p)| {
            let n = if p.zombie.is_some() {
                1
            } else {
                p.threads.len()
            };
            (*pid, p.tg.clone(), n)
        })
        .collect();
    procs
        .into_iter()
        .filter(|(pid, tg, _)| *pid == own_pid || tg.view_creds().is_some_and(|c| c.uid == uid))
        .map(|(_, _, n)| n)
        .sum()
}

/// Everything the child's host thread needs to build its `Task`.
struct ChildSeed {
    kernel: Arc<crate::kernel::Kernel>,
    tid: i32,
    tg: Arc<ThreadGroup>,
    fd_table: Arc<FdTable>,
    fs: Arc<crate::vfs::FsContext>,
    creds: Arc<crate::kernel::Credentials>,
    regs: crate::platform::Regs,
    signal_mask: u64,
    clear_child_tid: u64,
    child_settid: Option<u64>,
    alt_stack: (u64, i32, u64),
    no_new_privs: bool,
    seccomp: crate::kernel::seccomp::TaskSeccomp,
    vfork_done: Option<Arc<VforkDone>>,
}

/// The child's host thread: adopt the stub, report, wait for the go, run.
fn child_main(
    seed: ChildSeed,
    memory: ChildMemory,
    ready: mpsc::Sender<Result<Arc<dyn Interrupter>, Errno>>,
    go: mpsc::Receiver<bool>,
) {
    let kernel = seed.kernel.clone();
    let t0 = std::time::Instant::now();
    let context = kernel.platform.new_context();
    let t_ctx = t0.elapsed();
    let mm = match memory {
        ChildMemory::Fork(stub, parent_mm) => match kernel.platform.adopt_address_space(stub) {
            Ok(space) => {
                let t_adopt = t0.elapsed();
                let mm = Arc::new(parent_mm.fork(space));
                crate::debug!(
                    "fork child timing (µs): context {}, adopt stub {}, copy VMAs {}",
                    t_ctx.as_micros(),
                    (t_adopt - t_ctx).as_micros(),
                    (t0.elapsed() - t_adopt).as_micros()
                );
                mm
            }
            Err(e) => {
                crate::warn!("fork: adopting the child's stub: {e}");
                let _ = ready.send(Err(Errno::ENOMEM));
                return;
            }
        },
        ChildMemory::Shared(stub, mm) => match mm.address_space().adopt_thread(stub) {
            Ok(()) => mm,
            Err(e) => {
                crate::warn!("clone: adopting the new stub thread: {e}");
                let _ = ready.send(Err(Errno::ENOMEM));
                return;
            }
        },
    };
    if ready.send(Ok(context.interrupter())).is_err() {
        return;
    }
    if go.recv().is_err() {
        crate::kernel::task::leave_address_space(mm);
        return;
    }
    let Some(handle) = kernel.task(seed.tid) else {
        return;
    };
    if let Some(addr) = seed.child_settid {
        let _ = mm.copy_out(addr, &seed.tid.to_ne_bytes());
    }
    let task = Task {
        kernel: kernel.clone(),
        tid: seed.tid,
        tg: seed.tg,
        mm,
        fd_table: seed.fd_table,
        fs: seed.fs,
        creds: seed.creds,
        regs: seed.regs,
        signal_mask: seed.signal_mask,
        clear_child_tid: seed.clear_child_tid,
        robust_list: (0, 0),
        alt_stack: seed.alt_stack,
        exit_status: None,
        thread_exit: None,
        regs_replaced: false,
        waker: handle.waker.clone(),
        signals: Default::default(),
        handle,
        no_new_privs: seed.no_new_privs,
        seccomp: seed.seccomp,
        vfork_done: seed.vfork_done,
        app_time: Default::default(),
        context,
    };
    task.run();
}
