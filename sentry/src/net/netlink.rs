//! AF_NETLINK sockets, NETLINK_ROUTE only (netlink(7), rtnetlink(7); Linux
//! `net/netlink/af_netlink.c`, `net/core/rtnetlink.c`, gVisor `pkg/sentry/socket/netlink`):
//! port ids (bind, autobind to the thread group id), and the "kernel" end answering
//! RTM_GETLINK, RTM_GETADDR and RTM_GETROUTE dumps (and RTM_GETLINK by index or name) from
//! `net::iface` (the routes are the local table's for `lo`; the main table is empty);
//! RTM_GETNEIGH dumps are empty; every other request gets
//! NLMSG_ERROR -EOPNOTSUPP. Requests are answered synchronously in sendmsg: each reply (a
//! whole dump with its NLMSG_DONE) is one datagram on the receive queue. Under
//! `--network=host` the GET requests are relayed to a host NETLINK_ROUTE socket instead
//! (`hostinet::route_query`), datagram for datagram, so they describe the host's namespace.
//!
//! Port ids live in one process-global table (`ports()`, as inet's port table).
//! Lock order: the port table, then at most one socket's `st`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use crate::kernel::wait::WaitQueue;
use crate::net::iface::{self, Interface};
use crate::net::sockfs::{socket_file, Sock, SockFile, SockIdentity};
use crate::net::sockopt::{
    block, buf_size, deadline, int_of, timeval_bytes, timeval_of, SOCK_MIN_RCVBUF,
};
use crate::net::unix::Ucred;
use crate::vfs::{FileDescription, TaskRef};
use crate::{Errno, SysResult};

/// `NETLINK_ROUTE`.
pub const NETLINK_ROUTE: i32 = 0;
/// `SOL_NETLINK` and its options (linux/netlink.h).
pub const SOL_NETLINK: i32 = 270;
const NETLINK_ADD_MEMBERSHIP: i32 = 1;
const NETLINK_DROP_MEMBERSHIP: i32 = 2;
const NETLINK_PKTINFO: i32 = 3;
const NETLINK_BROADCAST_ERROR: i32 = 4;
const NETLINK_NO_ENOBUFS: i32 = 5;
const NETLINK_LISTEN_ALL_NSID: i32 = 8;
const NETLINK_CAP_ACK: i32 = 10;
const NETLINK_EXT_ACK: i32 = 11;
const NETLINK_GET_STRICT_CHK: i32 = 12;

/// `struct nlmsghdr` size and flags.
const NLMSG_HDRLEN: usize = 16;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_MULTI: u16 = 0x2;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_CAPPED: u16 = 0x100;
/// Control message types.
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_MIN_TYPE: u16 = 0x10;
/// rtnetlink message types.
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RTM_GETNEIGH: u16 = 30;
/// IFLA_* attributes (linux/if_link.h).
const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_QDISC: u16 = 6;
const IFLA_STATS: u16 = 7;
const IFLA_TXQLEN: u16 = 13;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKMODE: u16 = 17;
const IFLA_STATS64: u16 = 23;
const IFLA_GROUP: u16 = 27;
const IFLA_PROMISCUITY: u16 = 30;
const IFLA_NUM_TX_QUEUES: u16 = 31;
const IFLA_NUM_RX_QUEUES: u16 = 32;
const IFLA_CARRIER: u16 = 33;
const IFLA_CARRIER_CHANGES: u16 = 35;
const IFLA_PROTO_DOWN: u16 = 39;
const IFLA_GSO_MAX_SEGS: u16 = 40;
const IFLA_GSO_MAX_SIZE: u16 = 41;
const IFLA_MIN_MTU: u16 = 50;
const IFLA_MAX_MTU: u16 = 51;
/// IFA_* attributes and flags (linux/if_addr.h).
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_CACHEINFO: u16 = 6;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u8 = 0x80;
/// `RT_SCOPE_UNIVERSE`, `RT_SCOPE_LINK`, `RT_SCOPE_HOST`.
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RT_SCOPE_HOST: u8 = 254;
/// `RT_TABLE_LOCAL`, `RTPROT_KERNEL`, `RTN_LOCAL`, `RTN_BROADCAST` (linux/rtnetlink.h).
const RT_TABLE_LOCAL: u8 = 255;
const RTPROT_KERNEL: u8 = 2;
const RTN_LOCAL: u8 = 2;
const RTN_BROADCAST: u8 = 3;
/// RTA_* attributes.
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_PRIORITY: u16 = 6;
const RTA_PREFSRC: u16 = 7;
const RTA_CACHEINFO: u16 = 12;
const RTA_TABLE: u16 = 15;
const RTA_PREF: u16 = 20;
/// `SO_SNDBUF`/`SO_RCVBUF` defaults (`net.core.wmem_default`).
const BUF_DEFAULT: usize = 212_992;

static NEXT_INO: AtomicU64 = AtomicU64::new(3 << 32);
/// The next negative port id an autobind takes when the tgid is taken.
static ROVER: AtomicI32 = AtomicI32::new(-4097);

type PortTable = HashMap<u32, Weak<NetlinkSocket>>;

