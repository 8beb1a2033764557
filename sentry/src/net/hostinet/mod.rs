//! `--network=host` inet sockets (after gVisor's `pkg/sentry/socket/hostinet`; socket(7),
//! ip(7), ipv6(7), tcp(7), udp(7)): every AF_INET/AF_INET6 socket of the application is a
//! non-blocking host socket that the sentry made in its own network namespace and drives on
//! the application's behalf. Data is copied through the sentry; no control messages pass
//! (no SCM_RIGHTS for inet; IP_PKTINFO and timestamps are not offered). Blocking calls wait on
//! the host fd in short host polls between which the task's signals are seen, as host stdio
//! does (`fs::host`), with SO_RCVTIMEO/SO_SNDTIMEO kept in the sentry. Options pass through
//! only from a known-safe list (others ENOPROTOOPT); the SIOCGIF* requests ask the host.
//!
//! Also the host NETLINK_ROUTE queries (`route_query`) that make the sandbox's netlink and
//! /proc/net views describe the host namespace's interfaces in this mode.

use std::any::Any;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::fs::sys as fs_sys;
use crate::net::sockfs::SockIdentity;
use crate::net::sockopt::{deadline, timeval_bytes, timeval_of};
use crate::vfs::poll::wait_host_ready;
use crate::vfs::{Dentry, FileDescription, FileOps, Inode, Positioning, Stat, StatFs, TaskRef};
use crate::{Errno, SysResult};

mod sys;

static NEXT_INO: AtomicU64 = AtomicU64::new(3 << 32);

/// `SO_RCVTIMEO`, `SO_SNDTIMEO` (the `_OLD` numbers, `struct timeval`).
const SO_RCVTIMEO: i32 = 20;
const SO_SNDTIMEO: i32 = 21;
/// `SOCKFS_MAGIC`.
const SOCKFS_MAGIC: i64 = 0x534F_434B;
/// The send flags passed to the host (MSG_DONTWAIT and MSG_NOSIGNAL are always added: the
/// sentry never blocks in the host or takes SIGPIPE; the syscall layer raises it).
const SEND_FLAGS: i32 =
    libc::MSG_DONTROUTE | libc::MSG_EOR | libc::MSG_MORE | libc::MSG_CONFIRM | libc::MSG_OOB;
/// The receive flags passed to the host.
const RECV_FLAGS: i32 = libc::MSG_PEEK | libc::MSG_TRUNC | libc::MSG_OOB;

/// Whether the host may see option `name` at `level` (set when `set`, else read): the
/// options that act on this socket alone and carry no pointers. The rest are ENOPROTOOPT.
pub fn option_allowed(level: i32, name: i32, set: bool) -> bool {
    match level {
        libc::SOL_SOCKET => match name {
            libc::SO_REUSEADDR
            | libc::SO_REUSEPORT
            | libc::SO_KEEPALIVE
            | libc::SO_BROADCAST
            | libc::SO_LINGER
            | libc::SO_RCVBUF
            | libc::SO_SNDBUF
            | libc::SO_RCVLOWAT
            | libc::SO_OOBINLINE
            | libc::SO_DONTROUTE
            | libc::SO_PRIORITY
            | libc::SO_BINDTODEVICE
            | libc::SO_INCOMING_CPU => true,
            libc::SO_TYPE
            | libc::SO_ERROR
            | libc::SO_ACCEPTCONN
            | libc::SO_DOMAIN
            | libc::SO_PROTOCOL
            | libc::SO_SNDLOWAT => !set,
            _ => false,
        },
        libc::IPPROTO_TCP => match name {
            libc::TCP_NODELAY
            | libc::TCP_MAXSEG
            | libc::TCP_CORK
            | libc::TCP_KEEPIDLE
            | libc::TCP_KEEPINTVL
            | libc::TCP_KEEPCNT
            | libc::TCP_SYNCNT
            | libc::TCP_LINGER2
            | libc::TCP_DEFER_ACCEPT
            | libc::TCP_WINDOW_CLAMP
            | libc::TCP_QUICKACK
            | libc::TCP_CONGESTION
            | libc::TCP_USER_TIMEOUT
            | libc::TCP_NOTSENT_LOWAT
            | libc::TCP_FASTOPEN
            | libc::TCP_FASTOPEN_CONNECT => true,
            libc::TCP_INFO => !set,
            _ => false,
        },
        libc::IPPROTO_IP => match name {
            libc::IP_TOS
            | libc::IP_TTL
            | libc::IP_MTU_DISCOVER
            | libc::IP_MULTICAST_IF
            | libc::IP_MULTICAST_TTL
            | libc::IP_MULTICAST_LOOP
            | libc::IP_ADD_MEMBERSHIP
            | libc::IP_DROP_MEMBERSHIP
            | libc::IP_FREEBIND
            | libc::IP_BIND_ADDRESS_NO_PORT => true,
            libc::IP_MTU => !set,
            _ => false,
        },
        libc::IPPROTO_IPV6 => match name {
            libc::IPV6_V6ONLY
            | libc::IPV6_UNICAST_HOPS
            | libc::IPV6_MULTICAST_IF
            | libc::IPV6_MULTICAST_HOPS
            | libc::IPV6_MULTICAST_LOOP
            | libc::IPV6_ADD_MEMBERSHIP
            | libc::IPV6_DROP_MEMBERSHIP
            | libc::IPV6_MTU_DISCOVER
            | libc::IPV6_TCLASS => true,
            libc::IPV6_MTU => !set,
            _ => false,
        },
        libc::IPPROTO_UDP => name == libc::UDP_CORK,
        _ => false,
    }
}

