//! Raw calls on a connected host unix socket for `hostuds` (sendmsg(2) and recvmsg(2) without
//! names or control messages, shutdown(2)): each wraps one libc call on a descriptor the
//! sentry owns. The sentry's seccomp filter already allows all three (gofer channels use them).

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::{Errno, SysResult};

fn check_len(r: libc::ssize_t) -> SysResult<usize> {
    usize::try_from(r).map_err(|_| Errno::last())
}

/// sendmsg(2) of `data` with no address and no control message.
pub fn send(fd: BorrowedFd<'_>, data: &[u8], flags: i32) -> SysResult<usize> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    };
    // SAFETY: an all-zero msghdr is a valid value (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    // SAFETY: `msg` points at one iovec over `data`, live for the call; the kernel only reads
    // through it (the cast to *mut is what the C type wants, nothing is written).
    let r = unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, flags) };
    check_len(r)
}

/// recvmsg(2) into `buf` with no address and no control buffer: the call's result (bytes
/// copied, or a datagram's full length under MSG_TRUNC) and `msg_flags`.
pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8], flags: i32) -> SysResult<(usize, i32)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is a valid value (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    // SAFETY: `msg` points at one iovec over `buf`, live and exclusively borrowed for the
    // call; the kernel writes only inside it and into `msg`. Any fds the host peer sends are
    // dropped by the kernel (MSG_CTRUNC) since no control buffer is given.
    let r = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, flags) };
    Ok((check_len(r)?, msg.msg_flags))
}

/// shutdown(2).
pub fn shutdown(fd: BorrowedFd<'_>, how: i32) -> SysResult<()> {
    // SAFETY: shutdown(2) takes plain integers.
    let r = unsafe { libc::shutdown(fd.as_raw_fd(), how) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}