fn ports() -> MutexGuard<'static, PortTable> {
    static P: OnceLock<Mutex<PortTable>> = OnceLock::new();
    P.get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_ne_bytes([b[off], b[off + 1]])
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A `struct sockaddr_nl`.
pub fn sockaddr_nl(pid: u32, groups: u32) -> Vec<u8> {
    let mut b = vec![0u8; 12];
    b[..2].copy_from_slice(&(libc::AF_NETLINK as u16).to_ne_bytes());
    b[4..8].copy_from_slice(&pid.to_ne_bytes());
    b[8..12].copy_from_slice(&groups.to_ne_bytes());
    b
}

/// Parses a `struct sockaddr_nl` into (nl_pid, nl_groups).
fn parse_addr(raw: &[u8]) -> SysResult<(u32, u32)> {
    if raw.len() < 12 || i32::from(u16_at(raw, 0)) != libc::AF_NETLINK {
        return Err(Errno::EINVAL);
    }
    Ok((u32_at(raw, 4), u32_at(raw, 8)))
}

/// Builds netlink messages (`nlmsg_put`, `nla_put`).
struct Msg(Vec<u8>);

impl Msg {
    fn new(ty: u16, flags: u16, seq: u32, pid: u32) -> Msg {
        let mut b = vec![0u8; NLMSG_HDRLEN];
        b[4..6].copy_from_slice(&ty.to_ne_bytes());
        b[6..8].copy_from_slice(&flags.to_ne_bytes());
        b[8..12].copy_from_slice(&seq.to_ne_bytes());
        b[12..16].copy_from_slice(&pid.to_ne_bytes());
        Msg(b)
    }
    fn raw(mut self, data: &[u8]) -> Msg {
        self.0.extend_from_slice(data);
        self.0.resize(align4(self.0.len()), 0);
        self
    }
    fn attr(mut self, ty: u16, data: &[u8]) -> Msg {
        self.0
            .extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        self.0.extend_from_slice(&ty.to_ne_bytes());
        self.raw(data)
    }
    fn u32(self, ty: u16, v: u32) -> Msg {
        self.attr(ty, &v.to_ne_bytes())
    }
    fn u8(self, ty: u16, v: u8) -> Msg {
        self.attr(ty, &[v])
    }
    fn string(self, ty: u16, s: &str) -> Msg {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        self.attr(ty, &b)
    }
    fn finish(mut self) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.0[..4].copy_from_slice(&len.to_ne_bytes());
        self.0
    }
}

/// RTM_NEWLINK describing `i` (`rtnl_fill_ifinfo`).
fn link_msg(i: &Interface, flags: u16, seq: u32, pid: u32) -> Vec<u8> {
    let mut ifi = [0u8; 16];
    ifi[2..4].copy_from_slice(&i.hw_type.to_ne_bytes());
    ifi[4..8].copy_from_slice(&i.index.to_ne_bytes());
    ifi[8..12].copy_from_slice(&i.flags.to_ne_bytes());
    let c = iface::counters(i.index);
    let firsts = [c.rx_packets, c.tx_packets, c.rx_bytes, c.tx_bytes];
    let mut stats = Vec::with_capacity(96);
    let mut stats64 = Vec::with_capacity(200);
    for k in 0..25 {
        let v = firsts.get(k).copied().unwrap_or(0);
        if k < 24 {
            stats.extend_from_slice(&(v as u32).to_ne_bytes());
        }
        stats64.extend_from_slice(&v.to_ne_bytes());
    }
    Msg::new(RTM_NEWLINK, flags, seq, pid)
        .raw(&ifi)
        .string(IFLA_IFNAME, i.name)
        .u32(IFLA_TXQLEN, i.txqlen)
        .u8(IFLA_OPERSTATE, 0)
        .u8(IFLA_LINKMODE, 0)
        .u32(IFLA_MTU, i.mtu)
        .u32(IFLA_MIN_MTU, 0)
        .u32(IFLA_MAX_MTU, 0)
        .u32(IFLA_GROUP, 0)
        .u32(IFLA_PROMISCUITY, 0)
        .u32(IFLA_NUM_TX_QUEUES, 1)
        .u32(IFLA_GSO_MAX_SEGS, 65535)
        .u32(IFLA_GSO_MAX_SIZE, 65536)
        .u32(IFLA_NUM_RX_QUEUES, 1)
        .u8(IFLA_CARRIER, 1)
        .string(IFLA_QDISC, i.qdisc)
        .u32(IFLA_CARRIER_CHANGES, 0)
        .u8(IFLA_PROTO_DOWN, 0)
        .attr(IFLA_ADDRESS, &i.hw_addr)
        .attr(IFLA_BROADCAST, &i.hw_addr)
        .attr(IFLA_STATS64, &stats64)
        .attr(IFLA_STATS, &stats)
        .finish()
}

/// `struct ifa_cacheinfo` of a permanent address.
fn cacheinfo() -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&u32::MAX.to_ne_bytes());
    b[4..8].copy_from_slice(&u32::MAX.to_ne_bytes());
    b
}

