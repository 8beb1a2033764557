//! Signal syscalls (signal(7)): rt_sigaction(2), rt_sigprocmask(2), rt_sigpending(2),
//! rt_sigsuspend(2), rt_sigtimedwait(2), rt_sigqueueinfo(2), rt_tgsigqueueinfo(2),
//! rt_sigreturn(2), sigaltstack(2), kill(2), tkill(2), tgkill(2), pause(2), alarm(2),
//! setitimer(2)/getitimer(2) (ITIMER_REAL here; ITIMER_VIRTUAL and ITIMER_PROF on the CPU
//! clocks in `sentry::kernel::posix_timer`). The work lives in `sentry::kernel::signal`.

use std::time::{Duration, Instant};

use sentry::abi::signal::{SigInfo, SigStack, SI_TKILL, SI_USER, SS_AUTODISARM};
use sentry::kernel::posix_timer::{self, ITimer};
use sentry::kernel::signal::{self as ksig, bit, signal_number, RestartKind, UNBLOCKABLE};
use sentry::kernel::thread_group::SigAction;
use sentry::kernel::{SyscallArgs, Task};
use sentry::{Errno, SysResult};

const SIGSET_SIZE: u64 = 8;

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

fn read_sigset(t: &Task, addr: u64, size: u64) -> SysResult<u64> {
    if size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let mut b = [0u8; 8];
    t.mm.copy_in(addr, &mut b)?;
    Ok(u64::from_ne_bytes(b))
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
        let old = s.actions[sig as usize - 1];
        if let Some(n) = new {
            s.actions[sig as usize - 1] = n;
        }
        old
    });
    if new.is_some() {
        ksig::flush_ignored(t, sig);
    }
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
        let set = read_sigset(t, a.addr(1), a.u64(3))?;
        let mask = match a.i32(0) {
            libc::SIG_BLOCK => old | set,
            libc::SIG_UNBLOCK => old & !set,
            libc::SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        };
        // A newly unblocked pending signal is delivered on the way back to the application.
        t.signal_mask = mask & !UNBLOCKABLE;
    }
    if a.addr(2) != 0 {
        t.mm.copy_out(a.addr(2), &old.to_ne_bytes())?;
    }
    Ok(0)
}

pub fn sys_rt_sigpending(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    if a.u64(1) != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let set = ksig::pending(t) & t.signal_mask;
    t.mm.copy_out(a.addr(0), &set.to_ne_bytes())?;
    Ok(0)
}

/// rt_sigsuspend(2): waits with a temporary mask until a handler runs; always EINTR.
pub fn sys_rt_sigsuspend(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let set = read_sigset(t, a.addr(0), a.u64(1))?;
    let old = t.signal_mask;
    t.signal_mask = set & !UNBLOCKABLE;
    t.signals.save_mask_for_suspend(old);
    let r = ksig::block_until(t, None, || false);
    debug_assert!(r.is_err());
    t.signals.set_restart(RestartKind::NoHand);
    Err(Errno::EINTR)
}

/// pause(2).
pub fn sys_pause(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    let _ = ksig::block_until(t, None, || false);
    t.signals.set_restart(RestartKind::NoHand);
    Err(Errno::EINTR)
}

/// rt_sigtimedwait(2): dequeues a signal of `set` (normally blocked), waiting up to the
/// timeout (EAGAIN); another signal's handler ends the wait with EINTR.
pub fn sys_rt_sigtimedwait(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let set = read_sigset(t, a.addr(0), a.u64(3))? & !UNBLOCKABLE;
    let deadline = if a.addr(2) != 0 {
        Some(Instant::now() + crate::time::read_timespec(t, a.addr(2))?)
    } else {
        None
    };
    // While waiting, the signals of `set` count as unblocked (as Linux's `real_blocked`).
    let saved = t.signal_mask;
    let result = loop {
        if let Some(info) = ksig::dequeue_in(t, set) {
            break Ok(info);
        }
        t.signal_mask = saved & !set;
        let r = ksig::block_until(t, deadline, || false);
        t.signal_mask = saved;
        match r {
            Err(Errno::ETIMEDOUT) => break Err(Errno::EAGAIN),
            Err(Errno::EINTR) if ksig::pending(t) & set != 0 => continue,
            Err(e) => break Err(e),
            Ok(()) => continue,
        }
    };
    t.signal_mask = saved;
    match result {
        Ok(info) => {
            if a.addr(1) != 0 {
                t.mm.copy_out(a.addr(1), &info.bytes)?;
            }
            Ok(info.signo() as u64)
        }
        Err(e) => {
            t.signals.set_restart(RestartKind::Never);
            Err(e)
        }
    }
}

