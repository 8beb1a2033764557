//! Side-by-side benchmark runner: (a) one trapped syscall round trip (a static loop of `getppid`
//! calls, as `(t(N) - t(0)) / N`), then the simple calls of `c/sysloop.c` (getpid,
//! clock_gettime past the vDSO, a 1-byte pipe write+read), natively and under `runsc do`; (b) `/bin/true` end to end,
//! natively, under our `runsc do`, under runc and under gVisor's runsc when they are installed;
//! (c) the process model (`c/procbench.c`: fork, fork+exec, pipe and futex ping-pong, thread
//! create+join), (d) the filesystem (`c/fsbench.c`: small files in /tmp and in the root, stat,
//! open+read+close, a large read, a tar-style tree walk, plus a real `tar c`; then files, stat,
//! open+read and a large read on a read-write bind mount of a host directory) and (e) loopback
//! networking (`c/netbench.c`: TCP bulk, TCP and UDP and unix round trips, TCP connect) per
//! operation, natively, under our runsc, under gVisor's and under runc: the same static binary
//! everywhere. (c) also times a shell loop of fork+exec and `python3 -c pass` end to end, (d) a
//! `tar c` of a directory of small files. (f) times the container lifecycle through the OCI
//! command line (create, start, delete, and `run` end to end) of our runsc, runc and gVisor's
//! runsc; (g) the idle cost of a sandbox running `sleep 1000`: the resident memory of its host
//! processes (sentry, gofer, stubs) and their CPU time over 2 s.
//!
//! Usage: `cargo build --release -p runsc -p benches && ./target/release/side_by_side
//! [--iterations N] [--reps R] [--scale F] [--only a|b|c|d|e|f|g]`. `--scale` multiplies the
//! iteration counts of (c), (d) and (e). Numbers are printed, never asserted.

use std::path::Path;
use std::time::Duration;

use benches::idle::{measure_idle, IdleReport};
use benches::lifecycle::{median, MinimalBundle, Runtime};
use benches::procfs::Mem;
use benches::{
    find_program, getppid_loop, gvisor_do, make_volume, median_time, our_runsc, per_call,
    procbench, shell_loop_command, sysloop, RunFailed, RuncBundle, Sandbox, SmallFiles, Volume,
    Workload, FS_WORKLOADS, NET_WORKLOADS, PROC_WORKLOADS, PYTHON, SIMPLE_SYSCALLS, TREE,
    VOLUME_WORKLOADS,
};

