//! More loopback TCP/UDP semantics (tests/c/inet_more.c): TCP_CORK, TCP_NODELAY, TCP_INFO,
//! half-close, RST on close with unread data, SO_REUSEPORT, v4-mapped IPv6 and IPV6_V6ONLY,
//! UDP EMSGSIZE and boundaries: the same natively and in the sandbox's stack.

use tests::{c_prog, Case};

#[test]
fn tcp_and_udp_details_match_linux() {
    let (native, _) = Case::new(c_prog("inet_more"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    for line in [
        "tcp_info=ok state established=1",
        "rst: read=ECONNRESET\n",
        "reuseport third without=EADDRINUSE\n",
        "mapped=1\n",
        "udp 65508=EMSGSIZE\n",
        "done\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in {out}");
    }
}
