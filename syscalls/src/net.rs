//! Socket syscalls (Linux `net/socket.c`, gVisor `pkg/sentry/syscalls/linux/sys_socket.go`):
//! socket, socketpair, bind, listen, accept(4), connect, shutdown, getsockname, getpeername,
//! send/recv in all their forms with SCM_RIGHTS and SCM_CREDENTIALS, setsockopt/getsockopt.
//! AF_UNIX is served by `sentry::net::unix`, AF_INET/AF_INET6 by the loopback-only stack in
//! `sentry::net::inet`, AF_NETLINK (NETLINK_ROUTE) by `sentry::net::netlink` (each syscall
//! first asks whether the descriptor is a netlink or inet socket). Under `--network=host`
//! AF_INET/AF_INET6 sockets are host sockets (`sentry::net::hostinet`) instead of the
//! loopback stack's, and the interface ioctls describe the host's interfaces.

use std::sync::Arc;

use sentry::abi::signal::{SigInfo, SI_USER};
use sentry::kernel::{SyscallArgs, Task};
use sentry::net::hostinet::{self, HostSocket};
use sentry::net::iface::{self, IfReq, IFREQ_SIZE, SIOCGIFCONF, SIOCINQ, SIOCOUTQ};
use sentry::net::inet::{self, InetSocket};
use sentry::net::netlink::{self, NetlinkSocket};
use sentry::net::unix::{self, Socket, Ucred, UnixAddr};
use sentry::net::NetworkMode;
use sentry::vfs::FileDescription;
use sentry::{Errno, SysResult};

use crate::pipe::install_fd;

/// Most bytes one call moves.
const MAX_RW: usize = 16 << 20;
/// `UIO_MAXIOV`.
const IOV_MAX: usize = 1024;
/// `SCM_MAX_FD`.
const SCM_MAX_FD: usize = 253;
/// `sizeof(struct cmsghdr)` and `struct msghdr`, `struct mmsghdr` on x86_64.
const CMSG_HDR: usize = 16;
const MSGHDR: u64 = 56;
const MMSGHDR: u64 = 64;
/// `SCM_RIGHTS`, `SCM_CREDENTIALS`.
const SCM_RIGHTS: i32 = 1;
const SCM_CREDENTIALS: i32 = 2;
/// `MSG_WAITFORONE`.
const MSG_WAITFORONE: i32 = 0x10000;

fn align8(n: usize) -> usize {
    (n + 7) & !7
}

fn sock_fd(t: &Task, fd: i32) -> SysResult<(Arc<FileDescription>, Arc<Socket>)> {
    let f = t.fd_table.get(fd)?;
    let s = unix::socket_of(&f)?;
    Ok((f, s))
}

/// The inet socket behind `fd`, if it is one.
fn inet_fd(t: &Task, fd: i32) -> SysResult<Option<(Arc<FileDescription>, Arc<InetSocket>)>> {
    let f = t.fd_table.get(fd)?;
    Ok(inet::socket_of(&f).ok().map(|s| (f, s)))
}

/// The host inet socket behind `fd` (`--network=host`), if it is one.
fn host_fd(t: &Task, fd: i32) -> SysResult<Option<Arc<FileDescription>>> {
    let f = t.fd_table.get(fd)?;
    Ok(hostinet::socket_of(&f).is_ok().then_some(f))
}

/// The host socket of a file `host_fd` returned.
fn host_of(f: &FileDescription) -> SysResult<&HostSocket> {
    hostinet::socket_of(f)
}

/// After an EINTR from a host socket whose SO_SNDTIMEO (`send`) or SO_RCVTIMEO is set: no
/// restart, even under SA_RESTART (Linux `sock_intr_errno`: only an unbounded wait restarts).
fn no_restart_if_timed<T>(t: &mut Task, fd: i32, send: bool, r: SysResult<T>) -> SysResult<T> {
    if r.as_ref().is_err_and(|&e| e == Errno::EINTR) {
        let timed = t
            .fd_table
            .get(fd)
            .ok()
            .is_some_and(|f| hostinet::socket_of(&f).is_ok_and(|s| s.has_timeout(send)));
        if timed {
            t.signals
                .set_restart(sentry::kernel::signal::RestartKind::Never);
        }
    }
    r
}

/// The netlink socket behind `fd`, if it is one.
fn nl_fd(t: &Task, fd: i32) -> SysResult<Option<(Arc<FileDescription>, Arc<NetlinkSocket>)>> {
    let f = t.fd_table.get(fd)?;
    Ok(netlink::socket_of(&f).ok().map(|s| (f, s)))
}

/// A raw sockaddr from the application (at most 128 bytes).
fn read_raw_addr(t: &Task, addr: u64, len: u32) -> SysResult<Vec<u8>> {
    let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
    if len > 128 {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; len];
    t.mm.copy_in(addr, &mut raw)?;
    Ok(raw)
}

fn nonblocking(f: &FileDescription, flags: i32) -> bool {
    f.flags() & libc::O_NONBLOCK != 0 || flags & libc::MSG_DONTWAIT != 0
}

