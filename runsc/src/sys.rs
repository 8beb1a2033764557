//! The raw host calls of runsc that nix does not wrap safely: preparing a sandbox child between
//! fork and exec (fd inheritance, `PR_SET_PDEATHSIG`; see fork(2), close_range(2), prctl(2)),
//! and taking ownership of descriptors inherited by number.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Mutex;

use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// `CLOSE_RANGE_CLOEXEC` from `include/uapi/linux/close_range.h` (libc lacks it on some targets).
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

/// Makes `cmd`'s child inherit exactly the descriptors `keep` (plus 0, 1, 2) and, when `parent`
/// (this process's pid, read before spawning) is given, die with SIGKILL when this process dies.
/// `runsc create` passes None: its sandbox outlives it.
pub fn prepare_child(cmd: &mut Command, keep: Vec<RawFd>, parent: Option<Pid>) {
    let hook = move || -> io::Result<()> {
        // SAFETY: close_range only changes descriptor flags; the range starts above stdio.
        // Called between fork and exec, it is async-signal-safe (a plain syscall). Failure
        // (kernels before 5.11) only means inherited non-CLOEXEC fds leak, so it is ignored.
        let _ = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                3 as libc::c_uint,
                libc::c_uint::MAX,
                CLOSE_RANGE_CLOEXEC,
            )
        };
        for &fd in &keep {
            fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty())).map_err(io::Error::from)?;
        }
        if let Some(parent) = parent {
            nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL)).map_err(io::Error::from)?;
            // The parent may have died before the prctl: then nobody would kill us.
            if nix::unistd::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
        }
        Ok(())
    };
    // SAFETY: the hook runs in the forked child before exec. It allocates nothing (`keep` was
    // built before the fork) and makes only async-signal-safe syscalls (close_range, fcntl,
    // prctl, getppid); errors are `io::Error` values made from raw errnos, without allocation.
    unsafe {
        cmd.pre_exec(hook);
    }
}

/// Takes an exclusive flock(2) on `fd`, waiting for it.
pub fn flock_exclusive(fd: RawFd) -> nix::Result<()> {
    loop {
        // SAFETY: flock only changes the lock state of the open file `fd`.
        let r = unsafe { libc::flock(fd, libc::LOCK_EX) };
        match nix::errno::Errno::result(r) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => return other.map(drop),
        }
    }
}

/// `_LINUX_CAPABILITY_VERSION_3` (include/uapi/linux/capability.h): 64-bit sets in two words.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Empties the calling process's capability sets: bounding (PR_CAPBSET_DROP for every
/// capability the kernel knows), ambient, and effective/permitted/inheritable (capset(2)).
pub fn drop_all_capabilities() -> nix::Result<()> {
    for cap in 0..64 {
        // SAFETY: prctl(PR_CAPBSET_DROP) only changes this process's bounding set.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
        match nix::errno::Errno::result(r) {
            Ok(_) => {}
            // Past the last capability this kernel has.
            Err(nix::errno::Errno::EINVAL) => break,
            Err(e) => return Err(e),
        }
    }
    // SAFETY: clears this process's ambient set; EINVAL on kernels without ambient sets.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    match nix::errno::Errno::result(r) {
        Ok(_) | Err(nix::errno::Errno::EINVAL) => {}
        Err(e) => return Err(e),
    }
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset reads one header and two data words, both live for the call.
    let r = unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) };
    nix::errno::Errno::result(r).map(drop)
}

/// Makes `cmd`'s child enter the sentry's namespaces before exec (see
/// `crate::boot::isolate::enter_namespaces`).
pub fn in_namespaces(
    cmd: &mut Command,
    net: crate::boot::isolate::NetworkNamespace,
    host: crate::boot::isolate::HostNamespaces,
) {
    // SAFETY: the hook runs in the forked child before exec and makes only async-signal-safe
    // syscalls (unshare, setns, socket/ioctl/close for the loopback, and the raw fork, signal
    // and wait calls of `fork_pid_namespace_init`), allocating nothing.
    unsafe {
        cmd.pre_exec(move || crate::boot::isolate::enter_namespaces(&net, &host));
    }
}

