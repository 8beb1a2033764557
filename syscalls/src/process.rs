//! Process and thread identity and limits: getpid(2), gettid(2), getuid(2), getgroups(2),
//! setresuid(2), setresgid(2),
//! exit(2), exit_group(2), arch_prctl(2), set_tid_address(2), set_robust_list(2),
//! get_robust_list(2), getrlimit(2), prlimit(2), futex(2), sched_getaffinity(2), process groups and
//! sessions (setpgid(2), setsid(2), getsid(2)), prctl(2).

use std::time::{Duration, Instant};

use nix::time::{clock_gettime, ClockId};
use sentry::kernel::futex::BITSET_ANY;
use sentry::kernel::signal::RestartKind;
use sentry::kernel::thread_group::Rlimit;
use sentry::kernel::{ExitStatus, SyscallArgs, Task};
use sentry::{Errno, SysResult};

/// Capability numbers (`include/uapi/linux/capability.h`).
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;
const CAP_SYS_RESOURCE: u32 = 24;

pub fn sys_getpid(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    Ok(t.tg.pid as u64)
}

pub fn sys_gettid(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    Ok(t.tid as u64)
}

/// getppid(2): the parent the process tree last recorded for this thread (reparenting
/// updates it), read without the tree lock.
pub fn sys_getppid(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    Ok(u64::try_from(t.handle.parent_pid()).unwrap_or(0))
}

pub fn sys_getuid(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    Ok(t.creds.uid.into())
}

pub fn sys_geteuid(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    Ok(t.creds.euid.into())
}

pub fn sys_getgid(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    Ok(t.creds.gid.into())
}

pub fn sys_getegid(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    Ok(t.creds.egid.into())
}

pub fn sys_getresuid(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let c = t.creds.clone();
    copy_out_ids(t, a, [c.uid, c.euid, c.suid])
}

pub fn sys_getresgid(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let c = t.creds.clone();
    copy_out_ids(t, a, [c.gid, c.egid, c.sgid])
}

/// The new (real, effective, saved) ids of setresuid/setresgid (Linux `kernel/sys.c`): `-1`
/// keeps an id; without privilege each new id must be one of the current three.
fn new_res_ids(cur: [u32; 3], req: [u32; 3], privileged: bool) -> SysResult<[u32; 3]> {
    let mut out = cur;
    for (o, r) in out.iter_mut().zip(req) {
        if r == u32::MAX {
            continue;
        }
        if !privileged && !cur.contains(&r) {
            return Err(Errno::EPERM);
        }
        *o = r;
    }
    Ok(out)
}

fn res_args(a: &SyscallArgs) -> [u32; 3] {
    [a.i32(0) as u32, a.i32(1) as u32, a.i32(2) as u32]
}

/// setresuid(ruid, euid, suid); the filesystem uid follows the effective one, the capability
/// sets follow Linux's rules for leaving and regaining uid 0. Only the calling thread changes (glibc propagates to the others).
pub fn sys_setresuid(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let mut c = (*t.creds).clone();
    let old = [c.uid, c.euid, c.suid];
    let [uid, euid, suid] = new_res_ids(old, res_args(a), c.has_cap(CAP_SETUID))?;
    (c.uid, c.euid, c.suid, c.fsuid) = (uid, euid, suid, euid);
    c.fix_caps_after_setuid(old);
    t.set_creds(c);
    Ok(0)
}

/// setresgid(rgid, egid, sgid); the filesystem gid follows the effective one (CAP_SETGID
/// allows any ids).
pub fn sys_setresgid(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let mut c = (*t.creds).clone();
    let [gid, egid, sgid] =
        new_res_ids([c.gid, c.egid, c.sgid], res_args(a), c.has_cap(CAP_SETGID))?;
    (c.gid, c.egid, c.sgid, c.fsgid) = (gid, egid, sgid, egid);
    t.set_creds(c);
    Ok(0)
}

fn copy_out_ids(t: &mut Task, a: &SyscallArgs, ids: [u32; 3]) -> SysResult<u64> {
    for (i, id) in ids.iter().enumerate() {
        t.mm.copy_out(a.addr(i), &id.to_ne_bytes())?;
    }
    Ok(0)
}

