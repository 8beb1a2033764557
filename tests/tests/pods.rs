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
    let pause_id = tests::unique_id("pause");
    let app_id = tests::unique_id("app");
    let app2_id = tests::unique_id("app2");
    let app3_id = tests::unique_id("app3");
    let pause = pod_bundle(
        &rt,
        "pod_shm create && (echo hello-over-tcp | nc -l -p 8123 &) ; echo ready; exec sleep 1000",
        "sandbox",
        "pause",
        "pause-only",
    );
    let pause_pid = rt.create(&pause, &pause_id);
    assert_eq!(rt.short(&["start", &pause_id]).status, 0);
    wait_for_ready(&pause);

    // An app container: its own root, the sandbox's processes, IPC and network. It connects
    // once the pause container's listener shows in the pod's /proc/net (port 8123 = 0x1FBB,
    // state 0A: LISTEN), however long a loaded machine takes to get there.
    let app = pod_bundle(
        &rt,
        "cat /app-only; test -e /pause-only || echo no-pause-file; cat /data/host-file; \
         touch /data/x 2>/dev/null || echo read-only; pod_shm read; \
         i=0; until grep -qs ':1FBB 0*:0000 0A' /proc/net/tcp /proc/net/tcp6 || [ $i -ge 300 ]; \
         do i=$((i+1)); sleep 0.1; done; nc 127.0.0.1 8123 </dev/null; \
         ps -o args | grep -cx 'sleep 1000'; exit 42",
        "container",
        &pause_id,
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
    let app_pid = rt.create(&app, &app_id);
    assert_ne!(
        app_pid, pause_pid,
        "the app's pid file names its own holder"
    );
    assert_eq!(rt.status(&app_id), "created");
    assert_eq!(rt.state(&pause_id)["status"], "running");
    let sandbox_state: serde_json::Value =
        serde_json::from_slice(&fs::read(rt.root.join(&pause_id).join("state.json")).unwrap())
            .unwrap();
    assert_eq!(sandbox_state["runsc"]["members"], json!([app_id]));
    assert!(
        out(&app).is_empty(),
        "nothing runs before start: {}",
        out(&app)
    );
    assert_eq!(rt.short(&["start", &app_id]).status, 0);
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
    assert_eq!(rt.status(&app_id), "stopped");
    assert_eq!(rt.short(&["delete", &app_id]).status, 0);
    assert!(!rt.root.join(&app_id).exists());
    assert_eq!(
        rt.status(&pause_id),
        "running",
        "the pause container lives on"
    );

    // A long-running app container: seen by the pause container, exec'd into in its own root,
    // killed and deleted without the pod.
    let app2 = pod_bundle(&rt, "exec sleep 777", "container", &pause_id, "app2-only");
    let app2_pid = rt.create(&app2, &app2_id);
    assert_eq!(rt.short(&["start", &app2_id]).status, 0);
    assert_eq!(rt.status(&app2_id), "running");
    assert_eq!(rt.state(&app2_id)["pid"], json!(app2_pid));
    let ps = rt.short(&["exec", &pause_id, "ps", "-o", "args"]);
    assert_eq!(ps.status, 0, "{}", ps.stderr);
    assert!(ps.stdout.contains("sleep 777"), "{}", ps.stdout);
    let cat = rt.short(&["exec", &app2_id, "cat", "/app2-only"]);
    assert_eq!((cat.status, cat.stdout.as_str()), (0, "app2-only file\n"));
    assert_eq!(rt.short(&["kill", &app2_id, "TERM"]).status, 0);
    assert_eq!(reap(app2_pid), 143);
    assert_eq!(rt.short(&["delete", &app2_id]).status, 0);
    assert_eq!(rt.status(&pause_id), "running");

    // Deleting the sandbox container ends the pod, members included.
    let app3 = pod_bundle(&rt, "exec sleep 555", "container", &pause_id, "app3-only");
    let app3_pid = rt.create(&app3, &app3_id);
    assert_eq!(rt.short(&["start", &app3_id]).status, 0);
    let del = rt.short(&["delete", "--force", &pause_id]);
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
    let p2 = tests::unique_id("p2");
    let a_id = tests::unique_id("a");
    let b_id = tests::unique_id("b");
    let c_id = tests::unique_id("c");
    let pause = pod_bundle(&rt, "echo ready; exec sleep 1000", "sandbox", &p2, "p");
    let pause_pid = rt.create(&pause, &p2);
    assert_eq!(rt.short(&["start", &p2]).status, 0);
    wait_for_ready(&pause);

    let a = pod_bundle(&rt, "echo never", "container", &p2, "a");
    let a_pid = rt.create(&a, &a_id);
    assert_eq!(rt.short(&["kill", &a_id, "KILL"]).status, 0);
    assert_eq!(reap(a_pid), 137);
    assert_eq!(rt.short(&["delete", &a_id]).status, 0);

    let b = pod_bundle(&rt, "echo never", "container", &p2, "b");
    let b_pid = rt.create(&b, &b_id);
    assert_eq!(
        rt.short(&["delete", &b_id]).status,
        0,
        "created: no --force needed"
    );
    assert_eq!(reap(b_pid), 137);
    assert!(out(&a).is_empty() && out(&b).is_empty());

    // Naming a sandbox that does not exist: a sandbox of its own, as before.
    let c = pod_bundle(&rt, "echo alone; exit 3", "container", "nosuch", "c");
    let c_pid = rt.create(&c, &c_id);
    assert_eq!(rt.short(&["start", &c_id]).status, 0);
    assert_eq!(reap(c_pid), 3);
    assert_eq!(out(&c), "alone\n");
    assert_eq!(rt.short(&["delete", &c_id]).status, 0);

    assert_eq!(rt.short(&["delete", "--force", &p2]).status, 0);
    assert_eq!(reap(pause_pid), 137);
    rt.cleanup();
}

