//! Host socket calls shared by client and server: one datagram per `sendmsg`/`recvmsg` on a
//! `SOCK_SEQPACKET` socket, fds passed with `SCM_RIGHTS` (unix(7), sendmsg(2), recvmsg(2),
//! cmsg(3)); receive buffers of anonymous memory (mmap(2)).

use std::io::{IoSlice, IoSliceMut};
use std::num::NonZeroUsize;
use std::ops::{Deref, DerefMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;

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

/// A zero-filled byte buffer for received frames. It is anonymous memory of its own
/// (`mmap(MAP_PRIVATE|MAP_ANONYMOUS)`), so a page becomes resident only once a frame reaches
/// it: a heap buffer of `MAX_MESSAGE` bytes is cleared whole by `calloc` (96 KiB resident per
/// channel, almost all of it never used by an idle sandbox). Falls back to the heap when the
/// mapping fails.
pub(crate) struct RecvBuf(RecvMem);

enum RecvMem {
    Mapped { ptr: NonNull<u8>, len: usize },
    Heap(Vec<u8>),
}

// SAFETY: the mapping is owned by this buffer alone (as a Vec owns its allocation) and is
// reached only through `&self`/`&mut self`, so moving or sharing it between threads is as
// safe as for `Vec<u8>`.
unsafe impl Send for RecvBuf {}
// SAFETY: as above; `&RecvBuf` gives only shared reads.
unsafe impl Sync for RecvBuf {}

impl RecvBuf {
    pub(crate) fn new(len: usize) -> RecvBuf {
        let Some(size) = NonZeroUsize::new(len) else {
            return RecvBuf(RecvMem::Heap(Vec::new()));
        };
        // SAFETY: a fresh private anonymous mapping at an address of the kernel's choosing
        // aliases nothing; it is unmapped only by `Drop`.
        let mapped = unsafe {
            nix::sys::mman::mmap_anonymous(
                None,
                size,
                nix::sys::mman::ProtFlags::PROT_READ | nix::sys::mman::ProtFlags::PROT_WRITE,
                nix::sys::mman::MapFlags::MAP_PRIVATE,
            )
        };
        match mapped {
            Ok(ptr) => RecvBuf(RecvMem::Mapped {
                ptr: ptr.cast(),
                len,
            }),
            Err(_) => RecvBuf(RecvMem::Heap(vec![0; len])),
        }
    }
}

impl Deref for RecvBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            // SAFETY: `ptr` is a live readable mapping of `len` bytes (zero-filled by the
            // kernel, so initialized), owned by `self` for the lifetime of the borrow.
            RecvMem::Mapped { ptr, len } => unsafe {
                std::slice::from_raw_parts(ptr.as_ptr(), *len)
            },
            RecvMem::Heap(v) => v,
        }
    }
}

impl DerefMut for RecvBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        match &mut self.0 {
            // SAFETY: as in `deref`; the mapping is writable and `&mut self` makes this the
            // only borrow.
            RecvMem::Mapped { ptr, len } => unsafe {
                std::slice::from_raw_parts_mut(ptr.as_ptr(), *len)
            },
            RecvMem::Heap(v) => v,
        }
    }
}

impl Drop for RecvBuf {
    fn drop(&mut self) {
        if let RecvMem::Mapped { ptr, len } = self.0 {
            // SAFETY: the mapping was made by `new` with this address and length and no
            // borrow of it outlives `self`.
            let _ = unsafe { nix::sys::mman::munmap(ptr.cast(), len) };
        }
    }
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
    fn recv_buf_is_zeroed_writable_and_sized() {
        let mut buf = RecvBuf::new(96 * 1024);
        assert_eq!(buf.len(), 96 * 1024);
        assert!(buf.iter().all(|&b| b == 0));
        buf[5000] = 7;
        assert_eq!(buf[5000], 7);
        let (a, b) = pair();
        send_frame(a.as_fd(), b"frame", None).unwrap();
        let rx = recv_frame(b.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..rx.len], b"frame");
        assert!(RecvBuf::new(0).is_empty());
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