/// getgroups(size, list): the count when size is 0, EINVAL when the list is too small.
pub fn sys_getgroups(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let size = a.i32(0);
    let groups = t.creds.groups.clone();
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    if size == 0 {
        return Ok(groups.len() as u64);
    }
    if (size as usize) < groups.len() {
        return Err(Errno::EINVAL);
    }
    let bytes: Vec<u8> = groups.iter().flat_map(|g| g.to_ne_bytes()).collect();
    t.mm.copy_out(a.addr(1), &bytes)?;
    Ok(groups.len() as u64)
}

pub fn sys_getpgrp(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    Ok(t.kernel.pgid_of(t.tg.pid)? as u64)
}

/// The process `pid` names (0: the caller's own).
fn pid_or_self(t: &Task, pid: i32) -> SysResult<i32> {
    match pid {
        0 => Ok(t.tg.pid),
        p if p < 0 => Err(Errno::ESRCH),
        p => Ok(p),
    }
}

pub fn sys_getpgid(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let pid = pid_or_self(t, a.i32(0))?;
    Ok(t.kernel.pgid_of(pid)? as u64)
}

pub fn sys_getsid(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let pid = pid_or_self(t, a.i32(0))?;
    Ok(t.kernel.sid_of(pid)? as u64)
}

pub fn sys_setpgid(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let pid = a.i32(0);
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    t.kernel.setpgid(t.tg.pid, pid, a.i32(1))?;
    Ok(0)
}

pub fn sys_setsid(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    Ok(t.kernel.setsid(t.tg.pid)? as u64)
}

/// exit(2): ends the calling thread; the process ends with its last thread.
pub fn sys_exit(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.thread_exit = Some(a.i32(0) & 0xff);
    Ok(0)
}

/// exit_group(2): ends every thread of the process.
pub fn sys_exit_group(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.exit_status = Some(ExitStatus::Exited(a.i32(0) & 0xff));
    Ok(0)
}

const PR_SET_PDEATHSIG: i32 = 1;
const PR_GET_PDEATHSIG: i32 = 2;
const PR_GET_DUMPABLE: i32 = 3;
const PR_SET_DUMPABLE: i32 = 4;
const PR_SET_NAME: i32 = 15;
const PR_GET_NAME: i32 = 16;
const PR_SET_CHILD_SUBREAPER: i32 = 36;
const PR_GET_CHILD_SUBREAPER: i32 = 37;
const PR_GET_SECCOMP: i32 = 21;
const PR_SET_SECCOMP: i32 = 22;
const PR_SET_NO_NEW_PRIVS: i32 = 38;
const PR_GET_NO_NEW_PRIVS: i32 = 39;

/// prctl(2): the options processes commonly use; others are EINVAL.
pub fn sys_prctl(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let arg2 = a.u64(1);
    match a.i32(0) {
        PR_SET_PDEATHSIG => {
            if arg2 > 64 {
                return Err(Errno::EINVAL);
            }
            t.handle
                .pdeath_signal
                .store(arg2 as i32, std::sync::atomic::Ordering::SeqCst);
        }
        PR_GET_PDEATHSIG => {
            let sig = t
                .handle
                .pdeath_signal
                .load(std::sync::atomic::Ordering::SeqCst);
            t.mm.copy_out(a.addr(1), &sig.to_ne_bytes())?;
        }
        PR_GET_DUMPABLE => return Ok(t.tg.with_state(|s| s.dumpable) as u64),
        PR_SET_DUMPABLE => {
            if arg2 > 1 {
                return Err(Errno::EINVAL);
            }
            t.tg.with_state(|s| s.dumpable = arg2 == 1);
        }
        PR_SET_NAME => {
            let mut name = [0u8; 16];
            t.mm.copy_in(a.addr(1), &mut name)?;
            let len = name.iter().position(|&b| b == 0).unwrap_or(15).min(15);
            t.tg.with_state(|s| s.comm = name[..len].to_vec());
        }
        PR_GET_NAME => {
            let mut name = [0u8; 16];
            let comm = t.tg.with_state(|s| s.comm.clone());
            let n = comm.len().min(15);
            name[..n].copy_from_slice(&comm[..n]);
            t.mm.copy_out(a.addr(1), &name)?;
        }
        PR_SET_CHILD_SUBREAPER => t.tg.with_state(|s| s.child_subreaper = arg2 != 0),
        PR_GET_CHILD_SUBREAPER => {
            let v = t.tg.with_state(|s| s.child_subreaper) as i32;
            t.mm.copy_out(a.addr(1), &v.to_ne_bytes())?;
        }
        PR_SET_NO_NEW_PRIVS => {
            if arg2 != 1 || a.u64(2) != 0 || a.u64(3) != 0 || a.u64(4) != 0 {
                return Err(Errno::EINVAL);
            }
            t.no_new_privs = true;
        }
        PR_GET_NO_NEW_PRIVS => {
            if arg2 != 0 || a.u64(2) != 0 || a.u64(3) != 0 || a.u64(4) != 0 {
                return Err(Errno::EINVAL);
            }
            return Ok(t.no_new_privs as u64);
        }
        PR_GET_SECCOMP => return crate::seccomp::prctl_get_seccomp(t),
        PR_SET_SECCOMP => return crate::seccomp::prctl_set_seccomp(t, arg2, a.addr(2)),
        _ => return Err(Errno::EINVAL),
    }
    Ok(0)
}

