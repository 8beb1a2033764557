//! Path syscalls: open(2) family, access(2) family, readlink(2), getcwd(2), chdir(2),
//! mkdir(2), unlink(2), rmdir(2), rename(2).

use sentry::kernel::{SyscallArgs, Task};
use sentry::{Errno, SysResult};

use super::{count, nofile_limit, path_arg};

/// O_TMPFILE (with its O_DIRECTORY bit). Like Linux's open(2) (not openat2), unknown flag bits
/// are ignored rather than refused; O_TMPFILE works where the filesystem supports it (tmpfs)
/// and is EOPNOTSUPP elsewhere.
const O_TMPFILE: i32 = libc::O_TMPFILE;

fn do_openat(t: &Task, dirfd: i32, path_addr: u64, flags: i32, mode: u32) -> SysResult<u64> {
    let path = path_arg(t, path_addr)?;
    let file = if flags & O_TMPFILE == O_TMPFILE {
        let c = t.kernel.vfs.ctx(t, dirfd)?;
        t.kernel
            .vfs
            .open_tmpfile_in(&c, &path, flags, mode & 0o7777)?
    } else {
        t.kernel.vfs.open(t, dirfd, &path, flags, mode & 0o7777)?
    };
    let limit = nofile_limit(t);
    Ok(t.fd_table
        .install_below(file, flags & libc::O_CLOEXEC != 0, 0, limit)? as u64)
}

/// open(2).
pub fn sys_open(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_openat(t, libc::AT_FDCWD, a.addr(0), a.i32(1), a.u32(2))
}

/// openat(2).
pub fn sys_openat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_openat(t, a.fd(0), a.addr(1), a.i32(2), a.u32(3))
}

/// creat(2): open with O_CREAT|O_WRONLY|O_TRUNC.
pub fn sys_creat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_openat(
        t,
        libc::AT_FDCWD,
        a.addr(0),
        libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
        a.u32(1),
    )
}

fn do_faccessat(t: &Task, dirfd: i32, path_addr: u64, mode: i32, flags: i32) -> SysResult<u64> {
    if mode & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & !(libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(t, path_addr)?;
    t.kernel.vfs.access_at(t, dirfd, &path, mode, flags)?;
    Ok(0)
}

/// access(2).
pub fn sys_access(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_faccessat(t, libc::AT_FDCWD, a.addr(0), a.i32(1), 0)
}

/// faccessat(2) (the syscall has no flags argument).
pub fn sys_faccessat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_faccessat(t, a.fd(0), a.addr(1), a.i32(2), 0)
}

/// faccessat2(2).
pub fn sys_faccessat2(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_faccessat(t, a.fd(0), a.addr(1), a.i32(2), a.i32(3))
}

fn do_readlinkat(t: &Task, dirfd: i32, path_addr: u64, buf: u64, size: i32) -> SysResult<u64> {
    let path = path_arg(t, path_addr)?;
    if size <= 0 {
        return Err(Errno::EINVAL);
    }
    let target = t.kernel.vfs.readlink_at(t, dirfd, &path)?;
    let n = target.len().min(size as usize);
    t.mm.copy_out(buf, &target[..n])?;
    count(n)
}

/// readlink(2).
pub fn sys_readlink(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_readlinkat(t, libc::AT_FDCWD, a.addr(0), a.addr(1), a.i32(2))
}

/// readlinkat(2).
pub fn sys_readlinkat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_readlinkat(t, a.fd(0), a.addr(1), a.addr(2), a.i32(3))
}

/// getcwd(2): the path with its NUL; ERANGE if it does not fit.
pub fn sys_getcwd(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (buf, size) = (a.addr(0), a.len(1)?);
    let mut path = t.fs.cwd_path();
    path.push(0);
    if path.len() > size {
        return Err(Errno::ERANGE);
    }
    t.mm.copy_out(buf, &path)?;
    count(path.len())
}

/// chdir(2).
pub fn sys_chdir(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let path = path_arg(t, a.addr(0))?;
    t.kernel.vfs.chdir(t, &path)?;
    Ok(0)
}

/// fchdir(2).
pub fn sys_fchdir(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.kernel.vfs.fchdir(t, a.fd(0))?;
    Ok(0)
}

fn do_mkdirat(t: &Task, dirfd: i32, path_addr: u64, mode: u32) -> SysResult<u64> {
    let path = path_arg(t, path_addr)?;
    t.kernel.vfs.mkdir_at(t, dirfd, &path, mode & 0o7777)?;
    Ok(0)
}

/// mkdir(2).
pub fn sys_mkdir(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_mkdirat(t, libc::AT_FDCWD, a.addr(0), a.u32(1))
}

/// mkdirat(2).
pub fn sys_mkdirat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_mkdirat(t, a.fd(0), a.addr(1), a.u32(2))
}

fn do_unlinkat(t: &Task, dirfd: i32, path_addr: u64, flags: i32) -> SysResult<u64> {
    if flags & !libc::AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(t, path_addr)?;
    t.kernel.vfs.unlink_at(t, dirfd, &path, flags)?;
    Ok(0)
}

/// unlink(2).
pub fn sys_unlink(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_unlinkat(t, libc::AT_FDCWD, a.addr(0), 0)
}

/// unlinkat(2): `flags` is 0 or AT_REMOVEDIR.
pub fn sys_unlinkat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_unlinkat(t, a.fd(0), a.addr(1), a.i32(2))
}

/// rmdir(2).
pub fn sys_rmdir(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_unlinkat(t, libc::AT_FDCWD, a.addr(0), libc::AT_REMOVEDIR)
}

fn do_renameat(
    t: &Task,
    olddirfd: i32,
    old_addr: u64,
    newdirfd: i32,
    new_addr: u64,
) -> SysResult<u64> {
    let old = path_arg(t, old_addr)?;
    let new = path_arg(t, new_addr)?;
    t.kernel.vfs.rename_at(t, olddirfd, &old, newdirfd, &new)?;
    Ok(0)
}

/// rename(2).
pub fn sys_rename(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_renameat(t, libc::AT_FDCWD, a.addr(0), libc::AT_FDCWD, a.addr(1))
}

/// renameat(2).
pub fn sys_renameat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_renameat(t, a.fd(0), a.addr(1), a.fd(2), a.addr(3))
}
