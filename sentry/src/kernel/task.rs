//! A task: one application thread and the sentry host thread that runs it (after gVisor's
//! `pkg/sentry/kernel/task_run.go` and `task_syscall.go`). The task loop switches into the
//! platform, dispatches each syscall through the table, and writes the result back. One host
//! thread runs each task; `kernel/clone.rs` starts new ones, `exit` below tears one down
//! (Linux `kernel/exit.c` `do_exit`).

use std::os::fd::OwnedFd;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use crate::kernel::process_tree::TaskHandle;
use crate::kernel::syscall::{Support, SyscallArgs};
use crate::kernel::thread_group::ThreadGroup;
use crate::kernel::{Credentials, Kernel};
use crate::mm::MemoryManager;
use crate::platform::{Context, Event, Regs};
use crate::vfs::{FdTable, FsContext};
use crate::{Errno, SysResult};

/// How a process ended, as wait(2) reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
}

impl ExitStatus {
    /// The status a shell shows: the exit code, or 128+N for death by signal N.
    pub fn shell_code(&self) -> i32 {
        match *self {
            ExitStatus::Exited(c) => c & 0xff,
            ExitStatus::Signaled(s) => 128 + s,
        }
    }
}

/// One application thread.
pub struct Task {
    pub kernel: Arc<Kernel>,
    pub tid: i32,
    pub tg: Arc<ThreadGroup>,
    pub mm: Arc<MemoryManager>,
    pub fd_table: Arc<FdTable>,
    pub fs: Arc<FsContext>,
    pub creds: Arc<Credentials>,
    pub regs: Regs,
    /// Blocked signals (rt_sigprocmask), bit N-1 for signal N.
    pub signal_mask: u64,
    /// set_tid_address(2).
    pub clear_child_tid: u64,
    /// set_robust_list(2): head and length.
    pub robust_list: (u64, u64),
    /// sigaltstack(2): stack pointer, flags, size.
    pub alt_stack: (u64, i32, u64),
    /// Set by exit_group or a fatal signal: the whole process ends with this status; the loop
    /// stops after this syscall.
    pub exit_status: Option<ExitStatus>,
    /// Set by exit(2): only this thread ends, with this code.
    pub thread_exit: Option<i32>,
    /// Set by handlers that replace the registers (execve, rt_sigreturn): the loop does not
    /// write a return value into `rax`.
    pub regs_replaced: bool,
    /// Where this task parks when it blocks; signals interrupt it (see `kernel::wait`).
    pub waker: Arc<crate::kernel::wait::TaskWaker>,
    /// Signals pending for this thread.
    pub signals: crate::kernel::signal::TaskSignals,
    /// What other tasks use to reach this one (also in the kernel's process tree).
    pub handle: Arc<TaskHandle>,
    /// prctl(PR_SET_NO_NEW_PRIVS).
    pub no_new_privs: bool,
    /// seccomp(2) mode and filters (`kernel::seccomp`).
    pub seccomp: crate::kernel::seccomp::TaskSeccomp,
    /// Set for a child of vfork: completed when it execs or exits, releasing the parent.
    pub vfork_done: Option<Arc<VforkDone>>,
    /// Time this thread spent running application code (between switching into the
    /// application and its next trap), its user time as gVisor accounts it: the host counts
    /// CPU time per stub process only, for the sentry.
    pub app_time: std::time::Duration,
    pub(super) context: Box<dyn Context>,
}

/// The completion a vfork parent waits on (Linux `struct completion vfork_done`).
#[derive(Default)]
pub struct VforkDone {
    done: Mutex<bool>,
    cv: Condvar,
}

impl VforkDone {
    pub fn complete(&self) {
        *self
            .done
            .lock()
            .expect("invariant: vfork lock is never poisoned") = true;
        self.cv.notify_all();
    }

