//! Syscall patching on the seccomp-trap platform, end to end through `runsc do`: a libc
//! wrapper's `mov $nr, %eax; syscall`, or glibc's `syscall(3)`, that keeps trapping becomes a
//! jump into the stub's fast path (`sentry/src/platform/systrap/patch.rs`), keeps giving the
//! right answers, and stays as it was with `RUNSC_SYSTRAP_PATCH=0` and on ptrace.

use std::process::{Command, Stdio};
use std::time::Duration;

use tests::{c_prog, run, runsc_bin};

fn probe(platform: &str, patch: Option<&str>) -> String {
    probe_named("patch_probe", platform, patch)
}

fn probe_named(name: &str, platform: &str, patch: Option<&str>) -> String {
    let mut cmd = Command::new(runsc_bin());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .arg(format!("--platform={platform}"))
        .arg("do")
        .arg("--")
        .arg(c_prog(name));
    if let Some(value) = patch {
        cmd.env("RUNSC_SYSTRAP_PATCH", value);
    } else {
        cmd.env_remove("RUNSC_SYSTRAP_PATCH");
    }
    let out = run(cmd, Duration::from_secs(60), name);
    assert_eq!(out.status, 0, "{}", out.stderr_str());
    out.stdout_str()
}

#[test]
fn a_hot_libc_syscall_site_is_patched_on_systrap_and_keeps_its_answers() {
    let patched = probe("systrap", None);
    assert!(
        patched.starts_with("ff 24 25 ") && patched.contains(" 0f 05\n"),
        "{patched}"
    );
    assert!(patched.ends_with("same answer: yes\n"), "{patched}");
}

#[test]
fn glibc_syscall3_is_patched_on_systrap_and_keeps_its_answers() {
    let patched = probe_named("patch_probe_syscall", "systrap", None);
    assert!(
        patched.starts_with("ff 24 25 ") && patched.contains(" 0f 05\n"),
        "{patched}"
    );
    assert!(patched.ends_with("same answer: yes\n"), "{patched}");
    let plain = "4c 8b 4c 24 08 0f 05\nsame answer: yes\n";
    assert_eq!(
        probe_named("patch_probe_syscall", "systrap", Some("0")),
        plain
    );
    assert_eq!(probe_named("patch_probe_syscall", "ptrace", None), plain);
}

#[test]
fn the_site_stays_as_it_was_without_patching() {
    let plain = "b8 6e 00 00 00 0f 05\nsame answer: yes\n";
    assert_eq!(probe("systrap", Some("0")), plain);
    assert_eq!(probe("ptrace", None), plain);
}

/// An executable whose first segment lies where the patch region would be runs all the same:
/// the region yields to it, and that process goes unpatched.
#[test]
fn an_executable_over_the_patch_region_runs_unpatched() {
    let plain = "b8 6e 00 00 00 0f 05\nsame answer: yes\n";
    assert_eq!(probe_named("patch_probe_low", "systrap", None), plain);
    assert_eq!(probe_named("patch_probe_low", "ptrace", None), plain);
}
