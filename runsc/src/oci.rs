//! Reading an OCI bundle (runtime-spec `config.md`, after runc's `libcontainer/specconv`):
//! `config.json` is parsed with `oci-spec`, checked, and turned into the sentry's boot spec.
//! Every problem is one line naming the field; fields the sandbox does not honour yet become
//! warnings in the log, never a silent lie.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Process, Spec};

use crate::boot::spec::{
    BootSpec, CapsSpec, DeviceSpec, FsKind, FsMountSpec, MountSpec, RlimitSpec, SpecSettings,
};
use crate::cmd::r#do::resolve_program;
use crate::sandbox::HostMount;

pub mod seccomp;

/// `PATH` for finding the program when the spec's environment has none (runc's default).
const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A bundle, read and checked.
#[derive(Debug)]
pub struct Bundle {
    /// Absolute bundle directory.
    pub dir: PathBuf,
    /// Absolute root filesystem directory on the host.
    pub rootfs: PathBuf,
    pub readonly_root: bool,
    pub spec: Spec,
    pub boot: BootSpec,
    /// The host side of `boot.mounts`, in the same order.
    pub mounts: Vec<HostMount>,
    /// linux.namespaces' network entry: None without one (the host's network), Some(None) for
    /// a new one, Some(Some(path)) to join.
    pub network: Option<Option<PathBuf>>,
    /// What the sandbox does not honour from this spec, one line each.
    pub warnings: Vec<String>,
}

/// Reads `<bundle>/config.json`.
pub fn load(bundle: &Path) -> Result<Bundle, String> {
    let dir =
        std::fs::canonicalize(bundle).map_err(|e| format!("bundle {}: {e}", bundle.display()))?;
    let config = dir.join("config.json");
    let text = std::fs::read(&config).map_err(|e| format!("{}: {e}", config.display()))?;
    let spec: Spec = serde_json::from_slice(&text)
        .map_err(|e| format!("{}: invalid config: {e}", config.display()))?;
    from_spec(dir, spec).map_err(|e| format!("{}: {e}", config.display()))
}

fn from_spec(dir: PathBuf, spec: Spec) -> Result<Bundle, String> {
    let mut warnings = Vec::new();
    let root = spec.root().as_ref().ok_or("root is missing")?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        dir.join(root.path())
    };
    let rootfs = std::fs::canonicalize(&rootfs)
        .map_err(|e| format!("root.path {}: {e}", rootfs.display()))?;
    if !rootfs.is_dir() {
        return Err(format!("root.path {}: not a directory", rootfs.display()));
    }
    let readonly_root = root.readonly().unwrap_or(false);
    let process = spec.process().as_ref().ok_or("process is missing")?;
    let mut boot = boot_spec(process, &spec, &rootfs, &mut warnings)?;
    boot.root_readonly = readonly_root;
    let (binds, fs_mounts) = bind_mounts(&spec, &dir, &mut warnings)?;
    boot.settings.fs_mounts = Some(fs_mounts);
    boot.settings.devices = devices(&spec, &mut warnings)?;
    boot.mounts = binds.iter().map(|(_, m)| m.clone()).collect();
    let mounts = binds.into_iter().map(|(h, _)| h).collect();
    let network = network_namespace(&spec);
    // A container's inet sockets are host sockets in its network namespace: a new one, which
    // the engine configures after create (Docker's bridge hook adds eth0), one joined by path
    // (CNI's, a pod's), or the host's when the spec has none. (`--network=none` keeps the
    // sentry's loopback-only stack instead.)
    boot.settings.host_network = true;
    // The console is /dev/pts/0 of the container's own devpts, as runc's `newinstance`.
    boot.settings.own_pts_numbers = true;
    check_linux(&spec, &mut warnings);
    check_namespace_paths(&spec)?;
    Ok(Bundle {
        dir,
        rootfs,
        readonly_root,
        spec,
        boot,
        mounts,
        network,
        warnings,
    })
}

