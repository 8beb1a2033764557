//! sched_setattr/sched_getattr, ioprio_set/ioprio_get and get_robust_list
//! (tests/c/sched_attr.c): sizes, flags, permission rules and the agreement with
//! sched_setscheduler/setpriority, the same natively and in the sandbox.

use tests::{c_prog, Case};

#[test]
fn sched_attr_ioprio_and_robust_list_match_linux() {
    let (native, _) = Case::new(c_prog("sched_attr"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(!out.contains("child failed"), "{out}");
    assert!(!out.contains("failed\n"), "{out}");
    for line in [
        "setattr size 40=E2BIG size now=56\n",
        "setattr size 64 tail=E2BIG size now=56\n",
        "setattr DEADLINE no params=EINVAL\n",
        "after FIFO: getattr=ok size=56 policy=1 flags=0 nice=0 prio=10 runtime>0=0 sched=1 nice=7\n",
        "with reset: getattr=ok size=56 policy=2 flags=1",
        "unprivileged out of IDLE=EPERM\n",
        "set 3=EINVAL get=0\n",
        "pgrp best=4002\n",
        "RT without=EPERM\n",
        "get sibling=ok set=1 differs=1\n",
        "child on parent (uid 1000)=EPERM\n",
        "done\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in {out}");
    }
}
