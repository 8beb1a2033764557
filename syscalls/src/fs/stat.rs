//! Attribute syscalls: stat(2) family, statx(2), statfs(2)/fstatfs(2).

use sentry::abi::stat::{stat_bytes, statfs_bytes};
use sentry::abi::statx::Statx;
use sentry::kernel::{SyscallArgs, Task};
use sentry::vfs::Stat;
use sentry::{Errno, SysResult};

use super::path_arg;

/// AT_NO_AUTOMOUNT (no automounts here, accepted and ignored).
const AT_NO_AUTOMOUNT: i32 = 0x800;
/// AT_STATX_SYNC_TYPE mask (FORCE_SYNC/DONT_SYNC; every answer here is current).
const AT_STATX_SYNC_TYPE: i32 = 0x6000;
/// STATX__RESERVED.
const STATX_RESERVED: u32 = 0x8000_0000;

fn put_stat(t: &Task, addr: u64, st: &Stat) -> SysResult<u64> {
    t.mm.copy_out(addr, &stat_bytes(st))?;
    Ok(0)
}

fn do_fstatat(t: &Task, dirfd: i32, path_addr: u64, buf: u64, flags: i32) -> SysResult<u64> {
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH | AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(t, path_addr)?;
    let st = t.kernel.vfs.stat_at(t, dirfd, &path, flags)?;
    put_stat(t, buf, &st)
}

/// stat(2).
pub fn sys_stat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_fstatat(t, libc::AT_FDCWD, a.addr(0), a.addr(1), 0)
}

/// lstat(2).
pub fn sys_lstat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_fstatat(
        t,
        libc::AT_FDCWD,
        a.addr(0),
        a.addr(1),
        libc::AT_SYMLINK_NOFOLLOW,
    )
}

/// fstat(2).
pub fn sys_fstat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let st = t.fd_table.get(a.fd(0))?.stat_vfs(Some(t))?;
    put_stat(t, a.addr(1), &st)
}

/// newfstatat(2).
pub fn sys_newfstatat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_fstatat(t, a.fd(0), a.addr(1), a.addr(2), a.i32(3))
}

/// statx(2): every basic field and the mount id, whatever `mask` asks.
pub fn sys_statx(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (dirfd, path_addr, flags, mask, buf) = (a.fd(0), a.addr(1), a.i32(2), a.u32(3), a.addr(4));
    if flags
        & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE)
        != 0
    {
        return Err(Errno::EINVAL);
    }
    if flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE || mask & STATX_RESERVED != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(t, path_addr)?;
    let (st, mnt) =
        if path.is_empty() && flags & libc::AT_EMPTY_PATH != 0 && dirfd != libc::AT_FDCWD {
            let f = t.fd_table.get(dirfd)?;
            (f.stat_vfs(Some(t))?, f.dentry().mount.id)
        } else {
            let empty = flags & libc::AT_EMPTY_PATH != 0;
            let d = t.kernel.vfs.lookup_at(
                t,
                dirfd,
                &path,
                flags & libc::AT_SYMLINK_NOFOLLOW == 0,
                empty,
            )?;
            (d.inode.stat(Some(t))?, d.mount.id)
        };
    t.mm.copy_out(buf, &Statx::from_stat(&st, mnt).to_bytes())?;
    Ok(0)
}

/// statfs(2).
pub fn sys_statfs(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let path = path_arg(t, a.addr(0))?;
    let s = t.kernel.vfs.statfs_at(t, &path)?;
    t.mm.copy_out(a.addr(1), &statfs_bytes(&s))?;
    Ok(0)
}

/// fstatfs(2).
pub fn sys_fstatfs(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let s = t.fd_table.get(a.fd(0))?.inode().statfs()?;
    t.mm.copy_out(a.addr(1), &statfs_bytes(&s))?;
    Ok(0)
}
