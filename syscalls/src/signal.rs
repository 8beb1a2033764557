//! Signal bookkeeping: rt_sigaction(2), rt_sigprocmask(2), sigaltstack(2), kill(2), tgkill(2).
//! Actions and masks are recorded with Linux's checks; a signal sent to the caller's own
//! process takes its default action (handlers run once signal delivery lands).

use sentry::kernel::thread_group::SigAction;
use sentry::kernel::{ExitStatus, SyscallArgs, Task};
use sentry::{Errno, SysResult};

const SIGSET_SIZE: u64 = 8;
const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;

fn signal_number(raw: i32) -> SysResult<usize> {
    if !(1..=64).contains(&raw) {
        return Err(Errno::EINVAL);
    }
    Ok(raw as usize)
}

fn bit(sig: usize) -> u64 {
    1u64 << (sig - 1)
}

/// SIGKILL and SIGSTOP can be neither caught, blocked nor ignored.
const UNBLOCKABLE: u64 = (1 << (libc::SIGKILL - 1)) | (1 << (libc::SIGSTOP - 1));

/// `struct sigaction` as the kernel lays it out for x86_64 (`kernel_sigaction`): handler,
/// flags, restorer, mask; 32 bytes.
fn action_bytes(a: &SigAction) -> [u8; 32] {
    let mut b = [0u8; 32];
    for (i, v) in [a.handler, a.flags, a.restorer, a.mask].iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
    }
    b
}

fn action_from(b: &[u8; 32]) -> SigAction {
    let word =
        |i: usize| u64::from_ne_bytes(b[i * 8..i * 8 + 8].try_into().expect("invariant: 8 bytes"));
    SigAction {
        handler: word(0),
        flags: word(1),
        restorer: word(2),
        mask: word(3) & !UNBLOCKABLE,
    }
}

pub fn sys_rt_sigaction(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let sig = signal_number(a.i32(0))?;
    if a.u64(3) != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let new = if a.addr(1) != 0 {
        if bit(sig) & UNBLOCKABLE != 0 {
            return Err(Errno::EINVAL);
        }
        let mut b = [0u8; 32];
        t.mm.copy_in(a.addr(1), &mut b)?;
        Some(action_from(&b))
    } else {
        None
    };
    let old = t.tg.with_state(|s| {
        let old = s.actions[sig - 1];
        if let Some(n) = new {
            s.actions[sig - 1] = n;
        }
        old
    });
    if a.addr(2) != 0 {
        t.mm.copy_out(a.addr(2), &action_bytes(&old))?;
    }
    Ok(0)
}

pub fn sys_rt_sigprocmask(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    if a.u64(3) != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let old = t.signal_mask;
    if a.addr(1) != 0 {
        let mut b = [0u8; 8];
        t.mm.copy_in(a.addr(1), &mut b)?;
        let set = u64::from_ne_bytes(b);
        let mask = match a.i32(0) {
            libc::SIG_BLOCK => old | set,
            libc::SIG_UNBLOCK => old & !set,
            libc::SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        };
        t.signal_mask = mask & !UNBLOCKABLE;
    }
    if a.addr(2) != 0 {
        t.mm.copy_out(a.addr(2), &old.to_ne_bytes())?;
    }
    Ok(0)
}

const MINSIGSTKSZ: u64 = 2048;

/// sigaltstack(2); `stack_t` is { sp, flags (int, padded), size }: 24 bytes.
pub fn sys_sigaltstack(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let old = t.alt_stack;
    if a.addr(0) != 0 {
        let mut b = [0u8; 24];
        t.mm.copy_in(a.addr(0), &mut b)?;
        let sp = u64::from_ne_bytes(b[..8].try_into().expect("invariant: 8 bytes"));
        let flags = i32::from_ne_bytes(b[8..12].try_into().expect("invariant: 4 bytes"));
        let size = u64::from_ne_bytes(b[16..].try_into().expect("invariant: 8 bytes"));
        const SS_AUTODISARM: i32 = 1 << 31;
        match flags & !SS_AUTODISARM {
            libc::SS_DISABLE => t.alt_stack = (0, libc::SS_DISABLE, 0),
            0 => {
                if size < MINSIGSTKSZ {
                    return Err(Errno::ENOMEM);
                }
                t.alt_stack = (sp, flags, size);
            }
            _ => return Err(Errno::EINVAL),
        }
    }
    if a.addr(1) != 0 {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&old.0.to_ne_bytes());
        b[8..12].copy_from_slice(&old.1.to_ne_bytes());
        b[16..].copy_from_slice(&old.2.to_ne_bytes());
        t.mm.copy_out(a.addr(1), &b)?;
    }
    Ok(0)
}

/// Signals whose default action is to ignore them (`signal(7)`).
fn default_ignored(sig: usize) -> bool {
    matches!(
        sig as i32,
        libc::SIGCHLD | libc::SIGURG | libc::SIGWINCH | libc::SIGCONT
    )
}

/// Delivers `sig` to the caller's own process by its disposition: ignored, or the default
/// action, which for every other signal terminates the process.
fn signal_self(t: &mut Task, sig: usize) -> SysResult<u64> {
    let action = t.tg.with_state(|s| s.actions[sig - 1]);
    match action.handler {
        SIG_IGN => Ok(0),
        SIG_DFL if default_ignored(sig) => Ok(0),
        SIG_DFL => {
            t.exit_status = Some(ExitStatus::Signaled(sig as i32));
            Ok(0)
        }
        // A handler is installed but delivery is not implemented yet: the default action is
        // the nearest honest behaviour for the fatal signals programs send themselves (abort).
        _ if sig as i32 == libc::SIGABRT => {
            t.exit_status = Some(ExitStatus::Signaled(sig as i32));
            Ok(0)
        }
        _ => {
            sentry::warn!("signal {sig} has a handler, which cannot run yet: signal dropped");
            Ok(0)
        }
    }
}

pub fn sys_kill(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let pid = a.i32(0);
    let raw = a.i32(1);
    if !(0..=64).contains(&raw) {
        return Err(Errno::EINVAL);
    }
    let own = t.tg.pid;
    let targets_self = pid == own || pid == 0 || pid == -1 || pid == -own;
    if !targets_self {
        return Err(Errno::ESRCH);
    }
    if raw == 0 {
        return Ok(0);
    }
    signal_self(t, raw as usize)
}

pub fn sys_tgkill(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (tgid, tid, raw) = (a.i32(0), a.i32(1), a.i32(2));
    if tgid <= 0 || tid <= 0 || !(0..=64).contains(&raw) {
        return Err(Errno::EINVAL);
    }
    if tgid != t.tg.pid || tid != t.tid {
        return Err(Errno::ESRCH);
    }
    if raw == 0 {
        return Ok(0);
    }
    signal_self(t, raw as usize)
}