const ARCH_SET_GS: i32 = 0x1001;
const ARCH_SET_FS: i32 = 0x1002;
const ARCH_GET_FS: i32 = 0x1003;
const ARCH_GET_GS: i32 = 0x1004;

/// arch_prctl(2): the FS and GS bases live in the task's registers.
pub fn sys_arch_prctl(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let addr = a.addr(1);
    match a.i32(0) {
        ARCH_SET_FS => {
            check_user_addr(addr)?;
            t.regs.fs_base = addr;
        }
        ARCH_SET_GS => {
            check_user_addr(addr)?;
            t.regs.gs_base = addr;
        }
        ARCH_GET_FS => t.mm.copy_out(addr, &t.regs.fs_base.to_ne_bytes())?,
        ARCH_GET_GS => t.mm.copy_out(addr, &t.regs.gs_base.to_ne_bytes())?,
        _ => return Err(Errno::EINVAL),
    }
    Ok(0)
}

fn check_user_addr(addr: u64) -> SysResult<()> {
    // The kernel refuses bases outside the user half (TASK_SIZE_MAX).
    if addr >= 0x7fff_ffff_f000 {
        return Err(Errno::EPERM);
    }
    Ok(())
}

pub fn sys_set_tid_address(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.clear_child_tid = a.addr(0);
    Ok(t.tid as u64)
}

/// set_robust_list(2): the length must be sizeof(struct robust_list_head).
pub fn sys_set_robust_list(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    if a.u64(1) != 24 {
        return Err(Errno::EINVAL);
    }
    t.robust_list = (a.addr(0), a.u64(1));
    if let Some(h) = t.kernel.task(t.tid) {
        h.set_robust_head(a.addr(0));
    }
    Ok(0)
}

/// get_robust_list(pid, head_ptr, len_ptr): the head set_robust_list stored for thread `pid`
/// (0: the caller) and the length of `struct robust_list_head`; ESRCH if no such thread,
/// EPERM unless it is of the caller's process, has all the caller's real ids or the caller
/// CAP_SYS_PTRACE (Linux `ptrace_may_access` with PTRACE_MODE_READ_REALCREDS).
pub fn sys_get_robust_list(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    const CAP_SYS_PTRACE: u32 = 19;
    let pid = a.i32(0);
    let head = if pid == 0 || pid == t.tid {
        t.robust_list.0
    } else {
        let h = t.kernel.task(pid).filter(|_| pid > 0).ok_or(Errno::ESRCH)?;
        if !std::ptr::eq(&*h.tg, &*t.tg) && !t.creds.has_cap(CAP_SYS_PTRACE) {
            let c = &t.creds;
            let theirs = h.tg.view_creds().ok_or(Errno::ESRCH)?;
            let same = [theirs.uid, theirs.euid, theirs.suid]
                .iter()
                .all(|&u| u == c.uid)
                && [theirs.gid, theirs.egid, theirs.sgid]
                    .iter()
                    .all(|&g| g == c.gid);
            if !same || !h.tg.with_state(|s| s.dumpable) {
                return Err(Errno::EPERM);
            }
        }
        h.robust_head()
    };
    t.mm.copy_out(a.addr(2), &24u64.to_ne_bytes())?;
    t.mm.copy_out(a.addr(1), &head.to_ne_bytes())?;
    Ok(0)
}

pub fn sys_sched_yield(_t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    std::thread::yield_now();
    Ok(0)
}

