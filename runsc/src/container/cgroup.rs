//! The sandbox's cgroup (runtime-spec `config-linux.md` "Control groups", after runc's
//! `libcontainer/cgroups/fs`): the gofer and the sentry (whose stubs, the application's
//! address spaces, are its descendants and inherit it) go into `linux.cgroupsPath` in every
//! cgroup v1 hierarchy mounted under /sys/fs/cgroup, and `linux.resources` become that
//! cgroup's limits, so a limit holds for everything the container costs the host.
//!
//! The freezer hierarchy pauses and resumes the whole sandbox. The sandbox's /dev is the
//! sentry's own, so device rules guard only host device nodes the gofer would open from the
//! root; they are written last (`apply_devices`, once the sandbox is up and the create hooks
//! have run), in the spec's order, as runc writes them, without runc's own default entries.
//!
//! `create` moves itself into the cgroup so that the sandbox starts there, and goes back to
//! where it was (`Placement`) once the sandbox is up: the process that removes a cgroup must
//! not be in it (rmdir is EBUSY while a task is). The cgroup goes with the container (`delete`,
//! the end of `run`, a failed `create`), except in a hierarchy where it existed before
//! `create`, which is not ours to remove.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where cgroup hierarchies are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// How long `destroy` retries removing a cgroup whose last process is still exiting.
const RMDIR_WAIT: Duration = Duration::from_secs(2);

/// In a container's state directory: the hierarchies (one a line) in which its cgroup existed
/// before `create`, and which therefore stay when the container goes.
const KEPT_FILE: &str = "cgroup-kept";

/// The cgroup v1 hierarchies mounted under /sys/fs/cgroup: their directory names (a
/// controller, a comma-joined set, or a named hierarchy's name) and roots, sorted.
fn hierarchies() -> Vec<(String, PathBuf)> {
    let Ok(entries) = fs::read_dir(CGROUP_ROOT) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = entries
        .flatten()
        .filter(|e| e.path().join("cgroup.procs").exists())
        // cgroup v2 (`unified` here holds no controllers): not ours to manage.
        .filter(|e| !e.path().join("cgroup.controllers").exists())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    out.sort();
    out
}

/// Where a process is in each v1 hierarchy, taken before it enters a container's cgroup so
/// that it can go back there (`/proc/PID/cgroup`; Linux `cgroup-v1.rst` "cgroup.procs").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Per hierarchy: its root and the process's cgroup directory in it.
    dirs: Vec<(PathBuf, PathBuf)>,
}

impl Placement {
    /// This process's cgroups now.
    pub fn of_self() -> Placement {
        let table = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let dirs = hierarchies()
            .into_iter()
            .map(|(name, root)| {
                let dir = match placement_in(&table, &name) {
                    Some(rel) => root.join(rel.trim_start_matches('/')),
                    None => root.clone(),
                };
                (root, dir)
            })
            .collect();
        Placement { dirs }
    }

    /// Moves this process back to where it was; in a hierarchy where that cgroup is gone or
    /// refuses it, to the hierarchy's root. Every hierarchy is tried; the first error is
    /// returned.
    pub fn restore(&self) -> Result<(), String> {
        let pid = std::process::id().to_string();
        let mut first = Ok(());
        for (root, dir) in &self.dirs {
            let moved = write(&dir.join("cgroup.procs"), &pid)
                .or_else(|_| write(&root.join("cgroup.procs"), &pid));
            if first.is_ok() {
                first = moved;
            }
        }
        first
    }
}

/// The path, in `/proc/PID/cgroup` text (`ID:CONTROLLERS:PATH` lines), of the hierarchy whose
/// directory under /sys/fs/cgroup is `name`: a controller of the line's set (`cpu` for a
/// `cpu,cpuacct` line, as its symlink is), the whole set, or a named hierarchy (`name=X`).
fn placement_in<'a>(table: &'a str, name: &str) -> Option<&'a str> {
    table.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let named = format!("name={name}");
        let hit = controllers == name
            || controllers
                .split(',')
                .any(|c| c == name || c == named.as_str());
        (hit && !controllers.is_empty()).then_some(path)
    })
}

/// One container's cgroup, by its path relative to each hierarchy's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    /// Absolute within a hierarchy, e.g. `/docker/ID`.
    pub path: String,
}

