//! The overlay root (`sentry::fs::overlay`): writes to the sandbox's root file system land in
//! sentry memory and never on the host. The file-change program runs natively on a scratch copy
//! of a tree and sandboxed on the pristine tree (`runsc do --rootfs`); the outputs must match and
//! the pristine tree must be unchanged, byte for byte.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tests::{c_prog, runsc_bin, unique_tmp_path, Outcome};

/// Removes a directory tree on drop.
struct TempTree(PathBuf);

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every entry below `dir`: path, mode, size, mtime, and contents of files and symlinks.
fn snapshot(dir: &Path) -> Vec<(String, u32, u64, i64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let data = if m.file_type().is_symlink() {
                std::fs::read_link(&p)
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else if m.is_file() {
                std::fs::read(&p).unwrap()
            } else {
                todo.push(p.clone());
                Vec::new()
            };
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            out.push((rel, m.mode(), m.size(), m.mtime(), data));
        }
    }
    out.sort();
    out
}

/// The tree `overlay_ops.c` expects.
fn make_tree(root: &Path) {
    for d in ["etc/sub", "usr/share/doc", "usr/bin"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let files: [(&str, &str, u32); 7] = [
        ("etc/hostname", "box\n", 0o644),
        ("etc/hosts", "127.0.0.1 localhost\n", 0o644),
        ("etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644),
        ("etc/sub/x", "x", 0o600),
        ("usr/share/doc/a", "aaaa\n", 0o644),
        ("usr/share/doc/b", "bbbb\n", 0o444),
        ("usr/bin/tool", "#!/bin/sh\n", 0o755),
    ];
    for (p, data, mode) in files {
        std::fs::write(root.join(p), data).unwrap();
        std::fs::set_permissions(root.join(p), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    for d in [
        "etc",
        "etc/sub",
        "usr",
        "usr/share",
        "usr/share/doc",
        "usr/bin",
    ] {
        std::fs::set_permissions(root.join(d), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn runsc_do(rootfs: Option<&Path>, args: &[&str], what: &str) -> Outcome {
    runsc_do_with(&[], rootfs, args, what)
}

fn runsc_do_with(global: &[&str], rootfs: Option<&Path>, args: &[&str], what: &str) -> Outcome {
    let mut cmd = Command::new(runsc_bin());
    cmd.env_clear()
        .envs(tests::FIXED_ENV.iter().copied())
        .current_dir("/")
        .args(global)
        .arg("do");
    if let Some(r) = rootfs {
        cmd.arg("--rootfs").arg(r);
    }
    cmd.arg("--")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    tests::run(cmd, tests::DEFAULT_TIMEOUT, what)
}

#[test]
fn file_changes_match_native_and_never_reach_the_host() {
    let lower = TempTree(unique_tmp_path("overlay-lower"));
    let scratch = TempTree(unique_tmp_path("overlay-native"));
    std::fs::create_dir(&lower.0).unwrap();
    make_tree(&lower.0);
    let st = Command::new("cp")
        .arg("-a")
        .arg(&lower.0)
        .arg(&scratch.0)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::copy(c_prog("overlay_ops"), lower.0.join("overlay_ops")).unwrap();
    let before = snapshot(&lower.0);

    let mut cmd = Command::new(c_prog("overlay_ops"));
    cmd.arg(&scratch.0)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let native = tests::run(cmd, tests::DEFAULT_TIMEOUT, "native overlay_ops");
    let sandboxed = runsc_do(
        Some(&lower.0),
        &["/overlay_ops", "/"],
        "runsc do --rootfs DIR -- /overlay_ops /",
    );
    assert_eq!(
        (native.status, native.stdout_str()),
        (sandboxed.status, sandboxed.stdout_str()),
        "native stderr: {}\nsandboxed stderr: {}",
        native.stderr_str(),
        sandboxed.stderr_str()
    );
    assert_eq!(native.status, 0, "{}", native.stderr_str());
    let out = native.stdout_str();
    for line in [
        "cat etc/hostname: [box\nappended\n]",
        "ino kept: 1 dev kept: 1",
        "rmdir usr/share: ENOTEMPTY",
        "ro fd after mapped write: 5 [MAPb\n]",
        "ro mapping after write: [map]",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
    assert_eq!(
        snapshot(&lower.0),
        before,
        "the sandbox changed the host tree"
    );
}

#[test]
fn shell_writes_to_the_root_stay_in_the_sandbox() {
    let hostname = std::fs::read("/etc/hostname").unwrap_or_default();
    let hosts = std::fs::read("/etc/hosts").unwrap();
    let out = runsc_do(
        None,
        &[
            "/bin/sh",
            "-c",
            "echo hi >> /etc/hostname; cat /etc/hostname; rm /etc/hosts; \
             ls /etc | grep -cx hosts; echo made > /etc/overlay-test-new; \
             cat /etc/overlay-test-new",
        ],
        "runsc do -- /bin/sh -c ...",
    );
    let mut want = hostname.clone();
    want.extend_from_slice(b"hi\n0\nmade\n");
    assert_eq!(
        (out.status, out.stdout_str()),
        (0, String::from_utf8_lossy(&want).into_owned()),
        "stderr: {}",
        out.stderr_str()
    );
    assert_eq!(std::fs::read("/etc/hostname").unwrap_or_default(), hostname);
    assert_eq!(std::fs::read("/etc/hosts").unwrap(), hosts);
    assert!(!Path::new("/etc/overlay-test-new").exists());
}

#[test]
fn lower_directories_move_by_copy_and_rename_is_exdev() {
    // The host's /tmp is not the sandbox's: use /var/tmp, on the root.
    let name = unique_tmp_path("overlay-mv");
    let lower = TempTree(Path::new("/var/tmp").join(name.file_name().unwrap()));
    make_tree(&lower.0);
    let before = snapshot(&lower.0);
    let d = lower.0.display();
    let script = format!(
        "python3 -c 'import os\ntry:\n os.rename(\"{d}/usr/share\", \"{d}/usr/s2\")\n\
         except OSError as e: print(e.strerror)' && \
         mv {d}/usr/share {d}/usr/s2 && ls {d}/usr && ls {d}/usr/s2/doc && cat {d}/usr/s2/doc/b"
    );
    let out = runsc_do(None, &["/bin/sh", "-c", &script], "runsc do -- mv");
    assert_eq!(
        (out.status, out.stdout_str()),
        (
            0,
            "Invalid cross-device link\nbin\ns2\na\nb\nbbbb\n".to_string()
        ),
        "stderr: {}",
        out.stderr_str()
    );
    assert_eq!(snapshot(&lower.0), before);
}

/// What used to be EROFS on the read-only root now succeeds in the overlay, and the host file
/// keeps its mode, owner, times, size and extended attributes.
#[test]
fn attribute_changes_copy_up_and_leave_the_host_file_alone() {
    let before = std::fs::metadata("/etc/hostname").ok();
    let code = "import os\n\
                for f in (lambda: os.chmod('/etc/hostname', 0o600), \
                          lambda: os.chown('/etc/hostname', 1, 1), \
                          lambda: os.utime('/etc/hostname', (1, 1)), \
                          lambda: os.truncate('/etc/hostname', 0), \
                          lambda: os.link('/etc/hostname', '/etc/h2'), \
                          lambda: os.mkfifo('/etc/fifo'), \
                          lambda: os.setxattr('/etc/hostname', 'user.k', b'v')):\n    \
                f(); print('ok')\n\
                s = os.stat('/etc/hostname')\n\
                print(oct(s.st_mode), s.st_uid, s.st_atime, s.st_size, s.st_nlink, \
                os.getxattr('/etc/h2', 'user.k'))\n";
    let out = runsc_do(None, &["python3", "-c", code], "runsc do -- python3");
    assert_eq!(
        (out.status, out.stdout_str()),
        (
            0,
            "ok\nok\nok\nok\nok\nok\nok\n0o100600 1 1.0 0 2 b'v'\n".to_string()
        ),
        "stderr: {}",
        out.stderr_str()
    );
    let after = std::fs::metadata("/etc/hostname").ok();
    assert_eq!(
        before.map(|m| (m.mode(), m.uid(), m.mtime(), m.size(), m.nlink())),
        after.map(|m| (m.mode(), m.uid(), m.mtime(), m.size(), m.nlink()))
    );
    assert!(!Path::new("/etc/h2").exists() && !Path::new("/etc/fifo").exists());
}

#[test]
fn without_the_overlay_changes_reach_the_host_as_natively() {
    // `--overlay=none`: the gofer writes through, so the program's changes to a copy of the
    // tree must leave it as the same program run natively leaves another copy.
    let native_tree = TempTree(unique_tmp_path("overlay-none-native"));
    let sandbox_tree = TempTree(unique_tmp_path("overlay-none-sandbox"));
    std::fs::create_dir(&native_tree.0).unwrap();
    make_tree(&native_tree.0);
    let st = Command::new("cp")
        .arg("-a")
        .arg(&native_tree.0)
        .arg(&sandbox_tree.0)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::copy(c_prog("overlay_ops"), sandbox_tree.0.join("overlay_ops")).unwrap();
    let mut cmd = Command::new(c_prog("overlay_ops"));
    cmd.arg(&native_tree.0)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let native = tests::run(cmd, tests::DEFAULT_TIMEOUT, "native overlay_ops");
    let sandboxed = runsc_do_with(
        &["--overlay=none"],
        Some(&sandbox_tree.0),
        &["/overlay_ops", "/"],
        "runsc --overlay=none do --rootfs DIR -- /overlay_ops /",
    );
    assert_eq!(native.status, 0, "{}", native.stderr_str());
    assert_eq!(
        (native.status, native.stdout_str()),
        (sandboxed.status, sandboxed.stdout_str()),
        "sandboxed stderr: {}",
        sandboxed.stderr_str()
    );
    // The trees match but for times (and the program's own copy).
    let strip = |v: Vec<(String, u32, u64, i64, Vec<u8>)>| -> Vec<(String, u32, u64, Vec<u8>)> {
        v.into_iter()
            .filter(|e| e.0 != "overlay_ops")
            .map(|(p, m, s, _, d)| (p, m, s, d))
            .collect()
    };
    assert_eq!(
        strip(snapshot(&sandbox_tree.0)),
        strip(snapshot(&native_tree.0))
    );
}

#[test]
fn unknown_overlay_medium_is_refused() {
    let out = runsc_do_with(&["--overlay=disk"], None, &["/bin/true"], "--overlay=disk");
    assert_ne!(out.status, 0);
    assert!(
        out.stderr_str().contains("--overlay"),
        "{}",
        out.stderr_str()
    );
}