/// Splits a socket(2) type argument into the type and O_NONBLOCK/cloexec.
fn split_type(ty: i32) -> SysResult<(i32, i32, bool)> {
    if ty & !(0xf | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let flags = if ty & libc::SOCK_NONBLOCK != 0 {
        libc::O_NONBLOCK
    } else {
        0
    };
    Ok((ty & 0xf, flags, ty & libc::SOCK_CLOEXEC != 0))
}

fn read_addr(t: &Task, addr: u64, len: u32) -> SysResult<UnixAddr> {
    UnixAddr::parse(&read_raw_addr(t, addr, len)?)
}

/// Writes `raw` to a (sockaddr, socklen_t*) pair: truncated to the caller's length, which is
/// set to the full length.
fn write_addr(t: &Task, addr: u64, len_ptr: u64, raw: &[u8]) -> SysResult<()> {
    if addr == 0 || len_ptr == 0 {
        return Ok(());
    }
    let mut b = [0u8; 4];
    t.mm.copy_in(len_ptr, &mut b)?;
    let cap = i32::from_ne_bytes(b);
    let cap = usize::try_from(cap).map_err(|_| Errno::EINVAL)?;
    t.mm.copy_out(addr, &raw[..raw.len().min(cap)])?;
    t.mm.copy_out(len_ptr, &(raw.len() as u32).to_ne_bytes())
}

/// What recvfrom/recvmsg report as the sender's name (nothing for an unnamed sender).
fn from_bytes(a: &UnixAddr) -> Vec<u8> {
    match a {
        UnixAddr::Unnamed => Vec::new(),
        a => a.to_sockaddr(),
    }
}

/// socket(2).
pub fn sys_socket(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (domain, ty, proto) = (a.i32(0), a.i32(1), a.i32(2));
    let (ty, flags, cloexec) = split_type(ty)?;
    let f = match domain {
        libc::AF_UNIX => unix::new_socket(Some(t), ty, proto, flags)?,
        libc::AF_INET | libc::AF_INET6 if t.kernel.settings.network == NetworkMode::Host => {
            hostinet::new_socket(Some(t), domain, ty, proto, flags)?
        }
        libc::AF_INET | libc::AF_INET6 => inet::new_socket(Some(t), domain, ty, proto, flags)?,
        libc::AF_NETLINK => netlink::new_socket(Some(t), ty, proto, flags)?,
        _ => return Err(Errno::EAFNOSUPPORT),
    };
    Ok(install_fd(t, f, cloexec)? as u64)
}

/// socketpair(2).
pub fn sys_socketpair(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (domain, ty, proto, sv) = (a.i32(0), a.i32(1), a.i32(2), a.addr(3));
    let (ty, flags, cloexec) = split_type(ty)?;
    match domain {
        libc::AF_UNIX => {}
        libc::AF_INET | libc::AF_INET6 | libc::AF_NETLINK => return Err(Errno::EOPNOTSUPP),
        _ => return Err(Errno::EAFNOSUPPORT),
    }
    let (x, y) = unix::socketpair(Some(t), ty, proto, flags)?;
    let fx = install_fd(t, x, cloexec)?;
    let fy = match install_fd(t, y, cloexec) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = t.fd_table.remove(fx);
            return Err(e);
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&fx.to_ne_bytes());
    out[4..].copy_from_slice(&fy.to_ne_bytes());
    if let Err(e) = t.mm.copy_out(sv, &out) {
        let _ = t.fd_table.remove(fx);
        let _ = t.fd_table.remove(fy);
        return Err(e);
    }
    Ok(0)
}

/// bind(2).
pub fn sys_bind(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    if let Some((_, s)) = nl_fd(t, a.fd(0))? {
        s.bind(Some(t), &read_raw_addr(t, a.addr(1), a.u32(2))?)?;
        return Ok(0);
    }
    if let Some((_, s)) = inet_fd(t, a.fd(0))? {
        s.bind(&read_raw_addr(t, a.addr(1), a.u32(2))?)?;
        return Ok(0);
    }
    if let Some(f) = host_fd(t, a.fd(0))? {
        host_of(&f)?.bind(&read_raw_addr(t, a.addr(1), a.u32(2))?)?;
        return Ok(0);
    }
    let (_, s) = sock_fd(t, a.fd(0))?;
    let addr = read_addr(t, a.addr(1), a.u32(2))?;
    s.bind(Some(t), addr)?;
    Ok(0)
}

/// listen(2).
pub fn sys_listen(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    if nl_fd(t, a.fd(0))?.is_some() {
        return Err(Errno::EOPNOTSUPP);
    }
    if let Some((_, s)) = inet_fd(t, a.fd(0))? {
        s.listen(a.i32(1))?;
        return Ok(0);
    }
    if let Some(f) = host_fd(t, a.fd(0))? {
        host_of(&f)?.listen(a.i32(1))?;
        return Ok(0);
    }
    let (_, s) = sock_fd(t, a.fd(0))?;
    s.listen(Some(t), a.i32(1))?;
    Ok(0)
}