/// What one receive gave.
pub struct HostReceived {
    pub data: Vec<u8>,
    /// The datagram's full length (what MSG_TRUNC returns); the bytes read for streams.
    pub full_len: usize,
    /// The datagram did not fit (MSG_TRUNC in msg_flags).
    pub truncated: bool,
    /// The sender's sockaddr; empty when the host reported none (connected TCP).
    pub from: Vec<u8>,
}

/// One host inet socket.
pub struct HostSocket {
    fd: OwnedFd,
    family: i32,
    ty: i32,
    id: SockIdentity,
    /// SO_RCVTIMEO and SO_SNDTIMEO (the host fd itself never blocks).
    timeouts: Mutex<(Option<Duration>, Option<Duration>)>,
}

impl HostSocket {
    fn new(fd: OwnedFd, family: i32, ty: i32, task: TaskRef) -> Arc<HostSocket> {
        // The host's inode number, so that "socket:[N]" matches what /proc/net lists.
        let ino = fs_sys::fstat(fd.as_fd())
            .map(|st| st.st_ino)
            .unwrap_or_else(|_| NEXT_INO.fetch_add(1, Ordering::Relaxed));
        Arc::new(HostSocket {
            fd,
            family,
            ty,
            id: SockIdentity::new(ino, task),
            timeouts: Mutex::new((None, None)),
        })
    }

    pub fn family(&self) -> i32 {
        self.family
    }

    pub fn sock_type(&self) -> i32 {
        self.ty
    }

    /// Whether SO_SNDTIMEO (`send`) or SO_RCVTIMEO is set: a signal then ends a blocked call
    /// with EINTR even under SA_RESTART (Linux `sock_intr_errno`).
    pub fn has_timeout(&self, send: bool) -> bool {
        self.timeout(send).is_some()
    }

    fn timeout(&self, send: bool) -> Option<Duration> {
        let t = self.timeouts.lock().unwrap_or_else(|p| p.into_inner());
        if send {
            t.1
        } else {
            t.0
        }
    }

    /// Waits until the host fd is ready for `mask` (or in error or hung up): EINTR when the
    /// task is interrupted, EAGAIN when `until` passes.
    fn wait(&self, task: TaskRef, mask: u32, until: Option<Instant>) -> SysResult<()> {
        wait_host_ready(self.fd.as_fd(), mask, task, until)
    }

    /// bind(2) to the raw sockaddr `raw`.
    pub fn bind(&self, raw: &[u8]) -> SysResult<()> {
        sys::bind(self.fd.as_fd(), raw)
    }

    /// listen(2).
    pub fn listen(&self, backlog: i32) -> SysResult<()> {
        sys::listen(self.fd.as_fd(), backlog)
    }

    /// connect(2): a blocking connect waits for the handshake and reports its SO_ERROR; a
    /// non-blocking one is EINPROGRESS, as the host says. A blocking connect restarted after a
    /// signal (EALREADY from the host: still connecting) waits again, as Linux's does.
    pub fn connect(&self, task: TaskRef, raw: &[u8], nonblock: bool) -> SysResult<()> {
        match sys::connect(self.fd.as_fd(), raw) {
            Err(Errno::EINPROGRESS | Errno::EALREADY) if !nonblock => {
                let until = deadline(self.timeout(true));
                match self.wait(task, libc::POLLOUT as u32, until) {
                    Err(Errno::EAGAIN) => return Err(Errno::EINPROGRESS),
                    r => r?,
                }
                let err = sys::getsockopt(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_ERROR, 4)?;
                match err
                    .get(..4)
                    .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                {
                    Some(0) | None => Ok(()),
                    Some(e) => Err(Errno::from_raw(e)),
                }
            }
            r => r,
        }
    }