/// Exit status of the supervisor when it cannot report the sentry's status (EX_OSERR).
const SUPERVISOR_FAILURE: libc::c_int = 71;

/// Forks the sentry as pid 1 of the pid namespace the caller has just made with
/// `unshare(CLONE_NEWPID)` (which moves only the caller's future children; see
/// pid_namespaces(7)). Runs in the forked child before exec: raw syscalls only, no allocation.
///
/// Returns in the new child, which unshares the mount, IPC and UTS namespaces it does not share
/// with the caller (`host.sentry_own()`) and goes on to exec `runsc boot`. The caller itself
/// never returns: it enters the namespaces `host` gives it alone
/// (`crate::boot::isolate::enter_supervisor_namespaces`) and stays behind as the host process
/// the front end knows (the pid it waits for, signals and names in the pid file), holding no
/// descriptor but the sentry's /proc status and the socket that tells the child it is alive.
/// It forwards the signals processes send it (`kill(2)`; kernel-sent ones such as a terminal's
/// SIGINT reach the sentry directly, being sent to the whole process group), see [`supervise`]
/// for those the sentry would die of, and ends exactly as the sentry does: the same exit code,
/// or killed by the same signal. Its death kills the sentry (`PR_SET_PDEATHSIG`), whose death
/// kills every process of its namespace.
pub fn fork_pid_namespace_init(host: &crate::boot::isolate::HostNamespaces) -> io::Result<()> {
    // Everything is blocked before the fork so that no signal sent to the supervisor before it
    // waits is lost (the child gets the old mask back, and starts with no pending signals).
    // SAFETY: sigset_t is plain data (all-zero is a valid value); sigfillset and sigprocmask
    // write only the two local sets and this thread's mask.
    let (all, old, r) = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        let r = libc::sigprocmask(libc::SIG_SETMASK, &all, &mut old);
        (all, old, r)
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    let restore = |old: &libc::sigset_t| {
        // SAFETY: restores the mask read above.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
    };
    // Our pid as the host's /proc names it (we may be in a pid namespace of the spec's): the
    // child writes our id maps there.
    let mut me = [0u8; 16];
    let me_len = own_proc_pid(&mut me);
    let mut alive = [-1 as libc::c_int; 2];
    // SAFETY: socketpair writes two descriptors into `alive`.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            alive.as_mut_ptr(),
        )
    } != 0
    {
        let e = io::Error::last_os_error();
        restore(&old);
        return Err(e);
    }
    // SAFETY: a raw fork (clone with only SIGCHLD): unlike libc::fork it runs no atfork
    // handlers, which are not async-signal-safe. Both sides only make raw syscalls afterwards,
    // and the child execs.
    let child =
        unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_ulong, 0, 0, 0, 0) };
    if child < 0 {
        let e = io::Error::last_os_error();
        // SAFETY: closes the sockets made above, owned here.
        unsafe {
            libc::close(alive[0]);
            libc::close(alive[1]);
        }
        restore(&old);
        return Err(e);
    }
    if child == 0 {
        // The sentry-to-be, pid 1 of the new namespace.
        // SAFETY: plain syscalls on this process's own state and on the socket it owns;
        // `byte` and `pid` live on the stack for the calls.
        unsafe {
            libc::close(alive[1]);
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                libc::_exit(SUPERVISOR_FAILURE);
            }
            // The supervisor opens our /proc status by the pid the host's /proc knows us by
            // (not 1, nor the pid its fork returned when it is in a pid namespace of its own).
            let mut pid = [0u8; 16];
            let n = own_proc_pid(&mut pid);
            if n == 0 || libc::write(alive[0], pid.as_ptr().cast(), n) != n as isize {
                libc::_exit(SUPERVISOR_FAILURE);
            }
            if libc::unshare(host.sentry_own().bits()) != 0 {
                libc::_exit(SUPERVISOR_FAILURE);
            }
            // The supervisor writes a byte once it is ready (it has our /proc status open and
            // is in its namespaces); if it died before the prctl, its end is closed and we
            // read end-of-file (getppid cannot tell: the parent is outside our namespace).
            let mut byte = 0u8;
            if libc::read(alive[0], (&mut byte as *mut u8).cast(), 1) != 1 {
                libc::_exit(SUPERVISOR_FAILURE);
            }
            libc::close(alive[0]);
            // Its new user namespace's maps need a writer with the runtime's capabilities.
            if host.maps_user()
                && (write_id_map(&me[..me_len], b"uid_map", &host.uid_map).is_err()
                    || write_id_map(&me[..me_len], b"gid_map", &host.gid_map).is_err())
            {
                libc::_exit(SUPERVISOR_FAILURE);
            }
        }
        restore(&old);
        return Ok(());
    }
    // SAFETY: closes the child's end, a descriptor owned here.
    unsafe { libc::close(alive[0]) };
    supervise(child as libc::pid_t, alive[1], &all, host)
}

