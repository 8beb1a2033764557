//! `runsc boot` (hidden): the sentry process of one sandbox, after gVisor's `runsc/cmd/boot.go`
//! and `runsc/boot/loader.go`. It reads its boot spec, starts the platform and the kernel, locks
//! itself down with its seccomp filter and runs the init process; its exit status is the init
//! process's (128+N for a death by signal N).
//!
//! Order matters: everything that needs a host path or a host `execve` (the platform's master
//! stub, the debug log, which the front end opened for us) happens before the filter.
//!
//! A terminal made for the container as our stdin (`console.rs`): the signals it raises are
//! blocked before any thread starts; once the platform's stubs exist (they stay out of it), the
//! sentry leads a new session with that terminal as its controlling terminal, and a thread
//! forwards the terminal's signals to the sandbox (`sentry::fs::host::tty`).

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use sentry::control::Control;
use sentry::kernel::thread_group::Rlimit;
use sentry::kernel::{
    CapSets, Credentials, InitError, InitProcess, Kernel, KernelConfig, SandboxSettings,
    StraceConfig,
};
use sentry::net::NetworkMode;
use sentry::platform::ptrace::PtracePlatform;
use sentry::platform::systrap::SystrapPlatform;
use sentry::platform::Platform;

use crate::boot::spec::BootSpec;
use crate::boot::{filter, isolate};
use crate::cli::BootArgs;
use crate::console;
use crate::sys::take_inherited_fd;
use crate::{log, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, EXIT_RUNSC_FAILURE};

/// Runs the sentry; returns the exit status of `runsc boot`.
pub fn run(args: &BootArgs) -> i32 {
    match boot(args) {
        Ok(code) => code,
        Err(msg) => {
            log::error(&msg);
            EXIT_RUNSC_FAILURE
        }
    }
}

