//! Containers on disk, after runc's `libcontainer/container_linux.go` and gVisor's
//! `runsc/container/container.go`: each container made by `runsc create` is a directory
//! `<root>/<id>/` holding `state.json` (its OCI state plus what runsc needs to find its sandbox
//! again), `state.lock` (flock(2) serialising the commands that change it) and `sandbox.sock`
//! (the sentry's control socket; see `sentry::control`).
//!
//! The status on disk says what the last command made of the container (creating, created,
//! running, paused); whether it has since stopped is read from the host: the sentry process
//! (the pid of the state and of `--pid-file`) lives exactly as long as the container's init.

pub mod cgroup;
pub mod control;
pub mod hooks;
pub mod pod;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use thiserror::Error;

/// The OCI runtime-spec version this runtime's state speaks.
pub const OCI_VERSION: &str = "1.0.2";

/// A container id: what runc accepts (`^[\w+-\.]+$`), at most 1024 bytes.
pub fn validate_id(id: &str) -> Result<(), ContainerError> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ContainerError::InvalidId(id.to_string()))
    }
}

/// Why a container command failed.
#[derive(Debug, Error)]
pub enum ContainerError {
    #[error("invalid container id {0:?} (letters, digits, '_', '+', '-' and '.' only)")]
    InvalidId(String),
    #[error("container {0:?} already exists")]
    Exists(String),
    #[error("container {0:?} does not exist")]
    NotFound(String),
    #[error("container state {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("container state {path}: {what}")]
    Corrupt { path: PathBuf, what: String },
}

/// What a container is doing (the OCI state's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }

    fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "creating" => Status::Creating,
            "created" => Status::Created,
            "running" => Status::Running,
            "paused" => Status::Paused,
            "stopped" => Status::Stopped,
            _ => return None,
        })
    }
}

/// One container's saved state.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub id: String,
    /// The directory holding the container's files.
    pub dir: PathBuf,
    /// The status the last command saved (see [`Container::status`] for the live one).
    pub saved_status: Status,
    /// Host pid of the sentry (`runsc boot`), 0 before it exists.
    pub pid: i32,
    /// The sentry's start time in clock ticks since boot (/proc/PID/stat field 22), so that a
    /// recycled pid is not mistaken for it.
    pub pid_start: u64,
    pub gofer_pid: i32,
    /// Absolute bundle directory.
    pub bundle: PathBuf,
    /// Absolute root filesystem.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339.
    pub created: String,
    pub annotations: Map<String, Value>,
    /// config.json's `hooks` (null when none), kept so that `start` and `delete` run the
    /// hooks the container was created with.
    pub hooks: Value,
    /// The sandbox's cgroup path (see [`cgroup::Cgroup`]), once made.
    pub cgroup_path: Option<String>,
    /// For an app container of a pod: the id of the container whose sentry it runs in
    /// (`pod`); `pid` is then its pid-file holder's.
    pub sandbox_id: Option<String>,
    /// For a pod's sandbox container: the ids of the app containers in its sentry.
    pub members: Vec<String>,
}

impl Container {
    /// A new container's record, not yet saved.
    pub fn new(root: &Path, id: &str, bundle: PathBuf, rootfs: PathBuf) -> Container {
        Container {
            id: id.to_string(),
            dir: root.join(id),
            saved_status: Status::Creating,
            pid: 0,
            pid_start: 0,
            gofer_pid: 0,
            bundle,
            rootfs,
            created: crate::log::rfc3339(std::time::SystemTime::now()),
            annotations: Map::new(),
            hooks: Value::Null,
            cgroup_path: None,
            sandbox_id: None,
            members: Vec::new(),
        }
    }

    /// The sandbox's cgroup, if `create` made one.
    pub fn cgroup(&self) -> Option<cgroup::Cgroup> {
        self.cgroup_path.clone().map(|path| cgroup::Cgroup { path })
    }

    fn state_path(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    /// The control socket's path.
    pub fn socket_path(&self) -> PathBuf {
        self.dir.join("sandbox.sock")
    }

    /// Makes the container's directory (failing if the id is taken) and takes its lock.
    pub fn create_dir(&self) -> Result<StateLock, ContainerError> {
        let io = |source| ContainerError::Io {
            path: self.dir.clone(),
            source,
        };
        let root = self.dir.parent().unwrap_or(Path::new("/"));
        fs::create_dir_all(root).map_err(io)?;
        match fs::create_dir(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(ContainerError::Exists(self.id.clone()))
            }
            Err(e) => return Err(io(e)),
        }
        // Only root reads container state (runc makes these 0711/0600 too).
        let _ = fs::set_permissions(
            &self.dir,
            std::os::unix::fs::PermissionsExt::from_mode(0o711),
        );
        StateLock::take(&self.dir)
    }

