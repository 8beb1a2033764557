//! Scheduling attributes a program can set and read back (after Linux `kernel/sys.c` for
//! getpriority(2)/setpriority(2), `kernel/sched/core.c` for sched_setscheduler(2) and its
//! family, `kernel/exec_domain.c` for personality(2)).
//!
//! The sandbox keeps each process's nice value, policy and real-time priority with Linux's
//! permission and range rules and reports them back (/proc/PID/stat shows the nice value);
//! the sentry's host threads are not rescheduled by them, as a user-space kernel cannot give
//! real-time guarantees. Linux keeps them per thread; the sandbox keeps one per process.

use std::sync::Arc;

use sentry::kernel::thread_group::ThreadGroup;
use sentry::kernel::{SyscallArgs, Task};
use sentry::{Errno, SysResult};

/// `include/uapi/linux/resource.h`.
const PRIO_PROCESS: i32 = 0;
const PRIO_PGRP: i32 = 1;
const PRIO_USER: i32 = 2;

/// `include/uapi/linux/sched.h`.
const SCHED_OTHER: i32 = 0;
const SCHED_FIFO: i32 = 1;
const SCHED_RR: i32 = 2;
const SCHED_BATCH: i32 = 3;
const SCHED_IDLE: i32 = 5;
const SCHED_DEADLINE: i32 = 6;
const SCHED_RESET_ON_FORK: i32 = 0x4000_0000;

/// CAP_SYS_NICE.
const CAP_SYS_NICE: u32 = 23;
/// RLIMIT_NICE and RLIMIT_RTPRIO (`include/uapi/asm-generic/resource.h`).
const RLIMIT_NICE: usize = 13;
const RLIMIT_RTPRIO: usize = 14;

/// The round-robin quantum sched_rr_get_interval reports (Linux `RR_TIMESLICE`, 100 ms).
const RR_INTERVAL_NS: u64 = 100_000_000;

/// The processes `which`/`who` name (getpriority/setpriority): ESRCH if none, EINVAL for an
/// unknown `which`.
fn targets(t: &Task, which: i32, who: i32) -> SysResult<Vec<Arc<ThreadGroup>>> {
    let k = &t.kernel;
    let found: Vec<Arc<ThreadGroup>> = match which {
        PRIO_PROCESS => {
            if who < 0 {
                return Err(Errno::ESRCH);
            }
            let tg = if who == 0 {
                Some(t.tg.clone())
            } else {
                k.thread_group(who)
                    .or_else(|| k.task(who).map(|h| h.tg.clone()))
            };
            tg.into_iter().collect()
        }
        PRIO_PGRP => {
            if who < 0 {
                return Err(Errno::ESRCH);
            }
            let pgid = if who == 0 { k.pgid_of(t.tg.pid)? } else { who };
            k.process_group(pgid)
                .into_iter()
                .filter_map(|pid| k.thread_group(pid))
                .collect()
        }
        PRIO_USER => {
            let uid = if who == 0 { t.creds.uid } else { who as u32 };
            k.pids()
                .into_iter()
                .filter_map(|pid| k.thread_group(pid))
                .filter(|tg| {
                    let own = std::ptr::eq(&**tg, &*t.tg);
                    own && t.creds.uid == uid
                        || !own && tg.view_creds().is_some_and(|c| c.uid == uid)
                })
                .collect()
        }
        _ => return Err(Errno::EINVAL),
    };
    if found.is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok(found)
}

/// getpriority(which, who): the highest priority (lowest nice value) among the targets, as
/// the raw syscall returns it: 20 - nice, in 1..=40.
pub fn sys_getpriority(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let nice = targets(t, a.i32(0), a.i32(1))?
        .iter()
        .map(|tg| tg.with_state(|s| s.nice))
        .min()
        .unwrap_or(0);
    Ok((20 - nice) as u64)
}