fn resource(a: &SyscallArgs, i: usize) -> SysResult<usize> {
    let r = a.u32(i) as usize;
    if r >= sentry::kernel::thread_group::RLIMIT_COUNT {
        return Err(Errno::EINVAL);
    }
    Ok(r)
}

fn rlimit_bytes(r: Rlimit) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&r.cur.to_ne_bytes());
    b[8..].copy_from_slice(&r.max.to_ne_bytes());
    b
}

fn read_rlimit(t: &Task, addr: u64) -> SysResult<Rlimit> {
    let mut b = [0u8; 16];
    t.mm.copy_in(addr, &mut b)?;
    let cur = u64::from_ne_bytes(b[..8].try_into().expect("invariant: 8 bytes"));
    let max = u64::from_ne_bytes(b[8..].try_into().expect("invariant: 8 bytes"));
    Ok(Rlimit { cur, max })
}

/// Replaces a limit with Linux's checks: cur <= max, and raising max needs privilege.
fn set_rlimit(t: &Task, res: usize, new: Rlimit) -> SysResult<Rlimit> {
    if new.cur > new.max {
        return Err(Errno::EINVAL);
    }
    let privileged = t.creds.has_cap(CAP_SYS_RESOURCE);
    t.tg.with_state(|s| {
        let old = s.rlimits[res];
        if new.max > old.max && !privileged {
            return Err(Errno::EPERM);
        }
        if res == libc::RLIMIT_NOFILE as usize && new.max > 1 << 20 {
            return Err(Errno::EPERM);
        }
        s.rlimits[res] = new;
        Ok(old)
    })
    .inspect(|_| {
        t.tg.rlimits_changed();
        t.apply_mm_limits();
    })
}

pub fn sys_getrlimit(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let res = resource(a, 0)?;
    let r = t.tg.with_state(|s| s.rlimits[res]);
    t.mm.copy_out(a.addr(1), &rlimit_bytes(r))?;
    Ok(0)
}

pub fn sys_setrlimit(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let res = resource(a, 0)?;
    let new = read_rlimit(t, a.addr(1))?;
    set_rlimit(t, res, new)?;
    Ok(0)
}

/// prlimit64(pid, resource, new, old) for the caller's own process (pid 0 or its own pid).
pub fn sys_prlimit64(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let pid = a.i32(0);
    if pid != 0 && pid != t.tg.pid {
        return Err(if t.kernel.thread_group(pid).is_some() {
            Errno::EPERM
        } else {
            Errno::ESRCH
        });
    }
    let res = resource(a, 1)?;
    let new = if a.addr(2) != 0 {
        Some(read_rlimit(t, a.addr(2))?)
    } else {
        None
    };
    let old = match new {
        Some(n) => set_rlimit(t, res, n)?,
        None => t.tg.with_state(|s| s.rlimits[res]),
    };
    if a.addr(3) != 0 {
        t.mm.copy_out(a.addr(3), &rlimit_bytes(old))?;
    }
    Ok(0)
}

const FUTEX_WAIT: i32 = 0;
const FUTEX_WAKE: i32 = 1;
const FUTEX_REQUEUE: i32 = 3;
const FUTEX_CMP_REQUEUE: i32 = 4;
const FUTEX_WAKE_OP: i32 = 5;
const FUTEX_LOCK_PI: i32 = 6;
const FUTEX_UNLOCK_PI: i32 = 7;
const FUTEX_TRYLOCK_PI: i32 = 8;
const FUTEX_WAIT_BITSET: i32 = 9;
const FUTEX_WAIT_REQUEUE_PI: i32 = 11;
const FUTEX_CMP_REQUEUE_PI: i32 = 12;
const FUTEX_LOCK_PI2: i32 = 13;
const FUTEX_WAKE_BITSET: i32 = 10;
const FUTEX_PRIVATE_FLAG: i32 = 128;
const FUTEX_CLOCK_REALTIME: i32 = 256;

/// A count argument (`int`): negative is EINVAL, as futex_requeue checks.
fn futex_count(a: &SyscallArgs, i: usize) -> SysResult<usize> {
    usize::try_from(a.i32(i)).map_err(|_| Errno::EINVAL)
}

