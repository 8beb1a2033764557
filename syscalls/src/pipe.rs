//! pipe(2) and pipe2(2) (Linux `fs/pipe.c` `do_pipe2`): the pipe itself lives in
//! `sentry::fs::pipe`; this installs its two ends as descriptors and writes them out.

use std::sync::Arc;

use sentry::fs::pipe::new_pipe;
use sentry::kernel::{SyscallArgs, Task};
use sentry::vfs::FileDescription;
use sentry::{Errno, SysResult};

/// RLIMIT_NOFILE of the calling process, as the highest descriptor number plus one.
fn nofile_limit(t: &Task) -> i32 {
    let cur =
        t.tg.with_state(|s| s.rlimits[libc::RLIMIT_NOFILE as usize].cur);
    i32::try_from(cur).unwrap_or(i32::MAX)
}

/// Installs `file` at the lowest free descriptor under RLIMIT_NOFILE.
pub(crate) fn install_fd(t: &Task, file: Arc<FileDescription>, cloexec: bool) -> SysResult<i32> {
    t.fd_table.install_below(file, cloexec, 0, nofile_limit(t))
}

fn do_pipe2(t: &mut Task, addr: u64, flags: i32) -> SysResult<u64> {
    if flags & !(libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    let cloexec = flags & libc::O_CLOEXEC != 0;
    let (r, w) = new_pipe(t.creds.fsuid, t.creds.fsgid, flags);
    let rfd = install_fd(t, r, cloexec)?;
    let wfd = match install_fd(t, w, cloexec) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = t.fd_table.remove(rfd);
            return Err(e);
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&rfd.to_ne_bytes());
    out[4..].copy_from_slice(&wfd.to_ne_bytes());
    if let Err(e) = t.mm.copy_out(addr, &out) {
        let _ = t.fd_table.remove(rfd);
        let _ = t.fd_table.remove(wfd);
        return Err(e);
    }
    Ok(0)
}

/// pipe(2).
pub fn sys_pipe(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_pipe2(t, a.addr(0), 0)
}

/// pipe2(2): O_CLOEXEC, O_NONBLOCK and O_DIRECT (packet mode); other flags are EINVAL.
pub fn sys_pipe2(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_pipe2(t, a.addr(0), a.i32(1))
}
