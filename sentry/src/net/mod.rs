//! Networking (after gVisor's `pkg/sentry/socket`; Linux `net/`): unix domain sockets live in
//! `unix`, AF_INET/AF_INET6 (a loopback-only TCP/UDP stack) in `inet`, AF_NETLINK
//! (NETLINK_ROUTE) in `netlink`; `iface` describes the interfaces all of them report; `sockfs`
//! and `sockopt` hold what every kind of socket shares (the inode, option values, blocking).

pub mod iface;
pub mod inet;
pub mod netlink;
pub mod sockfs;
pub mod sockopt;
pub mod unix;