/// sigaltstack(2).
pub fn sys_sigaltstack(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let sp = t.regs.rsp;
    let (old_sp, old_flags, old_size) = t.alt_stack;
    let old = SigStack {
        sp: old_sp,
        flags: ksig::alt_stack_flags(t, sp) | (old_flags & SS_AUTODISARM),
        size: old_size,
    };
    if a.addr(0) != 0 {
        let mut b = [0u8; 24];
        t.mm.copy_in(a.addr(0), &mut b)?;
        ksig::set_alt_stack(t, sp, SigStack::from_bytes(&b))?;
    }
    if a.addr(1) != 0 {
        t.mm.copy_out(a.addr(1), &old.to_bytes())?;
    }
    Ok(0)
}

/// rt_sigreturn(2): the registers come from the signal frame; no return value is written.
pub fn sys_rt_sigreturn(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    ksig::sigreturn(t)
}

/// A sender's siginfo for kill-like calls: si_pid and si_uid of the caller.
fn sender_info(t: &Task, sig: i32, code: i32) -> SigInfo {
    SigInfo::from_sender(sig, code, t.tg.pid, t.creds.uid)
}

/// Checks a raw signal number, 0 included (the existence probe).
fn signal_or_probe(raw: i32) -> SysResult<i32> {
    if raw == 0 {
        Ok(0)
    } else {
        signal_number(raw)
    }
}

/// Sends to process `pid`, or only checks it exists for signal 0.
fn kill_process(t: &Task, pid: i32, info: Option<SigInfo>) -> SysResult<()> {
    let tg = t.kernel.thread_group(pid).ok_or(Errno::ESRCH)?;
    if let Some(info) = info {
        ksig::send_to_process(&tg, info);
    }
    Ok(())
}

/// Sends to every live process of process group `pgid`; ESRCH when it has none.
fn kill_group(t: &Task, pgid: i32, info: Option<SigInfo>) -> SysResult<()> {
    let members = t.kernel.process_group(pgid);
    if members.is_empty() {
        return Err(Errno::ESRCH);
    }
    for p in members {
        let _ = kill_process(t, p, info);
    }
    Ok(())
}

pub fn sys_kill(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let pid = a.i32(0);
    let sig = signal_or_probe(a.i32(1))?;
    let info = (sig != 0).then(|| sender_info(t, sig, SI_USER));
    let own = t.tg.pid;
    match pid {
        0 => kill_group(t, t.kernel.pgid_of(own)?, info)?,
        -1 => {
            let targets: Vec<i32> = t
                .kernel
                .pids()
                .into_iter()
                .filter(|&p| p > 1 && p != own)
                .collect();
            if targets.is_empty() {
                return Err(Errno::ESRCH);
            }
            for p in targets {
                let _ = kill_process(t, p, info);
            }
        }
        p if p < 0 => kill_group(t, p.checked_neg().ok_or(Errno::ESRCH)?, info)?,
        p => kill_process(t, p, info)?,
    }
    Ok(0)
}

/// Sends to thread `tid` (of process `tgid`, or of any process when `tgid` is None).
fn kill_thread(t: &Task, tgid: Option<i32>, tid: i32, info: Option<SigInfo>) -> SysResult<()> {
    let tgs = match tgid {
        Some(p) => vec![p],
        None => t.kernel.pids(),
    };
    for p in tgs {
        let Some(tg) = t.kernel.thread_group(p) else {
            continue;
        };
        if !tg.signals.thread_ids().contains(&tid) {
            continue;
        }
        return match info {
            Some(info) => ksig::send_to_thread(&tg, tid, info),
            None => Ok(()),
        };
    }
    Err(Errno::ESRCH)
}

pub fn sys_tgkill(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (tgid, tid) = (a.i32(0), a.i32(1));
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let sig = signal_or_probe(a.i32(2))?;
    let info = (sig != 0).then(|| sender_info(t, sig, SI_TKILL));
    kill_thread(t, Some(tgid), tid, info)?;
    Ok(0)
}

pub fn sys_tkill(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let tid = a.i32(0);
    if tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let sig = signal_or_probe(a.i32(1))?;
    let info = (sig != 0).then(|| sender_info(t, sig, SI_TKILL));
    kill_thread(t, None, tid, info)?;
    Ok(0)
}

/// Reads a user siginfo for rt_(tg)sigqueueinfo; only the caller itself may forge codes that
/// the kernel uses (si_code >= 0 or SI_TKILL), as Linux's EPERM rule.
fn queued_info(t: &Task, addr: u64, sig: i32, to_self: bool) -> SysResult<SigInfo> {
    let mut info = SigInfo::new(0, 0);
    t.mm.copy_in(addr, &mut info.bytes)?;
    if !to_self && (info.code() >= 0 || info.code() == SI_TKILL) {
        return Err(Errno::EPERM);
    }
    info.set_signo(sig);
    Ok(info)
}