    /// Blocks until `complete` (not interruptible, as Linux's vfork wait is killable only).
    pub fn wait(&self) {
        let mut d = self
            .done
            .lock()
            .expect("invariant: vfork lock is never poisoned");
        while !*d {
            d = self
                .cv
                .wait(d)
                .expect("invariant: vfork lock is never poisoned");
        }
    }
}

impl Task {
    /// The init task: pid 1, with the given stdio as fds 0-2 and `cwd` as working directory.
    /// Its address space is made by `execve`.
    pub fn new_init(
        kernel: &Arc<Kernel>,
        creds: Credentials,
        stdio: [OwnedFd; 3],
        cwd: &[u8],
    ) -> Result<Task, crate::kernel::InitError> {
        let pid = kernel.allocate_pid();
        let tg = Arc::new(ThreadGroup::new(pid, 0));
        kernel.register_thread_group(&tg);
        let address_space = kernel.platform.new_address_space()?;
        let mm = Arc::new(MemoryManager::new(
            address_space,
            kernel.platform.layout().clone(),
        ));
        let fd_table = Arc::new(FdTable::new_with_stdio(stdio));
        let fs = Arc::new(FsContext::new(&kernel.vfs, cwd).map_err(|errno| {
            crate::kernel::InitError::Cwd {
                path: cwd.to_vec(),
                errno,
            }
        })?);
        let context = kernel.platform.new_context();
        let waker = crate::kernel::wait::TaskWaker::new();
        let handle = Arc::new(TaskHandle::new(
            pid,
            tg.clone(),
            waker.clone(),
            context.interrupter(),
        ));
        kernel.add_task(handle.clone());
        Ok(Task {
            kernel: kernel.clone(),
            tid: pid,
            tg,
            mm,
            fd_table,
            fs,
            creds: Arc::new(creds),
            regs: kernel.platform.initial_regs(),
            signal_mask: 0,
            clear_child_tid: 0,
            robust_list: (0, 0),
            alt_stack: (0, libc::SS_DISABLE, 0),
            exit_status: None,
            thread_exit: None,
            regs_replaced: false,
            waker,
            signals: Default::default(),
            handle,
            no_new_privs: false,
            seccomp: crate::kernel::seccomp::TaskSeccomp::with_program(
                pid,
                kernel.settings.seccomp.clone(),
            ),
            vfork_done: None,
            app_time: Default::default(),
            context,
        })
    }

