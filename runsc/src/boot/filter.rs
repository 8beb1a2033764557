//! The seccomp filter of the sentry process (after gVisor's `runsc/boot/filter`; see seccomp(2)
//! and `Documentation/userspace-api/seccomp_filter.rst`): the host syscalls `runsc boot` may
//! make once the sandbox runs.
//!
//! An ALLOWLIST: every host syscall the sentry may make after boot is a row of [`ALLOWED`] or
//! [`CONDITIONAL`] with its reason; anything else kills the whole sentry process. The open and
//! exec families are absent on purpose ([`FORBIDDEN`]): files reach the sentry only from the
//! gofer as donated fds, and the sentry never runs a host program after boot.
//!
//! Two filters go on, as in the gofer (`gofer/src/server/seccomp.rs`): the first answers
//! `clone3` with `ENOSYS` so that glibc falls back to `clone`, whose flags a filter can inspect
//! (clone3 passes them in memory); the second is the allowlist. The kernel runs both and takes
//! the strictest verdict.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
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

/// Syscalls allowed with any arguments, with the reason for each.
pub const ALLOWED: &[(i64, &str, &str)] = &[
    // The ptrace platform (sentry/src/platform/ptrace).
    (
        libc::SYS_ptrace,
        "ptrace",
        "the platform drives stub threads with PTRACE_SYSEMU",
    ),
    (
        libc::SYS_wait4,
        "wait4",
        "waiting for ptrace stops and reaping stubs",
    ),
    (libc::SYS_waitid, "waitid", "reaping stubs by pidfd"),
    (
        libc::SYS_process_vm_readv,
        "process_vm_readv",
        "reading application memory",
    ),
    (
        libc::SYS_process_vm_writev,
        "process_vm_writev",
        "writing application memory",
    ),
    (
        libc::SYS_sendmsg,
        "sendmsg",
        "donating fds to stubs; gofer requests",
    ),
    (
        libc::SYS_recvmsg,
        "recvmsg",
        "gofer responses with donated fds",
    ),
    (
        libc::SYS_tgkill,
        "tgkill",
        "interrupting stub and sentry threads; abort()",
    ),
    (
        libc::SYS_kill,
        "kill",
        "SIGKILL of stubs (in the sandbox's pid namespace)",
    ),
    (
        libc::SYS_pidfd_open,
        "pidfd_open",
        "naming stubs across pid reuse",
    ),
    (
        libc::SYS_pidfd_send_signal,
        "pidfd_send_signal",
        "killing stubs by pidfd",
    ),
    (libc::SYS_gettid, "gettid", "tracer identity; abort()"),
    (libc::SYS_getpid, "getpid", "tgkill of own threads; abort()"),
    (
        libc::SYS_memfd_create,
        "memfd_create",
        "application memory and stub images",
    ),
    // File descriptors the sentry already holds (host files donated by the gofer, stdio, log).
    (libc::SYS_close, "close", "dropping fds"),
    (libc::SYS_read, "read", "host fds, pipes"),
    (libc::SYS_write, "write", "host fds, the debug log, stderr"),
    (libc::SYS_pread64, "pread64", "donated files, memfds"),
    (libc::SYS_pwrite64, "pwrite64", "donated files, memfds"),
    (libc::SYS_readv, "readv", "vectored host file I/O (std)"),
    (libc::SYS_writev, "writev", "vectored host file I/O (std)"),
    (libc::SYS_fstat, "fstat", "size and type of held fds"),
    (
        libc::SYS_ftruncate,
        "ftruncate",
        "memfd sizes, truncating donated files",
    ),
    (
        libc::SYS_lseek,
        "lseek",
        "host file offsets, SEEK_DATA/SEEK_HOLE",
    ),
    (libc::SYS_fsync, "fsync", "fsync of donated files"),
    (
        libc::SYS_fdatasync,
        "fdatasync",
        "fdatasync of donated files",
    ),
    (libc::SYS_dup, "dup", "duplicating held fds"),
    (libc::SYS_dup3, "dup3", "duplicating held fds"),
    (libc::SYS_shutdown, "shutdown", "hanging up gofer channels"),
    (
        libc::SYS_accept4,
        "accept4",
        "control connections from runsc start/kill/wait on the listening socket runsc create made",
    ),
    (
        libc::SYS_getrandom,
        "getrandom",
        "AT_RANDOM, /dev/urandom, HashMap keys",
    ),
    (libc::SYS_poll, "poll", "waiting on host fds (std)"),
    (libc::SYS_ppoll, "ppoll", "waiting on host fds"),
    // Memory of the sentry itself.
    (
        libc::SYS_mmap,
        "mmap",
        "allocator, thread stacks, memfd mappings",
    ),
    (libc::SYS_munmap, "munmap", "allocator, thread stacks"),
    (libc::SYS_mprotect, "mprotect", "thread stack guard pages"),
    (libc::SYS_mremap, "mremap", "allocator"),
    (
        libc::SYS_madvise,
        "madvise",
        "allocator, freeing thread stacks",
    ),
    (libc::SYS_brk, "brk", "allocator"),
    // Signals, threads, time.
    (
        libc::SYS_rt_sigaction,
        "rt_sigaction",
        "interrupt handler; glibc thread start-up",
    ),
    (
        libc::SYS_rt_sigprocmask,
        "rt_sigprocmask",
        "thread creation and exit (glibc)",
    ),
    (
        libc::SYS_rt_sigreturn,
        "rt_sigreturn",
        "return from signal handlers",
    ),
    (
        libc::SYS_sigaltstack,
        "sigaltstack",
        "Rust's stack overflow handler on new threads",
    ),
    (
        libc::SYS_restart_syscall,
        "restart_syscall",
        "restarted sleeps and waits",
    ),
    (
        libc::SYS_rt_sigtimedwait,
        "rt_sigtimedwait",
        "sigwait(3) in the thread that forwards a terminal's signals (cmd/boot.rs)",
    ),
    (libc::SYS_futex, "futex", "mutexes, channels, thread join"),
    (
        libc::SYS_set_robust_list,
        "set_robust_list",
        "new threads (glibc)",
    ),
    (libc::SYS_rseq, "rseq", "new threads (glibc)"),
    (
        libc::SYS_clone3,
        "clone3",
        "thread creation; answered ENOSYS by the first filter",
    ),
    (libc::SYS_sched_yield, "sched_yield", "lock back-off"),
    (
        libc::SYS_sched_getaffinity,
        "sched_getaffinity",
        "thread start-up (std)",
    ),
    (
        libc::SYS_sched_setaffinity,
        "sched_setaffinity",
        "pinning a stub thread to its tracer's CPU (platform)",
    ),
    (libc::SYS_nanosleep, "nanosleep", "sleeps (std)"),
    (
        libc::SYS_clock_nanosleep,
        "clock_nanosleep",
        "sleeps (glibc)",
    ),
    (
        libc::SYS_clock_gettime,
        "clock_gettime",
        "time (when the vDSO falls back)",
    ),
    (
        libc::SYS_clock_getres,
        "clock_getres",
        "clock_getres of the application",
    ),
    (
        libc::SYS_gettimeofday,
        "gettimeofday",
        "time (when the vDSO falls back)",
    ),
    (libc::SYS_uname, "uname", "the application's uname"),
    (libc::SYS_sysinfo, "sysinfo", "the application's sysinfo"),
    (
        libc::SYS_getrlimit,
        "getrlimit",
        "thread stack sizes (glibc)",
    ),
    (
        libc::SYS_prlimit64,
        "prlimit64",
        "thread stack sizes (glibc)",
    ),
    (libc::SYS_exit, "exit", "thread exit"),
    (libc::SYS_exit_group, "exit_group", "process exit"),
];

