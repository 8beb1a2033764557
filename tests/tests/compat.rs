//! Everyday programs run natively and in the sandbox must print the same and exit the same
//! (coreutils, procps-free basics and Debian's python3 at /usr/bin/python3).

use tests::Case;

#[test]
fn echo_hello() {
    Case::new("echo", ["hello"]).assert_same();
}

#[test]
fn ls_la_etc() {
    Case::new("ls", ["-la", "/etc"]).assert_same();
}

#[test]
fn cat_os_release() {
    Case::new("cat", ["/etc/os-release"]).assert_same();
}

#[test]
fn uname_a() {
    Case::new("uname", ["-a"]).assert_same();
}

#[test]
fn id() {
    Case::new("id", Vec::<&str>::new()).assert_same();
}

#[test]
fn env_passes_the_callers_environment() {
    let (_, sandboxed) = Case::new("env", Vec::<&str>::new()).assert_same();
    assert!(sandboxed.stdout_str().contains("RUNSC_TEST=1\n"));
}

#[test]
fn pwd_is_the_callers_directory() {
    let (_, sandboxed) = Case::new("pwd", Vec::<&str>::new())
        .cwd("/usr/share")
        .assert_same();
    assert_eq!(sandboxed.stdout_str(), "/usr/share\n");
}

#[test]
fn wc_l_passwd() {
    Case::new("wc", ["-l", "/etc/passwd"]).assert_same();
}

#[test]
fn sha256sum_bin_ls() {
    Case::new("sha256sum", ["/bin/ls"]).assert_same();
}

#[test]
fn head_c_100_urandom() {
    let case = Case::new("head", ["-c", "100", "/dev/urandom"]);
    let native = case.run_native();
    let sandboxed = case.run_sandboxed();
    assert_eq!((native.status, native.stdout.len()), (0, 100));
    assert_eq!(
        (sandboxed.status, sandboxed.stdout.len()),
        (0, 100),
        "stderr: {}",
        sandboxed.stderr_str()
    );
}

#[test]
fn sleep_0_2() {
    Case::new("sleep", ["0.2"]).assert_same();
}

#[test]
fn python3_json_listdir_and_compute() {
    // Debian's interpreter, not a pyenv shim that would re-exec (fork) through a shell script.
    let python = "/usr/bin/python3";
    assert!(
        std::path::Path::new(python).exists(),
        "{python} is missing: apt-get install python3"
    );
    Case::new(
        python,
        [
            "-c",
            "import sys, os, json; print(json.dumps(sorted(os.listdir(\"/etc\"))[:5]), sum(range(10**6)))",
        ],
    )
    .assert_same();
}
