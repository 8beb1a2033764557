//! The OCI spec's `mounts` made in the order the spec lists them and `linux.devices` in the
//! container's /dev (runtime-spec `config.md` "Mounts": "the runtime MUST mount entries in the
//! listed order"; `config-linux.md` "Devices"; `runtime-linux.md` "Dev symbolic links"). A busybox
//! bundle runs under our `runsc` and under `runc` (the reference); the container prints its
//! mount points from /proc/self/mountinfo and the attributes of its device nodes.

use std::fs;
use std::path::Path;
use std::process::Stdio;

use serde_json::{json, Value};
use tests::oci::{busybox_bundle, runtimes, Runtime};

/// `run --bundle B ID` in the foreground; returns (status, stdout, stderr).
fn run(rt: &Runtime, bundle: &Path, id: &str) -> (i32, String, String) {
    let o = rt
        .command(&["run", "--bundle"])
        .arg(bundle)
        .arg(id)
        .current_dir(bundle)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{} run: {e}", rt.name));
    (
        tests::shell_status(o.status),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The spec's mounts, /sys first and a tmpfs and a read-only bind last, so that the order
/// differs from the sandbox's own.
fn mounts(bundle: &Path) -> Value {
    json!([
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/mnt/late", "type": "tmpfs", "source": "tmpfs",
         "options": ["mode=700"]},
        {"destination": "/mnt/bound", "source": bundle.join("data"),
         "options": ["rbind", "ro"]},
    ])
}

const DESTINATIONS: &[&str] = &[
    "/sys",
    "/proc",
    "/dev",
    "/dev/pts",
    "/dev/mqueue",
    "/mnt/late",
    "/mnt/bound",
];

/// `want` appears in `seen` in order (other entries may lie between).
fn in_order(seen: &[&str], want: &[&str]) -> bool {
    let mut it = seen.iter();
    want.iter().all(|w| it.any(|s| s == w))
}

#[test]
fn mounts_in_spec_order_and_spec_devices() {
    let script = "busybox awk '{print \"mount\", $5}' /proc/self/mountinfo; \
                  busybox stat -c '%n %F %t:%T %a %u:%g' /dev/test1 /dev/test2 /dev/test3; \
                  echo ptmx $(busybox readlink /dev/ptmx); cat /mnt/bound/file; \
                  busybox stat -c '%a' /mnt/late";
    for (i, rt) in runtimes().iter().enumerate() {
        let b = busybox_bundle(&format!("oci-mounts-{}", rt.name), script, |_| {});
        fs::create_dir_all(b.join("data")).unwrap();
        fs::write(b.join("data/file"), "from the host\n").unwrap();
        let path = b.join("config.json");
        let mut config: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        config["mounts"] = mounts(&b);
        config["linux"]["devices"] = json!([
            {"path": "/dev/test1", "type": "c", "major": 240, "minor": 7,
             "fileMode": 0o640, "uid": 7, "gid": 8},
            {"path": "/dev/test2", "type": "b", "major": 241, "minor": 3,
             "fileMode": 0o600, "uid": 0, "gid": 0},
            {"path": "/dev/test3", "type": "p", "major": 0, "minor": 0,
             "fileMode": 0o644, "uid": 0, "gid": 0},
        ]);
        fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        let (status, out, err) = run(rt, &b, &tests::unique_id(&format!("mounts{i}-")));
        let name = rt.name;
        assert_eq!(status, 0, "{name}: {out}{err}");
        let seen: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix("mount "))
            .collect();
        assert!(
            in_order(&seen, DESTINATIONS),
            "{name}: mountinfo lists {seen:?}, not {DESTINATIONS:?} in order"
        );
        let rest: Vec<&str> = out.lines().filter(|l| !l.starts_with("mount ")).collect();
        assert_eq!(
            rest,
            [
                "/dev/test1 character special file f0:7 640 7:8",
                "/dev/test2 block special file f1:3 600 0:0",
                "/dev/test3 fifo 0:0 644 0:0",
                "ptmx pts/ptmx",
                "from the host",
                "700",
            ],
            "{name} (stderr: {err})"
        );
        rt.cleanup();
        let _ = fs::remove_dir_all(&b);
    }
}

