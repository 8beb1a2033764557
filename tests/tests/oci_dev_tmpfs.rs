//! A spec's tmpfs at /dev (runc's default spec mounts one, `size=65536k,mode=755`): the
//! container can make files there, held to the tmpfs's `size=` and `nr_inodes=` as under runc,
//! and statfs reports those limits. Our runsc keeps its own device nodes over that tmpfs
//! (`sentry::fs::dev::new_root_on_tmpfs`).

use std::fs;

use serde_json::{json, Value};
use tests::oci::{busybox_bundle, for_each_runtime, reap};

const SCRIPT: &str = "b=/bin/busybox; \
    $b dd if=/dev/zero of=/dev/big bs=1k count=100 2>/dev/null; echo dd=$?; \
    $b stat -c %s /dev/big; $b stat -f -c '%b %f' /dev; \
    $b rm /dev/big; $b stat -f -c '%b %f' /dev; \
    touch /dev/x && echo touch=ok; $b mkdir /dev/d && echo mkdir=ok; \
    $b mkdir /dev/null 2>/dev/null || echo mkdir-null=refused; \
    ls /dev/d && cat /dev/null && echo done";

#[test]
fn a_tmpfs_at_dev_holds_its_size_as_under_runc() {
    let outs = std::sync::Mutex::new(Vec::new());
    for_each_runtime(|rt| {
        let bundle = busybox_bundle(&format!("oci-devtmpfs-{}", rt.name), SCRIPT, |c| {
            let mounts = c["mounts"].as_array_mut().unwrap();
            let dev: &mut Value = mounts
                .iter_mut()
                .find(|m| m["destination"] == "/dev")
                .expect("the starter spec mounts /dev");
            dev["options"] = json!(["nosuid", "strictatime", "mode=755", "size=64k"]);
        });
        let id = tests::unique_id("devtmpfs");
        let pid = rt.create(&bundle, &id);
        assert_eq!(rt.short(&["start", &id]).status, 0, "{}", rt.name);
        assert_eq!(reap(pid), 0, "{}", rt.name);
        assert_eq!(rt.short(&["delete", &id]).status, 0, "{}", rt.name);
        outs.lock()
            .unwrap()
            .push((rt.name, fs::read_to_string(bundle.join("out")).unwrap()));
        let _ = fs::remove_dir_all(&bundle);
    });
    let expected = "dd=1\n65536\n16 0\n16 16\ntouch=ok\nmkdir=ok\nmkdir-null=refused\ndone\n";
    for (name, out) in outs.into_inner().unwrap() {
        assert_eq!(out, expected, "{name}");
    }
}
