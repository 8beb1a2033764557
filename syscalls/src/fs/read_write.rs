//! Data syscalls: read(2)/write(2) and their positional and vectored forms, lseek(2), ioctl(2),
//! getdents64(2), ftruncate(2), fsync(2), fdatasync(2).
//!
//! A write that fails with EPIPE (the reading end of a pipe or socket is gone) also raises
//! SIGPIPE for the writing thread, as Linux's `pipe_write` does: with the default action the
//! process dies of it (shell status 141).

use sentry::abi::signal::{SigInfo, SI_USER};
use sentry::fs::host::ioctl_arg_size;
use sentry::fs::inotify::{IN_ACCESS, IN_MODIFY};
use sentry::kernel::{SyscallArgs, Task};
use sentry::{Errno, SysResult};

use super::count;
use super::inotify as notify;

/// Most bytes one call moves (Linux `MAX_RW_COUNT` is larger; a shorter transfer is a legal
/// short read or write and bounds the sentry's buffer).
const MAX_RW: usize = 16 << 20;
/// `UIO_MAXIOV`.
const IOV_MAX: usize = 1024;

/// FIONBIO, FIOCLEX, FIONCLEX (include/uapi/asm-generic/ioctls.h): handled by the VFS itself.
const FIONCLEX: u32 = 0x5450;
const FIOCLEX: u32 = 0x5451;
const FIONBIO: u32 = 0x5421;

fn read_into(t: &Task, fd: i32, buf_addr: u64, len: usize, offset: Option<u64>) -> SysResult<u64> {
    let file = t.fd_table.get(fd)?;
    let mut buf = vec![0u8; len.min(MAX_RW)];
    let n = match offset {
        Some(off) => file.pread(t, &mut buf, off)?,
        None => file.read(t, &mut buf)?,
    };
    if n > 0 {
        notify::file_event(t, &file, IN_ACCESS);
    }
    t.mm.copy_out(buf_addr, &buf[..n])?;
    count(n)
}

fn write_from(t: &Task, fd: i32, buf_addr: u64, len: usize, offset: Option<u64>) -> SysResult<u64> {
    let file = t.fd_table.get(fd)?;
    let mut buf = vec![0u8; len.min(MAX_RW)];
    t.mm.copy_in(buf_addr, &mut buf)?;
    let n = match offset {
        Some(off) => file.pwrite(t, &buf, off)?,
        None => file.write(t, &buf)?,
    };
    if n > 0 {
        notify::file_event(t, &file, IN_MODIFY);
    }
    count(n)
}

/// Passes a write's result through, first raising SIGPIPE on the writer when it is EPIPE, as
/// Linux's pipe_write does (`send_sig(SIGPIPE, current, 0)`: SI_USER from the writer itself).
/// Delivery then applies the disposition: default (kill), ignored, blocked (pending), handler.
pub(super) fn sigpipe_on_epipe(t: &mut Task, r: SysResult<u64>) -> SysResult<u64> {
    if r == Err(Errno::EPIPE) {
        let info = SigInfo::from_sender(libc::SIGPIPE, SI_USER, t.tg.pid, t.creds.uid);
        sentry::kernel::signal::raise_self(t, info);
    }
    r
}

fn offset_arg(v: i64) -> SysResult<u64> {
    u64::try_from(v).map_err(|_| Errno::EINVAL)
}

/// read(2).
pub fn sys_read(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    read_into(t, a.fd(0), a.addr(1), a.len(2)?, None)
}

/// write(2).
pub fn sys_write(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let r = write_from(t, a.fd(0), a.addr(1), a.len(2)?, None);
    sigpipe_on_epipe(t, r)
}

/// pread64(2).
pub fn sys_pread64(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let off = offset_arg(a.i64(3))?;
    read_into(t, a.fd(0), a.addr(1), a.len(2)?, Some(off))
}

/// pwrite64(2).
pub fn sys_pwrite64(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let off = offset_arg(a.i64(3))?;
    let r = write_from(t, a.fd(0), a.addr(1), a.len(2)?, Some(off));
    sigpipe_on_epipe(t, r)
}

/// Reads an iovec array: (base, len) pairs; EINVAL for too many or an overflowing total.
pub(super) fn iovecs(t: &Task, addr: u64, cnt: i32) -> SysResult<Vec<(u64, usize)>> {
    let cnt = usize::try_from(cnt).map_err(|_| Errno::EINVAL)?;
    if cnt > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; cnt * 16];
    t.mm.copy_in(addr, &mut raw)?;
    let mut out = Vec::with_capacity(cnt);
    let mut total: usize = 0;
    for c in raw.chunks_exact(16) {
        let base = u64::from_ne_bytes(c[0..8].try_into().map_err(|_| Errno::EFAULT)?);
        let len = u64::from_ne_bytes(c[8..16].try_into().map_err(|_| Errno::EFAULT)?);
        let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
        if i64::try_from(len).is_err() {
            return Err(Errno::EINVAL);
        }
        total = total.checked_add(len).ok_or(Errno::EINVAL)?;
        out.push((base, len));
    }
    if i64::try_from(total).is_err() {
        return Err(Errno::EINVAL);
    }
    Ok(out)
}

