//! Descriptor-table syscalls: close(2), dup(2)/dup2/dup3, fcntl(2) (descriptor and status
//! flags only), umask(2).

use sentry::kernel::{SyscallArgs, Task};
use sentry::{Errno, SysResult};

use super::nofile_limit;

/// close(2).
pub fn sys_close(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let fd = a.fd(0);
    let file = t.fd_table.remove(fd)?;
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
    Ok(t.fd_table.dup3(oldfd, newfd, cloexec)? as u64)
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
        // F_GETPIPE_SZ, F_SETPIPE_SZ...: answered by the file itself (EINVAL otherwise).
        _ => file.fcntl(Some(t), cmd, a.u64(2)),
    }
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
