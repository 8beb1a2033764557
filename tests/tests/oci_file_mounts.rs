//! Bind mounts of single host files in an OCI bundle, as Docker makes them for /etc/hosts,
//! /etc/hostname and /etc/resolv.conf: the file shows at its destination (made as an empty
//! file when the rootfs lacks it, as runc does), a read-write one writes through to the host,
//! a read-only one refuses writes. Every scenario runs against our `runsc` and against `runc`,
//! the reference (the harness in `tests::oci`).

use std::fs;

use serde_json::Value;
use tests::oci::*;
use tests::unique_tmp_path;

#[test]
fn host_files_bound_over_etc_hostname_and_a_read_only_one() {
    for_each_runtime(|rt| {
        let host = unique_tmp_path(&format!("oci-{}-hostfiles", rt.name));
        fs::create_dir_all(&host).unwrap();
        fs::write(host.join("hostname"), "bound-host\n").unwrap();
        fs::write(host.join("ro"), "read only\n").unwrap();
        let b = bundle(
            rt,
            "cat /etc/hostname; echo more >> /etc/hostname; cat /etc/hostname; cat /etc/ro; \
             (echo x >> /etc/ro) 2>/dev/null && echo wrote || echo refused",
        );
        let path = b.join("config.json");
        let mut config: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        let mounts = config["mounts"].as_array_mut().unwrap();
        mounts.push(serde_json::json!({
            "destination": "/etc/hostname", "type": "bind",
            "source": host.join("hostname"), "options": ["rbind", "rprivate"]
        }));
        mounts.push(serde_json::json!({
            "destination": "/etc/ro", "type": "bind",
            "source": host.join("ro"), "options": ["rbind", "rprivate", "ro"]
        }));
        fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();

        let id = tests::unique_id("files");
        let pid = rt.create(&b, &id);
        let o = rt.short(&["start", &id]);
        assert_eq!(o.status, 0, "{} start: {}", rt.name, o.stderr);
        assert_eq!(o.stdout, "", "{}: start prints nothing", rt.name);
        let status = reap(pid);
        let out = fs::read_to_string(b.join("out")).unwrap_or_default();
        assert_eq!(status, 0, "{}: {out}", rt.name);
        assert_eq!(
            out, "bound-host\nbound-host\nmore\nread only\nrefused\n",
            "{}",
            rt.name
        );
        assert_eq!(
            fs::read_to_string(host.join("hostname")).unwrap(),
            "bound-host\nmore\n",
            "{}: the write reached the host",
            rt.name
        );
        assert_eq!(fs::read_to_string(host.join("ro")).unwrap(), "read only\n");
        let o = rt.short(&["delete", &id]);
        assert_eq!(o.status, 0, "{} delete: {}", rt.name, o.stderr);
        let _ = fs::remove_dir_all(&b);
        let _ = fs::remove_dir_all(&host);
    });
}