/// Reads `/proc/self` (this process's pid in the pid namespace of the mounted /proc) into
/// `buf`; returns the number of digits, 0 on failure. No allocation.
fn own_proc_pid(buf: &mut [u8; 16]) -> usize {
    // SAFETY: readlink writes at most `buf.len()` bytes into `buf`; the path is a
    // NUL-terminated literal.
    let n = unsafe { libc::readlink(c"/proc/self".as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 || n as usize >= buf.len() || !buf[..n as usize].iter().all(u8::is_ascii_digit) {
        return 0;
    }
    n as usize
}

/// Writes `map` (empty: nothing) to `/proc/<pid>/<file>` in one write(2), as user_namespaces(7)
/// requires. No allocation.
fn write_id_map(pid: &[u8], file: &[u8], map: &[u8]) -> io::Result<()> {
    if map.is_empty() {
        return Ok(());
    }
    let mut path = [0u8; 48];
    proc_path(pid, file, &mut path)?;
    // SAFETY: `path` is NUL-terminated; the descriptor is owned here and closed; `map` lives
    // for the write.
    unsafe {
        let fd = libc::open(path.as_ptr().cast(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = libc::write(fd, map.as_ptr().cast(), map.len());
        let e = io::Error::last_os_error();
        libc::close(fd);
        if n != map.len() as isize {
            return Err(e);
        }
    }
    Ok(())
}

/// The supervisor's life (see [`fork_pid_namespace_init`]): learns the child's host pid from
/// `alive`, opens its /proc status, enters its own namespaces, keeps only those two
/// descriptors, then waits for signals (all blocked) until `child` ends, and ends the same way.
///
/// As pid 1 of its namespace the sentry is immune to the signals it leaves at their default
/// action, even from outside (pid_namespaces(7), "the init process"); before, such a signal
/// killed it. So that it still does, a signal the sentry neither catches, ignores nor blocks
/// (per its /proc status, opened while the host's /proc is still in reach), and whose default
/// action is to terminate, is turned into SIGKILL, and the supervisor then dies by the signal
/// itself.
fn supervise(
    child: libc::pid_t,
    alive: libc::c_int,
    all: &libc::sigset_t,
    host: &crate::boot::isolate::HostNamespaces,
) -> ! {
    let mut pid = [0u8; 16];
    let mut path = [0u8; 48];
    // SAFETY: raw syscalls on this process's own descriptors, signal state and child; `path`
    // is NUL-terminated; `info`, `status`, `pid` and `buf` are locals written by the kernel.
    // Nothing here allocates or returns.
    unsafe {
        // A child that failed before writing its pid ends soon: we then report its status.
        let n = libc::read(alive, pid.as_mut_ptr().cast(), pid.len());
        let status_fd = if n > 0 && proc_path(&pid[..n as usize], b"status", &mut path).is_ok() {
            libc::open(
                path.as_ptr().cast::<libc::c_char>(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        } else {
            -1
        };
        if crate::boot::isolate::enter_supervisor_namespaces(host).is_err() {
            let msg = b"runsc: the supervisor cannot enter the namespaces the spec names\n";
            libc::write(2, msg.as_ptr().cast(), msg.len());
            libc::kill(child, libc::SIGKILL);
            libc::waitpid(child, std::ptr::null_mut(), 0);
            libc::_exit(SUPERVISOR_FAILURE);
        }
        close_all_but(alive, status_fd);
        // Lets the child go on (see fork_pid_namespace_init).
        libc::write(alive, b"1".as_ptr().cast(), 1);
        let mut killed_by = 0;
        loop {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let sig = libc::sigwaitinfo(all, &mut info);
            if sig < 0 {
                continue;
            }
            if sig == libc::SIGCHLD {
                let mut status = 0;
                if libc::waitpid(child, &mut status, libc::WNOHANG) == child {
                    if libc::WIFEXITED(status) {
                        end_like(libc::WEXITSTATUS(status), 0);
                    }
                    if libc::WIFSIGNALED(status) {
                        let by = libc::WTERMSIG(status);
                        end_like(
                            0,
                            if by == libc::SIGKILL && killed_by != 0 {
                                killed_by
                            } else {
                                by
                            },
                        );
                    }
                }
                continue;
            }
            let mut buf = [0u8; 4096];
            let n = if status_fd >= 0 {
                libc::pread(status_fd, buf.as_mut_ptr().cast(), buf.len(), 0)
            } else {
                -1
            };
            if n > 0 && dies_by_default(&buf[..n as usize], sig) {
                killed_by = sig;
                libc::kill(child, libc::SIGKILL);
            } else if info.si_code <= 0 {
                // Sent by a process (kill, sigqueue, tgkill): forward. Kernel-sent signals (a
                // terminal's, si_code SI_KERNEL) went to the sentry's process group as well.
                libc::kill(child, sig);
            }
        }
    }
}

/// Writes `/proc/<pid>/<file>` and a NUL into `buf` (no allocation: runs after fork); `pid` is
/// the digits. Fails when it does not fit.
fn proc_path(pid: &[u8], file: &[u8], buf: &mut [u8]) -> io::Result<()> {
    let parts: [&[u8]; 5] = [b"/proc/", pid, b"/", file, b"\0"];
    if parts.iter().map(|p| p.len()).sum::<usize>() > buf.len() {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    let mut i = 0;
    for part in parts {
        buf[i..i + part.len()].copy_from_slice(part);
        i += part.len();
    }
    Ok(())
}

/// Closes every descriptor but `a` and `b` (`b` may be -1). No allocation.
fn close_all_but(a: libc::c_int, b: libc::c_int) {
    let (lo, hi) = if b < 0 || a == b {
        (a, a)
    } else {
        (a.min(b), a.max(b))
    };
    let mut ranges = [(0, lo - 1), (lo + 1, hi - 1), (hi + 1, libc::c_int::MAX)];
    if lo == hi {
        ranges[1] = (1, 0);
    }
    for (first, last) in ranges {
        if first <= last && last >= 0 {
            // SAFETY: close_range only closes this process's descriptors in the range.
            unsafe {
                libc::syscall(
                    libc::SYS_close_range,
                    first as libc::c_uint,
                    last as libc::c_uint,
                    0 as libc::c_uint,
                )
            };
        }
    }
}

/// Whether `sig`'s default action terminates the process (signal(7): Term or Core).
fn default_is_fatal(sig: libc::c_int) -> bool {
    !matches!(
        sig,
        libc::SIGKILL
            | libc::SIGSTOP
            | libc::SIGCHLD
            | libc::SIGCONT
            | libc::SIGTSTP
            | libc::SIGTTIN
            | libc::SIGTTOU
            | libc::SIGURG
            | libc::SIGWINCH
    ) && (1..=64).contains(&sig)
}

/// Whether a process whose /proc status is `status` would be killed by `sig` at its default
/// action: the action is fatal and the signal is not caught, ignored nor blocked.
fn dies_by_default(status: &[u8], sig: libc::c_int) -> bool {
    if !default_is_fatal(sig) {
        return false;
    }
    let bit = 1u64 << (sig - 1);
    let mut handled = 0u64;
    for field in [&b"SigBlk:"[..], b"SigIgn:", b"SigCgt:"] {
        match status_mask(status, field) {
            Some(m) => handled |= m,
            None => return false,
        }
    }
    handled & bit == 0
}

/// The hexadecimal mask of line `field` (`SigCgt:` ...) of a /proc status text.
fn status_mask(status: &[u8], field: &[u8]) -> Option<u64> {
    for line in status.split(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(field) {
            let mut v = 0u64;
            let mut any = false;
            for &c in rest {
                let d = match c {
                    b'0'..=b'9' => c - b'0',
                    b'a'..=b'f' => c - b'a' + 10,
                    b' ' | b'\t' => continue,
                    _ => return None,
                };
                v = v.checked_mul(16)? | u64::from(d);
                any = true;
            }
            return any.then_some(v);
        }
    }
    None
}

/// Ends this process with exit code `code` or, when `sig` is not 0, by signal `sig`. As pid 1
/// of a pid namespace of the spec's, a process cannot die of a signal it sends itself: it then
/// exits with 128 + `sig`, which waiting engines report the same way.
fn end_like(code: libc::c_int, sig: libc::c_int) -> ! {
    // SAFETY: raw syscalls on this process's own state; `act`, `set` and `none` are locals.
    unsafe {
        if sig == 0 {
            libc::_exit(code);
        }
        // The sentry dumped core already, if it was going to.
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(sig, &act, std::ptr::null_mut());
        libc::kill(libc::getpid(), sig);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::_exit(128 + sig);
    }
}

/// Brings the loopback interface of the calling process's (new) network namespace up, as
/// runc does for a container's new namespace: a fresh namespace's `lo` is down. Runs in the
/// forked child before exec: socket, ioctl and close only, the request on the stack.
pub fn loopback_up() -> io::Result<()> {
    // SAFETY: plain syscalls on a descriptor this function owns; `req` is a zeroed
    // `struct ifreq` whose name is a NUL-terminated "lo" and which outlives both ioctls.
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if s < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        req.ifr_name[0] = b'l' as libc::c_char;
        req.ifr_name[1] = b'o' as libc::c_char;
        let mut r = libc::ioctl(s, libc::SIOCGIFFLAGS, &mut req);
        if r == 0 {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            r = libc::ioctl(s, libc::SIOCSIFFLAGS, &req);
        }
        let err = io::Error::last_os_error();
        libc::close(s);
        if r != 0 {
            return Err(err);
        }
    }
    Ok(())
}

/// Descriptors already taken by `take_inherited_fd` (each number has one owner).
static TAKEN: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());

/// Takes ownership of descriptor `fd`, inherited from the runsc front end that named it on the
/// command line, and marks it close-on-exec. Fails for stdio, for a closed descriptor and for a
/// number already taken.
pub fn take_inherited_fd(fd: RawFd) -> io::Result<OwnedFd> {
    if fd <= 2 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("descriptor {fd} is stdio, not an inherited descriptor"),
        ));
    }
    let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
    if taken.contains(&fd) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("descriptor {fd} named twice"),
        ));
    }
    fcntl(fd, FcntlArg::F_GETFD)
        .map_err(|e| io::Error::new(io::ErrorKind::NotFound, format!("descriptor {fd}: {e}")))?;
    taken.push(fd);
    // SAFETY: `fd` is open (F_GETFD succeeded), is not stdio, and `TAKEN` guarantees that no
    // other `OwnedFd` was made from it here; the front end passed it to this process for us alone.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(io::Error::from)?;
    Ok(owned)
}

