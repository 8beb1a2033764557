//! Attribute and link syscalls (after gVisor's `sys_stat.go`/`sys_xattr.go`/`sys_file.go`;
//! Linux `fs/open.c`, `fs/utimes.c`, `fs/namei.c`, `fs/xattr.c`): chmod/chown/utimes families,
//! truncate, fallocate, link/symlink/mknod/renameat2, sync family and the xattr family.

use std::sync::Arc;

use sentry::fs::inotify::{IN_ATTRIB, IN_MODIFY};
use sentry::kernel::{SyscallArgs, Task};
use sentry::vfs::attr::TimeArg;
use sentry::vfs::{Dentry, Timespec};
use sentry::{Errno, SysResult};

use super::inotify as notify;
use super::path_arg;

/// `UTIME_NOW` and `UTIME_OMIT` (include/uapi/linux/stat.h).
const UTIME_NOW: i64 = (1 << 30) - 1;
const UTIME_OMIT: i64 = (1 << 30) - 2;
/// `XATTR_SIZE_MAX` and `XATTR_LIST_MAX`.
const XATTR_SIZE_MAX: usize = 65536;
/// `FALLOC_FL_KEEP_SIZE`.
const FALLOC_KEEP_SIZE: i32 = libc::FALLOC_FL_KEEP_SIZE;

/// The dentry an fd names, refusing O_PATH descriptions (EBADF) like fchmod/fchown do.
fn fd_dentry(t: &Task, fd: i32) -> SysResult<Arc<Dentry>> {
    let f = t.fd_table.get(fd)?;
    if f.is_path_only() {
        return Err(Errno::EBADF);
    }
    Ok(f.dentry().clone())
}

/// The dentry an *at call names: `flags` may hold AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH.
fn at_dentry(
    t: &Task,
    dirfd: i32,
    path: &[u8],
    follow: bool,
    empty: bool,
) -> SysResult<Arc<Dentry>> {
    if path.is_empty() && empty && dirfd != libc::AT_FDCWD {
        return Ok(t.fd_table.get(dirfd)?.dentry().clone());
    }
    t.kernel.vfs.lookup_at(t, dirfd, path, follow, empty)
}

fn do_chmod(t: &Task, d: &Dentry, mode: u32) -> SysResult<u64> {
    t.kernel.vfs.chmod(Some(t), d, mode)?;
    notify::dentry_event(t, d, IN_ATTRIB);
    Ok(0)
}

/// chmod(2).
pub fn sys_chmod(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let path = path_arg(t, a.addr(0))?;
    let d = at_dentry(t, libc::AT_FDCWD, &path, true, false)?;
    do_chmod(t, &d, a.u32(1))
}

/// fchmod(2).
pub fn sys_fchmod(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let d = fd_dentry(t, a.fd(0))?;
    do_chmod(t, &d, a.u32(1))
}

/// fchmodat(2) (the syscall has no flags argument; glibc's AT_SYMLINK_NOFOLLOW emulation
/// ends in EOPNOTSUPP through the O_PATH fd it opens).
pub fn sys_fchmodat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let path = path_arg(t, a.addr(1))?;
    let d = at_dentry(t, a.fd(0), &path, true, false)?;
    do_chmod(t, &d, a.u32(2))
}

/// fchmodat2(2): `flags` may hold AT_SYMLINK_NOFOLLOW (a symlink is then EOPNOTSUPP, as
/// Linux's filesystems answer) and AT_EMPTY_PATH.
pub fn sys_fchmodat2(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let flags = a.i32(3);
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(t, a.addr(1))?;
    let d = at_dentry(
        t,
        a.fd(0),
        &path,
        flags & libc::AT_SYMLINK_NOFOLLOW == 0,
        flags & libc::AT_EMPTY_PATH != 0,
    )?;
    do_chmod(t, &d, a.u32(2))
}

fn id_arg(v: u32) -> Option<u32> {
    (v != u32::MAX).then_some(v)
}

fn do_chown(t: &Task, d: &Dentry, uid: u32, gid: u32) -> SysResult<u64> {
    t.kernel.vfs.chown(Some(t), d, id_arg(uid), id_arg(gid))?;
    notify::dentry_event(t, d, IN_ATTRIB);
    Ok(0)
}

