//! Raw host socket calls for `--network=host` (socket(2), bind(2), connect(2), listen(2),
//! accept4(2), sendto(2), recvmsg(2), shutdown(2), getsockname(2), getpeername(2),
//! setsockopt(2), getsockopt(2), ioctl(2) with `struct ifreq`/`struct ifconf`): each wraps one
//! libc call on a descriptor the sentry owns; addresses and option values are byte buffers.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::{Errno, SysResult};

/// The largest sockaddr any family here uses (`sizeof(struct sockaddr_storage)`).
const ADDR_MAX: usize = 128;

fn check(r: libc::c_int) -> SysResult<i32> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

fn check_len(r: libc::ssize_t) -> SysResult<usize> {
    usize::try_from(r).map_err(|_| Errno::last())
}

fn socklen(n: usize) -> SysResult<libc::socklen_t> {
    libc::socklen_t::try_from(n).map_err(|_| Errno::EINVAL)
}

/// socket(2), always non-blocking and close-on-exec.
pub fn socket(family: i32, ty: i32, protocol: i32) -> SysResult<OwnedFd> {
    // SAFETY: socket(2) takes plain integers and touches no memory of ours.
    let fd = unsafe {
        libc::socket(
            family,
            ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            protocol,
        )
    };
    check(fd)?;
    // SAFETY: `fd` was just returned by socket(2), is valid and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// bind(2) to the raw sockaddr `addr`.
pub fn bind(fd: BorrowedFd<'_>, addr: &[u8]) -> SysResult<()> {
    let len = socklen(addr.len())?;
    // SAFETY: the kernel reads `len` bytes from `addr`, a live buffer of that length.
    let r = unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr().cast(), len) };
    check(r).map(drop)
}

/// connect(2) to the raw sockaddr `addr`.
pub fn connect(fd: BorrowedFd<'_>, addr: &[u8]) -> SysResult<()> {
    let len = socklen(addr.len())?;
    // SAFETY: the kernel reads `len` bytes from `addr`, a live buffer of that length.
    let r = unsafe { libc::connect(fd.as_raw_fd(), addr.as_ptr().cast(), len) };
    check(r).map(drop)
}

/// listen(2).
pub fn listen(fd: BorrowedFd<'_>, backlog: i32) -> SysResult<()> {
    // SAFETY: listen(2) takes plain integers.
    check(unsafe { libc::listen(fd.as_raw_fd(), backlog) }).map(drop)
}