/// The parts `--only` can pick.
const PARTS: [&str; 7] = ["a", "b", "c", "d", "e", "f", "g"];

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
            "--only" => {
                let part = value("--only")?;
                if !PARTS.contains(&part.as_str()) {
                    return Err(format!("--only {part:?}: the parts are {}", PARTS.join("|")));
                }
                o.only = Some(part)
            }
            // `cargo bench` passes --bench to every bench target.
            "--bench" => {}
            other => {
                return Err(format!(
                    "unknown argument {other:?} (use --iterations N, --reps R, --scale F, --only a|b|c|d|e|f|g)"
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

/// Time per iteration of a loop program (`prefix` + `prog` + N), as `(t(N) - t(0)) / N`,
/// with `t(0)`.
fn loop_cost(
    prefix: &[String],
    prog: &[String],
    n: u64,
    reps: usize,
) -> Result<(Duration, Duration), RunFailed> {
    let with_count = |count: u64| {
        let mut argv = prefix.to_vec();
        argv.extend_from_slice(prog);
        argv.push(count.to_string());
        argv
    };
    let t0 = median_time(&with_count(0), reps)?;
    let tn = median_time(&with_count(n), reps)?;
    Ok((per_call(tn, t0, n), t0))
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
    if wants("f") {
        part_f(&opts, ours.as_deref(), runc.as_deref(), gvisor.as_deref());
    }
    if wants("g") {
        part_g(ours.as_deref(), gvisor.as_deref());
    }
    let wants_any = |parts: &[&str]| parts.iter().any(|p| wants(p));
    if !wants_any(&["c", "d", "e"]) {
        return;
    }
    let mut sandboxes = vec![Sandbox::Native];
    match &ours {
        Some(r) => {
            sandboxes.push(Sandbox::Ours(r.clone(), "ptrace"));
            sandboxes.push(Sandbox::Ours(r.clone(), "systrap"));
        }
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
        let shell_loop = Row {
            what: "sh loop of fork+exec(/bin/true), per iteration",
            command: shell_loop_command(),
            n: 200,
            bytes_per_op: None,
        };
        rows(&opts, &sandboxes, &shell_loop);
        end_to_end_rows(
            &opts,
            &sandboxes,
            &format!("{PYTHON} -c pass, end to end"),
            &strs(&[PYTHON, "-c", "pass"]),
        );
    }
    if wants("d") {
        println!();
        println!("(d) filesystem, per operation ((t(N) - t(0)) / N)");
        for w in &FS_WORKLOADS {
            rows(&opts, &sandboxes, &Row::of(w));
        }
        tar_rows(&opts, &sandboxes);
        let count = ((2_000.0 * opts.scale) as usize).max(1);
        match SmallFiles::new(count) {
            Ok(files) => end_to_end_rows(
                &opts,
                &sandboxes,
                &format!("tar cf - DIR | wc -c of {count} files of 100 bytes, end to end"),
                &files.tar_command(),
            ),
            Err(e) => println!("  small files: {e}"),
        }
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

/// `cmd` end to end (sandbox start-up included) under every sandbox.
fn end_to_end_rows(opts: &Options, sandboxes: &[Sandbox], what: &str, cmd: &[String]) {
    println!("  {what}");
    for sb in sandboxes {
        println!(
            "    {:<22} {}",
            sb.label(),
            show_time(&sb.time(cmd, opts.reps))
        );
    }
}

/// (a): one trapped syscall (getppid), then the simple calls of `sysloop`.
fn part_a(opts: &Options, ours: Option<&Path>, gvisor: Option<&Path>) {
    let getppid = vec![getppid_loop().to_string_lossy().into_owned()];
    let title = format!("getppid round trip, N = {}", opts.iterations);
    time_loop_everywhere(opts, ours, gvisor, &title, &getppid);
    let prog = sysloop().to_string_lossy().into_owned();
    for (kind, label) in SIMPLE_SYSCALLS {
        let title = format!("{label}, N = {}", opts.iterations);
        time_loop_everywhere(opts, ours, gvisor, &title, &[prog.clone(), kind.into()]);
    }
}

/// One (a) block: the loop `prog` natively, under our runsc and under gVisor's.
fn time_loop_everywhere(
    opts: &Options,
    ours: Option<&Path>,
    gvisor: Option<&Path>,
    title: &str,
    prog: &[String],
) {
    println!();
    println!("(a) {title}");
    let native = loop_cost(&[], prog, opts.iterations, opts.reps);
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
    for platform in ["ptrace", "systrap"] {
        let label = format!("runsc do ({platform})");
        match ours {
            Some(r) => {
                let prefix = vec![
                    r.to_string_lossy().into_owned(),
                    format!("--platform={platform}"),
                    "do".into(),
                    "--".into(),
                ];
                show(
                    &label,
                    &loop_cost(&prefix, prog, opts.iterations, opts.reps),
                    native_per,
                );
            }
            None => println!("    {label:<22} not built (cargo build --release -p runsc)"),
        }
    }
    match gvisor {
        Some(g) => {
            let mut prefix = gvisor_do(g);
            prefix.push("--".into());
            show(
                "gVisor runsc do",
                &loop_cost(&prefix, prog, opts.iterations, opts.reps),
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
        Some(runc) => match MinimalBundle::new(&getppid_loop(), "bundle") {
            Ok(bundle) => {
                let argv = vec![
                    runc.to_string_lossy().into_owned(),
                    "run".into(),
                    "--bundle".into(),
                    bundle.dir.to_string_lossy().into_owned(),
                    format!("runsc-bench-{}", std::process::id()),
                ];
                println!(
                    "    {:<22} {}",
                    "runc run (static true)",
                    show_time(&median_time(&argv, opts.reps))
                );
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

/// (f): create, start and delete timed one by one, and `run` end to end, through each OCI
/// runtime's command line, of a bundle whose read-only root holds a static `/true`.
fn part_f(opts: &Options, ours: Option<&Path>, runc: Option<&Path>, gvisor: Option<&Path>) {
    println!();
    println!("(f) container lifecycle through the OCI command line (root: a static /true),");
    println!("    median of {} each", opts.reps);
    let bundle = match MinimalBundle::new(&getppid_loop(), "lifecycle") {
        Ok(b) => b,
        Err(e) => {
            println!("    bundle: {e}");
            return;
        }
    };
    let state = std::env::temp_dir().join(format!("runsc-bench-state-{}", std::process::id()));
    let mut runtimes = Vec::new();
    match ours {
        Some(r) => runtimes.push(Runtime::ours(r, &state.join("ours"))),
        None => println!("    this runsc: not built (cargo build --release -p runsc)"),
    }
    match runc {
        Some(r) => runtimes.push(Runtime::runc(r, &state.join("runc"))),
        None => println!("    runc: not installed"),
    }
    match gvisor {
        Some(g) => runtimes.push(Runtime::gvisor(g, &state.join("gvisor"))),
        None => println!("    gVisor runsc: not installed"),
    }
    println!(
        "    {:<22} {:>10} {:>10} {:>10} {:>12}",
        "runtime", "create", "start", "delete", "run /true"
    );
    let ms = |d: Option<Duration>| {
        d.map(|d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
            .unwrap_or_default()
    };
    for rt in &runtimes {
        let mut phases: [Vec<Duration>; 3] = Default::default();
        let mut runs = Vec::new();
        let mut failed = None;
        for i in 0..opts.reps.max(1) {
            let id = format!("bench-{}-{i}", std::process::id());
            match rt.lifecycle(&bundle.dir, &id) {
                Ok(times) => {
                    for (v, t) in phases.iter_mut().zip(times) {
                        v.push(t);
                    }
                }
                Err(RunFailed(why)) => {
                    failed = Some(format!("create/start/delete: {why}"));
                    break;
                }
            }
            match rt.run(&bundle.dir, &format!("{id}-run")) {
                Ok(t) => runs.push(t),
                Err(RunFailed(why)) => {
                    failed = Some(format!("run: {why}"));
                    break;
                }
            }
        }
        let [c, s, d] = phases;
        println!(
            "    {:<22} {:>10} {:>10} {:>10} {:>12}",
            rt.label,
            ms(median(c)),
            ms(median(s)),
            ms(median(d)),
            ms(median(runs))
        );
        if let Some(why) = failed {
            println!("    {:<22} failed: {why}", "");
        }
    }
    let _ = std::fs::remove_dir_all(&state);
}

/// (g): the idle cost of a sandbox running `sleep 1000`: the resident memory of its host
/// processes and their CPU time over 2 s.
fn part_g(ours: Option<&Path>, gvisor: Option<&Path>) {
    println!();
    println!("(g) idle `sleep 1000`: resident memory of every host process of the sandbox");
    println!("    (descendants of the launching `runsc do`), and their CPU time over 2 s");
    let sleep = strs(&["/bin/sleep", "1000"]);
    let mut ways: Vec<(&str, Vec<String>)> = vec![("native sleep", sleep.clone())];
    match ours {
        Some(r) => {
            for (label, platform) in [
                ("runsc do (ptrace)", "--platform=ptrace"),
                ("runsc do (systrap)", "--platform=systrap"),
            ] {
                let mut v = vec![
                    r.to_string_lossy().into_owned(),
                    platform.into(),
                    "do".into(),
                    "--".into(),
                ];
                v.extend(sleep.iter().cloned());
                ways.push((label, v));
            }
        }
        None => println!("    this runsc: not built (cargo build --release -p runsc)"),
    }
    match gvisor {
        Some(g) => {
            let mut v = gvisor_do(g);
            v.push("--".into());
            v.extend(sleep.iter().cloned());
            ways.push(("gVisor runsc do", v));
        }
        None => println!("    gVisor runsc: not installed"),
    }
    for (label, argv) in ways {
        match measure_idle(&argv, Duration::from_secs(1), Duration::from_secs(2)) {
            Ok(r) => show_idle(label, &r),
            Err(RunFailed(why)) => println!("    {label:<22} failed: {why}"),
        }
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn rss_pss(m: Mem) -> String {
    let pss = m.pss_kib.map(mib).unwrap_or_else(|| "n/a".into());
    format!("RSS {:>9}  PSS {:>9}", mib(m.rss_kib), pss)
}

fn show_idle(label: &str, r: &IdleReport) {
    let u = &r.usage;
    let blank = "";
    if u.processes > 1 {
        println!(
            "    {label:<22} sentry+gofer     {}  (sentry {}, gofer {} RSS)",
            rss_pss(u.sentry_gofer()),
            mib(u.sentry.rss_kib),
            mib(u.gofer.rss_kib)
        );
        println!(
            "    {blank:<22} total, {:>2} procs  {}  ({} stubs {}, launcher {} RSS)",
            u.processes,
            rss_pss(u.total()),
            u.stub_count,
            mib(u.stubs.rss_kib),
            mib(u.launcher.rss_kib)
        );
    } else {
        println!(
            "    {label:<22} total, {:>2} procs  {}",
            u.processes,
            rss_pss(u.total())
        );
    }
    println!(
        "    {blank:<22} idle CPU {:.0} ms over {:.1} s (idle {:.1} s after the start)",
        r.cpu.as_secs_f64() * 1e3,
        r.window.as_secs_f64(),
        r.settled_after.as_secs_f64()
    );
}
