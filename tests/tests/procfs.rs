//! /proc and /sys as process tools see them (proc(5), sysfs(5)): ps, pgrep, free, uptime and
//! top run in the sandbox, and /proc/self files have Linux's shape. Values that differ by
//! nature (pids, times, memory sizes) are compared by structure, not equality.

use tests::{c_prog, Case, Outcome};

fn sh(script: &str) -> Case {
    Case::new("/bin/sh", ["-c", script])
}

fn sandboxed_ok(case: &Case) -> Outcome {
    let out = case.run_sandboxed();
    assert_eq!(
        out.status,
        0,
        "`{}` failed in the sandbox\nstdout:\n{}\nstderr:\n{}",
        case.describe(),
        out.stdout_str(),
        out.stderr_str()
    );
    out
}

#[test]
fn ps_lists_processes_with_parents() {
    let out = sandboxed_ok(&Case::new("ps", ["-e", "-o", "pid,ppid,comm"])).stdout_str();
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(header, ["PID", "PPID", "COMMAND"], "{out}");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert!(
        rows.iter().any(|r| r == &["1", "0", "ps"]),
        "ps should list itself as pid 1: {out}"
    );
}

#[test]
fn ps_aux_lists_itself_as_pid_1() {
    let out = sandboxed_ok(&Case::new("ps", ["aux"])).stdout_str();
    let mut lines = out.lines();
    assert!(
        lines.next().unwrap_or("").starts_with("USER"),
        "header: {out}"
    );
    let me = lines
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|r| r.get(1) == Some(&"1"))
        .unwrap_or_else(|| panic!("no pid 1 in {out}"));
    assert_eq!(me[0], "root", "{out}");
    assert!(me.iter().any(|w| w.ends_with("ps")), "{out}");
}

#[test]
fn pgrep_finds_a_background_sleep() {
    let out = sandboxed_ok(&sh(
        // pgrep runs once the child is `sleep` (before its exec it is a copy of the shell).
        "sleep 10 & p=$!; until read -r c < /proc/$p/comm && [ \"$c\" = sleep ]; do :; done; \
         found=$(pgrep -x sleep); kill $p; [ \"$found\" = \"$p\" ] && echo same",
    ));
    assert_eq!(out.stdout_str(), "same\n");
}

#[test]
fn free_reports_memory() {
    let out = sandboxed_ok(&Case::new("free", Vec::<&str>::new())).stdout_str();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].contains("total"), "{out}");
    let total: u64 = lines[1]
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(total > 0, "{out}");
    assert!(lines[2].starts_with("Swap:"), "{out}");
}

#[test]
fn uptime_reports_load() {
    let out = sandboxed_ok(&Case::new("uptime", Vec::<&str>::new())).stdout_str();
    assert!(out.contains(" up "), "{out}");
    assert!(out.contains("load average: 0.00, 0.00, 0.00"), "{out}");
}

#[test]
fn top_batch_has_a_header() {
    let out = sandboxed_ok(&sh("top -b -n1 | head -5")).stdout_str();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(lines[0].starts_with("top - "), "{out}");
    assert!(lines[1].starts_with("Tasks:"), "{out}");
    assert!(lines[2].starts_with("%Cpu(s):"), "{out}");
}

#[test]
fn self_status_has_linux_fields() {
    let out = sandboxed_ok(&Case::new("cat", ["/proc/self/status"])).stdout_str();
    let native = Case::new("cat", ["/proc/self/status"])
        .run_native()
        .stdout_str();
    assert!(out.starts_with("Name:\tcat\n"), "{out}");
    for key in [
        "Umask",
        "State",
        "Tgid",
        "Pid",
        "PPid",
        "TracerPid",
        "Uid",
        "Gid",
        "FDSize",
        "Groups",
        "VmSize",
        "VmRSS",
        "Threads",
        "SigQ",
        "SigBlk",
        "SigIgn",
        "CapEff",
        "CapBnd",
        "NoNewPrivs",
        "Seccomp",
        "Cpus_allowed_list",
    ] {
        let k = format!("\n{key}:\t");
        assert!(native.contains(&k), "native lacks {key}: {native}");
        assert!(out.contains(&k), "sandbox lacks {key}: {out}");
    }
    assert!(out.contains("\nPid:\t1\n"), "{out}");
}

#[test]
fn self_limits_has_linux_layout() {
    let case = Case::new("cat", ["/proc/self/limits"]);
    let native = case.run_native().stdout_str();
    let sandboxed = sandboxed_ok(&case).stdout_str();
    let shape = |s: &str| -> Vec<(String, String)> {
        s.lines()
            .map(|l| {
                // Name column (25 wide) and the units column after the two 20-wide values.
                let name = l.get(..26).unwrap_or(l).to_string();
                let unit = l.get(68..).unwrap_or("").to_string();
                (name, unit)
            })
            .collect()
    };
    assert_eq!(shape(&native), shape(&sandboxed), "{native}\n{sandboxed}");
    assert_eq!(
        native.lines().next(),
        sandboxed.lines().next(),
        "header line"
    );
}