/// Syscalls that must never be allowed (the tests check that none is in the allowlist).
pub const FORBIDDEN: &[(i64, &str, &str)] = &[
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
    (
        libc::SYS_fork,
        "fork",
        "address spaces are forks of the stub, never of the sentry",
    ),
    (
        libc::SYS_vfork,
        "vfork",
        "address spaces are forks of the stub, never of the sentry",
    ),
    (
        libc::SYS_socket,
        "socket",
        "the sentry opens no host sockets after boot (but under --network=host: HOST_NETWORK)",
    ),
    (
        libc::SYS_connect,
        "connect",
        "the sentry opens no host sockets after boot (but under --network=host: HOST_NETWORK)",
    ),
];

/// Syscalls allowed only under `--network=host`, where the application's inet sockets are
/// host sockets the sentry drives (sentry/src/net/hostinet); one reason per entry. `socket`
/// and `ioctl` are narrowed further in [`host_network_rules`].
pub const HOST_NETWORK: &[(i64, &str, &str)] = &[
    (
        libc::SYS_socket,
        "socket",
        "hostinet: AF_INET/AF_INET6 sockets of the application; AF_NETLINK NETLINK_ROUTE and \
         NETLINK_SOCK_DIAG only, for the read-only dumps of the interface and /proc/net views",
    ),
    (
        libc::SYS_bind,
        "bind",
        "hostinet: bind(2) of the application",
    ),
    (
        libc::SYS_connect,
        "connect",
        "hostinet: connect(2) of the application",
    ),
    (
        libc::SYS_listen,
        "listen",
        "hostinet: listen(2) of the application",
    ),
    (
        libc::SYS_accept4,
        "accept4",
        "hostinet: accept(2)/accept4(2) of the application (always SOCK_NONBLOCK|SOCK_CLOEXEC)",
    ),
    (
        libc::SYS_sendto,
        "sendto",
        "hostinet: every send of the application; netlink queries to the host kernel",
    ),
    (
        libc::SYS_shutdown,
        "shutdown",
        "hostinet: shutdown(2) of the application",
    ),
    (
        libc::SYS_getsockname,
        "getsockname",
        "hostinet: getsockname(2) of the application",
    ),
    (
        libc::SYS_getpeername,
        "getpeername",
        "hostinet: getpeername(2) of the application",
    ),
    (
        libc::SYS_setsockopt,
        "setsockopt",
        "hostinet: the options of hostinet::option_allowed; NETLINK_GET_STRICT_CHK",
    ),
    (
        libc::SYS_getsockopt,
        "getsockopt",
        "hostinet: the options of hostinet::option_allowed; SO_ERROR after a connect",
    ),
    (
        libc::SYS_ioctl,
        "ioctl",
        "hostinet: SIOCOUTQ, and the read-only interface requests SIOCGIF* and SIOCGIFCONF \
         answered by the host (besides the host-fd passthrough above)",
    ),
];

