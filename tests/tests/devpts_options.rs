//! devpts mount options (tests/c/devpts_options.c): `gid=`, `mode=`, `ptmxmode=`, `uid=` and
//! `max=` of a devpts mounted with mount(2), as runc's spec asks
//! (`newinstance,ptmxmode=0666,mode=0620,gid=5`), applied to new /dev/pts/N nodes and the ptmx
//! node and shown in mountinfo as Linux prints them. Natively in a private mount namespace with
//! fresh devpts instances; the same output sandboxed.

use tests::{c_prog, Case};

#[test]
fn devpts_options_match_linux() {
    assert!(nix::unistd::geteuid().is_root(), "needs root");
    let (native, _) = Case::new(c_prog("devpts_options"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    for line in [
        "devpts devpts rw,gid=5,mode=620,ptmxmode=666\n",
        "pair #0: chr=1 mode=620 uid=mine gid=5\n",
        "ptmx: chr=1 mode=000 uid=mine gid=0\n",
        "pair #2: open ptmx=ENOSPC\n",
        "bogus=EINVAL\n",
        "done\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in {out}");
    }
}
