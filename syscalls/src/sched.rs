//! Scheduling attributes a program can set and read back (after Linux `kernel/sys.c` for
//! getpriority(2)/setpriority(2), `kernel/sched/core.c` and `kernel/sched/syscalls.c` for
//! sched_setscheduler(2), sched_setattr(2) and their family, `block/ioprio.c` for
//! ioprio_get(2)/ioprio_set(2), `kernel/exec_domain.c` for personality(2)).
//!
//! The sandbox keeps each process's nice value, policy and real-time priority with Linux's
//! permission and range rules and reports them back (/proc/PID/stat shows the nice value);
//! the sentry's host threads are not rescheduled by them, as a user-space kernel cannot give
//! real-time guarantees. Linux keeps them per thread; the sandbox keeps one per process.
//! The I/O priority is kept the same way: the gofer's host I/O is not reprioritised.

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

/// What a sched_setscheduler/sched_setparam/sched_setattr call asks for (Linux's
/// `struct sched_attr` after the syscall's decoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SchedRequest {
    /// None: keep the current policy and reset-on-fork flag (sched_setparam,
    /// SCHED_FLAG_KEEP_POLICY).
    policy: Option<i32>,
    reset_on_fork: bool,
    priority: i32,
    /// The nice value a fair policy gets (sched_setattr); None keeps the current one.
    nice: Option<i32>,
    /// SCHED_FLAG_KEEP_PARAMS: after the checks only the reset-on-fork flag changes.
    keep_params: bool,
}

/// Linux `__sched_setscheduler` on process `tg`: range checks (EINVAL), then without
/// CAP_SYS_NICE the RLIMIT_NICE/RLIMIT_RTPRIO, SCHED_IDLE, ownership and reset-on-fork rules
/// (EPERM).
fn apply_sched(t: &Task, tg: &ThreadGroup, req: SchedRequest) -> SysResult<u64> {
    let (old_policy, old_prio, old_nice, old_reset) = tg.with_state(|s| {
        (
            s.sched_policy,
            s.sched_priority,
            s.nice,
            s.sched_reset_on_fork,
        )
    });
    let (policy, reset) = match req.policy {
        Some(p) => (p, req.reset_on_fork),
        None => (old_policy, old_reset),
    };
    if policy == SCHED_DEADLINE {
        // Needs runtime/deadline/period admission control the sandbox does not model.
        return Err(Errno::EINVAL);
    }
    let (lo, hi) = priority_range(policy).ok_or(Errno::EINVAL)?;
    if !(lo..=hi).contains(&req.priority) {
        return Err(Errno::EINVAL);
    }
    let fair = hi == 0;
    let nice = match req.nice {
        Some(n) if fair => n.clamp(-20, 19),
        _ => old_nice,
    };
    if !t.creds.has_cap(CAP_SYS_NICE) {
        if fair && nice < old_nice && !may_nice(t, nice) {
            return Err(Errno::EPERM);
        }
        if !fair {
            let rtlimit = t.tg.with_state(|s| s.rlimits[RLIMIT_RTPRIO].cur);
            if policy != old_policy && rtlimit == 0 {
                return Err(Errno::EPERM);
            }
            if req.priority > old_prio && u64::try_from(req.priority).unwrap_or(0) > rtlimit {
                return Err(Errno::EPERM);
            }
        }
        if old_policy == SCHED_IDLE && policy != SCHED_IDLE && !may_nice(t, old_nice) {
            return Err(Errno::EPERM);
        }
        if !may_change(t, tg) {
            return Err(Errno::EPERM);
        }
        if old_reset && !reset {
            return Err(Errno::EPERM);
        }
    }
    tg.with_state(|s| {
        s.sched_reset_on_fork = reset;
        if !req.keep_params {
            s.sched_policy = policy;
            s.sched_priority = req.priority;
            s.nice = nice;
        }
    });
    Ok(0)
}

