//! A container's cgroup goes with the container (runtime-spec `config-linux.md`, "Control
//! groups"; runc's `libcontainer/cgroups/fs` `Destroy`): after `run` of a container that exits
//! (which runs the poststop hooks too, as `delete` does), after a `create` that fails (a
//! prestart hook exits 1), and after `delete`, no directory of it is left in any cgroup
//! hierarchy under /sys/fs/cgroup. Each scenario runs against our `runsc` and against `runc`
//! (the reference).
//!
//! A leftover is checked right after the command returns: rmdir of a cgroup fails (EBUSY)
//! while a process is in it, so a runtime that removed it while still inside would leave it.
//! Our runtime's cgroup is `/runsc/ID` without `linux.cgroupsPath`; runc's would be relative
//! to its own cgroup, so runc's bundles name the same path explicitly.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{json, Value};
use tests::oci::*;

/// Where cgroup hierarchies are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The cgroup path (within a hierarchy) of container `id`.
fn cgroup_path(id: &str) -> String {
    format!("runsc/{id}")
}

/// The directories of container `id`'s cgroup that exist, in any hierarchy (v1 controllers,
/// named ones, and the v2 `unified` one).
fn leftovers(id: &str) -> Vec<PathBuf> {
    let rel = cgroup_path(id);
    let mut out: Vec<PathBuf> = fs::read_dir(CGROUP_ROOT)
        .unwrap()
        .flatten()
        .map(|e| e.path().join(&rel))
        .filter(|d| d.is_dir())
        .collect();
    out.sort();
    out
}

/// The pids hierarchy's directory of container `id`'s cgroup.
fn pids_dir(id: &str) -> PathBuf {
    Path::new(CGROUP_ROOT).join("pids").join(cgroup_path(id))
}

/// A busybox bundle running `sh -c SCRIPT` in cgroup `/runsc/ID` (our default; named for
/// runc), with the given hooks.
fn cgroup_bundle(rt: &Runtime, id: &str, script: &str, hooks: Value) -> PathBuf {
    let runc = rt.name == "runc";
    busybox_bundle(&format!("cgclean-{}", rt.name), script, |config| {
        if runc {
            config["linux"]["cgroupsPath"] = json!(format!("/{}", cgroup_path(id)));
        }
        if !hooks.is_null() {
            config["hooks"] = hooks.clone();
        }
    })
}

/// A prestart hook (run on the host while the cgroup exists) that writes `present` to
/// `HOOK_DIR/hook.out` if container `id`'s pids cgroup exists, then exits with `status`.
fn presence_hook(hook_dir: &Path, id: &str, status: i32) -> Value {
    let script = format!(
        "if test -d {}; then echo present; else echo absent; fi > {}; exit {status}",
        pids_dir(id).display(),
        hook_dir.join("hook.out").display()
    );
    json!({ "prestart": [{ "path": "/bin/sh", "args": ["sh", "-c", script] }] })
}

/// `run --bundle B ID` in the foreground with the container's output in `B/out`: its status.
fn run(rt: &Runtime, bundle: &Path, id: &str) -> i32 {
    let out = fs::File::create(bundle.join("out")).unwrap();
    let status = rt
        .command(&["run", "--bundle"])
        .arg(bundle)
        .arg(id)
        .current_dir(bundle)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .status()
        .unwrap();
    tests::shell_status(status)
}

