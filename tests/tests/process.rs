//! The process model: fork, vfork, posix_spawn, execve, threads and futexes, wait4/waitid,
//! reparenting, process groups and sessions (tests/c/process_model.c), and real programs that
//! need them (shells, pipelines, python threading and subprocess), native vs sandboxed.

use tests::{c_prog, Case};

fn model(case: &str) -> String {
    let (native, _) = Case::new(c_prog("process_model"), [case]).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    native.stdout_str()
}

#[test]
fn fork_and_wait4_report_exit_codes_and_signals() {
    let out = model("fork_exit_codes");
    assert!(out.contains("fork exit: exited 7\n"), "{out}");
    assert!(out.contains("fork kill: signaled 9\n"), "{out}");
}

#[test]
fn fork_copies_memory_copy_on_write() {
    let out = model("cow_after_fork");
    assert!(out.contains("cow parent sees global=10 heap=5\n"), "{out}");
}

#[test]
fn fork_child_keeps_the_fpu_control_state() {
    let out = model("fpu_control_after_fork");
    assert!(
        out.contains("child: sse rounding 2, x87 rounding 1\n"),
        "{out}"
    );
    assert!(
        out.contains("parent: sse rounding 2, x87 rounding 1\n"),
        "{out}"
    );
}

#[test]
fn getppid_in_child_is_the_parent() {
    assert!(model("getppid_in_child").contains("getppid is parent: exited 0\n"));
}

#[test]
fn vfork_then_exit_or_exec() {
    let out = model("vfork_then_exit_and_exec");
    assert!(
        out.contains("from vfork+exec\nvfork exec: exited 0\n"),
        "{out}"
    );
}

#[test]
fn posix_spawn_runs_echo() {
    let out = model("spawn_echo");
    assert!(out.contains("from posix_spawn\n"), "{out}");
}

#[test]
fn execve_passes_argv_and_envp() {
    let out = model("execve_with_env");
    assert!(
        out.contains("argv1=zero env=hello-env\nexecve sh: exited 4\n"),
        "{out}"
    );
}

#[test]
fn threads_share_a_mutex() {
    let out = model("threads_with_mutex");
    assert!(
        out.contains("threads: count=80000 distinct_tids=4\n"),
        "{out}"
    );
}

#[test]
fn execve_from_a_thread_replaces_the_whole_process() {
    let out = model("exec_from_thread");
    assert!(
        out.contains("exec from a thread\nexec from thread: exited 0\n"),
        "{out}"
    );
}

#[test]
fn process_shared_and_robust_mutexes() {
    let out = model("shared_and_robust_mutex");
    assert!(out.contains("shared mutex count=15000\n"), "{out}");
    assert!(out.contains("owner died: EOWNERDEAD\n"), "{out}");
}

#[test]
fn process_outlives_its_leader_thread() {
    let out = model("leader_exits_first");
    assert!(
        out.contains("late thread still runs\nleader exits first: exited 0\n"),
        "{out}"
    );
}

#[test]
fn orphans_are_reparented_to_the_subreaper() {
    let out = model("orphan_reparenting");
    assert!(out.contains("grandchild: exited 21\n"), "{out}");
}

#[test]
fn wnohang_waitid_and_echild() {
    let out = model("wnohang_and_waitid");
    assert!(out.contains("wnohang running: 0\n"), "{out}");
}

#[test]
fn sessions_and_process_groups() {
    assert!(model("sessions_and_groups").contains("sessions: exited 0\n"));
}

#[test]
fn prctl_name_and_friends() {
    assert!(model("prctl_names").contains("name=renamed-proc-xy\n"));
}

#[test]
fn orphan_in_the_sandbox_is_adopted_by_init() {
    // Natively init is the host's; in the sandbox the program itself is pid 1.
    let o = Case::new(c_prog("process_model"), ["orphan_to_init"]).run_sandboxed();
    assert_eq!(o.status, 0, "{}", o.stderr_str());
    assert_eq!(o.stdout_str(), "orphan ppid=1\n");
}

#[test]
fn sandbox_ends_when_init_exits() {
    let started = std::time::Instant::now();
    // The background job outlives the bound by far, so that a loaded machine's slow start
    // cannot pass for a wait for it.
    let o = Case::new("/bin/sh", ["-c", "sleep 600 & echo started"]).run_sandboxed();
    assert_eq!((o.status, o.stdout_str().as_str()), (0, "started\n"));
    assert!(started.elapsed() < std::time::Duration::from_secs(50));
}

#[test]
fn shell_runs_two_commands() {
    let (native, _) = Case::new("/bin/sh", ["-c", "echo a; echo b"]).assert_same();
    assert_eq!(native.stdout_str(), "a\nb\n");
}

#[test]
fn shell_exit_status() {
    let (native, _) = Case::new("/bin/sh", ["-c", "exit 3"]).assert_same();
    assert_eq!(native.status, 3);
}

#[test]
fn shell_pipeline() {
    let (native, _) = Case::new("/bin/sh", ["-c", "ls /etc | wc -l"]).assert_same();
    assert_eq!(native.status, 0);
}

#[test]
fn python_threading() {
    let code = "import threading\nr=[]\nl=threading.Lock()\n\
                def f(i):\n    with l: r.append(i*i)\n\
                ts=[threading.Thread(target=f,args=(i,)) for i in range(8)]\n\
                [t.start() for t in ts]\n[t.join() for t in ts]\nprint(sorted(r))";
    let (native, _) = Case::new("python3", ["-c", code]).assert_same();
    assert_eq!(native.stdout_str(), "[0, 1, 4, 9, 16, 25, 36, 49]\n");
}

#[test]
fn python_subprocess_run() {
    let code = "import subprocess\nr=subprocess.run(['echo','x'],capture_output=True)\n\
                print(r.returncode, r.stdout)";
    let (native, _) = Case::new("python3", ["-c", code]).assert_same();
    assert_eq!(native.stdout_str(), "0 b'x\\n'\n");
}

/// Many live threads: one sentry thread each, so the sentry's own malloc sees many threads too
/// (it once read a /sys file for that and was killed by its own seccomp filter).
#[test]
fn two_dozen_threads_allocate_at_once() {
    let (native, _) = Case::new(c_prog("many_threads"), Vec::<&str>::new()).assert_same();
    assert!(native.stdout_str().starts_with("threads 24 total "));
}
