//! Process-model compat (tests/c/futex_shared.c, tests/c/sleep_restart.c, tests/c/rlimits.c):
//! futexes shared between processes through shared memory mapped at any address, nanosleep and
//! clock_nanosleep interrupted and restarted as Linux does, RLIMIT_NPROC and RLIMIT_AS. Same
//! output natively and sandboxed.

use tests::{c_prog, Case};

#[test]
fn futexes_shared_between_processes() {
    let (native, _) = Case::new(c_prog("futex_shared"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(
        out.contains("anon shared ping-pong: child=0 word=2000\n"),
        "{out}"
    );
    assert!(
        out.contains("memfd ping-pong at another address: child=0 word=2000\n"),
        "{out}"
    );
    assert!(
        out.contains("other shared anon object at the same address: wait=ETIMEDOUT child woke=0\n"),
        "{out}"
    );
    assert!(
        out.contains("private memory at the same address: wait=ETIMEDOUT child woke=0\n"),
        "{out}"
    );
    assert!(
        out.contains("process-shared mutex/condvar: child=0 count=2000\n"),
        "{out}"
    );
}

#[test]
fn sleeps_are_interrupted_and_restarted() {
    let (native, _) = Case::new(c_prog("sleep_restart"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(
        out.contains("nanosleep handled sa_restart=1: r=-1 EINTR rem_ok=1 got=1\n"),
        "{out}"
    );
    assert!(
        out.contains("nanosleep handled bad rem: r=-1 EFAULT\n"),
        "{out}"
    );
    assert!(
        out.contains("clock_nanosleep clock=0 absolute: EINTR rem untouched=1\n"),
        "{out}"
    );
    assert!(
        out.contains("stop/cont relative monotonic: 0 full=1\n"),
        "{out}"
    );
    assert!(
        out.contains("stop/cont absolute monotonic: 0 full=1 rem untouched=1\n"),
        "{out}"
    );
}

#[test]
fn rlimits_nproc_and_address_space() {
    // The native run switches to uid 65534, which needs root (as the sandbox does).
    assert!(nix::unistd::geteuid().is_root(), "needs root");
    let (native, _) = Case::new(c_prog("rlimits"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(out.contains("nproc root limit=1: made=2 ok\n"), "{out}");
    assert!(
        out.contains("nproc uid 65534 limit=existing+3: made=2 EAGAIN\n"),
        "{out}"
    );
    assert!(
        out.contains("as: mmap 128MiB over the limit: ENOMEM\n"),
        "{out}"
    );
    assert!(out.contains("as: mremap to 112MiB: ENOMEM\n"), "{out}");
    assert!(out.contains("as: brk +96MiB: unchanged\n"), "{out}");
}

#[test]
fn rlimit_stack_bounds_the_main_stack() {
    let (native, _) = Case::new(c_prog("stack_limit"), Vec::<&str>::new()).assert_same();
    assert_eq!(
        native.stdout_str(),
        "limit 1024 KiB: SIGSEGV after (limit/2, limit]=1\n\
         limit 4096 KiB: SIGSEGV after (limit/2, limit]=1\n\
         done\n"
    );
}
