//! Unix domain sockets (unix(7); Linux `net/unix/af_unix.c`, gVisor `pkg/sentry/socket/unix`):
//! SOCK_STREAM, SOCK_DGRAM and SOCK_SEQPACKET; names in the filesystem (a socket node made by
//! `Vfs::bind_socket`), in the abstract namespace (a leading NUL) or autobound ("\0XXXXX");
//! listen/accept with a backlog, connect, shutdown, and messages that carry descriptors
//! (SCM_RIGHTS) and credentials (SCM_CREDENTIALS).
//!
//! Each socket keeps its own receive queue; a sender appends to the peer's queue. Shutdown is
//! Linux's `sk_shutdown` pair of bits on both ends (SHUT_WR here is RCV_SHUTDOWN there).
//! `SocketFile` is the `FileOps` of one open description; its drop releases the socket (the
//! peer sees EOF/EPIPE, pending connections are refused, the abstract name is freed).
//!
//! Under `--host-uds=open`, connect(2) to a path whose file is a host socket in a gofer mount
//! makes the socket forward to a host socket the gofer connected (`net::hostuds`): send,
//! receive, shutdown, readiness and SIOCINQ then go to the host fd; getpeername is the path
//! connected to; SCM_RIGHTS cannot be sent through it (EOPNOTSUPP) and credentials are dropped.
//!
//! Lock order: one socket's `st` at a time; never two. Queues are notified with no lock held.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use crate::kernel::wait::WaitQueue;
use crate::net::hostuds::{self, HostUds, HostUdsEndpoint};
use crate::net::sockfs::{socket_file, Sock, SockFile, SockIdentity, SockRegistry};
use crate::net::sockopt::{
    block, buf_size, deadline, int_of, linger_bytes, linger_of, timeval_bytes, timeval_of,
};
use crate::vfs::{FileDescription, TaskRef};
use crate::{Errno, SysResult};

/// `net.core.wmem_default`/`rmem_default`.
const BUF_DEFAULT: usize = 212_992;
/// `SOCK_MIN_SNDBUF`/`SOCK_MIN_RCVBUF` (roughly: Linux adds struct sizes).
const BUF_MIN: usize = 4608;
/// `net.core.somaxconn`.
const SOMAXCONN: usize = 4096;
/// `net.unix.max_dgram_qlen`.
const MAX_DGRAM_QLEN: usize = 512;
/// Largest datagram (Linux: bounded by sndbuf).
const MAX_DGRAM: usize = BUF_DEFAULT - 32;
/// `RCV_SHUTDOWN`, `SEND_SHUTDOWN`.
const RCV_SHUTDOWN: u8 = 1;
const SEND_SHUTDOWN: u8 = 2;
/// `overflowuid`/`overflowgid`: what SO_PEERCRED says without a peer.
const OVERFLOW_ID: u32 = 65534;

static NEXT_INO: AtomicU64 = AtomicU64::new(1);
static NEXT_AUTOBIND: AtomicU64 = AtomicU64::new(1);

/// Credentials a message or a connection carries (`struct ucred`): the sandbox pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ucred {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

impl Ucred {
    /// The calling task's credentials (zeros for the sentry itself).
    pub fn of(task: TaskRef) -> Ucred {
        match task {
            Some(t) => Ucred {
                pid: t.tg.pid,
                uid: t.creds.uid,
                gid: t.creds.gid,
            },
            None => Ucred {
                pid: 0,
                uid: 0,
                gid: 0,
            },
        }
    }
    /// As `struct ucred` bytes.
    pub fn to_bytes(self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[0..4].copy_from_slice(&self.pid.to_ne_bytes());
        b[4..8].copy_from_slice(&self.uid.to_ne_bytes());
        b[8..12].copy_from_slice(&self.gid.to_ne_bytes());
        b
    }
    fn unknown() -> Ucred {
        Ucred {
            pid: 0,
            uid: OVERFLOW_ID,
            gid: OVERFLOW_ID,
        }
    }
}

/// A unix socket address (`struct sockaddr_un`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UnixAddr {
    /// No name (an unbound socket).
    Unnamed,
    /// A filesystem path (without the terminating NUL).
    Path(Vec<u8>),
    /// An abstract name (the bytes after the leading NUL).
    Abstract(Vec<u8>),
}

/// `sizeof(sa_family_t)` and `sizeof(sun_path)`.
const FAMILY_LEN: usize = 2;
const SUN_PATH: usize = 108;

impl UnixAddr {
    /// Decodes a `sockaddr_un` of `raw.len()` bytes (EINVAL for a bad length or family).
    pub fn parse(raw: &[u8]) -> SysResult<UnixAddr> {
        if raw.len() < FAMILY_LEN || raw.len() > FAMILY_LEN + SUN_PATH {
            return Err(Errno::EINVAL);
        }
        let family = u16::from_ne_bytes([raw[0], raw[1]]);
        if i32::from(family) != libc::AF_UNIX {
            return Err(Errno::EINVAL);
        }
        let path = &raw[FAMILY_LEN..];
        if path.is_empty() {
            return Ok(UnixAddr::Unnamed);
        }
        if path[0] == 0 {
            return Ok(UnixAddr::Abstract(path[1..].to_vec()));
        }
        let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
        Ok(UnixAddr::Path(path[..end].to_vec()))
    }

    /// Encodes as the `sockaddr_un` getsockname/accept/recvfrom write (the length is the
    /// vector's: family plus path and its NUL, or family plus NUL and abstract name).
    pub fn to_sockaddr(&self) -> Vec<u8> {
        let mut out = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        match self {
            UnixAddr::Unnamed => {}
            UnixAddr::Path(p) => {
                out.extend_from_slice(p);
                out.push(0);
            }
            UnixAddr::Abstract(n) => {
                out.push(0);
                out.extend_from_slice(n);
            }
        }
        out
    }
}

/// The abstract namespace (one per sandbox: the sentry serves one network namespace).
fn abstract_names() -> MutexGuard<'static, HashMap<Vec<u8>, Weak<Socket>>> {
    static NAMES: OnceLock<Mutex<HashMap<Vec<u8>, Weak<Socket>>>> = OnceLock::new();
    NAMES
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// What a socket node in the filesystem holds (see `Vfs::bind_socket`).
pub struct BoundEndpoint {
    sock: Weak<Socket>,
}

