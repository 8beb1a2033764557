//! Kubernetes pods (after gVisor's multi-container sandboxes, `runsc/container/container.go`
//! and `runsc/specutils` `ShouldCreateSandbox`): containerd's CRI plugin creates a pod's pause
//! container (annotation `io.kubernetes.cri.container-type=sandbox`) and then each app
//! container (`container-type=container`, `io.kubernetes.cri.sandbox-id=<pause id>`). An app
//! container whose sandbox is a live container of ours in the same `--root` gets no sentry of
//! its own: it runs in its sandbox's kernel (one PID, IPC and network namespace), with its own
//! root, served by a gofer of its own (`sentry::control::containers`).
//!
//! Its directory holds `state.json` (with `sandboxId`) and its own control socket, which
//! `runsc create` hands to the sentry: `start`, `kill`, `wait` and `exec` reach the container
//! through it unchanged. Its pid (and `--pid-file`'s) is a holder process, `runsc exec
//! --wait-on-stdin`, that keeps the `container-create` connection and exits with the status the
//! sentry writes there when the container's init ends. Its init gets its own spec's rlimits,
//! user, umask, capabilities, noNewPrivileges, oomScoreAdj and seccomp program (`OwnSpec` on
//! the request line); its create hooks run here once the sandbox has made it.
//!
//! Its mounts are its spec's, made in the sandbox by the code that makes a sandbox's own
//! (`cmd::boot::mount_pod_container`, from its boot spec on the request line): host sources
//! served by its gofer, in the spec's order, on its own mount tree. `runsc run` of it joins the
//! pod as `create` + `start` do. Its cgroup (`linux.cgroupsPath`, with `linux.resources`)
//! holds its host processes (gofer and holder), as gVisor's sub-container cgroups exist for
//! the tools that look for them; `update` and `events` address it, `delete` removes it.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::unistd::Pid;

use super::cgroup::Cgroup;
use super::hooks::{self, Point};
use super::{control, proc_stat, validate_id, Container, StateLock, Status};
use sentry::control::containers::OwnSpec;

use crate::boot::spec::{BootSpec, MountSpec};
use crate::cli::{CreateArgs, GlobalOpts, RunArgs};
use crate::sandbox::HostMount;
use crate::{console, log, oci};

/// The CRI annotation naming what a container is in its pod.
pub const CONTAINER_TYPE: &str = "io.kubernetes.cri.container-type";
/// The CRI annotation naming the pod's sandbox (pause) container.
pub const SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";

/// How long `delete` waits for the holder of a killed app container to exit.
const HOLDER_WAIT: Duration = Duration::from_secs(5);

/// The sandbox an OCI spec's annotations put a container into: Some(id) for an app container
/// (`container-type` is `container`) whose `sandbox-id` is another container.
pub fn sandbox_of(
    annotations: Option<&std::collections::HashMap<String, String>>,
    id: &str,
) -> Option<String> {
    let a = annotations?;
    if a.get(CONTAINER_TYPE).map(String::as_str) != Some("container") {
        return None;
    }
    a.get(SANDBOX_ID)
        .filter(|s| s.as_str() != id && validate_id(s).is_ok())
        .cloned()
}