/// Keeps glibc's malloc away from host files, which the sentry (no `open*`) and the gofer (no
/// `read`) may not touch once their seccomp filters are on; call before any filter. Two paths
/// did, both seen killing a sandbox with SIGSYS:
/// - past 8 threads, malloc sizes its arena limit from `get_nprocs()`, which reads
///   `/sys/devices/system/cpu/online` (java's many threads): `M_ARENA_MAX` makes it never ask;
/// - shrinking a thread arena's heap first reads `/proc/sys/vm/overcommit_memory` (the gofer
///   freeing its node table at exit after `git init`): with `M_TRIM_THRESHOLD` at its maximum,
///   thread heaps are never shrunk (they are still unmapped whole when empty).
pub fn tame_malloc(arenas: libc::c_int) {
    // SAFETY: mallopt only sets malloc tunables; both take any positive value.
    unsafe {
        let _ = libc::mallopt(libc::M_ARENA_MAX, arenas);
        let _ = libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, IntoRawFd};

    #[test]
    fn take_rejects_stdio_closed_and_twice() {
        assert!(take_inherited_fd(1).is_err());
        let (r, w) = nix::unistd::pipe().unwrap();
        let raw = r.into_raw_fd();
        let owned = take_inherited_fd(raw).unwrap();
        assert_eq!(owned.as_raw_fd(), raw);
        assert!(take_inherited_fd(raw).is_err());
        drop(w);
        // A number that is certainly closed.
        assert!(take_inherited_fd(1_000_000).is_err());
    }

    #[test]
    fn status_masks_tell_which_signals_kill_by_default() {
        let status = b"Name:\tx\nSigBlk:\t0000000000000002\nSigIgn:\t0000000000001000\nSigCgt:\t0000000000004000\n";
        assert_eq!(status_mask(status, b"SigCgt:"), Some(0x4000));
        assert!(!dies_by_default(status, libc::SIGTERM)); // caught (bit 15 - 1)
        assert!(dies_by_default(status, libc::SIGHUP));
        assert!(!dies_by_default(status, libc::SIGINT)); // blocked
        assert!(!dies_by_default(status, libc::SIGPIPE)); // ignored
        assert!(!dies_by_default(status, libc::SIGWINCH)); // default: ignore
        assert!(dies_by_default(status, libc::SIGUSR1));
        assert!(!dies_by_default(b"Name:\tx\n", libc::SIGUSR1));
        let mut path = [0u8; 48];
        proc_path(b"4194304", b"status", &mut path).unwrap();
        assert!(path.starts_with(b"/proc/4194304/status\0"));
        assert!(proc_path(b"4194304", b"status", &mut [0u8; 20]).is_err());
    }

    #[test]
    fn child_inherits_only_kept_fds() {
        let (keep_r, _keep_w) = nix::unistd::pipe().unwrap();
        let (other_r, _other_w) = nix::unistd::pipe().unwrap();
        // Both are CLOEXEC-free duplicates, as inherited garbage would be.
        let keep = nix::unistd::dup(keep_r.as_raw_fd()).unwrap();
        let other = nix::unistd::dup(other_r.as_raw_fd()).unwrap();
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(format!(
            "test -e /proc/self/fd/{keep} && ! test -e /proc/self/fd/{other}"
        ));
        prepare_child(&mut cmd, vec![keep], Some(nix::unistd::getpid()));
        let status = cmd.status().unwrap();
        let _ = nix::unistd::close(keep);
        let _ = nix::unistd::close(other);
        assert!(status.success(), "{status:?}");
    }
}
