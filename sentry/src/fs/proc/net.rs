//! /proc/net and /proc/PID/net (proc(5); Linux `net/ipv4/tcp_ipv4.c` `tcp4_seq_show`,
//! `net/ipv6/tcp_ipv6.c`, `net/ipv4/udp.c` `udp4_format_sock`, `net/ipv6/datagram.c`,
//! `net/unix/af_unix.c` `unix_seq_show`, `net/core/net-procfs.c` `dev_seq_show`,
//! `net/ipv6/addrconf.c` `if6_seq_show`, `net/ipv4/fib_trie.c` `fib_route_seq_show`,
//! `net/ipv6/route.c` `ipv6_route_native_seq_show`): the
//! sandbox's sockets and interfaces in the kernel's exact text formats. Kernel pointers print
//! as zeros (as with `kptr_restrict`), timers as idle. Under `--network=host` dev, route and
//! if_inet6 describe the host namespace's interfaces (from its NETLINK_ROUTE dumps, as `ip`
//! sees them) and tcp/udp its sockets (from NETLINK_SOCK_DIAG dumps).

use std::net::{IpAddr, SocketAddr};

use crate::net::inet::{self, InetSockInfo, TCP_LISTEN};
use crate::net::unix::{self, UnixAddr};
use crate::net::{hostinet, iface};

/// The files of a net directory.
pub const FILES: &[&str] = &[
    "dev",
    "if_inet6",
    "ipv6_route",
    "route",
    "tcp",
    "tcp6",
    "udp",
    "udp6",
    "unix",
];

/// The text of /proc/net/`name`; `None` for a name that is not one of `FILES`.
pub fn generate(name: &str) -> Option<Vec<u8>> {
    let text = match name {
        "dev" if host_mode() => host_dev(),
        "if_inet6" if host_mode() => host_if_inet6(),
        "route" if host_mode() => host_route(),
        "dev" => dev(),
        "if_inet6" => if_inet6(),
        "ipv6_route" => ipv6_route(),
        "route" => padded(ROUTE_HEADER.into(), 127),
        "tcp" => tcp(&inet_sockets(), false),
        "tcp6" => tcp(&inet_sockets(), true),
        "udp" => udp(&inet_sockets(), false),
        "udp6" => udp(&inet_sockets(), true),
        "unix" => unix_text(&unix::sockets_info()),
        _ => return None,
    };
    Some(text.into_bytes())
}

const ZERO_PTR: &str = "0000000000000000";
const DEV_HEADER: &str =
    "Inter-|   Receive                                                |  Transmit\n \
     face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets \
     errs drop fifo colls carrier compressed\n";
const ROUTE_HEADER: &str =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT";

fn host_mode() -> bool {
    crate::net::mode() == crate::net::NetworkMode::Host
}

/// The inet sockets to list: the sentry's, or under `--network=host` the host namespace's.
fn inet_sockets() -> Vec<InetSockInfo> {
    if host_mode() {
        hostinet::host_inet_sockets()
    } else {
        inet::sockets_info()
    }
}

/// One /proc/net/dev line (`dev_seq_printf_stats`): the 16 counters in the kernel's order.
fn dev_line(name: &str, c: [u64; 16]) -> String {
    format!(
        "{name:>6}: {:7} {:7} {:4} {:4} {:4} {:5} {:10} {:9} {:8} {:7} {:4} {:4} {:4} {:5} {:7} {:10}\n",
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13],
        c[14], c[15]
    )
}

fn dev() -> String {
    let mut s = String::from(DEV_HEADER);
    for i in iface::interfaces() {
        let c = iface::counters(i.index);
        let mut v = [0u64; 16];
        (v[0], v[1], v[8], v[9]) = (c.rx_bytes, c.rx_packets, c.tx_bytes, c.tx_packets);
        s += &dev_line(i.name, v);
    }
    s
}

