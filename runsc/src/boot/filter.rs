//! The seccomp filter of the sentry process (after gVisor's `runsc/boot/filter`; see seccomp(2)
//! and `Documentation/userspace-api/seccomp_filter.rst`): the host syscalls `runsc boot` may
//! make once the sandbox runs.
//!
//! For now this is a DENYLIST: the listed syscalls kill the whole sentry process, everything
//! else is allowed. It already enforces the design's core promise that the sentry never opens a
//! host path nor executes a host program after boot. It becomes an ALLOWLIST (kill on anything
//! not listed, one reason per entry) once the sentry's set of host syscalls has settled.

use std::collections::BTreeMap;

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, SeccompRule, TargetArch};
use thiserror::Error;

/// Why the filter could not be built or installed.
#[derive(Debug, Error)]
pub enum FilterError {
    #[error("building the sentry seccomp filter: {0}")]
    Build(#[source] seccompiler::BackendError),
    #[error("compiling the sentry seccomp filter: {0}")]
    Compile(#[source] seccompiler::BackendError),
    #[error("setting no_new_privs: {0}")]
    NoNewPrivs(#[source] nix::errno::Errno),
    #[error("installing the sentry seccomp filter: {0}")]
    Install(#[source] seccompiler::Error),
}

/// Each denied syscall with the reason it is denied.
pub const DENIED: &[(i64, &str, &str)] = &[
    (
        libc::SYS_open,
        "open",
        "files reach the sentry only from the gofer, as donated fds",
    ),
    (
        libc::SYS_openat,
        "openat",
        "files reach the sentry only from the gofer, as donated fds",
    ),
    (
        libc::SYS_openat2,
        "openat2",
        "files reach the sentry only from the gofer, as donated fds",
    ),
    (libc::SYS_creat, "creat", "creates a host file by path"),
    (
        libc::SYS_execve,
        "execve",
        "the sentry never runs host programs after boot",
    ),
    (
        libc::SYS_execveat,
        "execveat",
        "the sentry never runs host programs after boot",
    ),
];

fn target_arch() -> TargetArch {
    // The workspace builds for x86_64 only (the syscall table is x86_64's).
    TargetArch::x86_64
}

/// The filter as a BPF program (built before it is installed, so that installing allocates
/// nothing).
pub fn build() -> Result<BpfProgram, FilterError> {
    let rules: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|&(nr, _, _)| (nr, Vec::new())).collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,       // not listed: allowed (denylist, for now)
        SeccompAction::KillProcess, // listed: kill every thread of the sentry
        target_arch(),
    )
    .map_err(FilterError::Build)?;
    filter.try_into().map_err(FilterError::Compile)
}

/// Sets `no_new_privs` and installs `prog` on every thread of the process (TSYNC: the platform
/// has already started helper threads).
pub fn install(prog: &BpfProgram) -> Result<(), FilterError> {
    nix::sys::prctl::set_no_new_privs().map_err(FilterError::NoNewPrivs)?;
    seccompiler::apply_filter_all_threads(prog).map_err(FilterError::Install)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;

    /// Set in a re-executed copy of this test binary: which forbidden operation to try after
    /// installing the filter.
    const CHILD_ENV: &str = "RUNSC_FILTER_TEST_CHILD";

    /// Not a test of its own: the body of the child process of the tests below. Without the
    /// environment variable it does nothing.
    #[test]
    fn filtered_child() {
        let Ok(what) = std::env::var(CHILD_ENV) else {
            return;
        };
        let prog = build().unwrap();
        install(&prog).unwrap();
        // Allowed syscalls still work under the filter (write, getpid).
        println!("filter on in pid {}", std::process::id());
        match what.as_str() {
            "openat" => {
                let _ = std::fs::File::open("/etc/hostname");
            }
            "execve" => {
                let path = c"/bin/true";
                let _ = nix::unistd::execv(path, &[path]);
            }
            "getppid" => {
                let _ = nix::unistd::getppid();
                std::process::exit(7);
            }
            _ => {}
        }
        // Reaching this point means the forbidden call was not fatal.
        std::process::exit(99);
    }

    fn run_child(what: &str) -> std::process::Output {
        Command::new(std::env::current_exe().unwrap())
            .args([
                "boot::filter::tests::filtered_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, what)
            .output()
            .unwrap()
    }

    #[test]
    fn every_denied_syscall_has_a_matching_number_and_a_reason() {
        let named: &[(&str, i64)] = &[
            ("open", libc::SYS_open),
            ("openat", libc::SYS_openat),
            ("openat2", libc::SYS_openat2),
            ("creat", libc::SYS_creat),
            ("execve", libc::SYS_execve),
            ("execveat", libc::SYS_execveat),
        ];
        for &(nr, name, reason) in DENIED {
            assert!(named.contains(&(name, nr)), "{name} = {nr}");
            assert!(!reason.is_empty());
        }
        assert!(!build().unwrap().is_empty());
    }

    #[test]
    fn openat_under_the_filter_kills_the_process_with_sigsys() {
        let out = run_child("openat");
        assert_eq!(out.status.signal(), Some(libc::SIGSYS), "{out:?}");
        // The filter was on before the open, and writes still worked.
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("filter on in pid"),
            "{out:?}"
        );
    }

    #[test]
    fn execve_under_the_filter_kills_the_process_with_sigsys() {
        let out = run_child("execve");
        assert_eq!(out.status.signal(), Some(libc::SIGSYS), "{out:?}");
    }

    #[test]
    fn allowed_syscalls_are_not_affected() {
        let out = run_child("getppid");
        assert_eq!(out.status.code(), Some(7), "{out:?}");
    }
}