    /// accept4(2): the new connection as a host socket file (O_NONBLOCK from `flags`) and the
    /// peer's sockaddr.
    pub fn accept(
        &self,
        task: TaskRef,
        nonblock: bool,
        flags: i32,
    ) -> SysResult<(Arc<FileDescription>, Vec<u8>)> {
        let until = deadline(self.timeout(false));
        loop {
            match sys::accept(self.fd.as_fd()) {
                Ok((fd, peer)) => {
                    let s = HostSocket::new(fd, self.family, self.ty, task);
                    return Ok((file_for(s, flags), peer));
                }
                Err(Errno::EAGAIN) if !nonblock => {
                    self.wait(task, libc::POLLIN as u32, until)?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// shutdown(2).
    pub fn shutdown(&self, how: i32) -> SysResult<()> {
        sys::shutdown(self.fd.as_fd(), how)
    }

    /// getsockname(2).
    pub fn sockname(&self) -> SysResult<Vec<u8>> {
        sys::name(self.fd.as_fd(), false)
    }

    /// getpeername(2).
    pub fn peername(&self) -> SysResult<Vec<u8>> {
        sys::name(self.fd.as_fd(), true)
    }

    /// send/sendto/sendmsg: `data` to `to` (the connected peer when None). A blocking stream
    /// send waits until all is sent; an interrupted or timed-out one returns what went.
    pub fn send(
        &self,
        task: TaskRef,
        data: &[u8],
        to: Option<&[u8]>,
        flags: i32,
        nonblock: bool,
    ) -> SysResult<usize> {
        let hflags = (flags & SEND_FLAGS) | libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
        let until = deadline(self.timeout(true));
        let mut sent = 0;
        let partial = |sent: usize, e: Errno| if sent > 0 { Ok(sent) } else { Err(e) };
        loop {
            match sys::sendto(self.fd.as_fd(), &data[sent..], to, hflags) {
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

    /// recv/recvfrom/recvmsg of at most `len` bytes (MSG_PEEK, MSG_TRUNC, MSG_WAITALL in
    /// `flags`).
    pub fn recv(
        &self,
        task: TaskRef,
        len: usize,
        flags: i32,
        nonblock: bool,
    ) -> SysResult<HostReceived> {
        let hflags = (flags & RECV_FLAGS) | libc::MSG_DONTWAIT;
        let stream = self.ty == libc::SOCK_STREAM;
        let waitall = stream && flags & libc::MSG_WAITALL != 0 && flags & libc::MSG_PEEK == 0;
        let until = deadline(self.timeout(false));
        let mut buf = vec![0u8; len];
        let mut got = 0;
        let mut from = Vec::new();
        let done = |mut buf: Vec<u8>, got: usize, from: Vec<u8>| {
            buf.truncate(got);
            HostReceived {
                data: buf,
                full_len: got,
                truncated: false,
                from,
            }
        };
        loop {
            match sys::recvmsg(self.fd.as_fd(), &mut buf[got..], hflags) {
                Ok(r) if !stream => {
                    buf.truncate(r.len.min(len));
                    return Ok(HostReceived {
                        data: buf,
                        full_len: r.len,
                        truncated: r.flags & libc::MSG_TRUNC != 0,
                        from: r.from,
                    });
                }
                Ok(r) => {
                    got += r.len;
                    from = r.from;
                    if r.len == 0 || !waitall || got >= len {
                        return Ok(done(buf, got, from));
                    }
                }
                Err(Errno::EAGAIN) if !nonblock => {}
                Err(e) if got > 0 => {
                    let _ = e;
                    return Ok(done(buf, got, from));
                }
                Err(e) => return Err(e),
            }
            if let Err(e) = self.wait(task, libc::POLLIN as u32, until) {
                if got > 0 {
                    return Ok(done(buf, got, from));
                }
                return Err(e);
            }
        }
    }

    /// setsockopt(2): the timeouts are the sentry's; allowed options go to the host.
    pub fn setsockopt(&self, level: i32, name: i32, val: &[u8]) -> SysResult<()> {
        if level == libc::SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO) {
            let t = timeval_of(val)?;
            let mut ts = self.timeouts.lock().unwrap_or_else(|p| p.into_inner());
            if name == SO_RCVTIMEO {
                ts.0 = t;
            } else {
                ts.1 = t;
            }
            return Ok(());
        }
        if !option_allowed(level, name, true) {
            return Err(Errno::ENOPROTOOPT);
        }
        sys::setsockopt(self.fd.as_fd(), level, name, val)
    }

    /// getsockopt(2) with room for `cap` bytes.
    pub fn getsockopt(&self, level: i32, name: i32, cap: usize) -> SysResult<Vec<u8>> {
        if level == libc::SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO) {
            return Ok(timeval_bytes(self.timeout(name == SO_SNDTIMEO)));
        }
        if !option_allowed(level, name, false) {
            return Err(Errno::ENOPROTOOPT);
        }
        sys::getsockopt(self.fd.as_fd(), level, name, cap.min(512))
    }

    /// SIOCINQ (`outq` false) or SIOCOUTQ, from the host.
    pub fn queued(&self, outq: bool) -> SysResult<usize> {
        let req = if outq { 0x5411 } else { 0x541b };
        let mut n = [0u8; 4];
        sys::ioctl_buf(self.fd.as_fd(), req, &mut n)?;
        Ok(usize::try_from(i32::from_ne_bytes(n)).unwrap_or(0))
    }

    fn stat(&self) -> Stat {
        self.id.stat()
    }
}

impl FileOps for HostSocket {
    fn positioning(&self) -> Positioning {
        Positioning::Stream
    }
    fn read_stream(&self, task: TaskRef, buf: &mut [u8]) -> SysResult<usize> {
        self.read_with_flags(task, buf, 0)
    }
    fn write_stream(&self, task: TaskRef, buf: &[u8]) -> SysResult<usize> {
        self.write_with_flags(task, buf, 0)
    }
    fn read_with_flags(&self, task: TaskRef, buf: &mut [u8], flags: i32) -> SysResult<usize> {
        let r = self.recv(task, buf.len(), 0, flags & libc::O_NONBLOCK != 0)?;
        let n = r.data.len().min(buf.len());
        buf[..n].copy_from_slice(&r.data[..n]);
        Ok(n)
    }
    fn write_with_flags(&self, task: TaskRef, buf: &[u8], flags: i32) -> SysResult<usize> {
        self.send(task, buf, None, 0, flags & libc::O_NONBLOCK != 0)
    }
    fn stat(&self) -> Option<SysResult<Stat>> {
        Some(Ok(HostSocket::stat(self)))
    }
    fn ioctl(&self, req: u32, arg: &mut [u8]) -> SysResult<u64> {
        if (req == 0x541b || req == 0x5411) && arg.len() >= 4 {
            let n = i32::try_from(self.queued(req == 0x5411)?).unwrap_or(i32::MAX);
            arg[..4].copy_from_slice(&n.to_ne_bytes());
            return Ok(0);
        }
        Err(Errno::ENOTTY)
    }
    fn supports_poll(&self) -> bool {
        true
    }
    fn readiness(&self, mask: u32) -> u32 {
        // No wait queue: pollers re-check host fds in short slices (vfs::poll).
        fs_sys::poll_now(self.fd.as_fd(), mask).unwrap_or(libc::POLLERR as u32)
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// The sockfs inode of a host socket (fstat as a socket; reopening is ENXIO as for any).
struct HostSockInode {
    stat: Stat,
}

impl Inode for HostSockInode {
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
        Ok(self.stat)
    }
    fn open(&self, _task: TaskRef, _flags: i32) -> SysResult<Arc<dyn FileOps>> {
        Err(Errno::ENXIO)
    }
    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(SOCKFS_MAGIC))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn file_for(sock: Arc<HostSocket>, flags: i32) -> Arc<FileDescription> {
    let stat = HostSocket::stat(&sock);
    let name = format!("socket:[{}]", stat.ino).into_bytes();
    let inode: Arc<dyn Inode> = Arc::new(HostSockInode { stat });
    FileDescription::new(
        Dentry::anonymous(name, inode),
        sock,
        libc::O_RDWR | (flags & libc::O_NONBLOCK),
    )
}

/// socket(2) for AF_INET/AF_INET6 under `--network=host`: a host TCP or UDP socket (`flags`
/// may hold O_NONBLOCK). Raw and other types are ESOCKTNOSUPPORT.
pub fn new_socket(
    task: TaskRef,
    family: i32,
    ty: i32,
    protocol: i32,
    flags: i32,
) -> SysResult<Arc<FileDescription>> {
    match (ty, protocol) {
        (libc::SOCK_STREAM, 0 | libc::IPPROTO_TCP) | (libc::SOCK_DGRAM, 0 | libc::IPPROTO_UDP) => {}
        (libc::SOCK_STREAM | libc::SOCK_DGRAM, _) => return Err(Errno::EPROTONOSUPPORT),
        _ => return Err(Errno::ESOCKTNOSUPPORT),
    }
    if family != libc::AF_INET && family != libc::AF_INET6 {
        return Err(Errno::EAFNOSUPPORT);
    }
    let fd = sys::socket(family, ty, protocol)?;
    Ok(file_for(HostSocket::new(fd, family, ty, task), flags))
}

/// The host socket behind `file` (ENOTSOCK for other files).
pub fn socket_of(file: &FileDescription) -> SysResult<&HostSocket> {
    file.ops_as::<HostSocket>().ok_or(Errno::ENOTSOCK)
}

/// A SIOCGIF* request (a `struct ifreq` with no pointer in it) answered by the host, on a
/// short-lived host UDP socket.
pub fn ifreq_ioctl(req: u32, ifr: &mut [u8]) -> SysResult<()> {
    let fd = sys::socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    sys::ioctl_buf(fd.as_fd(), req, ifr).map(drop)
}

/// SIOCGIFCONF answered by the host: the records that fit `cap` bytes (with `cap` 0, a
/// buffer as long as every record needs).
pub fn ifconf(cap: usize) -> SysResult<Vec<u8>> {
    let fd = sys::socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    sys::ifconf(fd.as_fd(), cap)
}

/// `NLMSG_DONE`, `NLMSG_ERROR`, `NLM_F_MULTI`, `NETLINK_GET_STRICT_CHK`, `SOL_NETLINK`.
const NLMSG_DONE: u16 = 3;
const NLMSG_ERROR: u16 = 2;
const NLM_F_MULTI: u16 = 2;
const NETLINK_GET_STRICT_CHK: i32 = 12;
const SOL_NETLINK: i32 = 270;
/// How long a host NETLINK_ROUTE query may take (the host kernel answers at once).
const ROUTE_TIMEOUT: Duration = Duration::from_secs(2);

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_ne_bytes([b[off], b[off + 1]])
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Sends the one GET request `req` to the host's netlink `protocol` and collects the reply
/// datagrams (see [`route_query`]).
fn netlink_query(protocol: i32, req: &[u8], strict: bool, pid: u32) -> SysResult<Vec<Vec<u8>>> {
    let fd = sys::socket(libc::AF_NETLINK, libc::SOCK_RAW, protocol)?;
    netlink_exchange(fd, req, strict, pid)
}

/// Asks the host's NETLINK_ROUTE for the answer to the one GET request `req` (a whole
/// nlmsghdr): the reply datagrams as the host sent them, up to and including NLMSG_DONE for
/// a dump, each message with its port id set to `pid`. A host NLMSG_ERROR is its errno.
pub fn route_query(req: &[u8], strict: bool, pid: u32) -> SysResult<Vec<Vec<u8>>> {
    netlink_query(libc::NETLINK_ROUTE, req, strict, pid)
}

fn netlink_exchange(fd: OwnedFd, req: &[u8], strict: bool, pid: u32) -> SysResult<Vec<Vec<u8>>> {
    if strict {
        sys::setsockopt(
            fd.as_fd(),
            SOL_NETLINK,
            NETLINK_GET_STRICT_CHK,
            &1i32.to_ne_bytes(),
        )?;
    }
    let mut kernel = [0u8; 12];
    kernel[..2].copy_from_slice(&(libc::AF_NETLINK as u16).to_ne_bytes());
    sys::sendto(fd.as_fd(), req, Some(&kernel), 0)?;
    let until = Instant::now() + ROUTE_TIMEOUT;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Errno::ETIMEDOUT);
        }
        if fs_sys::poll_for(fd.as_fd(), libc::POLLIN as u32, left)? == 0 {
            continue;
        }
        let r = match sys::recvmsg(fd.as_fd(), &mut buf, 0) {
            Err(Errno::EAGAIN) => continue,
            r => r?,
        };
        let mut off = 0;
        let n = r.len.min(buf.len());
        let data = &mut buf[..n];
        out.push(Vec::new());
        while off + 16 <= data.len() {
            let len = u32_at(data, off) as usize;
            if len < 16 || off + len > data.len() {
                break;
            }
            let (ty, flags) = (u16_at(data, off + 4), u16_at(data, off + 6));
            if ty == NLMSG_ERROR {
                let err = if len >= 20 {
                    i32::from_ne_bytes([
                        data[off + 16],
                        data[off + 17],
                        data[off + 18],
                        data[off + 19],
                    ])
                } else {
                    -libc::EINVAL
                };
                out.retain(|d| !d.is_empty());
                return if err == 0 {
                    Ok(out)
                } else {
                    Err(Errno::from_raw(-err))
                };
            }
            data[off + 12..off + 16].copy_from_slice(&pid.to_ne_bytes());
            let msg = &data[off..off + ((len + 3) & !3).min(data.len() - off)];
            // Datagrams no bigger than Linux's dump skbs (NLMSG_GOODSIZE) for a reader with a
            // page-sized buffer, as glibc's getifaddrs is: the host filled ours for a 64 KiB
            // one, and a datagram cut short by the reader's buffer is MSG_TRUNC.
            if out
                .last()
                .is_some_and(|d| !d.is_empty() && d.len() + msg.len() > NLMSG_GOODSIZE)
            {
                out.push(Vec::new());
            }
            if let Some(d) = out.last_mut() {
                d.extend_from_slice(msg);
            }
            if ty == NLMSG_DONE || flags & NLM_F_MULTI == 0 {
                out.retain(|d| !d.is_empty());
                return Ok(out);
            }
            off += (len + 3) & !3;
        }
    }
}

/// Linux's `NLMSG_GOODSIZE` on 4 KiB pages: a page less the skb's shared info, the size of
/// the datagrams a dump fills for a reader that has not used a bigger buffer.
const NLMSG_GOODSIZE: usize = 4096 - 320;

/// `NLM_F_REQUEST | NLM_F_DUMP`, and the RTM_GET* types of the host views.
const DUMP_REQUEST: u16 = 0x1 | 0x300;
const RTM_GETLINK: u16 = 18;
const RTM_GETADDR: u16 = 22;
const RTM_GETROUTE: u16 = 26;
/// Attribute numbers (linux/if_link.h, linux/if_addr.h, linux/rtnetlink.h).
const IFLA_IFNAME: u16 = 3;
const IFLA_STATS64: u16 = 23;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_TABLE: u16 = 15;
/// `RT_TABLE_MAIN`, `RTN_UNICAST`.
const RT_TABLE_MAIN: u32 = 254;
const RTN_UNICAST: u8 = 1;

/// One host interface as /proc/net/dev shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLink {
    pub index: i32,
    pub name: String,
    /// `struct rtnl_link_stats64`, field by field (rx_packets, tx_packets, rx_bytes, ...).
    pub stats: [u64; 24],
}

/// One host IPv6 address as /proc/net/if_inet6 shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAddr6 {
    pub index: i32,
    pub addr: [u8; 16],
    pub prefix: u8,
    /// The rtnetlink scope (RT_SCOPE_*).
    pub scope: u8,
    pub flags: u32,
}

/// One IPv4 route of the host's main table as /proc/net/route shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoute4 {
    pub dst: [u8; 4],
    pub prefix: u8,
    pub gateway: Option<[u8; 4]>,
    pub oif: i32,
    pub priority: u32,
}

