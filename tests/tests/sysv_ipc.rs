//! System V IPC (tests/c/sysv_ipc.c): shared memory between a parent and its children with
//! attach counts and removal while attached, semaphores between processes (ping-pong, SEM_UNDO
//! at exit, EINTR and EIDRM to blocked waiters), message queues by type, and the errors; the
//! same output and status natively and in the sandbox.

use tests::{c_prog, Case};

#[test]
fn sysv_shm_sem_msg() {
    let (native, _) = Case::new(c_prog("sysv_ipc"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(out.contains("child sees=from parent nattch=2\n"), "{out}");
    assert!(
        out.contains("parent sees=from child nattch after child exit=1\n"),
        "{out}"
    );
    assert!(
        out.contains("after rmid: dest=1 key0=1 nattch=1 data=from parent\n"),
        "{out}"
    );
    assert!(out.contains("stat after last detach=EINVAL\n"), "{out}");
    assert!(out.contains("unprivileged shmget=EACCES\n"), "{out}");
    assert!(out.contains("pingpong ok=1 child=0\n"), "{out}");
    assert!(out.contains("child saw=6 after exit=3\n"), "{out}");
    assert!(out.contains("child interrupted=EINTR\n"), "{out}");
    assert!(out.contains("child after rmid=EIDRM\n"), "{out}");
    assert!(out.contains("  rcv(-2)=type 1 \"one\"\n"), "{out}");
    assert!(out.contains("  rcv(0)=E2BIG\n"), "{out}");
    assert!(out.contains("unprivileged send=EACCES\n"), "{out}");
}

#[test]
fn ipcs_lists_what_the_program_made() {
    assert!(
        std::path::Path::new("/usr/bin/ipcs").exists(),
        "/usr/bin/ipcs missing (apt-get install util-linux)"
    );
    let out = Case::new(c_prog("sysv_ipc"), ["ipcs"]).run_sandboxed();
    let text = out.stdout_str();
    assert_eq!(out.status, 0, "{text}{}", out.stderr_str());
    let line = |needle: &str| text.lines().any(|l| l.contains(needle));
    assert!(line("0x00000000") && line("12345"), "{text}");
    assert!(
        text.contains("Semaphore Arrays") && text.contains("Message Queues"),
        "{text}"
    );
    assert!(line(" 640 "), "{text}");
}