/// One queued message (an skb).
struct Message {
    data: Vec<u8>,
    /// Bytes of a stream message already read.
    off: usize,
    rights: Vec<Arc<FileDescription>>,
    creds: Ucred,
    from: UnixAddr,
}

impl Message {
    fn remaining(&self) -> usize {
        self.data.len() - self.off
    }
}

struct State {
    addr: UnixAddr,
    listening: bool,
    backlog: usize,
    /// Connections waiting for accept (server-side sockets already connected to their client).
    pending: VecDeque<Arc<Socket>>,
    /// The connected peer (stream, seqpacket) or default destination (dgram).
    peer: Option<Arc<Socket>>,
    /// Whether a stream/seqpacket socket was ever connected.
    connected: bool,
    rx: VecDeque<Message>,
    rx_bytes: usize,
    shutdown: u8,
    /// A pending error (`sk_err`): ECONNRESET when the peer closed with unread data.
    err: Option<Errno>,
    closed: bool,
    sndbuf: usize,
    rcvbuf: usize,
    rcvtimeo: Option<Duration>,
    sndtimeo: Option<Duration>,
    passcred: bool,
    reuseaddr: bool,
    keepalive: bool,
    linger: (i32, i32),
    /// SO_PEERCRED: the peer's credentials at connect (or listen) time.
    peercred: Option<Ucred>,
    /// Events for edge-triggered epoll.
    gen: u64,
}

/// A unix socket.
pub struct Socket {
    ty: i32,
    id: SockIdentity,
    me: Weak<Socket>,
    st: Mutex<State>,
    queue: WaitQueue,
    /// The host socket this one forwards to, with the path connected to (`hostuds`); set once
    /// by a connect(2) to a host socket file.
    host: OnceLock<(HostUds, UnixAddr)>,
}

/// What a name leads to.
enum Target {
    Sentry(Arc<Socket>),
    /// A host socket file served by the gofer (its `socket_endpoint`).
    Host(Arc<dyn Any + Send + Sync>),
}

/// What a receive returned.
pub struct Received {
    pub data: Vec<u8>,
    /// The message's full length (MSG_TRUNC asks for it as the result of datagram receives).
    pub full_len: usize,
    /// The datagram was longer than the buffer.
    pub truncated: bool,
    pub from: UnixAddr,
    pub rights: Vec<Arc<FileDescription>>,
    /// The sender's credentials, when SO_PASSCRED is on.
    pub creds: Option<Ucred>,
}

fn is_conn_type(ty: i32) -> bool {
    ty == libc::SOCK_STREAM || ty == libc::SOCK_SEQPACKET
}

/// Every unix socket made, for /proc/net/unix.
static REGISTRY: SockRegistry<Socket> = SockRegistry::new();

/// What /proc/net/unix shows of one socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixSockInfo {
    pub ty: i32,
    pub listening: bool,
    /// `SS_UNCONNECTED` (1) or `SS_CONNECTED` (3, a peer or default destination).
    pub state: u8,
    pub ino: u64,
    /// The bound name (a path, or an abstract name with its leading NUL).
    pub addr: UnixAddr,
}

/// Every open unix socket, by creation (`unix_seq_show`).
pub fn sockets_info() -> Vec<UnixSockInfo> {
    let live = REGISTRY.live();
    live.iter()
        .filter_map(|s| {
            let st = s.lock();
            if st.closed {
                return None;
            }
            let state = if st.peer.is_some() { 3 } else { 1 };
            Some(UnixSockInfo {
                ty: s.ty,
                listening: st.listening,
                state,
                ino: s.id.ino,
                addr: st.addr.clone(),
            })
        })
        .collect()
}

impl Socket {
    fn new(ty: i32, task: TaskRef) -> Arc<Socket> {
        let sock = Arc::new_cyclic(|me| Socket {
            ty,
            id: SockIdentity::new(NEXT_INO.fetch_add(1, Ordering::Relaxed), task),
            me: me.clone(),
            st: Mutex::new(State {
                addr: UnixAddr::Unnamed,
                listening: false,
                backlog: 0,
                pending: VecDeque::new(),
                peer: None,
                connected: false,
                rx: VecDeque::new(),
                rx_bytes: 0,
                shutdown: 0,
                err: None,
                closed: false,
                sndbuf: BUF_DEFAULT,
                rcvbuf: BUF_DEFAULT,
                rcvtimeo: None,
                sndtimeo: None,
                passcred: false,
                reuseaddr: false,
                keepalive: false,
                linger: (0, 0),
                peercred: None,
                gen: 0,
            }),
            queue: WaitQueue::new(),
            host: OnceLock::new(),
        });
        REGISTRY.add(&sock);
        sock
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self) {
        self.lock().gen += 1;
        self.queue.notify();
    }

    fn arc(&self) -> SysResult<Arc<Socket>> {
        self.me.upgrade().ok_or(Errno::EBADF)
    }

    /// The socket type (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET).
    pub fn sock_type(&self) -> i32 {
        self.ty
    }

    /// The inode number ("socket:[ino]").
    pub fn ino(&self) -> u64 {
        self.id.ino
    }

    /// Releases the socket: the last description closed.
    fn release(&self) {
        self.release_with(false);
    }

    /// Closes the socket (`unix_release_sock`): a connected peer sees EOF, or ECONNRESET when
    /// unread data is dropped here or `embryo` (an unaccepted connection of a closed listener).
    fn release_with(&self, embryo: bool) {
        if let Some((h, _)) = self.host.get() {
            // The host peer sees EOF now, whoever still holds this socket.
            let _ = h.shutdown(libc::SHUT_RDWR);
        }
        let (peer, pending, rx, addr) = {
            let mut st = self.lock();
            st.closed = true;
            st.shutdown = RCV_SHUTDOWN | SEND_SHUTDOWN;
            st.listening = false;
            st.gen += 1;
            let rx: Vec<Message> = st.rx.drain(..).collect();
            st.rx_bytes = 0;
            (
                st.peer.take(),
                std::mem::take(&mut st.pending),
                rx,
                st.addr.clone(),
            )
        };
        if let UnixAddr::Abstract(name) = &addr {
            let mut names = abstract_names();
            if names
                .get(name)
                .is_some_and(|w| std::ptr::eq(w.as_ptr(), self as *const Socket))
            {
                names.remove(name);
            }
        }
        let reset = embryo || !rx.is_empty();
        drop(rx);
        for p in pending {
            p.release_with(true);
        }
        if let Some(p) = peer {
            if is_conn_type(self.ty) {
                let mut ps = p.lock();
                ps.shutdown = RCV_SHUTDOWN | SEND_SHUTDOWN;
                if reset {
                    ps.err = Some(Errno::ECONNRESET);
                }
                ps.gen += 1;
            }
            p.queue.notify();
        }
        self.queue.notify();
    }

