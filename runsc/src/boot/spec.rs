//! The boot spec: what the front end tells `runsc boot` about the sandbox to start (the role of
//! gVisor's `runsc/boot` arguments plus the OCI `process`), sent as JSON over a pipe.
//!
//! Byte strings (argv, environment, cwd) are JSON strings when they are UTF-8 and arrays of byte
//! values otherwise, so that any Linux argument survives the trip.

use serde_json::{json, Map, Value};
use thiserror::Error;

/// Everything `runsc boot` needs besides its descriptors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootSpec {
    pub argv: Vec<Vec<u8>>,
    pub envv: Vec<Vec<u8>>,
    /// Absolute working directory in the sandbox.
    pub cwd: Vec<u8>,
    pub hostname: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// `None`: no strace; `Some(None)`: every syscall; `Some(Some(names))`: only those.
    pub strace: Option<Option<Vec<String>>>,
    pub debug: bool,
    /// The root is served read-only (EROFS) instead of as a writable overlay.
    pub root_readonly: bool,
    /// Bind mounts, in mount order; the n-th is served on the n-th `--mount-fd` channel.
    pub mounts: Vec<MountSpec>,
    /// The rest of the OCI spec that the sentry applies (absent from the JSON: the defaults).
    pub settings: SpecSettings,
}

/// OCI `process` and `linux` fields the sentry honours (runtime-spec `config.md`,
/// `config-linux.md`); the default leaves the sandbox as without a spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecSettings {
    /// `process.rlimits`, by Linux resource number.
    pub rlimits: Vec<RlimitSpec>,
    /// `process.user.umask` (None: 0022).
    pub umask: Option<u32>,
    /// `process.noNewPrivileges`.
    pub no_new_privs: bool,
    /// `process.capabilities` (None: root has every capability, others none).
    pub caps: Option<CapsSpec>,
    /// `process.oomScoreAdj`.
    pub oom_score_adj: Option<i32>,
    /// `domainname`.
    pub domainname: Option<String>,
    /// `linux.sysctl` as (dotted key, value), in key order.
    pub sysctl: Vec<(String, String)>,
    /// `linux.maskedPaths` and `linux.readonlyPaths` (absolute).
    pub masked_paths: Vec<Vec<u8>>,
    pub readonly_paths: Vec<Vec<u8>>,
    /// `linux.seccomp` compiled to classic BPF (`oci::seccomp::encode`d instructions).
    pub seccomp: Option<Vec<u64>>,
    /// `--network=host`: inet sockets are host sockets in the sentry's network namespace
    /// (false: the loopback-only stack in the sentry).
    pub host_network: bool,
    /// `--overlay=none`: a writable root is the gofer's files read-write, so writes reach the
    /// host's root directory (false: an overlay in sentry memory).
    pub root_direct: bool,
    /// `--host-uds=open`: connect(2) to a host unix socket in a gofer-served mount is done by
    /// the gofer, which hands back the connected host socket (false: ECONNREFUSED).
    pub host_uds: bool,
    /// Host terminals numbered in the sandbox's own /dev/pts (OCI containers).
    pub own_pts_numbers: bool,
    /// `--platform=systrap` (false: ptrace).
    pub systrap: bool,
    /// The OCI spec's mounts in its order (None: the sandbox's fixed mount table, as for
    /// `runsc do`). The sentry's defaults the spec does not list stay, before these.
    pub fs_mounts: Option<Vec<FsMountSpec>>,
    /// `linux.devices` directly under /dev.
    pub devices: Vec<DeviceSpec>,
    /// `linux.rootfsPropagation` (`shared`, `rslave`, ...; None: the root stays private).
    pub root_propagation: Option<String>,
    /// `create --preserve-fds N`: the descriptors `runsc boot` inherits (their numbers in it)
    /// that become the init process's fds 3, 4, ... in this order.
    pub preserved_fds: Vec<i32>,
}

/// What a mount of the spec is, as the sentry makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsKind {
    Proc,
    Sysfs,
    Tmpfs,
    Devpts,
    Mqueue,
    /// The next of `BootSpec::mounts` (a host file or directory served by the gofer).
    Bind,
}

