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
/// Reads and writes of at most this many bytes stage their data in a buffer on the stack, so
/// a small transfer (a pipe byte, an eventfd counter, a short line) allocates nothing; larger
/// ones stage it on the heap, where zeroing and allocating cost little beside the copies.
const STACK_IO: usize = 512;
/// Iovec arrays of at most this many entries are decoded on the stack: a readv or writev of a
/// few buffers (a stdio flush) allocates nothing either.
const STACK_IOVS: usize = 8;

/// FIONBIO, FIOCLEX, FIONCLEX (include/uapi/asm-generic/ioctls.h): handled by the VFS itself.
const FIONCLEX: u32 = 0x5450;
const FIOCLEX: u32 = 0x5451;
const FIONBIO: u32 = 0x5421;

/// The staging buffer of a `len`-byte transfer: the front of `small` when it fits, else
/// `big` grown to `len` zeroed bytes.
fn staging<'a>(small: &'a mut [u8; STACK_IO], big: &'a mut Vec<u8>, len: usize) -> &'a mut [u8] {
    match small.get_mut(..len) {
        Some(front) => front,
        None => {
            big.resize(len, 0);
            big.as_mut_slice()
        }
    }
}

fn read_into(t: &Task, fd: i32, buf_addr: u64, len: usize, offset: Option<u64>) -> SysResult<u64> {
    let file = t.fd_table.get(fd)?;
    let (mut small, mut big) = ([0u8; STACK_IO], Vec::new());
    let buf = staging(&mut small, &mut big, len.min(MAX_RW));
    let n = match offset {
        Some(off) => file.pread(t, buf, off)?,
        None => file.read(t, buf)?,
    };
    if n > 0 {
        notify::file_event(t, &file, IN_ACCESS);
    }
    t.mm.copy_out(buf_addr, &buf[..n])?;
    count(n)
}

