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
//! (`crate::sys::fork_pid_namespace_init`), the container's pid on the host: it is in the
//! namespaces `linux.namespaces` names (`HostNamespaces`, as runc's container process is), so
//! that `/proc/<pid>/ns/*` tells hooks and engines the truth about the spec, while the sentry
//! keeps mount, IPC, UTS and pid namespaces of its own.

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

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

/// One namespace type of the supervisor, the host process that stands for the container (the
/// state's pid), as `linux.namespaces` asks (runtime-spec `config-linux.md` "Namespaces"): a
/// type the spec omits is the runtime's, one without a path is new, one with a path is that
/// namespace. The sentry's own namespaces do not follow it (see [`HostNamespaces`]).
#[derive(Debug, Default)]
pub enum HostNamespace {
    /// The runtime's (the type is not in the spec).
    #[default]
    Inherit,
    /// A new one (no path).
    New,
    /// The one at the spec's path, opened by the front end.
    Join(OwnedFd),
}

/// The namespaces of the supervisor besides the network one ([`NetworkNamespace`], which the
/// sentry shares), so that `/proc/<state pid>/ns/*` says what the spec asked, as runc's
/// container process does: what hooks and engines that enter `/proc/<pid>/ns/*` find, and what
/// the OCI validation's `linux_ns_*` programs compare.
///
/// Isolation does not depend on them: the sentry is always in new mount, IPC, UTS and pid
/// namespaces of its own. A new mount, IPC, UTS or cgroup namespace the spec asks for is made
/// before the sentry is forked and shared with it (the sentry's pivot into an empty root then
/// empties the supervisor's view too); a joined one, and a new user namespace, are entered by
/// the supervisor alone after the fork (the sentry makes its own from the runtime's). The pid
/// namespace is the one the supervisor is created in ([`spawn_supervisor`]); the sentry is
/// pid 1 of a new one below it.
#[derive(Debug, Default)]
pub struct HostNamespaces {
    pub pid: HostNamespace,
    pub ipc: HostNamespace,
    pub uts: HostNamespace,
    pub mnt: HostNamespace,
    pub cgroup: HostNamespace,
    pub user: HostNamespace,
    /// What is written to the supervisor's `uid_map` and `gid_map` when `user` is new
    /// (`linux.uidMappings`, `linux.gidMappings`: "container host size" lines,
    /// user_namespaces(7)); empty when the spec gives none.
    pub uid_map: Vec<u8>,
    pub gid_map: Vec<u8>,
}

impl HostNamespaces {
    /// Reads `linux.namespaces` (all but `network`, which is [`NetworkNamespace`], and `time`,
    /// which the supervisor does not follow: it keeps the runtime's) and the id mappings,
    /// opening every path.
    pub fn from_spec(spec: &oci_spec::runtime::Spec) -> Result<Self, String> {
        use oci_spec::runtime::LinuxNamespaceType as T;
        let mut out = Self::default();
        let Some(linux) = spec.linux() else {
            return Ok(out);
        };
        for n in linux.namespaces().iter().flatten() {
            let slot = match n.typ() {
                T::Pid => &mut out.pid,
                T::Ipc => &mut out.ipc,
                T::Uts => &mut out.uts,
                T::Mount => &mut out.mnt,
                T::Cgroup => &mut out.cgroup,
                T::User => &mut out.user,
                T::Network | T::Time => continue,
            };
            *slot = match n.path() {
                Some(path) => HostNamespace::Join(open_namespace(path)?),
                None => HostNamespace::New,
            };
        }
        let map = |m: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
            let mut text = String::new();
            for m in m.iter().flatten() {
                text.push_str(&format!(
                    "{} {} {}\n",
                    m.container_id(),
                    m.host_id(),
                    m.size()
                ));
            }
            text.into_bytes()
        };
        out.uid_map = map(linux.uid_mappings());
        out.gid_map = map(linux.gid_mappings());
        Ok(out)
    }

    /// The namespaces to unshare before the sentry is forked, shared by both processes.
    fn shared_new(&self) -> CloneFlags {
        let mut flags = CloneFlags::empty();
        for (ns, flag) in self.shareable() {
            if matches!(ns, HostNamespace::New) {
                flags |= flag;
            }
        }
        flags
    }

    /// The namespaces the sentry unshares after the fork: its mount, IPC and UTS namespaces
    /// are always its own; those the supervisor does not share with it.
    pub fn sentry_own(&self) -> CloneFlags {
        (CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS)
            - self.shared_new()
    }

    /// Whether the supervisor makes a user namespace whose maps the sentry writes.
    pub fn maps_user(&self) -> bool {
        matches!(self.user, HostNamespace::New)
            && !(self.uid_map.is_empty() && self.gid_map.is_empty())
    }

    fn shareable(&self) -> [(&HostNamespace, CloneFlags); 4] {
        [
            (&self.ipc, CloneFlags::CLONE_NEWIPC),
            (&self.uts, CloneFlags::CLONE_NEWUTS),
            (&self.cgroup, CloneFlags::CLONE_NEWCGROUP),
            (&self.mnt, CloneFlags::CLONE_NEWNS),
        ]
    }
}

