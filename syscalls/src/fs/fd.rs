//! Descriptor-table syscalls: close(2), close_range(2), dup(2)/dup2/dup3, fcntl(2)
//! (descriptor and status flags, locks, seals), umask(2), memfd_create(2).

use sentry::kernel::{SyscallArgs, Task};
use sentry::{Errno, SysResult};

use super::nofile_limit;

/// close(2).
pub fn sys_close(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let fd = a.fd(0);
    let file = t.fd_table.remove(fd)?;
    super::lock::release_on_close(t, &file);
    // The inotify close event comes when the last reference goes (FileDescription's drop).
    drop(file);
    Ok(0)
}

/// dup(2).
pub fn sys_dup(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let fd = a.fd(0);
    let file = t.fd_table.get(fd)?;
    let limit = nofile_limit(t);
    Ok(t.fd_table.install_below(file, false, 0, limit)? as u64)
}

fn do_dup3(t: &Task, oldfd: i32, newfd: i32, cloexec: bool) -> SysResult<u64> {
    if newfd < 0 || newfd >= nofile_limit(t) {
        return Err(Errno::EBADF);
    }
    // A descriptor that newfd named is closed, as by close(2): its locks go (its close event
    // comes with the description's last reference).
    let replaced = t.fd_table.get(newfd).ok();
    let fd = t.fd_table.dup3(oldfd, newfd, cloexec)?;
    if let Some(file) = replaced {
        super::lock::release_on_close(t, &file);
    }
    Ok(fd as u64)
}

/// dup2(2): like dup3 without flags, but `oldfd == newfd` returns `newfd` if valid.
pub fn sys_dup2(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (oldfd, newfd) = (a.fd(0), a.fd(1));
    if oldfd == newfd {
        t.fd_table.get(oldfd)?;
        return Ok(newfd as u64);
    }
    do_dup3(t, oldfd, newfd, false)
}

/// dup3(2): `flags` is 0 or O_CLOEXEC.
pub fn sys_dup3(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (oldfd, newfd, flags) = (a.fd(0), a.fd(1), a.i32(2));
    if flags & !libc::O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    do_dup3(t, oldfd, newfd, flags & libc::O_CLOEXEC != 0)
}

/// fcntl(2): F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL; others EINVAL.
pub fn sys_fcntl(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (fd, cmd) = (a.fd(0), a.i32(1));
    let (file, cloexec) = t.fd_table.get_with_flags(fd)?;
    match cmd {
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            let min = a.i32(2);
            let limit = nofile_limit(t);
            if min < 0 || min >= limit {
                return Err(Errno::EINVAL);
            }
            Ok(t.fd_table
                .install_below(file, cmd == libc::F_DUPFD_CLOEXEC, min, limit)?
                as u64)
        }
        libc::F_GETFD => Ok(if cloexec { libc::FD_CLOEXEC as u64 } else { 0 }),
        libc::F_SETFD => {
            t.fd_table
                .set_cloexec(fd, a.i32(2) & libc::FD_CLOEXEC != 0)?;
            Ok(0)
        }
        libc::F_GETFL => Ok(file.flags() as u32 as u64),
        libc::F_SETFL => {
            if file.is_path_only() {
                return Err(Errno::EBADF);
            }
            file.set_status_flags(a.i32(2));
            Ok(0)
        }
        libc::F_GETLK
        | libc::F_SETLK
        | libc::F_SETLKW
        | libc::F_OFD_GETLK
        | libc::F_OFD_SETLK
        | libc::F_OFD_SETLKW => super::lock::fcntl_lock(t, &file, cmd, a.addr(2)),
        libc::F_ADD_SEALS => {
            let seals = a.u32(2);
            if seals & !ALL_SEALS != 0 {
                return Err(Errno::EINVAL);
            }
            // Only memfds and tmpfs files can carry seals.
            file.ops().seals()?;
            if !file.writable() {
                return Err(Errno::EPERM);
            }
            file.ops().add_seals(seals)?;
            Ok(0)
        }
        libc::F_GET_SEALS => Ok(u64::from(file.ops().seals()?)),
        // F_GETPIPE_SZ, F_SETPIPE_SZ...: answered by the file itself (EINVAL otherwise).
        _ => file.fcntl(Some(t), cmd, a.u64(2)),
    }
}