/// Syscalls allowed only with certain arguments (see [`conditional_rules`] for the
/// conditions); one reason per entry.
pub const CONDITIONAL: &[(i64, &str, &str)] = &[
    (
        libc::SYS_clone,
        "clone",
        "threads only: CLONE_THREAD set, so the sentry can never fork",
    ),
    (
        libc::SYS_newfstatat,
        "newfstatat",
        "glibc's fstat(fd) = newfstatat(fd, \"\", buf, AT_EMPTY_PATH): flags exactly AT_EMPTY_PATH",
    ),
    (
        libc::SYS_statx,
        "statx",
        "std's File::metadata: flags include AT_EMPTY_PATH",
    ),
    (
        libc::SYS_ioctl,
        "ioctl",
        "the host-fd passthrough (sentry/src/fs/host): TCGETS, TIOCGWINSZ, TIOCGPGRP, FIONREAD; \
         a terminal's termios, window size and flow (tty.rs HOST_TTY_IOCTLS: TCSETS/W/F, \
         TIOCSWINSZ, TCSBRK, TCXONC, TCFLSH)",
    ),
    (
        libc::SYS_fcntl,
        "fcntl",
        "F_GETFD/F_SETFD/F_GETFL/F_SETFL on held fds, F_DUPFD_CLOEXEC to move fds, F_ADD_SEALS",
    ),
    (
        libc::SYS_prctl,
        "prctl",
        "PR_SET_NAME/PR_GET_NAME: std names its threads",
    ),
    (
        libc::SYS_socketpair,
        "socketpair",
        "AF_UNIX only: the fd-passing socket of each systrap address space",
    ),
];