/// The sandbox of ours whose namespace the spec joins by path (`linux.namespaces` of type ipc,
/// uts, pid or mount, as Docker's `--ipc=container:X` and `--pid=container:X` name
/// `/proc/<X's pid>/ns/...`): the container whose sentry (or, for a pod member, whose holder)
/// that pid is, or whose sentry's namespace file is the same file. The sandbox's kernel holds
/// those namespaces, so joining them is running in it (gVisor does the same).
pub fn sandbox_by_namespace(root: &Path, spec: &oci_spec::runtime::Spec) -> Option<String> {
    use oci_spec::runtime::LinuxNamespaceType as T;
    use std::os::unix::fs::MetadataExt;
    let namespaces = spec.linux().as_ref()?.namespaces().as_ref()?;
    let ours: Vec<Container> = Container::list(root)
        .ok()?
        .iter()
        .filter_map(|id| Container::load(root, id).ok())
        .filter(|c| matches!(c.status(), Status::Created | Status::Running))
        .collect();
    let owner = |c: &Container| c.sandbox_id.clone().unwrap_or_else(|| c.id.clone());
    for n in namespaces {
        let name = match n.typ() {
            T::Ipc => "ipc",
            T::Uts => "uts",
            T::Pid => "pid",
            T::Mount => "mnt",
            _ => continue,
        };
        let Some(path) = n.path() else { continue };
        if let Some(pid) = proc_ns_pid(path) {
            if let Some(c) = ours.iter().find(|c| c.pid == pid && pid > 0) {
                return Some(owner(c));
            }
            continue;
        }
        // A namespace file bound elsewhere: the same file as a sentry's (its pid namespace
        // is the host's, so only the others tell sandboxes apart).
        let Ok(want) = std::fs::metadata(path) else {
            continue;
        };
        if name == "pid" {
            continue;
        }
        // The runtime's own namespace is no sandbox's: a supervisor keeps the host's
        // namespaces of the types its spec omits.
        let ours_too = std::fs::metadata(format!("/proc/self/ns/{name}"))
            .is_ok_and(|m| (m.dev(), m.ino()) == (want.dev(), want.ino()));
        if ours_too {
            continue;
        }
        let same = |c: &&Container| {
            c.sandbox_id.is_none()
                && std::fs::metadata(format!("/proc/{}/ns/{name}", c.pid))
                    .is_ok_and(|m| (m.dev(), m.ino()) == (want.dev(), want.ino()))
        };
        if let Some(c) = ours.iter().find(same) {
            return Some(c.id.clone());
        }
    }
    None
}

/// The pid of a `/proc/<pid>/ns/<name>` path.
fn proc_ns_pid(path: &Path) -> Option<i32> {
    let rest = path.strip_prefix("/proc").ok()?;
    let mut parts = rest.components();
    let pid = parts.next()?.as_os_str().to_str()?.parse().ok()?;
    (parts.next()?.as_os_str() == "ns" && parts.next().is_some() && parts.next().is_none())
        .then_some(pid)
}

/// `runsc create` of an app container: None when the bundle does not name a sandbox that is a
/// live container of ours (the caller then makes a sandbox of its own), else the outcome.
pub fn try_create(global: &GlobalOpts, args: &CreateArgs) -> Option<Result<(), String>> {
    try_join(global, args, false)
}

/// `runsc run` of an app container (as `try_create`): None when it makes a sandbox of its own,
/// else its outcome. It is created in its pod's sandbox and started; with `--detach` that is
/// all (status 0), else it is waited for (its pid-file holder, our child, exits with its
/// status), deleted, and its status is returned.
pub fn try_run(global: &GlobalOpts, args: &RunArgs) -> Option<Result<i32, String>> {
    let created = try_join(global, &args.create, !args.detach)?;
    Some(created.and_then(|()| run_member(global, &args.create.id, args.detach)))
}

fn run_member(global: &GlobalOpts, id: &str, detach: bool) -> Result<i32, String> {
    let c = Container::load(&global.root, id).map_err(|e| e.to_string())?;
    if let Err(msg) = crate::cmd::start::start(&c) {
        let _lock = StateLock::take(&c.dir);
        if let Err(e) = delete_member(&global.root, &c) {
            log::warning_to_log(&e);
        }
        return Err(msg);
    }
    if detach {
        return Ok(0);
    }
    let code = wait_holder(c.pid);
    let _lock = StateLock::take(&c.dir).map_err(|e| e.to_string())?;
    delete_member(&global.root, &c)?;
    if let Err(msg) = hooks::run(&c.hooks, Point::Poststop, &c.oci_state()) {
        log::warning_to_log(&msg);
    }
    Ok(code)
}

/// Reaps the pid-file holder `pid` (a child of ours); its shell status (128+N for signal N).
fn wait_holder(pid: i32) -> i32 {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 128 + libc::SIGKILL,
        }
    }
}