fn do_accept(t: &mut Task, a: &SyscallArgs, flags: i32) -> SysResult<u64> {
    if flags & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let nb = if flags & libc::SOCK_NONBLOCK != 0 {
        libc::O_NONBLOCK
    } else {
        0
    };
    if nl_fd(t, a.fd(0))?.is_some() {
        return Err(Errno::EOPNOTSUPP);
    }
    if let Some((f, s)) = inet_fd(t, a.fd(0))? {
        let (new, raw) = s.accept(Some(t), f.flags() & libc::O_NONBLOCK != 0, nb)?;
        write_addr(t, a.addr(1), a.addr(2), &raw)?;
        return Ok(install_fd(t, new, flags & libc::SOCK_CLOEXEC != 0)? as u64);
    }
    if let Some(f) = host_fd(t, a.fd(0))? {
        let nonblock = f.flags() & libc::O_NONBLOCK != 0;
        let (new, raw) = host_of(&f)?.accept(Some(t), nonblock, nb)?;
        write_addr(t, a.addr(1), a.addr(2), &raw)?;
        return Ok(install_fd(t, new, flags & libc::SOCK_CLOEXEC != 0)? as u64);
    }
    let (f, s) = sock_fd(t, a.fd(0))?;
    let new = s.accept(Some(t), f.flags() & libc::O_NONBLOCK != 0, nb)?;
    let peer = unix::socket_of(&new)?
        .peername()
        .unwrap_or(UnixAddr::Unnamed);
    let raw = match peer {
        UnixAddr::Unnamed => (libc::AF_UNIX as u16).to_ne_bytes().to_vec(),
        p => p.to_sockaddr(),
    };
    write_addr(t, a.addr(1), a.addr(2), &raw)?;
    Ok(install_fd(t, new, flags & libc::SOCK_CLOEXEC != 0)? as u64)
}

/// accept(2).
pub fn sys_accept(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let r = do_accept(t, a, 0);
    no_restart_if_timed(t, a.fd(0), false, r)
}

/// accept4(2).
pub fn sys_accept4(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let r = do_accept(t, a, a.i32(3));
    no_restart_if_timed(t, a.fd(0), false, r)
}

/// connect(2).
pub fn sys_connect(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    if let Some((_, s)) = nl_fd(t, a.fd(0))? {
        s.connect(Some(t), &read_raw_addr(t, a.addr(1), a.u32(2))?)?;
        return Ok(0);
    }
    if let Some((f, s)) = inet_fd(t, a.fd(0))? {
        let raw = read_raw_addr(t, a.addr(1), a.u32(2))?;
        s.connect(Some(t), &raw, f.flags() & libc::O_NONBLOCK != 0)?;
        return Ok(0);
    }
    if let Some(f) = host_fd(t, a.fd(0))? {
        let raw = read_raw_addr(t, a.addr(1), a.u32(2))?;
        let r = host_of(&f)?.connect(Some(t), &raw, f.flags() & libc::O_NONBLOCK != 0);
        return no_restart_if_timed(t, a.fd(0), true, r).map(|()| 0);
    }
    let (f, s) = sock_fd(t, a.fd(0))?;
    let addr = read_addr(t, a.addr(1), a.u32(2))?;
    if addr == UnixAddr::Unnamed {
        return Err(Errno::EINVAL);
    }
    s.connect(Some(t), &addr, f.flags() & libc::O_NONBLOCK != 0)?;
    Ok(0)
}

/// shutdown(2).
pub fn sys_shutdown(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    if nl_fd(t, a.fd(0))?.is_some() {
        return Err(Errno::EOPNOTSUPP);
    }
    if let Some((_, s)) = inet_fd(t, a.fd(0))? {
        s.shutdown(a.i32(1))?;
        return Ok(0);
    }
    if let Some(f) = host_fd(t, a.fd(0))? {
        host_of(&f)?.shutdown(a.i32(1))?;
        return Ok(0);
    }
    let (_, s) = sock_fd(t, a.fd(0))?;
    s.shutdown(a.i32(1))?;
    Ok(0)
}

/// getsockname(2).
pub fn sys_getsockname(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    if let Some((_, s)) = nl_fd(t, a.fd(0))? {
        write_addr(t, a.addr(1), a.addr(2), &s.sockname())?;
        return Ok(0);
    }
    if let Some((_, s)) = inet_fd(t, a.fd(0))? {
        write_addr(t, a.addr(1), a.addr(2), &s.sockname())?;
        return Ok(0);
    }
    if let Some(f) = host_fd(t, a.fd(0))? {
        write_addr(t, a.addr(1), a.addr(2), &host_of(&f)?.sockname()?)?;
        return Ok(0);
    }
    let (_, s) = sock_fd(t, a.fd(0))?;
    write_addr(t, a.addr(1), a.addr(2), &s.sockname().to_sockaddr())?;
    Ok(0)
}

/// getpeername(2).
pub fn sys_getpeername(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    if let Some((_, s)) = nl_fd(t, a.fd(0))? {
        write_addr(t, a.addr(1), a.addr(2), &s.peername())?;
        return Ok(0);
    }
    if let Some((_, s)) = inet_fd(t, a.fd(0))? {
        write_addr(t, a.addr(1), a.addr(2), &s.peername()?)?;
        return Ok(0);
    }
    if let Some(f) = host_fd(t, a.fd(0))? {
        write_addr(t, a.addr(1), a.addr(2), &host_of(&f)?.peername()?)?;
        return Ok(0);
    }
    let (_, s) = sock_fd(t, a.fd(0))?;
    write_addr(t, a.addr(1), a.addr(2), &s.peername()?.to_sockaddr())?;
    Ok(0)
}

