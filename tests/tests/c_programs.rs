//! Static C programs of our own (`tests/c/`, built by `build.rs`) run natively and in the
//! sandbox: same output, same exit status.

use tests::{c_prog, Case};

#[test]
fn hello_static_writes_and_exits_3() {
    let (native, _) = Case::new(c_prog("hello_static"), Vec::<&str>::new()).assert_same();
    assert_eq!(
        (native.stdout_str().as_str(), native.status),
        ("hello from a static binary\n", 3)
    );
}

#[test]
fn syscalls_basic() {
    let (native, _) = Case::new(c_prog("syscalls_basic"), Vec::<&str>::new())
        .cwd("/usr")
        .assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    assert!(native.stdout_str().contains("getcwd=/usr\n"));
}

#[test]
fn syscalls_basic_static_pie() {
    let (native, _) = Case::new(c_prog("syscalls_basic_pie"), Vec::<&str>::new())
        .cwd("/usr")
        .assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
}

#[test]
fn exit_code_42() {
    let (native, _) = Case::new(c_prog("exit_code"), ["42"]).assert_same();
    assert_eq!(native.status, 42);
}

#[test]
fn abort_is_128_plus_sigabrt() {
    let (native, _) = Case::new(c_prog("abort"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 128 + libc::SIGABRT);
}