/// /proc/net/dev of the host namespace: `struct rtnl_link_stats64` folded as
/// `dev_seq_printf_stats` folds it.
fn host_dev() -> String {
    let mut s = String::from(DEV_HEADER);
    for l in hostinet::host_links().unwrap_or_default() {
        let t = &l.stats;
        let v = [
            t[2],                          // rx_bytes
            t[0],                          // rx_packets
            t[4],                          // rx_errors
            t[6] + t[15] + t[23],          // rx_dropped + rx_missed + rx_nohandler
            t[14],                         // rx_fifo_errors
            t[10] + t[11] + t[12] + t[13], // length + over + crc + frame errors
            t[21],                         // rx_compressed
            t[8],                          // multicast
            t[3],                          // tx_bytes
            t[1],                          // tx_packets
            t[5],                          // tx_errors
            t[7],                          // tx_dropped
            t[18],                         // tx_fifo_errors
            t[9],                          // collisions
            t[17] + t[16] + t[20] + t[19], // carrier + aborted + window + heartbeat
            t[22],                         // tx_compressed
        ];
        s += &dev_line(&l.name, v);
    }
    s
}

/// /proc/net/route of the host namespace (`fib_route_seq_show`): its main table's unicast
/// IPv4 routes.
fn host_route() -> String {
    let links = hostinet::host_links().unwrap_or_default();
    let mut s = padded(ROUTE_HEADER.into(), 127);
    for r in hostinet::host_routes4().unwrap_or_default() {
        let name = links
            .iter()
            .find(|l| l.index == r.oif)
            .map_or("*", |l| l.name.as_str());
        let mask = iface::v4_mask(r.prefix).octets();
        let gw = r.gateway.unwrap_or([0; 4]);
        // RTF_UP, RTF_GATEWAY, RTF_HOST.
        let flags =
            1 | if r.gateway.is_some() { 2 } else { 0 } | if r.prefix == 32 { 4 } else { 0 };
        s += &padded(
            format!(
                "{name}\t{}\t{}\t{flags:04X}\t0\t0\t{}\t{}\t0\t0\t0",
                hex_words(&r.dst),
                hex_words(&gw),
                r.priority,
                hex_words(&mask)
            ),
            127,
        );
    }
    s
}

/// /proc/net/if_inet6 of the host namespace (`if6_seq_show`): scope as the IPV6_ADDR_* bits.
fn host_if_inet6() -> String {
    let links = hostinet::host_links().unwrap_or_default();
    hostinet::host_addrs6()
        .unwrap_or_default()
        .iter()
        .map(|a| {
            let hex: String = a.addr.iter().map(|b| format!("{b:02x}")).collect();
            let scope = match a.scope {
                254 => 0x10, // RT_SCOPE_HOST: IPV6_ADDR_LOOPBACK
                253 => 0x20, // RT_SCOPE_LINK: IPV6_ADDR_LINKLOCAL
                200 => 0x40, // RT_SCOPE_SITE: IPV6_ADDR_SITELOCAL
                _ => 0x00,
            };
            let name = links
                .iter()
                .find(|l| l.index == a.index)
                .map_or("", |l| l.name.as_str());
            format!(
                "{hex} {:02x} {:02x} {scope:02x} {:02x} {name:>8}\n",
                a.index,
                a.prefix,
                a.flags & 0xff
            )
        })
        .collect()
}

/// `%08X` of each 32-bit word of an address as the kernel holds it (network order in memory,
/// printed as a host-order integer).
fn hex_words(b: &[u8]) -> String {
    b.chunks(4)
        .map(|w| format!("{:08X}", u32::from_le_bytes([w[0], w[1], w[2], w[3]])))
        .collect()
}

fn hex_addr(a: &SocketAddr, v6: bool) -> String {
    let ip = match (a.ip(), v6) {
        (IpAddr::V4(v4), false) => hex_words(&v4.octets()),
        (IpAddr::V4(v4), true) => hex_words(&v4.to_ipv6_mapped().octets()),
        (IpAddr::V6(v6a), true) => hex_words(&v6a.octets()),
        (IpAddr::V6(v6a), false) => hex_words(&v6a.to_ipv4_mapped().map_or([0; 4], |v| v.octets())),
    };
    format!("{ip}:{:04X}", a.port())
}