impl Cgroup {
    /// The spec's `cgroupsPath`, or `/runsc/ID` without one. A relative path is taken from
    /// the hierarchy root, as runc does for cgroupfs paths.
    pub fn for_container(cgroups_path: Option<&Path>, id: &str) -> Cgroup {
        let path = match cgroups_path.map(|p| p.to_string_lossy().into_owned()) {
            Some(p) if !p.is_empty() => {
                if p.starts_with('/') {
                    p
                } else {
                    format!("/{p}")
                }
            }
            _ => format!("/runsc/{id}"),
        };
        Cgroup { path }
    }

    /// The directories of this cgroup, one per mounted v1 hierarchy (the controller name, or
    /// the `name=` of a named one, with its path).
    fn dirs(&self) -> Vec<(String, PathBuf)> {
        let rel = self.path.trim_start_matches('/');
        hierarchies()
            .into_iter()
            .map(|(name, root)| (name, root.join(rel)))
            .collect()
    }

    fn dir_of(&self, controller: &str) -> Option<PathBuf> {
        self.dirs()
            .into_iter()
            .find(|(c, _)| c == controller)
            .map(|(_, d)| d)
    }

    /// Makes the cgroup in every hierarchy and moves `pids` into it.
    pub fn create(&self, pids: &[i32]) -> Result<(), String> {
        let dirs = self.dirs();
        if dirs.is_empty() {
            return Err(format!(
                "no cgroup v1 hierarchy is mounted under {CGROUP_ROOT}"
            ));
        }
        for (controller, dir) in &dirs {
            make_dirs(controller, dir)?;
            for pid in pids {
                write(&dir.join("cgroup.procs"), &pid.to_string())?;
            }
        }
        Ok(())
    }

    /// Moves `pids` into the cgroup (made by `create`) in every hierarchy.
    pub fn enter(&self, pids: &[i32]) -> Result<(), String> {
        for (_, dir) in self.dirs() {
            for pid in pids {
                write(&dir.join("cgroup.procs"), &pid.to_string())?;
            }
        }
        Ok(())
    }