#[test]
fn self_fd_lists_stdio() {
    let out = sandboxed_ok(&Case::new("ls", ["/proc/self/fd"])).stdout_str();
    let fds: Vec<&str> = out.split_whitespace().collect();
    for fd in ["0", "1", "2"] {
        assert!(fds.contains(&fd), "{out}");
    }
}

#[test]
fn self_cwd_is_the_working_directory() {
    Case::new("readlink", ["/proc/self/cwd"])
        .cwd("/usr")
        .assert_same();
}

#[test]
fn other_processes_maps_fds_and_cwd() {
    // Looked at once the child is `sleep` (it has changed directory by then), not after a
    // guess at how long that takes.
    let script = "(cd /tmp && exec sleep 10) & p=$!; \
                  until read -r c < /proc/$p/comm && [ \"$c\" = sleep ]; do :; done; \
                  readlink /proc/$p/cwd; ls /proc/$p/fd | head -1; \
                  grep -q . /proc/$p/maps && echo maps; \
                  grep -q '^pos:' /proc/$p/fdinfo/0 && echo fdinfo; \
                  ls /proc/$p/task; kill $p";
    let out = sandboxed_ok(&sh(script)).stdout_str();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"/tmp"), "{out}");
    assert_eq!(lines.get(1), Some(&"0"), "{out}");
    assert!(
        lines.contains(&"maps") && lines.contains(&"fdinfo"),
        "{out}"
    );
}

#[test]
fn global_files_have_their_shape() {
    let script = "grep -c '^processor' /proc/cpuinfo >/dev/null && echo cpuinfo; \
                  head -1 /proc/stat | cut -c1-4; grep -c ^btime /proc/stat; \
                  cut -d' ' -f4 /proc/loadavg | grep -q / && echo loadavg; \
                  cat /proc/sys/kernel/ostype /proc/sys/vm/overcommit_memory; \
                  cat /proc/self/cgroup; readlink /proc/self/ns/pid | cut -c1-5; \
                  cat /sys/kernel/mm/transparent_hugepage/enabled; \
                  grep -q '^0' /sys/devices/system/cpu/online && echo online; \
                  echo 5 > /proc/self/oom_score_adj && echo oom";
    let out = sandboxed_ok(&sh(script)).stdout_str();
    assert_eq!(
        out,
        "cpuinfo\ncpu \n1\nloadavg\nLinux\n0\n0::/\npid:[\nalways madvise [never]\nonline\noom\n"
    );
}

/// comm is the file name execve was given (Linux `kbasename(bprm->filename)`), not where a
/// symlink or a `#!` line leads; truncated to 15 bytes; ps shows the same.
#[test]
fn comm_is_the_name_execve_was_given() {
    let script = "d=$(mktemp -d) && cd $d && ln -s /bin/cat kitty && \
                  ln -s /bin/cat a_very_long_command_name && \
                  printf '#!/bin/sh\\ncat /proc/$$/comm\\n' > script.sh && chmod +x script.sh && \
                  ln -s script.sh alias && \
                  $d/kitty /proc/self/comm; ./kitty /proc/self/comm; \
                  ./a_very_long_command_name /proc/self/comm; ./script.sh; ./alias; \
                  ln -s /bin/ps pslink && ./pslink -e -o comm= | grep -x pslink; \
                  cd / && rm -r $d";
    let (native, _) = sh(script).assert_same();
    assert_eq!(
        native.stdout_str(),
        "kitty\nkitty\na_very_long_com\nscript.sh\nalias\npslink\n"
    );
}

#[test]
fn proc_self_auxv_is_the_programs_auxiliary_vector() {
    let (native, _) = Case::new(c_prog("proc_auxv"), Vec::<&str>::new()).assert_same();
    assert_eq!(
        native.stdout_str(),
        "whole pairs=1 ends with AT_NULL=1\nagrees with getauxval=1\n\
         AT_RANDOM=1 AT_PAGESZ 4096=1 AT_ENTRY=1\nuid matches=1\n"
    );
}

#[test]
fn oom_score_adj_is_kept_with_the_process_and_inherited() {
    // Raising needs no privilege; a child inherits it (Linux keeps it in signal_struct).
    let (native, _) = Case::new(
        "/bin/sh",
        [
            "-c",
            "echo 5 > /proc/self/oom_score_adj; cat /proc/self/oom_score_adj; \
             sh -c 'cat /proc/self/oom_score_adj'",
        ],
    )
    .assert_same();
    assert_eq!(native.stdout_str(), "5\n5\n");
}