fn write_from(t: &Task, fd: i32, buf_addr: u64, len: usize, offset: Option<u64>) -> SysResult<u64> {
    let file = t.fd_table.get(fd)?;
    let (mut small, mut big) = ([0u8; STACK_IO], Vec::new());
    let buf = staging(&mut small, &mut big, len.min(MAX_RW));
    t.mm.copy_in(buf_addr, buf)?;
    let n = match offset {
        Some(off) => file.pwrite(t, buf, off)?,
        None => file.write(t, buf)?,
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

/// RLIMIT_FSIZE on a write of `len` bytes to `fd` at `offset` (None: the file position, or
/// the end with O_APPEND), as Linux's `generic_write_check_limits`: only regular files are
/// bound; a write starting at or past the limit raises SIGXFSZ and fails with EFBIG, one
/// crossing it is cut short at the limit. Returns the length to write.
pub(super) fn fsize_clamp(
    t: &mut Task,
    fd: i32,
    offset: Option<u64>,
    len: usize,
) -> SysResult<usize> {
    let limit = t.tg.fsize_limit();
    if limit == u64::MAX || len == 0 {
        return Ok(len);
    }
    let file = t.fd_table.get(fd)?;
    let st = file.stat(t)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Ok(len);
    }
    let pos = match offset {
        Some(off) => off,
        None if file.flags() & libc::O_APPEND != 0 => st.st_size as u64,
        None => file.seek(Some(t), 0, libc::SEEK_CUR)?,
    };
    fsize_room(t, pos, limit).map(|room| len.min(usize::try_from(room).unwrap_or(usize::MAX)))
}

/// Bytes a file may grow to from `pos` under RLIMIT_FSIZE `limit`: EFBIG with SIGXFSZ raised
/// on the caller at or past it (truncate and fallocate check the new size the same way).
pub(super) fn fsize_room(t: &mut Task, pos: u64, limit: u64) -> SysResult<u64> {
    if pos >= limit {
        let info = SigInfo::from_sender(libc::SIGXFSZ, SI_USER, t.tg.pid, t.creds.uid);
        sentry::kernel::signal::raise_self(t, info);
        return Err(Errno::EFBIG);
    }
    Ok(limit - pos)
}

/// The same check for a file growing to `new_size` (truncate, fallocate): EFBIG and SIGXFSZ
/// past RLIMIT_FSIZE.
pub(super) fn fsize_check_size(t: &mut Task, new_size: u64) -> SysResult<()> {
    let limit = t.tg.fsize_limit();
    if new_size > limit {
        fsize_room(t, new_size, limit)?;
    }
    Ok(())
}

/// write(2).
pub fn sys_write(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let len = fsize_clamp(t, a.fd(0), None, a.len(2)?)?;
    let r = write_from(t, a.fd(0), a.addr(1), len, None);
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
    let len = fsize_clamp(t, a.fd(0), Some(off), a.len(2)?)?;
    let r = write_from(t, a.fd(0), a.addr(1), len, Some(off));
    sigpipe_on_epipe(t, r)
}

/// Reads an iovec array: (base, len) pairs; EINVAL for too many or an overflowing total.
pub(crate) fn iovecs(t: &Task, addr: u64, cnt: i32) -> SysResult<Vec<(u64, usize)>> {
    let (mut small, mut big) = ([(0, 0); STACK_IOVS], Vec::new());
    iovecs_staged(t, addr, cnt, &mut small, &mut big).map(<[_]>::to_vec)
}

/// `iovecs` decoded into `small` when the array fits, else into `big`.
fn iovecs_staged<'a>(
    t: &Task,
    addr: u64,
    cnt: i32,
    small: &'a mut [(u64, usize); STACK_IOVS],
    big: &'a mut Vec<(u64, usize)>,
) -> SysResult<&'a [(u64, usize)]> {
    let cnt = usize::try_from(cnt).map_err(|_| Errno::EINVAL)?;
    if cnt > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    let (mut raw_small, mut raw_big) = ([0u8; 16 * STACK_IOVS], Vec::new());
    let raw: &mut [u8] = match raw_small.get_mut(..cnt * 16) {
        Some(front) => front,
        None => {
            raw_big.resize(cnt * 16, 0);
            raw_big.as_mut_slice()
        }
    };
    t.mm.copy_in(addr, raw)?;
    let out: &mut [(u64, usize)] = match small.get_mut(..cnt) {
        Some(front) => front,
        None => {
            big.resize(cnt, (0, 0));
            big.as_mut_slice()
        }
    };
    let mut total: usize = 0;
    for (slot, c) in out.iter_mut().zip(raw.chunks_exact(16)) {
        let base = u64::from_ne_bytes(c[0..8].try_into().map_err(|_| Errno::EFAULT)?);
        let len = u64::from_ne_bytes(c[8..16].try_into().map_err(|_| Errno::EFAULT)?);
        let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
        if i64::try_from(len).is_err() {
            return Err(Errno::EINVAL);
        }
        total = total.checked_add(len).ok_or(Errno::EINVAL)?;
        *slot = (base, len);
    }
    if i64::try_from(total).is_err() {
        return Err(Errno::EINVAL);
    }
    Ok(out)
}

fn do_readv(t: &Task, fd: i32, iov: u64, cnt: i32, offset: Option<u64>) -> SysResult<u64> {
    let file = t.fd_table.get(fd)?;
    let (mut small_iovs, mut big_iovs) = ([(0, 0); STACK_IOVS], Vec::new());
    let vecs = iovecs_staged(t, iov, cnt, &mut small_iovs, &mut big_iovs)?;
    let total: usize = vecs.iter().map(|v| v.1).sum::<usize>().min(MAX_RW);
    let (mut small, mut big) = ([0u8; STACK_IO], Vec::new());
    let buf = staging(&mut small, &mut big, total);
    let n = match offset {
        Some(off) => file.pread(t, buf, off)?,
        None => file.read(t, buf)?,
    };
    if n > 0 {
        notify::file_event(t, &file, IN_ACCESS);
    }
    let mut done = 0;
    for &(base, len) in vecs {
        if done >= n {
            break;
        }
        let k = len.min(n - done);
        t.mm.copy_out(base, &buf[done..done + k])?;
        done += k;
    }
    count(n)
}

