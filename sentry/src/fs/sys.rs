//! Raw host calls on descriptors the sentry owns (memfds, gofer-donated fds, stdio): memfd_create,
//! pread/pwrite, read/write, fstat, ftruncate, lseek, fsync, ioctl and getrandom. The sentry never
//! opens a host path; nothing here takes one.

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::sys::memfd::{memfd_create as nix_memfd_create, MemFdCreateFlag};

use crate::{Errno, SysResult};

/// A new anonymous memory file (backs one tmpfs file), close-on-exec.
pub fn memfd_create(name: &CStr) -> SysResult<OwnedFd> {
    nix_memfd_create(name, MemFdCreateFlag::MFD_CLOEXEC)
}

pub fn pread(fd: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> SysResult<usize> {
    let off = i64::try_from(offset).map_err(|_| Errno::EINVAL)?;
    nix::sys::uio::pread(fd, buf, off)
}

pub fn pwrite(fd: BorrowedFd<'_>, buf: &[u8], offset: u64) -> SysResult<usize> {
    let off = i64::try_from(offset).map_err(|_| Errno::EINVAL)?;
    nix::sys::uio::pwrite(fd, buf, off)
}

pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> SysResult<usize> {
    nix::unistd::read(fd.as_raw_fd(), buf)
}

pub fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> SysResult<usize> {
    nix::unistd::write(fd, buf)
}

pub fn fstat(fd: BorrowedFd<'_>) -> SysResult<libc::stat> {
    nix::sys::stat::fstat(fd.as_raw_fd())
}

pub fn ftruncate(fd: BorrowedFd<'_>, len: u64) -> SysResult<()> {
    let len = i64::try_from(len).map_err(|_| Errno::EINVAL)?;
    nix::unistd::ftruncate(fd, len)
}

pub fn lseek(fd: BorrowedFd<'_>, offset: i64, whence: i32) -> SysResult<u64> {
    let w = match whence {
        libc::SEEK_SET => nix::unistd::Whence::SeekSet,
        libc::SEEK_CUR => nix::unistd::Whence::SeekCur,
        libc::SEEK_END => nix::unistd::Whence::SeekEnd,
        libc::SEEK_DATA => nix::unistd::Whence::SeekData,
        libc::SEEK_HOLE => nix::unistd::Whence::SeekHole,
        _ => return Err(Errno::EINVAL),
    };
    let r = nix::unistd::lseek(fd.as_raw_fd(), offset, w)?;
    u64::try_from(r).map_err(|_| Errno::EOVERFLOW)
}

pub fn fsync(fd: BorrowedFd<'_>) -> SysResult<()> {
    nix::unistd::fsync(fd.as_raw_fd())
}

/// ioctl(2) whose argument is a pointer to `arg` (the caller sizes it for `req`).
pub fn ioctl_buf(fd: BorrowedFd<'_>, req: u32, arg: &mut [u8]) -> SysResult<i32> {
    // SAFETY: `arg` is a live, exclusively borrowed buffer; the caller sizes it to what the
    // kernel writes for `req` (TCGETS, TIOCGWINSZ, TIOCGPGRP, FIONREAD), so the kernel writes
    // only inside it. `fd` is a valid descriptor for the duration of the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::c_ulong::from(req), arg.as_mut_ptr()) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// Fills `buf` with random bytes from the host (getrandom(2), may be short).
pub fn getrandom(buf: &mut [u8]) -> SysResult<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into the exclusively borrowed `buf`.
    let r = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    usize::try_from(r).map_err(|_| Errno::last())
}

/// An all-zero `struct stat`, to be filled field by field.
pub fn zeroed_stat() -> libc::stat {
    // SAFETY: `struct stat` is plain integers; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

/// The `POLL*` events of `mask` (plus POLLERR, POLLHUP, POLLNVAL) true of a host fd right now
/// (poll(2) with a zero timeout).
pub fn poll_now(fd: BorrowedFd<'_>, mask: u32) -> SysResult<u32> {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    let events = PollFlags::from_bits_truncate(i16::try_from(mask & 0xffff).unwrap_or(0));
    let mut fds = [PollFd::new(fd, events)];
    nix::poll::poll(&mut fds, PollTimeout::ZERO)?;
    Ok(fds[0].revents().map_or(0, |r| u32::from(r.bits() as u16)))
}

/// poll(2) of one descriptor for at most `timeout`: the events that are ready (0 on timeout;
/// EINTR from a host signal counts as a timeout).
pub fn poll_for(fd: BorrowedFd<'_>, mask: u32, timeout: std::time::Duration) -> SysResult<u32> {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    let events = PollFlags::from_bits_truncate(i16::try_from(mask & 0xffff).unwrap_or(0));
    let mut fds = [PollFd::new(fd, events)];
    let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    match nix::poll::poll(&mut fds, PollTimeout::from(ms)) {
        Ok(_) => Ok(fds[0].revents().map_or(0, |r| u32::from(r.bits() as u16))),
        Err(Errno::EINTR) => Ok(0),
        Err(e) => Err(e),
    }
}

/// The descriptor itself, for `BorrowedFd` arguments.
pub fn borrow(fd: &OwnedFd) -> BorrowedFd<'_> {
    fd.as_fd()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memfd_read_write_truncate() {
        let fd = memfd_create(c"t").unwrap();
        assert_eq!(pwrite(fd.as_fd(), b"hello", 3).unwrap(), 5);
        let mut b = [0u8; 8];
        assert_eq!(pread(fd.as_fd(), &mut b, 0).unwrap(), 8);
        assert_eq!(&b, b"\0\0\0hello");
        ftruncate(fd.as_fd(), 2).unwrap();
        assert_eq!(fstat(fd.as_fd()).unwrap().st_size, 2);
    }

    #[test]
    fn getrandom_fills() {
        let mut b = [0u8; 64];
        assert_eq!(getrandom(&mut b).unwrap(), 64);
        assert!(b.iter().any(|&x| x != 0));
    }
}