/// The messages of a host NETLINK_ROUTE dump of `ty` for `family` (`body_len` bytes of
/// zeroed header with the family first), each without its nlmsghdr.
fn host_dump(ty: u16, family: u8, body_len: usize) -> SysResult<Vec<Vec<u8>>> {
    let mut body = vec![0u8; body_len];
    body[0] = family;
    host_dump_with(libc::NETLINK_ROUTE, ty, &body)
}

/// The messages of a host dump of `ty` with request body `body` on netlink `protocol`.
fn host_dump_with(protocol: i32, ty: u16, body: &[u8]) -> SysResult<Vec<Vec<u8>>> {
    let len = 16 + body.len();
    let mut req = vec![0u8; len];
    req[..4].copy_from_slice(&(len as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&ty.to_ne_bytes());
    req[6..8].copy_from_slice(&DUMP_REQUEST.to_ne_bytes());
    req[16..].copy_from_slice(body);
    let mut out = Vec::new();
    for d in netlink_query(protocol, &req, false, 0)? {
        let mut off = 0;
        while off + 16 <= d.len() {
            let mlen = u32_at(&d, off) as usize;
            if mlen < 16 || off + mlen > d.len() {
                break;
            }
            if u16_at(&d, off + 4) != NLMSG_DONE {
                out.push(d[off + 16..off + mlen].to_vec());
            }
            off += (mlen + 3) & !3;
        }
    }
    Ok(out)
}

/// The attributes after a `hdr`-byte family header: (type, payload).
fn attrs(msg: &[u8], hdr: usize) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut off = hdr;
    while off + 4 <= msg.len() {
        let len = usize::from(u16_at(msg, off));
        if len < 4 || off + len > msg.len() {
            break;
        }
        out.push((u16_at(msg, off + 2) & 0x3fff, &msg[off + 4..off + len]));
        off += (len + 3) & !3;
    }
    out
}

