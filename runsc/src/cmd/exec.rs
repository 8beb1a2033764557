//! `runsc exec` (after runc's `exec.go` and gVisor's `runsc/cmd/exec.go`): run a new process in
//! a running container's sandbox, on the same kernel as its init (it sees the container's
//! files and processes). The sentry starts it on a request over the control socket that
//! carries this command's stdio (`sentry::control`, `exec`); the status comes back on the same
//! connection.
//!
//! Without `--detach` this command waits and exits with the process's status (128+N for signal
//! N), forwarding the signals it gets to the process. With `--detach` it starts one child
//! `runsc exec --wait-on-stdin` that holds the connection as its stdin and exits with the
//! status, writes that child's pid to `--pid-file` and returns: the pid-file process stays in
//! the caller's process tree (no double fork), as shims and conmon expect (OCI-CONTRACT.md).
//! Failures are runc's: one `exec failed: ...` line, status 255.

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use oci_spec::runtime::{Process, Spec};

use crate::cli::{ExecArgs, GlobalOpts};
use crate::cmd::create::write_pid_file;
use crate::container::control::{self, ExecRequest};
use crate::container::{Container, Status};
use crate::log;

/// runc's status when `exec` itself fails (the process never ran).
pub const EXIT_EXEC_FAILED: i32 = 255;

/// `runsc exec ...`.
pub fn run(global: &GlobalOpts, args: &ExecArgs) -> i32 {
    if args.wait_on_stdin {
        return wait_on_stdin();
    }
    match exec(global, args) {
        Ok(code) => code,
        Err(msg) => {
            log::error(&format!("exec failed: {msg}"));
            EXIT_EXEC_FAILED
        }
    }
}

fn exec(global: &GlobalOpts, args: &ExecArgs) -> Result<i32, String> {
    let c = Container::load(&global.root, &args.id).map_err(|e| e.to_string())?;
    match c.status() {
        Status::Created | Status::Running => {}
        Status::Paused => return Err("cannot exec in a paused container".into()),
        Status::Creating | Status::Stopped => {
            return Err("cannot exec in a stopped container".into())
        }
    }
    // containerd says "terminal" in the process file, podman says --tty.
    let (request, terminal) = match &args.process {
        Some(path) => process_from_file(path)?,
        None => (process_from_args(&c, args)?, false),
    };
    let program = String::from_utf8_lossy(&request.argv[0]).into_owned();

    // The process's descriptors: a terminal's slave, or our stdio; then --preserve-fds.
    let pty = open_terminal(args.tty || terminal, args.console_socket.as_deref())?;
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let mut fds: Vec<BorrowedFd<'_>> = match &pty {
        Some(slave) => vec![slave.as_fd(); 3],
        None => vec![stdin.as_fd(), stdout.as_fd(), stderr.as_fd()],
    };
    let preserved = (0..args.preserve_fds)
        .map(|i| {
            let n = 3 + i as i32;
            crate::sys::take_inherited_fd(n).map_err(|e| format!("--preserve-fds: {e}"))
        })
        .collect::<Result<Vec<OwnedFd>, String>>()?;
    fds.extend(preserved.iter().map(AsFd::as_fd));
    if fds.len() > sentry::control::MAX_FDS {
        return Err(format!(
            "--preserve-fds {}: at most {} descriptors",
            args.preserve_fds,
            sentry::control::MAX_FDS - 3
        ));
    }

    let conn = control::exec(&c.dir, &request, &fds).map_err(|msg| start_error(&program, &msg))?;
    drop(preserved);
    drop(pty);
    if args.detach {
        let holder = spawn_holder(global, &args.id, conn.into_fd())?;
        if let Some(path) = &args.pid_file {
            write_pid_file(path, holder)?;
        }
        return Ok(0);
    }
    if let Some(path) = &args.pid_file {
        write_pid_file(path, std::process::id() as i32)?;
    }
    forward_signals(&c.dir, conn.pid);
    Ok(conn.wait())
}

