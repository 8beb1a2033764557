//! The commands that work on a container's cgroup (after runc's `pause.go`, `update.go` and
//! `events.go`): `pause`/`resume` freeze and thaw the whole sandbox (sentry, stubs, gofer),
//! `update` changes its limits live, `events` reports its usage. A pod's app container has a
//! cgroup of its own (`container::pod`) that `update` and `events` address; `pause` of it is
//! refused, as its processes run in its sandbox's sentry.

use std::io::Read;
use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::{EventsArgs, GlobalOpts, UpdateArgs};
use crate::cmd::create::EXIT_FAILURE;
use crate::container::{cgroup::Cgroup, Container, StateLock, Status};
use crate::log;

fn report(result: Result<(), String>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(msg) => {
            log::error(&msg);
            EXIT_FAILURE
        }
    }
}

fn cgroup_of(c: &Container) -> Result<Cgroup, String> {
    c.cgroup()
        .ok_or(format!("container {} has no cgroup", c.id))
}

/// `runsc pause ID` (`frozen`) and `runsc resume ID`.
pub fn pause(global: &GlobalOpts, id: &str, frozen: bool) -> i32 {
    report((|| {
        let c = Container::load(&global.root, id).map_err(|e| e.to_string())?;
        let _lock = StateLock::take(&c.dir).map_err(|e| e.to_string())?;
        let mut c = Container::load(&global.root, id).map_err(|e| e.to_string())?;
        let (from, to) = if frozen {
            (Status::Running, Status::Paused)
        } else {
            (Status::Paused, Status::Running)
        };
        let now = c.status();
        if now != from {
            return Err(format!(
                "container {id} is {}, not {}",
                now.as_str(),
                from.as_str()
            ));
        }
        if let Some(sandbox) = &c.sandbox_id {
            // Its processes run in the pod's sentry, not in its cgroup.
            return Err(format!(
                "container {id} runs in pod sandbox {sandbox}: pause and resume the sandbox"
            ));
        }
        cgroup_of(&c)?.freeze(frozen)?;
        c.saved_status = to;
        c.save().map_err(|e| e.to_string())
    })())
}

/// `runsc update --resources FILE|- ID`.
pub fn update(global: &GlobalOpts, args: &UpdateArgs) -> i32 {
    report((|| {
        let c = Container::load(&global.root, &args.id).map_err(|e| e.to_string())?;
        if c.status() == Status::Stopped {
            return Err(format!("container {} is stopped", args.id));
        }
        let mut text = String::new();
        if args.resources.as_os_str() == "-" {
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("reading resources from stdin: {e}"))?;
        } else {
            text = std::fs::read_to_string(&args.resources)
                .map_err(|e| format!("--resources {}: {e}", args.resources.display()))?;
        }
        let res: Value =
            serde_json::from_str(&text).map_err(|e| format!("--resources: invalid JSON: {e}"))?;
        // The same checks as config.json's linux.resources.
        serde_json::from_value::<oci_spec::runtime::LinuxResources>(res.clone())
            .map_err(|e| format!("--resources: {e}"))?;
        let cg = cgroup_of(&c)?;
        for w in cg.apply(&res)? {
            log::warning_to_log(&w);
        }
        if let Some(sandbox) = &c.sandbox_id {
            log::warning_to_log(&format!(
                "update of app container {}: its cgroup {} bounds its gofer; its processes run \
                 in pod sandbox {sandbox}, bounded by the sandbox's cgroup",
                c.id, cg.path
            ));
        }
        Ok(())
    })())
}

/// `runsc events [--stats] [--interval D] ID`: one `{"type":"stats",...}` line, once or every
/// interval until the container stops.
pub fn events(global: &GlobalOpts, args: &EventsArgs) -> i32 {
    report((|| {
        let interval = parse_interval(&args.interval)?;
        loop {
            let c = Container::load(&global.root, &args.id).map_err(|e| e.to_string())?;
            if c.status() == Status::Stopped {
                return if args.stats {
                    Err(format!("container {} is stopped", args.id))
                } else {
                    Ok(())
                };
            }
            let stats = cgroup_of(&c)?.stats();
            let line = json!({ "type": "stats", "id": args.id, "data": stats });
            if !crate::cmd::out(&format!("{line}\n")) || args.stats {
                return Ok(());
            }
            std::thread::sleep(interval);
        }
    })())
}

/// `5`, `5s`, `500ms`, `1m`.
fn parse_interval(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid --interval {s:?}");
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => return Err(bad()),
    };
    if d.is_zero() {
        return Err(bad());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_interval("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_interval("2m"), Ok(Duration::from_secs(120)));
        for bad in ["", "0", "x", "5h", "-1"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }
}
