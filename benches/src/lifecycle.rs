//! Container lifecycle through the OCI runtime command line (runtime-spec "Operations":
//! create, start, state, delete; runc's and gVisor's `run`): the commands for our runsc, runc
//! and gVisor's runsc, a minimal bundle, and one timed round of create/start/delete.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::RunFailed;

/// An OCI runtime and its state directory (`--root`).
pub struct Runtime {
    pub label: &'static str,
    argv0: PathBuf,
    /// Global flags before the subcommand (gVisor's platform and network).
    flags: Vec<String>,
    root: PathBuf,
}

impl Runtime {
    /// Our runsc, with its state under `root`.
    pub fn ours(runsc: &Path, root: &Path) -> Self {
        Self::new("this runsc", runsc, &[], root)
    }

    /// runc, with its state under `root`.
    pub fn runc(runc: &Path, root: &Path) -> Self {
        Self::new("runc", runc, &[], root)
    }

    /// gVisor's runsc on the ptrace platform without a network (see `gvisor_do`).
    pub fn gvisor(runsc: &Path, root: &Path) -> Self {
        Self::new(
            "gVisor runsc",
            runsc,
            &["--platform=ptrace", "--network=none"],
            root,
        )
    }

    fn new(label: &'static str, argv0: &Path, flags: &[&str], root: &Path) -> Self {
        Self {
            label,
            argv0: argv0.to_path_buf(),
            flags: flags.iter().map(|s| s.to_string()).collect(),
            root: root.to_path_buf(),
        }
    }

    /// `RUNTIME --root ROOT [flags] OP ARGS...`.
    pub fn command(&self, op: &str, args: &[&str]) -> Vec<String> {
        let mut v = vec![
            self.argv0.to_string_lossy().into_owned(),
            "--root".into(),
            self.root.to_string_lossy().into_owned(),
        ];
        v.extend(self.flags.iter().cloned());
        v.push(op.into());
        v.extend(args.iter().map(|a| a.to_string()));
        v
    }

    /// The container's `status` from `state`, None if it is unknown to the runtime.
    pub fn status(&self, id: &str) -> Option<String> {
        let argv = self.command("state", &[id]);
        let out = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        parse_status(&String::from_utf8_lossy(&out.stdout))
    }

