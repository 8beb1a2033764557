//! Idle cost of a sandbox (issue 7 item 7): start a command that sleeps (`sleep 1000` under
//! `runsc do`), wait until its host processes stop using CPU, then sum their resident memory
//! (`procfs::usage_of`) and measure their CPU time over a window; then end them.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::procfs::{self, SandboxUsage};
use crate::RunFailed;

/// What one idle sandbox costs.
#[derive(Debug)]
pub struct IdleReport {
    pub usage: SandboxUsage,
    /// utime + stime of all its processes over `window`.
    pub cpu: Duration,
    pub window: Duration,
    /// How long after the start it became idle.
    pub settled_after: Duration,
}

/// Starts `argv` (stdio on /dev/null), waits until idle (no CPU tick in 200 ms over its
/// whole process tree, at least `min_settle` after the start, at most 10 s), reads the
/// memory and the CPU time used over `window`, then ends it.
pub fn measure_idle(
    argv: &[String],
    min_settle: Duration,
    window: Duration,
) -> Result<IdleReport, RunFailed> {
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| RunFailed("empty command".into()))?;
    let start = Instant::now();
    let mut child = Command::new(prog)
        .args(args)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| RunFailed(format!("{prog}: {e}")))?;
    let root = i32::try_from(child.id()).map_err(|_| RunFailed("pid out of range".into()))?;
    let result = settle_and_measure(&mut child, root, start, min_settle, window);
    stop(&mut child, root);
    result
}

fn settle_and_measure(
    child: &mut Child,
    root: i32,
    start: Instant,
    min_settle: Duration,
    window: Duration,
) -> Result<IdleReport, RunFailed> {
    let exited = |child: &mut Child| -> Result<(), RunFailed> {
        match child.try_wait() {
            Ok(Some(st)) => Err(RunFailed(format!("exited early: {st}"))),
            _ => Ok(()),
        }
    };
    std::thread::sleep(min_settle);
    let deadline = start + Duration::from_secs(10);
    loop {
        exited(child)?;
        let pids = procfs::descendants(root, &procfs::all_parents());
        let before = procfs::cpu_ticks_of(&pids);
        std::thread::sleep(Duration::from_millis(200));
        let after = procfs::cpu_ticks_of(&pids);
        if after <= before || Instant::now() > deadline {
            break;
        }
    }
    exited(child)?;
    let settled_after = start.elapsed();
    let pids = procfs::descendants(root, &procfs::all_parents());
    let usage = procfs::usage_of(&pids);
    let before = procfs::cpu_ticks_of(&pids);
    let t = Instant::now();
    std::thread::sleep(window);
    let after = procfs::cpu_ticks_of(&pids);
    let window = t.elapsed();
    exited(child)?;
    Ok(IdleReport {
        usage,
        cpu: ticks_to_duration(after.saturating_sub(before)),
        window,
        settled_after,
    })
}

/// CPU time of `ticks` clock ticks.
pub fn ticks_to_duration(ticks: u64) -> Duration {
    Duration::from_millis(ticks * 1000 / procfs::USER_HZ)
}

/// SIGTERM to the launcher (both `runsc do`s pass it to the application and clean up), then
/// SIGKILL to whatever of the tree is left after 5 s.
fn stop(child: &mut Child, root: i32) {
    let pids = procfs::descendants(root, &procfs::all_parents());
    signal("TERM", &[root]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let left: Vec<i32> = pids
        .into_iter()
        .filter(|&p| procfs::stat_of(p).is_some())
        .collect();
    if !left.is_empty() {
        signal("KILL", &left);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `kill -SIG PIDS...` (the runner keeps `unsafe` out of this crate).
fn signal(sig: &str, pids: &[i32]) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .args(pids.iter().map(|p| p.to_string()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_native_sleep_is_idle_and_is_ended() {
        let argv = vec!["/bin/sleep".to_string(), "1000".to_string()];
        let r = measure_idle(&argv, Duration::ZERO, Duration::from_millis(100));
        let r = r.map_err(|RunFailed(m)| m).expect("sleep runs");
        assert_eq!(r.usage.processes, 1);
        assert!(r.usage.launcher.rss_kib > 0);
        assert_eq!(r.usage.total(), r.usage.launcher);
        if std::path::Path::new("/proc/self/smaps_rollup").is_file() {
            assert!(r.usage.total().pss_kib.is_some());
        }
        assert!(r.window >= Duration::from_millis(100));
        assert_eq!(ticks_to_duration(150), Duration::from_millis(1500));
        let quick = vec!["/bin/true".to_string()];
        assert!(measure_idle(&quick, Duration::from_millis(300), Duration::ZERO).is_err());
    }
}
