//! `runsc do --volume HOST:SANDBOX[:ro]`: host directories bound into the sandbox through the
//! gofer. Read-write volumes write through to the host (create, append, rename, unlink,
//! mkdir, chmod); read-only ones refuse writes with EROFS and leave the host untouched; the
//! root around them is still the overlay, whose writes stay in the sandbox. A single host file
//! binds the same way, over a file of the image or a missing one.

use std::fs;

use tests::{unique_tmp_path, Case};

#[test]
fn read_write_volume_writes_reach_the_host() {
    let host = unique_tmp_path("vol-rw");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("old"), "old\n").unwrap();
    fs::write(host.join("gone"), "x").unwrap();
    let script = "cd /data && cat old && echo new > new && echo more >> old && mkdir d && \
                  mv new d/moved && rm gone && chmod 600 old && ls -l old | cut -c1-10 && \
                  ls -R . && echo inside > /etc/written-in-overlay && cat /etc/written-in-overlay";
    let vol = format!("{}:/data", host.display());
    let out = Case::new("sh", ["-c", script]).run_sandboxed_do(&[], &["--volume", &vol]);
    let host_view = (
        fs::read_to_string(host.join("old")).unwrap_or_default(),
        fs::read_to_string(host.join("d/moved")).unwrap_or_default(),
        host.join("gone").exists(),
        fs::metadata(host.join("old"))
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
            .unwrap_or(0),
    );
    let _ = fs::remove_dir_all(&host);
    assert_eq!(out.status, 0, "{}", out.stderr_str());
    assert_eq!(
        out.stdout_str(),
        "old\n-rw-------\n.:\nd\nold\n\n./d:\nmoved\ninside\n"
    );
    assert_eq!(
        host_view,
        ("old\nmore\n".to_string(), "new\n".to_string(), false, 0o600)
    );
    assert!(
        !std::path::Path::new("/etc/written-in-overlay").exists(),
        "an overlay write reached the host"
    );
}

#[test]
fn read_only_volume_refuses_writes() {
    let host = unique_tmp_path("vol-ro");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("f"), "keep\n").unwrap();
    let script = "cat /ro/f; for op in 'echo x > /ro/f' 'echo y > /ro/new' 'rm /ro/f' \
                  'mkdir /ro/d'; do sh -c \"$op\" 2>/dev/null && echo wrote || echo refused; done";
    let vol = format!("{}:/ro:ro", host.display());
    let out = Case::new("sh", ["-c", script]).run_sandboxed_do(&[], &["-v", &vol]);
    let after = fs::read_to_string(host.join("f")).unwrap_or_default();
    let entries = fs::read_dir(&host).unwrap().count();
    let _ = fs::remove_dir_all(&host);
    assert_eq!(out.status, 0, "{}", out.stderr_str());
    assert_eq!(
        out.stdout_str(),
        "keep\nrefused\nrefused\nrefused\nrefused\n"
    );
    assert_eq!((after.as_str(), entries), ("keep\n", 1));
}

#[test]
fn bad_volumes_are_usage_errors() {
    for bad in [
        "/nonexistent-dir-xyz:/data",
        "/tmp:relative",
        "/tmp",
        "/dev/null:/n",
    ] {
        let out = Case::new("true", Vec::<&str>::new()).run_sandboxed_do(&[], &["--volume", bad]);
        assert_eq!(out.status, 125, "{bad}: {}", out.stderr_str());
        assert_eq!(
            out.stderr_str().lines().count(),
            1,
            "{bad}: {}",
            out.stderr_str()
        );
        assert!(
            out.stderr_str().contains("--volume"),
            "{}",
            out.stderr_str()
        );
    }
}

#[test]
fn file_volume_reads_writes_through_and_refuses_when_ro() {
    let host = unique_tmp_path("vol-file");
    fs::create_dir(&host).unwrap();
    let file = host.join("file");
    fs::write(&file, "from the host\n").unwrap();
    let script = "cat /etc/myfile && echo appended >> /etc/myfile && cat /etc/myfile && \
                  ls /etc/myfile/x 2>/dev/null || echo notdir; \
                  cat /etc/ro-file; sh -c 'echo x >> /etc/ro-file' 2>&1; cat /etc/hostname-bound";
    let rw = format!("{}:/etc/myfile", file.display());
    let ro = format!("{}:/etc/ro-file:ro", file.display());
    let over = format!("{}:/etc/hostname-bound:rw", file.display());
    let out = Case::new("sh", ["-c", script])
        .run_sandboxed_do(&[], &["--volume", &rw, "-v", &ro, "-v", &over]);
    let after = fs::read_to_string(&file).unwrap_or_default();
    let _ = fs::remove_dir_all(&host);
    assert_eq!(out.status, 0, "{}", out.stderr_str());
    let stdout = out.stdout_str();
    let lines: Vec<&str> = stdout.lines().collect();
    let both = ["from the host", "appended"];
    assert_eq!(lines.len(), 9, "{stdout}");
    assert_eq!(
        lines[..4],
        ["from the host", both[0], both[1], "notdir"],
        "{stdout}"
    );
    assert_eq!(
        lines[4..6],
        both,
        "the ro mount shows the same file: {stdout}"
    );
    assert!(lines[6].contains("Read-only file system"), "{stdout}");
    assert_eq!(lines[7..], both, "{stdout}");
    assert_eq!(after, "from the host\nappended\n");
}