/// setsockopt(2).
pub fn sys_setsockopt(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let len = usize::try_from(a.i32(4)).map_err(|_| Errno::EINVAL)?;
    let mut val = vec![0u8; len.min(256)];
    t.mm.copy_in(a.addr(3), &mut val)?;
    if let Some((_, s)) = nl_fd(t, a.fd(0))? {
        s.setsockopt(a.i32(1), a.i32(2), &val)?;
        return Ok(0);
    }
    if let Some((_, s)) = inet_fd(t, a.fd(0))? {
        s.setsockopt(a.i32(1), a.i32(2), &val)?;
        return Ok(0);
    }
    if let Some(f) = host_fd(t, a.fd(0))? {
        host_of(&f)?.setsockopt(a.i32(1), a.i32(2), &val)?;
        return Ok(0);
    }
    let (_, s) = sock_fd(t, a.fd(0))?;
    s.setsockopt(a.i32(1), a.i32(2), &val)?;
    Ok(0)
}

/// getsockopt(2).
pub fn sys_getsockopt(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let mut b = [0u8; 4];
    t.mm.copy_in(a.addr(4), &mut b)?;
    let cap = usize::try_from(i32::from_ne_bytes(b)).map_err(|_| Errno::EINVAL)?;
    let val = if let Some((_, s)) = nl_fd(t, a.fd(0))? {
        s.getsockopt(a.i32(1), a.i32(2))?
    } else if let Some(f) = host_fd(t, a.fd(0))? {
        host_of(&f)?.getsockopt(a.i32(1), a.i32(2), cap)?
    } else {
        match inet_fd(t, a.fd(0))? {
            Some((_, s)) => s.getsockopt(a.i32(1), a.i32(2))?,
            None => sock_fd(t, a.fd(0))?.1.getsockopt(a.i32(1), a.i32(2))?,
        }
    };
    let n = val.len().min(cap);
    t.mm.copy_out(a.addr(3), &val[..n])?;
    t.mm.copy_out(a.addr(4), &(n as u32).to_ne_bytes())?;
    Ok(0)
}

/// Raises SIGPIPE on an EPIPE send unless MSG_NOSIGNAL.
fn sigpipe(t: &Task, r: SysResult<u64>, flags: i32) -> SysResult<u64> {
    if r == Err(Errno::EPIPE) && flags & libc::MSG_NOSIGNAL == 0 {
        let info = SigInfo::from_sender(libc::SIGPIPE, SI_USER, t.tg.pid, t.creds.uid);
        sentry::kernel::signal::raise_self(t, info);
    }
    r
}

fn check_send_flags(flags: i32) -> SysResult<()> {
    if flags & libc::MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(())
}

/// sendto(2) (and send(2)).
pub fn sys_sendto(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let flags = a.i32(3);
    let r = (|| {
        check_send_flags(flags)?;
        let (f, s) = any_sock(t, a.fd(0))?;
        let mut buf = vec![0u8; a.len(2)?.min(MAX_RW)];
        t.mm.copy_in(a.addr(1), &mut buf)?;
        let to = if a.addr(4) != 0 {
            Some(read_raw_addr(t, a.addr(4), a.u32(5))?)
        } else {
            None
        };
        let n = send_any(t, &f, &s, &buf, to.as_deref(), NO_CONTROL, flags)?;
        Ok(n as u64)
    })();
    let r = no_restart_if_timed(t, a.fd(0), true, r);
    sigpipe(t, r, flags)
}

/// recvfrom(2) (and recv(2)).
pub fn sys_recvfrom(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let flags = a.i32(3);
    let (f, s) = any_sock(t, a.fd(0))?;
    if flags & libc::MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let got = recv_any(t, &f, &s, a.len(2)?.min(MAX_RW), flags);
    let got = no_restart_if_timed(t, a.fd(0), false, got)?;
    t.mm.copy_out(a.addr(1), &got.data)?;
    if let (true, Some(from)) = (a.addr(4) != 0, &got.from) {
        write_addr(t, a.addr(4), a.addr(5), from)?;
    }
    Ok(got.result_len(flags) as u64)
}

/// A decoded `struct msghdr`.
struct MsgHdr {
    name: u64,
    namelen: u32,
    iov: Vec<(u64, usize)>,
    control: u64,
    controllen: usize,
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[off..off + 8]);
    u64::from_ne_bytes(x)
}