#[test]
fn an_app_container_gets_its_own_process_settings_and_seccomp_not_the_sandboxs() {
    let rt = runtime();
    let p3 = tests::unique_id("p3");
    let a_id = tests::unique_id("a");
    let pause = pod_bundle(&rt, "echo ready; exec sleep 1000", "sandbox", &p3, "p");
    for applet in ["id", "mkdir"] {
        std::os::unix::fs::symlink("busybox", pause.join("rootfs/bin").join(applet)).unwrap();
    }
    let pause_pid = rt.create(&pause, &p3);
    assert_eq!(rt.short(&["start", &p3]).status, 0);
    wait_for_ready(&pause);

    let app = pod_bundle(
        &rt,
        "ulimit -n; id -u; id -G; umask; grep CapBnd /proc/$$/status; \
         grep NoNewPrivs /proc/self/status; \
         cat /proc/$$/oom_score_adj; mkdir /tmp/d 2>/dev/null || echo mkdir-denied",
        "container",
        &p3,
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
    let app_pid = rt.create(&app, &a_id);
    assert_eq!(rt.short(&["start", &a_id]).status, 0);
    assert_eq!(reap(app_pid), 0);
    assert_eq!(
        out(&app),
        "100\n1000\n1000 5\n0077\nCapBnd:\t0000000000000020\nNoNewPrivs:\t0\n7\nmkdir-denied\n"
    );

    // The pause container keeps its own: root, every capability, no_new_privs, mkdir allowed.
    let own = rt.short(&[
        "exec",
        &p3,
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
    assert_eq!(rt.short(&["delete", &a_id]).status, 0);
    assert_eq!(rt.short(&["delete", "--force", &p3]).status, 0);
    assert_eq!(reap(pause_pid), 137);
    rt.cleanup();
}

#[test]
fn an_app_containers_create_hooks_run_with_its_state_and_a_failing_one_undoes_it() {
    let rt = runtime();
    let p4 = tests::unique_id("p4");
    let h_id = tests::unique_id("h");
    let bad_id = tests::unique_id("bad");
    let pause = pod_bundle(&rt, "echo ready; exec sleep 1000", "sandbox", &p4, "p");
    let pause_pid = rt.create(&pause, &p4);
    assert_eq!(rt.short(&["start", &p4]).status, 0);
    wait_for_ready(&pause);

    let app = pod_bundle(&rt, "echo app-ran", "container", &p4, "h");
    let hook = |script: String| json!({ "path": "/bin/sh", "args": ["sh", "-c", script] });
    let config = app.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&fs::read(&config).unwrap()).unwrap();
    spec["hooks"] = json!({
        "prestart": [hook(format!("cat > {}/prestart.json", app.display()))],
        "createRuntime": [hook(format!("echo runtime > {}/runtime", app.display()))],
    });
    fs::write(&config, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    let app_pid = rt.create(&app, &h_id);
    let state: serde_json::Value =
        serde_json::from_slice(&fs::read(app.join("prestart.json")).unwrap()).unwrap();
    assert_eq!(state["id"], h_id.as_str());
    assert_eq!(state["status"], "creating");
    assert_eq!(state["pid"], json!(app_pid));
    assert_eq!(
        fs::read_to_string(app.join("runtime")).unwrap(),
        "runtime\n"
    );
    assert!(out(&app).is_empty(), "hooks run before the process starts");
    assert_eq!(rt.short(&["start", &h_id]).status, 0);
    assert_eq!(reap(app_pid), 0);
    assert_eq!(out(&app), "app-ran\n");
    assert_eq!(rt.short(&["delete", &h_id]).status, 0);

    // A failing createContainer hook fails `create` and leaves nothing behind.
    let bad = pod_bundle(&rt, "echo never", "container", &p4, "bad");
    let config = bad.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&fs::read(&config).unwrap()).unwrap();
    spec["hooks"] = json!({ "createContainer": [hook("exit 3".into())] });
    fs::write(&config, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    assert_ne!(rt.try_create(&bad, &bad_id), 0);
    assert!(!rt.root.join(&bad_id).exists());
    let sandbox_state: serde_json::Value =
        serde_json::from_slice(&fs::read(rt.root.join(&p4).join("state.json")).unwrap()).unwrap();
    let members = sandbox_state["runsc"]["members"].as_array().cloned();
    assert!(!members.unwrap_or_default().contains(&json!(bad_id)));
    assert!(!out(&bad).contains("never"), "{}", out(&bad));

    assert_eq!(rt.short(&["delete", "--force", &p4]).status, 0);
    assert_eq!(reap(pause_pid), 137);
    rt.cleanup();
}

/// Adds busybox applets to a bundle's rootfs.
fn applets(bundle: &Path, names: &[&str]) {
    for applet in names {
        let link = bundle.join("rootfs/bin").join(applet);
        if !link.exists() {
            std::os::unix::fs::symlink("busybox", link).unwrap();
        }
    }
}

/// Appends `mounts` to the spec of `bundle`.
fn add_mounts(bundle: &Path, mounts: serde_json::Value) {
    let config = bundle.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&fs::read(&config).unwrap()).unwrap();
    let list = spec["mounts"].as_array_mut().unwrap();
    list.extend(mounts.as_array().unwrap().iter().cloned());
    fs::write(&config, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
}

#[test]
fn an_app_containers_volumes_are_mounted_in_its_own_view_in_spec_order() {
    let rt = runtime();
    let p5 = tests::unique_id("p5");
    let v_id = tests::unique_id("v");
    let pause = pod_bundle(&rt, "echo ready; exec sleep 1000", "sandbox", &p5, "p");
    applets(&pause, &["awk"]);
    let pause_pid = rt.create(&pause, &p5);
    assert_eq!(rt.short(&["start", &p5]).status, 0);
    wait_for_ready(&pause);

    // Kubernetes volumes: a rw emptyDir-like host directory, a ro configMap-like one, a file
    // (as /etc/hosts is), and a tmpfs.
    let app = pod_bundle(
        &rt,
        "echo from-the-member > /vol/rw/written && echo wrote; \
         cat /vol/ro/data; touch /vol/ro/x; cat /etc/pod-file; \
         echo in-tmpfs > /scratch/t && cat /scratch/t; \
         cat /v; touch /bin/x; \
         awk '$5 ~ /^\\/(vol|scratch|etc)/ {print $5, $6}' /proc/self/mountinfo; \
         echo ready; exec sleep 1000",
        "container",
        &p5,
        "v",
    );
    applets(&app, &["awk"]);
    let rw = app.join("host-rw");
    let ro = app.join("host-ro");
    fs::create_dir(&rw).unwrap();
    fs::create_dir(&ro).unwrap();
    fs::write(ro.join("data"), "config-data\n").unwrap();
    fs::write(app.join("host-file"), "a-host-file\n").unwrap();
    add_mounts(
        &app,
        json!([
            { "destination": "/vol/rw", "type": "bind", "source": rw,
              "options": ["rbind", "rprivate", "nosuid", "nodev"] },
            { "destination": "/vol/ro", "type": "bind", "source": ro,
              "options": ["rbind", "ro", "nosuid", "noexec", "nodev"] },
            { "destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "size=1m"] },
            { "destination": "/etc/pod-file", "type": "bind",
              "source": app.join("host-file"), "options": ["rbind", "ro"] },
        ]),
    );
    // Its masked and read-only paths, over its mounts.
    let config = app.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&fs::read(&config).unwrap()).unwrap();
    spec["linux"]["maskedPaths"] = json!(["/v", "/nonexistent"]);
    spec["linux"]["readonlyPaths"] = json!(["/bin"]);
    spec["linux"]["rootfsPropagation"] = json!("rshared");
    fs::write(&config, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    let app_pid = rt.create(&app, &v_id);
    assert_eq!(rt.short(&["start", &v_id]).status, 0);
    wait_for_ready(&app);
    assert_eq!(
        fs::read_to_string(rw.join("written")).unwrap(),
        "from-the-member\n",
        "a write through the rw bind reaches the host"
    );
    assert!(!ro.join("x").exists());
    assert_eq!(
        out(&app),
        "wrote\nconfig-data\ntouch: /vol/ro/x: Read-only file system\na-host-file\n\
         in-tmpfs\ntouch: /bin/x: Read-only file system\n/vol/rw rw,nosuid,nodev,relatime\n/vol/ro ro,nosuid,nodev,noexec,relatime\n\
         /scratch rw,nosuid,relatime\n/etc/pod-file ro,relatime\nready\n"
    );
    // `exec` in the member sees the same mounts; the pause container sees none of them.
    let own = rt.short(&["exec", &v_id, "cat", "/vol/rw/written"]);
    assert_eq!((own.status, own.stdout.as_str()), (0, "from-the-member\n"));
    let points = rt.short(&["exec", &v_id, "awk", "{print $5}", "/proc/self/mountinfo"]);
    assert_eq!(
        points.stdout.split_whitespace().collect::<Vec<_>>(),
        [
            "/",
            "/tmp",
            "/proc",
            "/dev",
            "/dev/mqueue",
            "/dev/pts",
            "/dev/shm",
            "/sys",
            "/vol/rw",
            "/vol/ro",
            "/scratch",
            "/etc/pod-file",
            "/v",
            "/bin"
        ],
        "the spec's order, after the sentry's defaults it does not list"
    );
    let root_line = rt.short(&[
        "exec",
        &v_id,
        "awk",
        "$5 == \"/\" {print $7}",
        "/proc/self/mountinfo",
    ]);
    assert!(
        root_line.stdout.starts_with("shared:"),
        "rootfsPropagation: {} {}",
        root_line.stdout,
        root_line.stderr
    );
    let pause_view = rt.short(&[
        "exec",
        &p5,
        "awk",
        "$5 ~ /^\\/(vol|scratch|etc)/ {print $5}",
        "/proc/self/mountinfo",
    ]);
    assert_eq!(
        (pause_view.status, pause_view.stdout.as_str()),
        (0, ""),
        "{}",
        pause_view.stderr
    );
    assert_eq!(rt.short(&["kill", &v_id, "KILL"]).status, 0);
    assert_eq!(reap(app_pid), 137);
    assert_eq!(rt.short(&["delete", &v_id]).status, 0);
    assert_eq!(rt.short(&["delete", "--force", &p5]).status, 0);
    assert_eq!(reap(pause_pid), 137);
    rt.cleanup();
}

#[test]
fn run_of_an_app_container_joins_its_pod_in_the_foreground_and_detached() {
    let rt = runtime();
    let p6 = tests::unique_id("p6");
    let fg_id = tests::unique_id("fg");
    let bg_id = tests::unique_id("bg");
    let pause = pod_bundle(&rt, "echo ready; exec sleep 1000", "sandbox", &p6, "p");
    let pause_pid = rt.create(&pause, &p6);
    assert_eq!(rt.short(&["start", &p6]).status, 0);
    wait_for_ready(&pause);

    // Foreground: the pod's PID namespace (the pause process is there), its status, and
    // nothing left afterwards.
    let fg = pod_bundle(
        &rt,
        "cat /fg-only; ps -o args | grep -cx 'sleep 1000'; exit 7",
        "container",
        &p6,
        "fg-only",
    );
    let out_file = fs::File::create(fg.join("out")).unwrap();
    let status = rt
        .command(&["run", "--bundle"])
        .arg(&fg)
        .arg(&fg_id)
        .current_dir(&fg)
        .stdin(std::process::Stdio::null())
        .stdout(out_file.try_clone().unwrap())
        .stderr(out_file)
        .status()
        .unwrap();
    assert_eq!(tests::shell_status(status), 7, "{}", out(&fg));
    assert_eq!(out(&fg), "fg-only file\n1\n");
    assert!(!rt.root.join(&fg_id).exists(), "deleted after the run");
    let sandbox_state: serde_json::Value =
        serde_json::from_slice(&fs::read(rt.root.join(&p6).join("state.json")).unwrap()).unwrap();
    assert_eq!(sandbox_state["runsc"]["members"], json!([]));

    // Detached: running in the pod until killed.
    let bg = pod_bundle(
        &rt,
        "echo ready; exec sleep 666",
        "container",
        &p6,
        "bg-only",
    );
    let pid_file = bg.join("init.pid");
    let run = rt
        .command(&["run", "--detach", "--bundle"])
        .arg(&bg)
        .arg("--pid-file")
        .arg(&pid_file)
        .arg(&bg_id)
        .current_dir(&bg)
        .stdin(std::process::Stdio::null())
        .stdout(fs::File::create(bg.join("out")).unwrap())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(run.success(), "{}", rt.last_log_error());
    wait_for_ready(&bg);
    assert_eq!(rt.status(&bg_id), "running");
    let bg_pid: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(rt.state(&bg_id)["pid"], json!(bg_pid));
    let ps = rt.short(&["exec", &p6, "ps", "-o", "args"]);
    assert!(ps.stdout.contains("sleep 666"), "{}", ps.stdout);
    assert_eq!(rt.short(&["kill", &bg_id, "KILL"]).status, 0);
    assert_eq!(reap(bg_pid), 137);
    assert_eq!(rt.short(&["delete", &bg_id]).status, 0);
    assert_eq!(rt.short(&["delete", "--force", &p6]).status, 0);
    assert_eq!(reap(pause_pid), 137);
    rt.cleanup();
}

/// The directory of cgroup `path` in the v1 hierarchy `controller`.
fn cgroup_dir(controller: &str, path: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup")
        .join(controller)
        .join(path.trim_start_matches('/'))
}

#[test]
fn an_app_container_has_its_own_cgroup_with_its_limits_until_deleted() {
    let rt = runtime();
    let p7 = tests::unique_id("p7");
    let cg_id = tests::unique_id("cg");
    let pause = pod_bundle(&rt, "echo ready; exec sleep 1000", "sandbox", &p7, "p");
    let pause_pid = rt.create(&pause, &p7);
    assert_eq!(rt.short(&["start", &p7]).status, 0);
    wait_for_ready(&pause);

    let app = pod_bundle(&rt, "echo ready; exec sleep 444", "container", &p7, "cg");
    let cg_path = format!(
        "/runsc-pods-test-{}/{}",
        std::process::id(),
        app.file_name().unwrap().to_string_lossy()
    );
    let config = app.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&fs::read(&config).unwrap()).unwrap();
    spec["linux"]["cgroupsPath"] = json!(cg_path);
    spec["linux"]["resources"] = json!({
        "memory": { "limit": 64 << 20 },
        "pids": { "limit": 50 },
    });
    fs::write(&config, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    let app_pid = rt.create(&app, &cg_id);
    assert_eq!(rt.short(&["start", &cg_id]).status, 0);
    wait_for_ready(&app);
    let read = |controller: &str, file: &str| {
        fs::read_to_string(cgroup_dir(controller, &cg_path).join(file))
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    assert_eq!(
        read("memory", "memory.limit_in_bytes"),
        (64 << 20).to_string()
    );
    assert_eq!(read("pids", "pids.max"), "50");
    // Its host processes: its gofer and its pid-file holder.
    let state: serde_json::Value =
        serde_json::from_slice(&fs::read(rt.root.join(&cg_id).join("state.json")).unwrap())
            .unwrap();
    let gofer = state["runsc"]["goferPid"].as_i64().unwrap();
    let procs = read("pids", "cgroup.procs");
    let procs: Vec<&str> = procs.lines().collect();
    assert!(procs.contains(&gofer.to_string().as_str()), "{procs:?}");
    assert!(procs.contains(&app_pid.to_string().as_str()), "{procs:?}");

    // `update` and `events --stats` address it.
    let res = app.join("resources.json");
    fs::write(&res, r#"{"pids": {"limit": 60}}"#).unwrap();
    let upd = rt.short(&["update", "--resources", res.to_str().unwrap(), &cg_id]);
    assert_eq!(upd.status, 0, "{}", upd.stderr);
    assert_eq!(read("pids", "pids.max"), "60");
    let ev = rt.short(&["events", "--stats", &cg_id]);
    assert_eq!(ev.status, 0, "{}", ev.stderr);
    let ev: serde_json::Value = serde_json::from_str(ev.stdout.trim()).unwrap();
    assert_eq!(ev["id"], cg_id.as_str());
    assert_eq!(ev["data"]["pids"]["limit"], 60);
    assert_eq!(ev["data"]["memory"]["usage"]["limit"], 64 << 20);
    // Its processes are the sandbox's: pausing it alone is refused, not faked.
    let paused = rt.short(&["pause", &cg_id]);
    assert_ne!(paused.status, 0);
    assert!(
        rt.last_log_error().contains("pause and resume the sandbox"),
        "{}",
        rt.last_log_error()
    );
    assert_eq!(rt.status(&cg_id), "running");
    // The sandbox's limits are its own.
    assert_ne!(
        fs::read_to_string(cgroup_dir("pids", &format!("/runsc/{p7}")).join("pids.max"))
            .unwrap_or_default(),
        "60\n"
    );

    assert_eq!(rt.short(&["kill", &cg_id, "KILL"]).status, 0);
    assert_eq!(reap(app_pid), 137);
    assert_eq!(rt.short(&["delete", &cg_id]).status, 0);
    assert!(!cgroup_dir("pids", &cg_path).exists(), "removed by delete");
    assert!(
        !cgroup_dir("memory", &cg_path).exists(),
        "removed by delete"
    );
    for controller in ["pids", "memory"] {
        let _ = fs::remove_dir(cgroup_dir(controller, &cg_path).parent().unwrap());
    }
    assert_eq!(rt.short(&["delete", "--force", &p7]).status, 0);
    assert_eq!(reap(pause_pid), 137);
    rt.cleanup();
}