fn do_readv(t: &Task, fd: i32, iov: u64, cnt: i32, offset: Option<u64>) -> SysResult<u64> {
    let file = t.fd_table.get(fd)?;
    let vecs = iovecs(t, iov, cnt)?;
    let total: usize = vecs.iter().map(|v| v.1).sum::<usize>().min(MAX_RW);
    let mut buf = vec![0u8; total];
    let n = match offset {
        Some(off) => file.pread(t, &mut buf, off)?,
        None => file.read(t, &mut buf)?,
    };
    if n > 0 {
        notify::file_event(t, &file, IN_ACCESS);
    }
    let mut done = 0;
    for (base, len) in vecs {
        if done >= n {
            break;
        }
        let k = len.min(n - done);
        t.mm.copy_out(base, &buf[done..done + k])?;
        done += k;
    }
    count(n)
}

fn do_writev(t: &Task, fd: i32, iov: u64, cnt: i32, offset: Option<u64>) -> SysResult<u64> {
    let file = t.fd_table.get(fd)?;
    let vecs = iovecs(t, iov, cnt)?;
    let mut buf = Vec::new();
    for (base, len) in vecs {
        let k = len.min(MAX_RW - buf.len());
        if k == 0 {
            continue;
        }
        let start = buf.len();
        buf.resize(start + k, 0);
        t.mm.copy_in(base, &mut buf[start..])?;
    }
    let n = match offset {
        Some(off) => file.pwrite(t, &buf, off)?,
        None => file.write(t, &buf)?,
    };
    if n > 0 {
        notify::file_event(t, &file, IN_MODIFY);
    }
    count(n)
}

/// readv(2).
pub fn sys_readv(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_readv(t, a.fd(0), a.addr(1), a.i32(2), None)
}

/// writev(2).
pub fn sys_writev(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let r = do_writev(t, a.fd(0), a.addr(1), a.i32(2), None);
    sigpipe_on_epipe(t, r)
}

/// preadv(2) (x86_64 passes the whole offset in the fourth argument).
pub fn sys_preadv(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let off = offset_arg(a.i64(3))?;
    do_readv(t, a.fd(0), a.addr(1), a.i32(2), Some(off))
}

/// pwritev(2).
pub fn sys_pwritev(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let off = offset_arg(a.i64(3))?;
    let r = do_writev(t, a.fd(0), a.addr(1), a.i32(2), Some(off));
    sigpipe_on_epipe(t, r)
}

/// lseek(2).
pub fn sys_lseek(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (fd, off, whence) = (a.fd(0), a.i64(1), a.i32(2));
    let file = t.fd_table.get(fd)?;
    file.seek(Some(t), off, whence)
}

/// ioctl(2): FIOCLEX/FIONCLEX/FIONBIO here; a host terminal answers the tty requests
/// (`sentry::fs::host::tty`); TCGETS, TIOCGWINSZ, TIOCGPGRP and FIONREAD to the file (host
/// stdio passes them to the host); anything else ENOTTY.
pub fn sys_ioctl(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (fd, req, arg) = (a.fd(0), a.u32(1), a.addr(2));
    let file = t.fd_table.get(fd)?;
    match req {
        FIOCLEX | FIONCLEX => {
            t.fd_table.set_cloexec(fd, req == FIOCLEX)?;
            return Ok(0);
        }
        FIONBIO => {
            let mut v = [0u8; 4];
            t.mm.copy_in(arg, &mut v)?;
            let flags = file.flags();
            let nb = if i32::from_ne_bytes(v) != 0 {
                libc::O_NONBLOCK
            } else {
                0
            };
            file.set_status_flags((flags & !libc::O_NONBLOCK) | nb);
            return Ok(0);
        }
        _ => {}
    }
    if let Some(r) = sentry::fs::host::tty_ioctl(t, &file, req, arg) {
        return r;
    }
    if let Some(r) = crate::net::socket_ioctl(t, &file, req, arg) {
        return r;
    }
    let Some(size) = ioctl_arg_size(req) else {
        return file.ioctl(req, &mut []);
    };
    let mut buf = vec![0u8; size];
    let r = file.ioctl(req, &mut buf)?;
    t.mm.copy_out(arg, &buf)?;
    Ok(r)
}

/// getdents64(2).
pub fn sys_getdents64(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (fd, dirp, len) = (a.fd(0), a.addr(1), a.u32(2));
    let file = t.fd_table.get(fd)?;
    let max = usize::try_from(len).map_err(|_| Errno::EINVAL)?.min(MAX_RW);
    let recs = file.getdents(Some(t), max)?;
    notify::file_event(t, &file, IN_ACCESS);
    t.mm.copy_out(dirp, &recs)?;
    count(recs.len())
}

/// ftruncate(2).
pub fn sys_ftruncate(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (fd, len) = (a.fd(0), a.i64(1));
    let len = u64::try_from(len).map_err(|_| Errno::EINVAL)?;
    let file = t.fd_table.get(fd)?;
    if file.stat_vfs(Some(t))?.is_dir() {
        return Err(Errno::EISDIR);
    }
    file.truncate(len)?;
    notify::file_event(t, &file, IN_MODIFY);
    Ok(0)
}

/// fsync(2).
pub fn sys_fsync(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.fd_table.get(a.fd(0))?.sync()?;
    Ok(0)
}

/// fdatasync(2).
pub fn sys_fdatasync(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.fd_table.get(a.fd(0))?.sync()?;
    Ok(0)
}
