//! Reading an OCI bundle (runtime-spec `config.md`, after runc's `libcontainer/specconv`):
//! `config.json` is parsed with `oci-spec`, checked, and turned into the sentry's boot spec.
//! Every problem is one line naming the field; fields the sandbox does not honour yet become
//! warnings in the log, never a silent lie.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Process, Spec};

use crate::boot::spec::{BootSpec, MountSpec};
use crate::cmd::r#do::resolve_program;
use crate::sandbox::HostMount;

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
    let binds = bind_mounts(&spec, &dir, &mut warnings)?;
    boot.mounts = binds.iter().map(|(_, m)| m.clone()).collect();
    let mounts = binds.into_iter().map(|(h, _)| h).collect();
    let network = network_namespace(&spec);
    check_linux(&spec, &mut warnings);
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
    if user.umask().is_some_and(|m| m != 0o022) {
        warnings.push("process.user.umask is not applied yet (0022 is used)".into());
    }
    if process.rlimits().as_ref().is_some_and(|r| !r.is_empty()) {
        warnings.push("process.rlimits are not enforced yet".into());
    }
    if process.capabilities().is_some() {
        warnings.push("process.capabilities are not applied in the sandbox yet".into());
    }
    let hostname = match spec.hostname() {
        Some(h) if !h.is_empty() => h.clone(),
        _ => nix::unistd::gethostname()
            .map_err(|e| format!("gethostname: {e}"))?
            .to_string_lossy()
            .into_owned(),
    };
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
    })
}

/// Mount types the sentry provides itself (its /proc, /sys, /dev, tmpfs).
const SYNTHETIC_MOUNTS: &[&str] = &[
    "proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2",
];

/// Checks the spec's mounts and returns its bind mounts of directories, in order.
fn bind_mounts(
    spec: &Spec,
    bundle: &Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<(HostMount, MountSpec)>, String> {
    let mut binds = Vec::new();
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
            if !source.is_dir() {
                warnings.push(format!(
                    "bind mount of the file {} at {} is not served yet (directories only)",
                    source.display(),
                    dest.display()
                ));
                continue;
            }
            let readonly = m
                .options()
                .as_ref()
                .is_some_and(|o| o.iter().any(|x| x == "ro"));
            binds.push((
                HostMount { source, readonly },
                MountSpec {
                    dest: dest.as_os_str().as_bytes().to_vec(),
                    readonly,
                },
            ));
        } else if !SYNTHETIC_MOUNTS.contains(&typ) {
            warnings.push(format!(
                "mount type {typ:?} at {} is not supported",
                dest.display()
            ));
        }
    }
    Ok(binds)
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
    if linux.resources().is_some() {
        warnings.push("linux.resources are not applied to a cgroup yet".into());
    }
    if linux.seccomp().is_some() {
        warnings.push("linux.seccomp is not enforced on the application yet".into());
    }
    if linux.sysctl().as_ref().is_some_and(|s| !s.is_empty()) {
        warnings.push("linux.sysctl is not applied yet".into());
    }
    if let Some(ns) = linux.namespaces() {
        use oci_spec::runtime::LinuxNamespaceType as T;
        for n in ns
            .iter()
            .filter(|n| n.path().is_some() && n.typ() != T::Network)
        {
            warnings.push(format!(
                "joining the {:?} namespace by path is not supported yet",
                n.typ()
            ));
        }
    }
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
}