fn read_msghdr(t: &Task, addr: u64) -> SysResult<MsgHdr> {
    let mut b = [0u8; MSGHDR as usize];
    t.mm.copy_in(addr, &mut b)?;
    let iov_addr = u64_at(&b, 16);
    let iovlen = usize::try_from(u64_at(&b, 24)).map_err(|_| Errno::EMSGSIZE)?;
    if iovlen > IOV_MAX {
        return Err(Errno::EMSGSIZE);
    }
    let mut raw = vec![0u8; iovlen * 16];
    t.mm.copy_in(iov_addr, &mut raw)?;
    let mut iov = Vec::with_capacity(iovlen);
    let mut total: usize = 0;
    for c in raw.chunks_exact(16) {
        let len = usize::try_from(u64_at(c, 8)).map_err(|_| Errno::EINVAL)?;
        total = total.checked_add(len).ok_or(Errno::EINVAL)?;
        if i64::try_from(total).is_err() {
            return Err(Errno::EINVAL);
        }
        iov.push((u64_at(c, 0), len));
    }
    Ok(MsgHdr {
        name: u64_at(&b, 0),
        namelen: u32::from_ne_bytes([b[8], b[9], b[10], b[11]]),
        iov,
        control: u64_at(&b, 32),
        controllen: usize::try_from(u64_at(&b, 40)).map_err(|_| Errno::EINVAL)?,
    })
}

/// The control messages of a sendmsg: descriptors and credentials.
fn parse_control(t: &Task, h: &MsgHdr) -> SysResult<(Vec<Arc<FileDescription>>, Option<Ucred>)> {
    let mut rights = Vec::new();
    let mut creds = None;
    if h.controllen == 0 {
        return Ok((rights, creds));
    }
    if h.controllen > 1 << 16 {
        return Err(Errno::ENOBUFS);
    }
    let mut c = vec![0u8; h.controllen];
    t.mm.copy_in(h.control, &mut c)?;
    let mut off = 0;
    while off + CMSG_HDR <= c.len() {
        let len = usize::try_from(u64_at(&c, off)).map_err(|_| Errno::EINVAL)?;
        if len < CMSG_HDR || off + len > c.len() {
            return Err(Errno::EINVAL);
        }
        let level = i32::from_ne_bytes([c[off + 8], c[off + 9], c[off + 10], c[off + 11]]);
        let ty = i32::from_ne_bytes([c[off + 12], c[off + 13], c[off + 14], c[off + 15]]);
        let data = &c[off + CMSG_HDR..off + len];
        if level != libc::SOL_SOCKET {
            return Err(Errno::EINVAL);
        }
        match ty {
            SCM_RIGHTS => {
                if rights.len() + data.len() / 4 > SCM_MAX_FD {
                    return Err(Errno::EINVAL);
                }
                for fd in data.chunks_exact(4) {
                    let fd = i32::from_ne_bytes([fd[0], fd[1], fd[2], fd[3]]);
                    rights.push(t.fd_table.get(fd)?);
                }
            }
            SCM_CREDENTIALS => {
                if data.len() < 12 {
                    return Err(Errno::EINVAL);
                }
                let pid = i32::from_ne_bytes([data[0], data[1], data[2], data[3]]);
                let uid = u32::from_ne_bytes([data[4], data[5], data[6], data[7]]);
                let gid = u32::from_ne_bytes([data[8], data[9], data[10], data[11]]);
                let cr = &t.creds;
                let root = cr.euid == 0;
                if !root
                    && (pid != t.tg.pid
                        || ![cr.uid, cr.euid, cr.suid].contains(&uid)
                        || ![cr.gid, cr.egid, cr.sgid].contains(&gid))
                {
                    return Err(Errno::EPERM);
                }
                creds = Some(Ucred { pid, uid, gid });
            }
            _ => return Err(Errno::EINVAL),
        }
        off += align8(len);
    }
    Ok((rights, creds))
}

/// Any kind of socket, for the calls every kind answers.
enum AnySock {
    Unix(Arc<Socket>),
    Inet(Arc<InetSocket>),
    Netlink(Arc<NetlinkSocket>),
    /// A host inet socket (`--network=host`): the file holds it.
    Host(Arc<FileDescription>),
}

fn any_sock(t: &Task, fd: i32) -> SysResult<(Arc<FileDescription>, AnySock)> {
    if let Some((f, s)) = nl_fd(t, fd)? {
        return Ok((f, AnySock::Netlink(s)));
    }
    if let Some((f, s)) = inet_fd(t, fd)? {
        return Ok((f, AnySock::Inet(s)));
    }
    if let Some(f) = host_fd(t, fd)? {
        return Ok((f.clone(), AnySock::Host(f)));
    }
    let (f, s) = sock_fd(t, fd)?;
    Ok((f, AnySock::Unix(s)))
}

/// The descriptors and credentials a send carries (unix sockets only).
type Control = (Vec<Arc<FileDescription>>, Option<Ucred>);
const NO_CONTROL: Control = (Vec::new(), None);

/// Sends `data` to `to` (a raw sockaddr; the connected peer when `None`) on any kind of
/// socket; only unix sockets take `control`.
fn send_any(
    t: &Task,
    f: &FileDescription,
    s: &AnySock,
    data: &[u8],
    to: Option<&[u8]>,
    (rights, creds): Control,
    flags: i32,
) -> SysResult<usize> {
    match s {
        AnySock::Unix(s) => {
            let to = to.map(UnixAddr::parse).transpose()?;
            s.send(
                Some(t),
                data,
                rights,
                creds,
                to.as_ref(),
                nonblocking(f, flags),
            )
        }
        AnySock::Inet(s) => s.send(Some(t), data, to, nonblocking(f, flags)),
        AnySock::Netlink(s) => s.send(Some(t), data, to),
        AnySock::Host(h) => host_of(h)?.send(Some(t), data, to, flags, nonblocking(f, flags)),
    }
}