/// accept4(2) of a non-blocking, close-on-exec connection, with the peer's sockaddr.
pub fn accept(fd: BorrowedFd<'_>) -> SysResult<(OwnedFd, Vec<u8>)> {
    let mut addr = [0u8; ADDR_MAX];
    let mut len = ADDR_MAX as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `addr`, a live buffer of that size,
    // and the length into `len`, a live local.
    let r = unsafe {
        libc::accept4(
            fd.as_raw_fd(),
            addr.as_mut_ptr().cast(),
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    check(r)?;
    // SAFETY: `r` is a new descriptor from accept4(2), owned by nobody else.
    let new = unsafe { OwnedFd::from_raw_fd(r) };
    Ok((new, addr[..(len as usize).min(ADDR_MAX)].to_vec()))
}

/// sendto(2) of `data` to `to` (the connected peer when None).
pub fn sendto(fd: BorrowedFd<'_>, data: &[u8], to: Option<&[u8]>, flags: i32) -> SysResult<usize> {
    let (p, len) = match to {
        Some(a) => (a.as_ptr(), socklen(a.len())?),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: the kernel reads `data.len()` bytes from `data` and `len` bytes from `p` (null
    // with length 0 when there is no address); both are live for the call.
    let r = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            data.as_ptr().cast(),
            data.len(),
            flags,
            p.cast(),
            len,
        )
    };
    check_len(r)
}

/// What one recvmsg(2) gave.
pub struct Received {
    /// The call's result: bytes copied, or the datagram's full length with MSG_TRUNC.
    pub len: usize,
    /// The sender's sockaddr (empty when none is reported).
    pub from: Vec<u8>,
    /// `msg_flags`.
    pub flags: i32,
}

/// recvmsg(2) into `buf`, with no control messages.
pub fn recvmsg(fd: BorrowedFd<'_>, buf: &mut [u8], flags: i32) -> SysResult<Received> {
    let mut from = [0u8; ADDR_MAX];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is a valid value (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = from.as_mut_ptr().cast();
    msg.msg_namelen = ADDR_MAX as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    // SAFETY: `msg` points at `from` (ADDR_MAX bytes) and one iovec over `buf`, all live and
    // exclusively borrowed for the call; the kernel writes only inside them and into `msg`.
    let r = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, flags) };
    let len = check_len(r)?;
    let namelen = (msg.msg_namelen as usize).min(ADDR_MAX);
    Ok(Received {
        len,
        from: from[..namelen].to_vec(),
        flags: msg.msg_flags,
    })
}

/// shutdown(2).
pub fn shutdown(fd: BorrowedFd<'_>, how: i32) -> SysResult<()> {
    // SAFETY: shutdown(2) takes plain integers.
    check(unsafe { libc::shutdown(fd.as_raw_fd(), how) }).map(drop)
}

/// getsockname(2) (`peer` false) or getpeername(2) (`peer` true).
pub fn name(fd: BorrowedFd<'_>, peer: bool) -> SysResult<Vec<u8>> {
    let mut addr = [0u8; ADDR_MAX];
    let mut len = ADDR_MAX as libc::socklen_t;
    let p = addr.as_mut_ptr().cast();
    // SAFETY: the kernel writes at most `len` bytes into `addr`, a live buffer of that size,
    // and the full length into `len`.
    let r = unsafe {
        if peer {
            libc::getpeername(fd.as_raw_fd(), p, &mut len)
        } else {
            libc::getsockname(fd.as_raw_fd(), p, &mut len)
        }
    };
    check(r)?;
    Ok(addr[..(len as usize).min(ADDR_MAX)].to_vec())
}

/// setsockopt(2) with the value bytes `val`.
pub fn setsockopt(fd: BorrowedFd<'_>, level: i32, name: i32, val: &[u8]) -> SysResult<()> {
    let len = socklen(val.len())?;
    // SAFETY: the kernel reads `len` bytes from `val`, a live buffer of that length.
    let r = unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, val.as_ptr().cast(), len) };
    check(r).map(drop)
}

/// getsockopt(2) with room for `cap` bytes: the value as long as the kernel says.
pub fn getsockopt(fd: BorrowedFd<'_>, level: i32, name: i32, cap: usize) -> SysResult<Vec<u8>> {
    let mut val = vec![0u8; cap];
    let mut len = socklen(cap)?;
    // SAFETY: the kernel writes at most `len` bytes into `val`, a live buffer of that size,
    // and the length it wrote into `len`.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            val.as_mut_ptr().cast(),
            &mut len,
        )
    };
    check(r)?;
    val.truncate((len as usize).min(cap));
    Ok(val)
}

/// ioctl(2) whose argument is a buffer the kernel reads and writes in place (FIONREAD,
/// SIOCOUTQ: an int; SIOCGIF*: a `struct ifreq` with no pointers inside).
pub fn ioctl_buf(fd: BorrowedFd<'_>, req: u32, arg: &mut [u8]) -> SysResult<i32> {
    // SAFETY: `arg` is a live, exclusively borrowed buffer that the caller sized to what `req`
    // reads and writes (an int or a `struct ifreq`); the kernel touches only it.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::c_ulong::from(req), arg.as_mut_ptr()) };
    check(r)
}

/// SIOCGIFCONF into a buffer of `cap` bytes (NULL with `cap` 0: the length every record
/// needs): the records written, or with `cap` 0 a zeroed buffer of the needed length.
pub fn ifconf(fd: BorrowedFd<'_>, cap: usize) -> SysResult<Vec<u8>> {
    let mut buf = vec![0u8; cap];
    #[repr(C)]
    struct IfConf {
        len: libc::c_int,
        buf: *mut u8,
    }
    let mut ifc = IfConf {
        len: libc::c_int::try_from(cap).map_err(|_| Errno::EINVAL)?,
        buf: if cap == 0 {
            std::ptr::null_mut()
        } else {
            buf.as_mut_ptr()
        },
    };
    const SIOCGIFCONF: libc::c_ulong = 0x8912;
    // SAFETY: `ifc` is a live `struct ifconf` whose pointer is null or `buf`, a live buffer of
    // `ifc.len` bytes; the kernel writes only inside `buf` and `ifc`.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), SIOCGIFCONF, &mut ifc) };
    check(r)?;
    let used = usize::try_from(ifc.len).unwrap_or(0);
    buf.resize(used, 0);
    Ok(buf)
}
