//! Builds the static C programs the side-by-side runner times (`../tests/c/getppid_loop.c`,
//! `c/sysloop.c`, `c/procbench.c`, `c/fsbench.c` and `c/netbench.c`) into `$OUT_DIR`; the runner finds them through the `RUNSC_BENCH_C_DIR`
//! compile-time variable.

use std::path::{Path, PathBuf};
use std::process::Command;

fn compile(cc: &str, src: &Path, out: &Path, extra: &[&str]) {
    println!("cargo:rerun-if-changed={}", src.display());
    let status = Command::new(cc)
        .args(["-static", "-O2", "-Wall", "-o"])
        .arg(out)
        .arg(src)
        .args(extra)
        .status()
        .unwrap_or_else(|e| panic!("running {cc} (install build-essential): {e}"));
    assert!(
        status.success(),
        "{cc} -static {} failed: {status}",
        src.display()
    );
}

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    println!("cargo:rerun-if-env-changed=CC");
    compile(
        &cc,
        &manifest.join("../tests/c/getppid_loop.c"),
        &out.join("getppid_loop"),
        &[],
    );
    compile(
        &cc,
        &manifest.join("c/sysloop.c"),
        &out.join("sysloop"),
        &[],
    );
    compile(
        &cc,
        &manifest.join("c/procbench.c"),
        &out.join("procbench"),
        &["-pthread"],
    );
    compile(
        &cc,
        &manifest.join("c/fsbench.c"),
        &out.join("fsbench"),
        &[],
    );
    compile(
        &cc,
        &manifest.join("c/netbench.c"),
        &out.join("netbench"),
        &["-pthread"],
    );
    println!("cargo:rustc-env=RUNSC_BENCH_C_DIR={}", out.display());
}
