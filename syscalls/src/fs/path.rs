//! Path syscalls: open(2) family, access(2) family, readlink(2), getcwd(2), chdir(2),
//! mkdir(2), unlink(2), rmdir(2), rename(2).

use sentry::kernel::{SyscallArgs, Task};
use sentry::vfs::walk::{Resolver, Restrict, Restricted};
use sentry::{Errno, SysResult};

use super::inotify as notify;
use super::{count, nofile_limit, path_arg};

/// O_TMPFILE (with its O_DIRECTORY bit). Like Linux's open(2) (not openat2), unknown flag bits
/// are ignored rather than refused; O_TMPFILE works where the filesystem supports it (tmpfs)
/// and is EOPNOTSUPP elsewhere.
const O_TMPFILE: i32 = libc::O_TMPFILE;

fn do_openat(t: &Task, dirfd: i32, path_addr: u64, flags: i32, mode: u32) -> SysResult<u64> {
    let path = path_arg(t, path_addr)?;
    let existed = notify::open_before(t, dirfd, &path, flags);
    let file = if flags & O_TMPFILE == O_TMPFILE {
        let c = t.kernel.vfs.ctx(t, dirfd)?;
        t.kernel
            .vfs
            .open_tmpfile_in(&c, &path, flags, mode & 0o7777)?
    } else {
        t.kernel.vfs.open(t, dirfd, &path, flags, mode & 0o7777)?
    };
    notify::opened(t, &file, flags, existed);
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

/// `struct open_how` sizes (include/uapi/linux/openat2.h `OPEN_HOW_SIZE_VER0`) and the most
/// a caller may pass (a page, as Linux's `copy_struct_from_user` bound).
const OPEN_HOW_SIZE_VER0: usize = 24;
const OPEN_HOW_SIZE_MAX: usize = 4096;
/// `RESOLVE_*` bits.
const RESOLVE_NO_XDEV: u64 = 0x01;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;
const RESOLVE_IN_ROOT: u64 = 0x10;
const RESOLVE_CACHED: u64 = 0x20;
const RESOLVE_ALL: u64 = 0x3f;
/// Linux `VALID_OPEN_FLAGS`: openat2 refuses any other bit.
const VALID_OPEN_FLAGS: i32 = libc::O_ACCMODE
    | libc::O_CREAT
    | libc::O_EXCL
    | libc::O_NOCTTY
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_SYNC
    | libc::O_DSYNC
    | libc::O_ASYNC
    | libc::O_DIRECT
    | libc::O_LARGEFILE
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW
    | libc::O_NOATIME
    | libc::O_CLOEXEC
    | libc::O_PATH
    | O_TMPFILE;
/// The flags O_PATH may come with (Linux `O_PATH_FLAGS`).
const O_PATH_FLAGS: i32 = libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_PATH | libc::O_CLOEXEC;

/// Decodes and validates `struct open_how` (Linux `build_open_flags` as openat2 uses it):
/// returns (flags, mode, resolve).
fn open_how(t: &Task, addr: u64, size: usize) -> SysResult<(i32, u32, u64)> {
    if size < OPEN_HOW_SIZE_VER0 {
        return Err(Errno::EINVAL);
    }
    if size > OPEN_HOW_SIZE_MAX {
        return Err(Errno::E2BIG);
    }
    let mut raw = vec![0u8; size];
    t.mm.copy_in(addr, &mut raw)?;
    if raw[OPEN_HOW_SIZE_VER0..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&raw[i * 8..i * 8 + 8]);
        u64::from_ne_bytes(w)
    };
    let (flags, mode, resolve) = (word(0), word(1), word(2));
    let flags = u32::try_from(flags)
        .map_err(|_| Errno::EINVAL)?
        .cast_signed();
    if flags & !VALID_OPEN_FLAGS != 0 || resolve & !RESOLVE_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let creates = flags & libc::O_CREAT != 0 || flags & O_TMPFILE == O_TMPFILE;
    if mode & !0o7777 != 0 || (!creates && mode != 0) {
        return Err(Errno::EINVAL);
    }
    if flags & libc::O_PATH != 0 && flags & !O_PATH_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & libc::O_CREAT != 0 && flags & libc::O_DIRECTORY != 0 {
        return Err(Errno::EINVAL);
    }
    if resolve & RESOLVE_BENEATH != 0 && resolve & RESOLVE_IN_ROOT != 0 {
        return Err(Errno::EINVAL);
    }
    if resolve & RESOLVE_CACHED != 0
        && (flags & (libc::O_CREAT | libc::O_TRUNC) != 0 || flags & O_TMPFILE == O_TMPFILE)
    {
        return Err(Errno::EAGAIN);
    }
    let mode = u32::try_from(mode).map_err(|_| Errno::EINVAL)?;
    Ok((flags, mode, resolve))
}