fn do_writev(t: &mut Task, fd: i32, iov: u64, cnt: i32, offset: Option<u64>) -> SysResult<u64> {
    let (mut small_iovs, mut big_iovs) = ([(0, 0); STACK_IOVS], Vec::new());
    let vecs = iovecs_staged(t, iov, cnt, &mut small_iovs, &mut big_iovs)?;
    let total: usize = vecs.iter().map(|v| v.1).sum::<usize>().min(MAX_RW);
    let max = fsize_clamp(t, fd, offset, total)?;
    let file = t.fd_table.get(fd)?;
    let (mut small, mut big) = ([0u8; STACK_IO], Vec::new());
    let buf = staging(&mut small, &mut big, max);
    let mut filled = 0;
    for &(base, len) in vecs {
        let k = len.min(max - filled);
        if k == 0 {
            continue;
        }
        t.mm.copy_in(base, &mut buf[filled..filled + k])?;
        filled += k;
    }
    let buf = &buf[..filled];
    let n = match offset {
        Some(off) => file.pwrite(t, buf, off)?,
        None => file.write(t, buf)?,
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

/// preadv2/pwritev2 flags (`include/uapi/linux/fs.h`).
const RWF_HIPRI: i32 = 0x01;
const RWF_DSYNC: i32 = 0x02;
const RWF_SYNC: i32 = 0x04;
const RWF_NOWAIT: i32 = 0x08;
const RWF_APPEND: i32 = 0x10;
const RWF_NOAPPEND: i32 = 0x20;
const RWF_SUPPORTED: i32 =
    RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND | RWF_NOAPPEND;

/// The position of a preadv2/pwritev2: -1 is the file's own position (readv/writev), any
/// other negative value EINVAL.
fn rw2_offset(v: i64) -> SysResult<Option<u64>> {
    match v {
        -1 => Ok(None),
        v => offset_arg(v).map(Some),
    }
}

/// Checks preadv2/pwritev2 flags: EOPNOTSUPP for unknown ones; with RWF_NOWAIT, EAGAIN
/// when the file would block (it is not ready for `events`; sentry files that are always
/// ready, like regular files, never block).
fn rw2_flags(t: &Task, fd: i32, flags: i32, events: u32) -> SysResult<()> {
    if flags & !RWF_SUPPORTED != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if flags & RWF_NOWAIT != 0 {
        let file = t.fd_table.get(fd)?;
        if file.supports_poll() && file.readiness(events) & events == 0 {
            return Err(Errno::EAGAIN);
        }
    }
    Ok(())
}

/// preadv2(2): preadv with flags (RWF_HIPRI is a hint, RWF_NOWAIT refuses to block).
pub fn sys_preadv2(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (fd, flags) = (a.fd(0), a.i32(5));
    let off = rw2_offset(a.i64(3))?;
    rw2_flags(t, fd, flags, libc::POLLIN as u32)?;
    do_readv(t, fd, a.addr(1), a.i32(2), off)
}

/// pwritev2(2): pwritev with flags: RWF_APPEND writes at the end whatever the position,
/// RWF_DSYNC/RWF_SYNC make the data durable before returning, RWF_NOWAIT refuses to block.
pub fn sys_pwritev2(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (fd, flags) = (a.fd(0), a.i32(5));
    let mut off = rw2_offset(a.i64(3))?;
    rw2_flags(t, fd, flags, libc::POLLOUT as u32)?;
    let file = t.fd_table.get(fd)?;
    let append = flags & RWF_APPEND != 0 || file.flags() & libc::O_APPEND != 0;
    if append && flags & RWF_NOAPPEND == 0 && off.is_some() {
        // Linux appends a positioned write on an O_APPEND file too.
        off = Some(file.stat(t)?.st_size as u64);
    }
    let r = do_writev(t, fd, a.addr(1), a.i32(2), off);
    if r.is_ok() && flags & (RWF_DSYNC | RWF_SYNC) != 0 {
        file.sync()?;
    }
    sigpipe_on_epipe(t, r)
}

/// lseek(2).
pub fn sys_lseek(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (fd, off, whence) = (a.fd(0), a.i64(1), a.i32(2));
    let file = t.fd_table.get(fd)?;
    file.seek(Some(t), off, whence)
}

/// ioctl(2): FIOCLEX/FIONCLEX/FIONBIO here; a sentry pty (`sentry::fs::devpts`) or a host
/// terminal (`sentry::fs::host::tty`) answers the tty requests; TCGETS, TIOCGWINSZ, TIOCGPGRP
/// and FIONREAD to the file (host stdio passes them to the host); anything else ENOTTY.
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
    if let Some(r) = sentry::fs::devpts::pty_ioctl(t, &file, req, arg) {
        return r;
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

/// getdents(2): the old `struct linux_dirent` records (d_ino, d_off, d_reclen, the name, a
/// NUL, and d_type in the record's last byte), made from getdents64's, which have the same
/// length for the same name, so the same entries fit the buffer.
pub fn sys_getdents(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (fd, dirp, len) = (a.fd(0), a.addr(1), a.u32(2));
    let file = t.fd_table.get(fd)?;
    let max = usize::try_from(len).map_err(|_| Errno::EINVAL)?.min(MAX_RW);
    let recs = file.getdents(Some(t), max)?;
    notify::file_event(t, &file, IN_ACCESS);
    let old = dirent64_to_old(&recs).ok_or(Errno::EIO)?;
    t.mm.copy_out(dirp, &old)?;
    count(old.len())
}

/// Rewrites `linux_dirent64` records (ino u64, off i64, reclen u16, type u8, name) into
/// `linux_dirent` ones (ino, off, reclen, name, NUL, padding, type in the last byte). None if
/// a record is malformed.
fn dirent64_to_old(recs: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(recs.len());
    let mut at = 0;
    while at < recs.len() {
        let reclen = usize::from(u16::from_ne_bytes(
            recs.get(at + 16..at + 18)?.try_into().ok()?,
        ));
        let rec = recs.get(at..at + reclen)?;
        let d_type = *rec.get(18)?;
        let name = rec.get(19..)?;
        let name = &name[..name.iter().position(|&b| b == 0)?];
        let mut new = vec![0u8; reclen];
        new[..16].copy_from_slice(&rec[..16]);
        new[16..18].copy_from_slice(&rec[16..18]);
        new.get_mut(18..18 + name.len())?.copy_from_slice(name);
        // 18 + name + NUL + d_type fits: getdents64's record holds 19 + name + NUL.
        new[reclen - 1] = d_type;
        out.extend_from_slice(&new);
        at += reclen;
    }
    Some(out)
}

/// readahead(2): EBADF unless the descriptor is open for reading, EINVAL unless it is a
/// regular file; the sentry keeps no page cache to fill, so there is nothing more to do.
pub fn sys_readahead(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let file = t.fd_table.get(a.fd(0))?;
    if !file.readable() {
        return Err(Errno::EBADF);
    }
    if file.stat(t)?.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// ftruncate(2).
pub fn sys_ftruncate(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (fd, len) = (a.fd(0), a.i64(1));
    let len = u64::try_from(len).map_err(|_| Errno::EINVAL)?;
    let file = t.fd_table.get(fd)?;
    if file.stat_vfs(Some(t))?.is_dir() {
        return Err(Errno::EISDIR);
    }
    fsize_check_size(t, len)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_dirents_keep_the_length_and_move_the_type() {
        // One getdents64 record for "ab", type DT_DIR (4): 19 + 2 + NUL, padded to 24.
        let mut rec = vec![0u8; 24];
        rec[..8].copy_from_slice(&7u64.to_ne_bytes());
        rec[8..16].copy_from_slice(&1i64.to_ne_bytes());
        rec[16..18].copy_from_slice(&24u16.to_ne_bytes());
        rec[18] = 4;
        rec[19..21].copy_from_slice(b"ab");
        let old = dirent64_to_old(&rec).unwrap();
        assert_eq!(old.len(), 24);
        assert_eq!(&old[..18], &rec[..18]);
        assert_eq!(&old[18..21], b"ab\0");
        assert_eq!(old[23], 4);
        assert_eq!(dirent64_to_old(&rec[..20]), None);
    }

    #[test]
    fn small_transfers_stage_on_the_stack_and_large_ones_on_the_heap() {
        let (mut small, mut big) = ([7u8; STACK_IO], Vec::new());
        assert_eq!(staging(&mut small, &mut big, 1).len(), 1);
        assert_eq!(staging(&mut small, &mut big, STACK_IO).len(), STACK_IO);
        assert_eq!(big.capacity(), 0, "no heap buffer up to STACK_IO bytes");
        let buf = staging(&mut small, &mut big, STACK_IO + 1);
        assert_eq!(buf.len(), STACK_IO + 1);
        assert!(buf.iter().all(|&b| b == 0), "a heap buffer starts zeroed");
        assert_eq!(staging(&mut small, &mut big, 0).len(), 0);
    }

    #[test]
    fn rw2_offsets() {
        assert_eq!(rw2_offset(-1), Ok(None));
        assert_eq!(rw2_offset(5), Ok(Some(5)));
        assert_eq!(rw2_offset(-2), Err(Errno::EINVAL));
    }
}