fn attr<'a>(a: &[(u16, &'a [u8])], ty: u16) -> Option<&'a [u8]> {
    a.iter().find(|x| x.0 == ty).map(|x| x.1)
}

fn u32_of(b: Option<&[u8]>) -> Option<u32> {
    b.filter(|b| b.len() >= 4).map(|b| u32_at(b, 0))
}

/// The host namespace's interfaces, by index order of the host's dump.
pub fn host_links() -> SysResult<Vec<HostLink>> {
    Ok(host_dump(RTM_GETLINK, libc::AF_UNSPEC as u8, 16)?
        .iter()
        .filter(|m| m.len() >= 16)
        .map(|m| {
            let a = attrs(m, 16);
            let name = attr(&a, IFLA_IFNAME).unwrap_or_default();
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            let mut stats = [0u64; 24];
            if let Some(s) = attr(&a, IFLA_STATS64) {
                for (i, c) in s.chunks_exact(8).take(24).enumerate() {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(c);
                    stats[i] = u64::from_ne_bytes(w);
                }
            }
            HostLink {
                index: i32::from_ne_bytes([m[4], m[5], m[6], m[7]]),
                name: String::from_utf8_lossy(&name[..end]).into_owned(),
                stats,
            }
        })
        .collect())
}

/// The host namespace's IPv6 addresses.
pub fn host_addrs6() -> SysResult<Vec<HostAddr6>> {
    Ok(host_dump(RTM_GETADDR, libc::AF_INET6 as u8, 8)?
        .iter()
        .filter(|m| m.len() >= 8 && i32::from(m[0]) == libc::AF_INET6)
        .filter_map(|m| {
            let a = attrs(m, 8);
            let ip = attr(&a, IFA_LOCAL).or(attr(&a, IFA_ADDRESS))?;
            let addr: [u8; 16] = ip.get(..16)?.try_into().ok()?;
            Some(HostAddr6 {
                index: i32::from_ne_bytes([m[4], m[5], m[6], m[7]]),
                addr,
                prefix: m[1],
                scope: m[3],
                flags: u32_of(attr(&a, IFA_FLAGS)).unwrap_or(u32::from(m[2])),
            })
        })
        .collect())
}