/// The process of `--process FILE` (an OCI `process` object), as runc takes it: whole, with
/// none of the command-line overrides; and whether it asks for a terminal.
fn process_from_file(path: &Path) -> Result<(ExecRequest, bool), String> {
    let text = std::fs::read(path).map_err(|e| format!("--process {}: {e}", path.display()))?;
    let p: Process = serde_json::from_slice(&text)
        .map_err(|e| format!("--process {}: invalid process: {e}", path.display()))?;
    let env = p.env().clone().unwrap_or_default();
    let gids = p.user().additional_gids().clone().unwrap_or_default();
    request(
        p.args().clone().unwrap_or_default(),
        env,
        p.cwd(),
        (p.user().uid(), p.user().gid(), gids),
    )
    .map(|r| (r, p.terminal() == Some(true)))
    .map_err(|e| format!("--process {}: {e}", path.display()))
}

/// The process of `exec ID COMMAND ARGS...`: the container's process with this argv, `--env`
/// over its environment, `--cwd` and `--user` over its own (runc's `getProcess`).
fn process_from_args(c: &Container, args: &ExecArgs) -> Result<ExecRequest, String> {
    if args.command.is_empty() {
        return Err("exec needs a command (or --process FILE)".into());
    }
    let config = c.bundle.join("config.json");
    let spec: Spec = serde_json::from_slice(
        &std::fs::read(&config).map_err(|e| format!("{}: {e}", config.display()))?,
    )
    .map_err(|e| format!("{}: invalid config: {e}", config.display()))?;
    let base = spec.process().clone().unwrap_or_default();
    let mut env = base.env().clone().unwrap_or_default();
    for kv in &args.env {
        let key = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
        env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
        env.push(kv.clone());
    }
    let cwd = args.cwd.clone().unwrap_or_else(|| base.cwd().clone());
    let (mut uid, mut gid) = (base.user().uid(), base.user().gid());
    if let Some(user) = &args.user {
        (uid, gid) = parse_user(user, gid)?;
    }
    let gids = if args.additional_gids.is_empty() {
        base.user().additional_gids().clone().unwrap_or_default()
    } else {
        args.additional_gids.clone()
    };
    let argv = args
        .command
        .iter()
        .map(|a| String::from_utf8_lossy(a.as_bytes()).into_owned())
        .collect();
    request(argv, env, &cwd, (uid, gid, gids))
}

/// `UID` or `UID:GID` (numbers: the sandbox has no /etc/passwd lookup).
fn parse_user(user: &str, default_gid: u32) -> Result<(u32, u32), String> {
    let bad = || format!("--user {user:?}: expected UID[:GID] as numbers");
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let uid = u.parse().map_err(|_| bad())?;
    let gid = match g {
        Some(g) => g.parse().map_err(|_| bad())?,
        None => default_gid,
    };
    Ok((uid, gid))
}

/// Checks a process's fields and makes the request.
fn request(
    args: Vec<String>,
    env: Vec<String>,
    cwd: &Path,
    (uid, gid, groups): (u32, u32, Vec<u32>),
) -> Result<ExecRequest, String> {
    if args.is_empty() || args[0].is_empty() {
        return Err("args must not be empty".into());
    }
    if !cwd.is_absolute() {
        return Err(format!("cwd {:?} is not absolute", cwd.display()));
    }
    if let Some(bad) = env.iter().find(|kv| !kv.contains('=')) {
        return Err(format!("env entry {bad:?} is not KEY=VALUE"));
    }
    Ok(ExecRequest {
        argv: args.into_iter().map(String::into_bytes).collect(),
        envv: env.into_iter().map(String::into_bytes).collect(),
        cwd: cwd.as_os_str().as_bytes().to_vec(),
        uid,
        gid,
        groups,
    })
}

/// The message for a process that did not start, in runc's words where runc has them.
fn start_error(program: &str, msg: &str) -> String {
    let Some(rest) = msg.strip_prefix("exec ") else {
        return msg.to_string();
    };
    let (errno, desc) = rest.split_once(": ").unwrap_or((rest, ""));
    let errno = errno.parse::<i32>().unwrap_or(0);
    let what = if errno == libc::ENOENT && !program.contains('/') {
        format!("exec: {program:?}: executable file not found in $PATH")
    } else {
        format!("exec: {program:?}: {}", desc.to_lowercase())
    };
    format!("unable to start container process: {what}")
}

