//! `linux.namespaces` joined by path for types other than network (runtime-spec
//! `config-linux.md` "Namespaces"), as Docker's `--pid=container:X --ipc=container:X` name
//! `/proc/<X's pid>/ns/...`: under runc the second container's processes live in the first's
//! namespaces; under our runsc the second container joins the first one's sandbox (its kernel
//! holds those namespaces), so it sees the same processes.

use std::fs;

use serde_json::{json, Value};
use tests::oci::{busybox_bundle, for_each_runtime, reap};

#[test]
fn pid_and_ipc_namespaces_joined_by_path_share_the_first_containers_processes() {
    for_each_runtime(|rt| {
        let tag = format!("oci-nsjoin-{}", rt.name);
        let first = busybox_bundle(&format!("{tag}-a"), "sleep 100", |_| {});
        let id_a = tests::unique_id("nsa");
        let id_b = tests::unique_id("nsb");
        let pid = rt.create(&first, &id_a);
        assert_eq!(rt.short(&["start", &id_a]).status, 0, "{}", rt.name);
        let state = rt.state(&id_a);
        let owner = state["pid"].as_i64().expect("state has a pid");
        let script = "busybox tr '\\0' ' ' < /proc/1/cmdline; echo";
        let second = busybox_bundle(&format!("{tag}-b"), script, |c: &mut Value| {
            c["linux"]["namespaces"] = json!([
                {"type": "pid", "path": format!("/proc/{owner}/ns/pid")},
                {"type": "ipc", "path": format!("/proc/{owner}/ns/ipc")},
                {"type": "uts"},
                {"type": "mount"},
                {"type": "network"},
            ]);
        });
        // create and start, as the engines do (a pod member has no `run` of its own).
        let pid_b = rt.create(&second, &id_b);
        assert_eq!(rt.short(&["start", &id_b]).status, 0, "{}", rt.name);
        assert_eq!(reap(pid_b), 0, "{}", rt.name);
        let out = fs::read_to_string(second.join("out")).unwrap();
        assert_eq!(out, "sleep 100 \n", "{}", rt.name);
        let _ = rt.short(&["delete", "--force", &id_b]);
        assert_eq!(rt.short(&["kill", &id_a, "KILL"]).status, 0, "{}", rt.name);
        assert_eq!(reap(pid), 137, "{}", rt.name);
        assert_eq!(rt.short(&["delete", &id_a]).status, 0, "{}", rt.name);
        let _ = fs::remove_dir_all(&first);
        let _ = fs::remove_dir_all(&second);
    });
}