/// The unicast IPv4 routes of the host's main table.
pub fn host_routes4() -> SysResult<Vec<HostRoute4>> {
    let v4 = |b: Option<&[u8]>| -> Option<[u8; 4]> { b?.get(..4)?.try_into().ok() };
    Ok(host_dump(RTM_GETROUTE, libc::AF_INET as u8, 12)?
        .iter()
        .filter(|m| m.len() >= 12 && i32::from(m[0]) == libc::AF_INET && m[7] == RTN_UNICAST)
        .filter_map(|m| {
            let a = attrs(m, 12);
            let table = u32_of(attr(&a, RTA_TABLE)).unwrap_or(u32::from(m[4]));
            (table == RT_TABLE_MAIN).then(|| HostRoute4 {
                dst: v4(attr(&a, RTA_DST)).unwrap_or([0; 4]),
                prefix: m[1],
                gateway: v4(attr(&a, RTA_GATEWAY)),
                oif: u32_of(attr(&a, RTA_OIF)).map_or(0, |o| o as i32),
                priority: u32_of(attr(&a, RTA_PRIORITY)).unwrap_or(0),
            })
        })
        .collect())
}

/// `NETLINK_SOCK_DIAG`, `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h), and the size of
/// `struct inet_diag_req_v2` and `struct inet_diag_msg` (linux/inet_diag.h).
const NETLINK_SOCK_DIAG: i32 = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const INET_DIAG_REQ_V2: usize = 56;
const INET_DIAG_MSG: usize = 72;

