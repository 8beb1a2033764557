//! Credentials and scheduling attributes (tests/c/creds_sched.c): the set*id family with its
//! permission rules and capability fix-ups, nice values, scheduling policies and personality,
//! the same natively and in the sandbox.

use tests::{c_prog, Case};

#[test]
fn setid_nice_sched_and_personality_match_linux() {
    let (native, _) = Case::new(c_prog("creds_sched"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(!out.contains("child failed"), "{out}");
    for line in [
        "after setreuid: uid=1000/1001/1001 fsuid=1001",
        "setuid(0)=EPERM\n",
        "getgroups=3 10 20 30\n",
        "fs caps dropped=1\n",
        "unprivileged to -10=EACCES\n",
        "policy=5\n",
        "child query=40000\n",
        "done\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in {out}");
    }
}
