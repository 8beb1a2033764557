//! Usage errors of `runsc do` (clap, see `runsc/src/cli.rs`): an unknown flag before the program
//! is one line on stderr and status 2, never taken for the program's name.

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
fn unknown_flag_of_do_is_one_line_usage_error_2() {
    let (code, err) = runsc(&["do", "--frob", "--", "/bin/true"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("runsc: "), "{err}");
    assert!(err.contains("--frob"), "{err}");
    assert!(!err.contains("command not found"), "{err}");
}

#[test]
fn unknown_short_flag_of_do_is_a_usage_error_too() {
    let (code, err) = runsc(&["do", "-z", "/bin/true"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
