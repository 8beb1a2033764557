//! Benchmark helpers shared by the runners in `src/bin/`: timing a command a few times and
//! taking the median, finding the programs to compare, and running one command natively, under
//! our `runsc do`, under gVisor's `runsc do` or in a runc container (after gVisor's
//! `test/benchmarks`). Numbers are printed side by side, never asserted.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub mod idle;
pub mod lifecycle;
pub mod procfs;

/// The static getppid loop built by `build.rs`.
pub fn getppid_loop() -> PathBuf {
    Path::new(env!("RUNSC_BENCH_C_DIR")).join("getppid_loop")
}

/// The static simple-syscall loop (`c/sysloop.c`): `sysloop KIND N`.
pub fn sysloop() -> PathBuf {
    Path::new(env!("RUNSC_BENCH_C_DIR")).join("sysloop")
}

/// The `sysloop` kinds that part (a) of the runner times after getppid: (kind, label of one
/// iteration).
pub const SIMPLE_SYSCALLS: [(&str, &str); 4] = [
    ("getpid", "getpid round trip"),
    ("libc-getppid", "getppid through libc (patchable)"),
    ("clock", "clock_gettime without the vDSO"),
    ("pipe", "1-byte pipe write + read (2 calls)"),
];

/// The static process-model benchmark (`c/procbench.c`): `procbench MODE N`.
pub fn procbench() -> PathBuf {
    Path::new(env!("RUNSC_BENCH_C_DIR")).join("procbench")
}

/// The static filesystem benchmark (`c/fsbench.c`): `fsbench MODE PATH N`.
pub fn fsbench() -> PathBuf {
    Path::new(env!("RUNSC_BENCH_C_DIR")).join("fsbench")
}

/// The static loopback network benchmark (`c/netbench.c`): `netbench MODE N`.
pub fn netbench() -> PathBuf {
    Path::new(env!("RUNSC_BENCH_C_DIR")).join("netbench")
}

/// A large file of the root filesystem that `fsbench read` streams (gofer-backed in a sandbox).
pub const BIG_FILE: &str = "/usr/lib/gcc/x86_64-linux-gnu/12/cc1";
/// A small file of the root filesystem for stat and open+read+close.
pub const SMALL_FILE: &str = "/etc/passwd";
/// The tree that `fsbench walk` and `tar c` go through (about 4,000 files here).
pub const TREE: &str = "/usr/share/doc";

/// Which C program a workload runs.
#[derive(Clone, Copy, Debug)]
pub enum Prog {
    Fs,
    Net,
}

/// What a throughput figure beside the per-operation time is computed from.
#[derive(Clone, Copy, Debug)]
pub enum Rate {
    /// No throughput figure.
    None,
    /// One operation moves one MiB.
    MiBPerOp,
    /// One operation moves this many bytes.
    Bytes(u64),
    /// One operation reads the whole of this host file (as seen in the sandbox).
    FileSize(&'static str),
}

/// One row of the filesystem or network table: `program args... N`.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    pub program: Prog,
    pub args: &'static [&'static str],
    pub what: &'static str,
    pub n: u64,
    pub rate: Rate,
}

impl Workload {
    /// The command without N.
    pub fn command(&self) -> Vec<String> {
        let prog = match self.program {
            Prog::Fs => fsbench(),
            Prog::Net => netbench(),
        };
        let mut v = vec![prog.to_string_lossy().into_owned()];
        v.extend(self.args.iter().map(|a| a.to_string()));
        v
    }

    /// Bytes one operation moves, if the row has a throughput figure.
    pub fn bytes_per_op(&self) -> Option<u64> {
        match self.rate {
            Rate::None => None,
            Rate::MiBPerOp => Some(1 << 20),
            Rate::Bytes(b) => Some(b),
            Rate::FileSize(p) => std::fs::metadata(p).ok().map(|m| m.len()),
        }
    }
}

