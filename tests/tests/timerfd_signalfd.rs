//! timerfd and signalfd (tests/c/timerfd_signalfd.c): the same output and status natively and
//! in the sandbox.

use tests::{c_prog, Case};

#[test]
fn timerfd_counts_expirations_and_wakes_pollers() {
    let (native, _) = Case::new(c_prog("timerfd_signalfd"), ["timerfd"]).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(out.contains("one-shot read=8 count=1\n"), "{out}");
    assert!(out.contains("interval read=8 count>=4:1\n"), "{out}");
    assert!(out.contains("gettime disarmed=0.0/0.0\n"), "{out}");
    assert!(out.contains("nonblock unarmed read=EAGAIN\n"), "{out}");
    assert!(out.contains("epoll wait=1 data=7\n"), "{out}");
}

#[test]
fn signalfd_reads_blocked_pending_signals() {
    let (native, _) = Case::new(c_prog("timerfd_signalfd"), ["signalfd"]).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(out.contains("empty read=EAGAIN\n"), "{out}");
    assert!(out.contains("poll pending=1 revents=0x1\n"), "{out}");
    assert!(
        out.contains("read=128 signo=10 code=-6 pid_ok=1 uid_ok=1\n"),
        "{out}"
    );
    assert!(out.contains("usr2 read=128 signo=12\n"), "{out}");
    assert!(out.contains("epoll pending=1\n"), "{out}");
}
