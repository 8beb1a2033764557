//! `runsc delete` (after runc's `delete.go`): forget a stopped or created container (killing the
//! created one's process); with `--force`, kill a running one first. Deleting a container that does not exist is an error, except
//! with `--force` (engines call `delete --force` on every clean-up path).

use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cli::{DeleteArgs, GlobalOpts};
use crate::cmd::create::EXIT_FAILURE;
use crate::container::hooks::{self, Point};
use crate::container::{pod, proc_stat, Container, ContainerError, StateLock, Status};
use crate::log;

/// How long `delete --force` waits for a killed sentry to die.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// `runsc delete [--force] ID`.
pub fn run(global: &GlobalOpts, args: &DeleteArgs) -> i32 {
    match delete(global, args) {
        Ok(()) => 0,
        Err(msg) => {
            log::error(&msg);
            EXIT_FAILURE
        }
    }
}

fn delete(global: &GlobalOpts, args: &DeleteArgs) -> Result<(), String> {
    let c = match Container::load(&global.root, &args.id) {
        Ok(c) => c,
        Err(ContainerError::NotFound(_)) if args.force => {
            // A create that died half-way may have left a directory without a state file.
            crate::container::validate_id(&args.id).map_err(|e| e.to_string())?;
            let _ = std::fs::remove_dir_all(global.root.join(&args.id));
            return Ok(());
        }
        Err(e) => return Err(e.to_string()),
    };
    let _lock = StateLock::take(&c.dir).map_err(|e| e.to_string())?;
    let status = c.status();
    if c.sandbox_id.is_some() {
        // A pod's app container: it lives in its sandbox container's sentry.
        if status != Status::Stopped && !args.force && status != Status::Created {
            return Err(format!(
                "cannot delete container {} that is not stopped: {}",
                c.id,
                status.as_str()
            ));
        }
        pod::delete_member(&global.root, &c)?;
        if let Err(msg) = hooks::run(&c.hooks, Point::Poststop, &c.oci_state()) {
            log::warning_to_log(&msg);
        }
        return Ok(());
    }
    if status != Status::Stopped {
        // As runc: a created container (whose process never ran) goes without --force.
        if !args.force && status != Status::Created {
            return Err(format!(
                "cannot delete container {} that is not stopped: {}",
                c.id,
                status.as_str()
            ));
        }
        if let Some(cg) = c.cgroup() {
            // A paused container's processes are frozen: thaw them so that they can die.
            let _ = cg.freeze(false);
        }
        kill_sandbox(&c)?;
    }
    // A pod's sandbox container takes its app containers with it.
    pod::delete_members(&global.root, &c);
    if let Some(cg) = c.cgroup() {
        // Not one that existed before `create`, as `run` leaves it when its container exits.
        cg.destroy_owned(&c.dir)?;
    }
    if let Err(msg) = hooks::run(&c.hooks, Point::Poststop, &c.oci_state()) {
        log::warning_to_log(&msg);
    }
    c.destroy().map_err(|e| e.to_string())
}

/// Kills the sentry (its stubs die with it: they are traced with PTRACE_O_EXITKILL; the gofer
/// ends when its socket hangs up) and waits until it has gone or is a zombie.
fn kill_sandbox(c: &Container) -> Result<(), String> {
    if c.sentry_alive() {
        let _ = kill(Pid::from_raw(c.pid), Signal::SIGKILL);
    }
    let deadline = Instant::now() + KILL_WAIT;
    while c.sentry_alive() {
        if Instant::now() >= deadline {
            return Err(format!("the sandbox (pid {}) does not die", c.pid));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // The gofer normally follows at once; make sure, if it is still the same process.
    if c.gofer_pid > 0 && proc_stat(c.gofer_pid).is_some_and(|(s, _)| s != 'Z') {
        if let Ok(cmdline) = std::fs::read(format!("/proc/{}/cmdline", c.gofer_pid)) {
            if cmdline.starts_with(b"runsc\0gofer") {
                let _ = kill(Pid::from_raw(c.gofer_pid), Signal::SIGKILL);
            }
        }
    }
    Ok(())
}
