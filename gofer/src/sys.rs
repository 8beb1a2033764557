//! Host socket calls shared by client and server: one datagram per `sendmsg`/`recvmsg` on a
//! `SOCK_SEQPACKET` socket, fds passed with `SCM_RIGHTS` (unix(7), sendmsg(2), recvmsg(2),
//! cmsg(3)).

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags};

/// Most fds accepted with one datagram; more are closed and reported as `ctrunc`.
const MAX_FDS: usize = 4;

/// One received datagram.
#[derive(Debug)]
pub(crate) struct Received {
    /// Bytes of payload in the caller's buffer; 0 means the peer hung up.
    pub len: usize,
    /// Fds that rode along (already close-on-exec).
    pub fds: Vec<OwnedFd>,
    /// The datagram was longer than the buffer (`MSG_TRUNC`) or lost fds (`MSG_CTRUNC`).
    pub truncated: bool,
}

/// Sends `frame` as one datagram, with `fd` attached if given. Never raises SIGPIPE.
pub(crate) fn send_frame(
    sock: BorrowedFd<'_>,
    frame: &[u8],
    fd: Option<BorrowedFd<'_>>,
) -> Result<(), Errno> {
    let iov = [IoSlice::new(frame)];
    let fds: [RawFd; 1] = [fd.map_or(-1, |f| f.as_raw_fd())];
    let cmsgs: &[ControlMessage<'_>] = if fd.is_some() {
        &[ControlMessage::ScmRights(&fds)]
    } else {
        &[]
    };
    loop {
        match socket::sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(n) if n == frame.len() => return Ok(()),
            // A seqpacket send is all or nothing; a short count means the socket is unusable.
            Ok(_) => return Err(Errno::EMSGSIZE),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Receives one datagram into `buf`, taking ownership of any fds that came with it.
pub(crate) fn recv_frame(sock: BorrowedFd<'_>, buf: &mut [u8]) -> Result<Received, Errno> {
    let mut cmsg_space = nix::cmsg_space!([RawFd; MAX_FDS]);
    loop {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = match socket::recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg_space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => m,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        };
        let mut fds = Vec::new();
        // A malformed control message from the kernel would be a kernel bug; treat it as
        // truncation rather than trusting half of it.
        let cmsgs_ok = match msg.cmsgs() {
            Ok(iter) => {
                for c in iter {
                    if let ControlMessageOwned::ScmRights(raw) = c {
                        for r in raw {
                            fds.push(own_received_fd(r));
                        }
                    }
                }
                true
            }
            Err(_) => false,
        };
        let truncated = !cmsgs_ok
            || msg
                .flags
                .intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC);
        return Ok(Received {
            len: msg.bytes,
            fds,
            truncated,
        });
    }
}

/// Takes ownership of an fd the kernel just installed for us through `SCM_RIGHTS`.
fn own_received_fd(raw: RawFd) -> OwnedFd {
    // SAFETY: `raw` was installed in our fd table by this recvmsg's SCM_RIGHTS message and is
    // referenced nowhere else, so we are its only owner.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    use std::os::fd::AsFd;

    fn pair() -> (OwnedFd, OwnedFd) {
        socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap()
    }

    #[test]
    fn frame_and_fd_cross_the_socket() {
        let (a, b) = pair();
        let (x, _y) = pair();
        send_frame(a.as_fd(), b"hello", Some(x.as_fd())).unwrap();
        let mut buf = [0u8; 16];
        let rx = recv_frame(b.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..rx.len], b"hello");
        assert_eq!(rx.fds.len(), 1);
        assert!(!rx.truncated);
    }

    #[test]
    fn oversized_datagram_is_flagged_truncated() {
        let (a, b) = pair();
        send_frame(a.as_fd(), &[7u8; 64], None).unwrap();
        let mut buf = [0u8; 8];
        let rx = recv_frame(b.as_fd(), &mut buf).unwrap();
        assert!(rx.truncated);
    }

    #[test]
    fn hangup_reads_as_zero_length() {
        let (a, b) = pair();
        drop(a);
        let mut buf = [0u8; 8];
        assert_eq!(recv_frame(b.as_fd(), &mut buf).unwrap().len, 0);
    }
}
