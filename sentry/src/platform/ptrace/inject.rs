//! Syscall injection into a stopped stub thread: point `rip` at the stub's `syscall; int3`,
//! resume with PTRACE_CONT and collect `rax` at the trap (after gVisor's
//! `pkg/sentry/platform/ptrace/subprocess.go` `syscall`; register use per `syscall(2)`).

use super::sys::{Stop, StoppedTracee};
use crate::platform::Regs;
use crate::Errno;

/// 64-bit user code and stack selectors (`arch/x86/include/asm/segment.h`).
pub const USER_CS: u64 = 0x33;
pub const USER_DS: u64 = 0x2b;
/// IF plus the always-one bit 1.
pub const INITIAL_EFLAGS: u64 = 0x202;

/// Turns a raw syscall return value into the result or the host errno.
pub fn syscall_result(raw: u64) -> Result<u64, Errno> {
    let value = raw as i64;
    if (-4095..0).contains(&value) {
        Err(Errno::from_raw(-value as i32))
    } else {
        Ok(raw)
    }
}

/// True for the signals a synchronous fault raises.
pub fn is_fault_signal(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGSEGV | libc::SIGBUS | libc::SIGFPE | libc::SIGILL | libc::SIGTRAP
    )
}

/// Runs host syscall `nr(args)` in `stub` at code address `entry` (which must be a `syscall`
/// followed, on the path that returns to the tracer, by an `int3`). The stub's registers are
/// saved before and restored after. Returns the stub again stopped, with the raw `rax`.
/// Signals that arrive meanwhile (a stray SIGSTOP, the interrupt signal) are suppressed; the
/// interrupter keeps its own pending flag, so no interrupt is lost. `ESRCH` if the stub died.
///
/// A stub under the seccomp-trap platform's filter stops at `PTRACE_EVENT_SECCOMP` before the
/// injected call runs; it is let through only if it is that call, at that place
/// (`check_seccomp_stop`). Anything else means the application rewrote the stub page to borrow
/// the tracer's privilege: the stub is killed and the answer is `ESRCH`.
pub fn inject_syscall(
    stub: StoppedTracee,
    entry: u64,
    nr: u64,
    args: [u64; 6],
) -> Result<(StoppedTracee, u64), Errno> {
    let saved = stub.getregs()?;
    let regs = Regs {
        rax: nr,
        orig_rax: u64::MAX,
        rdi: args[0],
        rsi: args[1],
        rdx: args[2],
        r10: args[3],
        r8: args[4],
        r9: args[5],
        rip: entry,
        cs: USER_CS,
        ss: USER_DS,
        eflags: INITIAL_EFLAGS,
        ..saved
    };
    stub.setregs(&regs)?;
    let mut running = stub.cont()?;
    loop {
        match running.wait()? {
            Stop::Signal(stopped, libc::SIGTRAP) => {
                let after = stopped.getregs()?;
                stopped.setregs(&saved)?;
                return Ok((stopped, after.rax));
            }
            Stop::Signal(stopped, sig) if is_fault_signal(sig) => {
                stopped.setregs(&saved)?;
                return Err(Errno::EFAULT);
            }
            Stop::Event(stopped) if stopped.is_seccomp_event() => {
                check_seccomp_stop(&stopped, entry, nr)?;
                running = stopped.cont()?;
            }
            Stop::Signal(stopped, _) | Stop::Event(stopped) | Stop::Syscall(stopped) => {
                running = stopped.cont()?;
            }
            Stop::Exited => return Err(Errno::ESRCH),
        }
    }
}

/// Lets a `PTRACE_EVENT_SECCOMP` stop through only for syscall `nr` made by the `syscall`
/// instruction at `entry`; otherwise kills the stub (see `inject_syscall`).
fn check_seccomp_stop(stopped: &StoppedTracee, entry: u64, nr: u64) -> Result<(), Errno> {
    let regs = stopped.getregs()?;
    if regs.orig_rax == nr && regs.rip == entry + 2 {
        return Ok(());
    }
    crate::warn!(
        "stub thread {} asked its tracer for syscall {} at {:#x} during an injection of {} at          {:#x}: killing it",
        stopped.tid(),
        regs.orig_rax as i64,
        regs.rip,
        nr,
        entry
    );
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(stopped.tid()),
        nix::sys::signal::Signal::SIGKILL,
    );
    Err(Errno::ESRCH)
}

/// Makes `stub` run the host `exit(0)` (ends only that thread) at code address `entry` (a
/// `syscall`) and waits until it is gone and reaped. Stops on the way are resumed.
pub fn inject_thread_exit(stub: StoppedTracee, entry: u64) -> Result<(), Errno> {
    let saved = stub.getregs()?;
    let regs = Regs {
        rax: libc::SYS_exit as u64,
        orig_rax: u64::MAX,
        rdi: 0,
        rip: entry,
        cs: USER_CS,
        ss: USER_DS,
        eflags: INITIAL_EFLAGS,
        ..saved
    };
    stub.setregs(&regs)?;
    let mut running = stub.cont()?;
    loop {
        match running.wait()? {
            Stop::Exited => return Ok(()),
            Stop::Event(stopped) if stopped.is_seccomp_event() => {
                check_seccomp_stop(&stopped, entry, libc::SYS_exit as u64)?;
                running = stopped.cont()?;
            }
            Stop::Signal(stopped, _) | Stop::Event(stopped) | Stop::Syscall(stopped) => {
                running = stopped.cont()?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_result_decodes_errno() {
        assert_eq!(syscall_result(5), Ok(5));
        assert_eq!(syscall_result((-12i64) as u64), Err(Errno::ENOMEM));
        assert_eq!(syscall_result(0x7ff0_0000_0000), Ok(0x7ff0_0000_0000));
        assert_eq!(syscall_result((-4096i64) as u64), Ok((-4096i64) as u64));
    }
}
