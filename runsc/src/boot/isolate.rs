//! Isolation of the sandbox's own processes (DESIGN.md "Isolation of the sandbox processes",
//! after gVisor's `runsc/sandbox` and `runsc/specutils/namespace.go`): the namespaces `runsc
//! boot` is started in, the empty root it pivots into, and the capabilities it gives up before
//! its seccomp filter goes on.
//!
//! Namespaces are entered between fork and exec (`unshare(2)`, `setns(2)` on a path the spec
//! names); the root and the capabilities are dropped by the sentry itself once everything that
//! needs a host path (the master stub is exec'd from a memfd, the debug log is an inherited
//! fd) is done. The sentry is pid 1 of a new pid namespace, with its stub processes: the
//! platforms name stubs by the pids fork and clone return inside them, so the sentry must be
//! created in the namespace, not move there (`unshare(CLONE_NEWPID)` only places children).
//! The process the front end spawned stays outside as the sentry's supervisor
//! (`crate::sys::fork_pid_namespace_init`).

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

/// Which network namespace the sentry lives in.
#[derive(Debug)]
pub enum NetworkNamespace {
    /// A new, empty one (OCI `network` namespace without a path; `--network=none`).
    New,
    /// The one at this path (Docker's host network, a CNI namespace, a pod's), opened by the
    /// front end.
    Join(OwnedFd),
    /// The caller's (`--network=host`; an OCI spec without a network namespace).
    Host,
}

/// Opens a namespace file named by the spec, for [`NetworkNamespace::Join`].
pub fn open_namespace(path: &Path) -> Result<OwnedFd, String> {
    std::fs::File::open(path)
        .map(OwnedFd::from)
        .map_err(|e| format!("namespace {}: {e}", path.display()))
}

/// Enters the sentry's namespaces. Runs in the forked child before exec: async-signal-safe
/// syscalls only (unshare, setns, fork), no allocation. Returns in a new child, pid 1 of the
/// new pid namespace; the caller stays behind as its supervisor and never returns.
pub fn enter_namespaces(net: &NetworkNamespace) -> std::io::Result<()> {
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWPID;
    if matches!(net, NetworkNamespace::New) {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    if let NetworkNamespace::Join(fd) = net {
        setns(fd, CloneFlags::CLONE_NEWNET)?;
    }
    unshare(flags)?;
    if matches!(net, NetworkNamespace::New) {
        // The engine may add interfaces later (Docker's hook); `lo` is ours to bring up.
        crate::sys::loopback_up()?;
    }
    crate::sys::fork_pid_namespace_init()
}

/// Moves the calling process, which must be single-threaded, into new mount, IPC, UTS and
/// network namespaces: the gofer's, once it has opened the directories it serves.
pub fn unshare_for_gofer() -> Result<(), String> {
    unshare(
        CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWIPC
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWNET,
    )
    .map_err(|e| format!("unshare: {e}"))
}

/// Makes the calling process's root an empty, read-only tmpfs in its own mount namespace, so
/// that no host path names anything any more. Needs the mount namespace of
/// [`enter_namespaces`]; `dir` is any existing directory to stage the new root on (it is
/// shadowed only in this namespace).
pub fn enter_empty_root(dir: &Path) -> Result<(), String> {
    let e = |what: &'static str| move |err: nix::errno::Errno| format!("empty root: {what}: {err}");
    // Nothing we do here may propagate back to the host's mounts.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(e("making / private"))?;
    mount(
        Some("runsc-root"),
        dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("size=4k,mode=0555"),
    )
    .map_err(e("mounting tmpfs"))?;
    nix::unistd::chdir(dir).map_err(e("chdir"))?;
    // pivot_root(".", "."): the old root is stacked on the new one, then detached.
    let dot = CString::new(".").expect("invariant: no NUL in a literal");
    // SAFETY: pivot_root takes two NUL-terminated paths and changes only mount tables.
    let r = unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) };
    nix::errno::Errno::result(r).map_err(e("pivot_root"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(e("detaching the old root"))?;
    nix::unistd::chdir("/").map_err(e("chdir /"))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .map_err(e("remounting the root read-only"))?;
    Ok(())
}

/// A directory to stage the empty root on: /tmp, which every host has, else /.
pub fn staging_dir() -> PathBuf {
    let tmp = Path::new("/tmp");
    if tmp.is_dir() {
        tmp.to_path_buf()
    } else {
        PathBuf::from("/")
    }
}

/// Gives up every capability (bounding, ambient, effective, permitted, inheritable) and sets
/// `no_new_privs`. The sentry needs none: it traces and reads the memory of its own children,
/// all of the same uid.
pub fn drop_capabilities() -> Result<(), String> {
    crate::sys::drop_all_capabilities().map_err(|e| format!("dropping capabilities: {e}"))?;
    nix::sys::prctl::set_no_new_privs().map_err(|e| format!("no_new_privs: {e}"))
}
