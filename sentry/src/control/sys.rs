//! Host socket calls of the control server: a request read with recvmsg(2), with the
//! descriptors that ride along as `SCM_RIGHTS` (unix(7), cmsg(3)).

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

/// The most descriptors taken from one message; the kernel closes any beyond (`MSG_CTRUNC`).
pub const MAX_FDS: usize = 64;

/// Receives bytes into `buf` and any descriptors sent with them (close-on-exec). Returns the
/// byte count (0: the peer hung up) and the descriptors.
pub fn recv_with_fds(sock: BorrowedFd<'_>, buf: &mut [u8]) -> Result<(usize, Vec<OwnedFd>), Errno> {
    let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
    loop {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => m,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        };
        let mut fds = Vec::new();
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(raw) = c {
                fds.extend(raw.into_iter().map(own_received_fd));
            }
        }
        return Ok((msg.bytes, fds));
    }
}

/// Takes ownership of a descriptor this process just received through `SCM_RIGHTS`.
fn own_received_fd(raw: RawFd) -> OwnedFd {
    // SAFETY: the kernel installed `raw` in our fd table for this recvmsg's SCM_RIGHTS message;
    // nothing else refers to it, so we are its only owner.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{
        sendmsg, socketpair, AddressFamily, ControlMessage, SockFlag, SockType,
    };
    use std::io::IoSlice;
    use std::os::fd::AsFd;

    #[test]
    fn bytes_and_descriptors_arrive_together() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let fds = [r.as_raw_fd(), w.as_raw_fd()];
        sendmsg::<()>(
            a.as_raw_fd(),
            &[IoSlice::new(b"hello\n")],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .unwrap();
        let mut buf = [0u8; 16];
        let (n, got) = recv_with_fds(b.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello\n");
        assert_eq!(got.len(), 2);
        nix::unistd::write(&got[1], b"x").unwrap();
        let mut one = [0u8; 1];
        assert_eq!(nix::unistd::read(r.as_raw_fd(), &mut one).unwrap(), 1);
        drop(a);
        assert_eq!(recv_with_fds(b.as_fd(), &mut buf).unwrap().0, 0);
    }
}
