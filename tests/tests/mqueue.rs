//! POSIX message queues (tests/c/mqueue.c): mq_open errors and defaults, priority order,
//! non-blocking and timed operations, mq_notify, mq_getsetattr, poll and read(2) of a queue
//! descriptor, natively and sandboxed; the mqueue filesystem in the sandbox.

use tests::{c_prog, Case};

#[test]
fn message_queues_match_linux() {
    let (native, _) = Case::new(c_prog("mqueue"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(
        out.contains("recv b5 prio=5\nrecv d5 prio=5\nrecv a1 prio=1\n"),
        "{out}"
    );
    assert!(
        out.contains("signal=1 code_mesgq=1 value=77 pid_ok=1\n"),
        "{out}"
    );
    assert!(
        out.contains("poll woken=1 in=1\nblocked recv late prio=9\n"),
        "{out}"
    );
}

#[test]
fn queues_show_in_mqueue_filesystems() {
    let out = Case::new(c_prog("mqueue"), ["fs"]).run_sandboxed_with(&[]);
    let text = out.stdout_str();
    assert_eq!(out.status, 0, "{text}{}", out.stderr_str());
    assert!(text.contains("listed in /dev/mqueue=1\n"), "{text}");
    assert!(text.contains("stat=0 mode=100640\n"), "{text}");
    assert!(
        text.contains("read=60 QSIZE:3          NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n"),
        "{text}"
    );
    assert!(
        text.contains("mount=OK\nin new mount=1\nunlink via fs=OK\n"),
        "{text}"
    );
    assert!(text.contains("after unlink open=ENOENT\n"), "{text}");
}
