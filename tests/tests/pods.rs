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
    for applet in ["ps", "nc", "test", "touch"] {
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
    assert_eq!(rt.short(&["delete", "--force", "pause"]).status, 0);
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