/// chown(2).
pub fn sys_chown(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let path = path_arg(t, a.addr(0))?;
    let d = at_dentry(t, libc::AT_FDCWD, &path, true, false)?;
    do_chown(t, &d, a.u32(1), a.u32(2))
}

/// lchown(2).
pub fn sys_lchown(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let path = path_arg(t, a.addr(0))?;
    let d = at_dentry(t, libc::AT_FDCWD, &path, false, false)?;
    do_chown(t, &d, a.u32(1), a.u32(2))
}

/// fchown(2).
pub fn sys_fchown(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let d = fd_dentry(t, a.fd(0))?;
    do_chown(t, &d, a.u32(1), a.u32(2))
}

/// fchownat(2): `flags` may hold AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH.
pub fn sys_fchownat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let flags = a.i32(4);
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(t, a.addr(1))?;
    let d = at_dentry(
        t,
        a.fd(0),
        &path,
        flags & libc::AT_SYMLINK_NOFOLLOW == 0,
        flags & libc::AT_EMPTY_PATH != 0,
    )?;
    do_chown(t, &d, a.u32(2), a.u32(3))
}

fn time_arg(sec: i64, nsec: i64) -> SysResult<TimeArg> {
    match nsec {
        UTIME_NOW => Ok(TimeArg::Now),
        UTIME_OMIT => Ok(TimeArg::Omit),
        0..=999_999_999 => Ok(TimeArg::Set(Timespec { sec, nsec })),
        _ => Err(Errno::EINVAL),
    }
}

/// utimensat(2): NULL `times` is now for both; UTIME_NOW/UTIME_OMIT per field; a NULL path
/// (Linux extension) names `dirfd` itself.
pub fn sys_utimensat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (dirfd, path_addr, times, flags) = (a.fd(0), a.addr(1), a.addr(2), a.i32(3));
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let (at, mt) = if times == 0 {
        (TimeArg::Now, TimeArg::Now)
    } else {
        let ts: [libc::timespec; 2] = [t.mm.copy_in_pod(times)?, t.mm.copy_in_pod(times + 16)?];
        (
            time_arg(ts[0].tv_sec, ts[0].tv_nsec)?,
            time_arg(ts[1].tv_sec, ts[1].tv_nsec)?,
        )
    };
    let d = if path_addr == 0 {
        if dirfd == libc::AT_FDCWD {
            return Err(Errno::EFAULT);
        }
        t.fd_table.get(dirfd)?.dentry().clone()
    } else {
        let path = path_arg(t, path_addr)?;
        at_dentry(
            t,
            dirfd,
            &path,
            flags & libc::AT_SYMLINK_NOFOLLOW == 0,
            flags & libc::AT_EMPTY_PATH != 0,
        )?
    };
    t.kernel.vfs.utimes(Some(t), &d, at, mt)?;
    notify::dentry_event(t, &d, IN_ATTRIB);
    Ok(0)
}

/// The shared body of utimes(2) and futimesat(2): `times` points to two timevals or is NULL.
fn do_futimesat(t: &Task, dirfd: i32, path_addr: u64, times: u64) -> SysResult<u64> {
    let (at, mt) = if times == 0 {
        (TimeArg::Now, TimeArg::Now)
    } else {
        let tv: [libc::timeval; 2] = [t.mm.copy_in_pod(times)?, t.mm.copy_in_pod(times + 16)?];
        let mut out = [TimeArg::Now; 2];
        for (o, v) in out.iter_mut().zip(tv.iter()) {
            if !(0..1_000_000).contains(&v.tv_usec) {
                return Err(Errno::EINVAL);
            }
            *o = TimeArg::Set(Timespec {
                sec: v.tv_sec,
                nsec: v.tv_usec * 1000,
            });
        }
        (out[0], out[1])
    };
    let path = path_arg(t, path_addr)?;
    let d = at_dentry(t, dirfd, &path, true, false)?;
    t.kernel.vfs.utimes(Some(t), &d, at, mt)?;
    notify::dentry_event(t, &d, IN_ATTRIB);
    Ok(0)
}