    /// bind(2): `Unnamed` autobinds an abstract "\0XXXXX" name.
    pub fn bind(&self, task: TaskRef, addr: UnixAddr) -> SysResult<()> {
        if self.lock().addr != UnixAddr::Unnamed {
            return Err(Errno::EINVAL);
        }
        match addr {
            UnixAddr::Unnamed => self.autobind(),
            UnixAddr::Abstract(name) => {
                {
                    let mut names = abstract_names();
                    if names.get(&name).is_some_and(|w| w.strong_count() > 0) {
                        return Err(Errno::EADDRINUSE);
                    }
                    names.insert(name.clone(), self.me.clone());
                }
                self.set_addr(UnixAddr::Abstract(name))
            }
            UnixAddr::Path(path) => {
                let t = task.ok_or(Errno::EINVAL)?;
                let ep: Arc<dyn Any + Send + Sync> = Arc::new(BoundEndpoint {
                    sock: self.me.clone(),
                });
                t.kernel.vfs.bind_socket(t, &path, ep)?;
                self.set_addr(UnixAddr::Path(path))
            }
        }
    }

    fn set_addr(&self, addr: UnixAddr) -> SysResult<()> {
        let mut st = self.lock();
        if st.addr != UnixAddr::Unnamed {
            return Err(Errno::EINVAL);
        }
        st.addr = addr;
        Ok(())
    }

    fn autobind(&self) -> SysResult<()> {
        if self.lock().addr != UnixAddr::Unnamed {
            return Ok(());
        }
        loop {
            let n = NEXT_AUTOBIND.fetch_add(1, Ordering::Relaxed) & 0xfffff;
            let name = format!("{n:05x}").into_bytes();
            let mut names = abstract_names();
            if names.get(&name).is_some_and(|w| w.strong_count() > 0) {
                continue;
            }
            names.insert(name.clone(), self.me.clone());
            drop(names);
            return self.set_addr(UnixAddr::Abstract(name));
        }
    }

    /// Finds the socket bound to `addr` (ECONNREFUSED when none, EPROTOTYPE for another type).
    fn find(&self, task: TaskRef, addr: &UnixAddr) -> SysResult<Arc<Socket>> {
        match self.find_target(task, addr)? {
            Target::Sentry(sock) => Ok(sock),
            // A host socket is reached by connect(2) only.
            Target::Host(_) => Err(Errno::ECONNREFUSED),
        }
    }

    /// What `addr` names: a sandbox socket (as `find`) or a host socket file.
    fn find_target(&self, task: TaskRef, addr: &UnixAddr) -> SysResult<Target> {
        let sock = match addr {
            UnixAddr::Unnamed => return Err(Errno::EINVAL),
            UnixAddr::Abstract(name) => abstract_names().get(name).and_then(Weak::upgrade),
            UnixAddr::Path(path) => {
                let t = task.ok_or(Errno::ECONNREFUSED)?;
                let ep = t.kernel.vfs.lookup_socket(t, path)?;
                if HostUdsEndpoint::of(&*ep).is_some() {
                    return Ok(Target::Host(ep));
                }
                let ep = ep
                    .downcast_ref::<BoundEndpoint>()
                    .ok_or(Errno::ECONNREFUSED)?;
                ep.sock.upgrade()
            }
        };
        let sock = sock.ok_or(Errno::ECONNREFUSED)?;
        if sock.lock().closed {
            return Err(Errno::ECONNREFUSED);
        }
        if sock.ty != self.ty {
            return Err(Errno::EPROTOTYPE);
        }
        Ok(Target::Sentry(sock))
    }

    /// connect(2) to a host socket file (`hostuds`): ECONNREFUSED unless `--host-uds=open`;
    /// the gofer connects a host socket of our type and donates it. A blocking connect to a
    /// listener whose backlog is full (EAGAIN) retries until accepted, SO_SNDTIMEO (EAGAIN)
    /// or a signal (EINTR). A socket connected this way stays so (EISCONN on reconnecting).
    fn connect_host(
        &self,
        task: TaskRef,
        ep: &(dyn Any + Send + Sync),
        addr: &UnixAddr,
        nonblock: bool,
    ) -> SysResult<()> {
        let ep = HostUdsEndpoint::of(ep).ok_or(Errno::ECONNREFUSED)?;
        if !hostuds::enabled() {
            return Err(Errno::ECONNREFUSED);
        }
        let until = deadline(self.lock().sndtimeo);
        let fd = loop {
            match ep.connect(self.ty) {
                Err(Errno::EAGAIN) if !nonblock => {
                    let now = std::time::Instant::now();
                    if until.is_some_and(|d| now >= d) {
                        return Err(Errno::EAGAIN);
                    }
                    let slice = now + crate::vfs::poll::HOST_POLL_SLICE;
                    match block(
                        task,
                        &[],
                        Some(until.map_or(slice, |d| d.min(slice))),
                        || false,
                    ) {
                        Err(Errno::EAGAIN) => {}
                        r => r?,
                    }
                }
                r => break r?,
            }
        };
        self.host
            .set((HostUds::new(fd, self.ty), addr.clone()))
            .map_err(|_| Errno::EISCONN)?;
        {
            let mut st = self.lock();
            st.peer = None;
            st.connected = true;
            st.gen += 1;
        }
        self.queue.notify();
        Ok(())
    }

    /// The host socket this one forwards to, if connected to one.
    fn host(&self) -> Option<&(HostUds, UnixAddr)> {
        self.host.get()
    }

