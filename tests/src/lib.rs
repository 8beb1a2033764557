//! The integration-test harness: runs a program natively and as `runsc do -- PROGRAM`, with the
//! same environment, working directory and stdin, and compares what a user sees (stdout and
//! the shell's exit status). Native must pass: a case that fails natively is a wrong test.
//!
//! The `runsc` binary is the one `cargo build -p runsc` puts next to the test executables
//! (`$CARGO_TARGET_DIR/<profile>/runsc`); `RUNSC_BIN` overrides it.

pub mod image;
pub mod oci;

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long one run may take before it is killed and the test fails.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The fixed environment every case runs with, natively and sandboxed.
pub const FIXED_ENV: &[(&str, &str)] = &[
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("HOME", "/root"),
    ("LC_ALL", "C"),
    ("TZ", "UTC"),
    ("RUNSC_TEST", "1"),
];

/// The `runsc` binary under test. Panics with the command to build it when it is missing.
pub fn runsc_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("RUNSC_BIN") {
        return PathBuf::from(p);
    }
    // The test executable is <target>/<profile>/deps/<name>-<hash>; runsc is <target>/<profile>/runsc.
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in <target>/<profile>/deps");
    let bin = profile_dir.join("runsc");
    assert!(
        bin.is_file(),
        "runsc binary not found at {}: build it first with `cargo build -p runsc` (same \
         CARGO_TARGET_DIR and profile as the tests), or set RUNSC_BIN",
        bin.display()
    );
    bin
}

/// A C test program built by `build.rs` from `tests/c/NAME.c`.
/// `--platform=P` when the tests run with `RUNSC_PLATFORM=P` (CI runs them on each platform)
/// and `global` does not choose one. Passed as a flag: the sandboxed program's environment is
/// the case's own, which the variable must not join.
pub fn platform_arg(global: &[&str]) -> Option<String> {
    let platform = std::env::var("RUNSC_PLATFORM").ok()?;
    if global.iter().any(|a| a.starts_with("--platform")) {
        return None;
    }
    Some(format!("--platform={platform}"))
}

pub fn c_prog(name: &str) -> PathBuf {
    let p = Path::new(env!("RUNSC_TEST_C_DIR")).join(name);
    assert!(p.is_file(), "C test program {} was not built", p.display());
    p
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The shell's view of the exit: the code, or 128+N after a death by signal N.
    pub status: i32,
}

