//! Side-by-side benchmark runner: (a) one trapped syscall round trip (a static loop of `getppid`
//! calls, as `(t(N) - t(0)) / N`), natively and under `runsc do`; (b) `/bin/true` end to end,
//! natively, under our `runsc do`, under runc and under gVisor's runsc when they are installed;
//! (c) the process model (`c/procbench.c`: fork, fork+exec, pipe and futex ping-pong, thread
//! create+join), (d) the filesystem (`c/fsbench.c`: small files in /tmp and in the root, stat,
//! open+read+close, a large read, a tar-style tree walk, plus a real `tar c`; then files, stat,
//! open+read and a large read on a read-write bind mount of a host directory) and (e) loopback
//! networking (`c/netbench.c`: TCP bulk, TCP and UDP and unix round trips, TCP connect) per
//! operation, natively, under our runsc, under gVisor's and under runc: the same static binary
//! everywhere.
//!
//! Usage: `cargo build --release -p runsc -p benches && ./target/release/side_by_side
//! [--iterations N] [--reps R] [--scale F] [--only a|b|c|d|e]`. `--scale` multiplies the
//! iteration counts of (c), (d) and (e). Numbers are printed, never asserted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use benches::{
    find_program, getppid_loop, gvisor_do, make_volume, median_time, our_runsc, per_call,
    procbench, RunFailed, RuncBundle, Sandbox, Volume, Workload, FS_WORKLOADS, NET_WORKLOADS,
    PROC_WORKLOADS, TREE, VOLUME_WORKLOADS,
};

struct Options {
    iterations: u64,
    reps: usize,
    scale: f64,
    only: Option<String>,
}

fn parse_options() -> Result<Options, String> {
    let mut o = Options {
        iterations: 100_000,
        reps: 5,
        scale: 1.0,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--iterations" => {
                o.iterations = value("--iterations")?
                    .parse()
                    .map_err(|e| format!("--iterations: {e}"))?
            }
            "--reps" => {
                o.reps = value("--reps")?
                    .parse()
                    .map_err(|e| format!("--reps: {e}"))?
            }
            "--scale" => {
                o.scale = value("--scale")?
                    .parse()
                    .map_err(|e| format!("--scale: {e}"))?
            }
            "--only" => o.only = Some(value("--only")?),
            // `cargo bench` passes --bench to every bench target.
            "--bench" => {}
            other => {
                return Err(format!(
                    "unknown argument {other:?} (use --iterations N, --reps R, --scale F, --only a|b|c|d|e)"
                ))
            }
        }
    }
    Ok(o)
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn show_time(d: &Result<Duration, RunFailed>) -> String {
    match d {
        Ok(d) => format!("{:>10.3} ms", d.as_secs_f64() * 1e3),
        Err(RunFailed(why)) => format!("failed: {why}"),
    }
}

/// ns per getppid for one way of running the loop (`prefix` + loop + N).
fn syscall_cost(prefix: &[String], n: u64, reps: usize) -> Result<(Duration, Duration), RunFailed> {
    let lp = getppid_loop().to_string_lossy().into_owned();
    let mut zero = prefix.to_vec();
    zero.extend([lp.clone(), "0".into()]);
    let mut full = prefix.to_vec();
    full.extend([lp, n.to_string()]);
    let t0 = median_time(&zero, reps)?;
    let tn = median_time(&full, reps)?;
    Ok((per_call(tn, t0, n), t0))
}

/// A runc bundle whose root holds only a static "true" (the getppid loop with N = 0).
fn runc_bundle() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("runsc-bench-bundle-{}", std::process::id()));
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(&rootfs).map_err(|e| format!("{}: {e}", rootfs.display()))?;
    std::fs::copy(getppid_loop(), rootfs.join("true")).map_err(|e| format!("copy: {e}"))?;
    let config = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": { "terminal": false, "user": { "uid": 0, "gid": 0 }, "args": ["/true"],
                     "env": ["PATH=/"], "cwd": "/" },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": "bench",
        "mounts": [ { "destination": "/proc", "type": "proc", "source": "proc" } ],
        "linux": { "namespaces": [ { "type": "pid" }, { "type": "ipc" }, { "type": "uts" },
                                   { "type": "mount" }, { "type": "network" } ] }
    });
    std::fs::write(dir.join("config.json"), config.to_string())
        .map_err(|e| format!("config.json: {e}"))?;
    Ok(dir)
}