/// Enters the namespaces the supervisor takes alone, after the sentry is forked: the joined
/// ones, then the user namespace (joined or new; last, since entering it gives up the
/// runtime's capabilities). Raw syscalls only, no allocation (runs between fork and exec).
pub fn enter_supervisor_namespaces(ns: &HostNamespaces) -> nix::Result<()> {
    for (n, flag) in ns.shareable() {
        if let HostNamespace::Join(fd) = n {
            setns(fd, flag)?;
        }
    }
    match &ns.user {
        HostNamespace::Join(fd) => setns(fd, CloneFlags::CLONE_NEWUSER),
        HostNamespace::New => unshare(CloneFlags::CLONE_NEWUSER),
        HostNamespace::Inherit => Ok(()),
    }
}

/// Spawns `cmd`, the supervisor-to-be (`runsc boot`), in the pid namespace `ns.pid` names and
/// with the pre-exec work of [`enter_namespaces`]. The pid namespace of a process is fixed at
/// its creation, so this thread moves its own `pid_for_children` (a per-thread setting; the
/// rest of this process is untouched) for the fork and back to its own pid namespace after.
/// (Not from a thread of its own: the child's `PR_SET_PDEATHSIG` fires when the thread that
/// forked it ends.)
pub fn spawn_supervisor(
    cmd: &mut Command,
    net: NetworkNamespace,
    mut ns: HostNamespaces,
) -> std::io::Result<Child> {
    let pid = std::mem::take(&mut ns.pid);
    crate::sys::in_namespaces(cmd, net, ns);
    let flag = CloneFlags::CLONE_NEWPID;
    let own = match &pid {
        HostNamespace::Inherit => return cmd.spawn(),
        _ => std::fs::File::open("/proc/thread-self/ns/pid")?,
    };
    match &pid {
        HostNamespace::Join(fd) => setns(fd, flag)?,
        _ => unshare(flag)?,
    }
    let child = cmd.spawn();
    if let Err(e) = setns(&own, flag) {
        if let Ok(mut c) = child {
            let _ = c.kill();
            let _ = c.wait();
        }
        return Err(std::io::Error::other(format!(
            "returning to our own pid namespace: {e}"
        )));
    }
    child
}

/// Enters the sentry's namespaces. Runs in the forked child before exec: async-signal-safe
/// syscalls only (unshare, setns, fork), no allocation. Returns in a new child, pid 1 of the
/// new pid namespace; the caller stays behind as its supervisor and never returns.
pub fn enter_namespaces(net: &NetworkNamespace, host: &HostNamespaces) -> std::io::Result<()> {
    let mut flags = CloneFlags::CLONE_NEWPID | host.shared_new();
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
    crate::sys::fork_pid_namespace_init(host)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(linux: &str) -> oci_spec::runtime::Spec {
        serde_json::from_str(&format!(r#"{{"ociVersion":"1.0.2","linux":{linux}}}"#)).unwrap()
    }

    #[test]
    fn host_namespaces_follow_the_spec_and_the_sentry_keeps_its_own() {
        let ns = HostNamespaces::from_spec(&spec(
            r#"{"namespaces":[{"type":"ipc"},{"type":"uts","path":"/proc/self/ns/uts"},
                {"type":"user"},{"type":"network"}],
               "uidMappings":[{"containerID":0,"hostID":1000,"size":10}]}"#,
        ))
        .unwrap();
        assert!(matches!(ns.ipc, HostNamespace::New));
        assert!(matches!(ns.uts, HostNamespace::Join(_)));
        assert!(matches!(ns.mnt, HostNamespace::Inherit));
        assert!(matches!(ns.pid, HostNamespace::Inherit));
        assert!(ns.maps_user());
        assert_eq!(ns.uid_map, b"0 1000 10\n");
        assert!(ns.gid_map.is_empty());
        // The new IPC namespace is shared with the sentry; it makes its own mount and UTS ones.
        assert_eq!(
            ns.sentry_own(),
            CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS
        );
        let none = HostNamespaces::from_spec(&spec("{}")).unwrap();
        assert!(!none.maps_user());
        assert_eq!(
            none.sentry_own(),
            CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS
        );
        let bad = HostNamespaces::from_spec(&spec(
            r#"{"namespaces":[{"type":"pid","path":"/nonexistent/ns"}]}"#,
        ));
        assert!(bad.unwrap_err().contains("/nonexistent/ns"));
    }
}
