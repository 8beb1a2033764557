//! A Kubernetes pod through containerd's CRI plugin (k8s.io/cri-api runtime.v1, as the kubelet
//! drives it) with our `runsc` as a RuntimeClass handler: the runc v2 shim with `BinaryName`
//! pointing at `runsc`, and a `runc` handler as the reference. Debian's containerd is started
//! by hand with a private root, state, socket and runtime roots; the pause and busybox images
//! are built here and imported into the `k8s.io` namespace, so no registry is needed; the pod
//! uses the host's network (NamespaceMode NODE), so no CNI plugin is involved.
//!
//! The CRI client is `tests/cri/cri_client.py` (Debian's python3-grpcio; the messages are
//! encoded by hand from the CRI's api.proto field numbers). `.ci/run` installs what it needs.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tests::image::{docker_archive, Image, BUSYBOX};
use tests::{runsc_bin, unique_tmp_path, Outcome};

const RUNC: &str = "/usr/sbin/runc";
const PYTHON: &str = "/usr/bin/python3";
const PAUSE_IMAGE: &str = "localhost/cri-pause:test";
const APP_IMAGE: &str = "localhost/cri-busybox:test";
/// The pause container's command (the image's entrypoint).
const PAUSE_CMD: &str = "/bin/sleep 1000000";
/// The longest one CRI call or wait may take.
const LIMIT: Duration = Duration::from_secs(60);

fn client_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cri/cri_client.py")
}

fn require() {
    for p in [
        "/usr/bin/containerd",
        "/usr/bin/ctr",
        "/usr/bin/containerd-shim-runc-v2",
        RUNC,
        BUSYBOX,
        PYTHON,
    ] {
        assert!(
            Path::new(p).exists(),
            "{p} is missing: `apt-get install containerd runc busybox-static python3-grpcio` \
             (.ci/run does)"
        );
    }
    let o = Command::new(PYTHON).args(["-c", "import grpc"]).output();
    assert!(
        o.as_ref().is_ok_and(|o| o.status.success()),
        "Debian's python3 lacks grpc: `apt-get install python3-grpcio` (.ci/run does): {o:?}"
    );
}