/// The filesystem workloads of `fsbench`.
pub const FS_WORKLOADS: [Workload; 6] = [
    Workload {
        program: Prog::Fs,
        args: &["files", "/tmp"],
        what: "create+stat+unlink of a 64-byte file in /tmp",
        n: 1_000,
        rate: Rate::None,
    },
    Workload {
        program: Prog::Fs,
        args: &["files", "/"],
        what: "create+stat+unlink of a 64-byte file in the root",
        n: 1_000,
        rate: Rate::None,
    },
    Workload {
        program: Prog::Fs,
        args: &["stat", SMALL_FILE],
        what: "stat of /etc/passwd",
        n: 10_000,
        rate: Rate::None,
    },
    Workload {
        program: Prog::Fs,
        args: &["openread", SMALL_FILE],
        what: "open+read+close of /etc/passwd",
        n: 5_000,
        rate: Rate::None,
    },
    Workload {
        program: Prog::Fs,
        args: &["read", BIG_FILE],
        what: "read of a 32 MiB root file (64 KiB reads)",
        n: 10,
        rate: Rate::FileSize(BIG_FILE),
    },
    Workload {
        program: Prog::Fs,
        args: &["walk", TREE],
        what: "tar-style walk of /usr/share/doc (lstat+open+read each file)",
        n: 1,
        rate: Rate::None,
    },
];

/// Size of the volume's `big` file.
pub const VOLUME_BIG_FILE_SIZE: u64 = 32 << 20;

/// Makes the host directory of the volume rows, with `small` (4 KiB) and `big`
/// (`VOLUME_BIG_FILE_SIZE`) in it.
pub fn make_volume() -> Result<Volume, String> {
    let host = std::env::temp_dir().join(format!("runsc-bench-vol-{}", std::process::id()));
    std::fs::create_dir_all(&host).map_err(|e| format!("{}: {e}", host.display()))?;
    std::fs::write(host.join("small"), vec![b'x'; 4096]).map_err(|e| e.to_string())?;
    std::fs::write(host.join("big"), vec![0u8; VOLUME_BIG_FILE_SIZE as usize])
        .map_err(|e| e.to_string())?;
    Ok(Volume {
        host,
        guest: VOLUME_GUEST,
    })
}

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.host);
    }
}

/// The filesystem workloads run on a bind mount (`Volume`): `{vol}` is the mount, which
/// holds `small` (4 KiB) and `big` (32 MiB) made by the runner.
pub const VOLUME_WORKLOADS: [Workload; 4] = [
    Workload {
        program: Prog::Fs,
        args: &["files", VOLUME_PATH],
        what: "create+stat+unlink of a 64-byte file on a bind mount",
        n: 1_000,
        rate: Rate::None,
    },
    Workload {
        program: Prog::Fs,
        args: &["stat", "{vol}/small"],
        what: "stat of a file on a bind mount",
        n: 10_000,
        rate: Rate::None,
    },
    Workload {
        program: Prog::Fs,
        args: &["openread", "{vol}/small"],
        what: "open+read+close of a 4 KiB file on a bind mount",
        n: 5_000,
        rate: Rate::None,
    },
    Workload {
        program: Prog::Fs,
        args: &["read", "{vol}/big"],
        what: "read of a 32 MiB file on a bind mount (64 KiB reads)",
        n: 10,
        rate: Rate::Bytes(VOLUME_BIG_FILE_SIZE),
    },
];

/// The loopback network workloads of `netbench`.
pub const NET_WORKLOADS: [Workload; 5] = [
    Workload {
        program: Prog::Net,
        args: &["tcpbulk"],
        what: "TCP bulk transfer over 127.0.0.1 (per MiB)",
        n: 200,
        rate: Rate::MiBPerOp,
    },
    Workload {
        program: Prog::Net,
        args: &["tcprr"],
        what: "TCP 1-byte round trip",
        n: 2_000,
        rate: Rate::None,
    },
    Workload {
        program: Prog::Net,
        args: &["connect"],
        what: "TCP connect+accept+close",
        n: 1_000,
        rate: Rate::None,
    },
    Workload {
        program: Prog::Net,
        args: &["udp"],
        what: "UDP 1-byte round trip",
        n: 2_000,
        rate: Rate::None,
    },
    Workload {
        program: Prog::Net,
        args: &["unix"],
        what: "unix stream 1-byte round trip",
        n: 2_000,
        rate: Rate::None,
    },
];

