//! mount(2), umount2(2), pivot_root(2) and mount namespaces from inside (tests/c/mounts*.c):
//! tmpfs with options and size/inode limits, proc, bind mounts (recursive or not) of
//! directories and files, remounts, nosuid/nodev/noexec, propagation types, stacked mounts,
//! EBUSY and MNT_DETACH, unshare(CLONE_NEWNS), /proc/self/mountinfo. Natively in a private
//! mount namespace; the same output sandboxed, where nothing reaches the host.

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

#[test]
fn tmpfs_size_and_inode_limits_match_linux() {
    assert!(nix::unistd::geteuid().is_root(), "needs root");
    let (native, _) = Case::new(c_prog("mounts_tmpfs_size"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    for line in [
        "write 100000=65536 \n",
        "write when full=-1 ENOSPC\n",
        "fallocate 100k=ENOSPC\n",
        "after fallocate: bsize=4096 blocks=16 bfree=10 bavail=10 files=6 ffree=4\n",
        "create #5=ENOSPC\n",
        "done\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in {out}");
    }
}

#[test]
fn noexec_nosuid_nodev_and_their_mountinfo_match_linux() {
    assert!(nix::unistd::geteuid().is_root(), "needs root");
    let (native, _) = Case::new(c_prog("mounts_flags"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    for line in [
        "mountinfo: rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,size=4096k,mode=755\n",
        "exec on noexec: execve=EACCES\n",
        "mmap exec=EPERM\n",
        "mprotect +exec=EACCES\n",
        "setuid on nosuid: uid 0 0 0 gid 0 0 0 secure 0\n",
        "setuid honoured: uid 0 1000 1000 gid 0 1000 1000 secure 1\n",
        "mountinfo: ro,noatime - tmpfs tmpfs rw,size=4096k,mode=755\n",
        "open null on nodev=EACCES\n",
        "done\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in {out}");
    }
}

#[test]
fn recursive_and_plain_bind_mounts_match_linux() {
    assert!(nix::unistd::geteuid().is_root(), "needs root");
    let (native, _) = Case::new(c_prog("mounts_rbind"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    for line in [
        "b/sub/in-sub=ENOENT\n",
        "b/sub/x/in-x=x\n",
        "  b/sub/x: root=/ opts=rw,nodev,relatime mounts=1\n",
        "  c: root=/dir opts=rw,relatime mounts=1\n",
        "bind of it=EINVAL\n",
        "f/sub/x/in-x=ENOENT\n",
        "b/in/f=moved\n",
        "move below itself=ELOOP\n",
        "  c: root=/ opts=rw,noexec,relatime mounts=1\n",
        "done\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in {out}");
    }
}

#[test]
fn propagation_types_in_mountinfo_match_linux() {
    assert!(nix::unistd::geteuid().is_root(), "needs root");
    let (native, _) = Case::new(c_prog("mounts_propagation"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    for line in [
        "b peer of a=1\n",
        "b's master is a's group=1\n",
        "  b: shared master\n",
        "c slave of a's group too=1\n",
        "  a: unbindable\n",
        "shared|private=EINVAL\n",
        "  at the peer q=1, at the slave r=1\n",
        "  written at q, read at r=one filesystem\n",
        "  at p=0, at q=0\n",
        "  at s/e=1, at q/sub/e=1\n",
        "  q/x=1 q/x/s=1 r/x/s=1 q/x/s/f=deep\n",
        "done\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in {out}");
    }
}

#[test]
fn mount_namespaces_and_pivot_root_match_linux() {
    assert!(nix::unistd::geteuid().is_root(), "needs root");
    let (native, _) = Case::new(c_prog("mounts_ns"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    for line in [
        "parent: sees the kid's mount=0\n",
        "parent: kid's mountinfo lists it=1\n",
        "kid: sees the parent's later mount=0\n",
        "parent: still has the one the kid unmounted=1\n",
        "kid: sees the parent's mount below the shared one=1\n",
        "parent: sees the kid's=1\n",
        "clone parent: sees the kid's=0\n",
        "new_root not a mount point=EINVAL\n",
        "new_root on the root mount=EBUSY\n",
        "pivot_root=ok\n",
        "cwd below /old=yes\n",
        "umount -l /old=ok\n",
        "  mount / root=/newroot tmpfs\n",
        "dot: pivot_root(., .)=ok\n",
        "dot: umount2(., MNT_DETACH)=ok\n",
        "dot: old root gone=ENOENT\n",
        "  mount /sub root=/ tmpfs\n",
        "done\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in {out}");
    }
}
