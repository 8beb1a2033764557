//! Builds the C test programs of `c/` as static executables (`cc -static -O2`), plus a static-PIE
//! build of `syscalls_basic.c` and a build of `patch_probe.c` linked at 0x050f0000, into
//! `$OUT_DIR/c/`. Tests find them through the
//! `RUNSC_TEST_C_DIR` compile-time variable. Needs gcc and glibc's static libraries
//! (`apt-get install build-essential`, which brings libc6-dev).

use std::path::{Path, PathBuf};
use std::process::Command;

fn compile(cc: &str, src: &Path, out: &Path, mode: &str) {
    compile_with(cc, src, out, &[mode]);
}

fn compile_with(cc: &str, src: &Path, out: &Path, flags: &[&str]) {
    let mode = flags.join(" ");
    let status = Command::new(cc)
        .args(flags)
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(out)
        .arg(src)
        .status()
        .unwrap_or_else(|e| panic!("running {cc} (install build-essential): {e}"));
    assert!(
        status.success(),
        "{cc} {mode} {} failed ({status}); static linking needs libc6-dev (apt-get install build-essential)",
        src.display()
    );
}

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("c");
    std::fs::create_dir_all(&out).expect("creating $OUT_DIR/c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let src_dir = manifest.join("c");
    println!("cargo:rerun-if-changed={}", src_dir.display());
    println!("cargo:rerun-if-env-changed=CC");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&src_dir)
        .expect("reading tests/c")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    sources.sort();
    for src in &sources {
        println!("cargo:rerun-if-changed={}", src.display());
        let stem = src.file_stem().expect("a .c file has a stem");
        compile(&cc, src, &out.join(stem), "-static");
    }
    compile(
        &cc,
        &src_dir.join("syscalls_basic.c"),
        &out.join("syscalls_basic_pie"),
        "-static-pie",
    );
    // Its first segment where systrap's patch region would be (0x050f0000).
    compile_with(
        &cc,
        &src_dir.join("patch_probe.c"),
        &out.join("patch_probe_low"),
        &["-static", "-Wl,-Ttext-segment=0x50f0000"],
    );
    println!("cargo:rustc-env=RUNSC_TEST_C_DIR={}", out.display());
}
