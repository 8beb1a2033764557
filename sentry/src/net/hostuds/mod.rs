//! Host unix sockets reached through gofer mounts (`runsc --host-uds=open`, after gVisor's
//! `--host-uds` and `pkg/sentry/fsimpl/gofer` socket connect; unix(7)). connect(2) of a sandbox
//! AF_UNIX socket to a path whose file is a host socket in a gofer-served bind mount asks the
//! gofer (`ConnectUnix`): the gofer connects a new host socket to that inode, never by a host
//! path, and donates it. The sandbox socket then forwards to that host fd, which the sentry
//! drives like `hostinet` drives inet sockets: non-blocking host calls, blocking waits in
//! short host polls between which the task's signals are seen, readiness from a host poll.
//!
//! What does not pass: control messages. Sending SCM_RIGHTS through such a socket is
//! EOPNOTSUPP; SCM_CREDENTIALS from the application are dropped (the host peer sees the
//! gofer's credentials); descriptors the host peer sends are discarded by the host kernel.
//!
//! The host fd is used only with sendmsg/recvmsg/shutdown/poll, which the sentry's seccomp
//! filter allows anyway; `hostinet::HostSocket` sends with sendto(2), allowed only under
//! `--network=host`, so it is not reused as a whole.

mod sys;

use std::any::Any;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::fs::sys as fs_sys;
use crate::net::sockopt::deadline;
use crate::vfs::poll::wait_host_ready;
use crate::vfs::TaskRef;
use crate::{Errno, SysResult};

/// `--host-uds=open` for this sentry process (it runs one sandbox).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Sets whether connect(2) may reach host unix sockets (`runsc boot` from the boot spec).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether connect(2) may reach host unix sockets.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Connects a new host socket of a type to one host socket file.
type Connector = Box<dyn Fn(i32) -> SysResult<OwnedFd> + Send + Sync>;

/// What a socket file served by the gofer offers connect(2) (its `Inode::socket_endpoint`).
pub struct HostUdsEndpoint {
    connect: Connector,
}

impl HostUdsEndpoint {
    /// An endpoint whose `connect(ty)` asks for a host socket of type `ty` connected to it.
    pub fn new(connect: Connector) -> HostUdsEndpoint {
        HostUdsEndpoint { connect }
    }

    /// A connected, non-blocking host socket of type `ty`.
    pub fn connect(&self, ty: i32) -> SysResult<OwnedFd> {
        (self.connect)(ty)
    }

    /// The endpoint behind a socket node's `socket_endpoint`, if it is this kind.
    pub fn of(ep: &(dyn Any + Send + Sync)) -> Option<&HostUdsEndpoint> {
        ep.downcast_ref::<HostUdsEndpoint>()
    }
}

/// The send flags passed to the host (MSG_DONTWAIT and MSG_NOSIGNAL are always added).
const SEND_FLAGS: i32 = libc::MSG_EOR | libc::MSG_MORE;

/// One connected host unix socket, driven for a sandbox socket.
pub struct HostUds {
    fd: OwnedFd,
    ty: i32,
}

/// What one receive gave.
pub struct HostUdsReceived {
    pub data: Vec<u8>,
    /// The message's full length (datagrams; the bytes read for streams).
    pub full_len: usize,
    /// The datagram did not fit.
    pub truncated: bool,
}

impl HostUds {
    /// Drives the connected host socket `fd` of type `ty`.
    pub fn new(fd: OwnedFd, ty: i32) -> HostUds {
        HostUds { fd, ty }
    }

    /// Waits until the host fd is ready for `mask` (or in error or hung up): EINTR when the
    /// task is interrupted, EAGAIN when `until` passes.
    fn wait(&self, task: TaskRef, mask: u32, until: Option<Instant>) -> SysResult<()> {
        wait_host_ready(self.fd.as_fd(), mask, task, until)
    }

    /// send(2) of `data`: a blocking stream send waits until all is sent (an interrupted or
    /// timed-out one returns what went); `timeout` is the socket's SO_SNDTIMEO.
    pub fn send(
        &self,
        task: TaskRef,
        data: &[u8],
        flags: i32,
        nonblock: bool,
        timeout: Option<Duration>,
    ) -> SysResult<usize> {
        let hflags = (flags & SEND_FLAGS) | libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
        let until = deadline(timeout);
        let mut sent = 0;
        let partial = |sent: usize, e: Errno| if sent > 0 { Ok(sent) } else { Err(e) };
        loop {
            match sys::send(self.fd.as_fd(), &data[sent..], hflags) {
                Ok(n) => {
                    sent += n;
                    if sent >= data.len() || self.ty != libc::SOCK_STREAM || nonblock {
                        return Ok(sent);
                    }
                }
                Err(Errno::EAGAIN) if !nonblock => {}
                Err(e) => return partial(sent, e),
            }
            if let Err(e) = self.wait(task, libc::POLLOUT as u32, until) {
                return partial(sent, e);
            }
        }
    }

