//! Real container engines driving our `runsc` as they drive runc (OCI-CONTRACT.md, "Running
//! the engines on this machine"): Debian's containerd (through `ctr run --runc-binary`, so the
//! runc v2 shim calls the runtime), podman (`--runtime`) and Docker (a `daemon.json` runtimes
//! entry). Each test starts its daemon by hand on a private socket and state directory, runs
//! its scenarios with our `runsc` and with runc (the reference), and tears everything down.
//!
//! The image is built here: a busybox root filesystem packed as a docker-archive tar (a
//! `manifest.json`, a config JSON and one layer tar), which `ctr images import`, `podman load`
//! and `docker load` all accept; no registry is needed. `.ci/run` installs the engines.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tests::image::{docker_archive, Image, BUSYBOX};
use tests::{runsc_bin, unique_tmp_path, Outcome};

const RUNC: &str = "/usr/sbin/runc";
const IMAGE: &str = "localhost/engines-busybox:test";
/// The longest one engine command may take.
const LIMIT: Duration = Duration::from_secs(60);

fn require(paths: &[&str]) {
    for p in paths {
        assert!(
            Path::new(p).exists(),
            "{p} is missing: `apt-get install containerd docker.io podman conmon runc \
             busybox-static` (.ci/run does)"
        );
    }
}

