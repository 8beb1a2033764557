//! The sandbox's network interfaces under `--network=none` (Linux `drivers/net/loopback.c`,
//! `net/core/dev.c`): exactly one, `lo`, index 1, with 127.0.0.1/8 and ::1/128. Netlink,
//! the SIOCGIF* ioctls and /proc/net/dev all describe it from here, so they agree.
//!
//! The traffic counters are process-global atomics (a sentry process runs one sandbox).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};

/// `IFF_UP`, `IFF_LOOPBACK`, `IFF_RUNNING`, `IFF_LOWER_UP` (linux/if.h).
pub const IFF_UP: u32 = 0x1;
pub const IFF_LOOPBACK: u32 = 0x8;
pub const IFF_RUNNING: u32 = 0x40;
pub const IFF_LOWER_UP: u32 = 0x1_0000;
/// `ARPHRD_LOOPBACK` (linux/if_arp.h).
pub const ARPHRD_LOOPBACK: u16 = 772;
/// `IFNAMSIZ`.
pub const IFNAMSIZ: usize = 16;

/// One interface as every view reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interface {
    pub index: i32,
    pub name: &'static str,
    /// `dev_get_flags()`: the full flags netlink reports (ioctls see the low 16 bits).
    pub flags: u32,
    pub mtu: u32,
    pub hw_type: u16,
    pub hw_addr: [u8; 6],
    pub txqlen: u32,
    pub qdisc: &'static str,
    /// The IPv4 address and prefix length.
    pub v4: (Ipv4Addr, u8),
    /// The IPv6 address and prefix length.
    pub v6: (Ipv6Addr, u8),
}

/// `lo`.
pub const LOOPBACK: Interface = Interface {
    index: 1,
    name: "lo",
    flags: IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP,
    mtu: 65536,
    hw_type: ARPHRD_LOOPBACK,
    hw_addr: [0; 6],
    txqlen: 1000,
    qdisc: "noqueue",
    v4: (Ipv4Addr::LOCALHOST, 8),
    v6: (Ipv6Addr::LOCALHOST, 128),
};

/// Every interface, by index.
pub fn interfaces() -> &'static [Interface] {
    std::slice::from_ref(&LOOPBACK)
}

/// The interface named `name` (bytes up to the first NUL).
pub fn by_name(name: &[u8]) -> Option<&'static Interface> {
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    interfaces()
        .iter()
        .find(|i| i.name.as_bytes() == &name[..end])
}

/// The interface with index `index`.
pub fn by_index(index: i32) -> Option<&'static Interface> {
    interfaces().iter().find(|i| i.index == index)
}

/// Packets and bytes through an interface (the fields of `struct rtnl_link_stats` we keep).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

static LO_PACKETS: AtomicU64 = AtomicU64::new(0);
static LO_BYTES: AtomicU64 = AtomicU64::new(0);

/// Counts one packet of `len` bytes through `lo` (sent and so also received).
pub fn count_loopback(len: usize) {
    LO_PACKETS.fetch_add(1, Ordering::Relaxed);
    LO_BYTES.fetch_add(len as u64, Ordering::Relaxed);
}

/// The counters of interface `index` (zero for unknown ones).
pub fn counters(index: i32) -> Counters {
    if index != LOOPBACK.index {
        return Counters::default();
    }
    let (p, b) = (
        LO_PACKETS.load(Ordering::Relaxed),
        LO_BYTES.load(Ordering::Relaxed),
    );
    Counters {
        rx_packets: p,
        tx_packets: p,
        rx_bytes: b,
        tx_bytes: b,
    }
}