fn boot(args: &BootArgs) -> Result<i32, String> {
    // Before any thread exists, so that every thread of ours has these signals blocked.
    let console = console::is_unowned_terminal(std::io::stdin().as_fd());
    if console {
        console::block_terminal_signals().map_err(|e| e.to_string())?;
    }
    let spec_fd = take_inherited_fd(args.spec_fd).map_err(|e| format!("boot spec fd: {e}"))?;
    let io_fd = take_inherited_fd(args.io_fd).map_err(|e| format!("gofer fd: {e}"))?;
    let log_fd = match args.log_fd {
        Some(n) => Some(take_inherited_fd(n).map_err(|e| format!("log fd: {e}"))?),
        None => None,
    };
    // A created container: the control socket and the pipe that tells `runsc create` we are ready.
    let control_fd = match args.control_fd {
        Some(n) => Some(take_inherited_fd(n).map_err(|e| format!("control fd: {e}"))?),
        None => None,
    };
    let mut ready_fd = match args.ready_fd {
        Some(n) => Some(take_inherited_fd(n).map_err(|e| format!("ready fd: {e}"))?),
        None => None,
    };
    let mount_fds = args
        .mount_fd
        .iter()
        .map(|&n| take_inherited_fd(n).map_err(|e| format!("bind mount fd: {e}")))
        .collect::<Result<Vec<OwnedFd>, String>>()?;
    let spec = read_spec(spec_fd)?;
    if mount_fds.len() != spec.mounts.len() {
        return Err(format!(
            "{} bind mount channels for {} bind mounts",
            mount_fds.len(),
            spec.mounts.len()
        ));
    }
    let mounts = spec
        .mounts
        .iter()
        .zip(mount_fds)
        .map(|(m, fd)| sentry::vfs::BindMount {
            dest: m.dest.clone(),
            gofer: Arc::new(gofer::GoferClient::new(fd)),
            readonly: m.readonly,
        })
        .collect();
    sentry::log::init(log_fd, spec.debug);
    sentry::debug!(
        "boot: argv {:?}",
        spec.argv
            .iter()
            .map(|a| String::from_utf8_lossy(a))
            .collect::<Vec<_>>()
    );

    let stdio = [
        dup_stdio(std::io::stdin().as_fd())?,
        dup_stdio(std::io::stdout().as_fd())?,
        dup_stdio(std::io::stderr().as_fd())?,
    ];
    // Nothing below needs a host path or a privilege: leave the host's file tree (the front
    // end started us in a mount namespace of our own) and every capability, before the master
    // stub is exec'd (from a memfd) so that the stubs have none either: a tracer must hold
    // every capability its tracees have.
    isolate::enter_empty_root(&isolate::staging_dir())?;
    isolate::drop_capabilities()?;
    sentry::debug!("boot: in an empty root, without capabilities");
    // The master stub is started by exec: before the filter.
    let platform = start_platform(spec.settings.systrap)?;
    let client = gofer::GoferClient::new(io_fd);
    let kernel = Kernel::new(
        KernelConfig {
            gofer: client,
            stdio,
            hostname: spec.hostname.clone(),
            creds: init_creds(&spec),
            strace: spec.strace.clone().map(|only| StraceConfig { only }),
            root_readonly: spec.root_readonly,
            root_direct: spec.settings.root_direct,
            mounts,
            settings: sandbox_settings(&spec.settings),
        },
        syscalls::table(),
        platform,
    )
    .map_err(|e| format!("starting the kernel: {e}"))?;
    if console {
        take_terminal(&kernel);
    }

    sentry::debug!(
        "boot: network {}",
        if spec.settings.host_network {
            "host (inet sockets are host sockets)"
        } else {
            "none (loopback only, in the sentry)"
        }
    );
    // `--host-uds=open`: connect(2) may reach host unix sockets through the gofer, which
    // connects them (the sentry's filter needs nothing more: see sentry::net::hostuds).
    sentry::net::hostuds::set_enabled(spec.settings.host_uds);
    let prog = filter::build(spec.settings.host_network).map_err(|e| e.to_string())?;
    filter::install(&prog).map_err(|e| e.to_string())?;
    sentry::debug!("boot: seccomp filter installed");

    let program = String::from_utf8_lossy(&spec.argv[0]).into_owned();
    let init = kernel.create_init(InitProcess {
        argv: spec.argv,
        envv: spec.envv,
        cwd: spec.cwd,
    });
    let Some(control_fd) = control_fd else {
        return match init {
            Ok(task) => Ok(task.run().shell_code()),
            Err(InitError::Exec(errno)) => {
                log::error(&format!("{program}: {}", errno.desc()));
                Ok(exec_failure_code(errno))
            }
            Err(other) => Err(format!("starting {program}: {other}")),
        };
    };
    // A created container: report whether init is loaded, then run it only once started.
    let task = match init {
        Ok(task) => task,
        Err(e) => {
            let msg = match e {
                InitError::Exec(errno) => format!("{program}: {}", errno.desc()),
                other => format!("starting {program}: {other}"),
            };
            report_ready(&mut ready_fd, &format!("error: {msg}"));
            return Err(msg);
        }
    };
    let control = Control::serve(control_fd, kernel.clone());
    report_ready(&mut ready_fd, "ok");
    control.wait_for_start();
    let code = task.run().shell_code();
    control.finish(code);
    Ok(code)
}