fn target_arch() -> TargetArch {
    // The workspace builds for x86_64 only (the syscall table is x86_64's).
    TargetArch::x86_64
}

fn cond(
    arg: u8,
    len: SeccompCmpArgLen,
    op: SeccompCmpOp,
    value: u64,
) -> Result<SeccompRule, FilterError> {
    let c = SeccompCondition::new(arg, len, op, value).map_err(FilterError::Build)?;
    SeccompRule::new(vec![c]).map_err(FilterError::Build)
}

/// `arg` (an int) equal to one of `values`: one rule each (rules of a syscall are OR-ed).
fn one_of(arg: u8, values: &[u64]) -> Result<Vec<SeccompRule>, FilterError> {
    values
        .iter()
        .map(|&v| cond(arg, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, v))
        .collect()
}

/// The argument conditions of each [`CONDITIONAL`] syscall.
fn conditional_rules() -> Result<BTreeMap<i64, Vec<SeccompRule>>, FilterError> {
    use sentry::fs::host::tty::HOST_TTY_IOCTLS;
    use sentry::fs::host::{FIONREAD, TCGETS, TIOCGPGRP, TIOCGWINSZ};
    let thread = libc::CLONE_THREAD as u64;
    let empty_path = libc::AT_EMPTY_PATH as u64;
    let int = |v: libc::c_int| v as u64;
    let mut rules = BTreeMap::new();
    rules.insert(
        libc::SYS_clone,
        vec![cond(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(thread),
            thread,
        )?],
    );
    rules.insert(libc::SYS_newfstatat, one_of(3, &[empty_path])?);
    rules.insert(libc::SYS_socketpair, one_of(0, &[int(libc::AF_UNIX)])?);
    rules.insert(
        libc::SYS_statx,
        vec![cond(
            2,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::MaskedEq(empty_path),
            empty_path,
        )?],
    );
    let mut ioctls: Vec<u64> = [TCGETS, TIOCGWINSZ, TIOCGPGRP, FIONREAD]
        .iter()
        .chain(HOST_TTY_IOCTLS)
        .map(|&r| u64::from(r))
        .collect();
    ioctls.sort_unstable();
    ioctls.dedup();
    rules.insert(libc::SYS_ioctl, one_of(1, &ioctls)?);
    rules.insert(
        libc::SYS_fcntl,
        one_of(
            1,
            &[
                libc::F_GETFD,
                libc::F_SETFD,
                libc::F_GETFL,
                libc::F_SETFL,
                libc::F_DUPFD_CLOEXEC,
                libc::F_ADD_SEALS,
            ]
            .map(int),
        )?,
    );
    rules.insert(
        libc::SYS_prctl,
        one_of(0, &[libc::PR_SET_NAME, libc::PR_GET_NAME].map(int))?,
    );
    Ok(rules)
}

/// The ioctl requests hostinet makes (linux/sockios.h): SIOCOUTQ and the SIOCGIF* reads.
const HOST_NETWORK_IOCTLS: &[u64] = &[
    0x5411, // SIOCOUTQ
    0x8910, // SIOCGIFNAME
    0x8912, // SIOCGIFCONF
    0x8913, // SIOCGIFFLAGS
    0x8915, // SIOCGIFADDR
    0x8917, // SIOCGIFDSTADDR
    0x8919, // SIOCGIFBRDADDR
    0x891b, // SIOCGIFNETMASK
    0x891d, // SIOCGIFMETRIC
    0x8921, // SIOCGIFMTU
    0x8927, // SIOCGIFHWADDR
    0x8933, // SIOCGIFINDEX
    0x8942, // SIOCGIFTXQLEN
];

