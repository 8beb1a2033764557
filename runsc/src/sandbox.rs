//! Starting one sandbox's processes (after gVisor's `runsc/sandbox/sandbox.go` and
//! `runsc/container/container.go`): `runsc gofer` and `runsc boot`, connected by a
//! `SOCK_SEQPACKET` socket pair, each inheriting exactly the descriptors named on its command
//! line, and both killed by the host if this process dies (`PR_SET_PDEATHSIG`). The sentry is
//! pid 1 of its own pid namespace; the process spawned here is its supervisor outside it
//! (`crate::sys::fork_pid_namespace_init`), which ends as the sentry does.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::unistd::{getpid, pipe2};
use thiserror::Error;

use crate::boot::isolate::{spawn_supervisor, HostNamespaces, NetworkNamespace};
use crate::boot::spec::BootSpec;
use crate::sys::prepare_child;

/// The binary every sandbox process runs: this one.
const SELF_EXE: &str = "/proc/self/exe";

/// How long the gofer may take to notice the sentry is gone before it is killed.
const GOFER_GRACE: Duration = Duration::from_secs(2);

/// A sandbox that failed to start or to finish.
#[derive(Debug, Error)]
pub enum SandboxError {
    #[error("creating the {what}: {source}")]
    Setup {
        what: &'static str,
        source: nix::errno::Errno,
    },
    #[error("starting {what}: {source}")]
    Spawn {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("sending the boot spec: {0}")]
    Spec(#[source] std::io::Error),
    #[error("waiting for the sandbox: {0}")]
    Wait(#[source] std::io::Error),
}

/// What a sandbox is made of.
#[derive(Debug)]
pub struct SandboxConfig {
    /// Host directory served as the root, absolute.
    pub root: PathBuf,
    pub spec: BootSpec,
    /// The debug log the sentry (and `--debug` lines) write to; stderr if None.
    pub debug_log: Option<File>,
    /// Host directories bound into the sandbox, in the order of `spec.mounts`.
    pub mounts: Vec<HostMount>,
    /// The sentry's network namespace (its mount, IPC, UTS and pid namespaces are always new).
    pub network: NetworkNamespace,
    /// The supervisor's other namespaces, as the spec asks (`HostNamespaces::default()`: the
    /// runtime's).
    pub namespaces: HostNamespaces,
    /// `runsc create`: the sandbox outlives this process (no `PR_SET_PDEATHSIG`), the gofer
    /// holds none of our stdio, and the sentry serves `control` (a listening unix socket) and
    /// waits for `start` before running the init process.
    pub detached: Option<DetachedSandbox>,
    /// Host descriptors the init process gets as its fds 3, 4, ... in this order (`create
    /// --preserve-fds`); the sentry inherits them and no other process of ours does.
    pub preserved: Vec<OwnedFd>,
}

/// A host directory the gofer serves as a bind mount.
#[derive(Debug, Clone)]
pub struct HostMount {
    /// Absolute host directory.
    pub source: PathBuf,
    pub readonly: bool,
}

/// What a sandbox that outlives its creator gets.
#[derive(Debug)]
pub struct DetachedSandbox {
    /// The listening control socket (`<root>/<id>/sandbox.sock`).
    pub control: OwnedFd,
}

/// A running sandbox.
#[derive(Debug)]
pub struct Sandbox {
    gofer: Child,
    boot: Child,
    /// Read end of the pipe on which a detached sentry reports that its init process is ready.
    ready: Option<OwnedFd>,
}

/// How the sandbox's sentry ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxExit {
    /// `runsc boot` exited with this status (the program's, or a runsc failure code).
    Exited(i32),
    /// `runsc boot` itself was killed by this signal (a seccomp violation is SIGSYS).
    Killed(i32),
}

impl Sandbox {
    /// Starts the gofer and the sentry and hands the sentry its spec.
    pub fn start(mut config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let (gofer_end, boot_end) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|source| SandboxError::Setup {
            what: "gofer socket pair",
            source,
        })?;
        let (spec_r, spec_w) =
            pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|source| SandboxError::Setup {
                what: "boot spec pipe",
                source,
            })?;
        let me = getpid();
        // A detached sandbox lives on after us: nobody's death kills it.
        let parent = config.detached.is_none().then_some(me);