    /// recv(2) of at most `len` bytes; `peek` leaves them queued, `waitall` waits for `len`
    /// bytes of a stream; `timeout` is the socket's SO_RCVTIMEO.
    pub fn recv(
        &self,
        task: TaskRef,
        len: usize,
        (peek, waitall): (bool, bool),
        nonblock: bool,
        timeout: Option<Duration>,
    ) -> SysResult<HostUdsReceived> {
        let stream = self.ty == libc::SOCK_STREAM;
        let mut hflags = libc::MSG_DONTWAIT;
        if peek {
            hflags |= libc::MSG_PEEK;
        }
        if !stream {
            hflags |= libc::MSG_TRUNC;
        }
        let waitall = stream && waitall && !peek;
        let until = deadline(timeout);
        let mut buf = vec![0u8; len];
        let mut got = 0;
        let done = |mut buf: Vec<u8>, got: usize| {
            buf.truncate(got);
            HostUdsReceived {
                data: buf,
                full_len: got,
                truncated: false,
            }
        };
        loop {
            match sys::recv(self.fd.as_fd(), &mut buf[got..], hflags) {
                Ok((n, mflags)) if !stream => {
                    buf.truncate(n.min(len));
                    return Ok(HostUdsReceived {
                        data: buf,
                        full_len: n,
                        truncated: mflags & libc::MSG_TRUNC != 0,
                    });
                }
                Ok((n, _)) => {
                    got += n;
                    if n == 0 || !waitall || got >= len {
                        return Ok(done(buf, got));
                    }
                }
                Err(Errno::EAGAIN) if !nonblock => {}
                Err(_) if got > 0 => return Ok(done(buf, got)),
                Err(e) => return Err(e),
            }
            if let Err(e) = self.wait(task, libc::POLLIN as u32, until) {
                if got > 0 {
                    return Ok(done(buf, got));
                }
                return Err(e);
            }
        }
    }

    /// shutdown(2).
    pub fn shutdown(&self, how: i32) -> SysResult<()> {
        sys::shutdown(self.fd.as_fd(), how)
    }

    /// The `POLL*` events now true of the host socket (POLLERR if the host poll fails).
    pub fn readiness(&self) -> u32 {
        let all = (libc::POLLIN
            | libc::POLLRDNORM
            | libc::POLLOUT
            | libc::POLLWRNORM
            | libc::POLLRDHUP
            | libc::POLLERR
            | libc::POLLHUP) as u32;
        fs_sys::poll_now(self.fd.as_fd(), all).unwrap_or(libc::POLLERR as u32)
    }

    /// Bytes readable now (a stream's queue up to 64 KiB, or the next datagram's length), by a
    /// non-blocking peek: SIOCINQ's ioctl is not in the sentry's filter.
    pub fn inq(&self) -> SysResult<usize> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut flags = libc::MSG_DONTWAIT | libc::MSG_PEEK;
        if self.ty != libc::SOCK_STREAM {
            flags |= libc::MSG_TRUNC;
        }
        match sys::recv(self.fd.as_fd(), &mut buf, flags) {
            Ok((n, _)) => Ok(n),
            Err(Errno::EAGAIN) => Ok(0),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::{UnixDatagram, UnixStream};

    fn stream_pair() -> (HostUds, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        (HostUds::new(OwnedFd::from(a), libc::SOCK_STREAM), b)
    }

    #[test]
    fn stream_moves_bytes_both_ways_and_sees_eof() {
        let (h, mut peer) = stream_pair();
        assert_eq!(h.send(None, b"hello", 0, false, None), Ok(5));
        let mut b = [0u8; 5];
        peer.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"hello");
        assert_eq!(h.readiness() & libc::POLLIN as u32, 0);
        peer.write_all(b"back").unwrap();
        assert_ne!(h.readiness() & libc::POLLIN as u32, 0);
        assert_eq!(h.inq(), Ok(4));
        let got = h.recv(None, 16, (true, false), false, None).unwrap();
        assert_eq!(got.data, b"back");
        let got = h.recv(None, 16, (false, false), false, None).unwrap();
        assert_eq!(got.data, b"back");
        assert_eq!(
            h.recv(None, 16, (false, false), true, None).err(),
            Some(Errno::EAGAIN)
        );
        drop(peer);
        let got = h.recv(None, 16, (false, false), false, None).unwrap();
        assert!(got.data.is_empty());
        assert_eq!(h.send(None, b"x", 0, false, None).err(), Some(Errno::EPIPE));
    }

    #[test]
    fn blocking_receive_times_out_with_eagain() {
        let (h, _peer) = stream_pair();
        let r = h.recv(
            None,
            4,
            (false, false),
            false,
            Some(Duration::from_millis(20)),
        );
        assert_eq!(r.err(), Some(Errno::EAGAIN));
    }

    #[test]
    fn datagrams_report_truncation() {
        let (a, b) = UnixDatagram::pair().unwrap();
        let h = HostUds::new(OwnedFd::from(a), libc::SOCK_DGRAM);
        b.send(b"abcdef").unwrap();
        let got = h.recv(None, 3, (false, false), false, None).unwrap();
        assert_eq!(
            (got.data.as_slice(), got.full_len, got.truncated),
            (&b"abc"[..], 6, true)
        );
        h.shutdown(libc::SHUT_WR).unwrap();
        assert_eq!(h.send(None, b"x", 0, true, None).err(), Some(Errno::EPIPE));
    }

    #[test]
    fn endpoint_calls_its_connector() {
        let ep = HostUdsEndpoint::new(Box::new(|ty| {
            if ty == libc::SOCK_STREAM {
                Err(Errno::ECONNREFUSED)
            } else {
                Err(Errno::EPROTOTYPE)
            }
        }));
        let any: &(dyn Any + Send + Sync) = &ep;
        let ep = HostUdsEndpoint::of(any).unwrap();
        assert_eq!(
            ep.connect(libc::SOCK_STREAM).err(),
            Some(Errno::ECONNREFUSED)
        );
        assert_eq!(ep.connect(libc::SOCK_DGRAM).err(), Some(Errno::EPROTOTYPE));
    }
}
