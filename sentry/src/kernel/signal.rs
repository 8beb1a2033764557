//! Signal state and delivery (after gVisor's `pkg/sentry/kernel/task_signals.go` and
//! `arch/x86/kernel/signal.c`). SKELETON with today's behaviour: the signals engineer fills in
//! pending queues, frames and restarts behind these three hooks, which the task loop calls.

use crate::kernel::task::ExitStatus;
use crate::kernel::Task;
use crate::SysResult;

/// Per-thread signal state (pending signals addressed to this thread).
#[derive(Debug, Default)]
pub struct TaskSignals {}

/// Per-process signal state (pending signals addressed to the process).
#[derive(Debug, Default)]
pub struct ProcessSignals {}

/// Called by the task loop before every switch into application code: delivers what is
/// pending and unblocked (runs a handler by building a frame, or takes the default action,
/// which may set `task.exit_status`).
pub fn deliver_pending(_task: &mut Task) {}

/// A synchronous fault from the platform (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP).
pub fn force_fault_signal(task: &mut Task, signo: i32, code: i32, addr: u64) {
    crate::debug!(
        "task {}: fault signal {signo} code {code} at {addr:#x}",
        task.tid
    );
    task.exit_status = Some(ExitStatus::Signaled(signo));
}

/// Called with every syscall's result before it is written to `rax`: where restart codes
/// (ERESTARTSYS and friends) are recorded and translated.
pub fn on_syscall_return(
    _task: &mut Task,
    _args: &crate::kernel::SyscallArgs,
    result: SysResult<u64>,
) -> SysResult<u64> {
    result
}
