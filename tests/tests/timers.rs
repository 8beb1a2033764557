//! POSIX timers, CPU time and pidfds (tests/c/posix_timers.c, cputime.c, pidfd.c): the same
//! output and status natively and in the sandbox.

use tests::{c_prog, Case};

#[test]
fn posix_timers_signal_overrun_and_fail_like_linux() {
    let (native, _) = Case::new(c_prog("posix_timers"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    for line in [
        "create raw clock=EOPNOTSUPP\n",
        "create foreign tid=EINVAL\n",
        "settime null=EINVAL\n",
        "wait=1 code_timer=1 timerid_ok=1 overrun=0 value=42\n",
        "default wait=1 code_timer=1 value_is_id=1\n",
        "overrun wait=1 si_overrun>0=1 getoverrun_matches=1\n",
        "realtime abstime settime=ok fired=1\n",
        "boottime past abstime fired=1\n",
        "none expired gettime=0.0\n",
        "thread_id wait=1 code_timer=1 value=7\n",
        "SIGEV_THREAD callback=1 value=99\n",
        "handler code_timer=1 value=5\n",
        "fork child gettime=EINVAL\n",
        "after exec any timer=0\n",
        "done\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}

#[test]
fn cpu_time_is_accounted_and_cpu_timers_fire() {
    let (native, _) = Case::new(c_prog("cputime"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    for line in [
        "children at start zero=1\n",
        "RUSAGE_SELF utime>0=1\n",
        "RUSAGE_THREAD utime>0=1\n",
        "times ok=1 utime>0=1 cutime=0\n",
        "process cputime>0=1 grows=1\n",
        "thread cputime>0=1\n",
        "pthread_getcpuclockid=0 gettime=ok >0=1\n",
        "thread RUSAGE_THREAD utime>0=1\n",
        "wait4 rusage utime>0=1\n",
        "RUSAGE_CHILDREN utime>0=1\n",
        "times cutime>0=1\n",
        "after exec RUSAGE_SELF utime>0=1\n",
        "setitimer bad which=EINVAL\n",
        "ITIMER_VIRTUAL set=ok armed=1 fired=1 disarmed=1\n",
        "ITIMER_PROF set=ok armed=1 fired=1 disarmed=1\n",
        "ITIMER_PROF old interval=20000us\n",
        "cpu timer create=ok fired=1 code_timer=1\n",
        "done\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}

#[test]
fn pidfds_name_a_process_signal_it_poll_its_exit_and_wait_for_it() {
    let (native, _) = Case::new(c_prog("pidfd"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    for line in [
        "open bad flags=EINVAL\n",
        "open child=ok cloexec=1\n",
        "readable while alive=0\n",
        "send bad flags=EINVAL\n",
        "send to stdin=EBADF\n",
        "nonblock waitid alive=EAGAIN\n",
        "readable after death=1\n",
        "killed waitid=ok pid_ok=1 code=2 status=15\n",
        "send after reap=ESRCH\n",
        "open reaped=ESRCH\n",
        "clone CLONE_PIDFD=ok fd_set=1 cloexec=1\n",
        "clone waitid=ok pid_ok=1 code=1 status=7\n",
        "clone3 waitid=ok pid_ok=1 code=1 status=9\n",
        "getfd write=1 read=1 byte=x\n",
        "done\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}
