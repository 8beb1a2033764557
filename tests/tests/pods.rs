//! Kubernetes pods: the runtime driven as containerd's CRI plugin drives it. The pause
//! ("sandbox") container is created and started first; app containers whose annotations name
//! it as their sandbox run in its sentry (one kernel: shared PID, IPC and network namespaces)
//! with their own root, process, pid file and lifecycle (`runsc/src/container/pod.rs`).

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::json;
use tests::oci::{become_subreaper, bundle, reap, wait_for_ready, Runtime};
use tests::{c_prog, runsc_bin, unique_tmp_path};

const CONTAINER_TYPE: &str = "io.kubernetes.cri.container-type";
const SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";

fn runtime() -> Runtime {
    become_subreaper();
    let root = unique_tmp_path("pods-root");
    Runtime {
        name: "runsc",
        bin: runsc_bin(),
        log: root.with_extension("log.json"),
        root,
    }
}

/// A busybox bundle running `script`, with the CRI annotations of a pod member, a marker file
/// `/<marker>` only its rootfs has, and the shm test program.
fn pod_bundle(rt: &Runtime, script: &str, kind: &str, sandbox_id: &str, marker: &str) -> PathBuf {
    let dir = bundle(rt, script);
    let rootfs = dir.join("rootfs");
    for applet in ["ps", "nc", "test"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    fs::copy(c_prog("pod_shm"), rootfs.join("bin/pod_shm")).unwrap();
    fs::write(rootfs.join(marker), format!("{marker} file\n")).unwrap();
    let path = dir.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    config["annotations"] = json!({
        CONTAINER_TYPE: kind,
        SANDBOX_ID: sandbox_id,
        "io.kubernetes.cri.sandbox-name": "pod",
    });
    fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    dir
}

fn out(bundle: &Path) -> String {
    fs::read_to_string(bundle.join("out")).unwrap_or_default()
}

#[test]
fn app_containers_share_the_pause_containers_kernel_with_roots_of_their_own() {
    let rt = runtime();
    let pause = pod_bundle(
        &rt,
        "pod_shm create && (echo hello-over-tcp | nc -l -p 8123 &) ; echo ready; exec sleep 1000",
        "sandbox",
        "pause",
        "pause-only",
    );
    let pause_pid = rt.create(&pause, "pause");
    assert_eq!(rt.short(&["start", "pause"]).status, 0);
    wait_for_ready(&pause);

    // An app container: its own root, the sandbox's processes, IPC and network.
    let app = pod_bundle(
        &rt,
        "cat /app-only; test -e /pause-only || echo no-pause-file; cat /data/host-file; \
         touch /data/x 2>/dev/null || echo read-only; pod_shm read; \
         for i in 1 2 3 4 5 6 7 8 9 10; do nc 127.0.0.1 8123 </dev/null && break; sleep 0.2; done; \
         ps -o args | grep -cx 'sleep 1000'; exit 42",
        "container",
        "pause",
        "app-only",
    );
    // A read-only bind mount of a host directory, as the CRI's /etc/hosts and secrets are.
    let host_dir = app.join("host");
    fs::create_dir(&host_dir).unwrap();
    fs::write(host_dir.join("host-file"), "from the host\n").unwrap();
    let config = app.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&fs::read(&config).unwrap()).unwrap();
    spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/data",
        "type": "bind",
        "source": host_dir,
        "options": ["rbind", "ro"],
    }));
    // The namespaces of the pause container's pid, by path, as the CRI gives them.
    spec["linux"]["namespaces"] = json!(["pid", "ipc", "uts", "network", "mount"]
        .iter()
        .map(|t| {
            let proc_name = if *t == "network" { "net" } else { t };
            if *t == "mount" {
                json!({ "type": t })
            } else {
                json!({ "type": t, "path": format!("/proc/{pause_pid}/ns/{proc_name}") })
            }
        })
        .collect::<Vec<_>>());
    fs::write(&config, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    let app_pid = rt.create(&app, "app");
    assert_ne!(
        app_pid, pause_pid,
        "the app's pid file names its own holder"
    );
    assert_eq!(rt.status("app"), "created");
    assert_eq!(rt.state("pause")["status"], "running");
    let sandbox_state: serde_json::Value =
        serde_json::from_slice(&fs::read(rt.root.join("pause/state.json")).unwrap()).unwrap();
    assert_eq!(sandbox_state["runsc"]["members"], json!(["app"]));
    assert!(
        out(&app).is_empty(),
        "nothing runs before start: {}",
        out(&app)
    );
    assert_eq!(rt.short(&["start", "app"]).status, 0);
    assert_eq!(
        reap(app_pid),
        42,
        "the status arrives through the pid-file holder"
    );
    assert_eq!(
        out(&app),
        "app-only file\nno-pause-file\nfrom the host\nread-only\nshm: shared by the pod\n\
         hello-over-tcp\n1\n"
    );
    assert_eq!(rt.status("app"), "stopped");
    assert_eq!(rt.short(&["delete", "app"]).status, 0);
    assert!(!rt.root.join("app").exists());
    assert_eq!(
        rt.status("pause"),
        "running",
        "the pause container lives on"
    );

    // A long-running app container: seen by the pause container, exec'd into in its own root,
    // killed and deleted without the pod.
    let app2 = pod_bundle(&rt, "exec sleep 777", "container", "pause", "app2-only");
    let app2_pid = rt.create(&app2, "app2");
    assert_eq!(rt.short(&["start", "app2"]).status, 0);
    assert_eq!(rt.status("app2"), "running");
    assert_eq!(rt.state("app2")["pid"], json!(app2_pid));
    let ps = rt.short(&["exec", "pause", "ps", "-o", "args"]);
    assert_eq!(ps.status, 0, "{}", ps.stderr);
    assert!(ps.stdout.contains("sleep 777"), "{}", ps.stdout);
    let cat = rt.short(&["exec", "app2", "cat", "/app2-only"]);
    assert_eq!((cat.status, cat.stdout.as_str()), (0, "app2-only file\n"));
    assert_eq!(rt.short(&["kill", "app2", "TERM"]).status, 0);
    assert_eq!(reap(app2_pid), 143);
    assert_eq!(rt.short(&["delete", "app2"]).status, 0);
    assert_eq!(rt.status("pause"), "running");

    // Deleting the sandbox container ends the pod, members included.
    let app3 = pod_bundle(&rt, "exec sleep 555", "container", "pause", "app3-only");
    let app3_pid = rt.create(&app3, "app3");
    assert_eq!(rt.short(&["start", "app3"]).status, 0);
    let del = rt.short(&["delete", "--force", "pause"]);
    assert_eq!(del.status, 0, "{}", del.stderr);
    assert_eq!(reap(pause_pid), 137);
    assert_eq!(reap(app3_pid), 137);
    let left: Vec<_> = fs::read_dir(&rt.root)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    rt.cleanup();
}