    /// Applies OCI `LinuxResources` (JSON, as in config.json and `runsc update`). Returns what
    /// was not applied, as warnings.
    pub fn apply(&self, res: &Value) -> Result<Vec<String>, String> {
        let mut warnings = Vec::new();
        let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_i64);
        if let Some(m) = res.get("memory") {
            let dir = self.dir_of("memory").ok_or("no memory cgroup hierarchy")?;
            if let Some(l) = num(m, "limit") {
                write(&dir.join("memory.limit_in_bytes"), &l.to_string())?;
            }
            if let Some(r) = num(m, "reservation") {
                write(&dir.join("memory.soft_limit_in_bytes"), &r.to_string())?;
            }
            if let Some(s) = num(m, "swap") {
                let f = dir.join("memory.memsw.limit_in_bytes");
                if f.exists() {
                    write(&f, &s.to_string())?;
                } else {
                    warnings.push("memory.swap: this host has no swap accounting".into());
                }
            }
            if let Some(s) = num(m, "swappiness") {
                write(&dir.join("memory.swappiness"), &s.to_string())?;
            }
            // Kernel memory limits are deprecated in Linux (5.16 on): a kernel that refuses
            // them gets a warning, not a failed container.
            for (key, file) in [
                ("kernel", "memory.kmem.limit_in_bytes"),
                ("kernelTCP", "memory.kmem.tcp.limit_in_bytes"),
            ] {
                if let Some(l) = num(m, key) {
                    if let Err(e) = write(&dir.join(file), &l.to_string()) {
                        warnings.push(format!("memory.{key}: {e}"));
                    }
                }
            }
            if m.get("disableOOMKiller").and_then(Value::as_bool) == Some(true) {
                write(&dir.join("memory.oom_control"), "1")?;
            }
        }
        if let Some(c) = res.get("cpu") {
            let dir = self.dir_of("cpu").ok_or("no cpu cgroup hierarchy")?;
            if let Some(s) = num(c, "shares") {
                write(&dir.join("cpu.shares"), &s.to_string())?;
            }
            // The period first: the kernel checks the quota against the current one.
            if let Some(p) = num(c, "period") {
                write(&dir.join("cpu.cfs_period_us"), &p.to_string())?;
            }
            if let Some(q) = num(c, "quota") {
                write(&dir.join("cpu.cfs_quota_us"), &q.to_string())?;
            }
            let cpuset = self.dir_of("cpuset");
            for (key, file) in [("cpus", "cpuset.cpus"), ("mems", "cpuset.mems")] {
                if let Some(v) = c.get(key).and_then(Value::as_str).filter(|v| !v.is_empty()) {
                    let dir = cpuset.as_ref().ok_or("no cpuset cgroup hierarchy")?;
                    write(&dir.join(file), v)?;
                }
            }
            if c.get("realtimeRuntime").is_some() || c.get("realtimePeriod").is_some() {
                warnings.push("cpu.realtime* limits are not applied".into());
            }
        }
        if let Some(l) = res.get("pids").and_then(|p| num(p, "limit")) {
            let dir = self.dir_of("pids").ok_or("no pids cgroup hierarchy")?;
            let v = if l <= 0 {
                "max".to_string()
            } else {
                l.to_string()
            };
            write(&dir.join("pids.max"), &v)?;
        }
        if let Some(w) = res.get("blockIO").and_then(|b| num(b, "weight")) {
            match self.dir_of("blkio").map(|d| d.join("blkio.weight")) {
                Some(f) if f.exists() => write(&f, &w.to_string())?,
                _ => warnings.push("blockIO.weight: no blkio.weight on this host".into()),
            }
        }
        for key in ["hugepageLimits", "network", "rdma", "unified"] {
            if res.get(key).is_some_and(|v| !v.is_null()) {
                warnings.push(format!("linux.resources.{key} is not applied"));
            }
        }
        Ok(warnings)
    }

    /// `linux.resources.devices` (a JSON array of `{allow, type, major, minor, access}`), in
    /// order, to devices.allow / devices.deny. Without a devices hierarchy: a warning.
    pub fn apply_devices(&self, devices: &Value) -> Result<Vec<String>, String> {
        let Some(rules) = devices.as_array().filter(|r| !r.is_empty()) else {
            return Ok(Vec::new());
        };
        let Some(dir) = self.dir_of("devices") else {
            return Ok(vec![
                "linux.resources.devices: no devices cgroup hierarchy".into()
            ]);
        };
        for rule in rules {
            let line = device_rule(rule)?;
            let allow = rule.get("allow").and_then(Value::as_bool).unwrap_or(false);
            let file = if allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            write(&dir.join(file), &line)?;
        }
        Ok(Vec::new())
    }

    /// Freezes (pause) or thaws (resume) every process of the sandbox.
    pub fn freeze(&self, frozen: bool) -> Result<(), String> {
        let dir = self
            .dir_of("freezer")
            .ok_or("no freezer cgroup hierarchy")?;
        let state = dir.join("freezer.state");
        write(&state, if frozen { "FROZEN" } else { "THAWED" })?;
        if !frozen {
            return Ok(());
        }
        // FREEZING becomes FROZEN once every task has stopped.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let now = fs::read_to_string(&state).unwrap_or_default();
            if now.trim() == "FROZEN" {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("the sandbox does not freeze ({})", now.trim()));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The stats `runsc events --stats` reports (runc's `types.Stats` subset).
    pub fn stats(&self) -> Value {
        let read = |controller: &str, file: &str| -> Option<u64> {
            let d = self.dir_of(controller)?;
            fs::read_to_string(d.join(file)).ok()?.trim().parse().ok()
        };
        serde_json::json!({
            "cpu": { "usage": { "total": read("cpuacct", "cpuacct.usage").unwrap_or(0) } },
            "memory": {
                "usage": {
                    "usage": read("memory", "memory.usage_in_bytes").unwrap_or(0),
                    "max": read("memory", "memory.max_usage_in_bytes").unwrap_or(0),
                    "limit": read("memory", "memory.limit_in_bytes").unwrap_or(0),
                }
            },
            "pids": {
                "current": read("pids", "pids.current").unwrap_or(0),
                "limit": read("pids", "pids.max").unwrap_or(0),
            },
        })
    }

    /// Notes in the container's state directory `state_dir` the hierarchies in which this
    /// cgroup exists already, before `create`: `destroy_owned` leaves them.
    pub fn note_existing(&self, state_dir: &Path) -> Result<(), String> {
        let existing: Vec<String> = self
            .dirs()
            .into_iter()
            .filter(|(_, d)| d.is_dir())
            .map(|(name, _)| name + "\n")
            .collect();
        if existing.is_empty() {
            return Ok(());
        }
        write(&state_dir.join(KEPT_FILE), &existing.concat())
    }

    /// Removes the cgroup as a container that made it does (`delete`, the end of `run`, a
    /// failed `create`): from every hierarchy but those `note_existing` found it in already.
    /// Its processes must be gone, and the caller out of it (`Placement::restore`).
    pub fn destroy_owned(&self, state_dir: &Path) -> Result<(), String> {
        let kept = fs::read_to_string(state_dir.join(KEPT_FILE)).unwrap_or_default();
        let kept: Vec<&str> = kept.lines().collect();
        self.destroy_except(&kept)
    }

    /// Removes the cgroup from every hierarchy (its processes must be gone).
    pub fn destroy(&self) -> Result<(), String> {
        self.destroy_except(&[])
    }

    /// Removes the cgroup from every hierarchy not named in `kept`.
    fn destroy_except(&self, kept: &[&str]) -> Result<(), String> {
        let deadline = Instant::now() + RMDIR_WAIT;
        let dirs = self.dirs();
        for (_, dir) in dirs
            .iter()
            .filter(|(name, _)| !kept.contains(&name.as_str()))
        {
            loop {
                match fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    // EBUSY while the last stub is still being reaped.
                    Err(_) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(e) => return Err(format!("removing cgroup {}: {e}", dir.display())),
                }
            }
        }
        Ok(())
    }
}