/// A runc bundle in which a command runs with the host's `/usr` and `/etc` (read-only), the
/// benchmark programs at their host path, a tmpfs `/tmp`, and a writable root directory on the
/// host's disk. Removed on drop.
pub struct RuncBundle {
    runc: PathBuf,
    dir: PathBuf,
    id: String,
}

impl RuncBundle {
    /// Lays out the bundle's root under the host's temporary directory.
    pub fn new(runc: &Path) -> Result<Self, String> {
        let id = format!("runsc-bench-run-{}", std::process::id());
        let dir = std::env::temp_dir().join(&id);
        let rootfs = dir.join("rootfs");
        let c_dir = env!("RUNSC_BENCH_C_DIR");
        for d in [
            "usr",
            "etc",
            "tmp",
            "proc",
            "dev",
            c_dir.trim_start_matches('/'),
        ] {
            std::fs::create_dir_all(rootfs.join(d)).map_err(|e| format!("{}: {e}", d))?;
        }
        for l in ["bin", "lib", "lib64", "sbin"] {
            let link = rootfs.join(l);
            if std::fs::symlink_metadata(&link).is_err() {
                std::os::unix::fs::symlink(format!("usr/{l}"), &link)
                    .map_err(|e| format!("{}: {e}", link.display()))?;
            }
        }
        Ok(Self {
            runc: runc.to_path_buf(),
            dir,
            id,
        })
    }

    /// Writes `config.json` for `args` and returns the `runc run` command line.
    pub fn command(&self, args: &[String]) -> Result<Vec<String>, RunFailed> {
        self.command_with(args, None)
    }

    /// As `command`, with `vol`'s host directory bind-mounted read-write at its guest path.
    pub fn command_with(
        &self,
        args: &[String],
        vol: Option<&Volume>,
    ) -> Result<Vec<String>, RunFailed> {
        let c_dir = env!("RUNSC_BENCH_C_DIR");
        let bind = |p: &str| {
            serde_json::json!({ "destination": p, "type": "bind", "source": p,
                                "options": ["rbind", "ro"] })
        };
        let volume = vol.map(|v| {
            serde_json::json!({ "destination": v.guest, "type": "bind",
                                "source": v.host.to_string_lossy(), "options": ["rbind", "rw"] })
        });
        let config = serde_json::json!({
            "ociVersion": "1.0.2",
            "process": { "terminal": false, "user": { "uid": 0, "gid": 0 }, "args": args,
                         "env": ["PATH=/usr/bin:/bin"], "cwd": "/" },
            "root": { "path": "rootfs", "readonly": false },
            "hostname": "bench",
            "mounts": [
                { "destination": "/proc", "type": "proc", "source": "proc" },
                { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                  "options": ["nosuid", "mode=755"] },
                { "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                  "options": ["nosuid", "nodev"] },
                bind("/usr"), bind("/etc"), bind(c_dir), volume
            ],
            "linux": { "namespaces": [ { "type": "pid" }, { "type": "ipc" }, { "type": "uts" },
                                       { "type": "mount" }, { "type": "network" } ] }
        });
        let mut config = config;
        if vol.is_none() {
            // No volume: drop the null placeholder.
            if let Some(m) = config["mounts"].as_array_mut() {
                m.retain(|v| !v.is_null());
            }
        } else {
            std::fs::create_dir_all(
                self.dir
                    .join("rootfs")
                    .join(VOLUME_GUEST.trim_start_matches('/')),
            )
            .map_err(|e| RunFailed(format!("volume mount point: {e}")))?;
        }
        std::fs::write(self.dir.join("config.json"), config.to_string())
            .map_err(|e| RunFailed(format!("config.json: {e}")))?;
        Ok(vec![
            self.runc.to_string_lossy().into_owned(),
            "run".into(),
            "--bundle".into(),
            self.dir.to_string_lossy().into_owned(),
            self.id.clone(),
        ])
    }
}

impl Drop for RuncBundle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where the volume rows mount their host directory in a sandbox.
pub const VOLUME_GUEST: &str = "/vol";
/// What a volume row's arguments say for the volume's path; each sandbox puts in the path it
/// sees (`VOLUME_GUEST` in a container, the host path natively).
pub const VOLUME_PATH: &str = "{vol}";

/// A host directory bind-mounted read-write into the sandbox (our `runsc do --volume`, a runc
/// bind mount). gVisor's `runsc do` has no volumes: it sees the host path through its root
/// with its overlay off (`--force-overlay=false`, writes reach the host as through a mount).
pub struct Volume {
    pub host: PathBuf,
    pub guest: &'static str,
}

/// One way of running a command.
pub enum Sandbox {
    Native,
    /// Our `runsc --platform=P do`, P being "ptrace" or "systrap".
    Ours(PathBuf, &'static str),
    /// gVisor's `runsc --platform=ptrace --network=none do`.
    Gvisor(PathBuf),
    Runc(RuncBundle),
}

impl Sandbox {
    /// The label printed in the tables.
    pub fn label(&self) -> &'static str {
        match self {
            Sandbox::Native => "native",
            Sandbox::Ours(_, "systrap") => "runsc do (systrap)",
            Sandbox::Ours(..) => "runsc do (ptrace)",
            Sandbox::Gvisor(_) => "gVisor runsc do",
            Sandbox::Runc(_) => "runc run",
        }
    }

