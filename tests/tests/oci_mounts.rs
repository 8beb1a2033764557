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
        let (status, out, err) = run(rt, &b, &format!("mounts{}-{i}", std::process::id()));
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
    let (status, out, err) = run(&rt, &b, &format!("devices{}", std::process::id()));
    assert_eq!(status, 0, "{out}{err}");
    assert_eq!(
        out,
        "cat: can't open '/dev/nodriver': No such device or address\nnull ok\n 00 00 00 00\n"
    );
    rt.cleanup();
    let _ = fs::remove_dir_all(&b);
}
