//! Builds the static C programs the side-by-side runner times (`../tests/c/getppid_loop.c`) into
//! `$OUT_DIR`; the runner finds them through the `RUNSC_BENCH_C_DIR` compile-time variable.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let src = manifest.join("../tests/c/getppid_loop.c");
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-env-changed=CC");
    let status = Command::new(&cc)
        .args(["-static", "-O2", "-Wall", "-o"])
        .arg(out.join("getppid_loop"))
        .arg(&src)
        .status()
        .unwrap_or_else(|e| panic!("running {cc} (install build-essential): {e}"));
    assert!(
        status.success(),
        "{cc} -static {} failed: {status}",
        src.display()
    );
    println!("cargo:rustc-env=RUNSC_BENCH_C_DIR={}", out.display());
}
