//! seccomp(2) for the application (tests/c/seccomp_filter.c): the filter checker, every action,
//! strict mode, stacking, TSYNC, inheritance over fork and execve and /proc/self/status, the
//! same natively and in the sandbox, where the sentry runs the filters.

use tests::{c_prog, Case};

#[test]
fn seccomp_filters_match_linux() {
    let (native, _) = Case::new(c_prog("seccomp_filter"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    for line in [
        "no_nnp=EACCES\n",
        "jump_out=EINVAL\n",
        "avail_00010000=EOPNOTSUPP\n",
        "getpid=ENOMSG\n",
        "errno child Seccomp:\t2\n",
        "grandchild getpid=ENOMSG\n",
        "after exec getpid=ENOMSG\n",
        "sigsys: signo=31 code=1 errno=85 syscall=110 arch_ok=1 call_addr_set=1\n",
        "after trap: ret=110\n",
        "kill process: signaled 31\n",
        "kill thread: signaled 31\n",
        "trap blocked: signaled 31\n",
        "in strict mode\nstrict getpid: signaled 9\n",
        "strict exit: exited 3\n",
        "getuid newest of equals=errno9\n",
        "gettid trace=ENOSYS\n",
        "dup(0)=EPERM\n",
        "stacked Seccomp_filters:\t11\n",
        "tsync thread getuid=EACCES\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}
