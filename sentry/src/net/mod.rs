//! Networking (after gVisor's `pkg/sentry/socket`; Linux `net/`): unix domain sockets live in
//! `unix`. AF_INET/AF_INET6 (a loopback TCP/UDP stack) and AF_NETLINK come later; their
//! socket(2) answers EAFNOSUPPORT in the syscall layer.

pub mod unix;