    /// Loads container `id` from `root`.
    pub fn load(root: &Path, id: &str) -> Result<Container, ContainerError> {
        validate_id(id)?;
        let dir = root.join(id);
        let path = Container::state_path(&dir);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ContainerError::NotFound(id.to_string()))
            }
            Err(source) => return Err(ContainerError::Io { path, source }),
        };
        Container::from_json(id, dir, &data).map_err(|what| ContainerError::Corrupt { path, what })
    }

    /// The ids of every container under `root`, sorted.
    pub fn list(root: &Path) -> Result<Vec<String>, ContainerError> {
        let entries = match fs::read_dir(root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(ContainerError::Io {
                    path: root.to_path_buf(),
                    source,
                })
            }
        };
        let mut ids: Vec<String> = entries
            .flatten()
            .filter(|e| Container::state_path(&e.path()).exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Saves the state atomically (a temporary file renamed over the old one).
    pub fn save(&self) -> Result<(), ContainerError> {
        let path = Container::state_path(&self.dir);
        let tmp = self.dir.join("state.json.tmp");
        let io = |source| ContainerError::Io {
            path: path.clone(),
            source,
        };
        let mut f = File::create(&tmp).map_err(io)?;
        f.write_all(&self.to_json()).map_err(io)?;
        f.sync_all().map_err(io)?;
        fs::rename(&tmp, &path).map_err(io)
    }

    /// Removes the container's directory.
    pub fn destroy(&self) -> Result<(), ContainerError> {
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(ContainerError::Io {
                path: self.dir.clone(),
                source,
            }),
        }
    }

    /// The live status: the saved one, unless the sentry has gone (stopped).
    pub fn status(&self) -> Status {
        match self.saved_status {
            Status::Creating | Status::Stopped => self.saved_status,
            s if self.sentry_alive() => s,
            _ => Status::Stopped,
        }
    }

    /// True while the sentry process of this container runs (a zombie has stopped).
    pub fn sentry_alive(&self) -> bool {
        self.pid > 0
            && matches!(proc_stat(self.pid), Some((state, start))
                if start == self.pid_start && state != 'Z' && state != 'X')
    }

    /// The OCI state (runtime-spec "State"), as `runsc state` prints it.
    pub fn oci_state(&self) -> Value {
        let status = self.status();
        let pid = match status {
            Status::Created | Status::Running | Status::Paused => self.pid,
            _ => 0,
        };
        json!({
            "ociVersion": OCI_VERSION,
            "id": self.id,
            "status": status.as_str(),
            "pid": pid,
            "bundle": self.bundle.to_string_lossy(),
            "rootfs": self.rootfs.to_string_lossy(),
            "created": self.created,
            "owner": "",
            "annotations": self.annotations,
        })
    }

    /// The state handed to the hooks of a lifecycle point (runtime-spec `config.md`, hooks get
    /// the container's state on stdin): the state as it was at that point, `status` and `pid`
    /// included, even when the process has exited since (a poststart hook of a short-lived
    /// container still sees `running` and the pid it ran as).
    pub fn hook_state(&self, status: Status) -> Value {
        let mut v = self.oci_state();
        v["status"] = json!(status.as_str());
        if status != Status::Stopped {
            v["pid"] = json!(self.pid);
        }
        v
    }

    fn to_json(&self) -> Vec<u8> {
        let mut v = self.oci_state();
        v["status"] = json!(self.saved_status.as_str());
        v["pid"] = json!(self.pid);
        v["runsc"] = json!({
            "pidStart": self.pid_start,
            "goferPid": self.gofer_pid,
            "hooks": self.hooks,
            "cgroup": self.cgroup_path,
            "sandboxId": self.sandbox_id,
            "members": self.members,
        });
        serde_json::to_vec_pretty(&v).expect("invariant: a JSON value always serializes")
    }

    fn from_json(id: &str, dir: PathBuf, data: &[u8]) -> Result<Container, String> {
        let v: Value = serde_json::from_slice(data).map_err(|e| e.to_string())?;
        let s = |k: &str| -> Result<String, String> {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or(format!("field {k:?} missing or not a string"))
        };
        let n = |v: &Value, k: &str| -> Result<u64, String> {
            v.get(k)
                .and_then(Value::as_u64)
                .ok_or(format!("field {k:?} missing or not a number"))
        };
        if s("id")? != id {
            return Err(format!("holds id {:?}", s("id")?));
        }
        let status = s("status")?;
        let runsc = v.get("runsc").ok_or("field \"runsc\" missing")?;
        Ok(Container {
            id: id.to_string(),
            dir,
            saved_status: Status::parse(&status).ok_or(format!("unknown status {status:?}"))?,
            pid: i32::try_from(n(&v, "pid")?).map_err(|e| e.to_string())?,
            pid_start: n(runsc, "pidStart")?,
            gofer_pid: i32::try_from(n(runsc, "goferPid")?).map_err(|e| e.to_string())?,
            bundle: PathBuf::from(s("bundle")?),
            rootfs: PathBuf::from(s("rootfs")?),
            created: s("created")?,
            annotations: v
                .get("annotations")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            hooks: runsc.get("hooks").cloned().unwrap_or(Value::Null),
            cgroup_path: runsc
                .get("cgroup")
                .and_then(Value::as_str)
                .map(str::to_string),
            sandbox_id: runsc
                .get("sandboxId")
                .and_then(Value::as_str)
                .map(str::to_string),
            members: runsc
                .get("members")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// `(state letter, start time in ticks)` of host process `pid`, from /proc/PID/stat (proc(5)).
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself hold spaces or parentheses.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // `rest` starts at field 3 (state); field 22 (starttime) is index 19.
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

/// An exclusive flock(2) on `<dir>/state.lock`, held until dropped.
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Takes the lock of the container in `dir`, waiting for other runsc commands.
    pub fn take(dir: &Path) -> Result<StateLock, ContainerError> {
        let path = dir.join("state.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| ContainerError::Io {
                path: path.clone(),
                source,
            })?;
        crate::sys::flock_exclusive(file.as_raw_fd()).map_err(|e| ContainerError::Io {
            path,
            source: e.into(),
        })?;
        Ok(StateLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_state_keeps_the_point_in_time_status_and_pid() {
        let mut c = Container::new(
            Path::new("/nonexistent"),
            "h1",
            "/b".into(),
            "/b/rootfs".into(),
        );
        c.saved_status = Status::Running;
        // No such process: the live state says stopped, pid 0.
        c.pid = i32::MAX;
        assert_eq!(c.oci_state()["status"], "stopped");
        assert_eq!(c.oci_state()["pid"], 0);
        let s = c.hook_state(Status::Running);
        assert_eq!(s["status"], "running");
        assert_eq!(s["pid"], i32::MAX);
        assert_eq!(s["id"], "h1");
        let s = c.hook_state(Status::Stopped);
        assert_eq!(s["status"], "stopped");
        assert_eq!(s["pid"], 0);
    }

    #[test]
    fn ids_follow_runc_rules() {
        for ok in ["a", "my-ctr_1.2+x", &"x".repeat(64)] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "ü", "a\n"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn state_round_trips_and_stopped_when_the_sentry_is_gone() {
        let root = std::env::temp_dir().join(format!("runsc-state-{}", std::process::id()));
        let mut c = Container::new(&root, "c1", "/b".into(), "/b/rootfs".into());
        let lock = c.create_dir().unwrap();
        assert!(matches!(c.create_dir(), Err(ContainerError::Exists(_))));
        c.saved_status = Status::Running;
        // This test process stands in for the sentry.
        c.pid = std::process::id() as i32;
        c.pid_start = proc_stat(c.pid).unwrap().1;
        c.annotations.insert("k".into(), json!("v"));
        c.hooks = json!({ "poststop": [{ "path": "/bin/true" }] });
        c.cgroup_path = Some("/runsc/c1".into());
        c.members = vec!["app1".into()];
        c.save().unwrap();
        drop(lock);
        let back = Container::load(&root, "c1").unwrap();
        assert_eq!(back, c);
        assert_eq!(back.status(), Status::Running);
        assert_eq!(back.oci_state()["pid"], json!(c.pid));
        // A different start time: the pid was recycled, the container has stopped.
        let mut recycled = back.clone();
        recycled.pid_start += 1;
        assert_eq!(recycled.status(), Status::Stopped);
        assert_eq!(recycled.oci_state()["pid"], json!(0));
        assert_eq!(Container::list(&root).unwrap(), vec!["c1".to_string()]);
        assert!(matches!(
            Container::load(&root, "nope"),
            Err(ContainerError::NotFound(_))
        ));
        fs::write(Container::state_path(&c.dir), b"{\"id\": 3}").unwrap();
        assert!(matches!(
            Container::load(&root, "c1"),
            Err(ContainerError::Corrupt { .. })
        ));
        c.destroy().unwrap();
        assert!(Container::list(&root).unwrap().is_empty());
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn proc_stat_reads_names_with_parentheses() {
        let (state, start) = proc_stat(std::process::id() as i32).unwrap();
        assert!(state == 'R' || state == 'S', "{state}");
        assert!(start > 0);
        assert!(proc_stat(i32::MAX).is_none());
    }
}