/// The hook's record of whether the cgroup existed while the container was being made.
fn hook_saw(hook_dir: &Path) -> String {
    fs::read_to_string(hook_dir.join("hook.out"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn run_removes_the_cgroup_when_its_container_exits() {
    for_each_runtime(|rt| {
        let id = tests::unique_id("cgrun");
        let hook_dir = tests::unique_tmp_path("cgrun-hook");
        fs::create_dir_all(&hook_dir).unwrap();
        // As `delete`, the end of `run` runs the poststop hooks (with the state on stdin).
        let mut hooks = presence_hook(&hook_dir, &id, 0);
        let poststop = format!("cat > {}", hook_dir.join("poststop.out").display());
        hooks["poststop"] = json!([{ "path": "/bin/sh", "args": ["sh", "-c", poststop] }]);
        let b = cgroup_bundle(rt, &id, "exit 3", hooks);
        let status = run(rt, &b, &id);
        let out = fs::read_to_string(b.join("out")).unwrap_or_default();
        assert_eq!(status, 3, "{} run: {out}", rt.name);
        assert_eq!(
            hook_saw(&hook_dir),
            "present",
            "{}: no cgroup made",
            rt.name
        );
        assert_eq!(leftovers(&id), Vec::<PathBuf>::new(), "{}", rt.name);
        let state = fs::read(hook_dir.join("poststop.out")).unwrap_or_default();
        let state: Value = serde_json::from_slice(&state).unwrap_or(Value::Null);
        assert_eq!(state["id"], id.as_str(), "{}: poststop: {state}", rt.name);
        assert_eq!(state["status"], "stopped", "{}: poststop", rt.name);
        assert_ne!(
            rt.short(&["state", &id]).status,
            0,
            "{}: not deleted",
            rt.name
        );
        let _ = fs::remove_dir_all(&b);
        let _ = fs::remove_dir_all(&hook_dir);
    });
}

#[test]
fn a_failed_create_removes_its_cgroup_before_it_returns() {
    for_each_runtime(|rt| {
        let id = tests::unique_id("cgfail");
        let hook_dir = tests::unique_tmp_path("cgfail-hook");
        fs::create_dir_all(&hook_dir).unwrap();
        let b = cgroup_bundle(rt, &id, "echo never", presence_hook(&hook_dir, &id, 1));
        assert_eq!(rt.try_create(&b, &id), 1, "{}", rt.name);
        assert_eq!(
            hook_saw(&hook_dir),
            "present",
            "{}: no cgroup made",
            rt.name
        );
        assert_eq!(leftovers(&id), Vec::<PathBuf>::new(), "{}", rt.name);
        assert_eq!(rt.short(&["list", "-q"]).stdout, "", "{}", rt.name);
        let _ = fs::remove_dir_all(&b);
        let _ = fs::remove_dir_all(&hook_dir);
    });
}

#[test]
fn delete_removes_the_cgroup_of_a_created_container() {
    for_each_runtime(|rt| {
        let id = tests::unique_id("cgdel");
        let b = cgroup_bundle(rt, &id, "exit 0", Value::Null);
        let pid = rt.create(&b, &id);
        assert!(pids_dir(&id).is_dir(), "{}: no cgroup made", rt.name);
        assert_eq!(rt.short(&["start", &id]).status, 0, "{}", rt.name);
        assert_eq!(reap(pid), 0, "{}", rt.name);
        assert!(pids_dir(&id).is_dir(), "{}: gone before delete", rt.name);
        let o = rt.short(&["delete", &id]);
        assert_eq!(o.status, 0, "{} delete: {}", rt.name, o.stderr);
        assert_eq!(leftovers(&id), Vec::<PathBuf>::new(), "{}", rt.name);
        let _ = fs::remove_dir_all(&b);
    });
}

/// A cgroup that existed before `create` is not the container's to remove: it stays in the
/// hierarchy where it was made beforehand; the ones `create` made go. (runc 1.1 removes a
/// pre-existing one too, when it is empty: this scenario is ours only.)
#[test]
fn a_cgroup_that_existed_before_create_stays() {
    let rt = runtimes().remove(0);
    assert_eq!(rt.name, "runsc");
    let id = tests::unique_id("cgpre");
    let pre = pids_dir(&id);
    fs::create_dir_all(&pre).unwrap();
    let b = cgroup_bundle(&rt, &id, "exit 0", Value::Null);
    let status = run(&rt, &b, &id);
    let out = fs::read_to_string(b.join("out")).unwrap_or_default();
    let left = leftovers(&id);
    // Before asserting: the test's own cgroup goes whatever happened.
    let _ = fs::remove_dir(&pre);
    assert_eq!(status, 0, "run: {out}");
    assert_eq!(left, vec![pre.clone()]);

    // `create` and `delete` the same way.
    fs::create_dir_all(&pre).unwrap();
    let pid = rt.create(&b, &id);
    let made = leftovers(&id).len();
    assert_eq!(rt.short(&["start", &id]).status, 0);
    assert_eq!(reap(pid), 0);
    let o = rt.short(&["delete", &id]);
    let left = leftovers(&id);
    let _ = fs::remove_dir(&pre);
    assert_eq!(o.status, 0, "delete: {}", o.stderr);
    assert!(made > 1, "create made no cgroup of its own");
    assert_eq!(left, vec![pre]);
    let _ = fs::remove_dir_all(&b);
    rt.cleanup();
}