/// Adds the [`HOST_NETWORK`] rows to `rules`: socket(2) of AF_INET/AF_INET6 (any type: the
/// sentry holds no CAP_NET_RAW) or AF_NETLINK with NETLINK_ROUTE or NETLINK_SOCK_DIAG, the
/// hostinet ioctls, the
/// rest with any arguments.
fn host_network_rules(rules: &mut BTreeMap<i64, Vec<SeccompRule>>) -> Result<(), FilterError> {
    use SeccompCmpArgLen::Dword;
    use SeccompCmpOp::Eq;
    for &(nr, _, _) in HOST_NETWORK {
        rules.entry(nr).or_default();
    }
    let family = |f: libc::c_int| SeccompCondition::new(0, Dword, Eq, f as u64);
    let mut socket = one_of(0, &[libc::AF_INET as u64, libc::AF_INET6 as u64])?;
    for protocol in [libc::NETLINK_ROUTE, libc::NETLINK_SOCK_DIAG] {
        socket.push(
            SeccompRule::new(vec![
                family(libc::AF_NETLINK).map_err(FilterError::Build)?,
                SeccompCondition::new(2, Dword, Eq, protocol as u64).map_err(FilterError::Build)?,
            ])
            .map_err(FilterError::Build)?,
        );
    }
    rules.insert(libc::SYS_socket, socket);
    let ioctl = rules.entry(libc::SYS_ioctl).or_default();
    ioctl.extend(one_of(1, HOST_NETWORK_IOCTLS)?);
    Ok(())
}

/// The allowlist (the second filter installed); `mismatch` is `KillProcess` in production.
/// `host_network`: with the [`HOST_NETWORK`] rows.
fn allowlist(mismatch: SeccompAction, host_network: bool) -> Result<BpfProgram, FilterError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        ALLOWED.iter().map(|&(nr, _, _)| (nr, Vec::new())).collect();
    rules.extend(conditional_rules()?);
    if host_network {
        host_network_rules(&mut rules)?;
    }
    let filter = SeccompFilter::new(rules, mismatch, SeccompAction::Allow, target_arch())
        .map_err(FilterError::Build)?;
    filter.try_into().map_err(FilterError::Compile)
}

/// The filter that turns `clone3` into `ENOSYS` (the first one installed).
fn clone3_enosys() -> Result<BpfProgram, FilterError> {
    let rules = BTreeMap::from([(libc::SYS_clone3, Vec::new())]);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        target_arch(),
    )
    .map_err(FilterError::Build)?;
    filter.try_into().map_err(FilterError::Compile)
}

/// The filters as BPF programs, in installation order (built before they are installed, so
/// that installing allocates nothing). `host_network`: `--network=host` (the sentry makes
/// host inet sockets for the application).
pub fn build(host_network: bool) -> Result<[BpfProgram; 2], FilterError> {
    Ok([
        clone3_enosys()?,
        allowlist(SeccompAction::KillProcess, host_network)?,
    ])
}

