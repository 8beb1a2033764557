//! Pipes, poll/select/epoll and eventfd within one process (tests/c/pipes.c, tests/c/polling.c):
//! the same output and status natively and in the sandbox.

use tests::{c_prog, Case};

#[test]
fn pipes_in_one_process() {
    let (native, _) = Case::new(c_prog("pipes"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(out.contains("getpipe_sz=65536\n"), "{out}");
    assert!(out.contains("empty nonblock read=EAGAIN\n"), "{out}");
    assert!(out.contains("proc link matches=1\n"), "{out}");
}

#[test]
fn poll_select_epoll_eventfd() {
    let (native, _) = Case::new(c_prog("polling"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(out.contains("poll timeout=0 waited>=45:1\n"), "{out}");
    assert!(out.contains("edge wait2=0\n"), "{out}");
}

#[test]
fn shell_pipelines_between_processes() {
    let script = "echo hello | tr a-z A-Z; seq 1 100000 | wc -l; \
                  yes | head -c 300000 | wc -c; ls / | cat | head -n 1 >/dev/null; echo $?";
    let (native, _) = Case::new("/bin/sh", ["-c", script]).assert_same();
    assert_eq!(native.stdout_str(), "HELLO\n100000\n300000\n0\n");
}