/// utimes(2).
pub fn sys_utimes(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_futimesat(t, libc::AT_FDCWD, a.addr(0), a.addr(1))
}

/// futimesat(2).
pub fn sys_futimesat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_futimesat(t, a.fd(0), a.addr(1), a.addr(2))
}

/// utime(2): `times` points to a `struct utimbuf` (actime, modtime) or is NULL.
pub fn sys_utime(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (path_addr, times) = (a.addr(0), a.addr(1));
    let (at, mt) = if times == 0 {
        (TimeArg::Now, TimeArg::Now)
    } else {
        let b: [u8; 16] = t.mm.copy_in_pod(times)?;
        let sec = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            i64::from_ne_bytes(w)
        };
        (
            TimeArg::Set(Timespec {
                sec: sec(0),
                nsec: 0,
            }),
            TimeArg::Set(Timespec {
                sec: sec(8),
                nsec: 0,
            }),
        )
    };
    let path = path_arg(t, path_addr)?;
    let d = at_dentry(t, libc::AT_FDCWD, &path, true, false)?;
    t.kernel.vfs.utimes(Some(t), &d, at, mt)?;
    notify::dentry_event(t, &d, IN_ATTRIB);
    Ok(0)
}

/// truncate(2).
pub fn sys_truncate(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let path = path_arg(t, a.addr(0))?;
    let len = u64::try_from(a.i64(1)).map_err(|_| Errno::EINVAL)?;
    let d = at_dentry(t, libc::AT_FDCWD, &path, true, false)?;
    super::read_write::fsize_check_size(t, len)?;
    t.kernel.vfs.truncate(Some(t), &d, len)?;
    notify::dentry_event(t, &d, IN_MODIFY);
    Ok(0)
}

/// fallocate(2): mode 0 and FALLOC_FL_KEEP_SIZE; other modes EOPNOTSUPP.
pub fn sys_fallocate(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (fd, mode, off, len) = (a.fd(0), a.i32(1), a.i64(2), a.i64(3));
    let file = t.fd_table.get(fd)?;
    if off < 0 || len <= 0 {
        return Err(Errno::EINVAL);
    }
    if mode & !FALLOC_KEEP_SIZE != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if !file.writable() {
        return Err(Errno::EBADF);
    }
    let st = file.stat_vfs(Some(t))?;
    if st.is_dir() {
        return Err(Errno::EISDIR);
    }
    if st.file_type() == libc::S_IFIFO {
        return Err(Errno::ESPIPE);
    }
    if !st.is_reg() {
        return Err(Errno::ENODEV);
    }
    let end = (off as u64).checked_add(len as u64).ok_or(Errno::EFBIG)?;
    if mode & FALLOC_KEEP_SIZE == 0 {
        super::read_write::fsize_check_size(t, end)?;
    }
    file.ops().allocate(mode, off as u64, len as u64)?;
    notify::file_event(t, &file, IN_MODIFY);
    Ok(0)
}

fn do_linkat(
    t: &Task,
    olddirfd: i32,
    old_addr: u64,
    newdirfd: i32,
    new_addr: u64,
    flags: i32,
) -> SysResult<u64> {
    if flags & !(libc::AT_SYMLINK_FOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let old = path_arg(t, old_addr)?;
    let new = path_arg(t, new_addr)?;
    let target = at_dentry(
        t,
        olddirfd,
        &old,
        flags & libc::AT_SYMLINK_FOLLOW != 0,
        flags & libc::AT_EMPTY_PATH != 0,
    )?;
    let nc = t.kernel.vfs.ctx(t, newdirfd)?;
    t.kernel.vfs.link_in(&nc, &target, &new)?;
    notify::dentry_event(t, &target, IN_ATTRIB);
    notify::created(t, newdirfd, &new);
    Ok(0)
}

/// link(2).
pub fn sys_link(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_linkat(t, libc::AT_FDCWD, a.addr(0), libc::AT_FDCWD, a.addr(1), 0)
}

/// linkat(2).
pub fn sys_linkat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_linkat(t, a.fd(0), a.addr(1), a.fd(2), a.addr(3), a.i32(4))
}

