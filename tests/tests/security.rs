//! The sandbox's isolation seen from outside: writes stay in the sandbox, the sentry runs under
//! its seccomp filter and holds no writable host file, it is pid 1 of its own pid namespace,
//! and its processes die with `runsc`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tests::{c_prog, runsc_bin, unique_tmp_path, Case};

#[test]
fn file_written_in_sandbox_tmp_never_reaches_the_host() {
    // Native first: the program really creates the file (this proves the test).
    let native_path = unique_tmp_path("runsc-canary-native");
    let native = Case::new(c_prog("tmp_canary"), [&native_path]).run_native();
    assert_eq!(
        (native.status, native.stdout_str().as_str()),
        (0, "read back: canary\n")
    );
    assert!(native_path.exists());
    std::fs::remove_file(&native_path).unwrap();

    let path = unique_tmp_path("runsc-canary");
    let sandboxed = Case::new(c_prog("tmp_canary"), [&path]).run_sandboxed();
    let host_has_it = path.exists();
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        (sandboxed.status, sandboxed.stdout_str().as_str()),
        (0, "read back: canary\n"),
        "stderr: {}",
        sandboxed.stderr_str()
    );
    assert!(!host_has_it, "{} appeared on the host", path.display());
}

/// `runsc do -- /bin/sleep SECS` with its output discarded. The tests give it far longer than
/// their polls take on a loaded machine (they end it with `stop`): it must not exit while they
/// look at its processes.
fn start_sleeping_sandbox(secs: &str) -> Child {
    Command::new(runsc_bin())
        .args(["do", "--", "/bin/sleep", secs])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// (pid, ppid, state) from /proc/PID/stat.
fn stat_of(pid: u32) -> Option<(u32, u32, char)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let mut it = rest.split(' ');
    let state = it.next()?.chars().next()?;
    let ppid = it.next()?.parse().ok()?;
    Some((pid, ppid, state))
}

/// Host pid of the child or grandchild of `parent` whose command line is `runsc ROLE ...`
/// (the sentry is the child of its supervisor, which lives outside its pid namespace).
fn find_child(parent: u32, role: &str) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Some(ppid) = stat_of(pid).map(|(_, ppid, _)| ppid) else {
            continue;
        };
        let grandparent = stat_of(ppid).map(|(_, gp, _)| gp);
        if ppid != parent && grandparent != Some(parent) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmdline.split(|&b| b == 0).nth(1) == Some(role.as_bytes()) {
            return Some(pid);
        }
    }
    None
}

fn seccomp_mode(pid: u32) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:").map(|v| v.trim().to_string()))
}

/// Polls until `f` gives Some or the deadline passes.
fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn is_gone(pid: u32) -> bool {
    !matches!(stat_of(pid), Some((_, _, s)) if s != 'Z' && s != 'X')
}

/// (link target, open flags) of every descriptor of `pid`.
fn fds_of(pid: u32) -> Vec<(String, u32)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let target = std::fs::read_link(e.path())
                .ok()?
                .to_string_lossy()
                .into_owned();
            let info =
                std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", e.file_name().to_str()?))
                    .ok()?;
            let flags = info
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())?;
            Some((target, flags))
        })
        .collect()
}

#[test]
fn sentry_runs_under_seccomp_filter_and_holds_no_writable_host_files() {
    let runsc = start_sleeping_sandbox("60");
    let front = runsc.id();
    let boot = poll(Duration::from_secs(20), || find_child(front, "boot"));
    let filtered = boot.and_then(|pid| {
        poll(Duration::from_secs(20), || {
            seccomp_mode(pid).filter(|m| m == "2")
        })
    });
    let fds = boot.map(fds_of).unwrap_or_default();
    stop(runsc);
    let boot = boot.expect("no `runsc boot` child of `runsc do` appeared");
    assert_eq!(
        filtered.as_deref(),
        Some("2"),
        "/proc/{boot}/status never showed `Seccomp: 2`"
    );
    assert!(!fds.is_empty(), "could not read /proc/{boot}/fd");
    // Host files reach the sentry only as read-only fds donated by the gofer (the root is served
    // read-only); stdio here is /dev/null; the rest is anonymous (pipes, sockets, memfds...).
    for (target, flags) in &fds {
        let host_file =
            target.starts_with('/') && !target.starts_with("/memfd:") && target != "/dev/null";
        let read_only = flags & libc::O_ACCMODE as u32 == libc::O_RDONLY as u32;
        assert!(
            !host_file || read_only,
            "the sentry holds host file {target:?} writable (flags {flags:o}; all: {fds:?})"
        );
    }
}

