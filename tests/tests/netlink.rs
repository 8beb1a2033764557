//! The interface view (tests/c/netlink.c, tests/c/ifioctl.c, tests/c/procnet.c, busybox and
//! iproute2 `ip`): NETLINK_ROUTE, the SIOCGIF* ioctls and /proc/net, natively and sandboxed
//! with the same output. The host has more interfaces than the sandbox, so the programs print
//! only what concerns `lo`.

use tests::{c_prog, Case};

#[test]
fn netlink_route_compat() {
    let (native, _) = Case::new(c_prog("netlink"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(out.contains("bound pid is getpid: 1\n"), "{out}");
    assert!(
        out.contains("  link lo index=1 type=772 flags=0x10049 mtu=65536 txqlen=1000 addrlen=6\n"),
        "{out}"
    );
    assert!(
        out.contains("  addr family=2 127.0.0.1/8 scope=254 label=lo\n"),
        "{out}"
    );
    assert!(
        out.contains("  family=2 flags=0x49 addr=127.0.0.1 mask=255.0.0.0\n"),
        "{out}"
    );
    assert!(out.ends_with("if_nameindex lo=1\ndone\n"), "{out}");
}

#[test]
fn interface_ioctls_compat() {
    let (native, _) = Case::new(c_prog("ifioctl"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(
        out.contains("SIOCGIFNETMASK lo: ok family=2 255.0.0.0\n"),
        "{out}"
    );
    assert!(
        out.contains("SIOCGIFHWADDR lo: ok family=772 00:00:00:00:00:00\n"),
        "{out}"
    );
    assert!(
        out.contains("SIOCGIFCONF rec lo family=2 127.0.0.1\n"),
        "{out}"
    );
    assert!(
        out.contains("if_nametoindex lo=1 nosuchif0=0 (No such device)\n"),
        "{out}"
    );
    assert!(out.ends_with("unix dgram SIOCINQ: ok 3\ndone\n"), "{out}");
}

#[test]
fn proc_net_compat() {
    let (native, _) = Case::new(c_prog("procnet"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(
        out.contains("  listener: local=0100007F:PORT remote=00000000:0 st=0A txq=0 rxq=1"),
        "{out}"
    );
    assert!(
        out.contains("  unix listener: proto=0 flags=10000 type=0001 st=01 path=@procnet-PID\n"),
        "{out}"
    );
    assert!(
        out.contains("netstat: tcp 1 0 127.0.0.1:29127 0.0.0.0:* LISTEN\n"),
        "{out}"
    );
    assert!(out.ends_with("done\n"), "{out}");
}

const BUSYBOX: &str = "/bin/busybox";

/// The sandbox has only `lo`: its full listing is what the host prints for `lo` alone.
#[test]
fn busybox_ip_shows_lo() {
    assert!(
        std::path::Path::new(BUSYBOX).is_file(),
        "{BUSYBOX} missing (apt-get install busybox-static; .ci/run does)"
    );
    for what in ["addr", "link"] {
        let native = Case::new(BUSYBOX, ["ip", what, "show", "lo"]).run_native();
        let sandboxed = Case::new(BUSYBOX, ["ip", what]).run_sandboxed();
        assert_eq!(
            (sandboxed.status, sandboxed.stdout_str()),
            (0, native.stdout_str()),
            "{}",
            sandboxed.stderr_str()
        );
        assert!(
            native
                .stdout_str()
                .starts_with("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue"),
            "{}",
            native.stdout_str()
        );
    }
}

#[test]
fn iproute2_ip_shows_lo() {
    let ip = "/usr/sbin/ip";
    assert!(
        std::path::Path::new(ip).is_file(),
        "{ip} missing (apt-get install iproute2; .ci/run does)"
    );
    let (native, _) = Case::new(ip, ["addr", "show", "lo"]).assert_same();
    assert!(
        native
            .stdout_str()
            .contains("inet 127.0.0.1/8 scope host lo\n"),
        "{}",
        native.stdout_str()
    );
    Case::new(ip, ["-o", "link", "show", "dev", "lo"]).assert_same();
}

/// TCP resets (tcp(7), Linux `tcp_close`, `tcp_reset`): closing with unread data or with
/// SO_LINGER {1, 0} resets the peer (ECONNRESET, then EOF and EPIPE); after a FIN the first
/// write is answered by a RST and the next fails with EPIPE; a closed listener resets its
/// unaccepted connections; a closed port refuses.
#[test]
fn tcp_reset_semantics() {
    let script = r#"
import errno, select, socket, struct

def pair(l=None):
    if l is None:
        l = socket.socket()
        l.bind(("127.0.0.1", 0))
        l.listen(4)
    c = socket.create_connection(l.getsockname())
    s, _ = l.accept()
    return l, c, s

def err(f):
    try:
        return repr(f())
    except OSError as e:
        return errno.errorcode[e.errno]

def wait(sock, bits):
    p = select.poll()
    p.register(sock, bits)
    for _ in range(6000):
        ev = p.poll(10)
        if ev and ev[0][1] & bits:
            return
    print("timeout waiting")

l, c, s = pair()
c.sendall(b"unread")
select.select([s], [], [], 60)
s.close()
wait(c, select.POLLERR)
print("unread close: read", err(lambda: c.recv(10)), "read", err(lambda: c.recv(10)),
      "write", err(lambda: c.send(b"x")))
c.close()

l, c, s = pair(l)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.sendall(b"data for s")
s.close()
wait(c, select.POLLERR)
print("linger 0: write", err(lambda: c.send(b"x")),
      "read", err(lambda: c.recv(10)))
c.close()

l, c, s = pair(l)
s.sendall(b"bye")
s.close()
wait(c, select.POLLIN)
print("fin: read", err(lambda: c.recv(10)), "read", err(lambda: c.recv(10)),
      "first write", err(lambda: c.send(b"x")))
wait(c, select.POLLERR)
print("after rst: read", err(lambda: c.recv(10)), "write", err(lambda: c.send(b"x")),
      "write", err(lambda: c.send(b"x")))
c.close()

l2 = socket.socket()
l2.bind(("127.0.0.1", 0))
l2.listen(4)
c = socket.create_connection(l2.getsockname())
port = l2.getsockname()[1]
l2.close()
wait(c, select.POLLERR)
print("listener closed: read", err(lambda: c.recv(10)))
c.close()
print("connect closed port", err(lambda: socket.create_connection(("127.0.0.1", port))))
l.close()
print("done")
"#;
    let (native, _) = Case::new("/usr/bin/python3", ["-c", script]).assert_same();
    assert_eq!(
        native.stdout_str(),
        "unread close: read ECONNRESET read b'' write EPIPE\n\
         linger 0: write ECONNRESET read b''\n\
         fin: read b'bye' read b'' first write 1\n\
         after rst: read b'' write EPIPE write EPIPE\n\
         listener closed: read ECONNRESET\n\
         connect closed port ECONNREFUSED\n\
         done\n"
    );
}

/// What the sandbox shows of its network through netlink is what a fresh network namespace
/// with `lo` up shows natively (`unshare -n`, as root). (`ip -6
/// addr` asks for AF_INET6 link info, which this kernel answers differently by namespace.)
#[test]
fn network_view_matches_an_empty_namespace() {
    let cmd = "ip route show table all; ip -6 route show table all; ip route; ip -4 addr; \
               ip addr; ip link; busybox ip route; busybox ip addr";
    let native = Case::new(
        "/usr/bin/unshare",
        [
            "-n",
            "/bin/sh",
            "-c",
            &format!("ip link set lo up && {{ {cmd}; }}"),
        ],
    )
    .run_native();
    assert!(
        native.status == 0 || !native.stdout.is_empty(),
        "unshare -n failed (the tests run as root): {}",
        native.stderr_str()
    );
    let sandboxed = Case::new("/bin/sh", ["-c", cmd]).run_sandboxed();
    assert_eq!(
        sandboxed.stdout_str(),
        native.stdout_str(),
        "{}",
        sandboxed.stderr_str()
    );
    assert!(native
        .stdout_str()
        .starts_with("local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1"));
}

/// Unix stream and seqpacket resets (Linux `unix_release_sock`): closing with unread data,
/// or a listener with unaccepted connections, leaves ECONNRESET pending at the peer.
#[test]
fn unix_reset_semantics() {
    let script = r#"
import os, socket, errno
def err(f):
    try:
        return repr(f())
    except OSError as e:
        return errno.errorcode[e.errno]
a, b = socket.socketpair()
a.send(b"unread")
b.close()
print("unix stream unread close: read", err(lambda: a.recv(10)), "read", err(lambda: a.recv(10)), "write", err(lambda: a.send(b"x")))
a.close()
a, b = socket.socketpair()
b.close()
print("unix stream clean close: read", err(lambda: a.recv(10)), "write", err(lambda: a.send(b"x")))
l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
name = "\0unixrst-test-%d" % os.getpid()
l.bind(name)
l.listen(1)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect(name)
l.close()
print("unix listener closed: SO_ERROR", errno.errorcode.get(c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR), 0), "read", err(lambda: c.recv(10)))
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
a.send(b"unread")
b.close()
print("unix seqpacket unread close: read", err(lambda: a.recv(10)), "read", err(lambda: a.recv(10)))
"#;
    let (native, _) = Case::new("/usr/bin/python3", ["-c", script]).assert_same();
    assert_eq!(
        native.stdout_str(),
        "unix stream unread close: read ECONNRESET read b'' write EPIPE\n\
         unix stream clean close: read b'' write EPIPE\n\
         unix listener closed: SO_ERROR ECONNRESET read b''\n\
         unix seqpacket unread close: read ECONNRESET read b''\n"
    );
}