impl FsKind {
    pub fn name(self) -> &'static str {
        match self {
            FsKind::Proc => "proc",
            FsKind::Sysfs => "sysfs",
            FsKind::Tmpfs => "tmpfs",
            FsKind::Devpts => "devpts",
            FsKind::Mqueue => "mqueue",
            FsKind::Bind => "bind",
        }
    }

    pub fn from_name(name: &str) -> Option<FsKind> {
        [
            FsKind::Proc,
            FsKind::Sysfs,
            FsKind::Tmpfs,
            FsKind::Devpts,
            FsKind::Mqueue,
            FsKind::Bind,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }
}

/// One mount of the spec (`mounts[i]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsMountSpec {
    /// Absolute path in the sandbox.
    pub dest: Vec<u8>,
    pub kind: FsKind,
    /// The spec's `source` (what mountinfo should show).
    pub source: String,
    pub readonly: bool,
    /// tmpfs `mode=` (None: 1777).
    pub mode: Option<u32>,
    /// The spec's `options` (mount flags such as `nosuid`, and the filesystem's data such as
    /// `size=`), split by `sentry::vfs::mount::split_mount_options`.
    pub options: Vec<String>,
    /// mountinfo's root field: "/", or for a bind the host path it took, relative to the
    /// root of the host filesystem holding it (as Linux shows it).
    pub root: Vec<u8>,
}

