//! `runsc kill` (after runc's `kill.go`): queue a signal to a container's init process, or to
//! every process in it (`--all`), through the sentry's control socket. Works on a created
//! container too: its init dies of a signal whose default action is to end it.
//!
//! SIGKILL must end the container even when its task sits in a host call the sentry cannot
//! interrupt (a blocking read of a host stdin pipe that the engine never closes, as `ctr run`
//! leaves it): if the sentry is still alive shortly after the signal was queued, the sentry's
//! host process itself gets SIGKILL, so the pid-file process exits with 137 as runc's does.

use std::str::FromStr;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::cli::{GlobalOpts, KillArgs};
use crate::cmd::create::EXIT_FAILURE;
use crate::container::{control, Container, Status};
use crate::log;

/// `runsc kill [--all] ID [SIGNAL]`.
pub fn run(global: &GlobalOpts, args: &KillArgs) -> i32 {
    match kill(global, args) {
        Ok(()) => 0,
        Err(msg) => {
            log::error(&msg);
            EXIT_FAILURE
        }
    }
}

fn kill(global: &GlobalOpts, args: &KillArgs) -> Result<(), String> {
    let sig = parse_signal(&args.signal)?;
    let c = Container::load(&global.root, &args.id).map_err(|e| e.to_string())?;
    match c.status() {
        Status::Created | Status::Running | Status::Paused => {}
        _ => return Err("container not running".into()),
    }
    let scope = if args.all { "all" } else { "one" };
    if let Err(msg) = control::call(&c.dir, &format!("signal {sig} {scope}")) {
        // A fatal signal may end the sentry before it replies: the signal got there.
        if gone_within(&c, SIGKILL_GRACE) {
            return Ok(());
        }
        return Err(msg);
    }
    if sig == libc::SIGKILL && c.status() != Status::Paused {
        kill_host_sentry_unless_gone(&c);
    }
    Ok(())
}

/// How long a sentry whose init got SIGKILL may take to exit by itself.
const SIGKILL_GRACE: Duration = Duration::from_millis(500);

/// Waits up to [`SIGKILL_GRACE`] for the sentry to exit, then kills its host process (a
/// paused container's frozen sentry is left alone: it dies once thawed).
fn kill_host_sentry_unless_gone(c: &Container) {
    if !gone_within(c, SIGKILL_GRACE) {
        log::warning_to_log(&format!(
            "container {}: the sentry (pid {}) outlived SIGKILL to its init; killing it",
            c.id, c.pid
        ));
        let _ = nix::sys::signal::kill(Pid::from_raw(c.pid), Signal::SIGKILL);
    }
}

/// True once the container's sentry has exited (or is a zombie), waiting up to `limit`.
fn gone_within(c: &Container, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while c.sentry_alive() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// A signal given as a number (`9`), a name (`KILL`, `SIGKILL`, any case) or a real-time
/// signal (`RTMIN+2`).
pub fn parse_signal(s: &str) -> Result<i32, String> {
    let bad = || format!("invalid signal {s:?}");
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rest) = name.strip_prefix("RTMIN") {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('+')
                .and_then(|n| n.parse().ok())
                .ok_or_else(bad)?
        };
        let n = libc::SIGRTMIN() + off;
        return if (libc::SIGRTMIN()..=64).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    nix::sys::signal::Signal::from_str(&format!("SIG{name}"))
        .map(|s| s as i32)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_number_and_name() {
        assert_eq!(parse_signal("9"), Ok(9));
        assert_eq!(parse_signal("KILL"), Ok(9));
        assert_eq!(parse_signal("SIGTERM"), Ok(15));
        assert_eq!(parse_signal("usr1"), Ok(10));
        assert_eq!(parse_signal("RTMIN+2"), Ok(libc::SIGRTMIN() + 2));
        for bad in ["0", "65", "-1", "NOPE", "SIG", "RTMIN+x", ""] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_container_without_a_sentry_counts_as_gone_at_once() {
        let root = std::env::temp_dir().join("runsc-kill-unit");
        let c = Container::new(&root, "gone", root.clone(), root.join("rootfs"));
        let t = Instant::now();
        assert!(gone_within(&c, Duration::from_secs(5)));
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}
