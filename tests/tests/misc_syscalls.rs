//! Assorted file and system syscalls (tests/c/misc_syscalls.c): preadv2/pwritev2, readahead,
//! the old getdents, mlockall/mlock2, chroot and getcwd, sethostname's errors: the same
//! natively and in the sandbox. And sethostname/setdomainname for real, in the sandbox only
//! (natively it would rename the host).

use tests::{c_prog, runsc_bin, Case};

#[test]
fn misc_syscalls_match_linux() {
    let (native, _) = Case::new(c_prog("misc_syscalls"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    for line in [
        "preadv2 nowait empty pipe=EAGAIN\n",
        "getdents entries=6: [. type=4] [.. type=4]",
        "getcwd after ..=/\n",
        "unprivileged chroot=EPERM\n",
        "done\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in {out}");
    }
}

#[test]
fn sethostname_renames_the_sandbox_only() {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let out = std::process::Command::new(runsc_bin())
        .args([
            "do",
            "--",
            "/bin/sh",
            "-c",
            "hostname renamed-box && uname -n && cat /proc/sys/kernel/hostname && \
             domainname nis.example && domainname",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "renamed-box\nrenamed-box\nnis.example\n"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host,
        "the host's name is untouched"
    );
}
