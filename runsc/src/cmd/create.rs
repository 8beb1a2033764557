//! `runsc create` and `runsc run` (after runc's `create.go`/`run.go` and gVisor's
//! `runsc/cmd/create.go`): read the bundle, start the sandbox's gofer and sentry, let the
//! sentry load the container's program, then leave the sandbox waiting for `runsc start`.
//!
//! The sentry is the container's process for the host: its pid is the one in `--pid-file` and
//! the OCI state, it stays in the caller's process tree (no double fork: shims and conmon are
//! subreapers that reap it), and it exits with the container's exit status. The gofer and the
//! sentry keep none of runsc's stdio but what the container itself uses.
//!
//! With `process.terminal`, a host pty pair is made (`console.rs`): the master goes to the
//! `--console-socket` listener, the slave is the sentry's stdio and so the container's fds 0-2.

use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use crate::boot::isolate::{open_namespace, HostNamespaces, NetworkNamespace};
use crate::cli::{CreateArgs, GlobalOpts, RunArgs};
use crate::cmd::r#do::open_debug_log;
use crate::console::{self, Pty};
use crate::container::cgroup::{Cgroup, Placement};
use crate::container::hooks::{self, Point};
use crate::container::{control, proc_stat, validate_id, Container, Status};
use crate::sandbox::{DetachedSandbox, Sandbox, SandboxConfig, SandboxExit};
use crate::{log, oci};

/// Exit status of a failed OCI command (runc's).
pub const EXIT_FAILURE: i32 = 1;

/// `runsc create`.
pub fn create(global: &GlobalOpts, args: &CreateArgs) -> i32 {
    // A pod's app container joins its sandbox container's sentry.
    if let Some(joined) = crate::container::pod::try_create(global, args) {
        return match joined {
            Ok(()) => 0,
            Err(msg) => {
                log::error(&msg);
                EXIT_FAILURE
            }
        };
    }
    match create_container(global, args, false) {
        Ok((_, sandbox)) => {
            sandbox.release();
            0
        }
        Err(msg) => {
            log::error(&msg);
            EXIT_FAILURE
        }
    }
}

/// `runsc run`: create, start, and (without `--detach`) wait, delete and pass the status on.
pub fn run(global: &GlobalOpts, args: &RunArgs) -> i32 {
    // A pod's app container joins its sandbox container's sentry, as with `create`.
    if let Some(joined) = crate::container::pod::try_run(global, args) {
        return joined.unwrap_or_else(|msg| {
            log::error(&msg);
            EXIT_FAILURE
        });
    }
    let (container, sandbox) = match create_container(global, &args.create, !args.detach) {
        Ok(made) => made,
        Err(msg) => {
            log::error(&msg);
            return EXIT_FAILURE;
        }
    };
    if let Err(msg) = crate::cmd::start::start(&container) {
        log::error(&msg);
        sandbox.kill();
        remove_container(&container);
        return EXIT_FAILURE;
    }
    if args.detach {
        sandbox.release();
        return 0;
    }
    let code = match sandbox.wait() {
        Ok(SandboxExit::Exited(code)) => code,
        Ok(SandboxExit::Killed(sig)) => 128 + sig,
        Err(e) => {
            log::error(&e.to_string());
            EXIT_FAILURE
        }
    };
    remove_container(&container);
    code
}

/// The end of a `run` (its container has exited, or failed to start), as runc's: `delete`'s
/// work, the cgroup first, then the poststop hooks, then the state.
fn remove_container(c: &Container) {
    remove_cgroup(c);
    if let Err(msg) = hooks::run(&c.hooks, Point::Poststop, &c.oci_state()) {
        log::warning_to_log(&msg);
    }
    if let Err(e) = c.destroy() {
        log::error(&e.to_string());
    }
}

/// Removes the cgroup `create` made for `c` (not one that existed before), once its processes
/// are gone and this process has left it (`create_container` does).
fn remove_cgroup(c: &Container) {
    if let Some(cg) = c.cgroup() {
        if let Err(msg) = cg.destroy_owned(&c.dir) {
            log::warning_to_log(&msg);
        }
    }
}

