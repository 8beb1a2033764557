//! Host file calls of the gofer server, each wrapped once behind a typed safe function: openat(2),
//! fstatat(2), readlinkat(2), getdents64(2), fstatfs(2), mkdirat(2), symlinkat(2), linkat(2),
//! mknodat(2), unlinkat(2), renameat2(2), fchownat(2), fchmodat(2), utimensat(2), ftruncate(2),
//! fgetxattr(2), flistxattr(2); and socket(2)+connect(2) to a host unix socket held as an fd;
//! malloc_trim(3) to hand set-up garbage back to the host.
//!
//! Every path argument is a single component (or "" with `AT_EMPTY_PATH`) relative to a dirfd.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

use crate::proto::{DirEntry, Timespec, MAX_PATH, MAX_XATTR_VALUE};

/// Result of a libc call returning -1/errno.
fn check(rc: libc::c_int) -> Result<libc::c_int, Errno> {
    if rc == -1 {
        Err(Errno::last())
    } else {
        Ok(rc)
    }
}

fn check_size(rc: libc::ssize_t) -> Result<usize, Errno> {
    usize::try_from(rc).map_err(|_| Errno::last())
}

/// openat(2). `O_CLOEXEC` is always added.
pub fn openat(dir: BorrowedFd<'_>, name: &CStr, flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
    loop {
        // SAFETY: `name` is a valid NUL-terminated string that outlives the call; `dir` is open.
        let rc = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                name.as_ptr(),
                flags | libc::O_CLOEXEC,
                mode as libc::c_uint,
            )
        };
        match check(rc) {
            // SAFETY: openat just returned this new fd; nothing else owns it.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// open(2) of an absolute or relative path, for the server's root and `/proc/self/fd`.
pub fn open_path(path: &CStr, flags: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
    let rc = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
    // SAFETY: open just returned this new fd; nothing else owns it.
    check(rc).map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// fstatat(fd, "", AT_EMPTY_PATH|AT_SYMLINK_NOFOLLOW): the attributes of the fd's own inode.
pub fn fstat(fd: BorrowedFd<'_>) -> Result<libc::stat, Errno> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: the path is a static empty C string; `st` is valid for writes of a `struct stat`.
    let rc = unsafe {
        libc::fstatat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            st.as_mut_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    check(rc)?;
    // SAFETY: fstatat succeeded, so it filled the whole struct.
    Ok(unsafe { st.assume_init() })
}

/// readlinkat(fd, ""): the target of the symlink that `fd` (O_PATH) refers to.
pub fn readlink(fd: BorrowedFd<'_>) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; MAX_PATH + 1];
    // SAFETY: the path is a static empty C string; `buf` is valid for `buf.len()` bytes of writes.
    let rc = unsafe {
        libc::readlinkat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    let n = check_size(rc)?;
    if n > MAX_PATH {
        return Err(Errno::ENAMETOOLONG);
    }
    buf.truncate(n);
    Ok(buf)
}

/// Reads every entry of the open directory `dir` with getdents64(2), skipping "." and "..".
pub fn getdents(dir: BorrowedFd<'_>, out: &mut Vec<DirEntry>) -> Result<(), Errno> {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        // SAFETY: `buf` is valid for `buf.len()` bytes of writes; `dir` is an open directory fd.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        let n = usize::try_from(rc).map_err(|_| Errno::last())?;
        if n == 0 {
            return Ok(());
        }
        parse_dirents(buf.get(..n).ok_or(Errno::EIO)?, out)?;
    }
}

/// Decodes `struct linux_dirent64` records (`include/linux/dirent.h`) without trusting them.
fn parse_dirents(mut buf: &[u8], out: &mut Vec<DirEntry>) -> Result<(), Errno> {
    const NAME_OFF: usize = 19;
    while !buf.is_empty() {
        let field = |at: usize, len: usize| buf.get(at..at + len).ok_or(Errno::EIO);
        let ino = u64::from_ne_bytes(field(0, 8)?.try_into().map_err(|_| Errno::EIO)?);
        let reclen = usize::from(u16::from_ne_bytes(
            field(16, 2)?.try_into().map_err(|_| Errno::EIO)?,
        ));
        let kind = field(18, 1)?[0];
        if reclen <= NAME_OFF || reclen > buf.len() {
            return Err(Errno::EIO);
        }
        let raw_name = &buf[NAME_OFF..reclen];
        let name = raw_name.split(|&b| b == 0).next().unwrap_or(raw_name);
        if name != b"." && name != b".." {
            out.push(DirEntry {
                name: name.to_vec(),
                ino,
                kind,
            });
        }
        buf = &buf[reclen..];
    }
    Ok(())
}

/// fstatfs64(2) (fstatfs(2)); works on O_PATH fds.
pub fn fstatfs(fd: BorrowedFd<'_>) -> Result<libc::statfs64, Errno> {
    let mut st = std::mem::MaybeUninit::<libc::statfs64>::uninit();
    // SAFETY: `st` is valid for writes of a `struct statfs64`.
    check(unsafe { libc::fstatfs64(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstatfs succeeded, so it filled the whole struct.
    Ok(unsafe { st.assume_init() })
}

/// mkdirat(2).
pub fn mkdirat(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> Result<(), Errno> {
    // SAFETY: `name` is a valid C string that outlives the call.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) }).map(drop)
}

/// symlinkat(2): creates `dir/name` pointing at `target`.
pub fn symlinkat(target: &CStr, dir: BorrowedFd<'_>, name: &CStr) -> Result<(), Errno> {
    // SAFETY: both strings are valid C strings that outlive the call.
    check(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) }).map(drop)
}

/// linkat(2) from `old_dir/old_name` (or the fd itself with `AT_EMPTY_PATH`) to `new_dir/new_name`.
pub fn linkat(
    old_dir: BorrowedFd<'_>,
    old_name: &CStr,
    new_dir: BorrowedFd<'_>,
    new_name: &CStr,
    flags: i32,
) -> Result<(), Errno> {
    // SAFETY: both strings are valid C strings that outlive the call.
    let rc = unsafe {
        libc::linkat(
            old_dir.as_raw_fd(),
            old_name.as_ptr(),
            new_dir.as_raw_fd(),
            new_name.as_ptr(),
            flags,
        )
    };
    check(rc).map(drop)
}

/// mknodat(2) with device 0 (regular files and fifos).
pub fn mknodat(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> Result<(), Errno> {
    // SAFETY: `name` is a valid C string that outlives the call.
    check(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode, 0) }).map(drop)
}

/// unlinkat(2); `flags` is 0 or `AT_REMOVEDIR`.
pub fn unlinkat(dir: BorrowedFd<'_>, name: &CStr, flags: i32) -> Result<(), Errno> {
    // SAFETY: `name` is a valid C string that outlives the call.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) }).map(drop)
}

/// renameat2(2).
pub fn renameat2(
    old_dir: BorrowedFd<'_>,
    old_name: &CStr,
    new_dir: BorrowedFd<'_>,
    new_name: &CStr,
    flags: u32,
) -> Result<(), Errno> {
    // SAFETY: both strings are valid C strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            old_dir.as_raw_fd(),
            old_name.as_ptr(),
            new_dir.as_raw_fd(),
            new_name.as_ptr(),
            flags,
        )
    };
    check(rc).map(drop)
}

/// fchownat(fd, "", uid, gid, AT_EMPTY_PATH): the fd's own inode, never a symlink's target.
/// `u32::MAX` (-1) leaves an id unchanged.
pub fn fchown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> Result<(), Errno> {
    // SAFETY: the path is a static empty C string.
    check(unsafe { libc::fchownat(fd.as_raw_fd(), c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH) })
        .map(drop)
}

/// fchmodat(dir, name, mode, 0). Used with `/proc/self/fd` and a fd number to reach an O_PATH
/// node's inode.
pub fn fchmodat(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> Result<(), Errno> {
    // SAFETY: `name` is a valid C string that outlives the call.
    check(unsafe { libc::fchmodat(dir.as_raw_fd(), name.as_ptr(), mode, 0) }).map(drop)
}

/// A time for [`utimensat`].
#[derive(Debug, Clone, Copy)]
pub enum TimeSet {
    Omit,
    Now,
    At(Timespec),
}

fn to_timespec(t: TimeSet) -> libc::timespec {
    match t {
        TimeSet::Omit => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        TimeSet::Now => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        },
        TimeSet::At(ts) => libc::timespec {
            tv_sec: ts.sec,
            tv_nsec: ts.nsec,
        },
    }
}

/// utimensat(2) on `dir/name` with `flags` (`AT_EMPTY_PATH`, `AT_SYMLINK_NOFOLLOW`).
pub fn utimensat(
    dir: BorrowedFd<'_>,
    name: &CStr,
    atime: TimeSet,
    mtime: TimeSet,
    flags: i32,
) -> Result<(), Errno> {
    let times = [to_timespec(atime), to_timespec(mtime)];
    // SAFETY: `name` is a valid C string and `times` two valid timespecs, both outliving the call.
    check(unsafe { libc::utimensat(dir.as_raw_fd(), name.as_ptr(), times.as_ptr(), flags) })
        .map(drop)
}

/// ftruncate(2).
pub fn ftruncate(fd: BorrowedFd<'_>, size: i64) -> Result<(), Errno> {
    // SAFETY: plain integer arguments.
    check(unsafe { libc::ftruncate(fd.as_raw_fd(), size) }).map(drop)
}

/// fgetxattr(2) of `name` on an open (not O_PATH) fd.
pub fn fgetxattr(fd: BorrowedFd<'_>, name: &CStr) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; MAX_XATTR_VALUE];
    // SAFETY: `name` is a valid C string; `buf` is valid for `buf.len()` bytes of writes.
    let rc = unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    let n = check_size(rc)?;
    buf.truncate(n);
    Ok(buf)
}

/// flistxattr(2) on an open (not O_PATH) fd: the names, split at their NULs.
pub fn flistxattr(fd: BorrowedFd<'_>) -> Result<Vec<Vec<u8>>, Errno> {
    let mut buf = vec![0u8; MAX_XATTR_VALUE];
    // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
    let rc = unsafe { libc::flistxattr(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    let n = check_size(rc)?;
    let list = buf.get(..n).ok_or(Errno::EIO)?;
    Ok(list
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

/// A new AF_UNIX socket of type `ty` (non-blocking, close-on-exec; socket(2)) connected
/// (connect(2)) to the host socket inode that the O_PATH fd `sock` names. connect(2) has no
/// dirfd form, so the calling thread takes a cwd of its own (unshare(2) `CLONE_FS`), moves it
/// to `proc_fd_dir` (the server's `/proc/self/fd`, fchdir(2)) and connects to the relative
/// name of `sock` there: the magic link leads to the inode itself, and no path of the host is
/// walked (the gofer's root is empty anyway).
pub fn connect_unix(
    proc_fd_dir: BorrowedFd<'_>,
    sock: BorrowedFd<'_>,
    ty: i32,
) -> Result<OwnedFd, Errno> {
    // SAFETY: unshare(2) with CLONE_FS only gives this thread a private copy of its cwd,
    // root and umask; it touches no memory.
    check(unsafe { libc::unshare(libc::CLONE_FS) })?;
    // SAFETY: fchdir(2) takes a plain descriptor the caller keeps open.
    check(unsafe { libc::fchdir(proc_fd_dir.as_raw_fd()) })?;
    let mut addr = libc::sockaddr_un {
        sun_family: libc::AF_UNIX as libc::sa_family_t,
        sun_path: [0; 108],
    };
    let name = sock.as_raw_fd().to_string();
    for (dst, &b) in addr.sun_path.iter_mut().zip(name.as_bytes()) {
        *dst = b as libc::c_char;
    }
    // SAFETY: socket(2) takes plain integers.
    let fd = check(unsafe {
        libc::socket(
            libc::AF_UNIX,
            ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: socket(2) just returned this new fd; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let len = std::mem::size_of::<libc::sa_family_t>() + name.len() + 1;
    // SAFETY: `addr` is a live `sockaddr_un` of at least `len` bytes (the family, the decimal
    // name and its NUL), read by the kernel during the call only.
    let rc = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            std::ptr::addr_of!(addr).cast(),
            len as libc::socklen_t,
        )
    };
    check(rc)?;
    Ok(fd)
}

/// Returns the allocator's free pages to the host (malloc_trim(3): `madvise(MADV_DONTNEED)` of
/// free chunks, `brk` shrink of the main heap, both on the gofer's allowlist). Called once set-up
/// garbage (argument parsing, root opening) is free: an idle gofer then holds only what it
/// uses. Thread heaps are never unmapped by it, so malloc reads no host file here.
pub fn trim_heap() {
    // SAFETY: malloc_trim only releases memory malloc owns and has marked free; it takes no
    // pointer from us.
    let _ = unsafe { libc::malloc_trim(0) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ino: u64, kind: u8, name: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&ino.to_ne_bytes());
        r.extend_from_slice(&0i64.to_ne_bytes());
        let reclen = (19 + name.len() + 1).next_multiple_of(8);
        r.extend_from_slice(&u16::try_from(reclen).unwrap().to_ne_bytes());
        r.push(kind);
        r.extend_from_slice(name);
        r.resize(reclen, 0);
        r
    }

    #[test]
    fn parse_dirents_skips_dot_entries() {
        let mut buf = record(1, libc::DT_DIR, b".");
        buf.extend(record(2, libc::DT_DIR, b".."));
        buf.extend(record(3, libc::DT_REG, b"file"));
        let mut out = Vec::new();
        parse_dirents(&buf, &mut out).unwrap();
        assert_eq!(
            out,
            vec![DirEntry {
                name: b"file".to_vec(),
                ino: 3,
                kind: libc::DT_REG
            }]
        );
    }

    #[test]
    fn parse_dirents_rejects_bad_reclen() {
        let mut buf = record(3, libc::DT_REG, b"file");
        buf[16] = 200;
        assert_eq!(parse_dirents(&buf, &mut Vec::new()), Err(Errno::EIO));
        assert_eq!(parse_dirents(&buf[..10], &mut Vec::new()), Err(Errno::EIO));
    }
}