        // One channel per bind mount, after the root's.
        let mut mount_pairs = Vec::with_capacity(config.mounts.len());
        for m in &config.mounts {
            let (g, b) = socketpair(
                AddressFamily::Unix,
                SockType::SeqPacket,
                None,
                SockFlag::SOCK_CLOEXEC,
            )
            .map_err(|source| SandboxError::Setup {
                what: "bind mount socket pair",
                source,
            })?;
            mount_pairs.push((m, g, b));
        }
        let gofer_mounts: Vec<(&HostMount, &OwnedFd)> =
            mount_pairs.iter().map(|(m, g, _)| (*m, g)).collect();
        // Without the overlay a writable root is written through by the gofer.
        let root_rw = config.spec.settings.root_direct && !config.spec.root_readonly;
        let gofer = spawn_gofer(
            &config.root,
            root_rw,
            config.spec.settings.host_uds,
            &gofer_end,
            &gofer_mounts,
            parent,
            config.detached.is_some(),
        )?;
        drop(gofer_end);
        let boot_mount_fds: Vec<OwnedFd> = mount_pairs.into_iter().map(|(_, _, b)| b).collect();

        let mut cmd = Command::new(SELF_EXE);
        cmd.arg0("runsc").arg("boot");
        cmd.arg("--io-fd").arg(boot_end.as_raw_fd().to_string());
        cmd.arg("--spec-fd").arg(spec_r.as_raw_fd().to_string());
        let mut keep = vec![boot_end.as_raw_fd(), spec_r.as_raw_fd()];
        for fd in &boot_mount_fds {
            cmd.arg("--mount-fd").arg(fd.as_raw_fd().to_string());
            keep.push(fd.as_raw_fd());
        }
        if let Some(log) = &config.debug_log {
            cmd.arg("--log-fd").arg(log.as_raw_fd().to_string());
            keep.push(log.as_raw_fd());
        }
        // The sentry finds the preserved descriptors by their numbers, in its boot spec.
        config.spec.settings.preserved_fds =
            config.preserved.iter().map(AsRawFd::as_raw_fd).collect();
        keep.extend(config.spec.settings.preserved_fds.iter().copied());
        let mut ready = None;
        let mut ready_w = None;
        if let Some(d) = &config.detached {
            let (r, w) =
                pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|source| SandboxError::Setup {
                    what: "ready pipe",
                    source,
                })?;
            cmd.arg("--control-fd")
                .arg(d.control.as_raw_fd().to_string());
            cmd.arg("--ready-fd").arg(w.as_raw_fd().to_string());
            keep.push(d.control.as_raw_fd());
            keep.push(w.as_raw_fd());
            ready = Some(r);
            ready_w = Some(w);
        }
        // stdio is inherited: the sentry hands its 0, 1, 2 to the init process.
        prepare_child(&mut cmd, keep, parent);
        let boot = match spawn_supervisor(&mut cmd, config.network, config.namespaces) {
            Ok(b) => b,
            Err(source) => {
                kill_and_reap(gofer);
                return Err(SandboxError::Spawn {
                    what: "the sentry (runsc boot)",
                    source,
                });
            }
        };
        drop((boot_end, spec_r, ready_w, boot_mount_fds));
        drop(std::mem::take(&mut config.preserved));
        let sandbox = Sandbox { gofer, boot, ready };
        // A sentry that dies before reading gets EPIPE here (SIGPIPE is ignored by Rust's runtime);
        // its own exit status then says why, so the write error is secondary.
        if let Err(e) = write_spec(spec_w, &config.spec) {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                sandbox.kill();
                return Err(SandboxError::Spec(e));
            }
        }
        Ok(sandbox)
    }

    /// Host pid of the sentry's supervisor: the host process that lives, takes signals and
    /// ends as the sentry does (the OCI pid file's process). The sentry is its only child.
    pub fn boot_pid(&self) -> u32 {
        self.boot.id()
    }

    /// Host pid of the gofer.
    pub fn gofer_pid(&self) -> u32 {
        self.gofer.id()
    }

    /// For a detached sandbox: waits until the sentry has loaded the init process (Ok) or
    /// failed to (Err with the sentry's message). The sentry writes `ok` or `error: MSG` and
    /// closes its end; end-of-file without a word means it died.
    pub fn wait_ready(&mut self) -> Result<(), String> {
        let Some(r) = self.ready.take() else {
            return Ok(());
        };
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut File::from(r), &mut text);
        match text.trim_end() {
            "ok" => Ok(()),
            t if t.starts_with("error: ") => Err(t["error: ".len()..].to_string()),
            _ => {
                let status = self.boot.wait().map_err(|e| e.to_string())?;
                Err(format!(
                    "the sentry (runsc boot) died while starting: {status}"
                ))
            }
        }
    }

    /// Lets a detached sandbox go: its processes are no longer ours to wait for or kill (the
    /// caller's subreaper reaps them).
    pub fn release(self) {
        std::mem::forget(self.gofer);
        std::mem::forget(self.boot);
    }

    /// Waits for the sentry to end, then for the gofer (which ends when the sentry hangs up).
    pub fn wait(mut self) -> Result<SandboxExit, SandboxError> {
        let status = self.boot.wait().map_err(SandboxError::Wait)?;
        let deadline = Instant::now() + GOFER_GRACE;
        loop {
            match self.gofer.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    kill_and_reap(self.gofer);
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        Ok(match (status.code(), status.signal()) {
            (Some(code), _) => SandboxExit::Exited(code),
            (None, Some(sig)) => SandboxExit::Killed(sig),
            (None, None) => SandboxExit::Exited(crate::EXIT_RUNSC_FAILURE),
        })
    }

    /// Kills both processes and reaps them.
    pub fn kill(self) {
        kill_and_reap(self.boot);
        kill_and_reap(self.gofer);
    }
}