fn do_symlinkat(t: &Task, target_addr: u64, dirfd: i32, path_addr: u64) -> SysResult<u64> {
    let target = path_arg(t, target_addr)?;
    let path = path_arg(t, path_addr)?;
    let c = t.kernel.vfs.ctx(t, dirfd)?;
    t.kernel.vfs.symlink_in(&c, &target, &path)?;
    notify::created(t, dirfd, &path);
    Ok(0)
}

/// symlink(2).
pub fn sys_symlink(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_symlinkat(t, a.addr(0), libc::AT_FDCWD, a.addr(1))
}

/// symlinkat(2).
pub fn sys_symlinkat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_symlinkat(t, a.addr(0), a.fd(1), a.addr(2))
}

fn do_mknodat(t: &Task, dirfd: i32, path_addr: u64, mode: u32) -> SysResult<u64> {
    let path = path_arg(t, path_addr)?;
    let c = t.kernel.vfs.ctx(t, dirfd)?;
    t.kernel.vfs.mknod_in(&c, &path, mode)?;
    notify::created(t, dirfd, &path);
    Ok(0)
}

/// mknod(2): regular files and FIFOs.
pub fn sys_mknod(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_mknodat(t, libc::AT_FDCWD, a.addr(0), a.u32(1))
}

/// mknodat(2).
pub fn sys_mknodat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_mknodat(t, a.fd(0), a.addr(1), a.u32(2))
}

/// renameat2(2): RENAME_NOREPLACE, RENAME_EXCHANGE; RENAME_WHITEOUT is EINVAL.
pub fn sys_renameat2(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let old = path_arg(t, a.addr(1))?;
    let new = path_arg(t, a.addr(3))?;
    let oc = t.kernel.vfs.ctx(t, a.fd(0))?;
    let nc = t.kernel.vfs.ctx(t, a.fd(2))?;
    let (b_old, b_new) = (
        notify::before(t, a.fd(0), &old),
        notify::before(t, a.fd(2), &new),
    );
    t.kernel.vfs.rename2_in(&oc, &old, &nc, &new, a.u32(4))?;
    notify::renamed(t, b_old, b_new, a.fd(2), &new);
    Ok(0)
}

/// sync(2): the sandbox's files live in memory or behind the gofer; nothing to flush.
pub fn sys_sync(_t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    Ok(0)
}

/// syncfs(2).
pub fn sys_syncfs(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.fd_table.get(a.fd(0))?.sync()?;
    Ok(0)
}

/// sync_file_range(2): flags are checked; the data is already as durable as it gets.
pub fn sys_sync_file_range(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (off, len, flags) = (a.i64(1), a.i64(2), a.u32(3));
    let valid = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    if flags & !valid != 0 || off < 0 || len < 0 || off.checked_add(len).is_none() {
        return Err(Errno::EINVAL);
    }
    let file = t.fd_table.get(a.fd(0))?;
    let st = file.stat_vfs(Some(t))?;
    if !st.is_reg()
        && !st.is_dir()
        && st.file_type() != libc::S_IFBLK
        && st.file_type() != libc::S_IFLNK
    {
        return Err(Errno::ESPIPE);
    }
    Ok(0)
}

// ---- extended attributes ----

/// Which file an xattr call names.
enum XTarget {
    Path { addr: u64, follow: bool },
    Fd(i32),
}

fn xattr_dentry(t: &Task, target: XTarget) -> SysResult<Arc<Dentry>> {
    match target {
        XTarget::Path { addr, follow } => {
            let path = path_arg(t, addr)?;
            at_dentry(t, libc::AT_FDCWD, &path, follow, false)
        }
        XTarget::Fd(fd) => fd_dentry(t, fd),
    }
}

fn xattr_name(t: &Task, addr: u64) -> SysResult<Vec<u8>> {
    let name = t.mm.copy_in_cstring(addr, 255).map_err(|e| {
        if e == Errno::ENAMETOOLONG {
            Errno::ERANGE
        } else {
            e
        }
    })?;
    if name.is_empty() {
        return Err(Errno::ERANGE);
    }
    Ok(name)
}

