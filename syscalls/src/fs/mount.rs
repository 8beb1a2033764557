//! mount(2), umount2(2), pivot_root(2) and unshare(CLONE_NEWNS): the arguments read from the
//! application, the work done by the sandbox's VFS (`sentry::vfs::mount`,
//! `sentry::vfs::namespace`), which never reaches the host.

use sentry::kernel::{SyscallArgs, Task};
use sentry::vfs::mount::MountRequest;
use sentry::{Errno, SysResult};

use super::path_arg;

/// CAP_SYS_ADMIN.
const CAP_SYS_ADMIN: u32 = 21;

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

/// pivot_root(2): the work is `Vfs::pivot_root` (sentry/src/vfs/namespace.rs).
pub fn sys_pivot_root(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    if !t.creds.has_cap(CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    let new_root = path_arg(t, a.addr(0))?;
    let put_old = path_arg(t, a.addr(1))?;
    t.kernel.vfs.pivot_root(t, &new_root, &put_old)?;
    Ok(0)
}