/// `try_create` and `try_run`: `foreground` is a `run` without `--detach`, which may use its
/// own stdio as the terminal.
fn try_join(
    global: &GlobalOpts,
    args: &CreateArgs,
    foreground: bool,
) -> Option<Result<(), String>> {
    let bundle = match oci::load(&args.bundle) {
        Ok(b) => b,
        // Reported by the ordinary path.
        Err(_) => return None,
    };
    let sandbox_id = sandbox_of(bundle.spec.annotations().as_ref(), &args.id)
        .or_else(|| sandbox_by_namespace(&global.root, &bundle.spec))?;
    let sandbox = Container::load(&global.root, &sandbox_id).ok()?;
    if sandbox.sandbox_id.is_some()
        || !matches!(sandbox.status(), Status::Created | Status::Running)
    {
        return None;
    }
    Some(create_member(global, args, bundle, &sandbox, foreground))
}

fn create_member(
    global: &GlobalOpts,
    args: &CreateArgs,
    bundle: oci::Bundle,
    sandbox: &Container,
    foreground: bool,
) -> Result<(), String> {
    validate_id(&args.id).map_err(|e| e.to_string())?;
    if args.preserve_fds > 0 {
        // The member's init starts in the pod's sentry, which has no way to take fds from
        // this process yet.
        log::warning_to_log(
            "--preserve-fds is not passed to a container that joins a pod's sandbox",
        );
    }
    if Container::load(&global.root, &args.id).is_ok() {
        return Err(format!("container {:?} already exists", args.id));
    }
    // Joining the sandbox's namespaces by path is what a pod member does here by design.
    for w in bundle
        .warnings
        .iter()
        .filter(|w| !w.starts_with("joining the"))
    {
        log::warning_to_log(w);
    }
    let mut c = Container::new(
        &global.root,
        &args.id,
        bundle.dir.clone(),
        bundle.rootfs.clone(),
    );
    if let Some(a) = bundle.spec.annotations() {
        for (k, v) in a {
            c.annotations.insert(k.clone(), v.clone().into());
        }
    }
    if let Some(h) = bundle.spec.hooks() {
        c.hooks = serde_json::to_value(h).map_err(|e| format!("hooks: {e}"))?;
    }
    c.sandbox_id = Some(sandbox.id.clone());
    let lock = c.create_dir().map_err(|e| e.to_string())?;
    let made = join_sandbox(global, args, &bundle, &mut c, sandbox, foreground);
    if made.is_ok() {
        if let Err(msg) = run_create_hooks(&c) {
            // Made in the sandbox and saved: undone as `delete` does it.
            if let Err(e) = delete_member(&global.root, &c) {
                log::warning_to_log(&e);
            }
            drop(lock);
            return Err(msg);
        }
    }
    drop(lock);
    if let Err(msg) = made {
        if c.gofer_pid > 0 {
            let _ = kill(Pid::from_raw(c.gofer_pid), Signal::SIGKILL);
        }
        if let Some(cg) = c.cgroup() {
            let _ = cg.destroy_owned(&c.dir);
        }
        let _ = c.destroy();
        return Err(msg);
    }
    Ok(())
}

/// The hooks of `create` (as `cmd::create` runs a sandbox's), once the container is made in
/// the sandbox and its process waits for `start`; the state's pid is the holder's.
fn run_create_hooks(c: &Container) -> Result<(), String> {
    let state = c.hook_state(Status::Creating);
    for point in [
        Point::Prestart,
        Point::CreateRuntime,
        Point::CreateContainer,
    ] {
        hooks::run(&c.hooks, point, &state)?;
    }
    Ok(())
}