/// mkdir -p, making sure every cpuset level has cpus and mems (a v1 cpuset starts empty and
/// takes no task until both are set: ENOSPC). Levels that exist are checked too: a concurrent
/// `create` may have made the shared parent and not yet filled it in.
fn make_dirs(controller: &str, dir: &Path) -> Result<(), String> {
    let root = Path::new(CGROUP_ROOT).join(controller);
    if dir == root || !dir.starts_with(&root) {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        make_dirs(controller, parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("creating cgroup {}: {e}", dir.display())),
    }
    if controller == "cpuset" {
        let parent = dir.parent().unwrap_or(&root);
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let own = fs::read_to_string(dir.join(f)).unwrap_or_default();
            if own.trim().is_empty() {
                let v = fs::read_to_string(parent.join(f)).unwrap_or_default();
                write(&dir.join(f), v.trim())?;
            }
        }
    }
    Ok(())
}

/// One device rule as devices.allow/deny take it: `TYPE MAJOR:MINOR ACCESS`, `*` for a
/// missing number, type `a` and access `rwm` by default (runtime-spec `config-linux.md`).
fn device_rule(rule: &Value) -> Result<String, String> {
    let typ = rule.get("type").and_then(Value::as_str).unwrap_or("a");
    if !matches!(typ, "a" | "b" | "c") {
        return Err(format!("linux.resources.devices: bad type {typ:?}"));
    }
    let number = |k: &str| match rule.get(k).and_then(Value::as_i64) {
        Some(n) if n >= 0 => n.to_string(),
        _ => "*".to_string(),
    };
    let access = rule
        .get("access")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
        .unwrap_or("rwm");
    if !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
        return Err(format!("linux.resources.devices: bad access {access:?}"));
    }
    Ok(format!(
        "{typ} {}:{} {access}",
        number("major"),
        number("minor")
    ))
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    fs::write(path, value).map_err(|e| format!("writing {value:?} to {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_rules_are_written_as_the_kernel_takes_them() {
        let rule = |v: Value| device_rule(&v);
        assert_eq!(
            rule(serde_json::json!({"allow": false, "access": "rwm"})).unwrap(),
            "a *:* rwm"
        );
        assert_eq!(
            rule(serde_json::json!({"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}))
                .unwrap(),
            "c 10:229 rw"
        );
        assert_eq!(
            rule(serde_json::json!({"allow": true, "type": "b", "major": 8})).unwrap(),
            "b 8:* rwm"
        );
        assert!(rule(serde_json::json!({"type": "x"})).is_err());
        assert!(rule(serde_json::json!({"type": "c", "access": "rwx"})).is_err());
    }

    #[test]
    fn paths_follow_the_spec_or_default_to_runsc_id() {
        assert_eq!(
            Cgroup::for_container(Some(Path::new("/docker/abc")), "abc").path,
            "/docker/abc"
        );
        assert_eq!(
            Cgroup::for_container(Some(Path::new("k8s.io/x")), "x").path,
            "/k8s.io/x"
        );
        assert_eq!(Cgroup::for_container(None, "c1").path, "/runsc/c1");
        assert_eq!(
            Cgroup::for_container(Some(Path::new("")), "c1").path,
            "/runsc/c1"
        );
    }

    #[test]
    fn limits_land_in_the_hierarchies_and_the_cgroup_goes_away() {
        let cg = Cgroup::for_container(None, &format!("unit-{}", std::process::id()));
        if cg.dirs().is_empty() {
            // Checked by the lifecycle tests on a host with cgroup v1 (CI's).
            panic!("this test needs cgroup v1 hierarchies under {CGROUP_ROOT}");
        }
        cg.create(&[]).unwrap();
        let res = serde_json::json!({
            "memory": { "limit": 64 << 20, "kernelTCP": 32 << 20, "disableOOMKiller": true },
            "cpu": { "shares": 512, "period": 100000, "quota": 50000 },
            "pids": { "limit": 42 },
        });
        let warnings = cg.apply(&res).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let read = |c: &str, f: &str| {
            fs::read_to_string(cg.dir_of(c).unwrap().join(f))
                .unwrap()
                .trim()
                .to_string()
        };
        assert_eq!(
            read("memory", "memory.limit_in_bytes"),
            (64u64 << 20).to_string()
        );
        assert_eq!(
            read("memory", "memory.kmem.tcp.limit_in_bytes"),
            (32u64 << 20).to_string()
        );
        assert!(read("memory", "memory.oom_control").starts_with("oom_kill_disable 1"));
        assert_eq!(read("cpu", "cpu.shares"), "512");
        assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(read("pids", "pids.max"), "42");
        let devices = serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
            {"allow": true, "type": "b", "major": 8, "minor": 0, "access": "r"},
        ]);
        assert!(cg.apply_devices(&devices).unwrap().is_empty());
        assert_eq!(read("devices", "devices.list"), "c 10:229 rwm\nb 8:0 r");
        cg.freeze(true).unwrap();
        assert_eq!(read("freezer", "freezer.state"), "FROZEN");
        cg.freeze(false).unwrap();
        assert_eq!(cg.stats()["pids"]["limit"], 42);
        cg.destroy().unwrap();
        assert!(cg.dirs().iter().all(|(_, d)| !d.exists()));
        // The /runsc parent stays for other containers; nothing of ours is left in it.
    }

    #[test]
    fn placement_lines_name_controllers_sets_and_named_hierarchies() {
        let table = "12:cpu,cpuacct:/a\n9:name=systemd:/user.slice\n8:pids:/\n0::/v2\n";
        assert_eq!(placement_in(table, "cpu"), Some("/a"));
        assert_eq!(placement_in(table, "cpuacct"), Some("/a"));
        assert_eq!(placement_in(table, "cpu,cpuacct"), Some("/a"));
        assert_eq!(placement_in(table, "systemd"), Some("/user.slice"));
        assert_eq!(placement_in(table, "pids"), Some("/"));
        assert_eq!(placement_in(table, "memory"), None);
        // The v2 line names no controller: no v1 directory is it.
        assert_eq!(placement_in(table, ""), None);
    }

    #[test]
    fn a_process_goes_back_to_the_cgroups_it_was_in() {
        let cg = Cgroup::for_container(None, &format!("unit-back-{}", std::process::id()));
        let before = fs::read_to_string("/proc/self/cgroup").unwrap();
        let origin = Placement::of_self();
        cg.create(&[std::process::id() as i32]).unwrap();
        let pids = fs::read_to_string(cg.dir_of("pids").unwrap().join("cgroup.procs")).unwrap();
        assert!(pids.lines().any(|p| p == std::process::id().to_string()));
        origin.restore().unwrap();
        assert_eq!(fs::read_to_string("/proc/self/cgroup").unwrap(), before);
        for (_, dir) in cg.dirs() {
            let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap();
            assert!(
                !procs.lines().any(|p| p == std::process::id().to_string()),
                "still in {}",
                dir.display()
            );
        }
        // (A child another test forked meanwhile would be in it too: rmdir is for the
        // integration tests, whose runsc is a process of its own.)
        let _ = cg.destroy();
    }

    #[test]
    fn a_cgroup_that_existed_before_create_stays_where_it_was() {
        let id = format!("unit-kept-{}", std::process::id());
        let cg = Cgroup::for_container(None, &id);
        let state = std::env::temp_dir().join(&id);
        fs::create_dir_all(&state).unwrap();
        let pre = cg.dir_of("pids").unwrap();
        fs::create_dir_all(&pre).unwrap();
        cg.note_existing(&state).unwrap();
        cg.create(&[]).unwrap();
        cg.destroy_owned(&state).unwrap();
        let left: Vec<PathBuf> = cg
            .dirs()
            .into_iter()
            .map(|(_, d)| d)
            .filter(|d| d.exists())
            .collect();
        let _ = fs::remove_dir(&pre);
        let _ = fs::remove_dir_all(&state);
        assert_eq!(left, vec![pre]);
    }
}
