//! Networking (after gVisor's `pkg/sentry/socket`; Linux `net/`): unix domain sockets live in
//! `unix`, AF_INET/AF_INET6 (a loopback-only TCP/UDP stack) in `inet`. AF_NETLINK comes
//! later; its socket(2) answers EAFNOSUPPORT in the syscall layer.

pub mod inet;
pub mod sockfs;
pub mod unix;