    /// The host command line that runs `args` this way.
    pub fn command(&self, args: &[String]) -> Result<Vec<String>, RunFailed> {
        self.command_with(args, None)
    }

    /// As `command`, with `vol` mounted; `VOLUME_PATH` in `args` becomes the path this
    /// sandbox sees it at.
    pub fn command_with(
        &self,
        args: &[String],
        vol: Option<&Volume>,
    ) -> Result<Vec<String>, RunFailed> {
        let Some(vol) = vol else {
            return self.plain_command(args);
        };
        let seen = match self {
            Sandbox::Native | Sandbox::Gvisor(_) => vol.host.to_string_lossy().into_owned(),
            Sandbox::Ours(..) | Sandbox::Runc(_) => vol.guest.to_string(),
        };
        let args: Vec<String> = args.iter().map(|a| a.replace(VOLUME_PATH, &seen)).collect();
        let mut v: Vec<String> = match self {
            Sandbox::Native => Vec::new(),
            Sandbox::Ours(r, platform) => vec![
                r.to_string_lossy().into_owned(),
                format!("--platform={platform}"),
                "do".into(),
                "--volume".into(),
                format!("{}:{}", vol.host.display(), vol.guest),
                "--".into(),
            ],
            Sandbox::Gvisor(g) => {
                let mut v = gvisor_do(g);
                v.push("--force-overlay=false".into());
                v.push("--".into());
                v
            }
            Sandbox::Runc(b) => return b.command_with(&args, Some(vol)),
        };
        v.extend(args);
        Ok(v)
    }

    fn plain_command(&self, args: &[String]) -> Result<Vec<String>, RunFailed> {
        let mut v: Vec<String> = match self {
            Sandbox::Native => Vec::new(),
            Sandbox::Ours(r, platform) => vec![
                r.to_string_lossy().into_owned(),
                format!("--platform={platform}"),
                "do".into(),
                "--".into(),
            ],
            Sandbox::Gvisor(g) => {
                let mut v = gvisor_do(g);
                v.push("--".into());
                v
            }
            Sandbox::Runc(b) => return b.command(args),
        };
        v.extend(args.iter().cloned());
        Ok(v)
    }

    /// Median wall time of `args` run this way.
    pub fn time(&self, args: &[String], reps: usize) -> Result<Duration, RunFailed> {
        self.time_with(args, reps, None)
    }

    /// Median wall time of `args` run this way with `vol` mounted.
    pub fn time_with(
        &self,
        args: &[String],
        reps: usize,
        vol: Option<&Volume>,
    ) -> Result<Duration, RunFailed> {
        median_time(&self.command_with(args, vol)?, reps)
    }

    /// Per-operation cost of `program... N` run this way, as `(t(N) - t(0)) / N`, with `t(0)`.
    pub fn op_cost(
        &self,
        program: &[String],
        n: u64,
        reps: usize,
    ) -> Result<(Duration, Duration), RunFailed> {
        self.op_cost_with(program, n, reps, None)
    }