/// A spec device the sentry has no driver for opens with ENXIO, never as a host device; one
/// with the numbers of a sentry device is that device.
#[test]
fn spec_devices_open_as_sentry_devices_or_enxio() {
    let rt = runtimes().into_iter().next().unwrap();
    assert_eq!(rt.name, "runsc");
    let script = "cat /dev/nodriver 2>&1; echo x > /dev/mynull && echo null ok; \
                  busybox head -c 4 /dev/myzero | busybox od -An -tx1";
    let b = busybox_bundle("oci-devices-runsc", script, |c| {
        c["linux"]["devices"] = json!([
            {"path": "/dev/nodriver", "type": "c", "major": 10, "minor": 229},
            {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3},
            {"path": "/dev/myzero", "type": "c", "major": 1, "minor": 5},
        ]);
    });
    let (status, out, err) = run(&rt, &b, &tests::unique_id("devices"));
    assert_eq!(status, 0, "{out}{err}");
    assert_eq!(
        out,
        "cat: can't open '/dev/nodriver': No such device or address\nnull ok\n 00 00 00 00\n"
    );
    rt.cleanup();
    let _ = fs::remove_dir_all(&b);
}

/// One line per mount point: mount point, root, per-mount options, type, source, filesystem
/// options (`proc(5)` mountinfo; the optional fields skipped).
const MOUNTINFO_SCRIPT: &str = "busybox awk '{ for (i = 7; $i != \"-\"; i++) {} \
     print \"mi\", $5, $4, $6, $(i+1), $(i+2), $(i+3) }' /proc/self/mountinfo";

/// The mountinfo line (without the leading "mi ") of mount point `at`, the last one there.
fn mountinfo_line<'a>(out: &'a str, at: &str) -> Option<&'a str> {
    out.lines()
        .filter_map(|l| l.strip_prefix("mi "))
        .rfind(|l| l.split(' ').next() == Some(at))
}

/// The spec's sources, options and bind sources as mountinfo shows them (runc's `mountToRootfs`
/// and `mountinfo` in `proc(5)`): a tmpfs shows its spec source, its mount flags (relatime
/// unless strictatime) and its size, inode and mode options as Linux shows them (size in k,
/// the default 1777 mode left out); a bind shows the host path it took as its root.
#[test]
fn spec_sources_options_and_bind_roots_in_mountinfo() {
    let script = format!(
        "{MOUNTINFO_SCRIPT}; \
         busybox dd if=/dev/zero of=/mnt/small/f bs=1k count=2048 2>/dev/null; echo dd $?; \
         busybox stat -c 'small %a' /mnt/small; \
         echo x > /mnt/etc/x 2>/dev/null; echo etc write $?"
    );
    for (i, rt) in runtimes().iter().enumerate() {
        let b = busybox_bundle(&format!("oci-mountinfo-{}", rt.name), &script, |c| {
            let m = c["mounts"].as_array_mut().unwrap();
            m.retain(|m| m["destination"] != "/dev/shm");
            m.push(
                json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
            );
            m.push(
                json!({"destination": "/mnt/small", "type": "tmpfs", "source": "mysrc",
                "options": ["nosuid", "nodev", "strictatime", "size=1m", "nr_inodes=100",
                            "mode=750"]}),
            );
            m.push(json!({"destination": "/mnt/etc", "source": "/etc",
                "options": ["bind", "ro", "nosuid", "nodev"]}));
        });
        let (status, out, err) = run(rt, &b, &tests::unique_id(&format!("mountinfo{i}-")));
        let name = rt.name;
        assert_eq!(status, 0, "{name}: {out}{err}");
        let line =
            |at| mountinfo_line(&out, at).unwrap_or_else(|| panic!("{name}: no {at}: {out}"));
        assert_eq!(
            line("/dev/shm"),
            "/dev/shm / rw,nosuid,nodev,noexec,relatime tmpfs shm rw,size=65536k",
            "{name}"
        );
        assert_eq!(
            line("/mnt/small"),
            "/mnt/small / rw,nosuid,nodev tmpfs mysrc rw,size=1024k,nr_inodes=100,mode=750",
            "{name}"
        );
        // A bind's type and filesystem options are the host filesystem's (ours: 9p).
        let etc: Vec<&str> = line("/mnt/etc").split(' ').take(3).collect();
        assert_eq!(
            etc,
            ["/mnt/etc", "/etc", "ro,nosuid,nodev,relatime"],
            "{name}"
        );
        let rest: Vec<&str> = out.lines().filter(|l| !l.starts_with("mi ")).collect();
        assert_eq!(
            rest,
            ["dd 1", "small 750", "etc write 1"],
            "{name} (stderr: {err})"
        );
        rt.cleanup();
        let _ = fs::remove_dir_all(&b);
    }
}

