//! The OCI runtime harness shared by the OCI test files: a runtime under test (our runsc or
//! runc) with its own state root and json log, called as the engines call it, a busybox bundle
//! made with our `runsc spec`, and reaping the pid-file process (the test binary becomes a
//! child subreaper, as containerd's shim and conmon are).

use std::fs;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;
use std::time::Duration;

use crate::{runsc_bin, unique_tmp_path};
use serde_json::Value;

/// Where Debian's runc lives.
pub const RUNC: &str = "/usr/sbin/runc";
/// Where Debian's busybox-static lives.
pub const BUSYBOX: &str = "/bin/busybox";
/// The longest any one runtime command may take before the test calls it hung.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(30);

/// One OCI runtime under test, with a state root of its own.
pub struct Runtime {
    pub name: &'static str,
    pub bin: PathBuf,
    pub root: PathBuf,
    pub log: PathBuf,
}

pub fn runtimes() -> Vec<Runtime> {
    become_subreaper();
    let mk = |name: &'static str, bin: PathBuf| {
        let root = unique_tmp_path(&format!("oci-{name}-root"));
        Runtime {
            name,
            bin,
            log: root.with_extension("log.json"),
            root,
        }
    };
    assert!(
        Path::new(RUNC).is_file(),
        "{RUNC} is missing: `apt-get install runc` (.ci/run does)"
    );
    vec![mk("runsc", runsc_bin()), mk("runc", PathBuf::from(RUNC))]
}

pub fn become_subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: PR_SET_CHILD_SUBREAPER only changes who adopts this process's orphans.
        let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(r, 0, "PR_SET_CHILD_SUBREAPER");
    });
}

/// What a short runtime command printed.
pub struct Out {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Runtime {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root")
            .arg(&self.root)
            .arg("--log")
            .arg(&self.log)
            .arg("--log-format")
            .arg("json")
            .args(args)
            .env_clear()
            .envs(crate::FIXED_ENV.iter().copied());
        cmd
    }

    /// Runs a short command (start, kill, delete, state...) the way a shim does: its stdout
    /// and stderr are pipes read to end-of-file, which no helper process may hold open.
    pub fn short(&self, args: &[&str]) -> Out {
        let what = format!("{} {}", self.name, args.join(" "));
        let mut child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let (tx, rx) = std::sync::mpsc::channel();
        let mut out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut o = String::new();
            let mut e = String::new();
            let _ = out.read_to_string(&mut o);
            let _ = err.read_to_string(&mut e);
            let _ = tx.send((o, e));
        });
        let (stdout, stderr) = rx
            .recv_timeout(COMMAND_LIMIT)
            .unwrap_or_else(|_| panic!("{what}: stdout/stderr never reached end-of-file"));
        let status = crate::shell_status(child.wait().unwrap());
        Out {
            status,
            stdout,
            stderr,
        }
    }

    /// `create --bundle B --pid-file P ID` with the container's output going to `B/out`;
    /// returns the pid file's pid.
    pub fn create(&self, bundle: &Path, id: &str) -> i32 {
        let out = fs::File::create(bundle.join("out")).unwrap();
        let pid_file = bundle.join("init.pid");
        let mut child = self
            .command(&["create", "--bundle"])
            .arg(bundle)
            .arg("--pid-file")
            .arg(&pid_file)
            .arg(id)
            .current_dir(bundle)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let status = child.wait().unwrap();
        assert!(
            status.success(),
            "{} create {id}: {status:?}: {}",
            self.name,
            fs::read_to_string(bundle.join("out")).unwrap_or_default()
        );
        let pid = fs::read_to_string(&pid_file).unwrap();
        pid.trim().parse().unwrap()
    }

    /// A `create` expected to fail: its status (output goes to a file, so that a container
    /// wrongly created cannot hang the test by holding a pipe).
    pub fn try_create(&self, bundle: &Path, id: &str) -> i32 {
        let out = fs::File::create(bundle.join("out")).unwrap();
        let status = self
            .command(&["create", "--bundle"])
            .arg(bundle)
            .arg(id)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .status()
            .unwrap();
        crate::shell_status(status)
    }

    pub fn state(&self, id: &str) -> Value {
        let o = self.short(&["state", id]);
        assert_eq!(o.status, 0, "{} state {id}: {}", self.name, o.stderr);
        serde_json::from_str(&o.stdout).unwrap()
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    /// The message of the last error line of the json log (what containerd shows its user).
    pub fn last_log_error(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .rfind(|v| v["level"] == "error")
            .map(|v| v["msg"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    }

    pub fn cleanup(&self) {
        let _ = fs::remove_dir_all(&self.root);
        let _ = fs::remove_file(&self.log);
    }
}

/// A bundle whose rootfs holds busybox and its applets, running `sh -c SCRIPT`.
pub fn bundle(rt: &Runtime, script: &str) -> PathBuf {
    busybox_bundle(&format!("oci-{}", rt.name), script, |_| {})
}

/// A bundle (in a fresh directory named after `tag`) whose rootfs holds busybox and its
/// applets, running `sh -c SCRIPT`, with `edit` applied to the starter spec of our own
/// `runsc spec` (which runc must accept too).
pub fn busybox_bundle(tag: &str, script: &str, edit: impl Fn(&mut Value)) -> PathBuf {
    assert!(
        Path::new(BUSYBOX).is_file(),
        "{BUSYBOX} is missing: `apt-get install busybox-static` (.ci/run does)"
    );
    let dir = unique_tmp_path(&format!("{tag}-bundle"));
    let bin = dir.join("rootfs/bin");
    fs::create_dir_all(&bin).unwrap();
    fs::copy(BUSYBOX, bin.join("busybox")).unwrap();
    let applets = [
        "sh", "echo", "sleep", "cat", "true", "kill", "ls", "grep", "touch", "hostname",
    ];
    for applet in applets {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    let o = Command::new(runsc_bin())
        .args(["spec", "--bundle"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "runsc spec: {o:?}");
    let path = dir.join("config.json");
    let mut config: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    config["process"]["args"] = serde_json::json!(["sh", "-c", script]);
    edit(&mut config);
    fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    dir
}

/// Reaps `pid` (a child of ours once `create` has exited) and returns its shell status.
pub fn reap(pid: i32) -> i32 {
    let mut status = 0;
    // SAFETY: waitpid writes only to `status`.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(
        r,
        pid,
        "waitpid({pid}): {}",
        std::io::Error::last_os_error()
    );
    crate::shell_status(std::process::ExitStatus::from_raw(status))
}

pub fn for_each_runtime(f: impl Fn(&Runtime)) {
    for rt in runtimes() {
        f(&rt);
        rt.cleanup();
    }
}

/// Waits until the container of `bundle` has printed `ready` (its traps are set and its
/// child started).
pub fn wait_for_ready(bundle: &Path) {
    for _ in 0..1500 {
        if fs::read_to_string(bundle.join("out")).is_ok_and(|o| o.contains("ready\n")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{}: the container never printed ready", bundle.display());
}