/// Sets `policy` (None: keep the current one) and priority on the process `pid` names.
fn set_scheduler(
    t: &mut Task,
    pid: i32,
    policy: Option<i32>,
    reset_on_fork: bool,
    param: u64,
) -> SysResult<u64> {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    let priority = read_param(t, param)?;
    let tg = sched_target(t, pid)?;
    let req = SchedRequest {
        policy,
        reset_on_fork,
        priority,
        nice: None,
        keep_params: false,
    };
    apply_sched(t, &tg, req)
}

/// sched_setscheduler(pid, policy, param); SCHED_RESET_ON_FORK in `policy` sets the flag,
/// its absence clears it.
pub fn sys_sched_setscheduler(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let policy = a.i32(1);
    if policy < 0 {
        return Err(Errno::EINVAL);
    }
    let reset = policy & SCHED_RESET_ON_FORK != 0;
    set_scheduler(
        t,
        a.i32(0),
        Some(policy & !SCHED_RESET_ON_FORK),
        reset,
        a.addr(2),
    )
}

/// sched_setparam(pid, param): the priority under the current policy.
pub fn sys_sched_setparam(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    set_scheduler(t, a.i32(0), None, false, a.addr(1))
}

/// `struct sched_attr` sizes (`include/uapi/linux/sched/types.h`): VER0 without the
/// utilization clamps, the kernel's own with them.
const SCHED_ATTR_SIZE_VER0: usize = 48;
const SCHED_ATTR_SIZE: usize = 56;
const PAGE_SIZE: usize = 4096;

/// `sched_attr.sched_flags` (`include/uapi/linux/sched.h`).
const SCHED_FLAG_RESET_ON_FORK: u64 = 0x01;
const SCHED_FLAG_RECLAIM: u64 = 0x02;
const SCHED_FLAG_DL_OVERRUN: u64 = 0x04;
const SCHED_FLAG_KEEP_POLICY: u64 = 0x08;
const SCHED_FLAG_KEEP_PARAMS: u64 = 0x10;
const SCHED_FLAG_UTIL_CLAMP: u64 = 0x60;
const SCHED_FLAG_ALL: u64 = SCHED_FLAG_RESET_ON_FORK
    | SCHED_FLAG_RECLAIM
    | SCHED_FLAG_DL_OVERRUN
    | SCHED_FLAG_KEEP_POLICY
    | SCHED_FLAG_KEEP_PARAMS
    | SCHED_FLAG_UTIL_CLAMP;

/// The time slice sched_getattr reports as a fair task's `sched_runtime` (Linux's base
/// slice, 0.75 ms scaled for two CPUs).
const FAIR_SLICE_NS: u64 = 1_500_000;
/// The utilization clamp maximum sched_getattr reports: 0, as a kernel without
/// CONFIG_UCLAMP_TASK does (clamps are EOPNOTSUPP).
const UTIL_MAX: u32 = 0;

/// The fields of `struct sched_attr` the sandbox reads or reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SchedAttr {
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
    util_min: u32,
    util_max: u32,
}

impl SchedAttr {
    /// Decodes the kernel-sized (56-byte) layout.
    fn decode(b: &[u8; SCHED_ATTR_SIZE]) -> SchedAttr {
        let u32_at = |o: usize| u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u64_at = |o: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[o..o + 8]);
            u64::from_ne_bytes(w)
        };
        SchedAttr {
            policy: u32_at(4),
            flags: u64_at(8),
            nice: u32_at(16) as i32,
            priority: u32_at(20),
            runtime: u64_at(24),
            deadline: u64_at(32),
            period: u64_at(40),
            util_min: u32_at(48),
            util_max: u32_at(52),
        }
    }

    /// Encodes the kernel-sized layout with `size` in the size field.
    fn encode(&self, size: u32) -> [u8; SCHED_ATTR_SIZE] {
        let mut b = [0u8; SCHED_ATTR_SIZE];
        b[0..4].copy_from_slice(&size.to_ne_bytes());
        b[4..8].copy_from_slice(&self.policy.to_ne_bytes());
        b[8..16].copy_from_slice(&self.flags.to_ne_bytes());
        b[16..20].copy_from_slice(&self.nice.to_ne_bytes());
        b[20..24].copy_from_slice(&self.priority.to_ne_bytes());
        b[24..32].copy_from_slice(&self.runtime.to_ne_bytes());
        b[32..40].copy_from_slice(&self.deadline.to_ne_bytes());
        b[40..48].copy_from_slice(&self.period.to_ne_bytes());
        b[48..52].copy_from_slice(&self.util_min.to_ne_bytes());
        b[52..56].copy_from_slice(&self.util_max.to_ne_bytes());
        b
    }
}