/// RTM_NEWADDR for `i`'s IPv4 address (`inet_fill_ifaddr`).
fn addr4_msg(i: &Interface, seq: u32, pid: u32) -> Vec<u8> {
    let ifa = [libc::AF_INET as u8, i.v4.1, IFA_F_PERMANENT, RT_SCOPE_HOST];
    let ip = i.v4.0.octets();
    Msg::new(RTM_NEWADDR, NLM_F_MULTI, seq, pid)
        .raw(&ifa)
        .raw(&i.index.to_ne_bytes())
        .attr(IFA_ADDRESS, &ip)
        .attr(IFA_LOCAL, &ip)
        .string(IFA_LABEL, i.name)
        .u32(IFA_FLAGS, u32::from(IFA_F_PERMANENT))
        .attr(IFA_CACHEINFO, &cacheinfo())
        .finish()
}

/// RTM_NEWADDR for `i`'s IPv6 address (`inet6_fill_ifaddr`).
fn addr6_msg(i: &Interface, seq: u32, pid: u32) -> Vec<u8> {
    let ifa = [libc::AF_INET6 as u8, i.v6.1, IFA_F_PERMANENT, RT_SCOPE_HOST];
    Msg::new(RTM_NEWADDR, NLM_F_MULTI, seq, pid)
        .raw(&ifa)
        .raw(&i.index.to_ne_bytes())
        .attr(IFA_ADDRESS, &i.v6.0.octets())
        .attr(IFA_CACHEINFO, &cacheinfo())
        .u32(IFA_FLAGS, u32::from(IFA_F_PERMANENT))
        .finish()
}

/// One route of the kernel's local table for `i` (`fib_dump_info`, `rt6_fill_node`); the main
/// table is empty with only `lo`.
struct Route {
    family: u8,
    dst: Vec<u8>,
    dst_len: u8,
    scope: u8,
    ty: u8,
    prefsrc: Option<Vec<u8>>,
}

fn routes(i: &Interface, family: i32) -> Vec<Route> {
    let (ip, plen) = i.v4;
    let net = u32::from(ip) & u32::from(iface::v4_mask(plen));
    let bcast = net | !u32::from(iface::v4_mask(plen));
    let v4 = |dst: u32, dst_len: u8, scope: u8, ty: u8| Route {
        family: libc::AF_INET as u8,
        dst: dst.to_be_bytes().to_vec(),
        dst_len,
        scope,
        ty,
        prefsrc: Some(ip.octets().to_vec()),
    };
    let mut v = Vec::new();
    if family != libc::AF_INET6 {
        v.push(v4(net, plen, RT_SCOPE_HOST, RTN_LOCAL));
        v.push(v4(u32::from(ip), 32, RT_SCOPE_HOST, RTN_LOCAL));
        v.push(v4(bcast, 32, RT_SCOPE_LINK, RTN_BROADCAST));
    }
    if family != libc::AF_INET {
        v.push(Route {
            family: libc::AF_INET6 as u8,
            dst: i.v6.0.octets().to_vec(),
            dst_len: 128,
            scope: RT_SCOPE_UNIVERSE,
            ty: RTN_LOCAL,
            prefsrc: None,
        });
    }
    v
}

/// RTM_NEWROUTE for `r` through `i`.
fn route_msg(i: &Interface, r: &Route, seq: u32, pid: u32) -> Vec<u8> {
    let rtm = [
        r.family,
        r.dst_len,
        0,
        0,
        RT_TABLE_LOCAL,
        RTPROT_KERNEL,
        r.scope,
        r.ty,
    ];
    let m = Msg::new(RTM_NEWROUTE, NLM_F_MULTI, seq, pid)
        .raw(&rtm)
        .raw(&0u32.to_ne_bytes())
        .u32(RTA_TABLE, u32::from(RT_TABLE_LOCAL))
        .attr(RTA_DST, &r.dst);
    match &r.prefsrc {
        Some(src) => m
            .attr(RTA_PREFSRC, src)
            .u32(RTA_OIF, i.index as u32)
            .finish(),
        None => m
            .u32(RTA_PRIORITY, 0)
            .u32(RTA_OIF, i.index as u32)
            .attr(RTA_CACHEINFO, &[0u8; 32])
            .u8(RTA_PREF, 0)
            .finish(),
    }
}

fn done_msg(seq: u32, pid: u32) -> Vec<u8> {
    Msg::new(NLMSG_DONE, NLM_F_MULTI, seq, pid)
        .raw(&0i32.to_ne_bytes())
        .finish()
}

/// NLMSG_ERROR for `req` (`netlink_ack`): `err` 0 is an ack, capped to the request header;
/// an error carries the whole request unless NETLINK_CAP_ACK.
fn ack_msg(req: &[u8], err: i32, cap_ack: bool, pid: u32) -> Vec<u8> {
    let seq = u32_at(req, 8);
    let capped = err == 0 || cap_ack;
    let flags = if capped { NLM_F_CAPPED } else { 0 };
    let echoed = if capped { &req[..NLMSG_HDRLEN] } else { req };
    Msg::new(NLMSG_ERROR, flags, seq, pid)
        .raw(&err.to_ne_bytes())
        .raw(echoed)
        .finish()
}

