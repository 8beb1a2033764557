//! The namespaces of the state's pid (runtime-spec `config-linux.md` "Namespaces"; what the
//! OCI validation's `linux_ns_nopath`, `linux_ns_itype` and `linux_ns_path` compare, and what
//! hooks entering `/proc/<pid>/ns/*` find): a type the spec lists without a path is a namespace
//! other than the runtime's, one with a path is that namespace, and a type it omits is the
//! runtime's. Under our runsc the state's pid is the sentry's supervisor, whose namespaces say
//! so; the sentry itself keeps namespaces of its own (`security.rs`). Inside the sandbox,
//! /proc/PID/ns/mnt tells mount namespaces apart as Linux does.

use std::fs;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use tests::oci::{busybox_bundle, for_each_runtime, reap, BUSYBOX};
use tests::Case;

fn ns(pid: &str, kind: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/ns/{kind}: {e}"))
        .display()
        .to_string()
}

#[test]
fn the_state_pid_is_in_the_namespaces_the_spec_names() {
    // A holder of IPC and UTS namespaces of its own, joined by path below.
    let mut holder = Command::new("unshare")
        .args(["--ipc", "--uts", "sleep", "100"])
        .stdin(Stdio::null())
        .spawn()
        .expect("unshare (util-linux)");
    let held = holder.id().to_string();
    for _ in 0..3000 {
        if ns(&held, "ipc") != ns("self", "ipc") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_ne!(
        ns(&held, "ipc"),
        ns("self", "ipc"),
        "the holder never unshared"
    );
    for_each_runtime(|rt| {
        let bundle = busybox_bundle(&format!("oci-nsstate-{}", rt.name), "sleep 100", |c| {
            // No UTS namespace of its own: no hostname either (runc refuses one).
            c.as_object_mut().unwrap().remove("hostname");
            c["linux"]["namespaces"] = json!([
                {"type": "pid"},
                {"type": "mount"},
                {"type": "network"},
                {"type": "cgroup"},
                {"type": "ipc", "path": format!("/proc/{held}/ns/ipc")},
            ]);
        });
        let id = tests::unique_id("nsstate");
        let pid = rt.create(&bundle, &id);
        let state: Value = rt.state(&id);
        let p = state["pid"].as_i64().expect("state has a pid").to_string();
        for kind in ["pid", "mnt", "net", "cgroup"] {
            assert_ne!(ns(&p, kind), ns("self", kind), "{}: new {kind}", rt.name);
        }
        assert_eq!(ns(&p, "ipc"), ns(&held, "ipc"), "{}: joined ipc", rt.name);
        for kind in ["uts", "user"] {
            assert_eq!(
                ns(&p, kind),
                ns("self", kind),
                "{}: inherited {kind}",
                rt.name
            );
        }
        assert_eq!(rt.short(&["kill", &id, "KILL"]).status, 0, "{}", rt.name);
        assert_eq!(reap(pid), 137, "{}", rt.name);
        assert_eq!(rt.short(&["delete", &id]).status, 0, "{}", rt.name);
        let _ = fs::remove_dir_all(&bundle);
    });
    let _ = holder.kill();
    let _ = holder.wait();
}

#[test]
fn a_new_user_namespace_is_mapped_as_the_spec_says() {
    for_each_runtime(|rt| {
        if rt.name == "runc" {
            // runc needs a rootfs the mapped root can read; the validation covers it there.
            return;
        }
        let bundle = busybox_bundle("oci-nsstate-user", "sleep 100", |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1000}]);
            c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1000}]);
        });
        let id = tests::unique_id("nsuser");
        let pid = rt.create(&bundle, &id);
        let p = rt.state(&id)["pid"].as_i64().unwrap().to_string();
        assert_ne!(ns(&p, "user"), ns("self", "user"));
        let map = fs::read_to_string(format!("/proc/{p}/uid_map")).unwrap();
        assert_eq!(
            map.split_whitespace().collect::<Vec<_>>(),
            ["0", "1000", "1000"]
        );
        let map = fs::read_to_string(format!("/proc/{p}/gid_map")).unwrap();
        assert_eq!(
            map.split_whitespace().collect::<Vec<_>>(),
            ["0", "1000", "1000"]
        );
        // The supervisor still signals, waits for and reports the sentry.
        assert_eq!(rt.short(&["start", &id]).status, 0);
        assert_eq!(rt.short(&["kill", &id, "KILL"]).status, 0);
        assert_eq!(reap(pid), 137);
        assert_eq!(rt.short(&["delete", &id]).status, 0);
        let _ = fs::remove_dir_all(&bundle);
    });
}

#[test]
fn mount_namespace_links_differ_between_namespaces_and_agree_within_one() {
    assert!(nix::unistd::geteuid().is_root(), "needs root (unshare -m)");
    let script = "b=/bin/busybox; a=$($b readlink /proc/self/ns/mnt); \
        n=$($b unshare -m $b readlink /proc/self/ns/mnt); \
        [ \"$a\" != \"$n\" ] && echo a new namespace differs; \
        [ \"$a\" = \"$($b readlink /proc/$$/ns/mnt)\" ] && echo the shell agrees with itself; \
        $b unshare -m $b sh -c 'x=$($b readlink /proc/self/ns/mnt); \
            [ \"$x\" = \"$($b readlink /proc/$$/ns/mnt)\" ] && echo a namespace agrees within'; \
        case $a in mnt:\\[*\\]) echo mnt:[N];; esac";
    let (native, _) = Case::new(BUSYBOX, ["sh", "-c", script]).assert_same();
    assert_eq!(
        native.stdout_str(),
        "a new namespace differs\nthe shell agrees with itself\na namespace agrees within\nmnt:[N]\n"
    );
}