/// The test's private directory and containerd; on drop, the daemon, every process naming the
/// directory (shims, sandboxes) and every mount under it are gone, and so is the directory.
struct Scratch {
    dir: PathBuf,
    daemon: Option<Child>,
    /// Each runtime binary and its root (relative to `dir`).
    runtimes: Vec<(PathBuf, &'static str)>,
}

impl Scratch {
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    fn stop_daemon(&mut self) {
        if let Some(child) = self.daemon.take() {
            tests::stop_process_group(child);
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Sandboxes and containers do not name the directory on their command lines: the
        // runtimes end them first.
        for (bin, root) in &self.runtimes {
            let root = self.dir.join(root);
            let ids = Command::new(bin)
                .arg("--root")
                .arg(&root)
                .args(["list", "-q"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            for id in ids.split_whitespace() {
                let _ = Command::new(bin)
                    .arg("--root")
                    .arg(&root)
                    .args(["delete", "--force", id])
                    .output();
            }
        }
        self.stop_daemon();
        tests::remove_scratch_dir(&self.dir);
    }
}

/// A busybox image as a docker-archive tar (manifest, config, one layer) with `entrypoint`.
fn image_archive(dir: &Path, tag: &str, entrypoint: Value) -> PathBuf {
    let image = Image {
        tag,
        dirs: &["tmp", "etc", "proc", "sys", "dev", "root"],
        applets: &["sh", "echo", "sleep", "cat", "ps", "id", "grep", "hostname"],
        config: serde_json::json!({
            "Entrypoint": entrypoint, "Env": ["PATH=/bin"], "WorkingDir": "/"
        }),
    };
    docker_archive(dir, &image)
}

/// containerd's configuration: the CRI plugin with handlers `runc` and `runsc` (runc v2 shim,
/// `BinaryName` and a private runtime `Root` each), everything else under `dir`.
fn containerd_config(dir: &Path, runsc: &Path) -> String {
    let d = dir.display();
    let mut c = format!(
        r#"version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  # Root here lacks CAP_SYS_RESOURCE: the pause container's -998 could not be set.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d}/cni/bin"
    conf_dir = "{d}/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
"#
    );
    for (name, bin) in [("runc", Path::new(RUNC)), ("runsc", runsc)] {
        let t = format!(r#"plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{name}"#);
        c += &format!(
            "    [{t}]\n      runtime_type = \"io.containerd.runc.v2\"\n      [{t}.options]\n        \
             BinaryName = \"{}\"\n        Root = \"{d}/{name}-root\"\n",
            bin.display()
        );
    }
    c
}

struct Cri {
    socket: PathBuf,
    logs: PathBuf,
}

impl Cri {
    /// `cri_client.py SOCKET ARGS`: its outcome.
    fn raw(&self, args: &[&str]) -> Outcome {
        let mut cmd = Command::new(PYTHON);
        cmd.arg(client_script())
            .arg(&self.socket)
            .args(args)
            .env_clear()
            .envs(tests::FIXED_ENV.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        tests::run(cmd, LIMIT + Duration::from_secs(10), &args.join(" "))
    }

    /// A call that must succeed: its JSON answer.
    fn call(&self, args: &[&str]) -> Value {
        let o = self.raw(args);
        assert_eq!(o.status, 0, "cri {}: {}", args.join(" "), o.stderr_str());
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("cri {}: {e}: {}", args.join(" "), o.stdout_str()))
    }

    fn str(&self, args: &[&str], key: &str) -> String {
        let v = self.call(args);
        v[key]
            .as_str()
            .unwrap_or_else(|| panic!("cri {}: no {key} in {v}", args.join(" ")))
            .to_string()
    }

    /// Creates and starts container `name` running `cmd` in pod `pod` (named `pod_name`).
    fn run(&self, pod: &str, pod_name: &str, name: &str, cmd: &[&str]) -> String {
        self.run_with_volumes(pod, pod_name, name, &[], cmd)
    }

    /// `run` with a volume for each `HOST:CTR[:ro]` of `volumes`.
    fn run_with_volumes(
        &self,
        pod: &str,
        pod_name: &str,
        name: &str,
        volumes: &[&str],
        cmd: &[&str],
    ) -> String {
        let logs = self.logs.to_str().unwrap();
        let log = format!("{name}.log");
        let mut a = vec!["create", pod, pod_name, logs, name, APP_IMAGE, &log];
        for v in volumes {
            a.extend_from_slice(&["-v", v]);
        }
        a.extend_from_slice(&["sh", "-c"]);
        a.extend_from_slice(cmd);
        let id = self.str(&a, "container");
        self.call(&["start", &id]);
        id
    }

    fn exec(&self, id: &str, cmd: &[&str]) -> (String, String, i64) {
        let mut a = vec!["exec", id, "30"];
        a.extend_from_slice(cmd);
        let v = self.call(&a);
        (
            v["stdout"].as_str().unwrap().to_string(),
            v["stderr"].as_str().unwrap().to_string(),
            v["exit_code"].as_i64().unwrap(),
        )
    }

    /// Waits until container `id` has exited: its exit code.
    fn wait_exited(&self, id: &str) -> i64 {
        let deadline = Instant::now() + LIMIT;
        loop {
            let v = self.call(&["status", id]);
            if v["state"] == "EXITED" {
                return v["exit_code"].as_i64().unwrap();
            }
            assert!(Instant::now() < deadline, "{id} did not exit: {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The container's log (CRI format: `TIME STREAM TAG LINE`) as `STREAM LINE` lines.
    fn log(&self, name: &str) -> String {
        let text = fs::read_to_string(self.logs.join(format!("{name}.log"))).unwrap_or_default();
        text.lines()
            .map(|l| {
                let f: Vec<&str> = l.splitn(4, ' ').collect();
                format!("{} {}\n", f.get(1).unwrap_or(&""), f.get(3).unwrap_or(&""))
            })
            .collect()
    }
}

/// Starts containerd with the CRI plugin and imports the images: the scratch directory
/// (owning the daemon) and a client.
fn start_containerd(runsc: &Path) -> (Scratch, Cri) {
    require();
    let mut s = Scratch {
        dir: unique_tmp_path("cri"),
        daemon: None,
        runtimes: vec![
            (PathBuf::from(RUNC), "runc-root/k8s.io"),
            (runsc.to_path_buf(), "runsc-root/k8s.io"),
        ],
    };
    fs::create_dir_all(s.path("logs")).unwrap();
    fs::write(s.path("config.toml"), containerd_config(&s.dir, runsc)).unwrap();
    let socket = s.path("containerd.sock");
    let log = fs::File::create(s.path("containerd.log")).unwrap();
    let mut daemon = Command::new("/usr/bin/containerd");
    daemon
        .arg("--config")
        .arg(s.path("config.toml"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .env_clear()
        .envs(tests::FIXED_ENV.iter().copied())
        .process_group(0);
    // The shims, and so `runsc`, inherit containerd's environment: the platform under test.
    if let Some(platform) = std::env::var_os("RUNSC_PLATFORM") {
        daemon.env("RUNSC_PLATFORM", platform);
    }
    s.daemon = Some(daemon.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !socket.exists() {
        let exited = s.daemon.as_mut().unwrap().try_wait().unwrap();
        assert!(
            exited.is_none() && Instant::now() < deadline,
            "containerd did not come up ({exited:?}):\n{}",
            fs::read_to_string(s.path("containerd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pause_cmd: Vec<&str> = PAUSE_CMD.split(' ').collect();
    for (tag, entry) in [
        (PAUSE_IMAGE, serde_json::json!(pause_cmd)),
        (APP_IMAGE, Value::Null),
    ] {
        let archive = image_archive(&s.dir, tag, entry);
        let mut cmd = Command::new("/usr/bin/ctr");
        cmd.arg("--address")
            .arg(&socket)
            .args(["--namespace", "k8s.io", "images", "import"])
            .arg(&archive)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let o = tests::run(cmd, LIMIT, "ctr images import");
        assert_eq!(o.status, 0, "ctr images import {tag}: {}", o.stderr_str());
    }
    let cri = Cri {
        socket,
        logs: s.path("logs"),
    };
    let v = cri.call(&["version"]);
    assert_eq!(
        (&v["runtime_name"], &v["runtime_api_version"]),
        (&Value::from("containerd"), &Value::from("v1")),
        "{v}"
    );
    (s, cri)
}

/// A running pod with `handler` and its app container (`echo started; exec sleep 1000`).
struct Pod {
    name: String,
    id: String,
    app: String,
}

fn run_pod(cri: &Cri, handler: &str) -> Pod {
    let name = format!("pod-{handler}");
    let logs = cri.logs.to_str().unwrap();
    let id = cri.str(&["runp", &name, handler, logs], "pod");
    let app = cri.run(&id, &name, "app", &["echo started; exec sleep 1000"]);
    let deadline = Instant::now() + LIMIT;
    while cri.log("app").is_empty() {
        assert!(Instant::now() < deadline, "{handler}: the app never logged");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(cri.log("app"), "stdout started\n", "{handler}: app log");
    Pod { name, id, app }
}

/// What the app of a running pod shows through ExecSync: `ps` (it shares the pod's PID
/// namespace: the pause process is there) and an exec's stdout, stderr and status.
fn exec_in_app(cri: &Cri, pod: &Pod) -> (String, (String, String, i64)) {
    let (ps, err, code) = cri.exec(&pod.app, &["ps", "-o", "args"]);
    assert_eq!((err.as_str(), code), ("", 0), "{}: ps", pod.name);
    let exec = cri.exec(&pod.app, &["sh", "-c", "echo out; echo err >&2; exit 7"]);
    (ps, exec)
}

/// A container of the pod with a rw and a ro volume (host directories under `host`): its
/// output, once it has exited, and what it wrote to the host.
fn volumes(cri: &Cri, pod: &Pod, host: &Path) -> (String, String) {
    let rw = host.join(format!("rw-{}", pod.name));
    let ro = host.join(format!("ro-{}", pod.name));
    fs::create_dir_all(&rw).unwrap();
    fs::create_dir_all(&ro).unwrap();
    fs::write(ro.join("data"), "configmap-data\n").unwrap();
    let (rw_spec, ro_spec) = (
        format!("{}:/data/rw", rw.display()),
        format!("{}:/data/ro:ro", ro.display()),
    );
    let id = cri.run_with_volumes(
        &pod.id,
        &pod.name,
        "vol",
        &[&rw_spec, &ro_spec],
        &["(echo from-the-pod > /data/rw/f; touch /data/ro/x; cat /data/ro/data) 2>&1"],
    );
    assert_eq!(cri.wait_exited(&id), 0, "{}: vol exit code", pod.name);
    let log = cri.log("vol");
    let _ = fs::remove_file(cri.logs.join("vol.log"));
    (log, fs::read_to_string(rw.join("f")).unwrap_or_default())
}

/// The rest of a pod's life: a container that exits 3 (its status and log), then the pod
/// stopped and removed, with nothing left in the runtime's root.
fn exit_and_remove(cri: &Cri, pod: &Pod, runtime_root: &Path) {
    let quick = cri.run(&pod.id, &pod.name, "exit3", &["echo bye; exit 3"]);
    assert_eq!(cri.wait_exited(&quick), 3, "{}: exit code", pod.name);
    assert_eq!(cri.log("exit3"), "stdout bye\n", "{}: exit3 log", pod.name);
    assert_eq!(
        cri.call(&["status", &pod.app])["state"],
        "RUNNING",
        "{}: the app outlives its sibling",
        pod.name
    );
    cri.call(&["stopp", &pod.id]);
    assert_eq!(cri.call(&["status", &pod.app])["state"], "EXITED");
    cri.call(&["rmp", &pod.id]);
    assert_eq!(cri.call(&["pods"])["pods"], serde_json::json!([]));
    assert_eq!(
        cri.call(&["containers"])["containers"],
        serde_json::json!([])
    );
    let left: Vec<_> = fs::read_dir(runtime_root)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "{}: runtime state left: {left:?}",
        pod.name
    );
    for name in ["app", "exit3"] {
        let _ = fs::remove_file(cri.logs.join(format!("{name}.log")));
    }
}

/// Both containers of the runsc pod are ours, and the app is a member of the pause
/// container's sandbox (it runs in that sentry), not a sandbox of its own.
fn assert_one_sandbox(runsc: &Path, runsc_root: &Path, pod: &Pod) {
    let mut list = Command::new(runsc);
    list.arg("--root")
        .arg(runsc_root)
        .args(["list", "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let o = tests::run(list, LIMIT, "runsc list");
    let mut ids: Vec<String> = o.stdout_str().lines().map(str::to_string).collect();
    ids.sort();
    let mut want = vec![pod.id.clone(), pod.app.clone()];
    want.sort();
    assert_eq!(ids, want, "runsc list: {}", o.stderr_str());
    let state: Value =
        serde_json::from_slice(&fs::read(runsc_root.join(&pod.id).join("state.json")).unwrap())
            .unwrap();
    assert_eq!(
        state["runsc"]["members"],
        serde_json::json!([pod.app]),
        "the pause container's sandbox holds the app"
    );
}

/// The host cgroup directory (pids hierarchy) of app container `id` of a runsc pod, which
/// exists while the container does.
fn member_cgroup(runsc_root: &Path, id: &str) -> PathBuf {
    let state: Value =
        serde_json::from_slice(&fs::read(runsc_root.join(id).join("state.json")).unwrap()).unwrap();
    let path = state["runsc"]["cgroup"].as_str().unwrap_or_else(|| {
        panic!("app container {id} has no cgroup: {state}");
    });
    let dir = Path::new("/sys/fs/cgroup/pids").join(path.trim_start_matches('/'));
    assert!(dir.is_dir(), "{}", dir.display());
    dir
}

#[test]
fn a_cri_pod_runs_in_one_runsc_sandbox_as_with_runc() {
    let runsc = runsc_bin();
    let (s, cri) = start_containerd(&runsc);

    // The reference: runc, the whole life of a pod.
    let pod = run_pod(&cri, "runc");
    let (ps, exec) = exec_in_app(&cri, &pod);
    assert_eq!(
        ps,
        format!("COMMAND\n{PAUSE_CMD}\nsleep 1000\nps -o args\n")
    );
    assert_eq!(exec, ("out\n".into(), "err\n".into(), 7), "runc: ExecSync");
    let vol = volumes(&cri, &pod, &s.path("volumes"));
    assert_eq!(
        vol,
        (
            "stdout touch: /data/ro/x: Read-only file system\nstdout configmap-data\n".into(),
            "from-the-pod\n".into()
        ),
        "runc: volumes"
    );
    exit_and_remove(&cri, &pod, &s.path("runc-root/k8s.io"));

    // Ours: the same pod in one sandbox, seen the same way from inside.
    let pod = run_pod(&cri, "runsc");
    let runsc_root = s.path("runsc-root/k8s.io");
    assert_one_sandbox(&runsc, &runsc_root, &pod);
    assert_eq!(exec_in_app(&cri, &pod), (ps, exec), "runsc as runc");
    assert_eq!(
        volumes(&cri, &pod, &s.path("volumes")),
        vol,
        "runsc: volumes"
    );
    let cgroup = member_cgroup(&runsc_root, &pod.app);
    cri.call(&["stopp", &pod.id]);
    cri.call(&["rmp", &pod.id]);
    assert!(
        !cgroup.exists(),
        "{} outlived its container",
        cgroup.display()
    );
    // An exited container's status and the pod's removal: the next test.
    drop(s);
}

/// With runsc: a deleted app container's root is let go (its overlay used to keep the gofer's
/// files open through a parent/child reference cycle, so containerd's unmount of the rootfs
/// failed with EBUSY, ContainerStatus stayed RUNNING and StopPodSandbox timed out).
#[test]
fn a_runsc_pods_exited_container_reports_its_status_and_the_pod_is_removed() {
    let runsc = runsc_bin();
    let (s, cri) = start_containerd(&runsc);
    let pod = run_pod(&cri, "runsc");
    exit_and_remove(&cri, &pod, &s.path("runsc-root/k8s.io"));
}