pub fn sys_rt_sigqueueinfo(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let pid = a.i32(0);
    let sig = signal_or_probe(a.i32(1))?;
    let info = queued_info(t, a.addr(2), sig, pid == t.tg.pid)?;
    kill_process(t, pid, (sig != 0).then_some(info))?;
    Ok(0)
}

pub fn sys_rt_tgsigqueueinfo(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (tgid, tid) = (a.i32(0), a.i32(1));
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let sig = signal_or_probe(a.i32(2))?;
    let info = queued_info(t, a.addr(3), sig, tgid == t.tg.pid)?;
    kill_thread(t, Some(tgid), tid, (sig != 0).then_some(info))?;
    Ok(0)
}

/// alarm(2): seconds left on the previous alarm (rounded to nearest, at least 1 if armed).
pub fn sys_alarm(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let secs = a.u32(0);
    let (left, _) =
        t.tg.signals
            .set_real_timer(Duration::from_secs(secs.into()), Duration::ZERO);
    let mut s = left.as_secs();
    if left.subsec_micros() >= 500_000 || (s == 0 && !left.is_zero()) {
        s += 1;
    }
    Ok(s)
}

const ITIMER_REAL: i32 = 0;
const ITIMER_VIRTUAL: i32 = 1;
const ITIMER_PROF: i32 = 2;

/// The CPU-time timer `which` names; EINVAL for an unknown one.
fn cpu_itimer(which: i32) -> SysResult<ITimer> {
    match which {
        ITIMER_VIRTUAL => Ok(ITimer::Virtual),
        ITIMER_PROF => Ok(ITimer::Prof),
        _ => Err(Errno::EINVAL),
    }
}

fn timeval_bytes(d: Duration) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(d.as_secs() as i64).to_ne_bytes());
    b[8..].copy_from_slice(&i64::from(d.subsec_micros()).to_ne_bytes());
    b
}

fn read_timeval(t: &Task, addr: u64) -> SysResult<Duration> {
    let mut b = [0u8; 16];
    t.mm.copy_in(addr, &mut b)?;
    let sec = i64::from_ne_bytes(b[..8].try_into().expect("invariant: 8 bytes"));
    let usec = i64::from_ne_bytes(b[8..].try_into().expect("invariant: 8 bytes"));
    if sec < 0 || !(0..1_000_000).contains(&usec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(sec as u64, usec as u32 * 1000))
}

/// `struct itimerval`: interval then value.
fn itimerval_bytes(value: Duration, interval: Duration) -> [u8; 32] {
    let mut b = [0u8; 32];
    b[..16].copy_from_slice(&timeval_bytes(interval));
    b[16..].copy_from_slice(&timeval_bytes(value));
    b
}

pub fn sys_getitimer(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (value, interval) = match a.i32(0) {
        ITIMER_REAL => t.tg.signals.real_timer(),
        which => posix_timer::get_itimer(&t.tg, cpu_itimer(which)?),
    };
    t.mm.copy_out(a.addr(1), &itimerval_bytes(value, interval))?;
    Ok(0)
}

pub fn sys_setitimer(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let which = a.i32(0);
    let cpu = if which == ITIMER_REAL {
        None
    } else {
        Some(cpu_itimer(which)?)
    };
    let (value, interval) = if a.addr(1) != 0 {
        (
            read_timeval(t, a.addr(1) + 16)?,
            read_timeval(t, a.addr(1))?,
        )
    } else {
        (Duration::ZERO, Duration::ZERO)
    };
    let (old_value, old_interval) = match cpu {
        None => t.tg.signals.set_real_timer(value, interval),
        Some(which) => posix_timer::set_itimer(&t.tg, which, value, interval)?,
    };
    if a.addr(2) != 0 {
        t.mm.copy_out(a.addr(2), &itimerval_bytes(old_value, old_interval))?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_sigaction_round_trips_and_drops_unblockable_mask_bits() {
        let a = SigAction {
            handler: 0x401000,
            flags: 0x0400_0004,
            restorer: 0x402000,
            mask: bit(libc::SIGUSR1) | bit(libc::SIGKILL),
        };
        let back = action_from(&action_bytes(&a));
        assert_eq!(back.handler, 0x401000);
        assert_eq!(back.mask, bit(libc::SIGUSR1));
    }

    #[test]
    fn itimerval_is_interval_then_value() {
        let b = itimerval_bytes(Duration::from_millis(1500), Duration::from_secs(2));
        assert_eq!(&b[..8], &2i64.to_ne_bytes());
        assert_eq!(&b[16..24], &1i64.to_ne_bytes());
        assert_eq!(&b[24..32], &500_000i64.to_ne_bytes());
    }
}