/// Sets `no_new_privs` and installs `progs` in order on every thread of the process (TSYNC: the
/// platform has already started helper threads).
pub fn install(progs: &[BpfProgram]) -> Result<(), FilterError> {
    nix::sys::prctl::set_no_new_privs().map_err(FilterError::NoNewPrivs)?;
    for prog in progs {
        seccompiler::apply_filter_all_threads(prog).map_err(FilterError::Install)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsFd, AsRawFd};
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
        if what == "malloc_threads" {
            // What runsc's main does for every role before any filter.
            crate::sys::tame_malloc(8);
        }
        let host = std::env::var(CHILD_ENV).is_ok_and(|w| w.starts_with("host"));
        let progs = build(host).unwrap();
        install(&progs).unwrap();
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
            }
            "allowed" => {
                // A thread (clone3 -> ENOSYS -> clone with CLONE_THREAD), fstat via glibc and
                // std, a permitted ioctl and fcntl.
                let t = std::thread::spawn(|| nix::unistd::gettid().as_raw());
                let _ = t.join().unwrap();
                let out = std::io::stdout();
                let _ = nix::sys::stat::fstat(out.as_raw_fd());
                let f = std::fs::File::from(out.as_fd().try_clone_to_owned().unwrap());
                let _ = f.metadata().unwrap();
                let _ = nix::unistd::isatty(f.as_raw_fd());
                std::process::exit(7);
            }
            "malloc_threads" => {
                // Many threads allocating at once (glibc makes thread arenas and, past 8, asks
                // for the CPU count), then freeing (thread heaps shrink): neither may reach a
                // host file under the filter.
                let barrier = std::sync::Arc::new(std::sync::Barrier::new(24));
                let threads: Vec<_> = (0..24)
                    .map(|i| {
                        let b = barrier.clone();
                        std::thread::spawn(move || {
                            b.wait();
                            let v: Vec<Vec<u8>> =
                                (0..4000).map(|j| vec![i as u8; 64 + j % 64]).collect();
                            b.wait();
                            drop(v);
                            b.wait();
                        })
                    })
                    .collect();
                for t in threads {
                    t.join().unwrap();
                }
                std::process::exit(7);
            }
            "inet" | "host_inet" => {
                // A TCP socket on the host: only with the --network=host rows.
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let _ = l.local_addr().unwrap();
                std::process::exit(7);
            }
            "host_packet" => {
                let _ = nix::sys::socket::socket(
                    nix::sys::socket::AddressFamily::Packet,
                    nix::sys::socket::SockType::Raw,
                    nix::sys::socket::SockFlag::empty(),
                    None,
                );
            }
            "fork" => {
                // SAFETY: the child exits at once.
                if let Ok(nix::unistd::ForkResult::Child) = unsafe { nix::unistd::fork() } {
                    std::process::exit(0);
                }
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
    fn every_row_has_a_reason_and_nothing_forbidden_is_allowed() {
        let mut nrs: Vec<i64> = ALLOWED
            .iter()
            .chain(CONDITIONAL)
            .map(|&(nr, name, reason)| {
                assert!(!name.is_empty() && !reason.is_empty(), "{nr}");
                nr
            })
            .collect();
        nrs.sort_unstable();
        let n = nrs.len();
        nrs.dedup();
        assert_eq!(n, nrs.len(), "a syscall is listed twice");
        for &(nr, name, reason) in FORBIDDEN {
            assert!(!nrs.contains(&nr), "{name} is allowed");
            assert!(!reason.is_empty());
        }
        let rules = conditional_rules().unwrap();
        for &(nr, name, _) in CONDITIONAL {
            assert!(rules.contains_key(&nr), "{name} has no conditions");
        }
        assert_eq!(rules.len(), CONDITIONAL.len());
        assert!(build(false).unwrap().iter().all(|p| !p.is_empty()));
        assert!(build(true).unwrap().iter().all(|p| !p.is_empty()));
        for &(nr, name, reason) in HOST_NETWORK {
            assert!(!name.is_empty() && !reason.is_empty(), "{nr}");
            assert!(!FORBIDDEN
                .iter()
                .any(|f| f.0 == nr && f.1 != "socket" && f.1 != "connect"));
        }
    }

    #[test]
    fn names_match_numbers() {
        // A few spot checks against the x86_64 table (arch/x86/entry/syscalls/syscall_64.tbl).
        let table = [
            ("read", 0),
            ("openat", 257),
            ("execve", 59),
            ("clone", 56),
            ("clone3", 435),
            ("newfstatat", 262),
            ("ptrace", 101),
        ];
        for (name, nr) in table {
            let row = ALLOWED
                .iter()
                .chain(CONDITIONAL)
                .chain(FORBIDDEN)
                .find(|r| r.1 == name)
                .unwrap();
            assert_eq!(row.0, nr, "{name}");
        }
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
        let out = run_child("allowed");
        assert_eq!(out.status.code(), Some(7), "{out:?}");
    }

    #[test]
    fn malloc_in_many_threads_stays_inside_the_filter() {
        let out = run_child("malloc_threads");
        assert_eq!(out.status.code(), Some(7), "{out:?}");
    }

    #[test]
    fn host_sockets_only_under_network_host_and_only_inet() {
        let out = run_child("host_inet");
        assert_eq!(out.status.code(), Some(7), "{out:?}");
        for what in ["inet", "host_packet"] {
            let out = run_child(what);
            assert_eq!(out.status.signal(), Some(libc::SIGSYS), "{what}: {out:?}");
        }
    }

    #[test]
    fn unlisted_syscalls_and_fork_kill_the_process() {
        for what in ["getppid", "fork"] {
            let out = run_child(what);
            assert_eq!(out.status.signal(), Some(libc::SIGSYS), "{what}: {out:?}");
        }
    }
}