/// The host namespace's TCP and UDP sockets of both families, as /proc/net/{tcp,udp}{,6}
/// list them (from NETLINK_SOCK_DIAG dumps: listeners first, as the kernel's tables).
pub fn host_inet_sockets() -> Vec<crate::net::inet::InetSockInfo> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    let mut out = Vec::new();
    for (ty, proto) in [
        (libc::SOCK_STREAM, libc::IPPROTO_TCP),
        (libc::SOCK_DGRAM, libc::IPPROTO_UDP),
    ] {
        for family in [libc::AF_INET, libc::AF_INET6] {
            let mut req = [0u8; INET_DIAG_REQ_V2];
            req[0] = family as u8;
            req[1] = proto as u8;
            req[4..8].copy_from_slice(&u32::MAX.to_ne_bytes()); // every state
            let msgs = host_dump_with(NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, &req);
            for m in msgs.unwrap_or_default() {
                if m.len() < INET_DIAG_MSG {
                    continue;
                }
                let ip = |off: usize| -> IpAddr {
                    if family == libc::AF_INET {
                        IpAddr::V4(Ipv4Addr::new(m[off], m[off + 1], m[off + 2], m[off + 3]))
                    } else {
                        let mut b = [0u8; 16];
                        b.copy_from_slice(&m[off..off + 16]);
                        IpAddr::V6(Ipv6Addr::from(b))
                    }
                };
                let port = |off: usize| u16::from_be_bytes([m[off], m[off + 1]]);
                out.push(crate::net::inet::InetSockInfo {
                    family,
                    ty,
                    local: SocketAddr::new(ip(8), port(4)),
                    remote: SocketAddr::new(ip(24), port(6)),
                    state: m[1],
                    rx_queue: u32_at(&m, 56) as usize,
                    // A listener's wqueue is its backlog; /proc/net/tcp shows 0.
                    tx_queue: if m[1] == 10 {
                        0
                    } else {
                        u32_at(&m, 60) as usize
                    },
                    uid: u32_at(&m, 64),
                    ino: u64::from(u32_at(&m, 68)),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(port: u16) -> Vec<u8> {
        let mut a = vec![0u8; 16];
        a[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        a[2..4].copy_from_slice(&port.to_be_bytes());
        a[4..8].copy_from_slice(&[127, 0, 0, 1]);
        a
    }

    fn sock(ty: i32, flags: i32) -> Arc<FileDescription> {
        new_socket(None, libc::AF_INET, ty, 0, flags).unwrap()
    }

    fn port_of(f: &FileDescription) -> u16 {
        let a = socket_of(f).unwrap().sockname().unwrap();
        u16::from_be_bytes([a[2], a[3]])
    }

    #[test]
    fn tcp_connects_accepts_and_moves_bytes_through_the_host() {
        let l = sock(libc::SOCK_STREAM, 0);
        let ls = socket_of(&l).unwrap();
        ls.bind(&v4(0)).unwrap();
        ls.listen(4).unwrap();
        let port = port_of(&l);
        let c = sock(libc::SOCK_STREAM, 0);
        socket_of(&c)
            .unwrap()
            .connect(None, &v4(port), false)
            .unwrap();
        let (a, peer) = ls.accept(None, false, 0).unwrap();
        assert_eq!(&peer[4..8], &[127, 0, 0, 1]);
        assert_eq!(c.write_inner(None, b"hello").unwrap(), 5);
        let mut b = [0u8; 5];
        let r = socket_of(&a)
            .unwrap()
            .recv(None, 5, libc::MSG_WAITALL, false);
        assert_eq!(r.unwrap().data, b"hello");
        socket_of(&c).unwrap().shutdown(libc::SHUT_WR).unwrap();
        assert_eq!(a.read_inner(None, &mut b).unwrap(), 0);
        let st = a.stat_vfs(None).unwrap();
        assert_eq!(st.mode & libc::S_IFMT, libc::S_IFSOCK);
        assert!(a.path().starts_with(b"socket:["));
    }

    #[test]
    fn non_blocking_calls_say_eagain() {
        let l = sock(libc::SOCK_STREAM, libc::O_NONBLOCK);
        let ls = socket_of(&l).unwrap();
        ls.bind(&v4(0)).unwrap();
        ls.listen(1).unwrap();
        assert_eq!(ls.accept(None, true, 0).err(), Some(Errno::EAGAIN));
        assert_eq!(l.readiness(libc::POLLIN as u32), 0);
        let u = sock(libc::SOCK_DGRAM, 0);
        let us = socket_of(&u).unwrap();
        us.bind(&v4(0)).unwrap();
        assert_eq!(us.recv(None, 4, 0, true).err(), Some(Errno::EAGAIN));
    }

    #[test]
    fn udp_datagrams_keep_their_sender_and_truncate() {
        let a = sock(libc::SOCK_DGRAM, 0);
        let b = sock(libc::SOCK_DGRAM, 0);
        let (sa, sb) = (socket_of(&a).unwrap(), socket_of(&b).unwrap());
        sa.bind(&v4(0)).unwrap();
        sb.bind(&v4(0)).unwrap();
        let pb = port_of(&b);
        assert_eq!(sa.send(None, b"datagram", Some(&v4(pb)), 0, false), Ok(8));
        let r = sb.recv(None, 4, libc::MSG_TRUNC, false).unwrap();
        assert_eq!(
            (r.data.as_slice(), r.full_len, r.truncated),
            (&b"data"[..], 8, true)
        );
        assert_eq!(u16::from_be_bytes([r.from[2], r.from[3]]), port_of(&a));
    }

    #[test]
    fn options_pass_only_from_the_list_and_timeouts_stay_here() {
        let s = sock(libc::SOCK_STREAM, 0);
        let s = socket_of(&s).unwrap();
        s.setsockopt(libc::SOL_SOCKET, libc::SO_REUSEADDR, &1i32.to_ne_bytes())
            .unwrap();
        let v = s
            .getsockopt(libc::SOL_SOCKET, libc::SO_REUSEADDR, 4)
            .unwrap();
        assert_eq!(v, 1i32.to_ne_bytes());
        assert_eq!(
            s.setsockopt(libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &[0; 16]),
            Err(Errno::ENOPROTOOPT)
        );
        assert_eq!(
            s.getsockopt(libc::SOL_SOCKET, libc::SO_PEERCRED, 12),
            Err(Errno::ENOPROTOOPT)
        );
        let mut tv = 1i64.to_ne_bytes().to_vec();
        tv.extend_from_slice(&0i64.to_ne_bytes());
        s.setsockopt(libc::SOL_SOCKET, SO_RCVTIMEO, &tv).unwrap();
        assert_eq!(s.getsockopt(libc::SOL_SOCKET, SO_RCVTIMEO, 16).unwrap(), tv);
    }

    #[test]
    fn host_route_dump_lists_loopback() {
        // RTM_GETLINK dump: nlmsghdr + struct ifinfomsg.
        let mut req = vec![0u8; 32];
        req[..4].copy_from_slice(&32u32.to_ne_bytes());
        req[4..6].copy_from_slice(&18u16.to_ne_bytes());
        req[6..8].copy_from_slice(&(1u16 | 0x300).to_ne_bytes());
        let out = route_query(&req, false, 77).unwrap().concat();
        assert!(out.windows(3).any(|w| w == b"lo\0"));
        assert_eq!(u32_at(&out, 12), 77);
    }

    #[test]
    fn host_views_parse_the_dumps() {
        let links = host_links().unwrap();
        assert!(
            links.iter().any(|l| l.name == "lo" && l.index == 1),
            "{links:?}"
        );
        let addrs = host_addrs6().unwrap();
        // ::1 on lo, where the host has IPv6.
        assert!(addrs.iter().all(|a| a.index > 0));
        assert!(host_routes4().is_ok());
    }

    #[test]
    fn host_socket_list_shows_a_listener_under_its_inode() {
        let l = sock(libc::SOCK_STREAM, 0);
        let ls = socket_of(&l).unwrap();
        ls.bind(&v4(0)).unwrap();
        ls.listen(1).unwrap();
        let ino = l.stat_vfs(None).unwrap().ino;
        let all = host_inet_sockets();
        let me = all.iter().find(|i| i.ino == ino).unwrap();
        assert_eq!((me.state, me.local.port()), (10, port_of(&l)));
    }
}
