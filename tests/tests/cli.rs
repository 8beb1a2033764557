//! The `runsc` command line: global flags before the subcommand, `--strace` output, one-line
//! errors mirrored to a json `--log` as containerd reads it.

use std::process::{Command, Stdio};

use tests::{c_prog, runsc_bin, unique_tmp_path, Case};

fn runsc(args: &[&str]) -> tests::Outcome {
    let mut cmd = Command::new(runsc_bin());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    tests::run(cmd, tests::DEFAULT_TIMEOUT, &format!("runsc {args:?}"))
}

#[test]
fn help_lists_do_but_not_the_internal_commands() {
    let o = runsc(&["--help"]);
    assert_eq!(o.status, 0);
    let help = o.stdout_str();
    assert!(help.contains("do"), "{help}");
    assert!(!help.contains("boot") && !help.contains("gofer"), "{help}");
}

#[test]
fn usage_error_is_one_line_and_status_2() {
    let o = runsc(&["do"]);
    assert_eq!(o.status, 2);
    assert_eq!(o.stderr_str().lines().count(), 1, "{}", o.stderr_str());
}

#[test]
fn unsupported_platform_is_one_line_and_a_json_log_error() {
    let log = unique_tmp_path("runsc-log").with_extension("json");
    let log_s = log.to_str().unwrap();
    let o = runsc(&[
        "--log",
        log_s,
        "--log-format",
        "json",
        "--platform",
        "kvm",
        "do",
        "--",
        "/bin/true",
    ]);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert_eq!(o.status, 125);
    assert_eq!(o.stderr_str().lines().count(), 1, "{}", o.stderr_str());
    assert!(o.stderr_str().contains("kvm"));
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.starts_with('{') && last.contains("\"level\":\"error\"") && last.contains("kvm"),
        "{text}"
    );
}

fn strace_lines(stderr: &str, name: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.contains(&format!("] {name}(")))
        .count()
}

#[test]
fn strace_prints_one_line_per_syscall_to_stderr() {
    let o = Case::new(c_prog("hello_static"), Vec::<&str>::new()).run_sandboxed_with(&["--strace"]);
    assert_eq!(
        (o.status, o.stdout_str().as_str()),
        (3, "hello from a static binary\n"),
        "{}",
        o.stderr_str()
    );
    let err = o.stderr_str();
    assert_eq!(strace_lines(&err, "write"), 1, "{err}");
    assert!(
        err.lines().any(
            |l| l.contains("] write(1, \"hello from a static binary\\n\"") && l.contains(") = 27")
        ),
        "{err}"
    );
    assert!(strace_lines(&err, "brk") >= 1, "{err}");
}

#[test]
fn strace_syscalls_restricts_the_trace() {
    let o = Case::new(c_prog("hello_static"), Vec::<&str>::new())
        .run_sandboxed_with(&["--strace-syscalls=write"]);
    assert_eq!(o.status, 3, "{}", o.stderr_str());
    let err = o.stderr_str();
    assert_eq!(strace_lines(&err, "write"), 1, "{err}");
    assert_eq!(strace_lines(&err, "brk"), 0, "{err}");
}

#[test]
fn strace_goes_to_the_debug_log_when_one_is_set() {
    let dir = unique_tmp_path("runsc-debug-log");
    let mut dir_arg = dir.to_string_lossy().into_owned();
    dir_arg.push('/');
    let o = Case::new(c_prog("hello_static"), Vec::<&str>::new()).run_sandboxed_with(&[
        "--strace",
        "--debug",
        "--debug-log",
        &dir_arg,
    ]);
    let logged: String = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(o.status, 3, "{}", o.stderr_str());
    assert_eq!(
        strace_lines(&o.stderr_str(), "write"),
        0,
        "{}",
        o.stderr_str()
    );
    assert_eq!(strace_lines(&logged, "write"), 1, "{logged}");
}

#[test]
fn network_host_is_accepted() {
    let o = Case::new(c_prog("hello_static"), Vec::<&str>::new())
        .run_sandboxed_with(&["--network", "host"]);
    assert_eq!(o.status, 3, "{}", o.stderr_str());
}

/// A command line that does not parse (an unknown flag) is one line on stderr, status 2, and,
/// with `--log` and `--log-format json` before the subcommand, an error line in that log too.
#[test]
fn unknown_flag_is_one_line_and_a_json_log_error() {
    let log = unique_tmp_path("runsc-usage-log").with_extension("json");
    let log_s = log.to_str().unwrap();
    let o = runsc(&[
        "--root",
        "/nonexistent-runsc-root",
        "--log",
        log_s,
        "--log-format",
        "json",
        "create",
        "--no-such-flag",
        "x",
    ]);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert_eq!(o.status, 2, "{}", o.stderr_str());
    let err = o.stderr_str();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--no-such-flag"), "{err}");
    assert_eq!(text.lines().count(), 1, "{text}");
    let line: serde_json::Value = serde_json::from_str(text.trim()).expect("a json line");
    assert_eq!(line["level"], "error", "{text}");
    let msg = line["msg"].as_str().unwrap_or_default();
    assert!(msg.contains("--no-such-flag"), "{text}");
    assert_eq!(format!("runsc: {msg}"), err.trim_end(), "the same message");

    // Without --log nothing is written anywhere but stderr; the flags after the subcommand
    // are the command's, not runsc's.
    let o = runsc(&["create", "--log", log_s, "--bogus", "x"]);
    assert_eq!(o.status, 2);
    assert!(!log.exists(), "a subcommand's argument was taken for --log");
}
