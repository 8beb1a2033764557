//! The OCI spec honoured inside the container (runtime-spec `config.md`, `config-linux.md`):
//! process.rlimits, user.umask, capabilities, noNewPrivileges, oomScoreAdj, hostname,
//! domainname, linux.sysctl, maskedPaths and readonlyPaths. Each scenario runs a busybox
//! bundle with `run` under our `runsc` and under `runc` (the reference) and the container must
//! print the same under both, and what the spec says.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use tests::{runsc_bin, unique_tmp_path};

/// Where Debian's runc lives.
const RUNC: &str = "/usr/sbin/runc";

/// One OCI runtime under test, with a state root of its own.
struct Runtime {
    name: &'static str,
    bin: PathBuf,
    root: PathBuf,
}

fn runtimes() -> Vec<Runtime> {
    assert!(
        Path::new(RUNC).is_file(),
        "{RUNC} is missing: `apt-get install runc` (.ci/run does)"
    );
    let mk = |name: &'static str, bin: PathBuf| Runtime {
        name,
        bin,
        root: unique_tmp_path(&format!("oci-spec-{name}-root")),
    };
    vec![mk("runsc", runsc_bin()), mk("runc", PathBuf::from(RUNC))]
}

/// What `run` printed and how it ended.
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Runtime {
    /// `run --bundle B ID` in the foreground, as `docker run` without a terminal does.
    fn run(&self, bundle: &Path, id: &str) -> Run {
        let o = Command::new(&self.bin)
            .arg("--root")
            .arg(&self.root)
            .args(["run", "--bundle"])
            .arg(bundle)
            .arg(id)
            .current_dir(bundle)
            .env_clear()
            .envs(tests::FIXED_ENV.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{} run: {e}", self.name));
        Run {
            status: tests::shell_status(o.status),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    fn cleanup(&self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// A bundle whose rootfs holds busybox and its applets, running `sh -c SCRIPT`, with `edit`
/// applied to the starter spec of our own `runsc spec` (which runc accepts too).
fn bundle(rt: &Runtime, script: &str, edit: impl Fn(&mut Value)) -> PathBuf {
    tests::oci::busybox_bundle(&format!("oci-spec-{}", rt.name), script, edit)
}

/// Runs the same bundle under both runtimes; returns (runtime name, result) pairs.
fn run_both(
    script: &str,
    prepare: impl Fn(&Path),
    edit: impl Fn(&mut Value),
) -> Vec<(String, Run)> {
    let mut out = Vec::new();
    for (i, rt) in runtimes().into_iter().enumerate() {
        let b = bundle(&rt, script, &edit);
        prepare(&b.join("rootfs"));
        let r = rt.run(&b, &tests::unique_id(&format!("spec{i}-")));
        out.push((rt.name.to_string(), r));
        rt.cleanup();
        let _ = fs::remove_dir_all(&b);
    }
    out
}

/// Both runtimes exited 0 and printed `want`.
fn assert_both_print(results: &[(String, Run)], want: &str) {
    for (name, r) in results {
        assert_eq!(r.status, 0, "{name}: {}{}", r.stdout, r.stderr);
        assert_eq!(r.stdout, want, "{name} (stderr: {})", r.stderr);
    }
}

/// Docker's default capability set.
const DOCKER_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

#[test]
fn rlimits_umask_capabilities_no_new_privs_and_oom_score_adj() {
    let script = "ulimit -n; ulimit -Hn; ulimit -c; ulimit -Hc; umask; \
                  grep -E '^(Cap|NoNewPrivs)' /proc/self/status; cat /proc/self/oom_score_adj; \
                  echo 7 > /proc/self/oom_score_adj; read adj < /proc/self/oom_score_adj; \
                  echo $adj";
    let results = run_both(
        script,
        |_| {},
        |c| {
            c["process"]["rlimits"] = json!([
                {"type": "RLIMIT_NOFILE", "soft": 256, "hard": 512},
                {"type": "RLIMIT_CORE", "soft": 1024, "hard": 4096},
            ]);
            c["process"]["user"]["umask"] = json!(0o027);
            c["process"]["noNewPrivileges"] = json!(true);
            c["process"]["oomScoreAdj"] = json!(123);
            c["process"]["capabilities"] = json!({
                "bounding": DOCKER_CAPS,
                "effective": DOCKER_CAPS,
                "permitted": DOCKER_CAPS,
            });
        },
    );
    // Docker's set: bits 0-8, 10, 13, 18, 27, 29, 31.
    let caps = "00000000a80425fb";
    let want = format!(
        "256\n512\n2\n8\n0027\nCapInh:\t0000000000000000\nCapPrm:\t{caps}\nCapEff:\t{caps}\n\
         CapBnd:\t{caps}\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n123\n7\n"
    );
    assert_both_print(&results, &want);
}

#[test]
fn no_capabilities_in_the_spec_means_none() {
    let results = run_both(
        "grep -E '^Cap(Eff|Bnd)' /proc/self/status",
        |_| {},
        |c| {
            c["process"].as_object_mut().unwrap().remove("capabilities");
        },
    );
    assert_both_print(
        &results,
        "CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n",
    );
}

#[test]
fn masked_and_readonly_paths() {
    let script = "echo \"[$(cat /etc/secret)]\"; ls /secret; touch /secret/x 2>&1; \
                  cat /data/file; touch /data/x 2>&1; touch /free 2>&1 && echo free; \
                  echo x > /proc/sys/kernel/hostname; echo $?";
    let results = run_both(
        script,
        |rootfs| {
            fs::create_dir_all(rootfs.join("etc")).unwrap();
            fs::write(rootfs.join("etc/secret"), "top secret\n").unwrap();
            fs::create_dir_all(rootfs.join("secret")).unwrap();
            fs::write(rootfs.join("secret/file"), "hidden\n").unwrap();
            fs::create_dir_all(rootfs.join("data")).unwrap();
            fs::write(rootfs.join("data/file"), "data\n").unwrap();
        },
        |c| {
            c["root"]["readonly"] = json!(false);
            c["linux"]["maskedPaths"] = json!(["/etc/secret", "/secret", "/no/such/path"]);
            c["linux"]["readonlyPaths"] = json!(["/data", "/proc/sys", "/no/such/dir"]);
        },
    );
    for (name, r) in &results {
        assert_eq!(r.status, 0, "{name}: {}{}", r.stdout, r.stderr);
    }
    let want = "[]\ntouch: /secret/x: Read-only file system\ndata\n\
                touch: /data/x: Read-only file system\nfree\n1\n";
    assert_both_print(&results, want);
}

#[test]
fn hostname_domainname_and_sysctl() {
    let script = "hostname; cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname \
                  /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmni";
    let results = run_both(
        script,
        |_| {},
        |c| {
            // runc 1.1 ignores the `domainname` field (1.2 applies it): the sysctl sets it.
            c["hostname"] = json!("box");
            c["linux"]["sysctl"] = json!({
                "kernel.domainname": "example.org",
                "net.ipv4.ip_unprivileged_port_start": "80",
                "kernel.shmmni": "2048",
            });
        },
    );
    assert_both_print(&results, "box\nbox\nexample.org\n80\n2048\n");
}

#[test]
fn sysctls_runc_refuses_are_refused() {
    for sysctl in [
        json!({"kernel.pid_max": "4096"}),
        json!({"net.ipv4.no_such_key": "1"}),
    ] {
        let results = run_both(
            "echo ran",
            |_| {},
            |c| c["linux"]["sysctl"] = sysctl.clone(),
        );
        for (name, r) in &results {
            assert_ne!(r.status, 0, "{name} accepted {sysctl}: {}", r.stdout);
            assert_eq!(r.stdout, "", "{name}");
        }
    }
}