fn main() {
    let opts = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("side_by_side: {e}");
            std::process::exit(2);
        }
    };
    let ours = our_runsc();
    let runc = find_program(&["runc"]);
    let gvisor = find_program(&["/usr/bin/runsc", "/usr/local/bin/runsc"])
        .filter(|p| ours.as_deref().map(Path::new) != Some(p.as_path()));

    println!("side-by-side benchmark (median of {} runs)", opts.reps);
    let wants = |part: &str| opts.only.as_deref().is_none_or(|o| o == part);
    if wants("a") {
        part_a(&opts, ours.as_deref(), gvisor.as_deref());
    }
    if wants("b") {
        part_b(&opts, ours.as_deref(), runc.as_deref(), gvisor.as_deref());
    }
    let wants_any = |parts: &[&str]| parts.iter().any(|p| wants(p));
    if !wants_any(&["c", "d", "e"]) {
        return;
    }
    let mut sandboxes = vec![Sandbox::Native];
    match &ours {
        Some(r) => sandboxes.push(Sandbox::Ours(r.clone())),
        None => println!("our runsc: not built (cargo build --release -p runsc)"),
    }
    match &gvisor {
        Some(g) => sandboxes.push(Sandbox::Gvisor(g.clone())),
        None => println!("gVisor runsc: not installed"),
    }
    match runc.as_deref().map(RuncBundle::new) {
        Some(Ok(b)) => sandboxes.push(Sandbox::Runc(b)),
        Some(Err(e)) => println!("runc bundle: {e}"),
        None => println!("runc: not installed"),
    }
    if wants("c") {
        println!();
        println!("(c) process model, per operation ((t(N) - t(0)) / N)");
        let prog = procbench().to_string_lossy().into_owned();
        for (mode, what, base_n) in PROC_WORKLOADS {
            let w = Row {
                what,
                command: vec![prog.clone(), mode.into()],
                n: base_n,
                bytes_per_op: None,
            };
            rows(&opts, &sandboxes, &w);
        }
    }
    if wants("d") {
        println!();
        println!("(d) filesystem, per operation ((t(N) - t(0)) / N)");
        for w in &FS_WORKLOADS {
            rows(&opts, &sandboxes, &Row::of(w));
        }
        tar_rows(&opts, &sandboxes);
        println!();
        println!("(d2) the same on a read-write bind mount of a host directory (gVisor: the host");
        println!("     path through its root with --force-overlay=false; it has no volumes)");
        match make_volume() {
            Ok(vol) => {
                for w in &VOLUME_WORKLOADS {
                    rows_with(&opts, &sandboxes, &Row::of(w), Some(&vol));
                }
            }
            Err(e) => println!("  volume: {e}"),
        }
    }
    if wants("e") {
        println!();
        println!("(e) loopback network, per operation ((t(N) - t(0)) / N)");
        for w in &NET_WORKLOADS {
            rows(&opts, &sandboxes, &Row::of(w));
        }
    }
}

/// One workload: `command... N`, and the bytes one operation moves if it has a throughput.
struct Row {
    what: &'static str,
    command: Vec<String>,
    n: u64,
    bytes_per_op: Option<u64>,
}

impl Row {
    fn of(w: &Workload) -> Self {
        Self {
            what: w.what,
            command: w.command(),
            n: w.n,
            bytes_per_op: w.bytes_per_op(),
        }
    }
}

/// Prints one workload's per-operation cost under every sandbox, with the ratio to native.
fn rows(opts: &Options, sandboxes: &[Sandbox], w: &Row) {
    rows_with(opts, sandboxes, w, None)
}

/// `rows` with a volume mounted in each sandbox.
fn rows_with(opts: &Options, sandboxes: &[Sandbox], w: &Row, vol: Option<&Volume>) {
    let n = ((w.n as f64 * opts.scale) as u64).max(1);
    println!("  {} (N = {n})", w.what);
    let mut native = None;
    for sb in sandboxes {
        let label = sb.label();
        match sb.op_cost_with(&w.command, n, opts.reps, vol) {
            Ok((per, _)) if per.is_zero() => {
                println!("    {label:<22} below noise (t(N) <= t(0))")
            }
            Ok((per, _)) => {
                let ratio = native
                    .filter(|b: &Duration| !b.is_zero())
                    .map(|b| format!("  (x{:.1})", per.as_secs_f64() / b.as_secs_f64()))
                    .unwrap_or_default();
                let rate = w
                    .bytes_per_op
                    .filter(|_| !per.is_zero())
                    .map(|b| format!("  {:.0} MB/s", b as f64 / per.as_secs_f64() / 1e6))
                    .unwrap_or_default();
                println!(
                    "    {label:<22} {:>10.1} us/op{ratio}{rate}",
                    per.as_secs_f64() * 1e6
                );
                if native.is_none() {
                    native = Some(per);
                }
            }
            Err(RunFailed(why)) => println!("    {label:<22} failed: {why}"),
        }
    }
}