/// Starts the container's gofer, asks the sandbox's sentry to make the container, leaves the
/// connection with a holder process, saves the state and adds the container to its sandbox's.
fn join_sandbox(
    global: &GlobalOpts,
    args: &CreateArgs,
    bundle: &oci::Bundle,
    c: &mut Container,
    sandbox: &Container,
    foreground: bool,
) -> Result<(), String> {
    let boot = &bundle.boot;
    let request = control::ExecRequest {
        argv: boot.argv.clone(),
        envv: boot.envv.clone(),
        cwd: boot.cwd.clone(),
        uid: boot.uid,
        gid: boot.gid,
        groups: boot.groups.clone(),
    };
    let pty = open_terminal(bundle, args.console_socket.as_deref(), foreground)?;
    let (gofer_end, sentry_end) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| format!("creating the gofer socket pair: {e}"))?;
    // One channel per bind mount, after the root's (as `Sandbox::start` does).
    let mut mount_pairs = Vec::with_capacity(bundle.mounts.len());
    for _ in &bundle.mounts {
        mount_pairs.push(
            socketpair(
                AddressFamily::Unix,
                SockType::SeqPacket,
                None,
                SockFlag::SOCK_CLOEXEC,
            )
            .map_err(|e| format!("creating a bind mount socket pair: {e}"))?,
        );
    }
    let gofer_mounts: Vec<(&HostMount, &OwnedFd)> = bundle
        .mounts
        .iter()
        .zip(&mount_pairs)
        .map(|(m, (g, _))| (m, g))
        .collect();
    let cg = member_cgroup(bundle, c, sandbox)?;
    let gofer = spawn_gofer(&bundle.rootfs, &gofer_end, &gofer_mounts)?;
    // The gofer stays the caller's child (no double fork); nothing here waits for it.
    c.gofer_pid = gofer.id() as i32;
    cg.enter(&[c.gofer_pid])?;
    drop((gofer_end, gofer_mounts));
    let mount_fds: Vec<OwnedFd> = mount_pairs.into_iter().map(|(_, b)| b).collect();
    let listener = control::listen(&c.dir)
        .map_err(|e| format!("control socket in {}: {e}", c.dir.display()))?;
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let stdio: Vec<BorrowedFd<'_>> = match &pty {
        Some(slave) => vec![slave.as_fd(); 3],
        None => vec![stdin.as_fd(), stdout.as_fd(), stderr.as_fd()],
    };
    let mut fds = vec![sentry_end.as_fd(), listener.as_fd()];
    fds.extend(mount_fds.iter().map(AsFd::as_fd));
    fds.extend(stdio);
    let mode = if bundle.readonly_root { "ro" } else { "rw" };
    let line = format!(
        "container-create {} {mode} {} {}{}",
        c.id,
        bind_mounts_field(&bundle.boot.mounts),
        request
            .encode()
            .strip_prefix("exec ")
            .expect("invariant: an exec request line starts with \"exec \""),
        own_spec(boot).encode()
    );
    let (conn, reply) = control::send_with_fds(&sandbox.dir, &line, &fds)?;
    drop((sentry_end, listener, pty, mount_fds));
    if let Some(msg) = reply.strip_prefix("error: ") {
        return Err(msg.to_string());
    }
    if reply != "ok" {
        return Err(format!("unexpected reply from the sandbox: {reply:?}"));
    }
    let holder = spawn_holder(global, &c.id, OwnedFd::from(conn))?;
    c.pid = holder;
    if let Err(msg) = cg.enter(&[holder]) {
        let _ = kill(Pid::from_raw(holder), Signal::SIGKILL);
        return Err(msg);
    }
    c.pid_start = proc_stat(holder).map(|s| s.1).unwrap_or(0);
    c.saved_status = Status::Created;
    c.save().map_err(|e| e.to_string())?;
    if let Some(p) = &args.pid_file {
        crate::cmd::create::write_pid_file(p, holder)?;
    }
    let _sandbox_lock = StateLock::take(&sandbox.dir).map_err(|e| e.to_string())?;
    let mut s = Container::load(&global.root, &sandbox.id).map_err(|e| e.to_string())?;
    if !s.members.contains(&c.id) {
        s.members.push(c.id.clone());
    }
    s.save().map_err(|e| e.to_string())
}