/// Every seal F_ADD_SEALS knows (`F_SEAL_SEAL | SHRINK | GROW | WRITE | FUTURE_WRITE`).
const ALL_SEALS: u32 = (libc::F_SEAL_SEAL
    | libc::F_SEAL_SHRINK
    | libc::F_SEAL_GROW
    | libc::F_SEAL_WRITE
    | libc::F_SEAL_FUTURE_WRITE) as u32;

/// `CLOSE_RANGE_UNSHARE` and `CLOSE_RANGE_CLOEXEC` (include/uapi/linux/close_range.h).
const CLOSE_RANGE_UNSHARE: u32 = 1 << 1;
const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;

/// close_range(2): closes (or marks close-on-exec) the descriptors in `[first, last]`;
/// CLOSE_RANGE_UNSHARE first gives the task its own copy of a shared table.
pub fn sys_close_range(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (first, last, flags) = (a.u32(0), a.u32(1), a.u32(2));
    if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    if flags & CLOSE_RANGE_UNSHARE != 0 {
        t.fd_table = std::sync::Arc::new(t.fd_table.fork());
    }
    for fd in t.fd_table.fds() {
        let Ok(u) = u32::try_from(fd) else { continue };
        if u < first || u > last {
            continue;
        }
        if flags & CLOSE_RANGE_CLOEXEC != 0 {
            t.fd_table.set_cloexec(fd, true)?;
        } else if let Ok(file) = t.fd_table.remove(fd) {
            super::lock::release_on_close(t, &file);
        }
    }
    Ok(0)
}

/// `MFD_*` flags (include/uapi/linux/memfd.h).
const MFD_CLOEXEC: u32 = 1;
const MFD_ALLOW_SEALING: u32 = 2;
const MFD_NOEXEC_SEAL: u32 = 8;
const MFD_EXEC: u32 = 0x10;
/// `MFD_NAME_MAX_LEN`: NAME_MAX minus the "memfd:" prefix.
const MFD_NAME_MAX: usize = 249;

/// memfd_create(2): an anonymous tmpfs file. MFD_HUGETLB is EINVAL (no huge pages here).
pub fn sys_memfd_create(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let flags = a.u32(1);
    if flags & !(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL | MFD_EXEC) != 0
        || flags & (MFD_NOEXEC_SEAL | MFD_EXEC) == MFD_NOEXEC_SEAL | MFD_EXEC
    {
        return Err(Errno::EINVAL);
    }
    let name = t.mm.copy_in_cstring(a.addr(0), MFD_NAME_MAX).map_err(|e| {
        if e == Errno::ENAMETOOLONG {
            Errno::EINVAL
        } else {
            e
        }
    })?;
    let sealing = flags & (MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL) != 0;
    let inode = sentry::fs::tmpfs::new_memfd(&name, t.creds.fsuid, t.creds.fsgid, sealing)?;
    if flags & MFD_NOEXEC_SEAL != 0 {
        inode.setattr(&sentry::vfs::SetAttr {
            mode: Some(0o666),
            ..Default::default()
        })?;
    }
    let ops = inode.open(Some(t), libc::O_RDWR)?;
    let mut path = b"/memfd:".to_vec();
    path.extend_from_slice(&name);
    path.extend_from_slice(b" (deleted)");
    let dentry = sentry::vfs::Dentry::anonymous(path, inode);
    let file = sentry::vfs::FileDescription::new(dentry, ops, libc::O_RDWR);
    let limit = nofile_limit(t);
    Ok(t.fd_table
        .install_below(file, flags & MFD_CLOEXEC != 0, 0, limit)? as u64)
}

/// umask(2).
pub fn sys_umask(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    Ok(u64::from(t.fs.swap_umask(a.u32(0))))
}

/// posix_fadvise(2): advice is a hint the sandbox may ignore; the descriptor and the advice
/// value are still checked as Linux does (EBADF, EINVAL).
pub fn sys_fadvise64(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.fd_table.get(a.fd(0))?;
    if a.i64(2) < 0 {
        return Err(Errno::EINVAL);
    }
    match a.i32(3) {
        libc::POSIX_FADV_NORMAL
        | libc::POSIX_FADV_RANDOM
        | libc::POSIX_FADV_SEQUENTIAL
        | libc::POSIX_FADV_WILLNEED
        | libc::POSIX_FADV_DONTNEED
        | libc::POSIX_FADV_NOREUSE => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}