/// A real `tar c` of the tree piped to `wc -c`, end to end (sandbox start-up included).
fn tar_rows(opts: &Options, sandboxes: &[Sandbox]) {
    println!("  tar cf - {TREE} | wc -c, end to end");
    let cmd = strs(&[
        "/bin/sh",
        "-c",
        &format!("tar cf - {TREE} 2>/dev/null | wc -c"),
    ]);
    for sb in sandboxes {
        println!(
            "    {:<22} {}",
            sb.label(),
            show_time(&sb.time(&cmd, opts.reps))
        );
    }
}

/// (a): one trapped syscall.
fn part_a(opts: &Options, ours: Option<&Path>, gvisor: Option<&Path>) {
    println!();
    println!("(a) getppid round trip, N = {}", opts.iterations);
    let native = syscall_cost(&[], opts.iterations, opts.reps);
    let show = |label: &str,
                r: &Result<(Duration, Duration), RunFailed>,
                base: Option<Duration>| match r {
        Ok((per, _)) => {
            let ratio = base
                .filter(|b| !b.is_zero())
                .map(|b| format!("  (x{:.1})", per.as_nanos() as f64 / b.as_nanos() as f64))
                .unwrap_or_default();
            println!("    {label:<22} {:>10} ns/call{ratio}", per.as_nanos());
        }
        Err(RunFailed(why)) => println!("    {label:<22} failed: {why}"),
    };
    show("native", &native, None);
    let native_per = native.as_ref().ok().map(|(p, _)| *p);
    match ours {
        Some(r) => {
            let prefix = vec![r.to_string_lossy().into_owned(), "do".into(), "--".into()];
            show(
                "runsc do (ptrace)",
                &syscall_cost(&prefix, opts.iterations, opts.reps),
                native_per,
            );
        }
        None => println!(
            "    {:<22} not built (cargo build --release -p runsc)",
            "runsc do (ptrace)"
        ),
    }
    match gvisor {
        Some(g) => {
            let mut prefix = gvisor_do(g);
            prefix.push("--".into());
            show(
                "gVisor runsc do",
                &syscall_cost(&prefix, opts.iterations, opts.reps),
                native_per,
            );
        }
        None => println!("    {:<22} not installed", "gVisor runsc do"),
    }
}

/// (b): `/bin/true` end to end.
fn part_b(opts: &Options, ours: Option<&Path>, runc: Option<&Path>, gvisor: Option<&Path>) {
    println!();
    println!("(b) /bin/true end to end");
    println!(
        "    {:<22} {}",
        "native",
        show_time(&median_time(&strs(&["/bin/true"]), opts.reps))
    );
    match ours {
        Some(r) => {
            let argv = vec![
                r.to_string_lossy().into_owned(),
                "do".into(),
                "--".into(),
                "/bin/true".into(),
            ];
            println!(
                "    {:<22} {}",
                "runsc do",
                show_time(&median_time(&argv, opts.reps))
            );
        }
        None => println!(
            "    {:<22} not built (cargo build --release -p runsc)",
            "runsc do"
        ),
    }
    match runc {
        Some(runc) => match runc_bundle() {
            Ok(bundle) => {
                let argv = vec![
                    runc.to_string_lossy().into_owned(),
                    "run".into(),
                    "--bundle".into(),
                    bundle.to_string_lossy().into_owned(),
                    format!("runsc-bench-{}", std::process::id()),
                ];
                println!(
                    "    {:<22} {}",
                    "runc run (static true)",
                    show_time(&median_time(&argv, opts.reps))
                );
                let _ = std::fs::remove_dir_all(&bundle);
            }
            Err(e) => println!("    {:<22} failed: {e}", "runc run (static true)"),
        },
        None => println!("    {:<22} not installed", "runc"),
    }
    match gvisor {
        Some(g) => {
            let mut argv = gvisor_do(g);
            argv.push("/bin/true".into());
            println!(
                "    {:<22} {}",
                "gVisor runsc do",
                show_time(&median_time(&argv, opts.reps))
            );
        }
        None => println!("    {:<22} not installed", "gVisor runsc"),
    }
}