    /// execve: loads `path` into a fresh address space and resets the registers to its entry.
    /// On failure the old image is untouched.
    pub fn execve(&mut self, path: &[u8], argv: Vec<Vec<u8>>, envv: Vec<Vec<u8>>) -> SysResult<()> {
        // Phase timing for --debug (where an exec's time goes).
        let timing = crate::log::debug_enabled();
        let t0 = std::time::Instant::now();
        let fresh = self.kernel.platform.new_address_space().map_err(|e| {
            crate::warn!("execve: new address space: {e}");
            Errno::ENOMEM
        })?;
        let old_mm = std::mem::replace(
            &mut self.mm,
            Arc::new(MemoryManager::new(
                fresh,
                self.kernel.platform.layout().clone(),
            )),
        );
        // RLIMIT_AS and RLIMIT_DATA bound the new image as they bounded the old one.
        self.apply_mm_limits();
        let t_as = t0.elapsed();
        match crate::loader::load(self, path, argv, envv.clone()) {
            Ok(loaded) => {
                let t_load = t0.elapsed();
                // Past the point of no return: the other threads go (Linux `de_thread`), while
                // the old address space still runs them, then it is released if unshared.
                if let Err(e) = self.become_only_thread() {
                    let new_mm = std::mem::replace(&mut self.mm, old_mm);
                    new_mm.address_space().release();
                    return Err(e);
                }
                let t_dethread = t0.elapsed();
                // The robust mutexes this thread holds in the old image are its owner's no
                // more, and the list is forgotten (Linux `futex_exec_release`): walked in the
                // old address space, which still holds it.
                if self.robust_list.0 != 0 {
                    let new_mm = std::mem::replace(&mut self.mm, old_mm.clone());
                    self.exit_robust_list();
                    self.mm = new_mm;
                }
                self.robust_list = (0, 0);
                if Arc::strong_count(&old_mm) == 1 {
                    // The old image's CPU time stays the process's (Linux keeps it on exec).
                    let host_pid = old_mm.address_space().host_pid();
                    self.tg.cpu.retire_address_space(host_pid);
                }
                leave_address_space(old_mm);
                let t_leave = t0.elapsed();
                if Arc::strong_count(&self.fd_table) > 1 {
                    self.fd_table = Arc::new(self.fd_table.fork());
                }
                self.kernel.note_exec(self.tg.pid);
                // POSIX timers do not survive exec (Linux `exit_itimers` in `begin_new_exec`).
                self.tg.timers.delete_all();
                if let Some(v) = self.vfork_done.take() {
                    v.complete();
                }
                let mut regs = self.kernel.platform.initial_regs();
                regs.rip = loaded.entry;
                regs.rsp = loaded.stack_pointer;
                self.regs = regs;
                self.regs_replaced = true;
                // comm names the file execve was given, not where its symlinks or `#!` lead
                // (Linux `begin_new_exec`: `kbasename(bprm->filename)`).
                let comm = comm_of(path);
                self.tg.with_state(|s| {
                    s.exe_path = loaded.exe_path;
                    s.argv = loaded.argv;
                    s.auxv = loaded.auxv;
                    s.envv = envv;
                    s.comm = comm;
                    // Caught signals revert to default on exec; ignored ones stay ignored.
                    for a in s.actions.iter_mut() {
                        if a.handler > 1 {
                            *a = Default::default();
                        }
                    }
                });
                self.fd_table.close_on_exec();
                self.publish_views();
                if timing {
                    crate::debug!(
                        "execve timing (µs): new address space {}, load {}, de_thread {}, \
                         release old {}, total {}",
                        t_as.as_micros(),
                        (t_load - t_as).as_micros(),
                        (t_dethread - t_load).as_micros(),
                        (t_leave - t_dethread).as_micros(),
                        t0.elapsed().as_micros()
                    );
                }
                Ok(())
            }
            Err(e) => {
                let new_mm = std::mem::replace(&mut self.mm, old_mm);
                new_mm.address_space().release();
                Err(e)
            }
        }
    }

    /// execve's `de_thread`: kills every other thread of the process and waits for them; a
    /// non-leader caller then takes over the pid as its tid.
    fn become_only_thread(&mut self) -> SysResult<()> {
        let pid = self.tg.pid;
        self.kernel.kill_other_threads(pid, self.tid)?;
        if self.tid != pid {
            let handle = Arc::new(TaskHandle::new(
                pid,
                self.tg.clone(),
                self.waker.clone(),
                self.context.interrupter(),
            ));
            handle.set_affinity(self.handle.affinity());
            self.kernel.take_over_leader(self.tid, handle.clone());
            self.tg.cpu.rename_thread(self.tid, pid);
            self.tg.signals.unregister_thread(self.tid);
            self.tg
                .signals
                .register_thread(pid, &self.waker, &self.signals);
            self.tid = pid;
            self.handle = handle;
        }
        Ok(())
    }

    /// Hands the process's RLIMIT_AS and RLIMIT_DATA to its address space, which enforces
    /// them (setrlimit, execve, the spec's limits at start).
    pub fn apply_mm_limits(&self) {
        let (as_limit, data_limit) = self.tg.with_state(|s| {
            (
                s.rlimits[libc::RLIMIT_AS as usize].cur,
                s.rlimits[libc::RLIMIT_DATA as usize].cur,
            )
        });
        self.mm.set_limits(as_limit, data_limit);
    }

    /// unshare(CLONE_FILES): the task's own copy of its descriptor table.
    pub fn unshare_files(&mut self) {
        self.fd_table = Arc::new(self.fd_table.fork());
        self.publish_views();
    }