/// Whether the caller may change the scheduling of process `tg` (Linux `set_one_prio_perm`:
/// same real or effective uid as the target's, or CAP_SYS_NICE).
fn may_change(t: &Task, tg: &ThreadGroup) -> bool {
    if t.creds.has_cap(CAP_SYS_NICE) || std::ptr::eq(tg, &*t.tg) {
        return true;
    }
    let euid = t.creds.euid;
    tg.view_creds()
        .is_none_or(|c| c.uid == euid || c.euid == euid)
}

/// Whether the caller may lower a nice value to `nice` (Linux `can_nice`: RLIMIT_NICE allows
/// down to 20 - limit, CAP_SYS_NICE anything).
fn may_nice(t: &Task, nice: i32) -> bool {
    let limit = t.tg.with_state(|s| s.rlimits[RLIMIT_NICE].cur);
    let floor = 20i64 - i64::try_from(limit).unwrap_or(i64::MAX);
    i64::from(nice) >= floor || t.creds.has_cap(CAP_SYS_NICE)
}

/// setpriority(which, who, nice): the value is clamped to -20..=19; lowering it needs
/// RLIMIT_NICE room or CAP_SYS_NICE (EACCES), changing another user's process CAP_SYS_NICE
/// (EPERM).
pub fn sys_setpriority(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let nice = a.i32(2).clamp(-20, 19);
    let procs = targets(t, a.i32(0), a.i32(1))?;
    let mut result = Ok(0);
    for tg in procs {
        if !may_change(t, &tg) {
            result = Err(Errno::EPERM);
            continue;
        }
        let old = tg.with_state(|s| s.nice);
        if nice < old && !may_nice(t, nice) {
            result = Err(Errno::EACCES);
            continue;
        }
        tg.with_state(|s| s.nice = nice);
    }
    result
}

/// The process a sched_* call names: the caller for 0, ESRCH if none, EINVAL if negative.
fn sched_target(t: &Task, pid: i32) -> SysResult<Arc<ThreadGroup>> {
    match pid {
        p if p < 0 => Err(Errno::EINVAL),
        0 => Ok(t.tg.clone()),
        p => t
            .kernel
            .thread_group(p)
            .or_else(|| t.kernel.task(p).map(|h| h.tg.clone()))
            .ok_or(Errno::ESRCH),
    }
}

/// The valid real-time priority range of `policy`, None for an unknown policy.
fn priority_range(policy: i32) -> Option<(i32, i32)> {
    match policy {
        SCHED_FIFO | SCHED_RR => Some((1, 99)),
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE => Some((0, 0)),
        _ => None,
    }
}

/// Reads a `struct sched_param` (one int).
fn read_param(t: &mut Task, addr: u64) -> SysResult<i32> {
    if addr == 0 {
        return Err(Errno::EINVAL);
    }
    let mut b = [0u8; 4];
    t.mm.copy_in(addr, &mut b)?;
    Ok(i32::from_ne_bytes(b))
}

/// Sets `policy` (None: keep the current one) and priority on the process `pid` names.
fn set_scheduler(t: &mut Task, pid: i32, policy: Option<i32>, param: u64) -> SysResult<u64> {
    let prio = read_param(t, param)?;
    let tg = sched_target(t, pid)?;
    let policy = policy.unwrap_or_else(|| tg.with_state(|s| s.sched_policy));
    if policy == SCHED_DEADLINE {
        // Needs sched_setattr's runtime/deadline/period.
        return Err(Errno::EINVAL);
    }
    let (lo, hi) = priority_range(policy).ok_or(Errno::EINVAL)?;
    if !(lo..=hi).contains(&prio) {
        return Err(Errno::EINVAL);
    }
    if !may_change(t, &tg) {
        return Err(Errno::EPERM);
    }
    if !t.creds.has_cap(CAP_SYS_NICE) {
        // Linux: real-time only within RLIMIT_RTPRIO, and never out of SCHED_IDLE
        // without the capability.
        let rtlimit = t.tg.with_state(|s| s.rlimits[RLIMIT_RTPRIO].cur);
        let (old_policy, old_prio) = tg.with_state(|s| (s.sched_policy, s.sched_priority));
        if hi > 0 && prio > old_prio && u64::try_from(prio).unwrap_or(0) > rtlimit {
            return Err(Errno::EPERM);
        }
        if old_policy == SCHED_IDLE && policy != SCHED_IDLE {
            return Err(Errno::EPERM);
        }
    }
    tg.with_state(|s| {
        s.sched_policy = policy;
        s.sched_priority = prio;
    });
    Ok(0)
}