/// One node of `linux.devices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    /// Its name under /dev.
    pub name: Vec<u8>,
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO`.
    pub kind: u32,
    pub major: u32,
    pub minor: u32,
    /// Permission bits.
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
}

/// One resource limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RlimitSpec {
    /// `RLIMIT_*` number.
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

/// Capability sets as bit masks (bit N: capability N).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapsSpec {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub bounding: u64,
    pub ambient: u64,
}

/// A bind mount as the sentry sees it: where, and whether writes are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// Absolute path in the sandbox.
    pub dest: Vec<u8>,
    pub readonly: bool,
}

/// A boot spec that does not parse.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("boot spec is not JSON: {0}")]
    Json(String),
    #[error("boot spec field {field:?}: {what}")]
    Field {
        field: &'static str,
        what: &'static str,
    },
}

fn bytes_to_value(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_string()),
        Err(_) => Value::Array(b.iter().map(|&x| Value::from(x)).collect()),
    }
}

fn bad(field: &'static str, what: &'static str) -> SpecError {
    SpecError::Field { field, what }
}

fn value_to_bytes(v: &Value, field: &'static str) -> Result<Vec<u8>, SpecError> {
    match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_u64()
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or(bad(field, "byte array holds a non-byte"))
            })
            .collect(),
        _ => Err(bad(field, "not a string or byte array")),
    }
}

fn field<'a>(m: &'a Map<String, Value>, name: &'static str) -> Result<&'a Value, SpecError> {
    m.get(name).ok_or(bad(name, "missing"))
}

fn byte_list(m: &Map<String, Value>, name: &'static str) -> Result<Vec<Vec<u8>>, SpecError> {
    field(m, name)?
        .as_array()
        .ok_or(bad(name, "not an array"))?
        .iter()
        .map(|v| value_to_bytes(v, name))
        .collect()
}

fn u32_of(v: &Value, name: &'static str) -> Result<u32, SpecError> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(bad(name, "not a 32-bit id"))
}

impl BootSpec {
    pub fn to_json(&self) -> Vec<u8> {
        let strace = match &self.strace {
            None => Value::Null,
            Some(None) => json!({ "only": null }),
            Some(Some(names)) => json!({ "only": names }),
        };
        let v = json!({
            "argv": self.argv.iter().map(|a| bytes_to_value(a)).collect::<Vec<_>>(),
            "envv": self.envv.iter().map(|a| bytes_to_value(a)).collect::<Vec<_>>(),
            "cwd": bytes_to_value(&self.cwd),
            "hostname": self.hostname,
            "uid": self.uid,
            "gid": self.gid,
            "groups": self.groups,
            "strace": strace,
            "debug": self.debug,
            "rootReadonly": self.root_readonly,
            "mounts": self.mounts.iter().map(|m| json!({
                "dest": bytes_to_value(&m.dest),
                "readonly": m.readonly,
            })).collect::<Vec<_>>(),
            "settings": self.settings.to_value(),
        });
        v.to_string().into_bytes()
    }

    pub fn from_json(data: &[u8]) -> Result<BootSpec, SpecError> {
        let v: Value = serde_json::from_slice(data).map_err(|e| SpecError::Json(e.to_string()))?;
        let m = v
            .as_object()
            .ok_or(SpecError::Json("not an object".into()))?;
        let argv = byte_list(m, "argv")?;
        if argv.is_empty() {
            return Err(bad("argv", "empty"));
        }
        let cwd = value_to_bytes(field(m, "cwd")?, "cwd")?;
        if cwd.first() != Some(&b'/') {
            return Err(bad("cwd", "not absolute"));
        }
        let strace = match field(m, "strace")? {
            Value::Null => None,
            Value::Object(s) => match s.get("only") {
                None | Some(Value::Null) => Some(None),
                Some(Value::Array(a)) => Some(Some(
                    a.iter()
                        .map(|n| {
                            n.as_str()
                                .map(str::to_string)
                                .ok_or(bad("strace", "non-string name"))
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                )),
                Some(_) => return Err(bad("strace", "only is not an array")),
            },
            _ => return Err(bad("strace", "not an object or null")),
        };
        Ok(BootSpec {
            argv,
            envv: byte_list(m, "envv")?,
            cwd,
            hostname: field(m, "hostname")?
                .as_str()
                .ok_or(bad("hostname", "not a string"))?
                .to_string(),
            uid: u32_of(field(m, "uid")?, "uid")?,
            gid: u32_of(field(m, "gid")?, "gid")?,
            groups: field(m, "groups")?
                .as_array()
                .ok_or(bad("groups", "not an array"))?
                .iter()
                .map(|g| u32_of(g, "groups"))
                .collect::<Result<_, _>>()?,
            strace,
            debug: field(m, "debug")?
                .as_bool()
                .ok_or(bad("debug", "not a bool"))?,
            root_readonly: match m.get("rootReadonly") {
                None => false,
                Some(v) => v.as_bool().ok_or(bad("rootReadonly", "not a bool"))?,
            },
            mounts: match m.get("mounts") {
                None => Vec::new(),
                Some(v) => v
                    .as_array()
                    .ok_or(bad("mounts", "not an array"))?
                    .iter()
                    .map(mount_of)
                    .collect::<Result<_, _>>()?,
            },
            settings: match m.get("settings") {
                None | Some(Value::Null) => SpecSettings::default(),
                Some(v) => SpecSettings::from_value(v)?,
            },
        })
    }
}

impl SpecSettings {
    fn to_value(&self) -> Value {
        json!({
            "rlimits": self.rlimits.iter().map(|r| json!([r.resource, r.soft, r.hard]))
                .collect::<Vec<_>>(),
            "umask": self.umask,
            "noNewPrivileges": self.no_new_privs,
            "caps": self.caps.map(|c| json!([c.effective, c.permitted, c.inheritable,
                c.bounding, c.ambient])),
            "oomScoreAdj": self.oom_score_adj,
            "domainname": self.domainname,
            "sysctl": self.sysctl.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            "maskedPaths": self.masked_paths.iter().map(|p| bytes_to_value(p))
                .collect::<Vec<_>>(),
            "readonlyPaths": self.readonly_paths.iter().map(|p| bytes_to_value(p))
                .collect::<Vec<_>>(),
            "seccomp": self.seccomp,
            "hostNetwork": self.host_network,
            "rootDirect": self.root_direct,
            "hostUds": self.host_uds,
            "ownPtsNumbers": self.own_pts_numbers,
            "systrap": self.systrap,
            "fsMounts": self.fs_mounts.as_ref().map(|l| l.iter().map(|m| json!({
                "dest": bytes_to_value(&m.dest),
                "kind": m.kind.name(),
                "source": m.source,
                "readonly": m.readonly,
                "mode": m.mode,
                "options": m.options,
                "root": bytes_to_value(&m.root),
            })).collect::<Vec<_>>()),
            "rootPropagation": self.root_propagation,
            "preservedFds": self.preserved_fds,
            "devices": self.devices.iter().map(|d| json!([bytes_to_value(&d.name), d.kind,
                d.major, d.minor, d.perm, d.uid, d.gid])).collect::<Vec<_>>(),
        })
    }

    fn from_value(v: &Value) -> Result<SpecSettings, SpecError> {
        const F: &str = "settings";
        let m = v.as_object().ok_or(bad(F, "not an object"))?;
        let list = |name: &'static str| -> Result<&[Value], SpecError> {
            match m.get(name) {
                None | Some(Value::Null) => Ok(&[]),
                Some(Value::Array(a)) => Ok(a.as_slice()),
                Some(_) => Err(bad(F, "a list field is not an array")),
            }
        };
        let u64s = |v: &Value, n: usize| -> Result<Vec<u64>, SpecError> {
            let a = v.as_array().ok_or(bad(F, "not a number array"))?;
            if a.len() != n {
                return Err(bad(F, "number array of the wrong length"));
            }
            a.iter()
                .map(|x| x.as_u64().ok_or(bad(F, "not an unsigned number")))
                .collect()
        };
        let opt = |name: &'static str| m.get(name).filter(|v| !v.is_null());
        let rlimits = list("rlimits")?
            .iter()
            .map(|r| {
                let n = u64s(r, 3)?;
                Ok(RlimitSpec {
                    resource: u32::try_from(n[0]).map_err(|_| bad(F, "rlimit resource"))?,
                    soft: n[1],
                    hard: n[2],
                })
            })
            .collect::<Result<_, SpecError>>()?;
        let caps = match opt("caps") {
            None => None,
            Some(c) => {
                let n = u64s(c, 5)?;
                Some(CapsSpec {
                    effective: n[0],
                    permitted: n[1],
                    inheritable: n[2],
                    bounding: n[3],
                    ambient: n[4],
                })
            }
        };
        let sysctl = list("sysctl")?
            .iter()
            .map(|kv| match kv.as_array().map(Vec::as_slice) {
                Some([Value::String(k), Value::String(v)]) => Ok((k.clone(), v.clone())),
                _ => Err(bad(F, "sysctl entry is not [key, value]")),
            })
            .collect::<Result<_, SpecError>>()?;
        let paths = |name: &'static str| -> Result<Vec<Vec<u8>>, SpecError> {
            list(name)?.iter().map(|p| value_to_bytes(p, F)).collect()
        };
        Ok(SpecSettings {
            rlimits,
            umask: opt("umask").map(|u| u32_of(u, "settings")).transpose()?,
            no_new_privs: opt("noNewPrivileges")
                .map(|b| b.as_bool().ok_or(bad(F, "noNewPrivileges not a bool")))
                .transpose()?
                .unwrap_or(false),
            caps,
            oom_score_adj: opt("oomScoreAdj")
                .map(|o| {
                    o.as_i64()
                        .and_then(|n| i32::try_from(n).ok())
                        .ok_or(bad(F, "oomScoreAdj not a 32-bit number"))
                })
                .transpose()?,
            domainname: opt("domainname")
                .map(|d| {
                    d.as_str()
                        .map(str::to_string)
                        .ok_or(bad(F, "domainname not a string"))
                })
                .transpose()?,
            sysctl,
            masked_paths: paths("maskedPaths")?,
            readonly_paths: paths("readonlyPaths")?,
            seccomp: opt("seccomp")
                .map(|v| {
                    let a = v.as_array().ok_or(bad(F, "seccomp not an array"))?;
                    a.iter()
                        .map(|x| x.as_u64().ok_or(bad(F, "seccomp holds a non-number")))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?,
            host_network: opt("hostNetwork")
                .map(|b| b.as_bool().ok_or(bad(F, "hostNetwork not a bool")))
                .transpose()?
                .unwrap_or(false),
            root_direct: opt("rootDirect")
                .map(|b| b.as_bool().ok_or(bad(F, "rootDirect not a bool")))
                .transpose()?
                .unwrap_or(false),
            host_uds: opt("hostUds")
                .map(|b| b.as_bool().ok_or(bad(F, "hostUds not a bool")))
                .transpose()?
                .unwrap_or(false),
            own_pts_numbers: opt("ownPtsNumbers")
                .map(|b| b.as_bool().ok_or(bad(F, "ownPtsNumbers not a bool")))
                .transpose()?
                .unwrap_or(false),
            systrap: opt("systrap")
                .map(|b| b.as_bool().ok_or(bad(F, "systrap not a bool")))
                .transpose()?
                .unwrap_or(false),
            fs_mounts: opt("fsMounts")
                .map(|v| {
                    v.as_array()
                        .ok_or(bad(F, "fsMounts not an array"))?
                        .iter()
                        .map(fs_mount_of)
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?,
            root_propagation: match opt("rootPropagation") {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_str()
                        .ok_or(bad(F, "rootPropagation not a string"))?
                        .to_string(),
                ),
            },
            devices: list("devices")?
                .iter()
                .map(device_of)
                .collect::<Result<_, _>>()?,
            preserved_fds: list("preservedFds")?
                .iter()
                .map(|n| {
                    n.as_i64()
                        .and_then(|n| i32::try_from(n).ok())
                        .filter(|n| *n > 2)
                        .ok_or(bad(F, "preservedFds holds a non-descriptor"))
                })
                .collect::<Result<_, _>>()?,
        })
    }
}

fn fs_mount_of(v: &Value) -> Result<FsMountSpec, SpecError> {
    const F: &str = "fsMounts";
    let m = v.as_object().ok_or(bad(F, "entry not an object"))?;
    let dest = value_to_bytes(m.get("dest").ok_or(bad(F, "dest missing"))?, F)?;
    if dest.first() != Some(&b'/') {
        return Err(bad(F, "dest not absolute"));
    }
    let kind = m
        .get("kind")
        .and_then(Value::as_str)
        .and_then(FsKind::from_name)
        .ok_or(bad(F, "kind missing or unknown"))?;
    Ok(FsMountSpec {
        dest,
        kind,
        source: m
            .get("source")
            .and_then(Value::as_str)
            .ok_or(bad(F, "source missing"))?
            .to_string(),
        readonly: m
            .get("readonly")
            .and_then(Value::as_bool)
            .ok_or(bad(F, "readonly missing"))?,
        mode: match m.get("mode") {
            None | Some(Value::Null) => None,
            Some(v) => Some(u32_of(v, F)?),
        },
        options: match m.get("options") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => v
                .as_array()
                .ok_or(bad(F, "options not an array"))?
                .iter()
                .map(|o| {
                    o.as_str()
                        .map(str::to_string)
                        .ok_or(bad(F, "option not a string"))
                })
                .collect::<Result<_, _>>()?,
        },
        root: match m.get("root") {
            None | Some(Value::Null) => b"/".to_vec(),
            Some(v) => value_to_bytes(v, F)?,
        },
    })
}

fn device_of(v: &Value) -> Result<DeviceSpec, SpecError> {
    const F: &str = "devices";
    let a = v.as_array().ok_or(bad(F, "entry not an array"))?;
    let [name, rest @ ..] = a.as_slice() else {
        return Err(bad(F, "entry is empty"));
    };
    let n = rest
        .iter()
        .map(|x| u32_of(x, F))
        .collect::<Result<Vec<_>, _>>()?;
    let [kind, major, minor, perm, uid, gid] = n[..] else {
        return Err(bad(F, "entry of the wrong length"));
    };
    Ok(DeviceSpec {
        name: value_to_bytes(name, F)?,
        kind,
        major,
        minor,
        perm,
        uid,
        gid,
    })
}

fn mount_of(v: &Value) -> Result<MountSpec, SpecError> {
    let m = v.as_object().ok_or(bad("mounts", "entry not an object"))?;
    let dest = value_to_bytes(
        m.get("dest").ok_or(bad("mounts", "dest missing"))?,
        "mounts",
    )?;
    if dest.first() != Some(&b'/') {
        return Err(bad("mounts", "dest not absolute"));
    }
    let readonly = m
        .get("readonly")
        .and_then(Value::as_bool)
        .ok_or(bad("mounts", "readonly missing or not a bool"))?;
    Ok(MountSpec { dest, readonly })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BootSpec {
        BootSpec {
            argv: vec![b"/bin/ls".to_vec(), b"-la".to_vec(), vec![0xff, b'x']],
            envv: vec![b"PATH=/bin".to_vec()],
            cwd: b"/tmp".to_vec(),
            hostname: "vm".into(),
            uid: 1000,
            gid: 100,
            groups: vec![100, 27],
            strace: Some(Some(vec!["read".into()])),
            debug: true,
            root_readonly: true,
            mounts: vec![MountSpec {
                dest: b"/data".to_vec(),
                readonly: false,
            }],
            settings: SpecSettings::default(),
        }
    }

    #[test]
    fn settings_round_trip_and_default_when_absent() {
        let mut s = sample();
        s.settings = SpecSettings {
            rlimits: vec![RlimitSpec {
                resource: 7,
                soft: 42,
                hard: u64::MAX,
            }],
            umask: Some(0o077),
            no_new_privs: true,
            caps: Some(CapsSpec {
                effective: 1,
                permitted: 3,
                inheritable: 0,
                bounding: (1 << 41) - 1,
                ambient: 0,
            }),
            oom_score_adj: Some(-500),
            domainname: Some("example.org".into()),
            sysctl: vec![("net.ipv4.ip_forward".into(), "1".into())],
            masked_paths: vec![b"/proc/kcore".to_vec()],
            readonly_paths: vec![b"/proc/sys".to_vec(), vec![b'/', 0xff]],
            seccomp: Some(vec![6, u64::MAX]),
            host_network: true,
            root_direct: true,
            host_uds: true,
            own_pts_numbers: true,
            systrap: true,
            root_propagation: Some("rshared".into()),
            preserved_fds: vec![5, 9],
            fs_mounts: Some(vec![
                FsMountSpec {
                    dest: b"/dev/shm".to_vec(),
                    kind: FsKind::Tmpfs,
                    source: "shm".into(),
                    readonly: false,
                    mode: Some(0o1777),
                    options: vec!["nosuid".into(), "size=64k".into()],
                    root: b"/".to_vec(),
                },
                FsMountSpec {
                    dest: b"/data".to_vec(),
                    kind: FsKind::Bind,
                    source: "/dev/vda".into(),
                    readonly: true,
                    mode: None,
                    options: vec!["rbind".into(), "ro".into()],
                    root: b"/host/data".to_vec(),
                },
            ]),
            devices: vec![DeviceSpec {
                name: b"fuse".to_vec(),
                kind: libc::S_IFCHR,
                major: 10,
                minor: 229,
                perm: 0o666,
                uid: 0,
                gid: 5,
            }],
        };
        assert_eq!(BootSpec::from_json(&s.to_json()).unwrap(), s);
        let j = br#"{"argv":["/x"],"envv":[],"cwd":"/","hostname":"h","uid":0,"gid":0,"groups":[],"strace":null,"debug":false}"#;
        assert_eq!(
            BootSpec::from_json(j).unwrap().settings,
            SpecSettings::default()
        );
        let j = br#"{"argv":["/x"],"envv":[],"cwd":"/","hostname":"h","uid":0,"gid":0,"groups":[],"strace":null,"debug":false,"settings":{"rlimits":[[1,2]]}}"#;
        assert!(BootSpec::from_json(j).is_err());
        // A preserved descriptor is never stdio.
        let j = br#"{"argv":["/x"],"envv":[],"cwd":"/","hostname":"h","uid":0,"gid":0,"groups":[],"strace":null,"debug":false,"settings":{"preservedFds":[1]}}"#;
        assert!(BootSpec::from_json(j).is_err());
    }

    #[test]
    fn round_trip_including_non_utf8_bytes() {
        let s = sample();
        assert_eq!(BootSpec::from_json(&s.to_json()).unwrap(), s);
        let mut s2 = s.clone();
        s2.strace = Some(None);
        assert_eq!(BootSpec::from_json(&s2.to_json()).unwrap(), s2);
        s2.strace = None;
        assert_eq!(BootSpec::from_json(&s2.to_json()).unwrap(), s2);
    }

    #[test]
    fn utf8_strings_stay_readable() {
        let text = String::from_utf8(sample().to_json()).unwrap();
        assert!(text.contains("\"/bin/ls\""), "{text}");
        assert!(text.contains("[255,120]"), "{text}");
    }

    #[test]
    fn rejects_bad_specs_without_panicking() {
        assert!(matches!(
            BootSpec::from_json(b"nope"),
            Err(SpecError::Json(_))
        ));
        let mut s = sample();
        s.argv.clear();
        assert_eq!(BootSpec::from_json(&s.to_json()), Err(bad("argv", "empty")));
        let mut s = sample();
        s.cwd = b"rel".to_vec();
        assert_eq!(
            BootSpec::from_json(&s.to_json()),
            Err(bad("cwd", "not absolute"))
        );
        let j = br#"{"argv":["/x"],"envv":[],"cwd":"/","hostname":"h","uid":-1,"gid":0,"groups":[],"strace":null,"debug":false}"#;
        assert_eq!(BootSpec::from_json(j), Err(bad("uid", "not a 32-bit id")));
        let j = br#"{"argv":[[300]],"envv":[],"cwd":"/"}"#;
        assert!(BootSpec::from_json(j).is_err());
    }
}