/// openat2(2): openat with strict flag checks and `RESOLVE_*` restrictions. The path is first
/// walked under the restrictions (`Resolver::resolve_restricted`), then opened by the ordinary
/// open in the same context (for RESOLVE_IN_ROOT, with the dirfd as the root). RESOLVE_CACHED
/// always finds the path "cached" (everything the sentry resolves is in memory).
pub fn sys_openat2(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (dirfd, path_addr, how_addr, size) = (a.fd(0), a.addr(1), a.addr(2), a.len(3)?);
    let (flags, mode, resolve) = open_how(t, how_addr, size)?;
    let path = path_arg(t, path_addr)?;
    let vfs = t.kernel.vfs.clone();
    let mut c = vfs.ctx(t, dirfd)?;
    if resolve & RESOLVE_IN_ROOT != 0 {
        c.root = c.start.clone();
    }
    let rs = Restrict {
        no_xdev: resolve & RESOLVE_NO_XDEV != 0,
        no_magiclinks: resolve & RESOLVE_NO_MAGICLINKS != 0,
        no_symlinks: resolve & RESOLVE_NO_SYMLINKS != 0,
        beneath: resolve & RESOLVE_BENEATH != 0,
        scoped: resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT) != 0,
    };
    if rs != Restrict::default() {
        let r = Resolver {
            vfs: &vfs,
            task: Some(t),
            root: c.root.clone(),
        };
        let follow = flags & libc::O_NOFOLLOW == 0;
        let creates = flags & libc::O_CREAT != 0 || flags & O_TMPFILE == O_TMPFILE;
        match r.resolve_restricted(c.start.clone(), &path, follow, rs)? {
            Restricted::Found(_) => {}
            Restricted::MissingFinal if creates => {}
            Restricted::MissingFinal => return Err(Errno::ENOENT),
        }
    }
    let existed = notify::open_before(t, dirfd, &path, flags);
    let file = if flags & O_TMPFILE == O_TMPFILE {
        vfs.open_tmpfile_in(&c, &path, flags, mode)?
    } else {
        vfs.open_in(&c, &path, flags, mode)?
    };
    notify::opened(t, &file, flags, existed);
    let limit = nofile_limit(t);
    Ok(t.fd_table
        .install_below(file, flags & libc::O_CLOEXEC != 0, 0, limit)? as u64)
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

/// getcwd(2): the path (relative to the task's root) with its NUL; ERANGE if it does not fit.
pub fn sys_getcwd(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (buf, size) = (a.addr(0), a.len(1)?);
    let mut path = t.fs.cwd_path_in_root();
    path.push(0);
    if path.len() > size {
        return Err(Errno::ERANGE);
    }
    t.mm.copy_out(buf, &path)?;
    count(path.len())
}

/// chroot(2).
pub fn sys_chroot(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let path = path_arg(t, a.addr(0))?;
    t.kernel.vfs.chroot(t, &path)?;
    Ok(0)
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
    notify::created(t, dirfd, &path);
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
    let b = notify::before(t, dirfd, &path);
    t.kernel.vfs.unlink_at(t, dirfd, &path, flags)?;
    notify::removed(t, b);
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
    let (b_old, b_new) = (
        notify::before(t, olddirfd, &old),
        notify::before(t, newdirfd, &new),
    );
    t.kernel.vfs.rename_at(t, olddirfd, &old, newdirfd, &new)?;
    notify::renamed(t, b_old, b_new, newdirfd, &new);
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