/// What one receive gave, from any kind of socket.
struct Got {
    data: Vec<u8>,
    /// The message did not fit (MSG_TRUNC in msg_flags).
    truncated: bool,
    /// What MSG_TRUNC in the call's flags returns instead of the bytes copied: the message's
    /// full length, for the kinds of socket that report it.
    trunc_len: Option<usize>,
    /// The sender's sockaddr; `None`: no name is reported.
    from: Option<Vec<u8>>,
    rights: Vec<Arc<FileDescription>>,
    creds: Option<Ucred>,
}

impl Got {
    /// The receive call's result.
    fn result_len(&self, flags: i32) -> usize {
        match self.trunc_len {
            Some(n) if flags & libc::MSG_TRUNC != 0 => n,
            _ => self.data.len(),
        }
    }
}

/// Receives at most `len` bytes from any kind of socket (MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT
/// in `flags`; netlink ignores MSG_WAITALL).
fn recv_any(t: &Task, f: &FileDescription, s: &AnySock, len: usize, flags: i32) -> SysResult<Got> {
    let peek = flags & libc::MSG_PEEK != 0;
    let waitall = flags & libc::MSG_WAITALL != 0;
    let nonblock = nonblocking(f, flags);
    Ok(match s {
        AnySock::Unix(s) => {
            let r = s.recv(Some(t), len, peek, waitall, nonblock)?;
            Got {
                trunc_len: (s.sock_type() != libc::SOCK_STREAM).then_some(r.full_len),
                from: Some(from_bytes(&r.from)),
                data: r.data,
                truncated: r.truncated,
                rights: r.rights,
                creds: r.creds,
            }
        }
        AnySock::Inet(s) => {
            let r = s.recv(Some(t), len, peek, waitall, nonblock)?;
            Got {
                trunc_len: (s.sock_type() == libc::SOCK_DGRAM).then_some(r.full_len),
                from: (!r.from.is_empty()).then_some(r.from),
                data: r.data,
                truncated: r.truncated,
                rights: Vec::new(),
                creds: None,
            }
        }
        AnySock::Host(h) => {
            let s = host_of(h)?;
            let r = s.recv(Some(t), len, flags, nonblock)?;
            Got {
                trunc_len: (s.sock_type() == libc::SOCK_DGRAM).then_some(r.full_len),
                from: (!r.from.is_empty()).then_some(r.from),
                data: r.data,
                truncated: r.truncated,
                rights: Vec::new(),
                creds: None,
            }
        }
        AnySock::Netlink(s) => {
            let r = s.recv(Some(t), len, peek, nonblock)?;
            Got {
                trunc_len: Some(r.full_len),
                from: Some(r.from),
                data: r.data,
                truncated: r.truncated,
                rights: Vec::new(),
                creds: None,
            }
        }
    })
}

fn do_sendmsg(
    t: &Task,
    f: &FileDescription,
    s: &AnySock,
    addr: u64,
    flags: i32,
) -> SysResult<usize> {
    check_send_flags(flags)?;
    let h = read_msghdr(t, addr)?;
    let total: usize = h.iov.iter().map(|v| v.1).sum();
    let mut data = Vec::with_capacity(total.min(MAX_RW));
    for &(base, len) in &h.iov {
        let take = len.min(MAX_RW - data.len());
        let start = data.len();
        data.resize(start + take, 0);
        t.mm.copy_in(base, &mut data[start..])?;
    }
    let control = match s {
        AnySock::Unix(_) => parse_control(t, &h)?,
        AnySock::Inet(_) | AnySock::Netlink(_) | AnySock::Host(_) => NO_CONTROL,
    };
    let to = if h.name != 0 && h.namelen != 0 {
        Some(read_raw_addr(t, h.name, h.namelen)?)
    } else {
        None
    };
    send_any(t, f, s, &data, to.as_deref(), control, flags)
}

/// sendmsg(2).
pub fn sys_sendmsg(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let flags = a.i32(2);
    let r = any_sock(t, a.fd(0))
        .and_then(|(f, s)| do_sendmsg(t, &f, &s, a.addr(1), flags))
        .map(|n| n as u64);
    let r = no_restart_if_timed(t, a.fd(0), true, r);
    sigpipe(t, r, flags)
}

/// sendmmsg(2): as many messages as go; an error after the first ends the batch.
pub fn sys_sendmmsg(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let flags = a.i32(3);
    let vlen = a.u32(2).min(1024);
    let (f, s) = any_sock(t, a.fd(0))?;
    let mut sent = 0u32;
    while sent < vlen {
        let hdr = a.addr(1) + u64::from(sent) * MMSGHDR;
        match do_sendmsg(t, &f, &s, hdr, flags) {
            Ok(n) => {
                t.mm.copy_out(hdr + MSGHDR, &(n as u32).to_ne_bytes())?;
                sent += 1;
            }
            Err(e) if sent == 0 => return sigpipe(t, Err(e), flags),
            Err(_) => break,
        }
    }
    Ok(u64::from(sent))
}