#[test]
fn a_created_app_container_can_be_killed_or_deleted_and_a_stray_one_gets_its_own_sandbox() {
    let rt = runtime();
    let pause = pod_bundle(&rt, "echo ready; exec sleep 1000", "sandbox", "p2", "p");
    let pause_pid = rt.create(&pause, "p2");
    assert_eq!(rt.short(&["start", "p2"]).status, 0);
    wait_for_ready(&pause);

    let a = pod_bundle(&rt, "echo never", "container", "p2", "a");
    let a_pid = rt.create(&a, "a");
    assert_eq!(rt.short(&["kill", "a", "KILL"]).status, 0);
    assert_eq!(reap(a_pid), 137);
    assert_eq!(rt.short(&["delete", "a"]).status, 0);

    let b = pod_bundle(&rt, "echo never", "container", "p2", "b");
    let b_pid = rt.create(&b, "b");
    assert_eq!(
        rt.short(&["delete", "b"]).status,
        0,
        "created: no --force needed"
    );
    assert_eq!(reap(b_pid), 137);
    assert!(out(&a).is_empty() && out(&b).is_empty());

    // Naming a sandbox that does not exist: a sandbox of its own, as before.
    let c = pod_bundle(&rt, "echo alone; exit 3", "container", "nosuch", "c");
    let c_pid = rt.create(&c, "c");
    assert_eq!(rt.short(&["start", "c"]).status, 0);
    assert_eq!(reap(c_pid), 3);
    assert_eq!(out(&c), "alone\n");
    assert_eq!(rt.short(&["delete", "c"]).status, 0);

    assert_eq!(rt.short(&["delete", "--force", "p2"]).status, 0);
    assert_eq!(reap(pause_pid), 137);
    rt.cleanup();
}