/// The attribute `ty` of an attribute list.
fn find_attr(mut attrs: &[u8], ty: u16) -> Option<&[u8]> {
    while attrs.len() >= 4 {
        let len = usize::from(u16_at(attrs, 0));
        if len < 4 || len > attrs.len() {
            return None;
        }
        if u16_at(attrs, 2) & 0x3fff == ty {
            return Some(&attrs[4..len]);
        }
        attrs = &attrs[align4(len).min(attrs.len())..];
    }
    None
}

/// Options of one socket.
struct State {
    /// The port id; 0 until bound.
    portid: u32,
    groups: u32,
    /// connect(2)'s default destination (port id, group).
    dst: (u32, u32),
    rx: VecDeque<(Vec<u8>, u32)>,
    rcvbuf: usize,
    sndbuf: usize,
    pktinfo: bool,
    broadcast_error: bool,
    no_enobufs: bool,
    cap_ack: bool,
    ext_ack: bool,
    strict_chk: bool,
    listen_all_nsid: bool,
    passcred: bool,
    /// SO_RCVTIMEO (None: wait forever).
    rcvtimeo: Option<Duration>,
    gen: u64,
}

/// An AF_NETLINK socket.
pub struct NetlinkSocket {
    ty: i32,
    protocol: i32,
    id: SockIdentity,
    me: Weak<NetlinkSocket>,
    st: Mutex<State>,
    queue: WaitQueue,
}

/// What a receive returned.
pub struct NetlinkReceived {
    pub data: Vec<u8>,
    /// The datagram's full length (MSG_TRUNC).
    pub full_len: usize,
    pub truncated: bool,
    /// The sender's `sockaddr_nl`.
    pub from: Vec<u8>,
}

impl NetlinkSocket {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// SOCK_RAW or SOCK_DGRAM.
    pub fn sock_type(&self) -> i32 {
        self.ty
    }

    /// The bound port id (0 when unbound).
    pub fn portid(&self) -> u32 {
        self.lock().portid
    }

    fn release(&self) {
        let portid = {
            let mut st = self.lock();
            st.rx.clear();
            std::mem::take(&mut st.portid)
        };
        if portid != 0 {
            let mut t = ports();
            if t.get(&portid)
                .is_some_and(|w| std::ptr::eq(w.as_ptr(), self))
            {
                t.remove(&portid);
            }
        }
    }

    /// Takes `want` (0: the caller's tgid, else a free negative id) if still unbound.
    fn bind_port(&self, task: TaskRef, want: u32) -> SysResult<u32> {
        let mut t = ports();
        t.retain(|_, w| w.strong_count() > 0);
        let mut st = self.lock();
        if st.portid != 0 {
            return if want == 0 || want == st.portid {
                Ok(st.portid)
            } else {
                Err(Errno::EINVAL)
            };
        }
        let id = if want != 0 {
            if t.contains_key(&want) {
                return Err(Errno::EADDRINUSE);
            }
            want
        } else {
            let tgid = Ucred::of(task).pid as u32;
            if tgid != 0 && !t.contains_key(&tgid) {
                tgid
            } else {
                loop {
                    let id = ROVER.fetch_sub(1, Ordering::Relaxed) as u32;
                    if !t.contains_key(&id) {
                        break id;
                    }
                }
            }
        };
        t.insert(id, self.me.clone());
        st.portid = id;
        Ok(id)
    }

    /// bind(2): a port id (0 to autobind) and multicast groups.
    pub fn bind(&self, task: TaskRef, raw: &[u8]) -> SysResult<()> {
        let (pid, groups) = parse_addr(raw)?;
        self.bind_port(task, pid)?;
        self.lock().groups = groups;
        Ok(())
    }

    /// connect(2): sets the default destination; AF_UNSPEC disconnects.
    pub fn connect(&self, task: TaskRef, raw: &[u8]) -> SysResult<()> {
        if raw.len() >= 2 && i32::from(u16_at(raw, 0)) == libc::AF_UNSPEC {
            self.lock().dst = (0, 0);
            return Ok(());
        }
        let (pid, groups) = parse_addr(raw)?;
        self.bind_port(task, 0)?;
        self.lock().dst = (pid, groups);
        Ok(())
    }

    /// getsockname(2).
    pub fn sockname(&self) -> Vec<u8> {
        let st = self.lock();
        sockaddr_nl(st.portid, st.groups)
    }

    /// getpeername(2): the connected destination (the kernel, 0, when not connected).
    pub fn peername(&self) -> Vec<u8> {
        let st = self.lock();
        sockaddr_nl(st.dst.0, st.dst.1)
    }

    fn enqueue(&self, data: Vec<u8>, from: u32) {
        {
            let mut st = self.lock();
            st.rx.push_back((data, from));
            st.gen += 1;
        }
        self.queue.notify();
    }

