//! `runsc do` reports a program that cannot run like a shell does: one line on stderr, 127 when
//! it does not exist, 126 when it is not executable.

use tests::Case;

fn assert_one_line_mentioning(stderr: &str, what: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one stderr line, got: {stderr:?}");
    assert!(
        lines[0].contains(what),
        "stderr {stderr:?} does not name {what}"
    );
}

#[test]
fn missing_absolute_program_is_127() {
    let o = Case::new("/nonexistent", Vec::<&str>::new()).run_sandboxed();
    assert_eq!(o.status, 127, "stderr: {}", o.stderr_str());
    assert_one_line_mentioning(&o.stderr_str(), "/nonexistent");
    assert!(o.stdout.is_empty());
}

#[test]
fn program_not_on_path_is_127() {
    let o = Case::new("runsc-no-such-program", Vec::<&str>::new()).run_sandboxed();
    assert_eq!(o.status, 127, "stderr: {}", o.stderr_str());
    assert_one_line_mentioning(&o.stderr_str(), "runsc-no-such-program");
}

#[test]
fn non_executable_file_is_126() {
    let o = Case::new("/etc/passwd", Vec::<&str>::new()).run_sandboxed();
    assert_eq!(o.status, 126, "stderr: {}", o.stderr_str());
    assert_one_line_mentioning(&o.stderr_str(), "/etc/passwd");
}
