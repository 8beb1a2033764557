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

/// `runsc features`: what this runtime honours, and nothing it does not (a seccomp
/// `SCMP_ACT_NOTIFY` is refused).
pub fn features() -> i32 {
    crate::cmd::out(&format!("{}\n", pretty(&features_json())));
    0
}

fn features_json() -> Value {
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::container::OCI_VERSION,
        "hooks": [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ],
        "mountOptions": [
            "ro", "rw", "bind", "rbind", "nosuid", "suid", "nodev", "dev", "noexec", "exec",
            "noatime", "nodiratime", "relatime", "strictatime", "private", "rprivate",
            "shared", "rshared", "slave", "rslave", "unbindable", "runbindable", "tmpcopyup"
        ],
        "linux": {
            "namespaces": ["pid", "network", "ipc", "uts", "mount", "cgroup", "user"],
            "capabilities": crate::oci::CAP_NAMES.to_vec(),
            "cgroup": { "v1": true, "v2": false, "systemd": false },
            "seccomp": {
                "enabled": true,
                "actions": [
                    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                    "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                    "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"
                ],
                "operators": [
                    "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                    "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"
                ],
                "archs": ["SCMP_ARCH_X86_64"]
            },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false }
        },
        "annotations": {
            "io.github.runsc.platforms": crate::cli::PLATFORMS.join(","),
            "io.github.runsc.sandbox": "user-space kernel (sentry) with a gofer"
        }
    })
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("invariant: a JSON value always serializes")
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

    #[test]
    fn features_name_the_hooks_capabilities_and_seccomp_we_honour() {
        let f = super::features_json();
        assert_eq!(f["hooks"].as_array().unwrap().len(), 6);
        assert!(f["hooks"].to_string().contains("startContainer"));
        assert_eq!(f["linux"]["capabilities"].as_array().unwrap().len(), 41);
        assert_eq!(f["linux"]["seccomp"]["enabled"], true);
        assert_eq!(f["linux"]["cgroup"]["v1"], true);
        assert!(f["mountOptions"].to_string().contains("\"tmpcopyup\""));
    }
}