    /// sendmsg(2): `data` to `to` (a sockaddr_nl) or the connected destination. Requests to
    /// the kernel (port 0) are answered at once; unicast to another port is delivered;
    /// multicast is dropped (nobody else sends to groups here).
    pub fn send(&self, task: TaskRef, data: &[u8], to: Option<&[u8]>) -> SysResult<usize> {
        let (dst, group) = match to {
            Some(raw) => parse_addr(raw)?,
            None => self.lock().dst,
        };
        let me = self.bind_port(task, 0)?;
        if data.len() > self.lock().sndbuf.saturating_sub(32) {
            return Err(Errno::EMSGSIZE);
        }
        if dst != 0 {
            let peer = ports().get(&dst).and_then(Weak::upgrade);
            let peer = peer.ok_or(Errno::ECONNREFUSED)?;
            peer.enqueue(data.to_vec(), me);
            return Ok(data.len());
        }
        if group != 0 {
            return Ok(data.len());
        }
        if self.protocol == NETLINK_ROUTE {
            let replies = self.route_requests(data, me);
            for r in replies {
                self.enqueue(r, 0);
            }
        }
        Ok(data.len())
    }

    /// The replies to every request in `data` (`netlink_rcv_skb` with `rtnetlink_rcv_msg`).
    fn route_requests(&self, mut data: &[u8], me: u32) -> Vec<Vec<u8>> {
        let (cap_ack, strict) = {
            let st = self.lock();
            (st.cap_ack, st.strict_chk)
        };
        let mut out = Vec::new();
        while data.len() >= NLMSG_HDRLEN {
            let len = u32_at(data, 0) as usize;
            if len < NLMSG_HDRLEN || len > data.len() {
                break;
            }
            let req = &data[..len];
            let (ty, flags) = (u16_at(req, 4), u16_at(req, 6));
            let err = if flags & NLM_F_REQUEST == 0 || ty < NLMSG_MIN_TYPE {
                0
            } else {
                match route_request(req, strict, me) {
                    Ok(replies) => {
                        let answered = !replies.is_empty();
                        out.extend(replies);
                        if answered && flags & NLM_F_DUMP != 0 {
                            // A dump is never acked (Linux `netlink_dump_start`).
                            data = &data[align4(len).min(data.len())..];
                            continue;
                        }
                        0
                    }
                    Err(e) => -(e as i32),
                }
            };
            if err != 0 || flags & NLM_F_ACK != 0 {
                out.push(ack_msg(req, err, cap_ack, me));
            }
            data = &data[align4(len).min(data.len())..];
        }
        out
    }