#[test]
fn gofer_runs_under_its_seccomp_filter() {
    let runsc = start_sleeping_sandbox("60");
    let front = runsc.id();
    let gofer = poll(Duration::from_secs(20), || find_child(front, "gofer"));
    let filtered = gofer.and_then(|pid| {
        poll(Duration::from_secs(20), || {
            seccomp_mode(pid).filter(|m| m == "2")
        })
    });
    stop(runsc);
    let gofer = gofer.expect("no `runsc gofer` child of `runsc do` appeared");
    assert_eq!(
        filtered.as_deref(),
        Some("2"),
        "/proc/{gofer}/status never showed `Seccomp: 2`"
    );
}

#[test]
fn sandbox_processes_die_with_runsc() {
    let runsc = start_sleeping_sandbox("30");
    let front = runsc.id();
    let boot = poll(Duration::from_secs(20), || find_child(front, "boot"));
    let gofer = poll(Duration::from_secs(20), || find_child(front, "gofer"));
    stop(runsc); // SIGKILL: runsc cannot clean up; PR_SET_PDEATHSIG must.
    let boot = boot.expect("no `runsc boot` child appeared");
    let gofer = gofer.expect("no `runsc gofer` child appeared");
    for (role, pid) in [("boot", boot), ("gofer", gofer)] {
        assert!(
            poll(Duration::from_secs(10), || is_gone(pid).then_some(())).is_some(),
            "runsc {role} (pid {pid}) outlived `runsc do`"
        );
    }
    assert!(Path::new("/proc/self").exists());
}

/// A field of /proc/PID/status.
fn status_field(pid: u32, name: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
}

#[test]
fn sentry_is_in_its_own_namespaces_and_empty_root_without_capabilities() {
    let runsc = start_sleeping_sandbox("60");
    let front = runsc.id();
    let boot = poll(Duration::from_secs(20), || find_child(front, "boot"));
    // The filter goes on after the root and capabilities are gone.
    let ready = boot.and_then(|pid| {
        poll(Duration::from_secs(20), || {
            seccomp_mode(pid).filter(|m| m == "2")
        })
    });
    let boot = boot.expect("no `runsc boot` child of `runsc do` appeared");
    let ns = |pid: &str, kind: &str| std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok();
    let namespaces: Vec<(&str, bool)> = ["mnt", "net", "ipc", "uts"]
        .into_iter()
        .map(|k| (k, ns(&boot.to_string(), k) != ns("self", k)))
        .collect();
    let root_entries = std::fs::read_dir(format!("/proc/{boot}/root"))
        .map(|d| d.count())
        .ok();
    let caps =
        ["CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"].map(|f| status_field(boot, f));
    let nnp = status_field(boot, "NoNewPrivs:");
    stop(runsc);
    assert!(ready.is_some(), "the sentry never installed its filter");
    for (kind, own) in namespaces {
        assert!(own, "the sentry shares the host's {kind} namespace");
    }
    assert_eq!(root_entries, Some(0), "the sentry's root is not empty");
    for c in &caps {
        assert_eq!(
            c.as_deref(),
            Some("0000000000000000"),
            "capabilities: {caps:?}"
        );
    }
    assert_eq!(nnp.as_deref(), Some("1"));
}

#[test]
fn gofer_is_in_its_own_namespaces_and_empty_root() {
    let runsc = start_sleeping_sandbox("60");
    let front = runsc.id();
    let gofer = poll(Duration::from_secs(20), || find_child(front, "gofer"));
    let ready = gofer.and_then(|pid| {
        poll(Duration::from_secs(20), || {
            seccomp_mode(pid).filter(|m| m == "2")
        })
    });
    let gofer = gofer.expect("no `runsc gofer` child of `runsc do` appeared");
    let ns = |pid: &str, kind: &str| std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok();
    let own: Vec<(&str, bool)> = ["mnt", "net", "ipc", "uts"]
        .into_iter()
        .map(|k| (k, ns(&gofer.to_string(), k) != ns("self", k)))
        .collect();
    let root_entries = std::fs::read_dir(format!("/proc/{gofer}/root"))
        .map(|d| d.count())
        .ok();
    stop(runsc);
    assert!(ready.is_some(), "the gofer never installed its filter");
    for (kind, separate) in own {
        assert!(separate, "the gofer shares the host's {kind} namespace");
    }
    assert_eq!(root_entries, Some(0), "the gofer's root is not empty");
}