/// `foreground`: `runsc run` without `--detach`, which may use its own stdio as the terminal.
fn create_container(
    global: &GlobalOpts,
    args: &CreateArgs,
    foreground: bool,
) -> Result<(Container, Sandbox), String> {
    validate_id(&args.id).map_err(|e| e.to_string())?;
    if Container::load(&global.root, &args.id).is_ok() {
        return Err(format!("container {:?} already exists", args.id));
    }
    let bundle = oci::load(&args.bundle)?;
    // Host-side settings (oomScoreAdj) that the gofer and the sentry inherit from us.
    oci::apply_host_settings(&bundle)?;
    let pty = open_console(&bundle, args.console_socket.as_deref(), foreground)?;
    for w in &bundle.warnings {
        log::warning_to_log(w);
    }
    let preserved = take_preserved_fds(args.preserve_fds)?;
    let mut container = Container::new(
        &global.root,
        &args.id,
        bundle.dir.clone(),
        bundle.rootfs.clone(),
    );
    if let Some(a) = bundle.spec.annotations() {
        for (k, v) in a {
            container.annotations.insert(k.clone(), v.clone().into());
        }
    }
    if let Some(h) = bundle.spec.hooks() {
        container.hooks = serde_json::to_value(h).map_err(|e| format!("hooks: {e}"))?;
    }
    let lock = container.create_dir().map_err(|e| e.to_string())?;
    // From here on a failure removes what was made. This process enters the cgroup so that
    // the sandbox starts in it, and leaves it once the sandbox is up (or has failed): whoever
    // removes a cgroup must not be in it, and a `run` waiting for its container is not part
    // of it.
    let origin = Placement::of_self();
    let made = enter_cgroup(&mut container, &bundle).and_then(|()| {
        start_sandbox(
            global,
            &mut container,
            bundle,
            args.pid_file.as_deref(),
            pty.as_ref(),
            preserved,
        )
    });
    if let Err(msg) = origin.restore() {
        // The cgroup then stays until this process exits (a `run`'s removal fails).
        log::warning_to_log(&format!("leaving the container's cgroup: {msg}"));
    }
    drop(lock);
    match made {
        Ok(sandbox) => Ok((container, sandbox)),
        Err(msg) => {
            remove_cgroup(&container);
            let _ = container.destroy();
            Err(msg)
        }
    }
}

/// `--preserve-fds N`: our fds 3 .. 3+N-1, which the container's init gets as the same numbers
/// (runc passes them through its init's exec).
fn take_preserved_fds(n: u32) -> Result<Vec<OwnedFd>, String> {
    (0..n)
        .map(|i| {
            let fd = i32::try_from(3 + u64::from(i))
                .map_err(|_| format!("--preserve-fds {n}: too many descriptors"))?;
            crate::sys::take_inherited_fd(fd).map_err(|e| format!("--preserve-fds: {e}"))
        })
        .collect()
}

/// The container's terminal when process.terminal is set: a pty whose master is already at the
/// console socket. Without `--console-socket` only a foreground `run` may go on (with its own
/// stdio); runc refuses the rest the same way.
fn open_console(
    bundle: &oci::Bundle,
    socket: Option<&Path>,
    foreground: bool,
) -> Result<Option<Pty>, String> {
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    match (terminal, socket) {
        (false, Some(_)) => {
            Err("--console-socket given but process.terminal is not set in the spec".into())
        }
        (false, None) => Ok(None),
        (true, None) if foreground => Ok(None),
        (true, None) => Err("process.terminal is set: --console-socket is required".into()),
        (true, Some(path)) => {
            let pty = Pty::open(console::console_size(&bundle.spec)).map_err(|e| e.to_string())?;
            console::send_master(path, &pty.master).map_err(|e| e.to_string())?;
            Ok(Some(pty))
        }
    }
}

