//! File syscalls (after gVisor's `pkg/sentry/syscalls/linux/sys_file.go`, `sys_read_write.go`,
//! `sys_stat.go`, `sys_getdents.go`): thin handlers that decode arguments, validate flags, call
//! the sentry's VFS and copy results out.

mod attr;
mod fd;
mod inotify;
mod lock;
mod mount;
mod path;
mod read_write;
mod splice;
mod stat;
mod transfer;

pub use attr::{
    sys_chmod, sys_chown, sys_fallocate, sys_fchmod, sys_fchmodat, sys_fchmodat2, sys_fchown,
    sys_fchownat, sys_fgetxattr, sys_flistxattr, sys_fremovexattr, sys_fsetxattr, sys_futimesat,
    sys_getxattr, sys_lchown, sys_lgetxattr, sys_link, sys_linkat, sys_listxattr, sys_llistxattr,
    sys_lremovexattr, sys_lsetxattr, sys_mknod, sys_mknodat, sys_removexattr, sys_renameat2,
    sys_setxattr, sys_symlink, sys_symlinkat, sys_sync, sys_sync_file_range, sys_syncfs,
    sys_truncate, sys_utime, sys_utimensat, sys_utimes,
};
pub use fd::{
    sys_close, sys_close_range, sys_dup, sys_dup2, sys_dup3, sys_fadvise64, sys_fcntl,
    sys_memfd_create, sys_umask,
};
pub use inotify::{
    sys_inotify_add_watch, sys_inotify_init, sys_inotify_init1, sys_inotify_rm_watch,
};
pub use lock::sys_flock;
pub use mount::{sys_mount, sys_pivot_root, sys_umount2};
pub use path::{
    sys_access, sys_chdir, sys_chroot, sys_creat, sys_faccessat, sys_faccessat2, sys_fchdir,
    sys_getcwd, sys_mkdir, sys_mkdirat, sys_open, sys_openat, sys_openat2, sys_readlink,
    sys_readlinkat, sys_rename, sys_renameat, sys_rmdir, sys_unlink, sys_unlinkat,
};
pub(crate) use read_write::iovecs;
pub use read_write::{
    sys_fdatasync, sys_fsync, sys_ftruncate, sys_getdents, sys_getdents64, sys_ioctl, sys_lseek,
    sys_pread64, sys_preadv, sys_preadv2, sys_pwrite64, sys_pwritev, sys_pwritev2, sys_read,
    sys_readahead, sys_readv, sys_write, sys_writev,
};
pub use splice::{sys_splice, sys_tee, sys_vmsplice};
pub use stat::{
    sys_fstat, sys_fstatfs, sys_lstat, sys_newfstatat, sys_stat, sys_statfs, sys_statx,
};
pub use transfer::{sys_copy_file_range, sys_sendfile};

use sentry::kernel::Task;
use sentry::vfs::walk::PATH_MAX;
use sentry::SysResult;

/// Reads a path argument (at most PATH_MAX bytes with its NUL).
fn path_arg(t: &Task, addr: u64) -> SysResult<Vec<u8>> {
    t.mm.copy_in_cstring(addr, PATH_MAX)
}

/// The task's RLIMIT_NOFILE soft limit, as an fd bound.
fn nofile_limit(t: &Task) -> i32 {
    let cur =
        t.tg.with_state(|s| s.rlimits[libc::RLIMIT_NOFILE as usize].cur);
    i32::try_from(cur).unwrap_or(i32::MAX)
}

/// A byte count as a syscall result.
fn count(n: usize) -> SysResult<u64> {
    Ok(n as u64)
}