/// `linux.rootfsPropagation` (runtime-spec `config-linux.md` "Rootfs Mount Propagation"), as
/// runtime-tools' `validateRootfsPropagation` checks it: with a shared root, a bind made after
/// a recursive bind of / shows in the copy; with a private one it does not; nothing in an
/// unbindable root can be bound (EINVAL; busybox mount exits 255). Our runsc only: runc's answer depends on the host's own
/// root (on a host whose / is private, runc's shared and unbindable cases fail).
#[test]
fn root_propagation_from_the_spec() {
    let rt = runtimes().into_iter().next().unwrap();
    assert_eq!(rt.name, "runsc");
    let script = "busybox mkdir /t /m /s && busybox touch /s/f; \
                  busybox mount --rbind / /t; echo rbind $?; \
                  busybox mount --bind /s /m; echo bind $?; \
                  busybox ls /t/m/f 2>/dev/null; \
                  busybox awk '$5 == \"/\" { f = $7; sub(/:[0-9]+$/, \"\", f); print \"root\", f }' \
                  /proc/self/mountinfo";
    for (mode, want) in [
        ("shared", "rbind 0\nbind 0\n/t/m/f\nroot shared\n"),
        ("private", "rbind 0\nbind 0\nroot -\n"),
        ("unbindable", "rbind 255\nbind 255\nroot unbindable\n"),
    ] {
        let b = busybox_bundle(&format!("oci-rootprop-{mode}"), script, |c| {
            c["root"]["readonly"] = json!(false);
            c["linux"]["rootfsPropagation"] = json!(mode);
            for set in ["bounding", "effective", "permitted"] {
                c["process"]["capabilities"][set] = json!(["CAP_SYS_ADMIN"]);
            }
        });
        let (status, out, err) = run(&rt, &b, &tests::unique_id(&format!("rootprop-{mode}-")));
        assert_eq!(out, want, "{mode}: {err}");
        assert_eq!(status, 0, "{mode}: {out}{err}");
        rt.cleanup();
        let _ = fs::remove_dir_all(&b);
    }
}

/// `tmpcopyup` (runc's `doTmpfsCopyUp`, which podman and CRI-O ask for): the tmpfs starts with
/// a copy of the directory it covers in the rootfs (files with their contents, modes and
/// owners, symlinks, subdirectories; the tmpfs root takes the directory's mode), and writes go
/// to the tmpfs, never to the rootfs.
#[test]
fn tmpcopyup_fills_the_tmpfs_from_the_rootfs() {
    use std::os::unix::fs::{chown, symlink, PermissionsExt};
    let script = "cd /srv/conf && busybox find . | busybox sort | while read f; do \
                  busybox stat -c '%n %F %a %u:%g' \"$f\"; done; \
                  cat passwd sub/deep; echo link $(busybox readlink link); \
                  echo changed > passwd && echo new > new && echo wrote; cat passwd new; \
                  busybox awk '$5 == \"/srv/conf\" { print \"fs\", $9 }' /proc/self/mountinfo";
    for (i, rt) in runtimes().iter().enumerate() {
        let b = busybox_bundle(&format!("oci-copyup-{}", rt.name), script, |c| {
            c["mounts"].as_array_mut().unwrap().push(
                json!({"destination": "/srv/conf", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "nodev", "tmpcopyup", "size=1m"]}),
            );
        });
        let conf = b.join("rootfs/srv/conf");
        fs::create_dir_all(conf.join("sub/empty")).unwrap();
        fs::write(conf.join("passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        fs::set_permissions(conf.join("passwd"), fs::Permissions::from_mode(0o640)).unwrap();
        chown(conf.join("passwd"), Some(0), Some(42)).unwrap();
        fs::write(conf.join("sub/deep"), "deep\n").unwrap();
        chown(conf.join("sub/deep"), Some(7), Some(8)).unwrap();
        fs::set_permissions(conf.join("sub"), fs::Permissions::from_mode(0o705)).unwrap();
        chown(conf.join("sub"), Some(5), Some(6)).unwrap();
        symlink("passwd", conf.join("link")).unwrap();
        fs::set_permissions(&conf, fs::Permissions::from_mode(0o750)).unwrap();

        let (status, out, err) = run(rt, &b, &tests::unique_id(&format!("copyup{i}-")));
        let name = rt.name;
        assert_eq!(status, 0, "{name}: {out}{err}");
        assert_eq!(
            out,
            ". directory 750 0:0\n\
             ./link symbolic link 777 0:0\n\
             ./passwd regular file 640 0:42\n\
             ./sub directory 705 5:6\n\
             ./sub/deep regular file 644 7:8\n\
             ./sub/empty directory 755 0:0\n\
             root:x:0:0::/root:/bin/sh\n\
             deep\n\
             link passwd\n\
             wrote\n\
             changed\n\
             new\n\
             fs tmpfs\n",
            "{name} (stderr: {err})"
        );
        // The rootfs is as it was.
        assert_eq!(
            fs::read_to_string(conf.join("passwd")).unwrap(),
            "root:x:0:0::/root:/bin/sh\n",
            "{name}"
        );
        assert!(
            !conf.join("new").exists(),
            "{name}: a write reached the rootfs"
        );
        rt.cleanup();
        let _ = fs::remove_dir_all(&b);
    }
}
