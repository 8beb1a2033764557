//! The hidden `boot` and `gofer` subcommands fail cleanly (one line, status 125) when started
//! by hand with descriptors that are not what the front end would pass. Being an integration
//! test of this package also makes `cargo test` build the `runsc` binary that `tests/` runs.

use std::process::{Command, Stdio};

fn runsc(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_runsc"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn boot_with_closed_descriptors_is_one_line_125() {
    let (code, err) = runsc(&["boot", "--io-fd", "900", "--spec-fd", "901"]);
    assert_eq!(code, 125, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("runsc: "), "{err}");
}

#[test]
fn boot_refuses_stdio_as_its_descriptors() {
    let (code, err) = runsc(&["boot", "--io-fd", "1", "--spec-fd", "0"]);
    assert_eq!(code, 125, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn gofer_with_a_closed_descriptor_is_one_line_125() {
    let (code, err) = runsc(&["gofer", "--root", "/", "--io-fd", "900"]);
    assert_eq!(code, 125, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn version_prints() {
    let (code, _) = runsc(&["--version"]);
    assert_eq!(code, 0);
}