/// What the process reports through sched_getattr (Linux `get_params`: the priority for a
/// real-time policy, the nice value and slice for a fair one).
fn current_attr(tg: &ThreadGroup) -> SchedAttr {
    tg.with_state(|s| {
        let mut a = SchedAttr {
            policy: s.sched_policy as u32,
            flags: if s.sched_reset_on_fork {
                SCHED_FLAG_RESET_ON_FORK
            } else {
                0
            },
            util_max: UTIL_MAX,
            ..Default::default()
        };
        if matches!(s.sched_policy, SCHED_FIFO | SCHED_RR) {
            a.priority = s.sched_priority as u32;
        } else {
            a.nice = s.nice;
            a.runtime = FAIR_SLICE_NS;
        }
        a
    })
}

/// Linux `sched_copy_attr`: reads the user's `struct sched_attr` whatever its size (0 means
/// VER0); a size below VER0, above a page or with non-zero bytes past the kernel's struct
/// gets E2BIG with the kernel's size written back.
fn read_attr(t: &mut Task, addr: u64) -> SysResult<SchedAttr> {
    let mut sz = [0u8; 4];
    t.mm.copy_in(addr, &mut sz)?;
    let size = match u32::from_ne_bytes(sz) as usize {
        0 => SCHED_ATTR_SIZE_VER0,
        n => n,
    };
    let too_big = |t: &mut Task| -> SysResult<SchedAttr> {
        t.mm.copy_out(addr, &(SCHED_ATTR_SIZE as u32).to_ne_bytes())?;
        Err(Errno::E2BIG)
    };
    if !(SCHED_ATTR_SIZE_VER0..=PAGE_SIZE).contains(&size) {
        return too_big(t);
    }
    let mut raw = vec![0u8; size];
    t.mm.copy_in(addr, &mut raw)?;
    if raw.len() > SCHED_ATTR_SIZE && raw[SCHED_ATTR_SIZE..].iter().any(|&b| b != 0) {
        return too_big(t);
    }
    let mut b = [0u8; SCHED_ATTR_SIZE];
    let n = raw.len().min(SCHED_ATTR_SIZE);
    b[..n].copy_from_slice(&raw[..n]);
    let attr = SchedAttr::decode(&b);
    if attr.flags & SCHED_FLAG_UTIL_CLAMP != 0 && size < SCHED_ATTR_SIZE {
        return Err(Errno::EINVAL);
    }
    Ok(attr)
}

