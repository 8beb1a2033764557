//! clone(2), fork(2), vfork(2) and clone3(2): argument decoding; the work is
//! `Task::clone_task` (sentry/src/kernel/clone.rs, after Linux `kernel/fork.c`).

use sentry::kernel::clone::{CloneArgs, CLONE_VFORK, CLONE_VM, CSIGNAL};
use sentry::kernel::{SyscallArgs, Task};
use sentry::{Errno, SysResult};

/// clone(flags, stack, parent_tid, child_tid, tls): the x86_64 argument order.
pub fn sys_clone(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let flags = a.u64(0);
    let args = CloneArgs {
        flags: flags & !CSIGNAL,
        stack: a.addr(1),
        parent_tid: a.addr(2),
        child_tid: a.addr(3),
        tls: a.u64(4),
        exit_signal: (flags & CSIGNAL) as i32,
        // clone(2) returns the pidfd through the parent_tid slot.
        pidfd: a.addr(2),
    };
    Ok(clone_in_namespace(t, args)? as u64)
}

/// `Task::clone_task`, where CLONE_NEWNS (CAP_SYS_ADMIN, never with CLONE_FS) gives the child
/// a copy of the caller's mount namespace: the caller moves into the copy with a filesystem
/// context of its own for the clone, which the child copies, and then returns to its own.
fn clone_in_namespace(t: &mut Task, mut args: CloneArgs) -> SysResult<i32> {
    if args.flags & CLONE_NEWNS == 0 {
        return t.clone_task(args);
    }
    if !t.creds.has_cap(21) {
        return Err(Errno::EPERM);
    }
    if args.flags & CLONE_FS != 0 {
        return Err(Errno::EINVAL);
    }
    args.flags &= !CLONE_NEWNS;
    let own = t.fs.clone();
    t.unshare_fs();
    t.kernel.vfs.unshare_namespace(&t.fs);
    let r = t.clone_task(args);
    t.fs = own;
    // Republishes the caller's views (/proc/PID/cwd, root) with its own context again.
    let creds = (*t.creds).clone();
    t.set_creds(creds);
    r
}

pub fn sys_fork(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    let args = CloneArgs {
        exit_signal: libc::SIGCHLD,
        ..Default::default()
    };
    Ok(t.clone_task(args)? as u64)
}

pub fn sys_vfork(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    let args = CloneArgs {
        flags: CLONE_VM | CLONE_VFORK,
        exit_signal: libc::SIGCHLD,
        ..Default::default()
    };
    Ok(t.clone_task(args)? as u64)
}

/// `struct clone_args` up to `tls` (CLONE_ARGS_SIZE_VER0), with the later fields that must be
/// zero here (set_tid, cgroup).
const CLONE_ARGS_SIZE_VER0: usize = 64;
const CLONE_ARGS_MAX: usize = 4096;

/// clone3(args, size): `stack` plus `stack_size` gives the child's stack pointer.
pub fn sys_clone3(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let size = a.len(1)?;
    if !(CLONE_ARGS_SIZE_VER0..=CLONE_ARGS_MAX).contains(&size) {
        return Err(Errno::EINVAL);
    }
    let mut buf = vec![0u8; size];
    t.mm.copy_in(a.addr(0), &mut buf)?;
    let field = |i: usize| -> u64 {
        let s = i * 8;
        if s + 8 > buf.len() {
            return 0;
        }
        u64::from_ne_bytes(buf[s..s + 8].try_into().expect("invariant: 8 bytes"))
    };
    // flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
    // set_tid_size, cgroup; bytes past what the kernel knows must be zero.
    if buf.len() > 88 && buf[88..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    let flags = field(0);
    let exit_signal = field(4);
    if flags & CSIGNAL != 0 || exit_signal > 64 || field(8) != 0 || field(9) != 0 {
        return Err(Errno::EINVAL);
    }
    let (stack, stack_size) = (field(5), field(6));
    if (stack == 0) != (stack_size == 0) {
        return Err(Errno::EINVAL);
    }
    let args = CloneArgs {
        flags,
        stack: stack.wrapping_add(stack_size),
        parent_tid: field(3),
        child_tid: field(2),
        tls: field(7),
        exit_signal: exit_signal as i32,
        pidfd: field(1),
    };
    Ok(clone_in_namespace(t, args)? as u64)
}

/// unshare(2) flags (`include/uapi/linux/sched.h`).
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_THREAD: u64 = 0x10000;
const CLONE_NEWNS: u64 = 0x20000;
const CLONE_SYSVSEM: u64 = 0x40000;
const CLONE_NEWCGROUP: u64 = 0x0200_0000;
const CLONE_NEWUTS: u64 = 0x0400_0000;
const CLONE_NEWIPC: u64 = 0x0800_0000;
const CLONE_NEWUSER: u64 = 0x1000_0000;
const CLONE_NEWPID: u64 = 0x2000_0000;
const CLONE_NEWNET: u64 = 0x4000_0000;
const CLONE_NEWTIME: u64 = 0x80;
const NAMESPACES: u64 = CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
    | CLONE_NEWTIME;

/// unshare(2): CLONE_FILES and CLONE_FS give the caller its own descriptor table and
/// filesystem context; CLONE_SYSVSEM is already the case (SEM_UNDO lists are per process);
/// CLONE_THREAD, CLONE_SIGHAND and CLONE_VM only for a single-threaded process (which shares
/// nothing); CLONE_NEWNS gives it a copy of its mount namespace. Other new
/// namespaces are EPERM without CAP_SYS_ADMIN (CLONE_NEWUSER aside) and EINVAL with it.
pub fn sys_unshare(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let flags = a.u64(0);
    let known = CLONE_FS
        | CLONE_FILES
        | CLONE_SIGHAND
        | CLONE_THREAD
        | CLONE_VM
        | CLONE_SYSVSEM
        | NAMESPACES;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & NAMESPACES != 0 {
        if flags & NAMESPACES & !CLONE_NEWUSER != 0 && !t.creds.has_cap(21) {
            return Err(Errno::EPERM);
        }
        if flags & NAMESPACES != CLONE_NEWNS {
            return Err(Errno::EINVAL);
        }
    }
    if flags & (CLONE_THREAD | CLONE_SIGHAND | CLONE_VM) != 0
        && t.kernel.threads_of(t.tg.pid).len() > 1
    {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_FILES != 0 {
        t.unshare_files();
    }
    if flags & CLONE_FS != 0 {
        t.unshare_fs();
    }
    if flags & CLONE_NEWNS != 0 {
        // Its own filesystem context (CLONE_NEWNS implies CLONE_FS) in a copy of its mount
        // namespace (`Vfs::unshare_namespace`).
        t.unshare_fs();
        t.kernel.vfs.unshare_namespace(&t.fs);
    }
    Ok(0)
}