impl Outcome {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// One program invocation.
#[derive(Debug, Clone)]
pub struct Case {
    pub program: OsString,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
}

impl Case {
    /// `program args...` in `/`, with [`FIXED_ENV`].
    pub fn new<S: AsRef<OsStr>>(
        program: impl AsRef<OsStr>,
        args: impl IntoIterator<Item = S>,
    ) -> Case {
        Case {
            program: program.as_ref().to_os_string(),
            args: args
                .into_iter()
                .map(|a| a.as_ref().to_os_string())
                .collect(),
            cwd: PathBuf::from("/"),
            env: FIXED_ENV
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Case {
        self.cwd = dir.into();
        self
    }

    fn base_command(&self, program: &OsStr) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs the program directly on the host.
    /// It starts with stdin, stdout and stderr only, as a sandboxed program does: a
    /// descriptor leaked by whatever runs the tests (CI's harness holds fd 100 open) would
    /// otherwise change what the native side reports for a "bad fd".
    pub fn run_native(&self) -> Outcome {
        let mut cmd = self.base_command(&self.program);
        cmd.args(&self.args);
        // SAFETY: close_range is async-signal-safe and touches only the child's descriptors.
        unsafe {
            cmd.pre_exec(|| {
                if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        run(cmd, self.timeout, &format!("native {}", self.describe()))
    }

    /// Runs `runsc GLOBAL... do -- program args...`.
    pub fn run_sandboxed_with(&self, global: &[&str]) -> Outcome {
        self.run_sandboxed_do(global, &[])
    }

    /// Runs `runsc GLOBAL... do DO_ARGS... -- program args...`.
    pub fn run_sandboxed_do(&self, global: &[&str], do_args: &[&str]) -> Outcome {
        let mut cmd = self.base_command(runsc_bin().as_os_str());
        cmd.args(platform_arg(global))
            .args(global)
            .arg("do")
            .args(do_args)
            .arg("--")
            .arg(&self.program)
            .args(&self.args);
        run(
            cmd,
            self.timeout,
            &format!("runsc {global:?} do {do_args:?} -- {}", self.describe()),
        )
    }

    /// Runs `runsc do -- program args...`.
    pub fn run_sandboxed(&self) -> Outcome {
        self.run_sandboxed_with(&[])
    }

    pub fn describe(&self) -> String {
        let mut s = self.program.to_string_lossy().into_owned();
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    /// Runs natively and sandboxed and asserts equal stdout and exit status. Returns both.
    pub fn assert_same(&self) -> (Outcome, Outcome) {
        let native = self.run_native();
        let sandboxed = self.run_sandboxed();
        assert_eq!(
            (native.status, &native.stdout),
            (sandboxed.status, &sandboxed.stdout),
            "`{}` differs (left: native, right: sandboxed)\nnative stdout:\n{}\nsandboxed stdout:\n{}\n\
             native stderr:\n{}\nsandboxed stderr:\n{}",
            self.describe(),
            native.stdout_str(),
            sandboxed.stdout_str(),
            native.stderr_str(),
            sandboxed.stderr_str(),
        );
        (native, sandboxed)
    }
}

/// The shell's status for a finished process.
pub fn shell_status(s: ExitStatus) -> i32 {
    match (s.code(), s.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        (None, None) => -1,
    }
}

fn reader(mut r: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// Runs `cmd` to completion, killing it after `timeout` (which fails the test).
pub fn run(mut cmd: Command, timeout: Duration, what: &str) -> Outcome {
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {what}: {e}"));
    let out = reader(child.stdout.take().expect("stdout is piped"));
    let err = reader(child.stderr.take().expect("stderr is piped"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().expect("waiting for the child") {
            break Some(st);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    // Helpers that outlive the child (they must not) would keep the pipes open: bounded wait.
    let grace = Duration::from_secs(5);
    let stdout = out.recv_timeout(grace).unwrap_or_default();
    let stderr = err.recv_timeout(grace).unwrap_or_default();
    let Some(status) = status else {
        panic!(
            "{what}: timed out after {timeout:?}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        );
    };
    Outcome {
        stdout,
        stderr,
        status: shell_status(status),
    }
}

/// A number no other call in this test process gets.
fn next_call() -> u64 {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A container id no other test of this run uses, `<prefix><pid>-<n>`: tests of one file run
/// in parallel threads of one process, and runc names a container's cgroup after its id.
pub fn unique_id(prefix: &str) -> String {
    format!("{prefix}{}-{}", std::process::id(), next_call())
}

/// A path in the host's /tmp that nothing uses yet: unique per process (pid), per call
/// within the process (a counter: two test threads can read the same clock value) and
/// across runs that reuse a pid (the time).
pub fn unique_tmp_path(prefix: &str) -> PathBuf {
    let call = next_call();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    PathBuf::from(format!(
        "/tmp/{prefix}-{}-{call}-{nanos}",
        std::process::id()
    ))
}

/// Ends a daemon started as the leader of its own process group (`process_group(0)`):
/// SIGTERM to the group, up to 10 s to exit, then SIGKILL to whatever is left, and reaps it.
pub fn stop_process_group(mut child: std::process::Child) {
    let pgid = nix::unistd::Pid::from_raw(-(child.id() as i32));
    let _ = nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
}

/// Tears down an engine test's scratch directory: SIGKILLs every host process whose command
/// line names it (daemons, shims, sandboxes started there), unmounts what is mounted below it
/// (deepest first) and removes it. Best effort: errors are ignored.
pub fn remove_scratch_dir(dir: &Path) {
    let me = dir.to_string_lossy().into_owned();
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for p in procs.flatten() {
            let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&me) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(me.as_str()))
        .collect();
    points.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in points {
        let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_runs_report_output_and_shell_status() {
        let o = Case::new("/bin/sh", ["-c", "echo hi; echo err >&2; exit 7"]).run_native();
        assert_eq!(
            (o.stdout_str().as_str(), o.stderr_str().as_str(), o.status),
            ("hi\n", "err\n", 7)
        );
        let o = Case::new("/bin/sh", ["-c", "kill -ABRT $$"]).run_native();
        assert_eq!(o.status, 134);
    }

    #[test]
    fn environment_is_exactly_the_fixed_one() {
        let o = Case::new("/usr/bin/env", Vec::<&str>::new()).run_native();
        let mut lines: Vec<&str> = o.stdout_str().leak().lines().collect();
        lines.sort();
        let mut want: Vec<String> = FIXED_ENV.iter().map(|(k, v)| format!("{k}={v}")).collect();
        want.sort();
        assert_eq!(lines, want);
    }

    #[test]
    fn timeout_kills_and_fails() {
        let r = std::panic::catch_unwind(|| {
            let mut c = Case::new("/bin/sleep", ["5"]);
            c.timeout = Duration::from_millis(100);
            c.run_native()
        });
        assert!(r.is_err());
    }

    #[test]
    fn c_programs_are_built() {
        for name in [
            "hello_static",
            "syscalls_basic",
            "syscalls_basic_pie",
            "exit_code",
            "abort",
            "tmp_canary",
        ] {
            assert!(c_prog(name).is_file());
        }
    }
}