    /// listen(2).
    pub fn listen(&self, task: TaskRef, backlog: i32) -> SysResult<()> {
        if !is_conn_type(self.ty) {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut st = self.lock();
        if st.addr == UnixAddr::Unnamed || st.connected {
            return Err(Errno::EINVAL);
        }
        st.backlog = usize::try_from(backlog).unwrap_or(0).min(SOMAXCONN);
        st.listening = true;
        st.peercred = Some(Ucred::of(task));
        st.gen += 1;
        Ok(())
    }

    /// connect(2). Connection-oriented sockets queue a new server-side socket on the listener
    /// (EAGAIN when its backlog is full and `nonblock`, else waiting); datagram sockets set
    /// their default destination.
    pub fn connect(&self, task: TaskRef, addr: &UnixAddr, nonblock: bool) -> SysResult<()> {
        let me = self.arc()?;
        if self.host().is_some() {
            return Err(Errno::EISCONN);
        }
        if !is_conn_type(self.ty) {
            let target = match self.find_target(task, addr)? {
                Target::Sentry(s) => s,
                Target::Host(ep) => return self.connect_host(task, &*ep, addr, nonblock),
            };
            if self.lock().passcred {
                self.autobind()?;
            }
            let mut st = self.lock();
            st.peer = Some(target);
            st.gen += 1;
            return Ok(());
        }
        {
            let st = self.lock();
            if st.connected {
                return Err(Errno::EISCONN);
            }
            if st.listening {
                return Err(Errno::EINVAL);
            }
        }
        let target = match self.find_target(task, addr)? {
            Target::Sentry(s) => s,
            Target::Host(ep) => return self.connect_host(task, &*ep, addr, nonblock),
        };
        if self.lock().passcred {
            self.autobind()?;
        }
        let sndtimeo = deadline(self.lock().sndtimeo);
        loop {
            {
                let mut ts = target.lock();
                if !ts.listening || ts.closed {
                    return Err(Errno::ECONNREFUSED);
                }
                if ts.pending.len() <= ts.backlog {
                    let server = Socket::new(self.ty, task);
                    {
                        let mut ss = server.lock();
                        ss.addr = ts.addr.clone();
                        ss.peer = Some(me.clone());
                        ss.connected = true;
                        ss.peercred = Some(Ucred::of(task));
                        ss.passcred = ts.passcred;
                        ss.sndbuf = ts.sndbuf;
                        ss.rcvbuf = ts.rcvbuf;
                    }
                    let listener_cred = ts.peercred;
                    ts.pending.push_back(server.clone());
                    ts.gen += 1;
                    drop(ts);
                    {
                        let mut st = self.lock();
                        st.peer = Some(server);
                        st.connected = true;
                        st.peercred = listener_cred;
                        st.gen += 1;
                    }
                    target.queue.notify();
                    self.queue.notify();
                    return Ok(());
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            block(task, &[&target.queue], sndtimeo, || {
                let ts = target.lock();
                !ts.listening || ts.closed || ts.pending.len() <= ts.backlog
            })?;
        }
    }

    /// accept(2): the next pending connection as a new description (O_NONBLOCK per `flags`).
    pub fn accept(
        &self,
        task: TaskRef,
        nonblock: bool,
        flags: i32,
    ) -> SysResult<Arc<FileDescription>> {
        if !is_conn_type(self.ty) {
            return Err(Errno::EOPNOTSUPP);
        }
        let rcvtimeo = deadline(self.lock().rcvtimeo);
        loop {
            {
                let mut st = self.lock();
                if !st.listening {
                    return Err(Errno::EINVAL);
                }
                if let Some(s) = st.pending.pop_front() {
                    st.gen += 1;
                    drop(st);
                    self.queue.notify();
                    return Ok(file_for(s, flags));
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            block(task, &[&self.queue], rcvtimeo, || {
                let st = self.lock();
                !st.listening || !st.pending.is_empty()
            })?;
        }
    }

    /// shutdown(2) with SHUT_RD, SHUT_WR or SHUT_RDWR.
    pub fn shutdown(&self, how: i32) -> SysResult<()> {
        let bits = match how {
            libc::SHUT_RD => RCV_SHUTDOWN,
            libc::SHUT_WR => SEND_SHUTDOWN,
            libc::SHUT_RDWR => RCV_SHUTDOWN | SEND_SHUTDOWN,
            _ => return Err(Errno::EINVAL),
        };
        if let Some((h, _)) = self.host() {
            h.shutdown(how)?;
            self.changed();
            return Ok(());
        }
        let peer = {
            let mut st = self.lock();
            st.shutdown |= bits;
            st.gen += 1;
            st.peer.clone()
        };
        self.queue.notify();
        if let Some(p) = peer.filter(|_| is_conn_type(self.ty)) {
            let mut peer_bits = 0;
            if bits & RCV_SHUTDOWN != 0 {
                peer_bits |= SEND_SHUTDOWN;
            }
            if bits & SEND_SHUTDOWN != 0 {
                peer_bits |= RCV_SHUTDOWN;
            }
            {
                let mut ps = p.lock();
                ps.shutdown |= peer_bits;
                ps.gen += 1;
            }
            p.queue.notify();
        }
        Ok(())
    }

    /// getsockname(2).
    pub fn sockname(&self) -> UnixAddr {
        self.lock().addr.clone()
    }

    /// getpeername(2) (ENOTCONN without a peer).
    pub fn peername(&self) -> SysResult<UnixAddr> {
        if let Some((_, addr)) = self.host() {
            return Ok(addr.clone());
        }
        let peer = self.lock().peer.clone().ok_or(Errno::ENOTCONN)?;
        let a = peer.lock().addr.clone();
        Ok(a)
    }

    /// Whether `dest` can take `len` more bytes (one more message) from a sender whose send
    /// buffer is `limit` bytes.
    fn has_room(&self, dest: &State, len: usize, limit: usize) -> bool {
        if self.ty == libc::SOCK_DGRAM && dest.rx.len() >= MAX_DGRAM_QLEN {
            return false;
        }
        dest.rx_bytes == 0 || dest.rx_bytes + len <= limit
    }

    /// send/sendto/sendmsg: `data` with `rights` attached, to `to` (datagrams) or the peer.
    /// EPIPE when the connection is shut for writing (the caller raises SIGPIPE).
    pub fn send(
        &self,
        task: TaskRef,
        data: &[u8],
        rights: Vec<Arc<FileDescription>>,
        creds: Option<Ucred>,
        to: Option<&UnixAddr>,
        nonblock: bool,
    ) -> SysResult<usize> {
        if let Some((h, _)) = self.host() {
            if !rights.is_empty() {
                return Err(Errno::EOPNOTSUPP);
            }
            if to.is_some() {
                return Err(Errno::EISCONN);
            }
            let timeout = self.lock().sndtimeo;
            return h.send(task, data, 0, nonblock, timeout);
        }
        let creds = creds.unwrap_or_else(|| Ucred::of(task));
        if self.ty == libc::SOCK_DGRAM {
            let (peer, passcred) = {
                let st = self.lock();
                if st.shutdown & SEND_SHUTDOWN != 0 {
                    return Err(Errno::EPIPE);
                }
                (st.peer.clone(), st.passcred)
            };
            let dest = match to {
                Some(a) => {
                    if passcred {
                        self.autobind()?;
                    }
                    self.find(task, a)?
                }
                None => peer.ok_or(Errno::ENOTCONN)?,
            };
            return self.send_packet(task, dest, data, rights, creds, nonblock);
        }
        let dest = {
            let st = self.lock();
            if !st.connected {
                return Err(if to.is_some() {
                    Errno::EOPNOTSUPP
                } else {
                    Errno::ENOTCONN
                });
            }
            if st.shutdown & SEND_SHUTDOWN != 0 {
                return Err(Errno::EPIPE);
            }
            st.peer.clone().ok_or(Errno::EPIPE)?
        };
        if self.ty == libc::SOCK_SEQPACKET {
            return self.send_packet(task, dest, data, rights, creds, nonblock);
        }
        if data.is_empty() {
            return Ok(0);
        }
        let (from, limit, until) = {
            let st = self.lock();
            (st.addr.clone(), st.sndbuf, deadline(st.sndtimeo))
        };
        let mut done = 0;
        let mut rights = Some(rights);
        loop {
            let mut sent_any = false;
            {
                let mut ds = dest.lock();
                if ds.shutdown & RCV_SHUTDOWN != 0 || ds.closed {
                    drop(ds);
                    return if done > 0 {
                        Ok(done)
                    } else {
                        Err(Errno::EPIPE)
                    };
                }
                while done < data.len() && self.has_room(&ds, 1, limit) {
                    let room = limit.saturating_sub(ds.rx_bytes).max(1);
                    let chunk = (data.len() - done).min(room).min(65536);
                    ds.rx.push_back(Message {
                        data: data[done..done + chunk].to_vec(),
                        off: 0,
                        rights: rights.take().unwrap_or_default(),
                        creds,
                        from: from.clone(),
                    });
                    ds.rx_bytes += chunk;
                    ds.gen += 1;
                    done += chunk;
                    sent_any = true;
                }
            }
            if sent_any {
                dest.queue.notify();
            }
            if done == data.len() {
                return Ok(done);
            }
            if nonblock {
                return if done > 0 {
                    Ok(done)
                } else {
                    Err(Errno::EAGAIN)
                };
            }
            let r = block(task, &[&dest.queue, &self.queue], until, || {
                let ds = dest.lock();
                ds.closed || ds.shutdown & RCV_SHUTDOWN != 0 || self.has_room(&ds, 1, limit)
            });
            if let Err(e) = r {
                return if done > 0 { Ok(done) } else { Err(e) };
            }
        }
    }

    /// One datagram or seqpacket record to `dest`.
    fn send_packet(
        &self,
        task: TaskRef,
        dest: Arc<Socket>,
        data: &[u8],
        rights: Vec<Arc<FileDescription>>,
        creds: Ucred,
        nonblock: bool,
    ) -> SysResult<usize> {
        if data.len() > MAX_DGRAM {
            return Err(Errno::EMSGSIZE);
        }
        let (from, limit, until) = {
            let st = self.lock();
            (st.addr.clone(), st.sndbuf, deadline(st.sndtimeo))
        };
        let dgram = self.ty == libc::SOCK_DGRAM;
        let mut rights = Some(rights);
        loop {
            {
                let mut ds = dest.lock();
                if ds.closed {
                    return Err(if dgram {
                        Errno::ECONNREFUSED
                    } else {
                        Errno::EPIPE
                    });
                }
                if dgram {
                    if let Some(p) = &ds.peer {
                        if !std::ptr::eq(Arc::as_ptr(p), self as *const Socket) {
                            return Err(Errno::EPERM);
                        }
                    }
                }
                if ds.shutdown & RCV_SHUTDOWN != 0 {
                    return Err(Errno::EPIPE);
                }
                if self.has_room(&ds, data.len(), limit) {
                    ds.rx.push_back(Message {
                        data: data.to_vec(),
                        off: 0,
                        rights: rights.take().unwrap_or_default(),
                        creds,
                        from: from.clone(),
                    });
                    ds.rx_bytes += data.len();
                    ds.gen += 1;
                    drop(ds);
                    dest.queue.notify();
                    return Ok(data.len());
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            block(task, &[&dest.queue, &self.queue], until, || {
                let ds = dest.lock();
                ds.closed
                    || ds.shutdown & RCV_SHUTDOWN != 0
                    || self.has_room(&ds, data.len(), limit)
            })?;
        }
    }

    /// recv/recvfrom/recvmsg of up to `len` bytes. `peek` leaves the data queued; `waitall`
    /// waits for `len` bytes of a stream.
    pub fn recv(
        &self,
        task: TaskRef,
        len: usize,
        peek: bool,
        waitall: bool,
        nonblock: bool,
    ) -> SysResult<Received> {
        if let Some((h, addr)) = self.host() {
            let timeout = self.lock().rcvtimeo;
            let r = h.recv(task, len, (peek, waitall), nonblock, timeout)?;
            return Ok(Received {
                data: r.data,
                full_len: r.full_len,
                truncated: r.truncated,
                from: addr.clone(),
                rights: Vec::new(),
                creds: None,
            });
        }
        let until = deadline(self.lock().rcvtimeo);
        let mut out = Received {
            data: Vec::new(),
            full_len: 0,
            truncated: false,
            from: UnixAddr::Unnamed,
            rights: Vec::new(),
            creds: None,
        };
        loop {
            let mut got = false;
            let mut eof = false;
            let peer = {
                let mut st = self.lock();
                if is_conn_type(self.ty) && !st.connected && !st.closed {
                    return Err(if st.listening {
                        Errno::EINVAL
                    } else {
                        Errno::ENOTCONN
                    });
                }
                let passcred = st.passcred;
                if self.ty == libc::SOCK_STREAM {
                    let mut idx = 0;
                    while out.data.len() < len {
                        let Some(m) = st.rx.get(idx) else { break };
                        if !out.data.is_empty() && (!m.rights.is_empty() || !out.rights.is_empty())
                        {
                            break;
                        }
                        if out.data.is_empty() && out.rights.is_empty() {
                            out.creds = passcred.then_some(m.creds);
                            out.from = m.from.clone();
                        } else if passcred && Some(m.creds) != out.creds {
                            break;
                        }
                        let take = m.remaining().min(len - out.data.len());
                        out.data.extend_from_slice(&m.data[m.off..m.off + take]);
                        if peek {
                            out.rights.extend(m.rights.iter().cloned());
                            idx += 1;
                        } else {
                            let Some(m) = st.rx.get_mut(idx) else { break };
                            out.rights.append(&mut m.rights);
                            m.off += take;
                            if m.remaining() == 0 {
                                st.rx.pop_front();
                            }
                            st.rx_bytes -= take;
                        }
                        got = true;
                    }
                    out.full_len = out.data.len();
                } else if let Some(m) = st.rx.front() {
                    let take = m.data.len().min(len);
                    out.data = m.data[..take].to_vec();
                    out.full_len = m.data.len();
                    out.truncated = take < m.data.len();
                    out.from = m.from.clone();
                    out.creds = passcred.then_some(m.creds);
                    if peek {
                        out.rights = m.rights.clone();
                    } else if let Some(m) = st.rx.pop_front() {
                        st.rx_bytes -= m.data.len();
                        out.rights = m.rights;
                    }
                    got = true;
                }
                if got && !peek {
                    st.gen += 1;
                }
                // A pending error comes before EOF, after any data (`sock_error`).
                if !got && out.data.is_empty() {
                    if let Some(e) = st.err.take() {
                        return Err(e);
                    }
                }
                if st.rx.is_empty() && st.shutdown & RCV_SHUTDOWN != 0 {
                    eof = true;
                }
                st.peer.clone()
            };
            if got && !peek {
                self.queue.notify();
                if let Some(p) = peer {
                    p.changed();
                }
            }
            let stream_more = self.ty == libc::SOCK_STREAM
                && waitall
                && !peek
                && out.data.len() < len
                && out.rights.is_empty();
            if got && !stream_more {
                return Ok(out);
            }
            if eof {
                return Ok(out);
            }
            if nonblock {
                return if got { Ok(out) } else { Err(Errno::EAGAIN) };
            }
            let r = block(task, &[&self.queue], until, || {
                let st = self.lock();
                !st.rx.is_empty() || st.shutdown & RCV_SHUTDOWN != 0
            });
            if let Err(e) = r {
                return if got { Ok(out) } else { Err(e) };
            }
        }
    }

    /// SIOCINQ (`unix_inq_len`): every unread byte of a stream, the next message's length
    /// otherwise; EINVAL on a listener.
    pub fn inq(&self) -> SysResult<usize> {
        if let Some((h, _)) = self.host() {
            return h.inq();
        }
        let st = self.lock();
        if st.listening {
            return Err(Errno::EINVAL);
        }
        Ok(if self.ty == libc::SOCK_STREAM {
            st.rx.iter().map(Message::remaining).sum()
        } else {
            st.rx.front().map_or(0, Message::remaining)
        })
    }

    /// setsockopt(2) at SOL_SOCKET.
    pub fn setsockopt(&self, level: i32, name: i32, val: &[u8]) -> SysResult<()> {
        if level != libc::SOL_SOCKET {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut st = self.lock();
        match name {
            libc::SO_SNDBUF => st.sndbuf = buf_size(int_of(val)?, BUF_MIN),
            libc::SO_RCVBUF => st.rcvbuf = buf_size(int_of(val)?, BUF_MIN),
            libc::SO_RCVTIMEO => st.rcvtimeo = timeval_of(val)?,
            libc::SO_SNDTIMEO => st.sndtimeo = timeval_of(val)?,
            libc::SO_REUSEADDR => st.reuseaddr = int_of(val)? != 0,
            libc::SO_KEEPALIVE => st.keepalive = int_of(val)? != 0,
            libc::SO_PASSCRED => st.passcred = int_of(val)? != 0,
            libc::SO_LINGER => {
                let (on, secs) = linger_of(val)?;
                st.linger = (i32::from(on != 0), secs);
            }
            libc::SO_TYPE
            | libc::SO_DOMAIN
            | libc::SO_PROTOCOL
            | libc::SO_ACCEPTCONN
            | libc::SO_PEERCRED
            | libc::SO_ERROR => return Err(Errno::ENOPROTOOPT),
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    /// getsockopt(2) at SOL_SOCKET: the option's bytes.
    pub fn getsockopt(&self, level: i32, name: i32) -> SysResult<Vec<u8>> {
        if level != libc::SOL_SOCKET {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut st = self.lock();
        let int = |v: i32| v.to_ne_bytes().to_vec();
        Ok(match name {
            libc::SO_SNDBUF => int(i32::try_from(st.sndbuf).unwrap_or(i32::MAX)),
            libc::SO_RCVBUF => int(i32::try_from(st.rcvbuf).unwrap_or(i32::MAX)),
            libc::SO_RCVTIMEO => timeval_bytes(st.rcvtimeo),
            libc::SO_SNDTIMEO => timeval_bytes(st.sndtimeo),
            libc::SO_REUSEADDR => int(i32::from(st.reuseaddr)),
            libc::SO_KEEPALIVE => int(i32::from(st.keepalive)),
            libc::SO_PASSCRED => int(i32::from(st.passcred)),
            libc::SO_LINGER => linger_bytes(st.linger),
            libc::SO_TYPE => int(self.ty),
            libc::SO_DOMAIN => int(libc::AF_UNIX),
            libc::SO_PROTOCOL => int(0),
            libc::SO_ACCEPTCONN => int(i32::from(st.listening)),
            libc::SO_ERROR => int(st.err.take().map_or(0, |e| e as i32)),
            libc::SO_PEERCRED => st
                .peercred
                .unwrap_or_else(Ucred::unknown)
                .to_bytes()
                .to_vec(),
            _ => return Err(Errno::ENOPROTOOPT),
        })
    }

    /// The `POLL*` events now true (Linux `unix_poll`, `unix_dgram_poll`).
    pub fn readiness(&self) -> u32 {
        if let Some((h, _)) = self.host() {
            return h.readiness();
        }
        let pin = (libc::POLLIN | libc::POLLRDNORM) as u32;
        let pout = (libc::POLLOUT | libc::POLLWRNORM) as u32;
        let (mut ev, peer) = {
            let st = self.lock();
            let mut ev = 0u32;
            if st.listening {
                return if st.pending.is_empty() { 0 } else { pin };
            }
            if !st.rx.is_empty() {
                ev |= pin;
            }
            if st.err.is_some() {
                ev |= libc::POLLERR as u32;
            }
            if st.shutdown & RCV_SHUTDOWN != 0 {
                ev |= pin | libc::POLLRDHUP as u32;
            }
            if st.shutdown == RCV_SHUTDOWN | SEND_SHUTDOWN {
                ev |= libc::POLLHUP as u32;
            }
            if is_conn_type(self.ty) && !st.connected {
                ev |= libc::POLLHUP as u32 | pout;
                return ev;
            }
            if st.shutdown & SEND_SHUTDOWN != 0 {
                ev |= pout;
                return ev;
            }
            (ev, st.peer.clone())
        };
        let limit = self.lock().sndbuf;
        match peer {
            Some(p) => {
                let ps = p.lock();
                if ps.closed || self.has_room(&ps, 1, limit) {
                    ev |= pout;
                }
            }
            None => ev |= pout,
        }
        ev
    }
}

impl Sock for Socket {
    fn identity(&self) -> SockIdentity {
        self.id
    }
    fn file_read(&self, task: TaskRef, len: usize, nonblock: bool) -> SysResult<Vec<u8>> {
        Ok(self.recv(task, len, false, false, nonblock)?.data)
    }
    fn file_write(&self, task: TaskRef, buf: &[u8], nonblock: bool) -> SysResult<usize> {
        self.send(task, buf, Vec::new(), None, None, nonblock)
    }
    fn poll_events(&self) -> u32 {
        self.readiness()
    }
    fn poll_queue(&self) -> &WaitQueue {
        &self.queue
    }
    fn poll_generation(&self) -> u64 {
        // A host socket's events are not counted here: edges are readiness rising.
        if self.host().is_some() {
            return 0;
        }
        self.lock().gen
    }
    fn host_polled(&self) -> bool {
        self.host().is_some()
    }
    fn last_close(&self) {
        self.release();
    }
}

fn file_for(sock: Arc<Socket>, flags: i32) -> Arc<FileDescription> {
    socket_file(sock, flags)
}

/// socket(2) for AF_UNIX: a new socket of type `ty` (EINVAL for an unknown type,
/// EPROTONOSUPPORT for a protocol other than 0). `flags` may hold O_NONBLOCK.
pub fn new_socket(
    task: TaskRef,
    ty: i32,
    protocol: i32,
    flags: i32,
) -> SysResult<Arc<FileDescription>> {
    check_type(ty, protocol)?;
    Ok(file_for(Socket::new(ty, task), flags))
}

fn check_type(ty: i32, protocol: i32) -> SysResult<()> {
    if ![libc::SOCK_STREAM, libc::SOCK_DGRAM, libc::SOCK_SEQPACKET].contains(&ty) {
        return Err(Errno::ESOCKTNOSUPPORT);
    }
    if protocol != 0 && protocol != libc::PF_UNIX {
        return Err(Errno::EPROTONOSUPPORT);
    }
    Ok(())
}

/// socketpair(2): two connected sockets of type `ty`.
pub fn socketpair(
    task: TaskRef,
    ty: i32,
    protocol: i32,
    flags: i32,
) -> SysResult<(Arc<FileDescription>, Arc<FileDescription>)> {
    check_type(ty, protocol)?;
    let a = Socket::new(ty, task);
    let b = Socket::new(ty, task);
    let cred = Ucred::of(task);
    for (x, y) in [(&a, &b), (&b, &a)] {
        let mut st = x.lock();
        st.peer = Some(y.clone());
        st.connected = true;
        st.peercred = Some(cred);
    }
    Ok((file_for(a, flags), file_for(b, flags)))
}

/// The socket behind `file` (ENOTSOCK for other files).
pub fn socket_of(file: &FileDescription) -> SysResult<Arc<Socket>> {
    file.ops_as::<SockFile<Socket>>()
        .map(|s| s.socket().clone())
        .ok_or(Errno::ENOTSOCK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(ty: i32, flags: i32) -> (Arc<FileDescription>, Arc<FileDescription>) {
        socketpair(None, ty, 0, flags).unwrap()
    }

    #[test]
    fn stream_pair_echoes_and_eof_after_close() {
        let (a, b) = pair(libc::SOCK_STREAM, 0);
        assert_eq!(a.write_inner(None, b"hello").unwrap(), 5);
        assert_eq!(a.write_inner(None, b" world").unwrap(), 6);
        let mut buf = [0u8; 32];
        assert_eq!(b.read_inner(None, &mut buf).unwrap(), 11);
        assert_eq!(&buf[..11], b"hello world");
        drop(a);
        assert_eq!(b.read_inner(None, &mut buf).unwrap(), 0);
        assert_eq!(b.write_inner(None, b"x"), Err(Errno::EPIPE));
        assert_ne!(b.readiness(libc::POLLIN as u32) & libc::POLLHUP as u32, 0);
    }

    #[test]
    fn dgram_keeps_boundaries_and_reports_truncation() {
        let (a, b) = pair(libc::SOCK_DGRAM, libc::O_NONBLOCK);
        let sa = socket_of(&a).unwrap();
        let sb = socket_of(&b).unwrap();
        sa.send(None, b"abc", vec![], None, None, true).unwrap();
        sa.send(None, b"defgh", vec![], None, None, true).unwrap();
        let r = sb.recv(None, 2, false, false, true).unwrap();
        assert_eq!(r.data, b"ab");
        assert!(r.truncated);
        assert_eq!(r.full_len, 3);
        let r = sb.recv(None, 16, true, false, true).unwrap();
        assert_eq!(r.data, b"defgh");
        let r = sb.recv(None, 16, false, false, true).unwrap();
        assert_eq!(r.data, b"defgh");
        assert_eq!(
            sb.recv(None, 16, false, false, true).err(),
            Some(Errno::EAGAIN)
        );
    }

    #[test]
    fn shutdown_wr_gives_the_peer_eof_and_rdhup() {
        let (a, b) = pair(libc::SOCK_STREAM, 0);
        socket_of(&a).unwrap().shutdown(libc::SHUT_WR).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(b.read_inner(None, &mut buf).unwrap(), 0);
        assert_ne!(
            b.readiness(libc::POLLRDHUP as u32) & libc::POLLRDHUP as u32,
            0
        );
        assert_eq!(a.write_inner(None, b"x"), Err(Errno::EPIPE));
        assert_eq!(b.write_inner(None, b"y").unwrap(), 1);
        assert_eq!(a.read_inner(None, &mut buf).unwrap(), 1);
    }

    #[test]
    fn abstract_listen_connect_accept() {
        let l = new_socket(None, libc::SOCK_STREAM, 0, 0).unwrap();
        let ls = socket_of(&l).unwrap();
        let name = UnixAddr::Abstract(b"sentry-test-accept".to_vec());
        ls.bind(None, name.clone()).unwrap();
        ls.listen(None, 0).unwrap();
        let c = new_socket(None, libc::SOCK_STREAM, 0, 0).unwrap();
        let cs = socket_of(&c).unwrap();
        cs.connect(None, &name, true).unwrap();
        let c2 = new_socket(None, libc::SOCK_STREAM, 0, 0).unwrap();
        assert_eq!(
            socket_of(&c2).unwrap().connect(None, &name, true),
            Err(Errno::EAGAIN)
        );
        assert_ne!(l.readiness(libc::POLLIN as u32), 0);
        let s = ls.accept(None, true, 0).unwrap();
        assert_eq!(cs.peername().unwrap(), name);
        s.write_inner(None, b"hi").unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(c.read_inner(None, &mut buf).unwrap(), 2);
        drop(l);
        let c3 = new_socket(None, libc::SOCK_STREAM, 0, 0).unwrap();
        assert_eq!(
            socket_of(&c3).unwrap().connect(None, &name, true),
            Err(Errno::ECONNREFUSED)
        );
    }

    #[test]
    fn blocked_reader_and_connector_wake_up() {
        let (a, b) = pair(libc::SOCK_STREAM, 0);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            a.write_inner(None, b"late").unwrap();
        });
        let mut buf = [0u8; 8];
        assert_eq!(b.read_inner(None, &mut buf).unwrap(), 4);
        t.join().unwrap();

        let l = new_socket(None, libc::SOCK_STREAM, 0, 0).unwrap();
        let ls = socket_of(&l).unwrap();
        let name = UnixAddr::Abstract(b"sentry-test-blocking".to_vec());
        ls.bind(None, name.clone()).unwrap();
        ls.listen(None, 0).unwrap();
        let c1 = new_socket(None, libc::SOCK_STREAM, 0, 0).unwrap();
        socket_of(&c1).unwrap().connect(None, &name, false).unwrap();
        let n2 = name.clone();
        let t = std::thread::spawn(move || {
            let c2 = new_socket(None, libc::SOCK_STREAM, 0, 0).unwrap();
            socket_of(&c2).unwrap().connect(None, &n2, false)
        });
        std::thread::sleep(Duration::from_millis(20));
        let _s1 = ls.accept(None, false, 0).unwrap();
        assert_eq!(t.join().unwrap(), Ok(()));
        let _s2 = ls.accept(None, false, 0).unwrap();
    }

    #[test]
    fn sockaddr_round_trips() {
        for a in [
            UnixAddr::Unnamed,
            UnixAddr::Path(b"/tmp/x".to_vec()),
            UnixAddr::Abstract(b"abc".to_vec()),
        ] {
            assert_eq!(UnixAddr::parse(&a.to_sockaddr()).unwrap(), a);
        }
        assert_eq!(UnixAddr::parse(&[2, 0]), Err(Errno::EINVAL));
    }

    #[test]
    fn fstat_says_socket() {
        let s = new_socket(None, libc::SOCK_SEQPACKET, 0, 0).unwrap();
        let st = s.stat_vfs(None).unwrap();
        assert_eq!(st.file_type(), libc::S_IFSOCK);
        assert_eq!(s.path(), format!("socket:[{}]", st.ino).into_bytes());
    }

    #[test]
    fn connected_to_a_host_socket_it_forwards_there() {
        use std::io::{Read, Write};
        use std::os::unix::net::UnixStream;
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let slot = Mutex::new(Some(std::os::fd::OwnedFd::from(ours)));
        let ep = HostUdsEndpoint::new(Box::new(move |ty| {
            assert_eq!(ty, libc::SOCK_STREAM);
            lock_slot(&slot).take().ok_or(Errno::ECONNREFUSED)
        }));
        fn lock_slot<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
            m.lock().unwrap()
        }
        let f = new_socket(None, libc::SOCK_STREAM, 0, 0).unwrap();
        let s = socket_of(&f).unwrap();
        let addr = UnixAddr::Path(b"/run/daemon.sock".to_vec());
        hostuds::set_enabled(true);
        s.connect_host(None, &ep, &addr, false).unwrap();
        assert_eq!(s.connect(None, &addr, false), Err(Errno::EISCONN));
        assert_eq!(s.peername(), Ok(addr));
        assert!(
            f.wait_queue().is_none(),
            "pollers must re-check the host fd"
        );
        assert_eq!(f.write_inner(None, b"ping").unwrap(), 4);
        let mut b = [0u8; 4];
        theirs.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ping");
        let (r, w) = (libc::POLLIN as u32, libc::POLLOUT as u32);
        assert_eq!(f.readiness(r | w), w);
        theirs.write_all(b"pong").unwrap();
        assert_eq!(f.readiness(r), r);
        assert_eq!(s.inq(), Ok(4));
        assert_eq!(f.read_inner(None, &mut b).unwrap(), 4);
        assert_eq!(&b, b"pong");
        let (x, _y) = pair(libc::SOCK_STREAM, 0);
        assert_eq!(
            s.send(None, b"x", vec![x], None, None, false),
            Err(Errno::EOPNOTSUPP)
        );
        s.shutdown(libc::SHUT_WR).unwrap();
        assert_eq!(theirs.read(&mut b).unwrap(), 0);
        drop(f);
        assert_eq!(
            theirs.write(b"late").err().map(|e| e.raw_os_error()),
            Some(Some(libc::EPIPE))
        );
    }
}