/// The container's own cgroup (`linux.cgroupsPath`, else `/runsc/ID`) with its
/// `linux.resources`, recorded in `c`; the caller puts its host processes (its gofer and its
/// pid-file holder) in it. As gVisor's sub-container cgroups, it exists for the tools that
/// look for a container's cgroup (the kubelet, cAdvisor) and `runsc update`/`events`: the
/// container's processes run in the pod's sentry, which its sandbox's cgroup bounds.
fn member_cgroup(
    bundle: &oci::Bundle,
    c: &mut Container,
    sandbox: &Container,
) -> Result<Cgroup, String> {
    let linux = bundle.spec.linux().as_ref();
    let path = linux.and_then(|l| l.cgroups_path().clone());
    let cg = Cgroup::for_container(path.as_deref(), &c.id);
    if sandbox.cgroup_path.as_deref() == Some(cg.path.as_str()) {
        // The pod's own cgroup: the sandbox's limits stay, and it is not ours to remove.
        log::warning_to_log(&format!(
            "app container {} names its sandbox's cgroup {}: its resources are not applied",
            c.id, cg.path
        ));
        return Ok(cg);
    }
    c.cgroup_path = Some(cg.path.clone());
    // A hierarchy where it exists already keeps it when the container goes (as for `create`).
    cg.note_existing(&c.dir)?;
    cg.create(&[])?;
    if let Some(res) = linux.and_then(|l| l.resources().as_ref()) {
        let res = serde_json::to_value(res).map_err(|e| format!("linux.resources: {e}"))?;
        for w in cg.apply(&res)? {
            log::warning_to_log(&w);
        }
        if res.get("devices").is_some_and(|d| !d.is_null()) {
            log::warning_to_log(
                "linux.resources.devices of a pod's app container: its sandbox's rules apply",
            );
        }
        log::warning_to_log(&format!(
            "linux.resources of app container {}: its cgroup {} bounds its gofer; its \
             processes run in the pod's sandbox, bounded by the sandbox's cgroup",
            c.id, cg.path
        ));
    }
    Ok(cg)
}

/// The container's own `process` settings and seccomp program, for its init in the sandbox,
/// and its boot spec, from which the sandbox makes its mounts as `runsc boot` makes a
/// sandbox's own (`cmd::boot::mount_pod_container`).
fn own_spec(boot: &BootSpec) -> OwnSpec {
    let s = &boot.settings;
    // What the mounts need (the process and its seccomp program go in their own words).
    let mut for_mounts = boot.clone();
    // A boot spec holds a program: its name stays.
    for_mounts.argv.truncate(1);
    for_mounts.envv.clear();
    for_mounts.settings.seccomp = None;
    OwnSpec {
        mounts: Some(for_mounts.to_json()),
        rlimits: s
            .rlimits
            .iter()
            .map(|r| (r.resource, r.soft, r.hard))
            .collect(),
        umask: s.umask,
        no_new_privs: s.no_new_privs,
        caps: s.caps.map(|c| {
            [
                c.effective,
                c.permitted,
                c.inheritable,
                c.bounding,
                c.ambient,
            ]
        }),
        oom_score_adj: s.oom_score_adj,
        seccomp: s.seccomp.clone(),
    }
}