/// Target of /proc/PID/ns/pid (PID may be `self`).
fn pid_ns(pid: &str) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

#[test]
fn sentry_is_pid_1_of_its_own_pid_namespace_with_its_stubs() {
    let runsc = start_sleeping_sandbox("60");
    let front = runsc.id();
    let boot = poll(Duration::from_secs(20), || find_child(front, "boot"));
    // The stub processes the sentry forks for the application (a child of the sentry).
    let stub = boot.and_then(|b| {
        poll(Duration::from_secs(20), || {
            std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
                let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
                (stat_of(pid)?.1 == b).then_some(pid)
            })
        })
    });
    let boot = boot.expect("no `runsc boot` under `runsc do` appeared");
    let sentry_ns = pid_ns(&boot.to_string());
    let nspid = status_field(boot, "NSpid:");
    let stub_ns = stub.and_then(|s| pid_ns(&s.to_string()));
    stop(runsc);
    assert!(
        sentry_ns.is_some(),
        "the sentry's pid namespace is unreadable"
    );
    assert_ne!(
        sentry_ns,
        pid_ns("self"),
        "the sentry shares the host's pid namespace"
    );
    // NSpid: the host pid, then the pid in the sentry's own namespace.
    let nspid = nspid.expect("no NSpid line");
    assert_eq!(
        nspid.split_whitespace().next_back(),
        Some("1"),
        "NSpid: {nspid}"
    );
    assert_eq!(
        stub_ns, sentry_ns,
        "a stub outside the sentry's pid namespace"
    );
}

#[test]
fn runsc_ps_lists_host_pids_of_the_sandbox_in_its_pid_namespace() {
    use tests::oci::{bundle, reap, runtimes};
    let rt = runtimes()
        .into_iter()
        .find(|r| r.name == "runsc")
        .expect("runsc is a runtime under test");
    let b = bundle(&rt, "sleep 30");
    let id = tests::unique_id("pidns");
    let pid = rt.create(&b, &id);
    let o = rt.short(&["start", &id]);
    assert_eq!(o.status, 0, "start: {}", o.stderr);
    // The sentry under the pid-file process, once it has forked the application's stub and
    // the stubs of its start-up (an exec replaces one) are gone: a listing whose every pid
    // still lives when looked at.
    let listed = poll(Duration::from_secs(20), || {
        let o = rt.short(&["ps", "--format", "json", &id]);
        let pids: Vec<u32> = serde_json::from_str(&o.stdout).ok()?;
        (pids.len() >= 3 && pids.iter().all(|&p| stat_of(p).is_some())).then_some(pids)
    });
    let alive: Vec<(u32, bool, Option<std::path::PathBuf>)> = listed
        .iter()
        .flatten()
        .map(|&p| (p, stat_of(p).is_some(), pid_ns(&p.to_string())))
        .collect();
    let o = rt.short(&["kill", &id, "KILL"]);
    assert_eq!(o.status, 0, "kill: {}", o.stderr);
    reap(pid);
    let _ = rt.short(&["delete", "--force", &id]);
    rt.cleanup();
    let listed = listed.expect("runsc ps never listed the sentry and a stub");
    assert!(
        listed.contains(&(pid as u32)),
        "{listed:?} lacks the pid file's {pid}"
    );
    for (p, exists, _) in &alive {
        assert!(
            exists,
            "runsc ps listed {p}, which is no host process: {listed:?}"
        );
    }
    // Host pids, not the sentry's: those in the sandbox's pid namespace are there too.
    let inside = alive
        .iter()
        .filter(|(_, _, ns)| ns.is_some() && *ns != pid_ns("self"))
        .count();
    assert!(
        inside >= 2,
        "{alive:?}: no sentry and stub among the listed pids"
    );
}
