//! PI futexes (tests/c/pi_futex.c): the raw FUTEX_*_PI operations and their errors, and
//! PTHREAD_PRIO_INHERIT mutexes contended between threads and robust ones whose owner dies,
//! natively and sandboxed.

use tests::{c_prog, Case};

#[test]
fn pi_futexes_match_linux() {
    let (native, _) = Case::new(c_prog("pi_futex"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(
        out.contains("lock free=OK owner_is_me=1\nlock again=EDEADLK\n"),
        "{out}"
    );
    assert!(out.contains("dead owner=ESRCH\n"), "{out}");
    assert!(out.contains("waiters bit=1 owner ok=1 got=0\n"), "{out}");
    assert!(out.contains("counter=12000\n"), "{out}");
    assert!(
        out.contains("blocked lock at death=EOWNERDEAD\ndone\n"),
        "{out}"
    );
}

#[test]
fn a_robust_mutex_held_across_exec_is_owner_dead() {
    let (native, _) = Case::new(c_prog("robust_exec"), Vec::<&str>::new()).assert_same();
    assert_eq!(
        native.stdout_str(),
        "lock after the holder's exec=EOWNERDEAD\nholder still running=1\n"
    );
}