/// The MOUNTS field of `container-create`: `-`, or `HEXDEST:ro|rw` joined by commas.
fn bind_mounts_field(mounts: &[MountSpec]) -> String {
    if mounts.is_empty() {
        return "-".into();
    }
    mounts
        .iter()
        .map(|m| {
            let dest: String = m.dest.iter().map(|b| format!("{b:02x}")).collect();
            format!("{dest}:{}", if m.readonly { "ro" } else { "rw" })
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The terminal's slave when `process.terminal` is set (its master goes to the console socket);
/// a foreground `run` without a console socket uses its own stdio, as runc's does.
fn open_terminal(
    bundle: &oci::Bundle,
    socket: Option<&Path>,
    foreground: bool,
) -> Result<Option<OwnedFd>, String> {
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    match (terminal, socket) {
        (false, None) => Ok(None),
        (false, Some(_)) => {
            Err("--console-socket given but process.terminal is not set in the spec".into())
        }
        (true, None) if foreground => Ok(None),
        (true, None) => Err("process.terminal is set: --console-socket is required".into()),
        (true, Some(path)) => {
            let pty = console::Pty::open(console::console_size(&bundle.spec))
                .map_err(|e| e.to_string())?;
            console::send_master(path, &pty.master).map_err(|e| e.to_string())?;
            Ok(Some(pty.slave))
        }
    }
}

/// `runsc gofer` serving `rootfs` read-only on `fd` and each bind mount on its channel,
/// holding none of our stdio.
fn spawn_gofer(
    rootfs: &Path,
    fd: &OwnedFd,
    mounts: &[(&HostMount, &OwnedFd)],
) -> Result<Child, String> {
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg0("runsc")
        .arg("gofer")
        .arg("--root")
        .arg(rootfs)
        .arg("--io-fd")
        .arg(fd.as_raw_fd().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
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
    crate::sys::prepare_child(&mut cmd, keep, None);
    cmd.spawn()
        .map_err(|e| format!("starting the gofer (runsc gofer): {e}"))
}

/// The pid-file process: `runsc exec --wait-on-stdin ID` with the `container-create`
/// connection as its stdin; it exits with the status the sentry writes there.
fn spawn_holder(global: &GlobalOpts, id: &str, conn: OwnedFd) -> Result<i32, String> {
    let exe = std::env::current_exe().map_err(|e| format!("finding runsc itself: {e}"))?;
    let child = Command::new(exe)
        .arg("--root")
        .arg(&global.root)
        .args(["exec", "--wait-on-stdin", id])
        .stdin(Stdio::from(conn))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the container's pid-file process: {e}"))?;
    Ok(child.id() as i32)
}

/// `delete` of an app container (its lock held): kills what is left of it in the sandbox,
/// unmounts its root there, waits for its holder, stops its gofer, removes it from its
/// sandbox's members and removes its directory.
pub fn delete_member(root: &Path, c: &Container) -> Result<(), String> {
    if control::call(&c.dir, "delete").is_ok() {
        control::knock(&c.dir);
    }
    let deadline = Instant::now() + HOLDER_WAIT;
    while c.sentry_alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if c.sentry_alive() {
        let _ = kill(Pid::from_raw(c.pid), Signal::SIGKILL);
    }
    kill_gofer(c);
    if let Some(cg) = c.cgroup() {
        if let Err(e) = cg.destroy_owned(&c.dir) {
            log::warning_to_log(&e);
        }
    }
    if let Some(sid) = &c.sandbox_id {
        let sdir = root.join(sid);
        if let Ok(_lock) = StateLock::take(&sdir) {
            if let Ok(mut s) = Container::load(root, sid) {
                s.members.retain(|m| m != &c.id);
                let _ = s.save();
            }
        }
    }
    c.destroy().map_err(|e| e.to_string())
}

/// After a sandbox container's sentry is gone: its app containers go too (their holders have
/// read end-of-file and exited; their gofers saw the sentry hang up).
pub fn delete_members(root: &Path, sandbox: &Container) {
    for id in &sandbox.members {
        let Ok(m) = Container::load(root, id) else {
            continue;
        };
        if m.sandbox_id.as_deref() != Some(sandbox.id.as_str()) {
            continue;
        }
        if m.sentry_alive() {
            let _ = kill(Pid::from_raw(m.pid), Signal::SIGKILL);
        }
        kill_gofer(&m);
        if let Some(cg) = m.cgroup() {
            if let Err(e) = cg.destroy_owned(&m.dir) {
                log::warning_to_log(&e);
            }
        }
        if let Err(e) = m.destroy() {
            log::warning_to_log(&e.to_string());
        }
    }
}

/// Kills a container's gofer if it is still that process.
pub fn kill_gofer(c: &Container) {
    if c.gofer_pid > 0 && proc_stat(c.gofer_pid).is_some_and(|(s, _)| s != 'Z') {
        if let Ok(cmdline) = std::fs::read(format!("/proc/{}/cmdline", c.gofer_pid)) {
            let rootfs = c.rootfs.as_os_str().as_bytes();
            if cmdline.starts_with(b"runsc\0gofer")
                && cmdline.windows(rootfs.len().max(1)).any(|w| w == rootfs)
            {
                let _ = kill(Pid::from_raw(c.gofer_pid), Signal::SIGKILL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::spec::SpecSettings;
    use std::collections::HashMap;

    fn annotations(kv: &[(&str, &str)]) -> HashMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn bind_mounts_go_as_hex_paths_and_modes() {
        assert_eq!(bind_mounts_field(&[]), "-");
        let m = [
            MountSpec {
                dest: b"/etc/hosts".to_vec(),
                readonly: true,
            },
            MountSpec {
                dest: b"/v".to_vec(),
                readonly: false,
            },
        ];
        assert_eq!(bind_mounts_field(&m), "2f6574632f686f737473:ro,2f76:rw");
    }

    #[test]
    fn the_boot_spec_for_the_mounts_keeps_them_without_the_process() {
        use crate::boot::spec::{FsKind, FsMountSpec};
        let boot = BootSpec {
            argv: vec![b"/bin/sh".to_vec(), b"-c".to_vec(), b"secret".to_vec()],
            envv: vec![b"TOKEN=x".to_vec()],
            cwd: b"/".to_vec(),
            hostname: "h".into(),
            uid: 0,
            gid: 0,
            groups: Vec::new(),
            strace: None,
            debug: false,
            root_readonly: false,
            mounts: vec![MountSpec {
                dest: b"/v".to_vec(),
                readonly: true,
            }],
            settings: SpecSettings {
                seccomp: Some(vec![6]),
                masked_paths: vec![b"/proc/kcore".to_vec()],
                fs_mounts: Some(vec![FsMountSpec {
                    dest: b"/v".to_vec(),
                    kind: FsKind::Bind,
                    source: "/dev/sda1".into(),
                    readonly: true,
                    mode: None,
                    options: vec!["rbind".into(), "ro".into()],
                    root: b"/srv/v".to_vec(),
                }]),
                ..SpecSettings::default()
            },
        };
        let own = own_spec(&boot);
        assert_eq!(own.seccomp, Some(vec![6]), "the process's own word");
        let back = BootSpec::from_json(&own.mounts.unwrap()).unwrap();
        assert_eq!(back.settings.fs_mounts, boot.settings.fs_mounts);
        assert_eq!(back.settings.masked_paths, boot.settings.masked_paths);
        assert_eq!(back.mounts, boot.mounts);
        assert_eq!(back.settings.seccomp, None);
        assert_eq!(back.argv, vec![b"/bin/sh".to_vec()]);
        assert!(back.envv.is_empty());
    }

    #[test]
    fn only_app_containers_naming_another_sandbox_join_it() {
        let app = annotations(&[(CONTAINER_TYPE, "container"), (SANDBOX_ID, "pause1")]);
        assert_eq!(sandbox_of(Some(&app), "app1"), Some("pause1".into()));
        assert_eq!(sandbox_of(Some(&app), "pause1"), None, "itself");
        let pause = annotations(&[(CONTAINER_TYPE, "sandbox"), (SANDBOX_ID, "pause1")]);
        assert_eq!(sandbox_of(Some(&pause), "pause1"), None);
        let bad = annotations(&[(CONTAINER_TYPE, "container"), (SANDBOX_ID, "../x")]);
        assert_eq!(sandbox_of(Some(&bad), "a"), None);
        assert_eq!(sandbox_of(None, "a"), None);
        assert_eq!(sandbox_of(Some(&annotations(&[])), "a"), None);
    }

    #[test]
    fn proc_ns_paths_name_their_pid() {
        assert_eq!(proc_ns_pid(Path::new("/proc/42/ns/ipc")), Some(42));
        assert_eq!(proc_ns_pid(Path::new("/proc/42/ns")), None);
        assert_eq!(proc_ns_pid(Path::new("/proc/self/ns/ipc")), None);
        assert_eq!(proc_ns_pid(Path::new("/run/netns/x")), None);
        assert_eq!(proc_ns_pid(Path::new("/proc/42/ns/ipc/x")), None);
    }
}