/// Makes our stdin (a terminal nobody controls) the sentry's controlling terminal and starts the
/// thread that forwards its signals; without it the terminal still works, minus its signals.
fn take_terminal(kernel: &Arc<Kernel>) {
    if let Err(e) = console::take_controlling_terminal(std::io::stdin().as_fd()) {
        sentry::warn!("boot: terminal signals will not reach the sandbox: {e}");
        console::unblock_terminal_signals();
        return;
    }
    let rdev = match nix::sys::stat::fstat(0) {
        Ok(st) => st.st_rdev,
        Err(e) => {
            sentry::warn!("boot: terminal signals will not reach the sandbox: fstat: {e}");
            return;
        }
    };
    let kernel = kernel.clone();
    let spawned = std::thread::Builder::new()
        .name("tty-signals".into())
        .spawn(move || loop {
            match console::wait_terminal_signal() {
                Ok(sig) => {
                    let n = sentry::fs::host::tty::deliver_terminal_signal(&kernel, rdev, sig);
                    sentry::debug!("boot: terminal signal {sig} forwarded to {n} processes");
                }
                Err(e) => {
                    sentry::debug!("boot: terminal signal thread: {e}");
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        sentry::warn!("boot: terminal signal thread: {e}");
    }
}

/// The init process's identity: the spec's user, with the spec's capability sets when it
/// has them (as runc applies them), else that user's usual ones.
fn init_creds(spec: &BootSpec) -> Credentials {
    let mut c = Credentials::new(spec.uid, spec.gid, spec.groups.clone());
    if let Some(caps) = spec.settings.caps {
        c.caps = CapSets {
            effective: caps.effective,
            permitted: caps.permitted,
            inheritable: caps.inheritable,
            bounding: caps.bounding,
            ambient: caps.ambient,
        };
    }
    c
}

/// The kernel's view of the spec's settings.
fn sandbox_settings(s: &crate::boot::spec::SpecSettings) -> SandboxSettings {
    let defaults = SandboxSettings::default();
    SandboxSettings {
        rlimits: s
            .rlimits
            .iter()
            .map(|r| {
                (
                    r.resource,
                    Rlimit {
                        cur: r.soft,
                        max: r.hard,
                    },
                )
            })
            .collect(),
        umask: s.umask.map_or(defaults.umask, |m| m & 0o777),
        no_new_privs: s.no_new_privs,
        oom_score_adj: s.oom_score_adj.unwrap_or(0),
        domainname: s.domainname.clone().unwrap_or(defaults.domainname),
        sysctl: s
            .sysctl
            .iter()
            .map(|(k, v)| (k.replace('.', "/"), v.clone()))
            .collect(),
        masked_paths: s.masked_paths.clone(),
        readonly_paths: s.readonly_paths.clone(),
        seccomp: crate::oci::seccomp::program(s.seccomp.as_deref()),
        network: if s.host_network {
            NetworkMode::Host
        } else {
            NetworkMode::None
        },
        own_pts_numbers: s.own_pts_numbers,
    }
}

/// Tells `runsc create` how the start went, then closes the pipe.
fn report_ready(fd: &mut Option<OwnedFd>, line: &str) {
    if let Some(fd) = fd.take() {
        let _ = std::fs::File::from(fd).write_all(format!("{line}\n").as_bytes());
    }
}

/// The shell's status for a program that could not be executed: 127 when it does not exist,
/// 126 when it exists but cannot run (bash(1), "EXIT STATUS").
pub fn exec_failure_code(errno: nix::errno::Errno) -> i32 {
    use nix::errno::Errno;
    match errno {
        Errno::ENOENT | Errno::ENOTDIR => EXIT_NOT_FOUND,
        _ => EXIT_NOT_EXECUTABLE,
    }
}

fn read_spec(fd: OwnedFd) -> Result<BootSpec, String> {
    let mut data = Vec::new();
    std::fs::File::from(fd)
        .read_to_end(&mut data)
        .map_err(|e| format!("reading the boot spec: {e}"))?;
    BootSpec::from_json(&data).map_err(|e| e.to_string())
}

fn dup_stdio(fd: std::os::fd::BorrowedFd<'_>) -> Result<OwnedFd, String> {
    fd.try_clone_to_owned()
        .map_err(|e| format!("duplicating stdio: {e}"))
}

/// The platform `--platform` asked for: systrap where this host can run it (the platform
/// probes itself), else ptrace with the reason logged.
fn start_platform(systrap: bool) -> Result<Arc<dyn Platform>, String> {
    if systrap {
        match SystrapPlatform::new() {
            Ok(platform) => {
                sentry::debug!("boot: platform systrap");
                return Ok(Arc::new(platform));
            }
            Err(e) => sentry::warn!("systrap platform unavailable ({e}); using ptrace"),
        }
    }
    let platform =
        PtracePlatform::new().map_err(|e| format!("starting the ptrace platform: {e}"))?;
    Ok(Arc::new(platform))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;

    #[test]
    fn exec_failures_map_like_a_shell() {
        assert_eq!(exec_failure_code(Errno::ENOENT), 127);
        assert_eq!(exec_failure_code(Errno::ENOTDIR), 127);
        assert_eq!(exec_failure_code(Errno::EACCES), 126);
        assert_eq!(exec_failure_code(Errno::ENOEXEC), 126);
        assert_eq!(exec_failure_code(Errno::ELOOP), 126);
    }
}
