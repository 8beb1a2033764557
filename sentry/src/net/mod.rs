//! Networking (after gVisor's `pkg/sentry/socket`; Linux `net/`): unix domain sockets live in
//! `unix`, AF_INET/AF_INET6 (a loopback-only TCP/UDP stack) in `inet`, AF_NETLINK
//! (NETLINK_ROUTE) in `netlink`; `iface` describes the interfaces all of them report; `sockfs`
//! and `sockopt` hold what every kind of socket shares (the inode, option values, blocking).
//! Under `--network=host` AF_INET/AF_INET6 sockets are host sockets instead (`hostinet`, after
//! gVisor's `pkg/sentry/socket/hostinet`), and the interface views describe the host's.
//! Under `--host-uds=open` a unix socket connected to a host socket in a gofer mount forwards
//! to a host socket the gofer connected (`hostuds`).

pub mod hostinet;
pub mod hostuds;
pub mod iface;
pub mod inet;
pub mod netlink;
pub mod sockfs;
pub mod sockopt;
pub mod unix;

use std::sync::atomic::{AtomicBool, Ordering};

/// How the sandbox reaches a network (`runsc --network`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NetworkMode {
    /// Loopback only, served in the sentry (`inet`).
    #[default]
    None,
    /// Inet sockets are host sockets in the sentry's network namespace (`hostinet`).
    Host,
}

/// The mode of this sentry process (it runs one sandbox; set when the kernel is made).
static HOST_MODE: AtomicBool = AtomicBool::new(false);

/// Sets the process's network mode (`Kernel::new` from `SandboxSettings::network`).
pub fn set_mode(mode: NetworkMode) {
    HOST_MODE.store(mode == NetworkMode::Host, Ordering::Relaxed);
}

/// The process's network mode.
pub fn mode() -> NetworkMode {
    if HOST_MODE.load(Ordering::Relaxed) {
        NetworkMode::Host
    } else {
        NetworkMode::None
    }
}