fn boot_spec(
    process: &Process,
    spec: &Spec,
    rootfs: &Path,
    warnings: &mut Vec<String>,
) -> Result<BootSpec, String> {
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err("process.args is empty".into());
    }
    let cwd = process.cwd();
    if !cwd.is_absolute() {
        return Err(format!("process.cwd {:?} is not absolute", cwd.display()));
    }
    let envv: Vec<Vec<u8>> = process
        .env()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(String::into_bytes)
        .collect();
    for kv in &envv {
        if !kv.contains(&b'=') {
            return Err(format!(
                "process.env entry {:?} is not KEY=VALUE",
                String::from_utf8_lossy(kv)
            ));
        }
    }
    let path_var = envv
        .iter()
        .find_map(|kv| kv.strip_prefix(b"PATH="))
        .unwrap_or(DEFAULT_PATH);
    let mut argv: Vec<Vec<u8>> = args.into_iter().map(String::into_bytes).collect();
    let Some(resolved) = resolve_program(&argv[0], path_var, rootfs) else {
        return Err(format!(
            "exec: {:?}: executable file not found in $PATH",
            String::from_utf8_lossy(&argv[0])
        ));
    };
    argv[0] = resolved;
    let user = process.user();
    let mut hostname = match spec.hostname() {
        Some(h) if !h.is_empty() => h.clone(),
        _ => nix::unistd::gethostname()
            .map_err(|e| format!("gethostname: {e}"))?
            .to_string_lossy()
            .into_owned(),
    };
    let mut settings = SpecSettings {
        rlimits: rlimits(process)?,
        umask: user.umask(),
        no_new_privs: process.no_new_privileges().unwrap_or(false),
        // No capabilities in the spec: none at all, as under runc.
        caps: Some(
            process
                .capabilities()
                .as_ref()
                .map(caps_of)
                .unwrap_or_default(),
        ),
        oom_score_adj: process.oom_score_adj(),
        domainname: spec.domainname().clone().filter(|d| !d.is_empty()),
        ..SpecSettings::default()
    };
    if let Some(linux) = spec.linux() {
        settings.masked_paths = abs_paths(linux.masked_paths(), "linux.maskedPaths")?;
        settings.readonly_paths = abs_paths(linux.readonly_paths(), "linux.readonlyPaths")?;
        settings.sysctl = sysctls(spec, warnings)?;
        settings.root_propagation = match linux.rootfs_propagation().as_deref() {
            None | Some("") => None,
            Some(p) if sentry::vfs::mount::propagation_flags(p).is_some() => Some(p.to_string()),
            Some(p) => {
                return Err(format!(
                    "linux.rootfsPropagation {p:?} is not a propagation type"
                ))
            }
        };
        settings.seccomp = linux
            .seccomp()
            .as_ref()
            .map(|s| seccomp::compile(s, seccomp::syscall_nr).map(|p| seccomp::encode(&p)))
            .transpose()?;
    }
    // runc writes the sysctls after setting the names: theirs win.
    for (k, v) in &settings.sysctl {
        match k.as_str() {
            "kernel.hostname" => hostname = v.clone(),
            "kernel.domainname" => settings.domainname = Some(v.clone()),
            _ => {}
        }
    }
    Ok(BootSpec {
        argv,
        envv,
        cwd: cwd.as_os_str().as_bytes().to_vec(),
        hostname,
        uid: user.uid(),
        gid: user.gid(),
        groups: user.additional_gids().clone().unwrap_or_default(),
        strace: None,
        debug: false,
        root_readonly: false,
        mounts: Vec::new(),
        settings,
    })
}

