//! A task: one application thread and the sentry host thread that runs it (after gVisor's
//! `pkg/sentry/kernel/task_run.go` and `task_syscall.go`). The task loop switches into the
//! platform, dispatches each syscall through the table, and writes the result back.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Instant;

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
    /// Set by exit/exit_group or a fatal signal: the loop stops after this syscall.
    pub exit_status: Option<ExitStatus>,
    /// Set by handlers that replace the registers (execve, rt_sigreturn): the loop does not
    /// write a return value into `rax`.
    pub regs_replaced: bool,
    /// Where this task parks when it blocks; signals interrupt it (see `kernel::wait`).
    pub waker: Arc<crate::kernel::wait::TaskWaker>,
    /// Signals pending for this thread.
    pub signals: crate::kernel::signal::TaskSignals,
    context: Box<dyn Context>,
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
            regs_replaced: false,
            waker: crate::kernel::wait::TaskWaker::new(),
            signals: Default::default(),
            context: kernel.platform.new_context(),
        })
    }

    /// execve: loads `path` into a fresh address space and resets the registers to its entry.
    /// On failure the old image is untouched.
    pub fn execve(&mut self, path: &[u8], argv: Vec<Vec<u8>>, envv: Vec<Vec<u8>>) -> SysResult<()> {
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
        match crate::loader::load(self, path, argv, envv.clone()) {
            Ok(loaded) => {
                old_mm.address_space().release();
                let mut regs = self.kernel.platform.initial_regs();
                regs.rip = loaded.entry;
                regs.rsp = loaded.stack_pointer;
                self.regs = regs;
                self.regs_replaced = true;
                let comm = comm_of(&loaded.exe_path);
                self.tg.with_state(|s| {
                    s.exe_path = loaded.exe_path;
                    s.argv = loaded.argv;
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
                Ok(())
            }
            Err(e) => {
                let new_mm = std::mem::replace(&mut self.mm, old_mm);
                new_mm.address_space().release();
                Err(e)
            }
        }
    }

    /// Runs the task until it exits; returns how.
    pub fn run(mut self) -> ExitStatus {
        loop {
            if let Some(status) = self.exit_status {
                self.mm.address_space().release();
                self.kernel.unregister_thread_group(self.tg.pid);
                return status;
            }
            crate::kernel::signal::deliver_pending(&mut self);
            if self.exit_status.is_some() {
                continue;
            }
            let mm = self.mm.clone();
            let event = match self
                .context
                .switch(mm.address_space().as_ref(), &mut self.regs)
            {
                Ok(ev) => ev,
                Err(e) => {
                    crate::warn!("task {}: platform failure: {e}", self.tid);
                    self.exit_status = Some(ExitStatus::Signaled(libc::SIGKILL));
                    continue;
                }
            };
            match event {
                Event::Syscall => self.do_syscall(),
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

    fn do_syscall(&mut self) {
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
        let kernel = self.kernel.clone();
        let entry = kernel.table.lookup(args.nr);
        let strace = kernel
            .strace
            .as_ref()
            .filter(|s| s.wants(entry.map(|e| e.name)));
        let started = strace.map(|_| {
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
        ) && kernel.note_unimplemented(args.nr)
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

/// The first 15 bytes of the file name of `path`, as Linux sets `comm` on exec.
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