    /// unshare(CLONE_FS): the task's own root, working directory and umask.
    pub fn unshare_fs(&mut self) {
        self.fs = Arc::new(self.fs.fork());
        self.publish_views();
    }

    /// Replaces the task's credentials (the set*id family, capset), where /proc/PID of
    /// other processes and their permission checks see them too.
    pub fn set_creds(&mut self, creds: crate::kernel::creds::Credentials) {
        self.creds = Arc::new(creds);
        self.publish_views();
    }

    /// Lets /proc/PID of the process (its leader's view) reach this task's resources; called
    /// again whenever one of them is replaced (execve, a credentials change).
    fn publish_views(&self) {
        if self.tid == self.tg.pid {
            self.tg
                .publish_views(&self.mm, &self.fd_table, &self.fs, &self.creds);
        }
    }

    /// Whether the task has been told to stop (exit, exit_group, a kill from another task).
    fn should_exit(&mut self) -> bool {
        if self.exit_status.is_none() && self.thread_exit.is_none() && self.handle.is_killed() {
            self.thread_exit = Some(0);
        }
        self.exit_status.is_some() || self.thread_exit.is_some()
    }

    /// Runs the task until it exits; returns how its process ended. For the init task (pid 1)
    /// it returns only once every task of the sandbox is gone.
    pub fn run(mut self) -> ExitStatus {
        self.publish_views();
        self.tg
            .cpu
            .add_thread(self.tid, nix::unistd::gettid().as_raw());
        loop {
            if self.should_exit() {
                return self.exit();
            }
            crate::kernel::signal::deliver_pending(&mut self);
            if self.should_exit() {
                continue;
            }
            // Disjoint field borrows: no extra reference to the address space is taken, so a
            // syscall handler sees its true sharing count (exec and exit check it) and the
            // round trip costs no atomic reference-count traffic.
            let entered = Instant::now();
            let switched = self
                .context
                .switch(self.mm.address_space().as_ref(), &mut self.regs);
            self.app_time += entered.elapsed();
            let event = match switched {
                Ok(ev) => ev,
                Err(e) => {
                    crate::warn!("task {}: platform failure: {e}", self.tid);
                    self.exit_status = Some(ExitStatus::Signaled(libc::SIGKILL));
                    continue;
                }
            };
            match event {
                Event::Syscall => self.syscall_trap(),
                Event::Fault { signo, code, addr } => {
                    crate::kernel::signal::force_fault_signal(&mut self, signo, code, addr);
                }
                Event::Signal(_) | Event::Interrupted => {}
                Event::Exited => {
                    self.exit_status = Some(ExitStatus::Signaled(libc::SIGKILL));
                }
            }
        }
    }