/// A private directory for one engine; on drop, its daemon is gone: whatever is still mounted
/// under it is unmounted, any process naming it on its command line (shims, sandboxes) is
/// killed, and it is removed.
struct Scratch {
    dir: PathBuf,
    daemon: Option<Child>,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = unique_tmp_path(&format!("eng-{name}"));
        fs::create_dir_all(&dir).unwrap();
        Scratch { dir, daemon: None }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Starts a daemon in a process group of its own, its output in `DIR/NAME.log`, and waits
    /// until `socket` exists.
    fn start_daemon(&mut self, name: &str, mut cmd: Command, socket: &Path) {
        let log = fs::File::create(self.path(&format!("{name}.log"))).unwrap();
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .env_clear()
            .envs(tests::FIXED_ENV.iter().copied())
            .process_group(0);
        self.daemon = Some(cmd.spawn().unwrap_or_else(|e| panic!("{name}: {e}")));
        let deadline = Instant::now() + Duration::from_secs(30);
        while !socket.exists() {
            let log = fs::read_to_string(self.path(&format!("{name}.log"))).unwrap_or_default();
            let exited = self.daemon.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "{name} did not come up ({exited:?}):\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop_daemon(&mut self) {
        if let Some(child) = self.daemon.take() {
            tests::stop_process_group(child);
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.stop_daemon();
        tests::remove_scratch_dir(&self.dir);
    }
}

/// Builds the busybox image as a docker-archive tar under `dir` and returns its path.
fn image_archive(dir: &Path) -> PathBuf {
    let image = Image {
        tag: IMAGE,
        dirs: &["tmp", "data", "etc", "proc", "sys", "dev", "root"],
        applets: &[
            "sh", "echo", "sleep", "cat", "true", "ls", "tty", "touch", "id",
        ],
        config: serde_json::json!({"Cmd": ["sh"], "Env": ["PATH=/bin"], "WorkingDir": "/"}),
    };
    docker_archive(dir, &image)
}

/// Runs `cmd` (stdin from `input`) to completion within [`LIMIT`].
fn run(mut cmd: Command, input: Option<&str>, what: &str) -> Outcome {
    cmd.env_clear()
        .envs(tests::FIXED_ENV.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match input {
        None => {
            cmd.stdin(Stdio::null());
            tests::run(cmd, LIMIT, what)
        }
        Some(text) => {
            // Feed stdin from a file: its end-of-file is then certain.
            let path = unique_tmp_path("eng-stdin");
            fs::write(&path, text).unwrap();
            cmd.stdin(fs::File::open(&path).unwrap());
            let o = tests::run(cmd, LIMIT, what);
            let _ = fs::remove_file(&path);
            o
        }
    }
}

/// Asserts a command's status and stdout.
fn expect(o: &Outcome, status: i32, stdout: &str, what: &str) {
    assert_eq!(
        (o.status, o.stdout_str().as_str()),
        (status, stdout),
        "{what}: stderr: {}",
        o.stderr_str()
    );
}

/// Polls `check` until it holds (within [`LIMIT`]).
fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: timed out");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The runtimes every engine runs with: ours and the reference.
fn runtimes() -> Vec<(&'static str, PathBuf)> {
    vec![("runsc", runsc_bin()), ("runc", PathBuf::from(RUNC))]
}

// ---------------------------------------------------------------------------------------
// containerd
// ---------------------------------------------------------------------------------------

struct Ctr {
    socket: PathBuf,
}

impl Ctr {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("/usr/bin/ctr");
        c.arg("--address")
            .arg(&self.socket)
            .args(["--namespace", "engines"])
            .args(args);
        c
    }

    fn run(&self, args: &[&str], what: &str) -> Outcome {
        run(self.cmd(args), None, what)
    }

    /// `ctr ARGS` (a foreground `run`) on a thread of its own, stdin from /dev/null.
    fn foreground(&self, args: &[String]) -> std::thread::JoinHandle<Outcome> {
        let mut cmd = self.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>());
        cmd.env_clear()
            .envs(tests::FIXED_ENV.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let what = format!("ctr {}", args.join(" "));
        std::thread::spawn(move || tests::run(cmd, LIMIT, &what))
    }

    /// Waits until container `id` has created `/tmp/ready` (polled with `ctr task exec`).
    fn wait_ready(&self, id: &str, what: &str) {
        let mut n = 0;
        wait_until(&format!("{what} ready"), || {
            n += 1;
            let e = format!("poll{n}");
            let a = [
                "task",
                "exec",
                "--exec-id",
                &e,
                id,
                "sh",
                "-c",
                "test -e /tmp/ready",
            ];
            self.run(&a, "ctr task exec test").status == 0
        });
    }
}

#[test]
fn containerd_runs_containers_through_the_runc_shim() {
    require(&[
        "/usr/bin/containerd",
        "/usr/bin/ctr",
        "/usr/bin/containerd-shim-runc-v2",
        RUNC,
        BUSYBOX,
    ]);
    let mut s = Scratch::new("containerd");
    let socket = s.path("containerd.sock");
    let config = format!(
        "version = 2\nroot = \"{root}/root\"\nstate = \"{root}/state\"\n\
         disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
         [grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n",
        root = s.dir.display(),
        sock = socket.display()
    );
    fs::write(s.path("config.toml"), config).unwrap();
    let mut daemon = Command::new("/usr/bin/containerd");
    daemon.arg("--config").arg(s.path("config.toml"));
    s.start_daemon("containerd", daemon, &socket);
    let ctr = Ctr { socket };
    let archive = image_archive(&s.dir);
    let o = ctr.run(
        &["images", "import", archive.to_str().unwrap()],
        "ctr images import",
    );
    assert_eq!(o.status, 0, "ctr images import: {}", o.stderr_str());

    for (name, bin) in runtimes() {
        let bin = bin.to_str().unwrap();
        // Unique per run: ctr names the container's cgroup `/engines/ID` and the shim's
        // runtime root is the host's /run/containerd/runc/engines, which a killed earlier run
        // may have left an ID in.
        let id = |s: &str| tests::unique_id(&format!("{name}-{s}-"));
        let run_args = |id: &str, detach: bool, script: &str| -> Vec<String> {
            let mut v = vec!["run".to_string(), "--runc-binary".into(), bin.into()];
            v.push(if detach { "-d" } else { "--rm" }.into());
            for a in [IMAGE, id, "sh", "-c", script] {
                v.push(a.into());
            }
            v
        };
        let strs = |v: &[String]| v.iter().map(String::as_str).collect::<Vec<_>>().join(" ");
        let run_ctr = |v: Vec<String>, what: &str| {
            let args: Vec<&str> = v.iter().map(String::as_str).collect();
            ctr.run(&args, what)
        };

        // Output and exit status of a foreground container.
        let a = run_args(&id("exit"), false, "echo hello from $(id -u); exit 42");
        let o = run_ctr(a.clone(), &strs(&a));
        expect(&o, 42, "hello from 0\n", &format!("{name}: {}", strs(&a)));

        // A foreground container that traps TERM; exec into it; `ctr task kill` (TERM).
        let long = id("long");
        let a = run_args(
            &long,
            false,
            "trap 'echo got TERM; exit 5' TERM; echo up; touch /tmp/ready; sleep 100 & wait",
        );
        let fg = ctr.foreground(&a);
        ctr.wait_ready(&long, &format!("{name}: {long}"));
        let o = ctr.run(
            &[
                "task",
                "exec",
                "--exec-id",
                "e1",
                &long,
                "sh",
                "-c",
                "echo in exec; exit 3",
            ],
            "ctr task exec",
        );
        expect(&o, 3, "in exec\n", &format!("{name}: ctr task exec"));
        let o = ctr.run(&["task", "ps", &long], "ctr task ps");
        assert_eq!(o.status, 0, "{name}: ctr task ps: {}", o.stderr_str());
        assert!(
            o.stdout_str().lines().count() >= 2,
            "{name}: ctr task ps: {}",
            o.stdout_str()
        );
        let o = ctr.run(&["task", "kill", &long], "ctr task kill");
        assert_eq!(o.status, 0, "{name}: ctr task kill: {}", o.stderr_str());
        let o = fg.join().unwrap();
        expect(
            &o,
            5,
            "up\ngot TERM\n",
            &format!("{name}: ctr run after kill"),
        );

        // A detached container, killed with SIGKILL: its task stops with 137.
        let det = id("det");
        let a = run_args(&det, true, "sleep 100");
        let o = run_ctr(a.clone(), &strs(&a));
        assert_eq!(o.status, 0, "{name}: {}: {}", strs(&a), o.stderr_str());
        let o = ctr.run(&["task", "kill", "-s", "SIGKILL", &det], "ctr task kill -s");
        assert_eq!(o.status, 0, "{name}: kill -s SIGKILL: {}", o.stderr_str());
        wait_until(&format!("{name}: {det} stopped"), || {
            let o = ctr.run(&["task", "ls"], "ctr task ls");
            o.stdout_str()
                .lines()
                .any(|l| l.starts_with(&det) && l.contains("STOPPED"))
        });
        let o = ctr.run(&["task", "delete", &det], "ctr task delete");
        assert_eq!(o.status, 0, "{name}: task delete: {}", o.stderr_str());
        let o = ctr.run(&["containers", "delete", &det], "ctr containers delete");
        assert_eq!(o.status, 0, "{name}: containers delete: {}", o.stderr_str());
        let o = ctr.run(&["containers", "ls", "-q"], "ctr containers ls");
        assert_eq!(o.stdout_str(), "", "{name}: containers left");
    }
}

// ---------------------------------------------------------------------------------------
// podman and Docker: one command-line dialect
// ---------------------------------------------------------------------------------------

/// A docker-style command line (`docker` or `podman`) with its global flags.
struct Cli {
    name: &'static str,
    bin: &'static str,
    global: Vec<String>,
    /// Flags every `run` gets (network, ulimits).
    run_flags: Vec<String>,
}

impl Cli {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(self.bin);
        c.args(&self.global).args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Outcome {
        let what = format!("{} {}", self.name, args.join(" "));
        run(self.cmd(args), None, &what)
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status,
            0,
            "{} {}: {}",
            self.name,
            args.join(" "),
            o.stderr_str()
        );
        o.stdout_str()
    }

    /// `run --runtime RT [run_flags] EXTRA IMAGE sh -c SCRIPT`.
    fn run_args<'a>(
        &'a self,
        runtime: &'a str,
        extra: &[&'a str],
        script: &'a str,
    ) -> Vec<&'a str> {
        let mut v = vec!["run", "--runtime", runtime];
        v.extend(self.run_flags.iter().map(String::as_str));
        v.extend_from_slice(extra);
        v.extend_from_slice(&[IMAGE, "sh", "-c", script]);
        v
    }

    fn logs(&self, id: &str) -> String {
        let o = self.run(&["logs", id]);
        format!("{}{}", o.stdout_str(), o.stderr_str())
    }
}

/// The scenarios podman and Docker share, with runtime `runtime` (a name or a path) whose
/// label in messages is `label`; `data` is a host directory to bind-mount.
fn cli_scenarios(cli: &Cli, label: &str, runtime: &str, data: &Path) {
    let what = |s: &str| format!("{} with {label}: {s}", cli.name);
    let name = |s: &str| format!("{label}-{s}");

    // Output, stderr and exit status of a foreground container.
    let o = run(
        cli.cmd(&cli.run_args(runtime, &["--rm"], "echo out; echo err >&2; exit 42")),
        None,
        &what("run"),
    );
    expect(&o, 42, "out\n", &what("run --rm"));
    assert_eq!(o.stderr_str(), "err\n", "{}", what("run stderr"));

    // stdin with -i reaches the container, and so does its end-of-file.
    let o = run(
        cli.cmd(&cli.run_args(runtime, &["--rm", "-i"], "cat; echo eof")),
        Some("line one\nline two\n"),
        &what("run -i"),
    );
    expect(&o, 0, "line one\nline two\neof\n", &what("run -i"));

    // A terminal with -t.
    let o = run(
        cli.cmd(&cli.run_args(runtime, &["--rm", "-t"], "tty; exit 4")),
        None,
        &what("run -t"),
    );
    expect(&o, 4, "/dev/pts/0\r\n", &what("run -t"));

    // Detached with a bind mount; exec into it; logs; stop (TERM, which it traps).
    fs::write(data.join("from-host"), "host data\n").unwrap();
    let d1 = name("d1");
    let mount = format!("{}:/data", data.display());
    let a = cli.run_args(
        runtime,
        &["-d", "--name", &d1, "-v", &mount],
        "trap 'echo got TERM; exit 9' TERM; cat /data/from-host; echo ready; sleep 100 & wait",
    );
    cli.ok(&a);
    wait_until(&what("d1 ready"), || cli.logs(&d1).contains("ready\n"));
    let o = cli.run(&[
        "exec",
        &d1,
        "sh",
        "-c",
        "echo in exec > /data/from-exec; exit 3",
    ]);
    expect(&o, 3, "", &what("exec"));
    assert_eq!(
        fs::read_to_string(data.join("from-exec")).unwrap(),
        "in exec\n",
        "{}",
        what("exec wrote through the bind mount")
    );
    let o = cli.run(&["exec", "-i", &d1, "cat"]);
    expect(&o, 0, "", &what("exec -i with empty stdin"));
    cli.ok(&["stop", "-t", "20", &d1]);
    let st = cli.ok(&[
        "inspect",
        "--format",
        "{{.State.ExitCode}} {{.State.Status}}",
        &d1,
    ]);
    assert_eq!(st.trim(), "9 exited", "{}", what("exit code after stop"));
    assert_eq!(
        cli.logs(&d1),
        "host data\nready\ngot TERM\n",
        "{}",
        what("logs")
    );
    cli.ok(&["rm", &d1]);

    // A read-only bind mount; a container that ignores TERM is killed by kill (137).
    let d2 = name("d2");
    let ro = format!("{}:/data:ro", data.display());
    let a = cli.run_args(
        runtime,
        &["-d", "--name", &d2, "-v", &ro],
        "touch /data/nope 2>/dev/null || echo read-only; echo ready; sleep 100",
    );
    cli.ok(&a);
    wait_until(&what("d2 ready"), || cli.logs(&d2).contains("ready\n"));
    assert!(!data.join("nope").exists(), "{}", what("ro bind mount"));
    cli.ok(&["kill", &d2]);
    let code = cli.ok(&["wait", &d2]);
    assert_eq!(code.trim(), "137", "{}", what("wait after kill"));
    assert_eq!(cli.logs(&d2), "read-only\nready\n", "{}", what("logs d2"));
    cli.ok(&["rm", &d2]);
    let left = cli.ok(&["ps", "-aq"]);
    assert_eq!(left, "", "{}", what("containers left"));
    let _ = fs::remove_file(data.join("from-exec"));
}

#[test]
fn podman_runs_containers_with_our_runtime() {
    require(&["/usr/bin/podman", "/usr/bin/conmon", RUNC, BUSYBOX]);
    let s = Scratch::new("podman");
    let d = s.dir.display().to_string();
    let cli = Cli {
        name: "podman",
        bin: "/usr/bin/podman",
        global: [
            "--root",
            &format!("{d}/root"),
            "--runroot",
            &format!("{d}/run"),
            "--tmpdir",
            &format!("{d}/tmp"),
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            "--log-level",
            "error",
        ]
        .map(String::from)
        .to_vec(),
        // Root here lacks CAP_SYS_RESOURCE: podman's default ulimits cannot be set.
        run_flags: [
            "--network",
            "none",
            "--ulimit",
            "nofile=4096:4096",
            "--ulimit",
            "nproc=4096:4096",
        ]
        .map(String::from)
        .to_vec(),
    };
    let archive = image_archive(&s.dir);
    cli.ok(&["load", "-i", archive.to_str().unwrap()]);
    let data = s.path("data");
    fs::create_dir_all(&data).unwrap();
    for (label, bin) in runtimes() {
        cli_scenarios(&cli, label, bin.to_str().unwrap(), &data);
    }
    let _ = cli.run(&["rm", "-af"]);
}

#[test]
fn docker_runs_containers_with_our_runtime() {
    require(&["/usr/sbin/dockerd", "/usr/bin/docker", RUNC, BUSYBOX]);
    require(&["/usr/sbin/ip"]);
    // Declared first, dropped last: after dockerd has gone.
    let bridge = Bridge::new();
    let mut s = Scratch::new("docker");
    let d = s.dir.display().to_string();
    let socket = s.path("docker.sock");
    let config = serde_json::json!({
        "data-root": format!("{d}/data"),
        "exec-root": format!("{d}/exec"),
        "pidfile": format!("{d}/docker.pid"),
        "hosts": [format!("unix://{}", socket.display())],
        "storage-driver": "vfs",
        // Only loopback may carry traffic here: a bridge of our own, no iptables.
        "bridge": bridge.name,
        "iptables": false,
        "ip6tables": false,
        "ip-forward": false,
        "ip-masq": false,
        "runtimes": {"runsc-under-test": {"path": runsc_bin()}},
    });
    fs::write(s.path("daemon.json"), serde_json::to_vec(&config).unwrap()).unwrap();
    let mut daemon = Command::new("/usr/sbin/dockerd");
    daemon.arg("--config-file").arg(s.path("daemon.json"));
    s.start_daemon("dockerd", daemon, &socket);
    let cli = Cli {
        name: "docker",
        bin: "/usr/bin/docker",
        global: vec![
            "--config".into(),
            format!("{d}/client"),
            "--host".into(),
            format!("unix://{}", socket.display()),
        ],
        run_flags: vec!["--network".into(), "none".into()],
    };
    // dockerd answers on its socket a moment before it serves requests.
    wait_until("dockerd ready", || cli.run(&["version"]).status == 0);
    let archive = image_archive(&s.dir);
    cli.ok(&["load", "-i", archive.to_str().unwrap()]);
    let data = s.path("data-vol");
    fs::create_dir_all(&data).unwrap();
    for (label, runtime) in [("runsc", "runsc-under-test"), ("runc", "runc")] {
        cli_scenarios(&cli, label, runtime, &data);
        // The default (bridge) network: Docker's prestart hook `libnetwork-setkey` must find
        // the container's network namespace through the state's pid.
        let o = cli.run(&[
            "run",
            "--runtime",
            runtime,
            "--rm",
            IMAGE,
            "sh",
            "-c",
            "echo bridged; ip addr | grep -q 'inet .*eth0' && echo eth0 is up; exit 6",
        ]);
        // With runsc the container's sockets are host sockets in that namespace, so it sees
        // Docker's eth0 as with runc.
        expect(
            &o,
            6,
            "bridged\neth0 is up\n",
            &format!("docker with {label}: bridge network"),
        );
    }
    let left = cli.run(&["ps", "-aq"]).stdout_str();
    for id in left.split_whitespace() {
        let _ = cli.run(&["rm", "-f", id]);
    }
    s.stop_daemon();
}

/// A host bridge of our own for dockerd's default network, deleted on drop.
struct Bridge {
    name: String,
}

impl Bridge {
    fn new() -> Bridge {
        let n = std::process::id();
        // The whole pid (at most 7 digits: 12 bytes of IFNAMSIZ's 15): a bridge of this name
        // can only be a leftover of a killed run whose pid was ours, which we replace.
        let name = format!("engbr{n}");
        let _ = Command::new("/usr/sbin/ip")
            .args(["link", "del", name.as_str()])
            .output();
        // A subnet no host interface has (another run's bridge, a leftover), so that the
        // bridge network's routes are ours alone.
        let taken = Command::new("/usr/sbin/ip")
            .args(["-o", "-4", "addr", "show"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let third = (0..250)
            .map(|k| (n + k) % 250)
            .find(|x| !taken.contains(&format!(" 10.213.{x}.")))
            .expect("a free 10.213.X.0/24 subnet");
        let addr = format!("10.213.{third}.1/24");
        for args in [
            vec!["link", "add", name.as_str(), "type", "bridge"],
            vec!["addr", "add", addr.as_str(), "dev", name.as_str()],
            vec!["link", "set", name.as_str(), "up"],
        ] {
            let o = Command::new("/usr/sbin/ip").args(&args).output().unwrap();
            assert!(o.status.success(), "ip {}: {o:?}", args.join(" "));
        }
        Bridge { name }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("/usr/sbin/ip")
            .args(["link", "del", self.name.as_str()])
            .output();
    }
}

#[test]
fn the_image_archive_holds_a_manifest_config_and_layer() {
    require(&[BUSYBOX]);
    let s = Scratch::new("archive");
    let archive = image_archive(&s.dir);
    let o = Command::new("tar")
        .arg("-tf")
        .arg(&archive)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&o.stdout);
    assert!(list.contains("./manifest.json"), "{list}");
    assert_eq!(list.matches("/layer.tar").count(), 1, "{list}");
    assert_eq!(
        list.lines().filter(|l| l.ends_with(".json")).count(),
        2,
        "{list}"
    );
    let o = Command::new("tar")
        .args(["-xOf"])
        .arg(&archive)
        .arg("./manifest.json")
        .output()
        .unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(manifest[0]["RepoTags"][0], IMAGE);
}
