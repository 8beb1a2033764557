//! The gofer's own seccomp allowlist (seccomp(2), `Documentation/userspace-api/seccomp_filter.rst`),
//! built with seccompiler in the manner of cloud-hypervisor's `vmm/src/seccomp_filters.rs`: one
//! row per host syscall the server needs, with the reason.
//!
//! Two filters are installed. The first answers `clone3` with `ENOSYS` so that glibc falls back to
//! `clone`, whose flags a filter can inspect (clone3 passes them in memory). The second allows the
//! rows below and kills the process on anything else. The kernel runs both and takes the strictest
//! verdict, so `clone3` (allowed by the second) gets the first filter's `ENOSYS`.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use super::ServerError;

/// How to install the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfineOptions {
    /// Apply to every thread of the process (`SECCOMP_FILTER_FLAG_TSYNC`); otherwise only the
    /// calling thread and the threads it starts afterwards.
    pub all_threads: bool,
    /// Log violations and let them run (`SECCOMP_RET_LOG`) instead of killing the process: for
    /// finding a missing row, never for production.
    pub log_only: bool,
}

impl Default for ConfineOptions {
    fn default() -> Self {
        ConfineOptions {
            all_threads: true,
            log_only: false,
        }
    }
}

/// Syscalls allowed unconditionally, with the reason for each.
const ALLOWED: &[(i64, &str)] = &[
    (libc::SYS_recvmsg, "channel requests (with SCM_RIGHTS)"),
    (libc::SYS_sendmsg, "channel responses, donated fds"),
    (
        libc::SYS_openat,
        "walk, reopen via /proc/self/fd, create, the root",
    ),
    (libc::SYS_close, "closing nodes and temporary fds"),
    (libc::SYS_newfstatat, "stat of nodes (AT_EMPTY_PATH)"),
    (libc::SYS_fstat, "libc's fstat"),
    (libc::SYS_readlinkat, "readlink of symlink nodes"),
    (libc::SYS_getdents64, "directory listings"),
    (libc::SYS_fstatfs, "statfs"),
    (libc::SYS_mkdirat, "mkdir"),
    (libc::SYS_symlinkat, "symlink"),
    (libc::SYS_linkat, "link"),
    (libc::SYS_mknodat, "mknod (regular files and fifos)"),
    (libc::SYS_unlinkat, "unlink and rmdir"),
    (libc::SYS_renameat2, "rename with flags"),
    (
        libc::SYS_renameat,
        "rename (glibc uses it when flags are 0)",
    ),
    (libc::SYS_fchownat, "setattr owner, owner of new files"),
    (libc::SYS_fchmodat, "setattr mode"),
    (libc::SYS_utimensat, "setattr times"),
    (libc::SYS_ftruncate, "setattr size"),
    (libc::SYS_fgetxattr, "getxattr"),
    (libc::SYS_flistxattr, "listxattr"),
    (libc::SYS_write, "panic and error messages to stderr"),
    (libc::SYS_futex, "mutexes, thread join"),
    (libc::SYS_mmap, "allocator, thread stacks"),
    (libc::SYS_munmap, "allocator, thread stacks"),
    (libc::SYS_mremap, "allocator"),
    (libc::SYS_mprotect, "thread stack guard pages"),
    (libc::SYS_madvise, "allocator, freeing thread stacks"),
    (libc::SYS_brk, "allocator"),
    (
        libc::SYS_clone3,
        "thread creation; answered ENOSYS by the first filter",
    ),
    (libc::SYS_set_robust_list, "new threads (glibc)"),
    (libc::SYS_rseq, "new threads (glibc)"),
    (libc::SYS_rt_sigprocmask, "thread creation and exit (glibc)"),
    (
        libc::SYS_rt_sigaction,
        "glibc's first pthread_create installs its SIGCANCEL/SIGSETXID handlers",
    ),
    (
        libc::SYS_sigaltstack,
        "Rust's stack overflow handler on new threads",
    ),
    (libc::SYS_rt_sigreturn, "return from signal handlers"),
    (libc::SYS_sched_yield, "lock back-off"),
    (libc::SYS_sched_getaffinity, "thread start-up (std)"),
    (libc::SYS_getrandom, "HashMap keys"),
    (libc::SYS_clock_gettime, "time (when the vDSO falls back)"),
    (libc::SYS_gettid, "abort and thread ids"),
    (libc::SYS_getpid, "abort"),
    (libc::SYS_restart_syscall, "restarted sleeps"),
    (libc::SYS_exit, "thread exit"),
    (libc::SYS_exit_group, "process exit"),
];

/// Syscalls allowed only when the server connects to host unix sockets (`runsc
/// --host-uds=open`, `Server::with_host_uds`), with the reason for each; `socket` and
/// `unshare` are narrowed by their arguments in [`allowlist`].
const HOST_UDS: &[(i64, &str)] = &[
    (
        libc::SYS_socket,
        "host-uds: the AF_UNIX socket handed back by ConnectUnix",
    ),
    (
        libc::SYS_connect,
        "host-uds: connecting it to the socket node, by its /proc/self/fd name",
    ),
    (
        libc::SYS_unshare,
        "host-uds: CLONE_FS only, a per-thread cwd for that relative name",
    ),
    (libc::SYS_fchdir, "host-uds: that cwd is /proc/self/fd"),
];