/// The Linux resource number of an OCI rlimit type (`RLIMIT_NOFILE` → 7).
fn rlimit_number(t: oci_spec::runtime::PosixRlimitType) -> u32 {
    use oci_spec::runtime::PosixRlimitType as R;
    match t {
        R::RlimitCpu => libc::RLIMIT_CPU,
        R::RlimitFsize => libc::RLIMIT_FSIZE,
        R::RlimitData => libc::RLIMIT_DATA,
        R::RlimitStack => libc::RLIMIT_STACK,
        R::RlimitCore => libc::RLIMIT_CORE,
        R::RlimitRss => libc::RLIMIT_RSS,
        R::RlimitNproc => libc::RLIMIT_NPROC,
        R::RlimitNofile => libc::RLIMIT_NOFILE,
        R::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        R::RlimitAs => libc::RLIMIT_AS,
        R::RlimitLocks => libc::RLIMIT_LOCKS,
        R::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        R::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        R::RlimitNice => libc::RLIMIT_NICE,
        R::RlimitRtprio => libc::RLIMIT_RTPRIO,
        R::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// `process.rlimits`, over the limits of this process for the resources the spec leaves out
/// (runc's container inherits those from runc); a soft limit above the hard one fails as
/// setrlimit(2) would in runc.
fn rlimits(process: &Process) -> Result<Vec<RlimitSpec>, String> {
    use nix::sys::resource::{getrlimit, Resource as H};
    let host = [
        H::RLIMIT_CPU,
        H::RLIMIT_FSIZE,
        H::RLIMIT_DATA,
        H::RLIMIT_STACK,
        H::RLIMIT_CORE,
        H::RLIMIT_RSS,
        H::RLIMIT_NPROC,
        H::RLIMIT_NOFILE,
        H::RLIMIT_MEMLOCK,
        H::RLIMIT_AS,
        H::RLIMIT_LOCKS,
        H::RLIMIT_SIGPENDING,
        H::RLIMIT_MSGQUEUE,
        H::RLIMIT_NICE,
        H::RLIMIT_RTPRIO,
        H::RLIMIT_RTTIME,
    ];
    let mut out: Vec<RlimitSpec> = host
        .into_iter()
        .filter_map(|r| {
            let (soft, hard) = getrlimit(r).ok()?;
            Some(RlimitSpec {
                resource: r as u32,
                soft,
                hard,
            })
        })
        .collect();
    for r in process.rlimits().as_deref().unwrap_or_default() {
        let spec = RlimitSpec {
            resource: rlimit_number(r.typ()),
            soft: r.soft(),
            hard: r.hard(),
        };
        if spec.soft > spec.hard {
            return Err(format!(
                "process.rlimits {:?}: soft limit {} above hard limit {}",
                r.typ(),
                spec.soft,
                spec.hard
            ));
        }
        out.retain(|o| o.resource != spec.resource);
        out.push(spec);
    }
    Ok(out)
}

/// Capability names in number order (`include/uapi/linux/capability.h`, 0 to 40).
pub const CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// A capability set as a bit mask (names as the spec writes them, through oci-spec's serde).
fn cap_mask(set: &Option<oci_spec::runtime::Capabilities>) -> u64 {
    let mut mask = 0u64;
    for cap in set.iter().flatten() {
        let name = serde_json::to_value(cap)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        if let Some(n) = CAP_NAMES.iter().position(|c| *c == name) {
            mask |= 1 << n;
        }
    }
    mask
}

fn caps_of(c: &oci_spec::runtime::LinuxCapabilities) -> CapsSpec {
    CapsSpec {
        effective: cap_mask(c.effective()),
        permitted: cap_mask(c.permitted()),
        inheritable: cap_mask(c.inheritable()),
        bounding: cap_mask(c.bounding()),
        ambient: cap_mask(c.ambient()),
    }
}

fn abs_paths(paths: &Option<Vec<String>>, field: &str) -> Result<Vec<Vec<u8>>, String> {
    paths
        .iter()
        .flatten()
        .map(|p| {
            if p.starts_with('/') {
                Ok(p.clone().into_bytes())
            } else {
                Err(format!("{field} entry {p:?} is not absolute"))
            }
        })
        .collect()
}

/// sysctls the sandbox shows under /proc/sys (the rest of a namespaced, existing key is
/// accepted with a warning).
const SANDBOX_SYSCTLS: &[&str] = &[
    "fs.mqueue.msg_max",
    "fs.mqueue.msgsize_max",
    "fs.mqueue.queues_max",
    "kernel.domainname",
    "kernel.hostname",
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "net.core.somaxconn",
    "net.ipv4.ip_forward",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ping_group_range",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_syncookies",
];

/// `linux.sysctl`, checked as runc checks it (`libcontainer/configs/validate`): IPC keys need
/// a new IPC namespace, `net.*` a network namespace, the names a UTS namespace, and nothing
/// else is namespaced; a key the kernel lacks fails (runc fails writing it).
fn sysctls(spec: &Spec, warnings: &mut Vec<String>) -> Result<Vec<(String, String)>, String> {
    use oci_spec::runtime::LinuxNamespaceType as T;
    let Some(linux) = spec.linux() else {
        return Ok(Vec::new());
    };
    let Some(map) = linux.sysctl() else {
        return Ok(Vec::new());
    };
    let has_ns = |t: T| {
        linux
            .namespaces()
            .as_ref()
            .is_some_and(|ns| ns.iter().any(|n| n.typ() == t))
    };
    let mut out: Vec<(String, String)> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    out.sort();
    for (key, _) in &out {
        let k = key.replace('/', ".");
        let ipc = matches!(
            k.as_str(),
            "kernel.msgmax"
                | "kernel.msgmnb"
                | "kernel.msgmni"
                | "kernel.sem"
                | "kernel.shmall"
                | "kernel.shmmax"
                | "kernel.shmmni"
                | "kernel.shm_rmid_forced"
        ) || k.starts_with("fs.mqueue.");
        let ns = if ipc {
            (T::Ipc, "ipc")
        } else if k.starts_with("net.") {
            (T::Network, "network")
        } else if k == "kernel.hostname" || k == "kernel.domainname" {
            (T::Uts, "uts")
        } else {
            return Err(format!(
                "linux.sysctl {key:?} is not in a separate kernel namespace"
            ));
        };
        if !has_ns(ns.0) {
            return Err(format!(
                "linux.sysctl {key:?} is not allowed in the host's {} namespace",
                ns.1
            ));
        }
        let host = Path::new("/proc/sys").join(k.replace('.', "/"));
        if !host.exists() {
            return Err(format!("linux.sysctl {key:?}: no such sysctl"));
        }
        if !SANDBOX_SYSCTLS.contains(&k.as_str()) {
            warnings.push(format!(
                "linux.sysctl {key:?} is accepted but not shown in the sandbox's /proc/sys"
            ));
        }
    }
    Ok(out
        .into_iter()
        .map(|(k, v)| (k.replace('/', "."), v))
        .collect())
}

/// What `runsc create` applies to itself before it starts the sandbox, so that the sandbox's
/// processes inherit it: `process.oomScoreAdj` (runc writes the container's
/// /proc/self/oom_score_adj the same way).
pub fn apply_host_settings(bundle: &Bundle) -> Result<(), String> {
    let Some(adj) = bundle.boot.settings.oom_score_adj else {
        return Ok(());
    };
    std::fs::write("/proc/self/oom_score_adj", adj.to_string())
        .map_err(|e| format!("process.oomScoreAdj {adj}: writing /proc/self/oom_score_adj: {e}"))
}

/// Mount types the sentry provides itself (its /proc, /sys, /dev, tmpfs).
const SYNTHETIC_MOUNTS: &[&str] = &[
    "proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2",
];

/// A bind mount: the host side and the sandbox side.
type Bind = (HostMount, MountSpec);

/// Checks the spec's mounts and returns its bind mounts (of directories and of regular files),
/// in order, and every mount the sentry makes, in the spec's order.
fn bind_mounts(
    spec: &Spec,
    bundle: &Path,
    warnings: &mut Vec<String>,
) -> Result<(Vec<Bind>, Vec<FsMountSpec>), String> {
    let mut binds = Vec::new();
    let mut fs_mounts = Vec::new();
    for m in spec.mounts().as_deref().unwrap_or_default() {
        let dest = m.destination();
        if !dest.is_absolute() {
            return Err(format!(
                "mount destination {:?} is not absolute",
                dest.display()
            ));
        }
        let typ = m.typ().as_deref().unwrap_or("");
        let bind = typ == "bind"
            || m.options()
                .as_ref()
                .is_some_and(|o| o.iter().any(|x| x == "bind" || x == "rbind"));
        if bind {
            let Some(source) = m.source() else {
                return Err(format!("bind mount {} has no source", dest.display()));
            };
            let source = bundle.join(source);
            let source = std::fs::canonicalize(&source)
                .map_err(|e| format!("bind mount source {}: {e}", source.display()))?;
            // A directory or a regular file (Docker's /etc/hosts, /etc/hostname and
            // /etc/resolv.conf); the gofer serves either as the mount's root.
            if !source.is_dir() && !source.is_file() {
                warnings.push(format!(
                    "bind mount of {} at {} is not served (neither a directory nor a regular file)",
                    source.display(),
                    dest.display()
                ));
                continue;
            }
            let readonly = m
                .options()
                .as_ref()
                .is_some_and(|o| o.iter().any(|x| x == "ro"));
            // mountinfo shows a bind as Linux does: the host filesystem's source, and the
            // path within that filesystem as the root.
            let (shown_source, root) = host_mount_of(&source).unwrap_or_else(|| {
                (
                    source.display().to_string(),
                    source.as_os_str().as_bytes().to_vec(),
                )
            });
            fs_mounts.push(FsMountSpec {
                dest: dest.as_os_str().as_bytes().to_vec(),
                kind: FsKind::Bind,
                source: shown_source,
                readonly,
                mode: None,
                options: m.options().clone().unwrap_or_default(),
                root,
            });
            binds.push((
                HostMount { source, readonly },
                MountSpec {
                    dest: dest.as_os_str().as_bytes().to_vec(),
                    readonly,
                },
            ));
        } else if let Some(kind) = FsKind::from_name(typ) {
            let options = m.options().clone().unwrap_or_default();
            // A tmpfs starts with a copy of what it covers (runsc boot: `boot::copyup`).
            if options.iter().any(|o| o == "tmpcopyup") && kind != FsKind::Tmpfs {
                warnings.push(format!(
                    "tmpcopyup applies to a tmpfs only: the {typ} at {} starts as usual",
                    dest.display()
                ));
            }
            let mode = options
                .iter()
                .find_map(|o| o.strip_prefix("mode="))
                .map(|m| {
                    u32::from_str_radix(m, 8)
                        .map_err(|_| format!("mount {}: bad mode={m}", dest.display()))
                })
                .transpose()?;
            fs_mounts.push(FsMountSpec {
                dest: dest.as_os_str().as_bytes().to_vec(),
                kind,
                source: m
                    .source()
                    .as_ref()
                    .map_or_else(|| typ.to_string(), |s| s.display().to_string()),
                readonly: options.iter().any(|o| o == "ro"),
                mode,
                options,
                root: b"/".to_vec(),
            });
        } else if !SYNTHETIC_MOUNTS.contains(&typ) {
            warnings.push(format!(
                "mount type {typ:?} at {} is not supported",
                dest.display()
            ));
        }
    }
    Ok((binds, fs_mounts))
}

/// The host mount holding the host path `path` (canonical), as this process's
/// /proc/self/mountinfo tells: its source, and `path` within its filesystem (mountinfo's root
/// field for a bind of `path`).
fn host_mount_of(path: &Path) -> Option<(String, Vec<u8>)> {
    let info = std::fs::read("/proc/self/mountinfo").ok()?;
    mount_of_in(&info, path.as_os_str().as_bytes())
}

/// `host_mount_of` over the text of a mountinfo file: the mount whose mount point is the
/// longest prefix of `path` (the last one listed, among mounts stacked there).
fn mount_of_in(info: &[u8], path: &[u8]) -> Option<(String, Vec<u8>)> {
    let mut best: Option<(usize, String, Vec<u8>)> = None;
    for line in info.split(|&b| b == b'\n') {
        let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        let Some(dash) = fields.iter().skip(6).position(|f| *f == b"-") else {
            continue;
        };
        let (Some(root), Some(point), Some(source)) =
            (fields.get(3), fields.get(4), fields.get(6 + dash + 2))
        else {
            continue;
        };
        let point = unescape_mountinfo(point);
        let rest = if point == b"/" {
            path
        } else {
            match path.strip_prefix(&point[..]) {
                Some(r) if r.is_empty() || r[0] == b'/' => r,
                _ => continue,
            }
        };
        if best.as_ref().is_some_and(|b| b.0 > point.len()) {
            continue;
        }
        let mut r = unescape_mountinfo(root);
        if r == b"/" && !rest.is_empty() {
            r.clear();
        }
        r.extend_from_slice(rest);
        let source = String::from_utf8_lossy(&unescape_mountinfo(source)).into_owned();
        best = Some((point.len(), source, r));
    }
    best.map(|(_, source, root)| (source, root))
}

/// A mountinfo field with its octal escapes (`\040` for a space) undone.
fn unescape_mountinfo(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let octal = field.get(i + 1..i + 4).filter(|d| {
            field[i] == b'\\' && d[0] <= b'3' && d.iter().all(|c| (b'0'..=b'7').contains(c))
        });
        if let Some(d) = octal {
            out.push(((d[0] - b'0') << 6) | ((d[1] - b'0') << 3) | (d[2] - b'0'));
            i += 4;
        } else {
            out.push(field[i]);
            i += 1;
        }
    }
    out
}

/// `linux.devices` as the sentry's /dev holds them: character, block and FIFO nodes directly
/// under /dev (others are warned about and left out).
fn devices(spec: &Spec, warnings: &mut Vec<String>) -> Result<Vec<DeviceSpec>, String> {
    use oci_spec::runtime::LinuxDeviceType as T;
    let Some(list) = spec.linux().as_ref().and_then(|l| l.devices().as_ref()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for d in list {
        let path = d.path();
        let shown = path.display();
        let name = match path.strip_prefix("/dev") {
            Ok(rest) if rest.components().count() == 1 => rest.as_os_str().as_bytes().to_vec(),
            _ => {
                warnings.push(format!(
                    "linux.devices {shown}: only nodes directly under /dev are made"
                ));
                continue;
            }
        };
        let kind = match d.typ() {
            T::C | T::U => libc::S_IFCHR,
            T::B => libc::S_IFBLK,
            T::P => libc::S_IFIFO,
            other => {
                warnings.push(format!(
                    "linux.devices {shown}: type {other:?} is not supported"
                ));
                continue;
            }
        };
        let major =
            u32::try_from(d.major()).map_err(|_| format!("linux.devices {shown}: major"))?;
        let minor =
            u32::try_from(d.minor()).map_err(|_| format!("linux.devices {shown}: minor"))?;
        out.push(DeviceSpec {
            name,
            kind,
            major,
            minor,
            perm: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    Ok(out)
}

fn network_namespace(spec: &Spec) -> Option<Option<PathBuf>> {
    let namespaces = spec.linux().as_ref()?.namespaces().as_ref()?;
    namespaces
        .iter()
        .find(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Network)
        .map(|n| n.path().clone())
}

fn check_linux(spec: &Spec, warnings: &mut Vec<String>) {
    let Some(linux) = spec.linux() else { return };
    if let Some(ns) = linux.namespaces() {
        use oci_spec::runtime::LinuxNamespaceType as T;
        for n in ns
            .iter()
            .filter(|n| n.path().is_some() && n.typ() != T::Network)
        {
            // A sandbox of ours owning the path is joined instead (`pod::sandbox_by_namespace`,
            // which drops these warnings): any other namespace holds no sandbox's processes.
            warnings.push(format!(
                "joining the {:?} namespace by path is not supported: {} is not a sandbox of \
                 this runtime, and the container gets a namespace of its own",
                n.typ(),
                n.path()
                    .as_deref()
                    .map_or_else(String::new, |p| p.display().to_string())
            ));
        }
    }
}

/// The name a namespace type has under `/proc/PID/ns/`, which is also the prefix of those
/// links' targets (`ipc:[4026531839]`).
fn ns_proc_name(t: oci_spec::runtime::LinuxNamespaceType) -> &'static str {
    use oci_spec::runtime::LinuxNamespaceType as T;
    match t {
        T::Mount => "mnt",
        T::Cgroup => "cgroup",
        T::Uts => "uts",
        T::Ipc => "ipc",
        T::User => "user",
        T::Pid => "pid",
        T::Network => "net",
        T::Time => "time",
    }
}

/// `linux.namespaces` paths, checked as runc's setns would find them (runtime-spec
/// `config-linux.md`: "the runtime MUST generate an error" when the path is not a namespace of
/// the entry's type): a `/proc/PID/ns/` link must name that type; any other path must be a
/// namespace file (on nsfs, as `/run/netns/` bind mounts are), whose type a stat cannot tell.
fn check_namespace_paths(spec: &Spec) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let Some(namespaces) = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref()) else {
        return Ok(());
    };
    for n in namespaces {
        let Some(path) = n.path() else { continue };
        let want = ns_proc_name(n.typ());
        let what = || format!("linux.namespaces: {want} path {}", path.display());
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", what()))?;
        let link = std::fs::read_link(path).ok();
        let link_type = link.as_ref().and_then(|l| {
            let l = l.to_str()?;
            let (name, rest) = l.split_once(':')?;
            (rest.starts_with('[') && rest.ends_with(']')).then(|| name.to_string())
        });
        match link_type {
            // pid_for_children and time_for_children name their namespaces `pid:`, `time:`.
            Some(name) if name == want => {}
            Some(name) => {
                return Err(format!(
                    "{}: a {name} namespace, not a {want} namespace",
                    what()
                ))
            }
            None => {
                let nsfs = std::fs::metadata(format!("/proc/self/ns/{want}"))
                    .map_err(|e| format!("{}: /proc/self/ns/{want}: {e}", what()))?;
                if meta.dev() != nsfs.dev() {
                    return Err(format!("{}: not a namespace file", what()));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_with(config: &str) -> (PathBuf, Result<Bundle, String>) {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("runsc-oci-{}-{n}", std::process::id()));
        std::fs::create_dir_all(dir.join("rootfs/bin")).unwrap();
        std::fs::write(dir.join("rootfs/bin/sh"), b"").unwrap();
        std::fs::write(dir.join("config.json"), config).unwrap();
        let r = load(&dir);
        (dir, r)
    }

    const GOOD: &str = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs","readonly":true},
        "process":{"args":["sh","-c","true"],"env":["PATH=/bin"],"cwd":"/",
                   "user":{"uid":1,"gid":2,"additionalGids":[3]}},
        "hostname":"box","mounts":[{"destination":"/proc","type":"proc","source":"proc"}]}"#;

    #[test]
    fn namespace_paths_must_be_namespaces_of_their_type() {
        let with_ns = |typ: &str, path: &str| {
            GOOD.replace(
                r#""hostname":"box""#,
                &format!(
                    r#""hostname":"box","linux":{{"namespaces":[{{"type":"{typ}","path":"{path}"}}]}}"#
                ),
            )
        };
        let (dir, r) = bundle_with(&with_ns("ipc", "/proc/self/ns/ipc"));
        assert!(r.is_ok(), "{r:?}");
        let _ = std::fs::remove_dir_all(dir);
        let (dir, r) = bundle_with(&with_ns("mount", "/proc/self/ns/mnt"));
        assert!(r.is_ok(), "{r:?}");
        let _ = std::fs::remove_dir_all(dir);
        let (dir, r) = bundle_with(&with_ns("uts", "/proc/self/ns/ipc"));
        let err = r.unwrap_err();
        assert!(
            err.contains("a ipc namespace, not a uts namespace"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(dir);
        let (dir, r) = bundle_with(&with_ns("network", "/"));
        let err = r.unwrap_err();
        assert!(err.contains("not a namespace file"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
        let (dir, r) = bundle_with(&with_ns("pid", "/nonexistent/ns"));
        assert!(r.unwrap_err().contains("/nonexistent/ns"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn good_bundle_becomes_a_boot_spec() {
        let (dir, r) = bundle_with(GOOD);
        let b = r.unwrap();
        assert_eq!(b.rootfs, std::fs::canonicalize(dir.join("rootfs")).unwrap());
        assert!(b.readonly_root);
        assert_eq!(b.boot.argv[0], b"/bin/sh");
        assert_eq!(
            (b.boot.uid, b.boot.gid, b.boot.groups.clone()),
            (1, 2, vec![3])
        );
        assert_eq!(b.boot.hostname, "box");
        assert!(b.warnings.is_empty(), "{:?}", b.warnings);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn process_and_linux_settings_reach_the_boot_spec() {
        let config = GOOD
            .replace(
                r#""hostname":"box""#,
                r#""hostname":"box","domainname":"d.org",
               "linux":{"namespaces":[{"type":"uts"},{"type":"ipc"}],
                        "sysctl":{"kernel.shmmni":"99","kernel.hostname":"sys"},
                        "maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"]}"#,
            )
            .replace(
                r#""cwd":"/","#,
                r#""cwd":"/","noNewPrivileges":true,"oomScoreAdj":-5,
               "rlimits":[{"type":"RLIMIT_NOFILE","soft":10,"hard":20}],
               "capabilities":{"bounding":["CAP_KILL","CAP_CHOWN"],"effective":["CAP_KILL"]},"#,
            )
            .replace(r#""uid":1,"#, r#""uid":1,"umask":63,"#);
        let (dir, r) = bundle_with(&config);
        let b = r.unwrap();
        let s = &b.boot.settings;
        let nofile = s.rlimits.iter().find(|r| r.resource == 7).unwrap();
        assert_eq!((nofile.soft, nofile.hard), (10, 20));
        assert_eq!(s.umask, Some(0o77));
        assert!(s.no_new_privs);
        assert_eq!(s.oom_score_adj, Some(-5));
        let caps = s.caps.unwrap();
        assert_eq!(
            (caps.bounding, caps.effective, caps.permitted),
            (0b10_0001, 0b10_0000, 0)
        );
        assert_eq!(s.domainname.as_deref(), Some("d.org"));
        assert_eq!(b.boot.hostname, "sys", "the sysctl wins, as in runc");
        assert_eq!(s.masked_paths, vec![b"/proc/kcore".to_vec()]);
        assert_eq!(s.readonly_paths, vec![b"/proc/sys".to_vec()]);
        assert!(b.warnings.is_empty(), "{:?}", b.warnings);
        let _ = std::fs::remove_dir_all(dir);

        let (dir, r) = bundle_with(&GOOD.replace(
            r#""hostname":"box""#,
            r#""hostname":"box","linux":{"sysctl":{"net.ipv4.ip_forward":"1"}}"#,
        ));
        assert!(r.unwrap_err().contains("network namespace"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn bad_bundles_name_the_problem() {
        let cases = [
            (r#"{"root":{"path":"rootfs"}}"#, "process is missing"),
            (
                r#"{"process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}}}"#,
                "root is missing",
            ),
            (
                &GOOD.replace(r#""uid":1"#, r#""uid":"one""#),
                "invalid config",
            ),
            (
                &GOOD.replace(r#""cwd":"/""#, r#""cwd":"rel""#),
                "not absolute",
            ),
            (
                &GOOD.replace(r#""destination":"/proc""#, r#""destination":"proc""#),
                "mount destination",
            ),
            (
                &GOOD.replace(r#""path":"rootfs""#, r#""path":"nope""#),
                "root.path",
            ),
            (
                &GOOD.replace(r#""sh","-c""#, r#""nosuch","-c""#),
                "executable file not found",
            ),
            ("{not json", "invalid config"),
            (
                &GOOD.replace(
                    r#""hostname""#,
                    r#""linux":{"namespaces":[{"type":"bogus"}]},"hostname""#,
                ),
                "invalid config",
            ),
        ];
        for (config, want) in cases {
            let (dir, r) = bundle_with(config);
            let err = r.unwrap_err();
            assert!(err.contains(want), "{config}: {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn bind_sources_as_the_host_mountinfo_tells() {
        let info = b"27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
            30 27 0:5 / /var/tmp rw shared:3 - tmpfs tmpfs rw\n\
            31 27 8:1 /exports /srv/my\\040dir rw - xfs /dev/sdb1 rw\n\
            32 30 0:6 / /var/tmp rw - tmpfs other rw\n";
        let of = |p: &[u8]| mount_of_in(info, p).map(|(s, r)| (s, String::from_utf8(r).unwrap()));
        assert_eq!(of(b"/etc"), Some(("/dev/vda".into(), "/etc".into())));
        assert_eq!(of(b"/"), Some(("/dev/vda".into(), "/".into())));
        assert_eq!(
            of(b"/var/tmpx/a"),
            Some(("/dev/vda".into(), "/var/tmpx/a".into()))
        );
        // The last of the mounts stacked on /var/tmp.
        assert_eq!(of(b"/var/tmp/b/c"), Some(("other".into(), "/b/c".into())));
        assert_eq!(of(b"/var/tmp"), Some(("other".into(), "/".into())));
        assert_eq!(
            of(b"/srv/my dir/x"),
            Some(("/dev/sdb1".into(), "/exports/x".into()))
        );
        assert_eq!(mount_of_in(b"garbage\n", b"/etc"), None);
    }

    #[test]
    fn every_mount_in_spec_order_and_devices_under_dev() {
        let config = GOOD.replace(
            r#""mounts":[{"destination":"/proc","type":"proc","source":"proc"}]"#,
            r#""mounts":[{"destination":"/sys","type":"sysfs","source":"sysfs","options":["ro"]},
                {"destination":"/data","source":"rootfs/bin","options":["rbind","ro"]},
                {"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["mode=1777"]},
                {"destination":"/run","type":"tmpfs","source":"tmpfs","options":["tmpcopyup"]},
                {"destination":"/x","type":"nfs","source":"srv:/x"}],
              "linux":{"devices":[
                {"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":438,"gid":5},
                {"path":"/dev/fifo","type":"p"},
                {"path":"/dev/net/tun","type":"c","major":10,"minor":200}]}"#,
        );
        let (dir, r) = bundle_with(&config);
        let b = r.unwrap();
        let m = b.boot.settings.fs_mounts.clone().unwrap();
        let kinds: Vec<(&[u8], FsKind)> = m.iter().map(|m| (&m.dest[..], m.kind)).collect();
        assert_eq!(
            kinds,
            [
                (&b"/sys"[..], FsKind::Sysfs),
                (b"/data", FsKind::Bind),
                (b"/dev/shm", FsKind::Tmpfs),
                (b"/run", FsKind::Tmpfs)
            ]
        );
        assert!(m[0].readonly && m[1].readonly && !m[2].readonly);
        assert_eq!((m[2].source.as_str(), m[2].mode), ("shm", Some(0o1777)));
        assert_eq!(
            (&m[2].options[..], &m[2].root[..]),
            (&["mode=1777".to_string()][..], &b"/"[..])
        );
        // The bind's root is its host path within the host filesystem holding it.
        let host = std::fs::canonicalize(dir.join("rootfs/bin")).unwrap();
        assert!(
            host.as_os_str().as_bytes().ends_with(&m[1].root),
            "{:?}",
            m[1].root
        );
        assert!(m[1].root.ends_with(b"/rootfs/bin"), "{:?}", m[1].root);
        assert_eq!(m[1].options, ["rbind", "ro"]);
        assert_eq!(b.boot.mounts.len(), 1, "one bind channel");
        let d = &b.boot.settings.devices;
        assert_eq!(d.len(), 2);
        assert_eq!(
            (
                &d[0].name[..],
                d[0].kind,
                d[0].major,
                d[0].minor,
                d[0].perm,
                d[0].gid
            ),
            (&b"fuse"[..], libc::S_IFCHR, 10, 229, 0o666, 5)
        );
        assert_eq!((&d[1].name[..], d[1].kind), (&b"fifo"[..], libc::S_IFIFO));
        let w = b.warnings.join("\n");
        assert!(w.contains("\"nfs\" at /x is not supported"), "{w}");
        assert!(!w.contains("tmpcopyup"), "a tmpfs copies up: {w}");
        assert_eq!(m[3].options, ["tmpcopyup"]);
        assert!(
            w.contains("/dev/net/tun: only nodes directly under /dev"),
            "{w}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
