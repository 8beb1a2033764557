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
pub fn in_namespaces(cmd: &mut Command, net: crate::boot::isolate::NetworkNamespace) {
    // SAFETY: the hook runs in the forked child before exec and makes only async-signal-safe
    // syscalls (unshare, setns, and socket/ioctl/close for the loopback), allocating nothing.
    unsafe {
        cmd.pre_exec(move || crate::boot::isolate::enter_namespaces(&net));
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