/// Copies received bytes out across the iovecs.
fn scatter(t: &Task, iov: &[(u64, usize)], data: &[u8]) -> SysResult<()> {
    let mut off = 0;
    for &(base, len) in iov {
        if off >= data.len() {
            break;
        }
        let take = len.min(data.len() - off);
        t.mm.copy_out(base, &data[off..off + take])?;
        off += take;
    }
    Ok(())
}

fn do_recvmsg(
    t: &Task,
    f: &FileDescription,
    s: &AnySock,
    addr: u64,
    flags: i32,
) -> SysResult<usize> {
    if flags & libc::MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let h = read_msghdr(t, addr)?;
    let total: usize = h.iov.iter().map(|v| v.1).sum::<usize>().min(MAX_RW);
    let r = recv_any(t, f, s, total, flags)?;
    scatter(t, &h.iov, &r.data)?;
    let mut out_flags = 0;
    if r.truncated {
        out_flags |= libc::MSG_TRUNC;
    }
    // Control messages: credentials first, then descriptors (Linux `scm_recv`).
    let mut ctl: Vec<u8> = Vec::new();
    let cap = if h.control == 0 { 0 } else { h.controllen };
    let put = |ctl: &mut Vec<u8>, ty: i32, data: &[u8]| {
        let mut m = ((CMSG_HDR + data.len()) as u64).to_ne_bytes().to_vec();
        m.extend_from_slice(&libc::SOL_SOCKET.to_ne_bytes());
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(data);
        m.resize(align8(m.len()), 0);
        ctl.extend_from_slice(&m);
    };
    if let Some(c) = r.creds {
        if cap.saturating_sub(ctl.len()) < CMSG_HDR + 12 {
            out_flags |= libc::MSG_CTRUNC;
        } else {
            put(&mut ctl, SCM_CREDENTIALS, &c.to_bytes());
        }
    }
    if !r.rights.is_empty() {
        let room = cap.saturating_sub(ctl.len());
        let fit = if room > CMSG_HDR {
            ((room - CMSG_HDR) / 4).min(r.rights.len())
        } else {
            0
        };
        if fit < r.rights.len() {
            out_flags |= libc::MSG_CTRUNC;
        }
        if fit > 0 {
            let cloexec = flags & libc::MSG_CMSG_CLOEXEC != 0;
            let mut fds = Vec::with_capacity(fit * 4);
            for file in r.rights.iter().take(fit) {
                match install_fd(t, file.clone(), cloexec) {
                    Ok(fd) => fds.extend_from_slice(&fd.to_ne_bytes()),
                    Err(_) => {
                        out_flags |= libc::MSG_CTRUNC;
                        break;
                    }
                }
            }
            if !fds.is_empty() {
                put(&mut ctl, SCM_RIGHTS, &fds);
            }
        }
    }
    ctl.truncate(cap);
    if !ctl.is_empty() {
        t.mm.copy_out(h.control, &ctl)?;
    }
    t.mm.copy_out(addr + 40, &(ctl.len() as u64).to_ne_bytes())?;
    t.mm.copy_out(addr + 48, &out_flags.to_ne_bytes())?;
    match (h.name != 0, &r.from) {
        (true, Some(from)) => {
            let n = from.len().min(h.namelen as usize);
            t.mm.copy_out(h.name, &from[..n])?;
            t.mm.copy_out(addr + 8, &(from.len() as u32).to_ne_bytes())?;
        }
        _ => t.mm.copy_out(addr + 8, &0u32.to_ne_bytes())?,
    }
    Ok(r.result_len(flags))
}

/// recvmsg(2).
pub fn sys_recvmsg(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (f, s) = any_sock(t, a.fd(0))?;
    let r = do_recvmsg(t, &f, &s, a.addr(1), a.i32(2));
    Ok(no_restart_if_timed(t, a.fd(0), false, r)? as u64)
}

