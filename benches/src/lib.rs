//! Benchmark helpers shared by the runners in `src/bin/`: timing a command a few times and
//! taking the median, and finding the programs to compare (after gVisor's `test/benchmarks`).
//! Numbers are printed side by side, never asserted.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The static getppid loop built by `build.rs`.
pub fn getppid_loop() -> PathBuf {
    Path::new(env!("RUNSC_BENCH_C_DIR")).join("getppid_loop")
}

/// The static process-model benchmark (`c/procbench.c`): `procbench MODE N`.
pub fn procbench() -> PathBuf {
    Path::new(env!("RUNSC_BENCH_C_DIR")).join("procbench")
}

/// The process-model workloads of `procbench`: (mode, what one iteration is, default N).
pub const PROC_WORKLOADS: [(&str, &str, u64); 5] = [
    ("fork", "fork+exit+wait", 200),
    ("exec", "fork+execve(/bin/true)+wait", 100),
    ("pipe", "pipe ping-pong round trip", 5_000),
    ("futex", "futex ping-pong round trip", 5_000),
    ("thread", "pthread create+join", 1_000),
];

/// Per-operation cost of `prefix program... N` as `(t(N) - t(0)) / N`, with `t(0)`.
pub fn op_cost(
    prefix: &[String],
    program: &[String],
    n: u64,
    reps: usize,
) -> Result<(Duration, Duration), RunFailed> {
    let mut zero = prefix.to_vec();
    zero.extend(program.iter().cloned());
    let mut full = zero.clone();
    zero.push("0".into());
    full.push(n.to_string());
    let t0 = median_time(&zero, reps)?;
    let tn = median_time(&full, reps)?;
    Ok((per_call(tn, t0, n), t0))
}

/// Our `runsc`: `RUNSC_BIN`, else the one next to this runner (`<target>/<profile>/runsc`).
pub fn our_runsc() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RUNSC_BIN") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.join("runsc");
    p.is_file().then_some(p)
}

/// The first of `names` found on `PATH` or as an absolute path.
pub fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        let n = Path::new(name);
        if n.is_absolute() {
            if n.is_file() {
                return Some(n.to_path_buf());
            }
            continue;
        }
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Why a timed run failed.
#[derive(Debug)]
pub struct RunFailed(pub String);

/// Runs `argv` `reps` times (output discarded) and returns the median wall time.
pub fn median_time(argv: &[String], reps: usize) -> Result<Duration, RunFailed> {
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| RunFailed("empty command".into()))?;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        let out = Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| RunFailed(format!("{prog}: {e}")))?;
        let elapsed = start.elapsed();
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(RunFailed(format!(
                "{} ({})",
                out.status,
                err.lines().last().unwrap_or("no stderr")
            )));
        }
        times.push(elapsed);
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// Per-call cost from two medians: (t(n) - t(0)) / n.
pub fn per_call(with_n: Duration, with_zero: Duration, n: u64) -> Duration {
    let diff = with_n.saturating_sub(with_zero);
    if n == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(
        (diff.as_nanos() / u128::from(n))
            .try_into()
            .unwrap_or(u64::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_call_subtracts_the_fixed_cost() {
        let d = per_call(
            Duration::from_millis(110),
            Duration::from_millis(10),
            1_000_000,
        );
        assert_eq!(d, Duration::from_nanos(100));
        assert_eq!(
            per_call(Duration::from_millis(5), Duration::from_millis(10), 10),
            Duration::ZERO
        );
        assert_eq!(
            per_call(Duration::from_millis(5), Duration::ZERO, 0),
            Duration::ZERO
        );
    }

    #[test]
    fn median_time_runs_and_reports_failures() {
        assert!(median_time(&["/bin/true".into()], 3).is_ok());
        assert!(median_time(&["/bin/false".into()], 1).is_err());
        assert!(getppid_loop().is_file());
    }

    #[test]
    fn procbench_workloads_run_natively() {
        let prog = procbench().to_string_lossy().into_owned();
        for (mode, _, _) in PROC_WORKLOADS {
            let r = op_cost(&[], &[prog.clone(), mode.into()], 3, 1);
            assert!(r.is_ok(), "{mode}: {r:?}");
        }
        assert!(median_time(&[prog, "nosuchmode".into()], 1).is_err());
    }
}
