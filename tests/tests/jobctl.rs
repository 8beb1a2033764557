//! Job control (signal(7), wait(2)): stop signals stop every thread of a process, SIGCONT resumes
//! it, the parent sees WIFSTOPPED/WIFCONTINUED through wait4 and waitid and gets SIGCHLD with
//! CLD_STOPPED/CLD_CONTINUED unless SA_NOCLDSTOP; SIGKILL ends a stopped process
//! (tests/c/jobctl.c), native vs sandboxed; and the shell's `kill -STOP`/`kill -CONT`.

use tests::{c_prog, Case};

fn jobctl(case: &str) -> String {
    let (native, _) = Case::new(c_prog("jobctl"), [case]).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    native.stdout_str()
}

#[test]
fn stop_continue_and_kill_are_reported_to_wait4() {
    let out = jobctl("stop_cont");
    assert!(out.contains("after SIGSTOP: stopped 19\n"), "{out}");
    assert!(out.contains("stopped reported once: 0\n"), "{out}");
    assert!(out.contains("after SIGCONT: continued\n"), "{out}");
    assert!(out.contains("after SIGTSTP: stopped 20\n"), "{out}");
    assert!(out.contains("SIGKILL while stopped: signaled 9\n"), "{out}");
    assert!(out.contains("first sigchld is CLD_STOPPED: yes\n"), "{out}");
}

#[test]
fn sa_nocldstop_suppresses_sigchld_but_not_wait() {
    let out = jobctl("nocldstop");
    assert!(out.contains("nocldstop sigchld before kill: 0\n"), "{out}");
}

#[test]
fn waitid_reports_stopped_and_continued() {
    let out = jobctl("waitid");
    assert!(
        out.contains("waitid stopped: r=0 code=5 status=21 pid_ok=1\n"),
        "{out}"
    );
    assert!(
        out.contains("waitid continued again: r=0 code=6\n"),
        "{out}"
    );
}

#[test]
fn a_stop_freezes_every_thread() {
    let out = jobctl("threads");
    assert!(out.contains("thread frozen while stopped: yes\n"), "{out}");
    assert!(out.contains("thread runs after SIGCONT: yes\n"), "{out}");
}

#[test]
fn ignored_stop_and_self_stop() {
    assert!(jobctl("handled").contains("ignored SIGTSTP: exited 5\n"));
    let out = jobctl("self");
    assert!(out.contains("raise(SIGSTOP): stopped 19\n"), "{out}");
    assert!(out.contains("self-stopper end: exited 6\n"), "{out}");
}

#[test]
fn kill_to_a_process_group_stops_and_kills_every_member() {
    let out = jobctl("group");
    assert!(
        out.contains("group member a: stopped 19\ngroup member b: stopped 19\n"),
        "{out}"
    );
    assert!(out.contains("group member b end: signaled 9\n"), "{out}");
    assert!(out.contains("kill(-gone pgid): -1 errno=3\n"), "{out}");
}

#[test]
fn shell_kill_stop_and_cont_a_background_job() {
    let script = "sleep 0.3 & p=$!; kill -STOP $p; kill -CONT $p; wait $p; echo status $?";
    for sh in ["/bin/sh", "/bin/bash"] {
        let (native, _) = Case::new(sh, ["-c", script]).assert_same();
        assert_eq!(native.stdout_str(), "status 0\n", "{sh}");
    }
}
