//! `runsc spec` and `runsc features` (after runc's `spec.go` and `features.go`): a starter
//! config.json, and what this runtime supports, as JSON.

use serde_json::{json, Value};

use crate::cli::SpecArgs;
use crate::cmd::create::EXIT_FAILURE;
use crate::log;

/// `runsc spec [--bundle DIR]`: writes DIR/config.json unless one exists.
pub fn spec(args: &SpecArgs) -> i32 {
    let path = args.bundle.join("config.json");
    if path.exists() {
        log::error(&format!("{} exists: remove it first", path.display()));
        return EXIT_FAILURE;
    }
    let text = serde_json::to_string_pretty(&starter_spec())
        .expect("invariant: a JSON value always serializes");
    match std::fs::write(&path, text + "\n") {
        Ok(()) => 0,
        Err(e) => {
            log::error(&format!("{}: {e}", path.display()));
            EXIT_FAILURE
        }
    }
}

/// The starter spec: `sh` in `rootfs`, as root, with the usual mounts and namespaces.
pub fn starter_spec() -> Value {
    json!({
        "ociVersion": crate::container::OCI_VERSION,
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": "runsc",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] }
        ],
        "linux": {
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }
            ]
        }
    })
}

/// `runsc features`.
pub fn features() -> i32 {
    let v = json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::container::OCI_VERSION,
        "hooks": [],
        "mountOptions": ["ro", "rw", "bind", "rbind", "nosuid", "nodev", "noexec"],
        "linux": {
            "namespaces": ["pid", "network", "ipc", "uts", "mount"],
            "capabilities": [],
            "cgroup": { "v1": false, "v2": false, "systemd": false },
            "seccomp": { "enabled": false },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false }
        },
        "annotations": {
            "io.github.runsc.platforms": crate::cli::PLATFORMS.join(","),
            "io.github.runsc.sandbox": "user-space kernel (sentry) with a gofer"
        }
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&v).expect("invariant: a JSON value always serializes")
    );
    0
}

#[cfg(test)]
mod tests {
    #[test]
    fn starter_spec_is_a_valid_oci_spec() {
        let spec: oci_spec::runtime::Spec =
            serde_json::from_value(super::starter_spec()).expect("parses as an OCI spec");
        assert_eq!(
            spec.process().as_ref().unwrap().args().as_ref().unwrap(),
            &vec!["sh".to_string()]
        );
    }
}
