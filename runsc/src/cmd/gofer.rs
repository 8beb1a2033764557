//! `runsc gofer` (hidden): the file server of one sandbox, after gVisor's `runsc/cmd/gofer.go`.
//! It opens the roots it serves, leaves the host's file tree for an empty root in namespaces of
//! its own, confines itself with its own seccomp allowlist and serves the sentry until the
//! sentry hangs up.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use gofer::server::{confine_with, ConfineOptions, Server, ServerConfig};

use crate::boot::isolate;
use crate::cli::GoferArgs;
use crate::sys::take_inherited_fd;
use crate::{log, EXIT_RUNSC_FAILURE};

/// Runs the gofer; returns its exit status (0 once every channel is closed).
pub fn run(args: &GoferArgs) -> i32 {
    match serve(args) {
        Ok(()) => 0,
        Err(msg) => {
            log::error(&msg);
            EXIT_RUNSC_FAILURE
        }
    }
}

fn serve(args: &GoferArgs) -> Result<(), String> {
    let channels = args
        .io_fd
        .iter()
        .map(|&n| take_inherited_fd(n).map_err(|e| format!("gofer channel fd: {e}")))
        .collect::<Result<Vec<OwnedFd>, String>>()?;
    // The root is served read-only (writes go to the sentry's overlay) unless the overlay is
    // off (`--overlay=none`, and the root is not read-only).
    let mut mounts = vec![GoferMount {
        host_path: args.root.clone(),
        read_only: !args.root_rw,
        host_uds: false,
        channels,
    }];
    // Host unix sockets are reachable through bind mounts only (`--host-uds=open`), never
    // through the root.
    for m in &args.mount {
        let mut m = parse_mount(m)?;
        m.host_uds = args.host_uds;
        mounts.push(m);
    }
    serve_mounts(mounts)
}

/// `FD:ro:PATH` or `FD:rw:PATH` (the path last, so that it may hold colons).
fn parse_mount(arg: &str) -> Result<GoferMount, String> {
    let bad = || format!("--mount {arg:?}: expected FD:ro|rw:PATH");
    let mut parts = arg.splitn(3, ':');
    let fd: i32 = parts.next().and_then(|f| f.parse().ok()).ok_or_else(bad)?;
    let read_only = match parts.next() {
        Some("ro") => true,
        Some("rw") => false,
        _ => return Err(bad()),
    };
    let path = parts
        .next()
        .filter(|p| p.starts_with('/'))
        .ok_or_else(bad)?;
    let channel = take_inherited_fd(fd).map_err(|e| format!("bind mount channel fd: {e}"))?;
    Ok(GoferMount {
        host_path: PathBuf::from(path),
        read_only,
        host_uds: false,
        channels: vec![channel],
    })
}

/// One host directory the gofer serves, on its own channels.
pub struct GoferMount {
    pub host_path: PathBuf,
    /// Every write open and mutating request is refused with EROFS.
    pub read_only: bool,
    /// Connect to host unix sockets in it on request (`runsc --host-uds=open`).
    pub host_uds: bool,
    pub channels: Vec<OwnedFd>,
}

/// Opens every mount's root, confines the process, then serves all mounts until every
/// channel's peer hangs up: the root first, then one entry per bind mount, whose sentry side
/// is a `sentry::vfs::BindMount` on the other end of the channels.
pub fn serve_mounts(mounts: Vec<GoferMount>) -> Result<(), String> {
    let mut servers = Vec::with_capacity(mounts.len());
    let host_uds = mounts.iter().any(|m| m.host_uds);
    for m in mounts {
        let server = Server::new(&ServerConfig {
            root: m.host_path,
            read_only: m.read_only,
        })
        .map_err(|e| e.to_string())?
        .with_host_uds(m.host_uds);
        servers.push((server, m.channels));
    }
    // Every mount's root (and /proc/self/fd, for reopening) is an open descriptor now: leave
    // the host's file tree for an empty root in namespaces of our own, as the sentry does.
    isolate::unshare_for_gofer()?;
    isolate::enter_empty_root(&isolate::staging_dir())?;
    confine_with(&ConfineOptions::default(), host_uds).map_err(|e| e.to_string())?;
    Server::serve_all(servers).map_err(|e| e.to_string())
}