/// sched_setattr(pid, attr, flags): OTHER/BATCH/IDLE with a nice value, FIFO/RR with a
/// priority, SCHED_FLAG_RESET_ON_FORK and the KEEP flags; SCHED_DEADLINE is EINVAL and
/// utilization clamps EOPNOTSUPP.
pub fn sys_sched_setattr(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (pid, addr, flags) = (a.i32(0), a.addr(1), a.u32(2));
    if addr == 0 || pid < 0 || flags != 0 {
        return Err(Errno::EINVAL);
    }
    let attr = read_attr(t, addr)?;
    if (attr.policy as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    let tg = sched_target(t, pid)?;
    let keep_params = attr.flags & SCHED_FLAG_KEEP_PARAMS != 0;
    let attr = if keep_params {
        let cur = current_attr(&tg);
        SchedAttr {
            nice: cur.nice,
            priority: cur.priority,
            ..attr
        }
    } else {
        attr
    };
    let keep_policy = attr.flags & SCHED_FLAG_KEEP_POLICY != 0;
    if !keep_policy
        && priority_range(attr.policy as i32).is_none()
        && attr.policy as i32 != SCHED_DEADLINE
    {
        return Err(Errno::EINVAL);
    }
    if attr.flags & !SCHED_FLAG_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    if attr.priority > 99 {
        return Err(Errno::EINVAL);
    }
    let req = SchedRequest {
        policy: (!keep_policy).then_some(attr.policy as i32),
        reset_on_fork: attr.flags & SCHED_FLAG_RESET_ON_FORK != 0,
        priority: attr.priority as i32,
        nice: Some(attr.nice),
        keep_params,
    };
    if req.policy != Some(SCHED_DEADLINE) && attr.flags & SCHED_FLAG_UTIL_CLAMP != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    apply_sched(t, &tg, req)
}

/// sched_getattr(pid, attr, size, flags): the attributes in at most `size` bytes (VER0 or
/// more, at most a page), the size field saying how many were written, any bytes past the
/// kernel's struct zeroed (Linux `copy_struct_to_user`).
pub fn sys_sched_getattr(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (pid, addr, usize_, flags) = (a.i32(0), a.addr(1), a.u32(2) as usize, a.u32(3));
    if addr == 0 || pid < 0 || !(SCHED_ATTR_SIZE_VER0..=PAGE_SIZE).contains(&usize_) || flags != 0 {
        return Err(Errno::EINVAL);
    }
    let tg = sched_target(t, pid)?;
    let n = usize_.min(SCHED_ATTR_SIZE);
    let mut bytes = current_attr(&tg).encode(n as u32).to_vec();
    bytes.resize(usize_, 0);
    t.mm.copy_out(addr, &bytes)?;
    Ok(0)
}

/// sched_getscheduler(pid).
pub fn sys_sched_getscheduler(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let tg = sched_target(t, a.i32(0))?;
    let (policy, reset) = tg.with_state(|s| (s.sched_policy, s.sched_reset_on_fork));
    let flag = if reset { SCHED_RESET_ON_FORK } else { 0 };
    Ok((policy | flag) as u64)
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

/// `include/uapi/linux/ioprio.h`: who ioprio_get/ioprio_set name, and the value's layout
/// (class in bits 13..16, level in the low 3 bits, hints between them).
const IOPRIO_WHO_PROCESS: i32 = 1;
const IOPRIO_WHO_PGRP: i32 = 2;
const IOPRIO_WHO_USER: i32 = 3;
const IOPRIO_CLASS_SHIFT: u32 = 13;
const IOPRIO_CLASS_NONE: i32 = 0;
const IOPRIO_CLASS_RT: i32 = 1;
const IOPRIO_CLASS_BE: i32 = 2;
const IOPRIO_CLASS_IDLE: i32 = 3;
/// CAP_SYS_ADMIN.
const CAP_SYS_ADMIN: u32 = 21;

/// Linux `ioprio_check_cap`: EINVAL for an unknown class or a level on class NONE, EPERM for
/// class RT without CAP_SYS_ADMIN or CAP_SYS_NICE.
fn check_ioprio(t: &Task, ioprio: i32) -> SysResult<u16> {
    let class = (ioprio >> IOPRIO_CLASS_SHIFT) & 7;
    let level = ioprio & 7;
    match class {
        IOPRIO_CLASS_RT => {
            if !t.creds.has_cap(CAP_SYS_ADMIN) && !t.creds.has_cap(CAP_SYS_NICE) {
                return Err(Errno::EPERM);
            }
        }
        IOPRIO_CLASS_BE | IOPRIO_CLASS_IDLE => {}
        IOPRIO_CLASS_NONE if level == 0 => {}
        _ => return Err(Errno::EINVAL),
    }
    Ok(ioprio as u16)
}

/// The processes ioprio_get/ioprio_set name: ESRCH if none (or a negative pid), EINVAL for an
/// unknown `which`. For IOPRIO_WHO_USER a `who` of 0 is the caller's uid.
fn ioprio_targets(t: &Task, which: i32, who: i32) -> SysResult<Vec<Arc<ThreadGroup>>> {
    match which {
        IOPRIO_WHO_PROCESS => targets(t, PRIO_PROCESS, who),
        IOPRIO_WHO_PGRP => targets(t, PRIO_PGRP, who),
        IOPRIO_WHO_USER => targets(t, PRIO_USER, who),
        _ => Err(Errno::EINVAL),
    }
}

/// Linux `__get_task_ioprio`: the priority a process's I/O gets, class NONE standing for
/// the class of its CPU policy (IDLE, RT or BE) at the level its nice value maps to.
fn effective_ioprio(ioprio: u16, policy: i32, nice: i32) -> u16 {
    if i32::from(ioprio >> IOPRIO_CLASS_SHIFT) != IOPRIO_CLASS_NONE {
        return ioprio;
    }
    let class = match policy {
        SCHED_IDLE => IOPRIO_CLASS_IDLE,
        SCHED_FIFO | SCHED_RR => IOPRIO_CLASS_RT,
        _ => IOPRIO_CLASS_BE,
    };
    let level = (nice.clamp(-20, 19) + 20) / 5;
    ((class << IOPRIO_CLASS_SHIFT) | level) as u16
}

/// ioprio_get(which, who): the value ioprio_set stored for a process (0, class NONE, if
/// none); for a process group or user the highest effective priority among them.
pub fn sys_ioprio_get(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let which = a.i32(0);
    let procs = ioprio_targets(t, which, a.i32(1))?;
    let best = procs
        .iter()
        .map(|tg| {
            tg.with_state(|s| {
                if which == IOPRIO_WHO_PROCESS {
                    s.ioprio
                } else {
                    effective_ioprio(s.ioprio, s.sched_policy, s.nice)
                }
            })
        })
        .min()
        .unwrap_or(0);
    Ok(u64::from(best))
}

/// ioprio_set(which, who, ioprio): each target must have the caller's real or effective uid
/// as its real uid, or the caller CAP_SYS_NICE (EPERM); stops at the first refusal.
pub fn sys_ioprio_set(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let ioprio = check_ioprio(t, a.i32(2))?;
    for tg in ioprio_targets(t, a.i32(0), a.i32(1))? {
        let allowed = t.creds.has_cap(CAP_SYS_NICE)
            || std::ptr::eq(&*tg, &*t.tg)
            || tg
                .view_creds()
                .is_none_or(|c| c.uid == t.creds.uid || c.uid == t.creds.euid);
        if !allowed {
            return Err(Errno::EPERM);
        }
        tg.with_state(|s| s.ioprio = ioprio);
    }
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

    #[test]
    fn sched_attr_round_trips_its_layout() {
        let a = SchedAttr {
            policy: 3,
            flags: SCHED_FLAG_RESET_ON_FORK,
            nice: -5,
            priority: 0,
            runtime: 7,
            deadline: 8,
            period: 9,
            util_min: 1,
            util_max: UTIL_MAX,
        };
        let b = a.encode(SCHED_ATTR_SIZE as u32);
        assert_eq!(&b[0..4], &56u32.to_ne_bytes());
        assert_eq!(SchedAttr::decode(&b), a);
    }

    #[test]
    fn class_none_takes_its_class_and_level_from_the_cpu_policy() {
        assert_eq!(effective_ioprio(0, SCHED_OTHER, 0), 0x4004);
        assert_eq!(effective_ioprio(0, SCHED_BATCH, 10), 0x4006);
        assert_eq!(effective_ioprio(0, SCHED_IDLE, 19), 0x6007);
        assert_eq!(effective_ioprio(0, SCHED_FIFO, -20), 0x2000);
        assert_eq!(effective_ioprio(0x4002, SCHED_IDLE, 19), 0x4002);
    }
}