/// Interface ioctls (linux/sockios.h).
pub const SIOCGIFNAME: u32 = 0x8910;
pub const SIOCGIFCONF: u32 = 0x8912;
pub const SIOCGIFFLAGS: u32 = 0x8913;
pub const SIOCGIFADDR: u32 = 0x8915;
pub const SIOCGIFDSTADDR: u32 = 0x8917;
pub const SIOCGIFBRDADDR: u32 = 0x8919;
pub const SIOCGIFNETMASK: u32 = 0x891b;
pub const SIOCGIFMETRIC: u32 = 0x891d;
pub const SIOCGIFMTU: u32 = 0x8921;
pub const SIOCGIFHWADDR: u32 = 0x8927;
pub const SIOCGIFINDEX: u32 = 0x8933;
pub const SIOCGIFTXQLEN: u32 = 0x8942;
/// `SIOCINQ` (= FIONREAD) and `SIOCOUTQ` (= TIOCOUTQ).
pub const SIOCINQ: u32 = 0x541b;
pub const SIOCOUTQ: u32 = 0x5411;
/// `sizeof(struct ifreq)` on x86_64.
pub const IFREQ_SIZE: usize = 40;
/// `struct ifreq`.
pub type IfReq = [u8; IFREQ_SIZE];

/// Whether `req` is one of the device requests `dev_ioctl` serves on every socket.
pub fn is_dev_ioctl(req: u32) -> bool {
    matches!(
        req,
        SIOCGIFNAME
            | SIOCGIFFLAGS
            | SIOCGIFMETRIC
            | SIOCGIFMTU
            | SIOCGIFHWADDR
            | SIOCGIFINDEX
            | SIOCGIFTXQLEN
    )
}

/// Whether `req` is an AF_INET address request (`devinet_ioctl`).
pub fn is_inet_ioctl(req: u32) -> bool {
    matches!(
        req,
        SIOCGIFADDR | SIOCGIFDSTADDR | SIOCGIFBRDADDR | SIOCGIFNETMASK
    )
}

fn put_i32(ifr: &mut IfReq, v: i32) {
    ifr[16..20].copy_from_slice(&v.to_ne_bytes());
}

fn name_of(ifr: &mut IfReq) -> &[u8] {
    ifr[IFNAMSIZ - 1] = 0;
    let end = ifr.iter().position(|&b| b == 0).unwrap_or(IFNAMSIZ - 1);
    &ifr[..end]
}

/// A device request on `ifr` (`dev_ioctl`, `dev_ifname`, `dev_ifsioc_locked`): ENODEV for a
/// name or index that is not an interface here.
pub fn dev_ioctl(req: u32, ifr: &mut IfReq) -> crate::SysResult<()> {
    use crate::Errno;
    if req == SIOCGIFNAME {
        let index = i32::from_ne_bytes([ifr[16], ifr[17], ifr[18], ifr[19]]);
        let i = by_index(index).ok_or(Errno::ENODEV)?;
        ifr[..IFNAMSIZ].fill(0);
        ifr[..i.name.len()].copy_from_slice(i.name.as_bytes());
        return Ok(());
    }
    let i = by_name(name_of(ifr)).ok_or(Errno::ENODEV)?;
    match req {
        // `ifr_flags` is a short: IFF_LOWER_UP and above do not fit.
        SIOCGIFFLAGS => ifr[16..18].copy_from_slice(&(i.flags as u16).to_ne_bytes()),
        SIOCGIFMETRIC => put_i32(ifr, 0),
        SIOCGIFMTU => put_i32(ifr, i.mtu as i32),
        SIOCGIFINDEX => put_i32(ifr, i.index),
        SIOCGIFTXQLEN => put_i32(ifr, i.txqlen as i32),
        SIOCGIFHWADDR => {
            ifr[16..32].fill(0);
            ifr[16..18].copy_from_slice(&i.hw_type.to_ne_bytes());
            ifr[18..24].copy_from_slice(&i.hw_addr);
        }
        _ => return Err(Errno::ENOTTY),
    }
    Ok(())
}

fn put_sin(ifr: &mut IfReq, ip: Ipv4Addr) {
    ifr[16..32].fill(0);
    ifr[16..18].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    ifr[20..24].copy_from_slice(&ip.octets());
}