    /// `op_cost` with `vol` mounted.
    pub fn op_cost_with(
        &self,
        program: &[String],
        n: u64,
        reps: usize,
        vol: Option<&Volume>,
    ) -> Result<(Duration, Duration), RunFailed> {
        let mut zero = program.to_vec();
        let mut full = program.to_vec();
        zero.push("0".into());
        full.push(n.to_string());
        let t0 = self.time_with(&zero, reps, vol)?;
        let tn = self.time_with(&full, reps, vol)?;
        Ok((per_call(tn, t0, n), t0))
    }
}

/// gVisor's `runsc do` as this machine can run it: the ptrace platform (its kvm platform does
/// not work here) and no network (its default sandbox network needs iptables and refuses to
/// start on this kernel).
pub fn gvisor_do(runsc: &Path) -> Vec<String> {
    vec![
        runsc.to_string_lossy().into_owned(),
        "--platform=ptrace".into(),
        "--network=none".into(),
        "do".into(),
    ]
}

/// The process-model workloads of `procbench`: (mode, what one iteration is, default N).
pub const PROC_WORKLOADS: [(&str, &str, u64); 5] = [
    ("fork", "fork+exit+wait", 200),
    ("exec", "fork+execve(/bin/true)+wait", 100),
    ("pipe", "pipe ping-pong round trip", 5_000),
    ("futex", "futex ping-pong round trip", 5_000),
    ("thread", "pthread create+join", 1_000),
];

/// A shell loop of `$1` fork+exec of `/bin/true`: `sh -c SHELL_LOOP sh N`.
pub const SHELL_LOOP: &str = "i=0; while [ $i -lt $1 ]; do /bin/true; i=$((i+1)); done";

/// The shell loop's command without N (N becomes `$1`).
pub fn shell_loop_command() -> Vec<String> {
    ["/bin/sh", "-c", SHELL_LOOP, "sh"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The interpreter of the Python start-up row: the system one, which every sandbox sees
/// (a pyenv shim on `PATH` would not be in runc's root).
pub const PYTHON: &str = "/usr/bin/python3";

/// A directory of small files for the `tar` row, under the benchmark programs' directory
/// (which runc's bundle binds and both runscs see through their root); removed on drop.
pub struct SmallFiles {
    pub dir: PathBuf,
    pub count: usize,
}

impl SmallFiles {
    /// `count` files of 100 bytes each.
    pub fn new(count: usize) -> Result<Self, String> {
        let dir =
            Path::new(env!("RUNSC_BENCH_C_DIR")).join(format!("smallfiles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let files = Self { dir, count };
        for i in 0..count {
            std::fs::write(files.dir.join(format!("f{i:05}")), [b'x'; 100])
                .map_err(|e| format!("{}: {e}", files.dir.display()))?;
        }
        Ok(files)
    }

    /// `sh -c 'tar cf - DIR | wc -c'`.
    pub fn tar_command(&self) -> Vec<String> {
        vec![
            "/bin/sh".into(),
            "-c".into(),
            format!("tar cf - {} | wc -c", self.dir.display()),
        ]
    }
}

impl Drop for SmallFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Our `runsc`: `RUNSC_BIN`, else the one next to this runner (`<target>/<profile>/runsc`).
pub fn our_runsc() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RUNSC_BIN") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.join("runsc");
    p.is_file().then_some(p)
}

/// The first of `names` found on `PATH` or as an absolute path.
pub fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        let n = Path::new(name);
        if n.is_absolute() {
            if n.is_file() {
                return Some(n.to_path_buf());
            }
            continue;
        }
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Why a timed run failed.
#[derive(Debug)]
pub struct RunFailed(pub String);

/// Runs `argv` `reps` times (output discarded) and returns the median wall time.
pub fn median_time(argv: &[String], reps: usize) -> Result<Duration, RunFailed> {
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| RunFailed("empty command".into()))?;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        // From `/`, which every sandbox sees (our `runsc do` keeps the caller's directory).
        let out = Command::new(prog)
            .args(args)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| RunFailed(format!("{prog}: {e}")))?;
        let elapsed = start.elapsed();
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(RunFailed(format!(
                "{} ({})",
                out.status,
                err.lines().last().unwrap_or("no stderr")
            )));
        }
        times.push(elapsed);
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// Per-call cost from two medians: (t(n) - t(0)) / n.
pub fn per_call(with_n: Duration, with_zero: Duration, n: u64) -> Duration {
    let diff = with_n.saturating_sub(with_zero);
    if n == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(
        (diff.as_nanos() / u128::from(n))
            .try_into()
            .unwrap_or(u64::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_call_subtracts_the_fixed_cost() {
        let d = per_call(
            Duration::from_millis(110),
            Duration::from_millis(10),
            1_000_000,
        );
        assert_eq!(d, Duration::from_nanos(100));
        assert_eq!(
            per_call(Duration::from_millis(5), Duration::from_millis(10), 10),
            Duration::ZERO
        );
        assert_eq!(
            per_call(Duration::from_millis(5), Duration::ZERO, 0),
            Duration::ZERO
        );
    }

    #[test]
    fn median_time_runs_and_reports_failures() {
        assert!(median_time(&["/bin/true".into()], 3).is_ok());
        assert!(median_time(&["/bin/false".into()], 1).is_err());
        assert!(getppid_loop().is_file());
    }

    #[test]
    fn sysloop_kinds_run_natively_and_a_bad_kind_fails() {
        let prog = sysloop().to_string_lossy().into_owned();
        for (kind, _) in SIMPLE_SYSCALLS {
            let r = median_time(&[prog.clone(), kind.into(), "1000".into()], 1);
            assert!(r.is_ok(), "{kind}: {r:?}");
        }
        assert!(median_time(&[prog, "nosuchkind".into(), "1".into()], 1).is_err());
    }

    #[test]
    fn procbench_workloads_run_natively() {
        let prog = procbench().to_string_lossy().into_owned();
        for (mode, _, _) in PROC_WORKLOADS {
            let r = Sandbox::Native.op_cost(&[prog.clone(), mode.into()], 3, 1);
            assert!(r.is_ok(), "{mode}: {r:?}");
        }
        assert!(median_time(&[prog, "nosuchmode".into()], 1).is_err());
    }

    #[test]
    fn fs_and_net_workloads_run_natively() {
        for w in FS_WORKLOADS.iter().chain(NET_WORKLOADS.iter()) {
            if w.args.contains(&BIG_FILE) && !Path::new(BIG_FILE).is_file() {
                continue;
            }
            let n = if w.args.contains(&TREE) { 0 } else { 2 };
            let r = Sandbox::Native.op_cost(&w.command(), n, 1);
            assert!(r.is_ok(), "{}: {r:?}", w.what);
        }
        let missing = vec![
            fsbench().to_string_lossy().into_owned(),
            "stat".into(),
            "/nonexistent".into(),
            "1".into(),
        ];
        assert!(median_time(&missing, 1).is_err());
        assert_eq!(NET_WORKLOADS[0].bytes_per_op(), Some(1 << 20));
    }

    #[test]
    fn new_process_rows_run_natively() {
        let r = Sandbox::Native.op_cost(&shell_loop_command(), 3, 1);
        assert!(r.is_ok(), "{r:?}");
        let files = SmallFiles::new(5).map_err(RunFailed).expect("temp files");
        assert_eq!(
            std::fs::read_dir(&files.dir).map(|d| d.count()).ok(),
            Some(5)
        );
        assert!(median_time(&files.tar_command(), 1).is_ok());
        let dir = files.dir.clone();
        drop(files);
        assert!(!dir.exists());
    }

    #[test]
    fn sandbox_commands_wrap_the_program() {
        let args = vec!["prog".to_string(), "1".to_string()];
        assert_eq!(Sandbox::Native.command(&args).ok(), Some(args.clone()));
        let ours = Sandbox::Ours(PathBuf::from("/r"), "systrap")
            .command(&args)
            .ok();
        assert_eq!(
            ours,
            Some(vec![
                "/r".into(),
                "--platform=systrap".into(),
                "do".into(),
                "--".into(),
                "prog".into(),
                "1".into()
            ])
        );
        let g = Sandbox::Gvisor(PathBuf::from("/g")).command(&args).ok();
        assert_eq!(g.as_ref().map(|v| v[1].as_str()), Some("--platform=ptrace"));
        assert_eq!(g.as_ref().and_then(|v| v.last().cloned()), Some("1".into()));
    }
}