    /// recvmsg(2): one datagram, truncated to `len`.
    pub fn recv(
        &self,
        task: TaskRef,
        len: usize,
        peek: bool,
        nonblock: bool,
    ) -> SysResult<NetlinkReceived> {
        let until = deadline(self.lock().rcvtimeo);
        loop {
            {
                let mut st = self.lock();
                let got = if peek {
                    st.rx.front().cloned()
                } else {
                    st.rx.pop_front()
                };
                if let Some((data, from)) = got {
                    if !peek {
                        st.gen += 1;
                    }
                    let full_len = data.len();
                    let mut data = data;
                    data.truncate(len);
                    return Ok(NetlinkReceived {
                        truncated: data.len() < full_len,
                        data,
                        full_len,
                        from: sockaddr_nl(from, 0),
                    });
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            block(task, &[&self.queue], until, || !self.lock().rx.is_empty())?;
        }
    }

    /// setsockopt(2).
    pub fn setsockopt(&self, level: i32, name: i32, val: &[u8]) -> SysResult<()> {
        if (level, name) == (libc::SOL_SOCKET, libc::SO_RCVTIMEO) {
            self.lock().rcvtimeo = timeval_of(val)?;
            return Ok(());
        }
        let v = int_of(val)?;
        let mut st = self.lock();
        let on = v != 0;
        match (level, name) {
            (libc::SOL_SOCKET, libc::SO_RCVBUF | libc::SO_RCVBUFFORCE) => {
                st.rcvbuf = buf_size(v, SOCK_MIN_RCVBUF);
            }
            (libc::SOL_SOCKET, libc::SO_SNDBUF | libc::SO_SNDBUFFORCE) => {
                st.sndbuf = buf_size(v, SOCK_MIN_RCVBUF);
            }
            (libc::SOL_SOCKET, libc::SO_PASSCRED) => st.passcred = on,
            (libc::SOL_SOCKET, libc::SO_SNDTIMEO) => {}
            (SOL_NETLINK, NETLINK_ADD_MEMBERSHIP | NETLINK_DROP_MEMBERSHIP) => {
                let g = u32::try_from(v).map_err(|_| Errno::EINVAL)?;
                if g == 0 {
                    return Err(Errno::EINVAL);
                }
                if g <= 32 {
                    let bit = 1u32 << (g - 1);
                    if name == NETLINK_ADD_MEMBERSHIP {
                        st.groups |= bit;
                    } else {
                        st.groups &= !bit;
                    }
                }
            }
            (SOL_NETLINK, NETLINK_PKTINFO) => st.pktinfo = on,
            (SOL_NETLINK, NETLINK_BROADCAST_ERROR) => st.broadcast_error = on,
            (SOL_NETLINK, NETLINK_NO_ENOBUFS) => st.no_enobufs = on,
            (SOL_NETLINK, NETLINK_LISTEN_ALL_NSID) => st.listen_all_nsid = on,
            (SOL_NETLINK, NETLINK_CAP_ACK) => st.cap_ack = on,
            (SOL_NETLINK, NETLINK_EXT_ACK) => st.ext_ack = on,
            (SOL_NETLINK, NETLINK_GET_STRICT_CHK) => st.strict_chk = on,
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    /// getsockopt(2).
    pub fn getsockopt(&self, level: i32, name: i32) -> SysResult<Vec<u8>> {
        let int = |v: i32| v.to_ne_bytes().to_vec();
        let b = |v: bool| int(i32::from(v));
        let st = self.lock();
        Ok(match (level, name) {
            (libc::SOL_SOCKET, libc::SO_TYPE) => int(self.ty),
            (libc::SOL_SOCKET, libc::SO_DOMAIN) => int(libc::AF_NETLINK),
            (libc::SOL_SOCKET, libc::SO_PROTOCOL) => int(self.protocol),
            (libc::SOL_SOCKET, libc::SO_ERROR) => int(0),
            (libc::SOL_SOCKET, libc::SO_ACCEPTCONN) => int(0),
            (libc::SOL_SOCKET, libc::SO_RCVBUF) => int(st.rcvbuf as i32),
            (libc::SOL_SOCKET, libc::SO_SNDBUF) => int(st.sndbuf as i32),
            (libc::SOL_SOCKET, libc::SO_PASSCRED) => b(st.passcred),
            (libc::SOL_SOCKET, libc::SO_RCVTIMEO) => timeval_bytes(st.rcvtimeo),
            (SOL_NETLINK, NETLINK_PKTINFO) => b(st.pktinfo),
            (SOL_NETLINK, NETLINK_BROADCAST_ERROR) => b(st.broadcast_error),
            (SOL_NETLINK, NETLINK_NO_ENOBUFS) => b(st.no_enobufs),
            (SOL_NETLINK, NETLINK_LISTEN_ALL_NSID) => b(st.listen_all_nsid),
            (SOL_NETLINK, NETLINK_CAP_ACK) => b(st.cap_ack),
            (SOL_NETLINK, NETLINK_EXT_ACK) => b(st.ext_ack),
            (SOL_NETLINK, NETLINK_GET_STRICT_CHK) => b(st.strict_chk),
            _ => return Err(Errno::ENOPROTOOPT),
        })
    }

    /// The `POLL*` events now true (`datagram_poll`).
    pub fn readiness(&self) -> u32 {
        let mut ev = (libc::POLLOUT | libc::POLLWRNORM) as u32;
        if !self.lock().rx.is_empty() {
            ev |= (libc::POLLIN | libc::POLLRDNORM) as u32;
        }
        ev
    }

    /// Bytes of the next datagram.
    pub fn unread(&self) -> usize {
        self.lock().rx.front().map_or(0, |d| d.0.len())
    }
}

/// The replies to one NETLINK_ROUTE request (`rtnetlink_rcv_msg`); an empty list for a
/// request that is only acked.
fn route_request(req: &[u8], strict: bool, pid: u32) -> SysResult<Vec<Vec<u8>>> {
    let (ty, flags, seq) = (u16_at(req, 4), u16_at(req, 6), u32_at(req, 8));
    let body = &req[NLMSG_HDRLEN..];
    let family = body.first().map_or(libc::AF_UNSPEC, |&f| i32::from(f));
    let dump = flags & NLM_F_DUMP != 0;
    if crate::net::mode() == crate::net::NetworkMode::Host
        && matches!(ty, RTM_GETLINK | RTM_GETADDR | RTM_GETROUTE | RTM_GETNEIGH)
    {
        // The host namespace's answer, relayed: only these read-only requests reach it.
        return crate::net::hostinet::route_query(req, strict, pid);
    }
    match ty {
        RTM_GETLINK if dump => {
            let mut m: Vec<u8> = Vec::new();
            for i in iface::interfaces() {
                m.extend(link_msg(i, NLM_F_MULTI, seq, pid));
            }
            m.extend(done_msg(seq, pid));
            Ok(vec![m])
        }
        RTM_GETLINK => {
            if body.len() < 16 {
                return Err(Errno::EINVAL);
            }
            let index = i32::from_ne_bytes([body[4], body[5], body[6], body[7]]);
            let found = if index > 0 {
                iface::by_index(index)
            } else if let Some(name) = find_attr(&body[16..], IFLA_IFNAME) {
                iface::by_name(name)
            } else {
                return Err(Errno::EINVAL);
            };
            let i = found.ok_or(Errno::ENODEV)?;
            Ok(vec![link_msg(i, 0, seq, pid)])
        }
        RTM_GETADDR if dump => {
            let want_index = if strict && body.len() >= 8 {
                i32::from_ne_bytes([body[4], body[5], body[6], body[7]])
            } else {
                0
            };
            let mut m: Vec<u8> = Vec::new();
            for i in iface::interfaces() {
                if want_index != 0 && want_index != i.index {
                    continue;
                }
                if family != libc::AF_INET6 {
                    m.extend(addr4_msg(i, seq, pid));
                }
                if family != libc::AF_INET {
                    m.extend(addr6_msg(i, seq, pid));
                }
            }
            m.extend(done_msg(seq, pid));
            Ok(vec![m])
        }
        RTM_GETROUTE if dump => {
            // With strict checking the request's rtm_table filters (0 = every table).
            let table = if strict && body.len() >= 5 {
                body[4]
            } else {
                0
            };
            let mut m: Vec<u8> = Vec::new();
            if table == 0 || table == RT_TABLE_LOCAL {
                for i in iface::interfaces() {
                    for r in routes(i, family) {
                        m.extend(route_msg(i, &r, seq, pid));
                    }
                }
            }
            m.extend(done_msg(seq, pid));
            Ok(vec![m])
        }
        RTM_GETNEIGH if dump => Ok(vec![done_msg(seq, pid)]),
        _ => Err(Errno::EOPNOTSUPP),
    }
}

impl Sock for NetlinkSocket {
    fn identity(&self) -> SockIdentity {
        self.id
    }
    fn file_read(&self, task: TaskRef, len: usize, nonblock: bool) -> SysResult<Vec<u8>> {
        Ok(self.recv(task, len, false, nonblock)?.data)
    }
    /// Netlink sends never block.
    fn file_write(&self, task: TaskRef, buf: &[u8], _nonblock: bool) -> SysResult<usize> {
        self.send(task, buf, None)
    }
    fn poll_events(&self) -> u32 {
        self.readiness()
    }
    fn poll_queue(&self) -> &WaitQueue {
        &self.queue
    }
    fn poll_generation(&self) -> u64 {
        self.lock().gen
    }
    fn last_close(&self) {
        self.release();
    }
}

/// socket(2) for AF_NETLINK: SOCK_RAW or SOCK_DGRAM, NETLINK_ROUTE only.
pub fn new_socket(
    task: TaskRef,
    ty: i32,
    protocol: i32,
    flags: i32,
) -> SysResult<Arc<FileDescription>> {
    if ty != libc::SOCK_RAW && ty != libc::SOCK_DGRAM {
        return Err(Errno::ESOCKTNOSUPPORT);
    }
    if protocol != NETLINK_ROUTE {
        return Err(Errno::EPROTONOSUPPORT);
    }
    let sock = Arc::new_cyclic(|me| NetlinkSocket {
        ty,
        protocol,
        id: SockIdentity::new(NEXT_INO.fetch_add(1, Ordering::Relaxed), task),
        me: me.clone(),
        st: Mutex::new(State {
            portid: 0,
            groups: 0,
            dst: (0, 0),
            rx: VecDeque::new(),
            rcvbuf: BUF_DEFAULT,
            sndbuf: BUF_DEFAULT,
            pktinfo: false,
            broadcast_error: false,
            no_enobufs: false,
            cap_ack: false,
            ext_ack: false,
            strict_chk: false,
            listen_all_nsid: false,
            passcred: false,
            rcvtimeo: None,
            gen: 0,
        }),
        queue: WaitQueue::new(),
    });
    Ok(socket_file(sock, flags))
}

/// The netlink socket behind `file` (ENOTSOCK for other files).
pub fn socket_of(file: &FileDescription) -> SysResult<Arc<NetlinkSocket>> {
    file.ops_as::<SockFile<NetlinkSocket>>()
        .map(|s| s.socket().clone())
        .ok_or(Errno::ENOTSOCK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sock() -> (Arc<FileDescription>, Arc<NetlinkSocket>) {
        let f = new_socket(None, libc::SOCK_RAW, NETLINK_ROUTE, 0).unwrap();
        let s = socket_of(&f).unwrap();
        (f, s)
    }

    fn request(ty: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        Msg::new(ty, flags, seq, 0).raw(body).finish()
    }

    /// Splits a datagram into (type, flags, seq, pid, payload) messages.
    fn split(mut d: &[u8]) -> Vec<(u16, u16, u32, u32, Vec<u8>)> {
        let mut v = Vec::new();
        while d.len() >= NLMSG_HDRLEN {
            let len = u32_at(d, 0) as usize;
            v.push((
                u16_at(d, 4),
                u16_at(d, 6),
                u32_at(d, 8),
                u32_at(d, 12),
                d[NLMSG_HDRLEN..len].to_vec(),
            ));
            d = &d[align4(len).min(d.len())..];
        }
        v
    }

    #[test]
    fn protocols_and_types() {
        assert_eq!(
            new_socket(None, libc::SOCK_RAW, 16, 0).err(),
            Some(Errno::EPROTONOSUPPORT)
        );
        assert_eq!(
            new_socket(None, libc::SOCK_STREAM, 0, 0).err(),
            Some(Errno::ESOCKTNOSUPPORT)
        );
        assert!(new_socket(None, libc::SOCK_DGRAM, 0, 0).is_ok());
    }

    #[test]
    fn bind_explicit_and_in_use() {
        let (_a, a) = sock();
        let (_b, b) = sock();
        a.bind(None, &sockaddr_nl(777_001, 0)).unwrap();
        assert_eq!(a.sockname(), sockaddr_nl(777_001, 0));
        assert_eq!(
            b.bind(None, &sockaddr_nl(777_001, 0)),
            Err(Errno::EADDRINUSE)
        );
        assert_eq!(a.bind(None, &sockaddr_nl(5, 0)), Err(Errno::EINVAL));
        b.bind(None, &sockaddr_nl(0, 0)).unwrap();
        assert_ne!(b.portid(), 0);
        assert_eq!(b.bind(None, &[0u8; 4]), Err(Errno::EINVAL));
    }

    #[test]
    fn getlink_dump_then_done() {
        let (_f, s) = sock();
        let req = request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 9, &[0u8; 16]);
        assert_eq!(s.send(None, &req, None).unwrap(), req.len());
        let r = s.recv(None, 65536, false, true).unwrap();
        assert_eq!(r.from, sockaddr_nl(0, 0));
        let msgs = split(&r.data);
        assert_eq!(msgs.len(), 2);
        let (ty, flags, seq, pid, body) = &msgs[0];
        assert_eq!(
            (*ty, *flags, *seq, *pid),
            (RTM_NEWLINK, NLM_F_MULTI, 9, s.portid())
        );
        assert_eq!(i32::from_ne_bytes([body[4], body[5], body[6], body[7]]), 1);
        assert_eq!(find_attr(&body[16..], IFLA_IFNAME), Some(&b"lo\0"[..]));
        assert_eq!(
            find_attr(&body[16..], IFLA_MTU),
            Some(&65536u32.to_ne_bytes()[..])
        );
        assert_eq!(msgs[1].0, NLMSG_DONE);
        assert_eq!(s.recv(None, 10, false, true).err(), Some(Errno::EAGAIN));
    }

    #[test]
    fn getaddr_dump_by_family() {
        let (_f, s) = sock();
        let req = request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, &[0u8; 8]);
        s.send(None, &req, None).unwrap();
        let msgs = split(&s.recv(None, 65536, false, true).unwrap().data);
        let fams: Vec<u8> = msgs
            .iter()
            .map(|m| m.4.first().copied().unwrap_or(0))
            .collect();
        assert_eq!(fams[..2], [libc::AF_INET as u8, libc::AF_INET6 as u8]);
        assert_eq!(
            find_attr(&msgs[0].4[8..], IFA_LOCAL),
            Some(&[127, 0, 0, 1][..])
        );
        let req = request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 2, &[10u8]);
        s.send(None, &req, None).unwrap();
        let msgs = split(&s.recv(None, 65536, false, true).unwrap().data);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].4[1], 128);
    }

