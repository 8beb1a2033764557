//! `runsc start` (after runc's `start.go`): run the container's startContainer hooks in it, then
//! tell a created container's sentry to run its init.

use crate::cli::GlobalOpts;
use crate::cmd::create::EXIT_FAILURE;
use crate::container::hooks::{self, Point};
use crate::container::{control, Container, StateLock, Status};
use crate::log;

/// `runsc start ID`.
pub fn run(global: &GlobalOpts, id: &str) -> i32 {
    let result = Container::load(&global.root, id)
        .map_err(|e| e.to_string())
        .and_then(|c| start(&c));
    match result {
        Ok(()) => 0,
        Err(msg) => {
            log::error(&msg);
            EXIT_FAILURE
        }
    }
}

/// Starts `container`, which must be in the created state, and saves it as running.
pub fn start(container: &Container) -> Result<(), String> {
    let _lock = StateLock::take(&container.dir).map_err(|e| e.to_string())?;
    // Re-read under the lock: another command may have changed it.
    let mut c = Container::load(
        container.dir.parent().unwrap_or(std::path::Path::new("/")),
        &container.id,
    )
    .map_err(|e| e.to_string())?;
    match c.status() {
        Status::Created => {}
        Status::Stopped => return Err("cannot start a container that has stopped".into()),
        other => {
            return Err(format!(
                "cannot start a container in state {:?}: it must be created",
                other.as_str()
            ))
        }
    }
    // startContainer hooks: in the container, before its program runs. A failing one fails
    // start, and the container is killed (runtime-spec `config.md`, "startContainer").
    let state = c.hook_state(Status::Created);
    if let Err(msg) = hooks::run_in_container(&c.dir, &c.hooks, &state) {
        // The sandbox may be gone already: the hook's failure is what to report.
        let _ = control::call(&c.dir, &format!("signal {} all", libc::SIGKILL));
        return Err(msg);
    }
    control::call(&c.dir, "start")?;
    c.saved_status = Status::Running;
    c.save().map_err(|e| e.to_string())?;
    if let Err(msg) = hooks::run(&c.hooks, Point::Poststart, &c.hook_state(Status::Running)) {
        log::warning_to_log(&msg);
    }
    Ok(())
}