/// sched_setscheduler(pid, policy, param); SCHED_RESET_ON_FORK is accepted and kept out of
/// what sched_getscheduler reports, as the sandbox does not reset on fork.
pub fn sys_sched_setscheduler(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let policy = a.i32(1);
    if policy < 0 {
        return Err(Errno::EINVAL);
    }
    set_scheduler(t, a.i32(0), Some(policy & !SCHED_RESET_ON_FORK), a.addr(2))
}

/// sched_setparam(pid, param): the priority under the current policy.
pub fn sys_sched_setparam(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    set_scheduler(t, a.i32(0), None, a.addr(1))
}

/// sched_getscheduler(pid).
pub fn sys_sched_getscheduler(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let tg = sched_target(t, a.i32(0))?;
    Ok(tg.with_state(|s| s.sched_policy) as u64)
}

/// sched_getparam(pid, param).
pub fn sys_sched_getparam(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (pid, addr) = (a.i32(0), a.addr(1));
    if addr == 0 {
        return Err(Errno::EINVAL);
    }
    let tg = sched_target(t, pid)?;
    let prio = tg.with_state(|s| s.sched_priority);
    t.mm.copy_out(addr, &prio.to_ne_bytes())?;
    Ok(0)
}

/// sched_get_priority_max(policy).
pub fn sys_sched_get_priority_max(_t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    match a.i32(0) {
        SCHED_DEADLINE => Ok(0),
        p => priority_range(p).map(|r| r.1 as u64).ok_or(Errno::EINVAL),
    }
}

/// sched_get_priority_min(policy).
pub fn sys_sched_get_priority_min(_t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    match a.i32(0) {
        SCHED_DEADLINE => Ok(0),
        p => priority_range(p).map(|r| r.0 as u64).ok_or(Errno::EINVAL),
    }
}

/// sched_rr_get_interval(pid, tp): the RR quantum (100 ms) for SCHED_RR and, as the slice
/// of a lone runnable task, for the fair policies; 0 for SCHED_FIFO.
pub fn sys_sched_rr_get_interval(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let tg = sched_target(t, a.i32(0))?;
    let ns = match tg.with_state(|s| s.sched_policy) {
        SCHED_FIFO => 0,
        _ => RR_INTERVAL_NS,
    };
    let ts: [i64; 2] = [(ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as i64];
    let bytes: Vec<u8> = ts.iter().flat_map(|v| v.to_ne_bytes()).collect();
    t.mm.copy_out(a.addr(1), &bytes)?;
    Ok(0)
}

/// personality(persona): returns the previous persona; 0xffffffff only queries. Any value is
/// kept, as Linux (since 4.1) keeps it; the sandbox runs Linux binaries whatever it says.
pub fn sys_personality(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let persona = a.u32(0);
    let old = t.tg.with_state(|s| s.personality);
    if persona != u32::MAX {
        t.tg.with_state(|s| s.personality = persona);
    }
    Ok(old.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_ranges_match_linux() {
        assert_eq!(priority_range(SCHED_FIFO), Some((1, 99)));
        assert_eq!(priority_range(SCHED_RR), Some((1, 99)));
        assert_eq!(priority_range(SCHED_OTHER), Some((0, 0)));
        assert_eq!(priority_range(SCHED_IDLE), Some((0, 0)));
        assert_eq!(priority_range(4), None);
        assert_eq!(priority_range(SCHED_DEADLINE), None);
    }
}