    #[test]
    fn unsupported_is_error_and_ack_is_capped() {
        let (_f, s) = sock();
        let req = request(200, NLM_F_REQUEST, 3, &[1, 2, 3, 4]);
        s.send(None, &req, None).unwrap();
        let msgs = split(&s.recv(None, 65536, false, true).unwrap().data);
        assert_eq!(msgs[0].0, NLMSG_ERROR);
        assert_eq!(int_of(&msgs[0].4).unwrap(), -(Errno::EOPNOTSUPP as i32));
        assert_eq!(msgs[0].4.len(), 4 + req.len());
        let req = request(1, NLM_F_REQUEST | NLM_F_ACK, 4, &[]);
        s.send(None, &req, None).unwrap();
        let msgs = split(&s.recv(None, 65536, false, true).unwrap().data);
        assert_eq!((msgs[0].0, msgs[0].1), (NLMSG_ERROR, NLM_F_CAPPED));
        assert_eq!(int_of(&msgs[0].4).unwrap(), 0);
    }

    #[test]
    fn receive_timeout_is_eagain() {
        let (_f, s) = sock();
        let mut tv = 0i64.to_ne_bytes().to_vec();
        tv.extend_from_slice(&10_000i64.to_ne_bytes());
        s.setsockopt(libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)
            .unwrap();
        assert_eq!(
            s.getsockopt(libc::SOL_SOCKET, libc::SO_RCVTIMEO).unwrap(),
            tv
        );
        assert_eq!(s.recv(None, 10, false, false).err(), Some(Errno::EAGAIN));
    }

    #[test]
    fn getlink_by_name_and_truncation() {
        let (_f, s) = sock();
        let body = Msg(vec![0u8; 16]).string(IFLA_IFNAME, "eth9").0;
        s.send(None, &request(RTM_GETLINK, NLM_F_REQUEST, 5, &body), None)
            .unwrap();
        let msgs = split(&s.recv(None, 65536, false, true).unwrap().data);
        assert_eq!(int_of(&msgs[0].4).unwrap(), -(Errno::ENODEV as i32));
        let body = Msg(vec![0u8; 16]).string(IFLA_IFNAME, "lo").0;
        s.send(None, &request(RTM_GETLINK, NLM_F_REQUEST, 6, &body), None)
            .unwrap();
        let r = s.recv(None, 20, false, true).unwrap();
        assert!(r.truncated && r.full_len > 20 && r.data.len() == 20);
        assert_eq!(s.unread(), 0);
    }
}