fn backend(e: seccompiler::BackendError) -> ServerError {
    ServerError::Seccomp(seccompiler::Error::Backend(e))
}

fn cond(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, ServerError> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Qword, op, value).map_err(backend)
}

/// The allowlist filter (the second one installed); `host_uds` adds the [`HOST_UDS`] rows.
fn allowlist(log_only: bool, host_uds: bool) -> Result<BpfProgram, ServerError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        ALLOWED.iter().map(|&(nr, _)| (nr, vec![])).collect();
    if host_uds {
        for &(nr, _) in HOST_UDS {
            rules.insert(nr, vec![]);
        }
        let only = |arg: u8, v: u64| -> Result<Vec<SeccompRule>, ServerError> {
            Ok(vec![SeccompRule::new(vec![cond(
                arg,
                SeccompCmpOp::Eq,
                v,
            )?])
            .map_err(backend)?])
        };
        rules.insert(libc::SYS_socket, only(0, libc::AF_UNIX as u64)?);
        rules.insert(libc::SYS_unshare, only(0, libc::CLONE_FS as u64)?);
    }
    // clone only for threads: CLONE_THREAD set, so the gofer can never fork.
    let thread = libc::CLONE_THREAD as u64;
    rules.insert(
        libc::SYS_clone,
        vec![
            SeccompRule::new(vec![cond(0, SeccompCmpOp::MaskedEq(thread), thread)?])
                .map_err(backend)?,
        ],
    );
    // fcntl only to read fd flags: std checks an fd is open before closing it (debug builds).
    let getters = [libc::F_GETFD, libc::F_GETFL]
        .into_iter()
        .map(|cmd| SeccompRule::new(vec![cond(1, SeccompCmpOp::Eq, cmd as u64)?]).map_err(backend))
        .collect::<Result<Vec<_>, _>>()?;
    rules.insert(libc::SYS_fcntl, getters);
    // tgkill and kill only at ourselves: abort() raising SIGABRT.
    let pid = u64::from(std::process::id());
    for nr in [libc::SYS_tgkill, libc::SYS_kill] {
        rules.insert(
            nr,
            vec![SeccompRule::new(vec![cond(0, SeccompCmpOp::Eq, pid)?]).map_err(backend)?],
        );
    }
    let mismatch = if log_only {
        SeccompAction::Log
    } else {
        SeccompAction::KillProcess
    };
    let filter = SeccompFilter::new(rules, mismatch, SeccompAction::Allow, TargetArch::x86_64)
        .map_err(backend)?;
    filter.try_into().map_err(backend)
}

/// The filter that turns `clone3` into `ENOSYS` (the first one installed).
fn clone3_enosys() -> Result<BpfProgram, ServerError> {
    let rules = BTreeMap::from([(libc::SYS_clone3, vec![])]);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        TargetArch::x86_64,
    )
    .map_err(backend)?;
    filter.try_into().map_err(backend)
}

/// Locks the gofer process down with its seccomp allowlist. Call after [`super::Server::new`]
/// (or at least after everything that needs a syscall outside the list) and before serving;
/// sets `no_new_privs`. `runsc gofer` calls `confine_with(&ConfineOptions::default(), ..)`.
pub fn confine(opts: &ConfineOptions) -> Result<(), ServerError> {
    confine_with(opts, false)
}

/// [`confine`], also allowing the [`HOST_UDS`] rows when `host_uds` (a server made
/// `with_host_uds(true)`).
pub fn confine_with(opts: &ConfineOptions, host_uds: bool) -> Result<(), ServerError> {
    let first = clone3_enosys()?;
    let second = allowlist(opts.log_only, host_uds)?;
    for prog in [first, second] {
        let r = if opts.all_threads {
            seccompiler::apply_filter_all_threads(&prog)
        } else {
            seccompiler::apply_filter(&prog)
        };
        r.map_err(ServerError::Seccomp)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compile() {
        assert!(!allowlist(false, false).unwrap().is_empty());
        assert!(!allowlist(false, true).unwrap().is_empty());
        assert!(!clone3_enosys().unwrap().is_empty());
    }

    #[test]
    fn allowlist_has_no_duplicates_or_dangerous_calls() {
        let mut nrs: Vec<i64> = ALLOWED.iter().map(|&(nr, _)| nr).collect();
        nrs.sort_unstable();
        let n = nrs.len();
        nrs.dedup();
        assert_eq!(n, nrs.len());
        for bad in [
            libc::SYS_execve,
            libc::SYS_ptrace,
            libc::SYS_socket,
            libc::SYS_connect,
            libc::SYS_fork,
        ] {
            assert!(!nrs.contains(&bad), "{bad}");
        }
        // The host-uds rows are separate, and never bring exec, fork or ptrace.
        for &(nr, why) in HOST_UDS {
            assert!(!nrs.contains(&nr), "{why}");
            assert!(![libc::SYS_execve, libc::SYS_ptrace, libc::SYS_fork].contains(&nr));
        }
    }
}