    /// do_exit: group exit if requested, clear_child_tid, the fd table and address space let
    /// go, the process tree told (zombie, reparenting, parent woken).
    fn exit(mut self) -> ExitStatus {
        let kernel = self.kernel.clone();
        let pid = self.tg.pid;
        let tid = self.tid;
        if let Some(status) = self.exit_status {
            kernel.exit_group(pid, status);
        }
        let code = self.thread_exit.unwrap_or(0);
        if let Some(v) = self.vfork_done.take() {
            v.complete();
        }
        self.exit_robust_list();
        if self.clear_child_tid != 0 && Arc::strong_count(&self.mm) > 1 {
            let addr = self.clear_child_tid;
            if self.mm.copy_out(addr, &0u32.to_ne_bytes()).is_ok() {
                let _ =
                    kernel
                        .futexes
                        .wake(&self.mm, addr, false, 1, crate::kernel::futex::BITSET_ANY);
            }
        }
        self.tg.signals.unregister_thread(tid);
        self.tg.cpu.remove_thread(tid);
        if self.tg.signals.thread_ids().is_empty() {
            // The last thread is gone: so are the process's POSIX timers, and its CPU time
            // is final before the parent can reap it.
            self.tg.timers.delete_all();
            // SEM_UNDO adjustments and shm attachments go before the parent can see the exit.
            kernel.ipc.exit_process(pid, &self.mm);
            // A session leader's pseudo-terminal controls no session any more.
            if kernel.sid_of(pid) == Ok(pid) {
                crate::fs::devpts::session_leader_exited(pid);
            }
            if Arc::strong_count(&self.mm) == 1 {
                let host_pid = self.mm.address_space().host_pid();
                self.tg.cpu.retire_address_space(host_pid);
            }
            self.tg.cpu.finish();
        }
        let tg = self.tg.clone();
        let Task { mm, fd_table, .. } = self;
        drop(fd_table);
        // The process tree learns first: tearing the host stub down (kill and reap, ~100 µs
        // on ptrace) is invisible to the application, and a parent blocked in wait4 need not
        // wait for it.
        let status = kernel.task_exited(tid, pid, code);
        if status.is_some() {
            // The process is a zombie: its pidfds poll readable.
            tg.mark_exited();
        }
        leave_address_space(mm);
        if tid == 1 {
            let status = status
                .or_else(|| kernel.wait_zombie(1))
                .unwrap_or(ExitStatus::Exited(code));
            kernel.kill_all_and_wait();
            return status;
        }
        status.unwrap_or(ExitStatus::Exited(code))
    }

    /// Linux `exit_robust_list`: marks every robust mutex this thread holds FUTEX_OWNER_DIED
    /// and wakes one waiter of each (a PI one goes to its first waiter: `FutexTable::owner_died`).
    /// Bit 0 of an entry says the futex is PI. Bad pointers end the walk silently.
    fn exit_robust_list(&mut self) {
        let (head, len) = self.robust_list;
        if head == 0 || len != 24 {
            return;
        }
        // The head's three words share a page: one host read for them.
        let mut reader = crate::mm::PageReader::new(&self.mm);
        let mut read_u64 = |a: u64| reader.read_u64(a).ok();
        let Some(offset) = read_u64(head + 8) else {
            return;
        };
        let pending = read_u64(head + 16).unwrap_or(0);
        let mut entry = read_u64(head).unwrap_or(head);
        let handle_one = |t: &Task, e: u64| {
            let word = (e & !1).wrapping_add(offset);
            t.kernel.futexes.owner_died(&t.mm, t.tid, word, e & 1 != 0);
        };
        let mut limit = 2048;
        while entry & !1 != head && entry != 0 && limit > 0 {
            let next = read_u64(entry & !1);
            if entry & !1 != pending & !1 {
                handle_one(self, entry);
            }
            match next {
                Some(n) => entry = n,
                None => break,
            }
            limit -= 1;
        }
        if pending != 0 {
            handle_one(self, pending);
        }
    }

