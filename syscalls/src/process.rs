//! Process and thread identity and limits: getpid(2), gettid(2), getuid(2), getgroups(2),
//! exit(2), exit_group(2), arch_prctl(2), set_tid_address(2), set_robust_list(2), getrlimit(2),
//! prlimit(2), getrusage(2), times(2), futex(2) (single-threaded subset), sched_getaffinity(2).

use sentry::kernel::thread_group::Rlimit;
use sentry::kernel::{ExitStatus, SyscallArgs, Task};
use sentry::{Errno, SysResult};

pub fn sys_getpid(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    Ok(t.tg.pid as u64)
}

pub fn sys_gettid(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    Ok(t.tid as u64)
}

pub fn sys_getppid(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    Ok(t.tg.ppid as u64)
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

/// Process group and session: every process of this skeleton is in init's group and session.
pub fn sys_getpgrp(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    Ok(session_of(t, 0)? as u64)
}

pub fn sys_getpgid(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    Ok(session_of(t, a.i32(0))? as u64)
}

pub fn sys_getsid(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    Ok(session_of(t, a.i32(0))? as u64)
}

fn session_of(t: &Task, pid: i32) -> SysResult<i32> {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if pid != 0 && t.kernel.thread_group(pid).is_none() {
        return Err(Errno::ESRCH);
    }
    Ok(1)
}

pub fn sys_exit(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.exit_status = Some(ExitStatus::Exited(a.i32(0) & 0xff));
    Ok(0)
}

pub fn sys_exit_group(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.exit_status = Some(ExitStatus::Exited(a.i32(0) & 0xff));
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
    let privileged = t.creds.euid == 0;
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

/// getrusage(2): struct rusage is 144 bytes; CPU times are not accounted per application
/// thread yet, so every field is zero.
pub fn sys_getrusage(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    match a.i32(0) {
        libc::RUSAGE_SELF | libc::RUSAGE_CHILDREN | libc::RUSAGE_THREAD => {}
        _ => return Err(Errno::EINVAL),
    }
    t.mm.copy_out(a.addr(1), &[0u8; 144])?;
    Ok(0)
}

/// times(2): zero CPU times (see getrusage), and clock ticks (USER_HZ=100) since boot.
pub fn sys_times(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    if a.addr(0) != 0 {
        t.mm.copy_out(a.addr(0), &[0u8; 32])?;
    }
    let ticks = t.kernel.boot_instant.elapsed().as_millis() / 10;
    Ok(ticks as u64)
}

const FUTEX_WAIT: i32 = 0;
const FUTEX_WAKE: i32 = 1;
const FUTEX_WAIT_BITSET: i32 = 9;
const FUTEX_WAKE_BITSET: i32 = 10;
const FUTEX_PRIVATE_FLAG: i32 = 128;
const FUTEX_CLOCK_REALTIME: i32 = 256;

/// futex(2) for a single-threaded process: nobody else can wake a waiter, so WAIT with a
/// matching value sleeps for its timeout (ETIMEDOUT) and WAKE wakes nobody.
pub fn sys_futex(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let op = a.i32(1) & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    match op {
        FUTEX_WAKE | FUTEX_WAKE_BITSET => Ok(0),
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let addr = a.addr(0);
            if !addr.is_multiple_of(4) {
                return Err(Errno::EINVAL);
            }
            let mut v = [0u8; 4];
            t.mm.copy_in(addr, &mut v)?;
            if u32::from_ne_bytes(v) != a.u32(2) {
                return Err(Errno::EAGAIN);
            }
            if a.addr(3) == 0 {
                // Nothing can ever wake this waiter; Linux would block forever.
                return Err(Errno::EDEADLK);
            }
            let ts = crate::time::read_timespec(t, a.addr(3))?;
            if op == FUTEX_WAIT {
                std::thread::sleep(ts);
            } else {
                let clock = if a.i32(1) & FUTEX_CLOCK_REALTIME != 0 {
                    libc::CLOCK_REALTIME
                } else {
                    libc::CLOCK_MONOTONIC
                };
                crate::time::sleep_until(clock, ts)?;
            }
            Err(Errno::ETIMEDOUT)
        }
        _ => Err(Errno::ENOSYS),
    }
}

/// sched_getaffinity(2): the sandbox offers the host's CPU count, CPUs 0..n.
pub fn sys_sched_getaffinity(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let pid = a.i32(0);
    if pid != 0 && t.kernel.thread_group(pid).is_none() {
        return Err(Errno::ESRCH);
    }
    let ncpu = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(1024);
    // cpumask_size(): the mask in whole longs.
    let mask_len = ncpu.div_ceil(64) * 8;
    let len = a.len(1)?;
    if len < mask_len || !len.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    let mut mask = vec![0u8; mask_len];
    for cpu in 0..ncpu {
        mask[cpu / 8] |= 1 << (cpu % 8);
    }
    t.mm.copy_out(a.addr(2), &mask)?;
    Ok(mask_len as u64)
}

/// getcpu(2): the sandbox does not expose host CPU placement; always CPU 0, node 0.
pub fn sys_getcpu(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    for i in 0..2 {
        if a.addr(i) != 0 {
            t.mm.copy_out(a.addr(i), &0u32.to_ne_bytes())?;
        }
    }
    Ok(0)
}
