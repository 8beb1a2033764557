//! splice/tee/vmsplice, openat2 and inotify (tests/c/splice.c, openat2.c, inotify.c): each
//! compat program prints one line per case, natively and sandboxed, on a tmpfs directory
//! (/dev/shm) and on a directory of the root file system (/var/tmp, the overlay in the sandbox).

use tests::{c_prog, Case};

#[test]
fn splice_tee_vmsplice_match_native() {
    let (native, _) = Case::new(c_prog("splice"), ["/dev/shm", "/var/tmp"]).assert_same();
    assert_eq!(native.status, 0, "{}", native.stderr_str());
    let out = native.stdout_str();
    assert!(out.contains("after tee a=6 b=6\n"), "{out}");
    assert!(out.contains("root big: moved=200000 same=1\n"), "{out}");
    assert!(out.contains("passwd read=4 'root'\n"), "{out}");
}

#[test]
fn openat2_matches_native() {
    let (native, _) = Case::new(c_prog("openat2"), ["/dev/shm", "/var/tmp"]).assert_same();
    assert_eq!(native.status, 0, "{}", native.stderr_str());
    let out = native.stdout_str();
    assert!(out.contains("size 32 tail: E2BIG\n"), "{out}");
    assert!(out.contains("inroot abs: ok 'inside'\n"), "{out}");
    assert!(out.contains("magic link nomagic: ELOOP\n"), "{out}");
}

#[test]
fn inotify_matches_native() {
    let (native, _) = Case::new(c_prog("inotify"), ["/dev/shm", "/var/tmp"]).assert_same();
    assert_eq!(native.status, 0, "{}", native.stderr_str());
    let out = native.stdout_str();
    assert!(
        out.contains("MOVED_TO cookie=same name='a_renamed_longer_name' len=32\n"),
        "{out}"
    );
    assert!(
        out.contains("  wd=2 DELETE_SELF cookie=- name='' len=0\n"),
        "{out}"
    );
    assert!(out.contains("name='from_child' len=16\n"), "{out}");
}
