//! `runsc kill` (after runc's `kill.go`): queue a signal to a container's init process, or to
//! every process in it (`--all`), through the sentry's control socket. Works on a created
//! container too: its init dies of a signal whose default action is to end it.

use std::str::FromStr;

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
    control::call(&c.dir, &format!("signal {sig} {scope}")).map(drop)
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
}