fn if_inet6() -> String {
    iface::interfaces()
        .iter()
        .map(|i| {
            let hex: String = i.v6.0.octets().iter().map(|b| format!("{b:02x}")).collect();
            // Scope IFA_HOST (0x10), flags IFA_F_PERMANENT.
            format!("{hex} {:02x} {:02x} 10 80 {:>8}\n", i.index, i.v6.1, i.name)
        })
        .collect()
}

/// The IPv6 routing tables (`ipv6_route_native_seq_show`): the main and local tables' null
/// entries around each interface's local route.
fn ipv6_route() -> String {
    let zero = "0".repeat(32);
    let null = format!(
        "{zero} 00 {zero} 00 {zero} ffffffff 00000001 00000000 00200200 {:>8}\n",
        "lo"
    );
    let mut s = null.clone();
    for i in iface::interfaces() {
        let hex: String = i.v6.0.octets().iter().map(|b| format!("{b:02x}")).collect();
        s += &format!(
            "{hex} {:02x} {zero} 00 {zero} 00000000 00000002 00000000 80200001 {:>8}\n",
            i.v6.1, i.name
        );
    }
    s + &null
}

fn family_of(v6: bool) -> i32 {
    if v6 {
        libc::AF_INET6
    } else {
        libc::AF_INET
    }
}

/// `seq_pad`: a line padded with spaces to `width`, then a newline.
fn padded(line: String, width: usize) -> String {
    format!("{line:<width$}\n")
}

fn tcp(all: &[InetSockInfo], v6: bool) -> String {
    let mut s = if v6 {
        String::from(
            "  sl  local_address                         remote_address                        \
             st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n",
        )
    } else {
        padded(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   \
             uid  timeout inode"
                .to_string(),
            149,
        )
    };
    let socks = all
        .iter()
        .filter(|i| i.ty == libc::SOCK_STREAM && i.family == family_of(v6));
    for (sl, i) in socks.enumerate() {
        let listen = i.state == TCP_LISTEN;
        // refcnt, rto, ato, quick|pingpong, cwnd, ssthresh (a listener: fastopen's max_qlen).
        let (refcnt, rto, last) = if listen { (1, 100, 0) } else { (2, 20, -1) };
        let line = format!(
            "{sl:4}: {} {} {:02X} {:08X}:{:08X} 00:00000000 00000000 {:5} {:8} {} {refcnt} \
             {ZERO_PTR} {rto} 0 0 10 {last}",
            hex_addr(&i.local, v6),
            hex_addr(&i.remote, v6),
            i.state,
            i.tx_queue,
            i.rx_queue,
            i.uid,
            0,
            i.ino,
        );
        s += &if v6 { line + "\n" } else { padded(line, 149) };
    }
    s
}

fn udp(all: &[InetSockInfo], v6: bool) -> String {
    let mut s = if v6 {
        String::from(
            "  sl  local_address                         remote_address                        \
             st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n",
        )
    } else {
        padded(
            "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   \
             uid  timeout inode ref pointer drops"
                .to_string(),
            127,
        )
    };
    let socks = all
        .iter()
        .filter(|i| i.ty == libc::SOCK_DGRAM && i.family == family_of(v6));
    for i in socks {
        // The kernel's column is the hash bucket; the port stands in for it.
        let line = format!(
            "{:5}: {} {} {:02X} {:08X}:{:08X} 00:00000000 00000000 {:5} {:8} {} 2 {ZERO_PTR} 0",
            i.local.port(),
            hex_addr(&i.local, v6),
            hex_addr(&i.remote, v6),
            i.state,
            i.tx_queue,
            i.rx_queue,
            i.uid,
            0,
            i.ino,
        );
        s += &if v6 { line + "\n" } else { padded(line, 127) };
    }
    s
}

/// `__SO_ACCEPTCON`.
const SO_ACCEPTCON: u32 = 1 << 16;