/// The deadline of a FUTEX_WAIT (relative timeout) or FUTEX_WAIT_BITSET (absolute on
/// CLOCK_MONOTONIC, or CLOCK_REALTIME with FUTEX_CLOCK_REALTIME).
fn futex_deadline(
    t: &Task,
    a: &SyscallArgs,
    absolute: bool,
    realtime: bool,
) -> SysResult<Option<Instant>> {
    if a.addr(3) == 0 {
        return Ok(None);
    }
    let ts = crate::time::read_timespec(t, a.addr(3))?;
    let now = Instant::now();
    if !absolute {
        return Ok(Some(now + ts));
    }
    let clock = if realtime {
        ClockId::CLOCK_REALTIME
    } else {
        ClockId::CLOCK_MONOTONIC
    };
    let cur = clock_gettime(clock).map_err(|_| Errno::EINVAL)?;
    let cur = Duration::new(
        cur.tv_sec().max(0) as u64,
        cur.tv_nsec().clamp(0, 999_999_999) as u32,
    );
    Ok(Some(now + ts.saturating_sub(cur)))
}

/// futex(2): WAIT, WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP, WAIT_BITSET, WAKE_BITSET, the PI lock
/// operations (LOCK_PI with an absolute CLOCK_REALTIME timeout, LOCK_PI2 with CLOCK_MONOTONIC
/// unless FUTEX_CLOCK_REALTIME, TRYLOCK_PI, UNLOCK_PI), private and shared. The PI requeue
/// operations (WAIT_REQUEUE_PI, CMP_REQUEUE_PI) are EINVAL.
pub fn sys_futex(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let raw = a.i32(1);
    let private = raw & FUTEX_PRIVATE_FLAG != 0;
    let realtime = raw & FUTEX_CLOCK_REALTIME != 0;
    let op = raw & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    if realtime && op != FUTEX_WAIT && op != FUTEX_WAIT_BITSET && op != FUTEX_LOCK_PI2 {
        return Err(Errno::ENOSYS);
    }
    let kernel = t.kernel.clone();
    let futexes = &kernel.futexes;
    let addr = a.addr(0);
    let n = match op {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let bitset = if op == FUTEX_WAIT {
                BITSET_ANY
            } else {
                a.u32(5)
            };
            let deadline = futex_deadline(t, a, op == FUTEX_WAIT_BITSET, realtime)?;
            futexes.wait(&t.mm, &t.waker, addr, private, a.u32(2), bitset, deadline)?;
            0
        }
        FUTEX_WAKE => futexes.wake(&t.mm, addr, private, futex_count(a, 2)?, BITSET_ANY)?,
        FUTEX_WAKE_BITSET => futexes.wake(&t.mm, addr, private, futex_count(a, 2)?, a.u32(5))?,
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            let cmp = (op == FUTEX_CMP_REQUEUE).then(|| a.u32(5));
            // val2 travels in the timeout slot.
            let n_requeue = usize::try_from(a.u64(3) as u32 as i32).map_err(|_| Errno::EINVAL)?;
            futexes.requeue(
                &t.mm,
                addr,
                a.addr(4),
                private,
                futex_count(a, 2)?,
                n_requeue,
                cmp,
            )?
        }
        FUTEX_WAKE_OP => {
            let n2 = usize::try_from(a.u64(3) as u32 as i32).map_err(|_| Errno::EINVAL)?;
            futexes.wake_op(
                &t.mm,
                addr,
                a.addr(4),
                private,
                futex_count(a, 2)?,
                n2,
                a.u32(5),
            )?
        }
        FUTEX_LOCK_PI | FUTEX_LOCK_PI2 | FUTEX_TRYLOCK_PI => {
            let trylock = op == FUTEX_TRYLOCK_PI;
            let deadline = if trylock {
                None
            } else {
                futex_deadline(t, a, true, realtime || op == FUTEX_LOCK_PI)?
            };
            let r = futexes.lock_pi(
                &t.mm,
                &t.waker,
                t.tid,
                addr,
                private,
                trylock,
                deadline,
                |tid| kernel.task(tid).is_some(),
            );
            if r == Err(Errno::EINTR) {
                // Linux restarts an interrupted LOCK_PI (ERESTARTNOINTR).
                t.signals.set_restart(RestartKind::NoIntr);
            }
            r?;
            0
        }
        FUTEX_UNLOCK_PI => {
            futexes.unlock_pi(&t.mm, t.tid, addr, private)?;
            0
        }
        FUTEX_WAIT_REQUEUE_PI | FUTEX_CMP_REQUEUE_PI => return Err(Errno::EINVAL),
        _ => return Err(Errno::ENOSYS),
    };
    Ok(n as u64)
}