    /// One create, start, (wait until stopped), delete of `bundle` as `id`: the three times.
    pub fn lifecycle(&self, bundle: &Path, id: &str) -> Result<[Duration; 3], RunFailed> {
        let b = bundle.to_string_lossy();
        let create = run_timed(&self.command("create", &["--bundle", &b, id]))?;
        let result = (|| {
            let start = run_timed(&self.command("start", &[id]))?;
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.status(id).as_deref() != Some("stopped") {
                if Instant::now() > deadline {
                    return Err(RunFailed(format!("{id} did not stop within 10 s")));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let delete = run_timed(&self.command("delete", &[id]))?;
            Ok([create, start, delete])
        })();
        if result.is_err() {
            self.force_delete(id);
        }
        result
    }

    /// `run` of `bundle` as `id` in the foreground, end to end.
    pub fn run(&self, bundle: &Path, id: &str) -> Result<Duration, RunFailed> {
        let b = bundle.to_string_lossy();
        let r = run_timed(&self.command("run", &["--bundle", &b, id]));
        // runc and gVisor delete a container `run` made when it exits; make sure either way.
        self.force_delete(id);
        r
    }

    /// `delete --force`, errors ignored (cleanup).
    pub fn force_delete(&self, id: &str) {
        let argv = self.command("delete", &["--force", id]);
        let _ = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The `status` field of a runtime's `state` JSON.
pub fn parse_status(json: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    v.get("status")?.as_str().map(str::to_string)
}

/// Runs `argv` once with stdin and stdout on /dev/null and stderr in a file (a container's
/// processes inherit them, so a pipe would stay open after the command returns); the wall
/// time, or the last stderr line on failure.
pub fn run_timed(argv: &[String]) -> Result<Duration, RunFailed> {
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| RunFailed("empty command".into()))?;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let err_path = std::env::temp_dir().join(format!(
        "runsc-bench-stderr-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let err = std::fs::File::create(&err_path).map_err(|e| RunFailed(format!("stderr: {e}")))?;
    let start = Instant::now();
    let status = Command::new(prog)
        .args(args)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .status()
        .map_err(|e| RunFailed(format!("{prog}: {e}")))?;
    let elapsed = start.elapsed();
    let text = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&err_path);
    if !status.success() {
        return Err(RunFailed(format!(
            "{status} ({})",
            text.lines().last().unwrap_or("no stderr")
        )));
    }
    Ok(elapsed)
}

/// A bundle whose read-only root holds only `true_prog` as `/true`, the process: removed on
/// drop.
pub struct MinimalBundle {
    pub dir: PathBuf,
}

impl MinimalBundle {
    /// Lays the bundle out in the host's temporary directory.
    pub fn new(true_prog: &Path, tag: &str) -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!("runsc-bench-{tag}-{}", std::process::id()));
        let rootfs = dir.join("rootfs");
        std::fs::create_dir_all(rootfs.join("proc"))
            .map_err(|e| format!("{}: {e}", rootfs.display()))?;
        std::fs::copy(true_prog, rootfs.join("true")).map_err(|e| format!("copy: {e}"))?;
        let b = Self { dir };
        std::fs::write(b.dir.join("config.json"), minimal_config().to_string())
            .map_err(|e| format!("config.json: {e}"))?;
        Ok(b)
    }
}

impl Drop for MinimalBundle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The `config.json` of `MinimalBundle`: `/true`, read-only root, its own namespaces.
pub fn minimal_config() -> serde_json::Value {
    serde_json::json!({
        "ociVersion": "1.0.2",
        "process": { "terminal": false, "user": { "uid": 0, "gid": 0 }, "args": ["/true"],
                     "env": ["PATH=/"], "cwd": "/" },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": "bench",
        "mounts": [ { "destination": "/proc", "type": "proc", "source": "proc" } ],
        "linux": { "namespaces": [ { "type": "pid" }, { "type": "ipc" }, { "type": "uts" },
                                   { "type": "mount" }, { "type": "network" } ] }
    })
}

/// The median of `v` (None when empty).
pub fn median(mut v: Vec<Duration>) -> Option<Duration> {
    v.sort();
    v.get(v.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_put_root_and_flags_before_the_operation() {
        let g = Runtime::gvisor(Path::new("/g"), Path::new("/st"));
        assert_eq!(
            g.command("create", &["--bundle", "/b", "id1"]),
            [
                "/g",
                "--root",
                "/st",
                "--platform=ptrace",
                "--network=none",
                "create",
                "--bundle",
                "/b",
                "id1"
            ]
        );
        let o = Runtime::ours(Path::new("/r"), Path::new("/st"));
        assert_eq!(
            o.command("delete", &["x"]),
            ["/r", "--root", "/st", "delete", "x"]
        );
    }

    #[test]
    fn state_json_status_is_parsed() {
        let j = r#"{"ociVersion":"1.0.2","id":"t1","status":"stopped","pid":0}"#;
        assert_eq!(parse_status(j).as_deref(), Some("stopped"));
        assert_eq!(parse_status("{\"id\":\"x\"}"), None);
        assert_eq!(parse_status("not json"), None);
        assert_eq!(parse_status("{\"status\":3}"), None);
    }

    #[test]
    fn run_timed_reports_failures_and_median_picks_the_middle() {
        assert!(run_timed(&["/bin/true".into()]).is_ok());
        let e = run_timed(&[
            "/bin/sh".into(),
            "-c".into(),
            "echo oops >&2; exit 3".into(),
        ]);
        assert!(e.is_err_and(|RunFailed(m)| m.contains("oops")));
        let ms = Duration::from_millis;
        assert_eq!(median(vec![ms(5), ms(1), ms(3)]), Some(ms(3)));
        assert_eq!(median(Vec::new()), None);
        assert_eq!(minimal_config()["process"]["args"][0], "/true");
    }
}
