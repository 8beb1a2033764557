//! execve(2) and execveat(2): argument decoding; the work is `Task::execve` (the loader, and
//! Linux `fs/exec.c`'s `de_thread` and close-on-exec in the kernel).

use sentry::kernel::{SyscallArgs, Task};
use sentry::mm::PageReader;
use sentry::{Errno, SysResult};

/// Longest path execve accepts (PATH_MAX).
const PATH_MAX: usize = 4096;
/// MAX_ARG_STRLEN: the longest single argument or environment string.
const MAX_ARG_STRLEN: usize = 32 * 4096;
/// MAX_ARG_STRINGS.
const MAX_ARG_STRINGS: usize = 0x7fff_ffff;

/// Reads a NULL-terminated array of string pointers (argv, envp). A NULL array is empty.
/// Pointers and strings usually share a few pages: `reader` reads each page once.
fn read_str_array(reader: &mut PageReader<'_>, mut addr: u64) -> SysResult<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    loop {
        let ptr = reader.read_u64(addr)?;
        if ptr == 0 {
            return Ok(out);
        }
        if out.len() >= MAX_ARG_STRINGS {
            return Err(Errno::E2BIG);
        }
        out.push(reader.read_cstring(ptr, MAX_ARG_STRLEN).map_err(|e| {
            if e == Errno::ENAMETOOLONG {
                Errno::E2BIG
            } else {
                e
            }
        })?);
        addr = addr.checked_add(8).ok_or(Errno::EFAULT)?;
    }
}

fn do_execve(t: &mut Task, path_addr: u64, argv: u64, envp: u64) -> SysResult<u64> {
    let path = t.mm.copy_in_cstring(path_addr, PATH_MAX)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let mut reader = PageReader::new(&t.mm);
    let argv = read_str_array(&mut reader, argv)?;
    let envv = read_str_array(&mut reader, envp)?;
    t.execve(&path, argv, envv)?;
    Ok(0)
}

pub fn sys_execve(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_execve(t, a.addr(0), a.addr(1), a.addr(2))
}

/// execveat(dirfd, path, argv, envp, flags): AT_FDCWD or absolute paths.
pub fn sys_execveat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let flags = a.i32(4);
    if flags & !(libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.mm.copy_in_cstring(a.addr(1), PATH_MAX)?;
    if a.fd(0) != libc::AT_FDCWD && !path.starts_with(b"/") {
        return Err(Errno::EOPNOTSUPP);
    }
    do_execve(t, a.addr(1), a.addr(2), a.addr(3))
}
