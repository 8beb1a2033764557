//! /proc/sysvipc/{shm,sem,msg} and the IPC limits in /proc/sys/kernel (tests/c/sysvipc_proc.c):
//! headers, rows (ids, keys, times, pids and owners as relations) and column alignment are the
//! same natively and sandboxed.

use tests::{c_prog, Case};

#[test]
fn sysvipc_proc_files_match_linux() {
    let (native, _) = Case::new(c_prog("sysvipc_proc"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(
        out.contains("shm row: KEY ID 600 5000 SELF SELF 1 ME ME ME ME NOW 0 NOW 8192 0\n"),
        "{out}"
    );
    assert!(
        out.contains("sem row: KEY ID 640 3 ME ME ME ME NOW NOW\n"),
        "{out}"
    );
    assert!(out.contains("msg fields=14/14 aligned=1\n"), "{out}");
    assert!(
        out.contains("sem: 32000\t1024000000\t500\t32000\n"),
        "{out}"
    );
}