    /// Handles the syscall trap described by `self.regs` (number in `orig_rax`, arguments in
    /// `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`) as the task loop does after a switch returns
    /// `Event::Syscall`: the application's seccomp filter, the table lookup, `--strace`, the
    /// handler, restart bookkeeping, and the result into `rax`. Public so that tests can drive
    /// the whole dispatch path without a switch into application code.
    ///
    /// A simple syscall (getpid, a 1-byte pipe read) allocates nothing and formats nothing
    /// here: the row is copied out of the table, and with `--strace` off its check is one
    /// load (`syscalls/tests/no_alloc` holds this). An application's seccomp filter costs no
    /// lock either while it is unchanged (`seccomp::enforce` re-reads the shared state only
    /// when its generation moved).
    pub fn syscall_trap(&mut self) {
        let args = SyscallArgs {
            nr: self.regs.orig_rax,
            raw: [
                self.regs.rdi,
                self.regs.rsi,
                self.regs.rdx,
                self.regs.r10,
                self.regs.r8,
                self.regs.r9,
            ],
        };
        self.regs_replaced = false;
        if self.seccomp.active() && crate::kernel::seccomp::enforce(self, &args) {
            return;
        }
        // The entry is copied out so that no reference to the kernel (no Arc clone) is held
        // across the handler: a simple syscall costs no atomic traffic here.
        let entry = self.kernel.table.lookup(args.nr).copied();
        let entry = entry.as_ref();
        let traced = self
            .kernel
            .strace
            .as_ref()
            .is_some_and(|s| s.wants(entry.map(|e| e.name)));
        let started = traced.then(|| {
            (
                Instant::now(),
                crate::kernel::strace::format_enter(self, entry, &args),
            )
        });
        let result: SysResult<u64> = match entry.map(|e| e.support) {
            Some(Support::Full(h)) | Some(Support::Partial(h, _)) => h(self, &args),
            Some(Support::Unsupported(errno, _)) => Err(errno),
            None => Err(Errno::ENOSYS),
        };
        if matches!(
            entry.map(|e| e.support),
            None | Some(Support::Unsupported(..))
        ) && self.kernel.note_unimplemented(args.nr)
        {
            crate::warn!(
                "unsupported syscall {} ({}) returned {:?}",
                args.nr,
                entry.map(|e| e.name).unwrap_or("unknown"),
                result.err().unwrap_or(Errno::ENOSYS)
            );
        }
        if let Some((t0, line)) = started {
            crate::kernel::strace::emit(self, entry, &args, &line, &result, t0.elapsed());
        }
        let result = crate::kernel::signal::on_syscall_return(self, &args, result);
        if !self.regs_replaced {
            self.regs.rax = match result {
                Ok(v) => v,
                Err(e) => (-(e as i64)) as u64,
            };
        }
    }
}

/// Access to the platform context for signal delivery (kernel/signal.rs).
impl Task {
    /// A handle that kicks this task out of application code (signals sent by others).
    pub fn interrupter(&self) -> Arc<dyn crate::platform::Interrupter> {
        self.context.interrupter()
    }

    /// The application's FP state in the signal-frame (XSAVE) layout.
    pub fn fpstate(&mut self) -> Result<Vec<u8>, crate::platform::PlatformError> {
        let mm = self.mm.clone();
        self.context.fpstate(mm.address_space().as_ref())
    }

    /// Restores FP state read by `fpstate` (rt_sigreturn).
    pub fn set_fpstate(&mut self, state: &[u8]) -> Result<(), crate::platform::PlatformError> {
        let mm = self.mm.clone();
        self.context.set_fpstate(mm.address_space().as_ref(), state)
    }
}

/// The calling host thread stops using `mm`'s address space: its stub thread ends, and the
/// address space is released with its last thread (or, on a platform without per-thread stubs,
/// with the last reference).
pub(crate) fn leave_address_space(mm: Arc<MemoryManager>) {
    match mm.address_space().exit_thread() {
        Ok(()) => {}
        Err(Errno::ENOSYS) => {
            if let Some(unshared) = Arc::into_inner(mm) {
                unshared.address_space().release();
            }
        }
        Err(e) => crate::warn!("leaving an address space: {e}"),
    }
}

/// The first 15 bytes of the file name of `path` (the path execve was given), as Linux sets
/// `comm` on exec.
fn comm_of(path: &[u8]) -> Vec<u8> {
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    name[..name.len().min(15)].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_is_basename_truncated() {
        assert_eq!(comm_of(b"/usr/bin/ls"), b"ls".to_vec());
        assert_eq!(
            comm_of(b"/x/abcdefghijklmnopqrstuvwxyz"),
            b"abcdefghijklmno".to_vec()
        );
    }

    #[test]
    fn shell_code_of_signal_is_128_plus() {
        assert_eq!(ExitStatus::Signaled(9).shell_code(), 137);
        assert_eq!(ExitStatus::Exited(42).shell_code(), 42);
        assert_eq!(ExitStatus::Exited(256 + 3).shell_code(), 3);
    }
}