/// recvmmsg(2): MSG_WAITFORONE makes every receive after the first non-blocking; the timeout
/// is not applied.
pub fn sys_recvmmsg(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let mut flags = a.i32(3);
    let vlen = a.u32(2).min(1024);
    let (f, s) = any_sock(t, a.fd(0))?;
    let mut got = 0u32;
    while got < vlen {
        let hdr = a.addr(1) + u64::from(got) * MMSGHDR;
        match do_recvmsg(t, &f, &s, hdr, flags & !MSG_WAITFORONE) {
            Ok(n) => {
                t.mm.copy_out(hdr + MSGHDR, &(n as u32).to_ne_bytes())?;
                got += 1;
                if flags & MSG_WAITFORONE != 0 {
                    flags |= libc::MSG_DONTWAIT;
                }
            }
            Err(e) if got == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(u64::from(got))
}

/// SIOCGIFCONF (`dev_ifconf`): with a NULL buffer, the length every record needs; else as
/// many whole records as fit, and the length used.
fn ifconf(t: &Task, arg: u64) -> SysResult<u64> {
    let mut ifc = [0u8; 16];
    t.mm.copy_in(arg, &mut ifc)?;
    let len = i32::from_ne_bytes([ifc[0], ifc[1], ifc[2], ifc[3]]);
    let buf = u64_at(&ifc, 8);
    if t.kernel.settings.network == NetworkMode::Host {
        // The host's interfaces: its own records, as many as fit.
        let cap = if buf == 0 {
            0
        } else {
            usize::try_from(len).unwrap_or(0).min(1 << 16)
        };
        let recs = hostinet::ifconf(cap)?;
        if buf != 0 {
            t.mm.copy_out(buf, &recs)?;
        }
        t.mm.copy_out(arg, &(recs.len() as i32).to_ne_bytes())?;
        return Ok(0);
    }
    let recs = iface::ifconf();
    let used = if buf == 0 {
        recs.len() * IFREQ_SIZE
    } else {
        let room = usize::try_from(len).unwrap_or(0) / IFREQ_SIZE;
        let n = recs.len().min(room);
        let flat: Vec<u8> = recs[..n].iter().flatten().copied().collect();
        t.mm.copy_out(buf, &flat)?;
        flat.len()
    };
    t.mm.copy_out(arg, &(used as i32).to_ne_bytes())?;
    Ok(0)
}

/// ioctl(2) on a socket (Linux `sock_ioctl`, `sock_do_ioctl`): the interface requests
/// (SIOCGIFNAME/FLAGS/INDEX/MTU/HWADDR/TXQLEN/METRIC on any socket, SIOCGIFADDR/NETMASK/
/// BRDADDR/DSTADDR on AF_INET ones only), SIOCGIFCONF, SIOCINQ (FIONREAD) and SIOCOUTQ.
/// `None` when `file` is no socket or `req` none of these: the file's own ioctl answers.
pub fn socket_ioctl(
    t: &Task,
    file: &FileDescription,
    req: u32,
    arg: u64,
) -> Option<SysResult<u64>> {
    let inet = inet::socket_of(file).ok();
    let unix = unix::socket_of(file).ok();
    let host = hostinet::socket_of(file).ok();
    if inet.is_none() && unix.is_none() && host.is_none() && netlink::socket_of(file).is_err() {
        return None;
    }
    let host_mode = t.kernel.settings.network == NetworkMode::Host;
    let ifreq = |f: &dyn Fn(&mut IfReq) -> SysResult<()>| -> SysResult<u64> {
        let mut ifr = [0u8; IFREQ_SIZE];
        t.mm.copy_in(arg, &mut ifr)?;
        f(&mut ifr)?;
        t.mm.copy_out(arg, &ifr)?;
        Ok(0)
    };
    let int_out = |n: SysResult<usize>| -> SysResult<u64> {
        let n = i32::try_from(n?).unwrap_or(i32::MAX);
        t.mm.copy_out(arg, &n.to_ne_bytes())?;
        Ok(0)
    };
    let is_v4 = inet.as_ref().is_some_and(|s| s.family() == libc::AF_INET)
        || host.is_some_and(|s| s.family() == libc::AF_INET);
    Some(match req {
        SIOCGIFCONF => ifconf(t, arg),
        r if host_mode && (iface::is_dev_ioctl(r) || iface::is_inet_ioctl(r) && is_v4) => {
            ifreq(&|ifr| hostinet::ifreq_ioctl(r, ifr))
        }
        r if iface::is_dev_ioctl(r) => ifreq(&|ifr| iface::dev_ioctl(r, ifr)),
        r if iface::is_inet_ioctl(r) && is_v4 => ifreq(&|ifr| iface::inet_ioctl(r, ifr)),
        r if iface::is_inet_ioctl(r) => Err(Errno::ENOTTY),
        SIOCINQ | SIOCOUTQ if host.is_some() => {
            int_out(host.map_or(Err(Errno::ENOTTY), |s| s.queued(req == SIOCOUTQ)))
        }
        SIOCINQ | SIOCOUTQ => match (&inet, &unix) {
            (Some(s), _) => int_out(s.queued(req == SIOCOUTQ)),
            // Bytes the peer has not read yet are not tracked per sender: SIOCOUTQ is 0.
            (_, Some(s)) => int_out(if req == SIOCOUTQ { Ok(0) } else { s.inq() }),
            _ => Err(Errno::ENOTTY),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_type_flags_split() {
        assert_eq!(
            split_type(libc::SOCK_STREAM | libc::SOCK_CLOEXEC).unwrap(),
            (libc::SOCK_STREAM, 0, true)
        );
        assert_eq!(
            split_type(libc::SOCK_DGRAM | libc::SOCK_NONBLOCK).unwrap(),
            (libc::SOCK_DGRAM, libc::O_NONBLOCK, false)
        );
        assert_eq!(split_type(1 << 20), Err(Errno::EINVAL));
    }

    #[test]
    fn unnamed_senders_have_no_name() {
        assert!(from_bytes(&UnixAddr::Unnamed).is_empty());
        assert_eq!(from_bytes(&UnixAddr::Abstract(b"x".to_vec())).len(), 4);
        assert_eq!(align8(13), 16);
    }
}