fn start_sandbox(
    global: &GlobalOpts,
    container: &mut Container,
    bundle: oci::Bundle,
    pid_file: Option<&Path>,
    pty: Option<&Pty>,
    preserved: Vec<OwnedFd>,
) -> Result<Sandbox, String> {
    let devices = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().as_ref())
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| format!("linux.resources.devices: {e}"))?;
    let control = control::listen(&container.dir)
        .map_err(|e| format!("control socket in {}: {e}", container.dir.display()))?;
    let network = match (&bundle.network, global.network.as_deref()) {
        (_, Some("host")) | (None, _) => NetworkNamespace::Host,
        (Some(None), _) => NetworkNamespace::New,
        (Some(Some(path)), _) => NetworkNamespace::Join(open_namespace(path)?),
    };
    let mut spec = bundle.boot;
    spec.settings.root_direct = global.overlay == "none";
    spec.settings.host_uds = global.host_uds == "open";
    spec.settings.systrap = global.platform == "systrap";
    match global.network.as_deref() {
        Some("host") => spec.settings.host_network = true,
        // An explicit --network=none keeps the loopback-only stack even in a joined or the
        // host's namespace.
        Some("none") => spec.settings.host_network = false,
        _ => {}
    }
    spec.strace = global.strace_only();
    spec.debug = global.debug;
    let debug_log = match &global.debug_log {
        Some(p) => Some(open_debug_log(p)?),
        None => None,
    };
    // The sandbox's processes inherit our stdio: the terminal's slave for as long as they start.
    let saved = match pty {
        Some(p) => Some(console::redirect_stdio(p.slave.as_fd()).map_err(|e| e.to_string())?),
        None => None,
    };
    let started = Sandbox::start(SandboxConfig {
        root: bundle.rootfs,
        spec,
        debug_log,
        mounts: bundle.mounts,
        network,
        namespaces: HostNamespaces::from_spec(&bundle.spec)?,
        detached: Some(DetachedSandbox { control }),
        preserved,
    });
    drop(saved);
    let mut sandbox = started.map_err(|e| e.to_string())?;
    if let Err(msg) = sandbox.wait_ready() {
        sandbox.kill();
        return Err(msg);
    }
    container.pid = sandbox.boot_pid() as i32;
    container.gofer_pid = sandbox.gofer_pid() as i32;
    container.pid_start = proc_stat(container.pid).map(|s| s.1).unwrap_or(0);
    container.saved_status = Status::Created;
    let saved = container
        .save()
        .map_err(|e| e.to_string())
        .and_then(|()| match pid_file {
            Some(p) => write_pid_file(p, container.pid),
            None => Ok(()),
        });
    let hooked = saved
        .and_then(|()| run_create_hooks(container))
        .and_then(|()| apply_device_rules(container, devices.as_ref()));
    if let Err(msg) = hooked {
        sandbox.kill();
        return Err(msg);
    }
    Ok(sandbox)
}

/// `linux.resources.devices`, last: the sandbox is up and the create hooks (host programs, in
/// our cgroup) have run, so the rules bind only what the sandbox opens from now on.
fn apply_device_rules(
    container: &Container,
    devices: Option<&serde_json::Value>,
) -> Result<(), String> {
    let (Some(cg), Some(devices)) = (container.cgroup(), devices) else {
        return Ok(());
    };
    for w in cg.apply_devices(devices)? {
        log::warning_to_log(&w);
    }
    Ok(())
}

/// Makes the container's cgroup with the spec's limits and moves this process into it, so that
/// the gofer and the sentry, and every stub the sentry forks, start inside it.
fn enter_cgroup(container: &mut Container, bundle: &oci::Bundle) -> Result<(), String> {
    let linux = bundle.spec.linux().as_ref();
    let path = linux.and_then(|l| l.cgroups_path().clone());
    let cg = Cgroup::for_container(path.as_deref(), &container.id);
    // A hierarchy where it exists already keeps it when the container goes.
    cg.note_existing(&container.dir)?;
    container.cgroup_path = Some(cg.path.clone());
    cg.create(&[std::process::id() as i32])?;
    if let Some(res) = linux.and_then(|l| l.resources().as_ref()) {
        let res = serde_json::to_value(res).map_err(|e| format!("linux.resources: {e}"))?;
        for w in cg.apply(&res)? {
            log::warning_to_log(&w);
        }
    }
    Ok(())
}

/// The hooks of `create`, in the spec's order, once the sandbox exists and its init waits.
fn run_create_hooks(container: &Container) -> Result<(), String> {
    // The container is still being created while these run (runc passes "creating" too;
    // runtime-tools' hooks_stdin wants "created" for prestart, which runc fails as well).
    let state = container.hook_state(Status::Creating);
    for point in [
        Point::Prestart,
        Point::CreateRuntime,
        Point::CreateContainer,
    ] {
        hooks::run(&container.hooks, point, &state)?;
    }
    Ok(())
}

/// Writes `pid` (decimal, no newline, as runc does) to `path` atomically.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or(format!("--pid-file {}: not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(pid.to_string().as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| format!("--pid-file {}: {e}", path.display()))
}
