//! Signal delivery (signal(7)): handlers and their frames, masks, sigsuspend, sigaltstack,
//! fault signals, sigtimedwait, queued real-time signals, itimers and syscall restarts; the
//! sandbox must print exactly what Linux prints.

use tests::{c_prog, Case};

#[test]
fn signal_delivery_matches_linux() {
    let (native, _) = Case::new(c_prog("signals"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(out.contains("raise_kill hits=2\n"), "{out}");
    assert!(out.contains("read restart r=1 c=x\n"), "{out}");
    assert!(out.ends_with("done\n"), "{out}");
}

#[test]
fn rt_sigreturn_restores_fp_registers() {
    let (native, _) = Case::new(c_prog("signals_fp"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0);
    assert!(native.stdout_str().contains("xmm8 restored=1\n"));
    assert!(native.stdout_str().contains("handler saw xmm8 ok=1"));
    assert!(native.stdout_str().contains("uc_fp_xstate=1 magic2=1\n"));
}

#[test]
fn fatal_signals_kill_like_linux() {
    for (mode, sig) in [
        ("segv_blocked", libc::SIGSEGV),
        ("segv_ignored", libc::SIGSEGV),
        ("term", libc::SIGTERM),
        ("no_restorer", libc::SIGSEGV),
    ] {
        let (native, _) = Case::new(c_prog("signal_fatal"), [mode]).assert_same();
        assert_eq!(native.status, 128 + sig, "{mode}");
    }
}

#[test]
fn signals_cross_processes_and_threads() {
    let (native, _) = Case::new(c_prog("signals_procs"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    assert!(native
        .stdout_str()
        .contains("sigsuspend child exited=1 code=11\n"));
    assert!(native
        .stdout_str()
        .contains("pthread_kill handler_on_thread=1\n"));
}