/// Copies `data` out to a user buffer of `size` bytes: size 0 asks for the length.
fn copy_sized(t: &Task, buf: u64, size: usize, data: &[u8]) -> SysResult<u64> {
    if size == 0 {
        return Ok(data.len() as u64);
    }
    if data.len() > size {
        return Err(Errno::ERANGE);
    }
    t.mm.copy_out(buf, data)?;
    Ok(data.len() as u64)
}

fn do_getxattr(t: &Task, target: XTarget, a: &SyscallArgs) -> SysResult<u64> {
    let d = xattr_dentry(t, target)?;
    let name = xattr_name(t, a.addr(1))?;
    let v = t.kernel.vfs.getxattr(Some(t), &d, &name)?;
    copy_sized(t, a.addr(2), a.len(3)?.min(XATTR_SIZE_MAX), &v)
}

fn do_setxattr(t: &Task, target: XTarget, a: &SyscallArgs) -> SysResult<u64> {
    let d = xattr_dentry(t, target)?;
    let name = xattr_name(t, a.addr(1))?;
    let size = a.len(3)?;
    if size > XATTR_SIZE_MAX {
        return Err(Errno::E2BIG);
    }
    let mut v = vec![0u8; size];
    t.mm.copy_in(a.addr(2), &mut v)?;
    t.kernel.vfs.setxattr(Some(t), &d, &name, &v, a.i32(4))?;
    notify::dentry_event(t, &d, IN_ATTRIB);
    Ok(0)
}

fn do_listxattr(t: &Task, target: XTarget, a: &SyscallArgs) -> SysResult<u64> {
    let d = xattr_dentry(t, target)?;
    let mut out = Vec::new();
    for n in t.kernel.vfs.listxattr(Some(t), &d)? {
        out.extend_from_slice(&n);
        out.push(0);
    }
    copy_sized(t, a.addr(1), a.len(2)?.min(XATTR_SIZE_MAX), &out)
}

fn do_removexattr(t: &Task, target: XTarget, a: &SyscallArgs) -> SysResult<u64> {
    let d = xattr_dentry(t, target)?;
    let name = xattr_name(t, a.addr(1))?;
    t.kernel.vfs.removexattr(Some(t), &d, &name)?;
    notify::dentry_event(t, &d, IN_ATTRIB);
    Ok(0)
}

fn path_target(a: &SyscallArgs, follow: bool) -> XTarget {
    XTarget::Path {
        addr: a.addr(0),
        follow,
    }
}

/// setxattr(2).
pub fn sys_setxattr(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_setxattr(t, path_target(a, true), a)
}
/// lsetxattr(2).
pub fn sys_lsetxattr(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_setxattr(t, path_target(a, false), a)
}
/// fsetxattr(2).
pub fn sys_fsetxattr(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_setxattr(t, XTarget::Fd(a.fd(0)), a)
}
/// getxattr(2).
pub fn sys_getxattr(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_getxattr(t, path_target(a, true), a)
}
/// lgetxattr(2).
pub fn sys_lgetxattr(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_getxattr(t, path_target(a, false), a)
}
/// fgetxattr(2).
pub fn sys_fgetxattr(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_getxattr(t, XTarget::Fd(a.fd(0)), a)
}
/// listxattr(2).
pub fn sys_listxattr(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_listxattr(t, path_target(a, true), a)
}
/// llistxattr(2).
pub fn sys_llistxattr(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_listxattr(t, path_target(a, false), a)
}
/// flistxattr(2).
pub fn sys_flistxattr(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_listxattr(t, XTarget::Fd(a.fd(0)), a)
}
/// removexattr(2).
pub fn sys_removexattr(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_removexattr(t, path_target(a, true), a)
}
/// lremovexattr(2).
pub fn sys_lremovexattr(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_removexattr(t, path_target(a, false), a)
}
/// fremovexattr(2).
pub fn sys_fremovexattr(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_removexattr(t, XTarget::Fd(a.fd(0)), a)
}