/// With a terminal (`--tty`, or the process file's `terminal`): a host pty whose master goes to
/// `--console-socket`; returns its slave. Without a socket the process gets our stdio as is.
fn open_terminal(terminal: bool, socket: Option<&Path>) -> Result<Option<OwnedFd>, String> {
    let Some(socket) = socket else {
        return Ok(None);
    };
    if !terminal {
        return Err("--console-socket is for a process with a terminal (--tty)".into());
    }
    let pty = crate::console::Pty::open(None).map_err(|e| e.to_string())?;
    crate::console::send_master(socket, &pty.master).map_err(|e| e.to_string())?;
    Ok(Some(pty.slave))
}

/// Starts the `--detach` holder: a child `runsc exec --wait-on-stdin` whose stdin is the exec
/// connection and whose stdout and stderr are /dev/null (it must not hold the caller's pipes).
/// Returns its host pid.
fn spawn_holder(global: &GlobalOpts, id: &str, conn: OwnedFd) -> Result<i32, String> {
    let exe = std::env::current_exe().map_err(|e| format!("finding runsc itself: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("--root").arg(&global.root);
    cmd.args(["exec", "--wait-on-stdin", id])
        .stdin(Stdio::from(conn))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = cmd
        .spawn()
        .map_err(|e| format!("starting the process that waits for the exec: {e}"))?;
    Ok(child.id() as i32)
}

/// The `--detach` holder's life: close every inherited descriptor but stdin, read the exit
/// status from it, exit with it.
fn wait_on_stdin() -> i32 {
    close_inherited_fds();
    let mut reply = String::new();
    let _ = std::io::stdin().lock().read_to_string(&mut reply);
    parse_exit_line(&reply)
}

fn parse_exit_line(reply: &str) -> i32 {
    reply
        .lines()
        .find_map(|l| l.strip_prefix("exit "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(128 + libc::SIGKILL)
}

/// Closes descriptors 3 and up that the caller let this process inherit (none of them is
/// ours to keep while the exec'd process runs).
fn close_inherited_fds() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // The directory's own descriptor is already closed: EBADF, harmless.
        let _ = nix::unistd::close(fd);
    }
}

/// Forwards the signals this command gets (as runc does for a non-detached exec) to the
/// process with pid `pid` in the sandbox, from a thread of its own.
fn forward_signals(dir: &Path, pid: i32) {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTERM,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ] {
        set.add(s);
    }
    if set.thread_block().is_err() {
        return;
    }
    let dir: PathBuf = dir.to_path_buf();
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let Ok(sig) = set.wait() else { return };
            // The process may be gone already: nothing to report.
            let _ = control::call(&dir, &format!("signal {} pid {pid}", sig as i32));
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_parse_as_runc_takes_them() {
        assert_eq!(parse_user("5", 9), Ok((5, 9)));
        assert_eq!(parse_user("5:6", 9), Ok((5, 6)));
        assert!(parse_user("root", 0).is_err());
        assert!(parse_user("5:x", 0).is_err());
    }

    #[test]
    fn start_errors_read_like_runc() {
        assert_eq!(
            start_error("nosuch", "exec 2: No such file or directory"),
            "unable to start container process: exec: \"nosuch\": executable file not found in $PATH"
        );
        assert_eq!(
            start_error("/bin/x", "exec 13: Permission denied"),
            "unable to start container process: exec: \"/bin/x\": permission denied"
        );
        assert_eq!(
            start_error("x", "the container is not running"),
            "the container is not running"
        );
    }

    #[test]
    fn requests_are_checked() {
        let ok = request(
            vec!["sh".into()],
            vec!["A=1".into()],
            Path::new("/"),
            (1, 2, vec![3]),
        )
        .unwrap();
        assert_eq!(ok.argv, vec![b"sh".to_vec()]);
        assert_eq!((ok.uid, ok.gid, ok.groups), (1, 2, vec![3]));
        assert!(request(vec![], vec![], Path::new("/"), (0, 0, vec![])).is_err());
        assert!(request(vec!["sh".into()], vec![], Path::new("tmp"), (0, 0, vec![])).is_err());
        assert!(request(
            vec!["sh".into()],
            vec!["A".into()],
            Path::new("/"),
            (0, 0, vec![])
        )
        .is_err());
    }

    #[test]
    fn the_holder_reads_the_status_line() {
        assert_eq!(parse_exit_line("exit 42\n"), 42);
        assert_eq!(parse_exit_line(""), 137, "a vanished sandbox killed it");
    }
}
