//! mount(2) and umount2(2) from inside (tests/c/mounts.c): tmpfs with options, proc, bind
//! mounts of directories and files, read-only remounts, stacked mounts, EBUSY and MNT_DETACH,
//! /proc/self/mountinfo. Natively in a private mount namespace; the same output sandboxed,
//! where nothing reaches the host.

use tests::{c_prog, Case};

#[test]
fn mount_and_umount_match_linux() {
    assert!(nix::unistd::geteuid().is_root(), "needs root");
    let (native, _) = Case::new(c_prog("mounts"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    for line in [
        "root mode=700 uid=5 gid=6\n",
        "write on the ro bind=EROFS\n",
        "first's file back=first\n",
        "umount with a mount below=EBUSY\n",
        "seen at the target=file one\n",
        "unprivileged mount=EPERM\n",
        "done\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in {out}");
    }
}