fn unix_text(all: &[unix::UnixSockInfo]) -> String {
    let mut s = String::from("Num       RefCount Protocol Flags    Type St Inode Path\n");
    for i in all {
        s += &format!(
            "{ZERO_PTR}: {:08X} {:08X} {:08X} {:04X} {:02X} {:5}",
            2,
            0,
            if i.listening { SO_ACCEPTCON } else { 0 },
            i.ty,
            i.state,
            i.ino
        );
        match &i.addr {
            UnixAddr::Unnamed => {}
            UnixAddr::Path(p) => {
                s.push(' ');
                s += &String::from_utf8_lossy(p);
            }
            UnixAddr::Abstract(n) => {
                s.push_str(" @");
                let shown: Vec<u8> = n.iter().map(|&b| if b == 0 { b'@' } else { b }).collect();
                s += &String::from_utf8_lossy(&shown);
            }
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn info(ty: i32, family: i32, local: SocketAddr, state: u8) -> InetSockInfo {
        InetSockInfo {
            family,
            ty,
            local,
            remote: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            state,
            tx_queue: 0,
            rx_queue: 0,
            uid: 0,
            ino: 651,
        }
    }

    #[test]
    fn tcp_listener_line_matches_the_kernel() {
        let a = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 2024);
        let t = tcp(
            &[info(libc::SOCK_STREAM, libc::AF_INET, a, TCP_LISTEN)],
            false,
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.len() == 149));
        assert_eq!(
            lines[1].trim_end(),
            concat!(
                "   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000",
                "     0        0 651 1 0000000000000000 100 0 0 10 0"
            )
        );
    }

    #[test]
    fn addresses_print_as_the_kernel_holds_them() {
        let lo = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0x9C40);
        assert_eq!(hex_addr(&lo, false), "0100007F:9C40");
        let lo6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 80);
        assert_eq!(
            hex_addr(&lo6, true),
            "00000000000000000000000001000000:0050"
        );
        assert_eq!(hex_addr(&lo, true), "0000000000000000FFFF00000100007F:9C40");
        let u = udp(&[info(libc::SOCK_DGRAM, libc::AF_INET, lo, 7)], false);
        assert!(u.lines().all(|l| l.len() == 127), "{u}");
    }

    #[test]
    fn live_sockets_are_listed() {
        let lf = inet::new_socket(None, libc::AF_INET, libc::SOCK_STREAM, 0, 0).unwrap();
        let l = inet::socket_of(&lf).unwrap();
        let lo = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        l.bind(&inet::to_sockaddr(libc::AF_INET, lo)).unwrap();
        l.listen(1).unwrap();
        let ino = lf.stat_vfs(None).unwrap().ino;
        let text = String::from_utf8(generate("tcp").unwrap()).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains(&format!(" {ino} ")))
            .expect("the listener is listed");
        assert!(line.contains(" 0A "), "{line}");
        assert!(line.contains(": 0100007F:"), "{line}");
        drop(lf);
        let text = String::from_utf8(generate("tcp").unwrap()).unwrap();
        assert!(!text.contains(&format!(" {ino} ")));
    }

    #[test]
    fn dev_unix_and_inet6_files() {
        let d = String::from_utf8(generate("dev").unwrap()).unwrap();
        assert_eq!(d.lines().count(), 3);
        assert!(d.lines().nth(2).unwrap().starts_with("    lo: "));
        assert_eq!(
            String::from_utf8(generate("if_inet6").unwrap()).unwrap(),
            "00000000000000000000000000000001 01 80 10 80       lo\n"
        );
        let u = unix_text(&[unix::UnixSockInfo {
            ty: libc::SOCK_STREAM,
            listening: true,
            state: 1,
            ino: 641258,
            addr: UnixAddr::Abstract(b"abs\0x".to_vec()),
        }]);
        assert_eq!(
            u.lines().nth(1).unwrap(),
            "0000000000000000: 00000002 00000000 00010000 0001 01 641258 @abs@x"
        );
        assert!(generate("nope").is_none());
    }
}
