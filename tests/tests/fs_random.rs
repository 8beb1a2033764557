//! The randomized file-operation test of issue 4 (`tests/c/fs_random.c`): seeded sequences of
//! creates, writes, truncates, renames, links, symlinks, chmods, mkdirs, rmdirs and unlinks,
//! each result and the whole tree compared with a native run. Once in the sandbox's /tmp
//! (tmpfs) and once in its root (the overlay over a gofer-served tree, which must stay as it was).

use std::path::Path;
use std::process::{Command, Stdio};

use tests::{c_prog, runsc_bin, unique_tmp_path, Case};

const OPS: &str = "300";

#[test]
fn random_file_operations_in_tmp_match_native() {
    for seed in ["1", "11", "16", "22", "28"] {
        let dir = unique_tmp_path("fs-random");
        let dir = dir.to_str().unwrap();
        let (native, _) = Case::new(c_prog("fs_random"), [dir, seed, OPS]).assert_same();
        let _ = std::fs::remove_dir_all(dir);
        assert_eq!(native.status, 0, "{}", native.stderr_str());
        assert!(native.stdout_str().contains("final:\n"));
    }
}

/// The starting tree, under `root/work`.
fn make_lower(root: &Path) {
    std::fs::create_dir_all(root.join("work/lower/sub")).unwrap();
    std::fs::write(root.join("work/lower/x"), "lower x\n").unwrap();
    std::fs::write(root.join("work/lower/y"), "lower y\n".repeat(100)).unwrap();
    std::fs::write(root.join("work/lower/sub/z"), "z").unwrap();
}

fn tree_text(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p.clone());
            }
            let data = if p.is_file() {
                std::fs::read(&p).unwrap()
            } else {
                Vec::new()
            };
            out.push((p.to_string_lossy().into_owned(), data));
        }
    }
    out.sort();
    out
}

#[test]
fn random_file_operations_on_the_overlay_root_match_native_and_leave_the_host_alone() {
    for seed in ["7", "8", "11", "19", "23"] {
        let pristine = unique_tmp_path("fs-random-lower");
        let copy = unique_tmp_path("fs-random-native");
        make_lower(&pristine);
        make_lower(&copy);
        std::fs::copy(c_prog("fs_random"), pristine.join("fs_random")).unwrap();
        let before = tree_text(&pristine);

        let native = tests::run(
            {
                let mut c = Command::new(c_prog("fs_random"));
                c.args([copy.join("work").to_str().unwrap(), seed, OPS])
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                c
            },
            tests::DEFAULT_TIMEOUT,
            "native fs_random",
        );
        let sandboxed = tests::run(
            {
                let mut c = Command::new(runsc_bin());
                c.env_clear()
                    .envs(tests::FIXED_ENV.iter().copied())
                    .current_dir("/")
                    .arg("do")
                    .arg("--rootfs")
                    .arg(&pristine)
                    .args(["--", "/fs_random", "/work", seed, OPS])
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                c
            },
            tests::DEFAULT_TIMEOUT,
            "runsc do --rootfs fs_random",
        );
        let after = tree_text(&pristine);
        let _ = std::fs::remove_dir_all(&pristine);
        let _ = std::fs::remove_dir_all(&copy);
        assert_eq!(native.status, 0, "{}", native.stderr_str());
        assert_eq!(
            sandboxed.stdout_str(),
            native.stdout_str(),
            "seed {seed}: sandboxed (left) differs from native; stderr: {}",
            sandboxed.stderr_str()
        );
        assert_eq!(sandboxed.status, 0);
        assert!(before == after, "seed {seed}: the host's tree changed");
    }
}
