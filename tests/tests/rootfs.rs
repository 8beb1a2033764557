//! `runsc do --rootfs DIR`: a minimal root file system with only a static program in it and no
//! /tmp, /dev or /proc. The sandbox makes its own mount points (synthetic directories, never
//! written to the host), so /dev/null, /tmp and /proc/self/exe all work inside.

use std::process::{Command, Stdio};

use tests::{c_prog, runsc_bin, unique_tmp_path};

#[test]
fn minimal_rootfs_gets_tmp_dev_and_proc() {
    let dir = unique_tmp_path("runsc-rootfs");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(c_prog("rootfs_probe"), dir.join("probe")).unwrap();

    let mut cmd = Command::new(runsc_bin());
    cmd.env_clear()
        .envs(tests::FIXED_ENV.iter().copied())
        .current_dir("/")
        .arg("do")
        .arg("--rootfs")
        .arg(&dir)
        .args(["--", "/probe"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let o = tests::run(
        cmd,
        tests::DEFAULT_TIMEOUT,
        "runsc do --rootfs DIR -- /probe",
    );

    // Nothing was written to the host's copy of the root.
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(
        (o.status, o.stdout_str().as_str()),
        (
            0,
            "/dev/null: ok\n/tmp/probe: probe\n/proc/self/exe: /probe\n\
             / lists: tmp=1 dev=1 proc=1\n"
        ),
        "stderr: {}",
        o.stderr_str()
    );
    assert_eq!(left, vec!["probe".to_string()]);
}