/// CAP_SYS_NICE.
const CAP_SYS_NICE: u32 = 23;

/// The thread a sched_*affinity call names: the caller for 0, else ESRCH if none.
fn affinity_target(t: &Task, tid: i32) -> SysResult<std::sync::Arc<sentry::kernel::TaskHandle>> {
    match tid {
        0 => Ok(t.handle.clone()),
        tid if tid < 0 => Err(Errno::ESRCH),
        tid => t.kernel.task(tid).ok_or(Errno::ESRCH),
    }
}

/// Linux's `cpumask_size()`: a mask of the sandbox's CPUs in whole longs.
fn cpumask_size(ncpu: usize) -> usize {
    ncpu.div_ceil(64) * 8
}

/// `mask` limited to the sandbox's `ncpu` CPUs, `cpumask_size` bytes (an empty mask is all).
fn effective_mask(mask: &[u8], ncpu: usize) -> Vec<u8> {
    let mut out = vec![0u8; cpumask_size(ncpu)];
    for cpu in 0..ncpu {
        let set = mask.is_empty() || mask.get(cpu / 8).is_some_and(|b| b >> (cpu % 8) & 1 != 0);
        if set {
            out[cpu / 8] |= 1 << (cpu % 8);
        }
    }
    out
}

/// sched_getaffinity(2): the thread's mask over the sandbox's CPUs (the host's count).
pub fn sys_sched_getaffinity(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    // The argument is a thread id (glibc's pthread_getaffinity_np passes the thread's tid).
    let target = affinity_target(t, a.i32(0))?;
    let ncpu = t.kernel.ncpus.min(1024);
    let mask_len = cpumask_size(ncpu);
    let len = a.len(1)?;
    if len < mask_len || !len.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    let mask = effective_mask(&target.affinity(), ncpu);
    t.mm.copy_out(a.addr(2), &mask)?;
    Ok(mask_len as u64)
}

/// sched_setaffinity(2): the CPUs a thread may run on, kept and reported (the sentry's host
/// threads are not pinned). EINVAL if no CPU of the sandbox is left; EPERM for another
/// user's thread without CAP_SYS_NICE. A shorter mask means the CPUs past it are off.
pub fn sys_sched_setaffinity(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let target = affinity_target(t, a.i32(0))?;
    let ncpu = t.kernel.ncpus.min(1024);
    let len = a.len(1)?.min(cpumask_size(ncpu).max(8));
    let mut user = vec![0u8; len];
    t.mm.copy_in(a.addr(2), &mut user)?;
    if target.tid != t.tid && !t.creds.has_cap(CAP_SYS_NICE) {
        let euid = t.creds.euid;
        let theirs = target.tg.view_creds();
        if theirs.is_some_and(|c| c.uid != euid && c.euid != euid) {
            return Err(Errno::EPERM);
        }
    }
    // (A zero-length mask has no CPU: `effective_mask` reads empty as "all", so check first.)
    if user.iter().all(|&b| b == 0) {
        return Err(Errno::EINVAL);
    }
    let mask = effective_mask(&user, ncpu);
    if mask.iter().all(|&b| b == 0) {
        return Err(Errno::EINVAL);
    }
    target.set_affinity(mask);
    Ok(0)
}

/// getcpu(2): the sandbox does not expose host CPU placement: the first CPU the thread may
/// run on, node 0.
pub fn sys_getcpu(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let ncpu = t.kernel.ncpus.min(1024);
    let mask = effective_mask(&t.handle.affinity(), ncpu);
    let cpu = (0..ncpu)
        .find(|&c| mask[c / 8] >> (c % 8) & 1 != 0)
        .unwrap_or(0) as u32;
    for (i, v) in [cpu, 0].iter().enumerate() {
        if a.addr(i) != 0 {
            t.mm.copy_out(a.addr(i), &v.to_ne_bytes())?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setres_ids_keep_minus_one_and_need_privilege_for_new_ids() {
        assert_eq!(
            new_res_ids([5, 6, 7], [u32::MAX, 5, u32::MAX], false),
            Ok([5, 5, 7])
        );
        assert_eq!(new_res_ids([5, 6, 7], [9, 9, 9], false), Err(Errno::EPERM));
        assert_eq!(
            new_res_ids([0, 0, 0], [9, u32::MAX, 9], true),
            Ok([9, 0, 9])
        );
    }
}
