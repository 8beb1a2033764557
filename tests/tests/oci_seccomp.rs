//! OCI `linux.seccomp` (runtime-spec `config-linux.md#seccomp`): a profile's rules hold for
//! the container's processes, checked against our `runsc` and against `runc`, the reference,
//! with the same busybox bundle.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use tests::{runsc_bin, unique_tmp_path};

const RUNC: &str = "/usr/sbin/runc";
const BUSYBOX: &str = "/bin/busybox";

/// A busybox bundle running `sh -c SCRIPT` under `profile`.
fn bundle(name: &str, script: &str, profile: Value) -> PathBuf {
    assert!(Path::new(BUSYBOX).is_file(), "{BUSYBOX} is missing");
    let dir = unique_tmp_path(&format!("oci-seccomp-{name}-bundle"));
    let bin = dir.join("rootfs/bin");
    fs::create_dir_all(&bin).unwrap();
    fs::create_dir_all(dir.join("rootfs/tmp")).unwrap();
    fs::copy(BUSYBOX, bin.join("busybox")).unwrap();
    for applet in ["sh", "echo", "mkdir", "grep", "cat", "ls"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    let o = Command::new(runsc_bin())
        .args(["spec", "--bundle"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "runsc spec: {o:?}");
    let path = dir.join("config.json");
    let mut config: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    config["process"]["args"] = json!(["sh", "-c", script]);
    config["process"]["terminal"] = json!(false);
    config["linux"]["seccomp"] = profile;
    fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    dir
}

/// `RUNTIME run --bundle B ID`: the shell status and what the container printed.
fn run(runtime: &Path, name: &str, script: &str, profile: Value) -> (i32, String) {
    let b = bundle(name, script, profile);
    let root = unique_tmp_path(&format!("oci-seccomp-{name}-root"));
    // Unique per run: the tests of this file run in parallel, and the id names the
    // container's cgroup, which two live containers must not share.
    let id = tests::unique_id(&format!("seccomp-{name}-"));
    let o = Command::new(runtime)
        .arg("--root")
        .arg(&root)
        .args(["run", "--bundle"])
        .arg(&b)
        .arg(&id)
        .env_clear()
        .envs(tests::FIXED_ENV.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = fs::remove_dir_all(&b);
    let _ = fs::remove_dir_all(&root);
    let mut out = String::from_utf8_lossy(&o.stdout).into_owned();
    out.push_str(&String::from_utf8_lossy(&o.stderr));
    (tests::shell_status(o.status), out)
}

fn runtimes() -> Vec<(&'static str, PathBuf)> {
    assert!(Path::new(RUNC).is_file(), "{RUNC} is missing");
    vec![("runsc", runsc_bin()), ("runc", PathBuf::from(RUNC))]
}

#[test]
fn errno_rule_denies_mkdir_and_allows_the_rest() {
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NE"}]}
        ]
    });
    let script = "mkdir /tmp/x; echo mkdir=$?; ls /tmp/x 2>/dev/null || echo absent; \
                  grep '^Seccomp:' /proc/self/status; echo done";
    for (name, bin) in runtimes() {
        let (status, out) = run(&bin, name, script, profile.clone());
        assert_eq!(status, 0, "{name}: {out}");
        assert!(
            out.contains("Operation not permitted"),
            "{name}: mkdir not refused: {out}"
        );
        assert!(out.contains("mkdir=1\nabsent\n"), "{name}: {out}");
        assert!(out.contains("Seccomp:\t2\n"), "{name}: {out}");
        assert!(out.contains("done\n"), "{name}: {out}");
    }
}

#[test]
fn errno_ret_chooses_the_errno() {
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
        ]
    });
    for (name, bin) in runtimes() {
        let (status, out) = run(&bin, name, "mkdir /tmp/y; echo mkdir=$?", profile.clone());
        assert_eq!(status, 0, "{name}: {out}");
        assert!(out.contains("Permission denied"), "{name}: {out}");
        assert!(out.contains("mkdir=1\n"), "{name}: {out}");
    }
}
