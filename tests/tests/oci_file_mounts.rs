//! Bind mounts of single host files in an OCI bundle, as Docker makes them for /etc/hosts,
//! /etc/hostname and /etc/resolv.conf: the file shows at its destination (made as an empty
//! file when the rootfs lacks it, as runc does), a read-write one writes through to the host,
//! a read-only one refuses writes. Every scenario runs against our `runsc` and against `runc`,
//! the reference (helpers as in `oci_lifecycle.rs`).

use std::fs;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;
use std::time::Duration;

use serde_json::Value;
use tests::{runsc_bin, unique_tmp_path};

/// Where Debian's runc lives.
const RUNC: &str = "/usr/sbin/runc";
/// Where Debian's busybox-static lives.
const BUSYBOX: &str = "/bin/busybox";
/// The longest any one runtime command may take before the test calls it hung.
const COMMAND_LIMIT: Duration = Duration::from_secs(30);

/// One OCI runtime under test, with a state root of its own.
struct Runtime {
    name: &'static str,
    bin: PathBuf,
    root: PathBuf,
    log: PathBuf,
}

fn runtimes() -> Vec<Runtime> {
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

fn become_subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: PR_SET_CHILD_SUBREAPER only changes who adopts this process's orphans.
        let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(r, 0, "PR_SET_CHILD_SUBREAPER");
    });
}

/// What a short runtime command printed.
struct Out {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Runtime {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root")
            .arg(&self.root)
            .arg("--log")
            .arg(&self.log)
            .arg("--log-format")
            .arg("json")
            .args(args)
            .env_clear()
            .envs(tests::FIXED_ENV.iter().copied());
        cmd
    }

    /// Runs a short command (start, kill, delete, state...) the way a shim does: its stdout
    /// and stderr are pipes read to end-of-file, which no helper process may hold open.
    fn short(&self, args: &[&str]) -> Out {
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
        let status = tests::shell_status(child.wait().unwrap());
        Out {
            status,
            stdout,
            stderr,
        }
    }

    /// `create --bundle B --pid-file P ID` with the container's output going to `B/out`;
    /// returns the pid file's pid.
    fn create(&self, bundle: &Path, id: &str) -> i32 {
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

    fn cleanup(&self) {
        let _ = fs::remove_dir_all(&self.root);
        let _ = fs::remove_file(&self.log);
    }
}

/// A bundle whose rootfs holds busybox and its applets, running `sh -c SCRIPT`.
fn bundle(rt: &Runtime, script: &str) -> PathBuf {
    assert!(
        Path::new(BUSYBOX).is_file(),
        "{BUSYBOX} is missing: `apt-get install busybox-static` (.ci/run does)"
    );
    let dir = unique_tmp_path(&format!("oci-{}-bundle", rt.name));
    let bin = dir.join("rootfs/bin");
    fs::create_dir_all(&bin).unwrap();
    fs::copy(BUSYBOX, bin.join("busybox")).unwrap();
    for applet in ["sh", "echo", "sleep", "cat", "true", "kill", "ls"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    // The starter spec of our own `runsc spec`, which runc must accept too.
    let o = Command::new(runsc_bin())
        .args(["spec", "--bundle"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "runsc spec: {o:?}");
    let path = dir.join("config.json");
    let mut config: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    config["process"]["args"] = serde_json::json!(["sh", "-c", script]);
    fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    dir
}

/// Reaps `pid` (a child of ours once `create` has exited) and returns its shell status.
fn reap(pid: i32) -> i32 {
    let mut status = 0;
    // SAFETY: waitpid writes only to `status`.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(
        r,
        pid,
        "waitpid({pid}): {}",
        std::io::Error::last_os_error()
    );
    tests::shell_status(std::process::ExitStatus::from_raw(status))
}

fn for_each_runtime(f: impl Fn(&Runtime)) {
    for rt in runtimes() {
        f(&rt);
        rt.cleanup();
    }
}

#[test]
fn host_files_bound_over_etc_hostname_and_a_read_only_one() {
    for_each_runtime(|rt| {
        let host = unique_tmp_path(&format!("oci-{}-hostfiles", rt.name));
        fs::create_dir_all(&host).unwrap();
        fs::write(host.join("hostname"), "bound-host\n").unwrap();
        fs::write(host.join("ro"), "read only\n").unwrap();
        let b = bundle(
            rt,
            "cat /etc/hostname; echo more >> /etc/hostname; cat /etc/hostname; cat /etc/ro; \
             (echo x >> /etc/ro) 2>/dev/null && echo wrote || echo refused",
        );
        let path = b.join("config.json");
        let mut config: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        let mounts = config["mounts"].as_array_mut().unwrap();
        mounts.push(serde_json::json!({
            "destination": "/etc/hostname", "type": "bind",
            "source": host.join("hostname"), "options": ["rbind", "rprivate"]
        }));
        mounts.push(serde_json::json!({
            "destination": "/etc/ro", "type": "bind",
            "source": host.join("ro"), "options": ["rbind", "rprivate", "ro"]
        }));
        fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();

        let pid = rt.create(&b, "files");
        let o = rt.short(&["start", "files"]);
        assert_eq!(o.status, 0, "{} start: {}", rt.name, o.stderr);
        assert_eq!(o.stdout, "", "{}: start prints nothing", rt.name);
        let status = reap(pid);
        let out = fs::read_to_string(b.join("out")).unwrap_or_default();
        assert_eq!(status, 0, "{}: {out}", rt.name);
        assert_eq!(
            out, "bound-host\nbound-host\nmore\nread only\nrefused\n",
            "{}",
            rt.name
        );
        assert_eq!(
            fs::read_to_string(host.join("hostname")).unwrap(),
            "bound-host\nmore\n",
            "{}: the write reached the host",
            rt.name
        );
        assert_eq!(fs::read_to_string(host.join("ro")).unwrap(), "read only\n");
        let o = rt.short(&["delete", "files"]);
        assert_eq!(o.status, 0, "{} delete: {}", rt.name, o.stderr);
        let _ = fs::remove_dir_all(&b);
        let _ = fs::remove_dir_all(&host);
    });
}