#[test]
fn an_app_container_gets_its_own_process_settings_and_seccomp_not_the_sandboxs() {
    let rt = runtime();
    let pause = pod_bundle(&rt, "echo ready; exec sleep 1000", "sandbox", "p3", "p");
    for applet in ["id", "mkdir"] {
        std::os::unix::fs::symlink("busybox", pause.join("rootfs/bin").join(applet)).unwrap();
    }
    let pause_pid = rt.create(&pause, "p3");
    assert_eq!(rt.short(&["start", "p3"]).status, 0);
    wait_for_ready(&pause);

    let app = pod_bundle(
        &rt,
        "ulimit -n; id -u; id -G; umask; grep CapBnd /proc/$$/status; \
         grep NoNewPrivs /proc/self/status; \
         cat /proc/$$/oom_score_adj; mkdir /tmp/d 2>/dev/null || echo mkdir-denied",
        "container",
        "p3",
        "a",
    );
    for applet in ["id", "mkdir"] {
        std::os::unix::fs::symlink("busybox", app.join("rootfs/bin").join(applet)).unwrap();
    }
    let config = app.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&fs::read(&config).unwrap()).unwrap();
    spec["process"]["rlimits"] = json!([{ "type": "RLIMIT_NOFILE", "soft": 100, "hard": 200 }]);
    spec["process"]["user"] =
        json!({ "uid": 1000, "gid": 1000, "additionalGids": [5], "umask": 63 });
    spec["process"]["noNewPrivileges"] = json!(false);
    spec["process"]["oomScoreAdj"] = json!(7);
    let kill_only = json!(["CAP_KILL"]);
    spec["process"]["capabilities"] = json!({
        "bounding": kill_only, "effective": kill_only, "permitted": kill_only,
    });
    spec["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }],
    });
    fs::write(&config, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    let app_pid = rt.create(&app, "a");
    assert_eq!(rt.short(&["start", "a"]).status, 0);
    assert_eq!(reap(app_pid), 0);
    assert_eq!(
        out(&app),
        "100\n1000\n1000 5\n0077\nCapBnd:\t0000000000000020\nNoNewPrivs:\t0\n7\nmkdir-denied\n"
    );

    // The pause container keeps its own: root, every capability, no_new_privs, mkdir allowed.
    let own = rt.short(&[
        "exec",
        "p3",
        "sh",
        "-c",
        "ulimit -n; id -u; grep CapBnd /proc/1/status; grep NoNewPrivs /proc/self/status; \
         cat /proc/1/oom_score_adj; mkdir /tmp/p && echo made",
    ]);
    assert_eq!(own.status, 0, "{}", own.stderr);
    let lines: Vec<&str> = own.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", own.stdout);
    assert_ne!(lines[0], "100");
    assert_eq!(lines[1], "0");
    assert_ne!(lines[2], "CapBnd:\t0000000000000020");
    assert_eq!(&lines[3..], ["NoNewPrivs:\t1", "0", "made"]);
    assert_eq!(rt.short(&["delete", "a"]).status, 0);
    assert_eq!(rt.short(&["delete", "--force", "p3"]).status, 0);
    assert_eq!(reap(pause_pid), 137);
    rt.cleanup();
}

#[test]
fn an_app_containers_create_hooks_run_with_its_state_and_a_failing_one_undoes_it() {
    let rt = runtime();
    let pause = pod_bundle(&rt, "echo ready; exec sleep 1000", "sandbox", "p4", "p");
    let pause_pid = rt.create(&pause, "p4");
    assert_eq!(rt.short(&["start", "p4"]).status, 0);
    wait_for_ready(&pause);

    let app = pod_bundle(&rt, "echo app-ran", "container", "p4", "h");
    let hook = |script: String| json!({ "path": "/bin/sh", "args": ["sh", "-c", script] });
    let config = app.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&fs::read(&config).unwrap()).unwrap();
    spec["hooks"] = json!({
        "prestart": [hook(format!("cat > {}/prestart.json", app.display()))],
        "createRuntime": [hook(format!("echo runtime > {}/runtime", app.display()))],
    });
    fs::write(&config, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    let app_pid = rt.create(&app, "h");
    let state: serde_json::Value =
        serde_json::from_slice(&fs::read(app.join("prestart.json")).unwrap()).unwrap();
    assert_eq!(state["id"], "h");
    assert_eq!(state["status"], "creating");
    assert_eq!(state["pid"], json!(app_pid));
    assert_eq!(
        fs::read_to_string(app.join("runtime")).unwrap(),
        "runtime\n"
    );
    assert!(out(&app).is_empty(), "hooks run before the process starts");
    assert_eq!(rt.short(&["start", "h"]).status, 0);
    assert_eq!(reap(app_pid), 0);
    assert_eq!(out(&app), "app-ran\n");
    assert_eq!(rt.short(&["delete", "h"]).status, 0);

    // A failing createContainer hook fails `create` and leaves nothing behind.
    let bad = pod_bundle(&rt, "echo never", "container", "p4", "bad");
    let config = bad.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&fs::read(&config).unwrap()).unwrap();
    spec["hooks"] = json!({ "createContainer": [hook("exit 3".into())] });
    fs::write(&config, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    assert_ne!(rt.try_create(&bad, "bad"), 0);
    assert!(!rt.root.join("bad").exists());
    let sandbox_state: serde_json::Value =
        serde_json::from_slice(&fs::read(rt.root.join("p4/state.json")).unwrap()).unwrap();
    let members = sandbox_state["runsc"]["members"].as_array().cloned();
    assert!(!members.unwrap_or_default().contains(&json!("bad")));
    assert!(!out(&bad).contains("never"), "{}", out(&bad));

    assert_eq!(rt.short(&["delete", "--force", "p4"]).status, 0);
    assert_eq!(reap(pause_pid), 137);
    rt.cleanup();
}