/// The IPv4 netmask of a prefix length.
pub fn v4_mask(prefix: u8) -> Ipv4Addr {
    let bits = u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0);
    Ipv4Addr::from(bits)
}

/// An AF_INET address request (`devinet_ioctl`): ENODEV for an unknown interface,
/// EADDRNOTAVAIL for a label (such as "lo:1") with no address.
pub fn inet_ioctl(req: u32, ifr: &mut IfReq) -> crate::SysResult<()> {
    use crate::Errno;
    let label = name_of(ifr).to_vec();
    let base = label.split(|&b| b == b':').next().unwrap_or(&[]);
    let i = by_name(base).ok_or(Errno::ENODEV)?;
    if label != i.name.as_bytes() {
        return Err(Errno::EADDRNOTAVAIL);
    }
    let ip = match req {
        SIOCGIFADDR | SIOCGIFDSTADDR => i.v4.0,
        SIOCGIFNETMASK => v4_mask(i.v4.1),
        // `lo` has no broadcast address.
        SIOCGIFBRDADDR => Ipv4Addr::UNSPECIFIED,
        _ => return Err(Errno::ENOTTY),
    };
    put_sin(ifr, ip);
    Ok(())
}

/// The SIOCGIFCONF records, one per IPv4 address (`dev_ifconf`, `inet_gifconf`).
pub fn ifconf() -> Vec<IfReq> {
    interfaces()
        .iter()
        .map(|i| {
            let mut r = [0u8; IFREQ_SIZE];
            r[..i.name.len()].copy_from_slice(i.name.as_bytes());
            put_sin(&mut r, i.v4.0);
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_find_only_lo() {
        assert_eq!(by_name(b"lo\0\0\0"), Some(&LOOPBACK));
        assert_eq!(by_name(b"lo"), Some(&LOOPBACK));
        assert_eq!(by_name(b"eth0\0"), None);
        assert_eq!(by_index(1).map(|i| i.name), Some("lo"));
        assert_eq!(by_index(2), None);
        assert_eq!(LOOPBACK.flags & 0xffff, 0x49);
    }

    fn ifreq(name: &str) -> IfReq {
        let mut r = [0u8; IFREQ_SIZE];
        r[..name.len()].copy_from_slice(name.as_bytes());
        r
    }

    #[test]
    fn dev_and_inet_requests() {
        let mut r = ifreq("lo");
        dev_ioctl(SIOCGIFFLAGS, &mut r).unwrap();
        assert_eq!(u16::from_ne_bytes([r[16], r[17]]), 0x49);
        dev_ioctl(SIOCGIFINDEX, &mut r).unwrap();
        assert_eq!(r[16], 1);
        let mut n = [0u8; IFREQ_SIZE];
        n[16] = 1;
        dev_ioctl(SIOCGIFNAME, &mut n).unwrap();
        assert_eq!(&n[..3], b"lo\0");
        assert_eq!(
            dev_ioctl(SIOCGIFMTU, &mut ifreq("eth0")),
            Err(crate::Errno::ENODEV)
        );
        let mut r = ifreq("lo");
        inet_ioctl(SIOCGIFNETMASK, &mut r).unwrap();
        assert_eq!(&r[20..24], &[255, 0, 0, 0]);
        assert_eq!(
            inet_ioctl(SIOCGIFADDR, &mut ifreq("lo:1")),
            Err(crate::Errno::EADDRNOTAVAIL)
        );
        assert_eq!(ifconf().len(), 1);
        assert_eq!(v4_mask(0), Ipv4Addr::UNSPECIFIED);
    }

    #[test]
    fn loopback_counts_both_ways() {
        let before = counters(1);
        count_loopback(100);
        let after = counters(1);
        assert!(after.rx_bytes >= before.rx_bytes + 100);
        assert_eq!(after.rx_bytes, after.tx_bytes);
        assert_eq!(counters(7), Counters::default());
    }
}
