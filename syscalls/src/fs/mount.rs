//! mount(2) and umount2(2): the arguments read from the application, the work done by the
//! sandbox's VFS (`sentry::vfs::mount`), which never reaches the host.

use sentry::kernel::{SyscallArgs, Task};
use sentry::vfs::mount::MountRequest;
use sentry::{Errno, SysResult};

use super::path_arg;

/// Longest option string mount(2) copies (Linux copies one page).
const MAX_DATA: usize = 4096;

/// An optional string argument: None for a null pointer.
fn opt_string(t: &Task, addr: u64) -> SysResult<Option<Vec<u8>>> {
    if addr == 0 {
        return Ok(None);
    }
    path_arg(t, addr).map(Some)
}

/// mount(2).
pub fn sys_mount(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let source = opt_string(t, a.addr(0))?;
    let target = path_arg(t, a.addr(1))?;
    let fs_type = opt_string(t, a.addr(2))?;
    let data = if a.addr(4) == 0 {
        None
    } else {
        Some(t.mm.copy_in_cstring(a.addr(4), MAX_DATA)?)
    };
    let req = MountRequest {
        source: source.as_deref(),
        target: &target,
        fs_type: fs_type.as_deref(),
        flags: a.u64(3),
        data: data.as_deref(),
    };
    t.kernel.vfs.mount_request(t, &req)?;
    Ok(0)
}

/// umount2(2).
pub fn sys_umount2(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let target = path_arg(t, a.addr(0))?;
    t.kernel.vfs.umount(t, &target, a.i32(1))?;
    Ok(0)
}

/// pivot_root(2): the sandbox's root is fixed (EINVAL, as for a root that is not a mount
/// point), after the permission and argument checks Linux makes first.
pub fn sys_pivot_root(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    if !t.creds.has_cap(21) {
        return Err(Errno::EPERM);
    }
    let new_root = path_arg(t, a.addr(0))?;
    let put_old = path_arg(t, a.addr(1))?;
    for p in [&new_root, &put_old] {
        let d = t.kernel.vfs.lookup_at(t, libc::AT_FDCWD, p, true, false)?;
        if !d.inode.stat(Some(t))?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
    }
    Err(Errno::EINVAL)
}