/// `host_uds`: the gofer connects to host unix sockets in the bind mounts (`--host-uds=open`).
fn spawn_gofer(
    root: &Path,
    root_rw: bool,
    host_uds: bool,
    fd: &OwnedFd,
    mounts: &[(&HostMount, &OwnedFd)],
    parent: Option<nix::unistd::Pid>,
    detached: bool,
) -> Result<Child, SandboxError> {
    let mut cmd = Command::new(SELF_EXE);
    cmd.arg0("runsc")
        .arg("gofer")
        .arg("--root")
        .arg(root)
        .arg("--io-fd")
        .arg(fd.as_raw_fd().to_string());
    if root_rw {
        cmd.arg("--root-rw");
    }
    if host_uds {
        cmd.arg("--host-uds");
    }
    let mut keep = vec![fd.as_raw_fd()];
    for (m, fd) in mounts {
        let mut spec = std::ffi::OsString::from(format!(
            "{}:{}:",
            fd.as_raw_fd(),
            if m.readonly { "ro" } else { "rw" }
        ));
        spec.push(&m.source);
        cmd.arg("--mount").arg(spec);
        keep.push(fd.as_raw_fd());
    }
    cmd
        // The gofer must not hold the caller's stdin or stdout (a pipe reader would never see
        // end-of-file while it lives); stderr stays for its error line.
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if detached {
        // The caller of `runsc create` may read our stderr to end-of-file too.
        cmd.stderr(Stdio::null());
    }
    prepare_child(&mut cmd, keep, parent);
    cmd.spawn().map_err(|source| SandboxError::Spawn {
        what: "the gofer (runsc gofer)",
        source,
    })
}

fn write_spec(w: OwnedFd, spec: &BootSpec) -> std::io::Result<()> {
    let mut f = File::from(w);
    f.write_all(&spec.to_json())
}

fn kill_and_reap(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}
