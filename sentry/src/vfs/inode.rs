//! Inode and open-file operations every filesystem implements (after gVisor's
//! `pkg/sentry/vfs/filesystem.go` and `file_description.go`; Linux `include/linux/fs.h`
//! `struct inode_operations` and `struct file_operations`).

use std::any::Any;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use crate::kernel::wait::WaitQueue;
use crate::kernel::Task;
use crate::vfs::Dentry;
use crate::{Errno, SysResult};

/// The task on whose behalf an operation runs; `None` for the sentry itself (boot, tests).
pub type TaskRef<'a> = Option<&'a Task>;

/// `struct timespec`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

impl Timespec {
    /// The current wall-clock time.
    pub fn now() -> Timespec {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timespec {
            sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nsec: i64::from(d.subsec_nanos()),
        }
    }
}

/// File attributes as the VFS knows them (stat(2)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: i64,
    pub blksize: i64,
    pub blocks: i64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

impl Stat {
    pub fn file_type(&self) -> u32 {
        self.mode & libc::S_IFMT
    }
    pub fn is_dir(&self) -> bool {
        self.file_type() == libc::S_IFDIR
    }
    pub fn is_symlink(&self) -> bool {
        self.file_type() == libc::S_IFLNK
    }
    pub fn is_reg(&self) -> bool {
        self.file_type() == libc::S_IFREG
    }
    /// The `DT_*` type for getdents.
    pub fn dirent_type(&self) -> u8 {
        dirent_type_of(self.mode)
    }
    /// As the host's `struct stat`.
    pub fn to_libc(&self) -> libc::stat {
        let mut s = crate::fs::sys::zeroed_stat();
        s.st_dev = self.dev;
        s.st_ino = self.ino;
        s.st_nlink = self.nlink;
        s.st_mode = self.mode;
        s.st_uid = self.uid;
        s.st_gid = self.gid;
        s.st_rdev = self.rdev;
        s.st_size = self.size;
        s.st_blksize = self.blksize;
        s.st_blocks = self.blocks;
        s.st_atime = self.atime.sec;
        s.st_atime_nsec = self.atime.nsec;
        s.st_mtime = self.mtime.sec;
        s.st_mtime_nsec = self.mtime.nsec;
        s.st_ctime = self.ctime.sec;
        s.st_ctime_nsec = self.ctime.nsec;
        s
    }
    /// From the host's `struct stat`.
    pub fn from_libc(s: &libc::stat) -> Stat {
        Stat {
            dev: s.st_dev,
            ino: s.st_ino,
            mode: s.st_mode,
            nlink: s.st_nlink,
            uid: s.st_uid,
            gid: s.st_gid,
            rdev: s.st_rdev,
            size: s.st_size,
            blksize: s.st_blksize,
            blocks: s.st_blocks,
            atime: Timespec {
                sec: s.st_atime,
                nsec: s.st_atime_nsec,
            },
            mtime: Timespec {
                sec: s.st_mtime,
                nsec: s.st_mtime_nsec,
            },
            ctime: Timespec {
                sec: s.st_ctime,
                nsec: s.st_ctime_nsec,
            },
        }
    }
}

/// Whether an entry may take the place of `target` (rename(2) over it, or rmdir/unlink of it
/// when `dir` says which was asked; Linux `vfs_rename`, `may_delete`): a directory only an
/// empty directory (`target_empty` is asked only then), a non-directory only a non-directory.
pub fn may_replace(
    dir: bool,
    target_dir: bool,
    target_empty: impl FnOnce() -> SysResult<bool>,
) -> SysResult<()> {
    match (dir, target_dir) {
        (true, true) if !target_empty()? => Err(Errno::ENOTEMPTY),
        (true, false) => Err(Errno::ENOTDIR),
        (false, true) => Err(Errno::EISDIR),
        _ => Ok(()),
    }
}

/// The `DT_*` value for a mode's file type.
pub fn dirent_type_of(mode: u32) -> u8 {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => libc::DT_DIR,
        libc::S_IFREG => libc::DT_REG,
        libc::S_IFLNK => libc::DT_LNK,
        libc::S_IFCHR => libc::DT_CHR,
        libc::S_IFBLK => libc::DT_BLK,
        libc::S_IFIFO => libc::DT_FIFO,
        libc::S_IFSOCK => libc::DT_SOCK,
        _ => libc::DT_UNKNOWN,
    }
}

/// One directory entry (without "." and "..", which the VFS adds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: Vec<u8>,
    pub ino: u64,
    /// `DT_*`.
    pub kind: u8,
}

/// Filesystem statistics (statfs(2)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatFs {
    pub fs_type: i64,
    pub bsize: i64,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub namelen: i64,
    pub frsize: i64,
    pub flags: i64,
}

impl StatFs {
    /// A memory filesystem's answer (tmpfs, proc, dev) with magic `fs_type`.
    pub fn synthetic(fs_type: i64) -> StatFs {
        StatFs {
            fs_type,
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            ..Default::default()
        }
    }
}

/// What setattr changes (chmod, chown, utimensat, truncate): `None` leaves a field alone.
/// The VFS has already checked permissions; the filesystem applies the change and updates
/// ctime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetAttr {
    /// Permission bits and setuid/setgid/sticky (0o7777); the file type is kept.
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<Timespec>,
    pub mtime: Option<Timespec>,
}

/// Who owns a file position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Positioning {
    /// The `FileDescription` keeps the offset and reads with `read_at`.
    Offset,
    /// No position (pipes, ttys, character devices): `read_stream`, lseek/pread are `ESPIPE`.
    Stream,
    /// The host fd behind the file keeps its own position (stdio): `read_stream`, `seek`.
    Host,
}

/// What an open file can do (struct file_operations). Defaults answer as Linux does for a file
/// that lacks the operation.
pub trait FileOps: Send + Sync {
    fn positioning(&self) -> Positioning {
        Positioning::Offset
    }
    /// Reads at `offset` (Offset and Host positioning).
    fn read_at(&self, _task: TaskRef, _buf: &mut [u8], _offset: u64) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    /// Writes at `offset` (Offset and Host positioning).
    fn write_at(&self, _task: TaskRef, _buf: &[u8], _offset: u64) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    /// Reads at the file's own position (Stream and Host positioning).
    fn read_stream(&self, task: TaskRef, buf: &mut [u8]) -> SysResult<usize> {
        self.read_at(task, buf, 0)
    }
    /// Writes at the file's own position (Stream and Host positioning).
    fn write_stream(&self, task: TaskRef, buf: &[u8]) -> SysResult<usize> {
        self.write_at(task, buf, 0)
    }
    /// lseek(2) for Host positioning.
    fn seek(&self, _offset: i64, _whence: i32) -> SysResult<u64> {
        Err(Errno::ESPIPE)
    }
    /// Current size for SEEK_END and O_APPEND; `None` to use the inode's attributes.
    fn size(&self) -> Option<SysResult<u64>> {
        None
    }
    /// fstat answer that overrides the inode's (host files).
    fn stat(&self) -> Option<SysResult<Stat>> {
        None
    }
    /// ioctl(2) with its argument already copied into `arg` (sized by the request).
    fn ioctl(&self, _req: u32, _arg: &mut [u8]) -> SysResult<u64> {
        Err(Errno::ENOTTY)
    }
    fn host_fd_for_mmap(&self) -> SysResult<Arc<OwnedFd>> {
        Err(Errno::ENODEV)
    }
    fn truncate(&self, _size: u64) -> SysResult<()> {
        Err(Errno::EINVAL)
    }
    /// fallocate(2) with `mode` 0 or FALLOC_FL_KEEP_SIZE.
    fn allocate(&self, _mode: i32, _offset: u64, _len: u64) -> SysResult<()> {
        Err(Errno::EOPNOTSUPP)
    }
    /// F_ADD_SEALS (memfd); EINVAL for files that cannot be sealed.
    fn add_seals(&self, _seals: u32) -> SysResult<()> {
        Err(Errno::EINVAL)
    }
    /// F_GET_SEALS; EINVAL for files that cannot be sealed.
    fn seals(&self) -> SysResult<u32> {
        Err(Errno::EINVAL)
    }
    fn sync(&self) -> SysResult<()> {
        Ok(())
    }
    /// read(2) for Stream and Host positioning with the description's status `flags`
    /// (O_NONBLOCK): files that block (pipes, eventfd) override this.
    fn read_with_flags(&self, task: TaskRef, buf: &mut [u8], _flags: i32) -> SysResult<usize> {
        self.read_stream(task, buf)
    }
    /// write(2) for Stream and Host positioning with the description's status `flags`.
    fn write_with_flags(&self, task: TaskRef, buf: &[u8], _flags: i32) -> SysResult<usize> {
        self.write_stream(task, buf)
    }
    /// fcntl(2) commands specific to the file (F_GETPIPE_SZ, F_SETPIPE_SZ); EINVAL otherwise.
    fn fcntl(&self, _task: TaskRef, _cmd: i32, _arg: u64) -> SysResult<u64> {
        Err(Errno::EINVAL)
    }
    /// Whether the file has a poll operation (Linux `f_op->poll`): epoll_ctl refuses files
    /// without one with EPERM, and poll(2) reports them always readable and writable.
    fn supports_poll(&self) -> bool {
        false
    }
    /// The `POLL*` events now true, of `mask` plus the ones always reported (POLLERR,
    /// POLLHUP). Only asked when `supports_poll`.
    fn readiness(&self, mask: u32) -> u32 {
        mask & DEFAULT_POLLMASK
    }
    /// The queue notified when readiness may have changed; `None` for files whose changes the
    /// sentry cannot see (host fds), which waiters then poll in short slices.
    fn wait_queue(&self) -> Option<&WaitQueue> {
        None
    }
    /// A counter that grows with every event matching `mask` (data written, space freed,
    /// an end closed): edge-triggered epoll reports a ready file again when it moved. 0 when
    /// the file keeps none (edges are then readiness rising).
    fn generation(&self, _mask: u32) -> u64 {
        0
    }
    /// For recognizing a kind of file (an epoll instance) behind a description.
    fn as_any(&self) -> Option<&dyn Any> {
        None
    }
}

/// `POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM`: what a file without a poll operation reports
/// (Linux `DEFAULT_POLLMASK`).
pub const DEFAULT_POLLMASK: u32 =
    (libc::POLLIN | libc::POLLOUT | libc::POLLRDNORM | libc::POLLWRNORM) as u32;

/// File operations of something that has no data operations (directories, O_PATH files).
pub struct NoDataOps;

impl FileOps for NoDataOps {
    fn read_at(&self, _task: TaskRef, _buf: &mut [u8], _offset: u64) -> SysResult<usize> {
        Err(Errno::EISDIR)
    }
    fn write_at(&self, _task: TaskRef, _buf: &[u8], _offset: u64) -> SysResult<usize> {
        Err(Errno::EISDIR)
    }
}

/// A file in some filesystem (struct inode_operations). Directory operations default to
/// `ENOTDIR`; mutations that a filesystem does not support to `EPERM`.
pub trait Inode: Send + Sync {
    /// Current attributes.
    fn stat(&self, task: TaskRef) -> SysResult<Stat>;
    /// Refetches attributes from the backing store (fstat of a gofer file).
    fn refresh(&self) -> SysResult<()> {
        Ok(())
    }
    /// The child `name` (never "." or "..") of this directory.
    fn lookup(&self, _task: TaskRef, _name: &[u8]) -> SysResult<Arc<dyn Inode>> {
        Err(Errno::ENOTDIR)
    }
    /// This directory's entries, without "." and "..".
    fn readdir(&self, _task: TaskRef) -> SysResult<Vec<DirEntry>> {
        Err(Errno::ENOTDIR)
    }
    /// The target of this symlink.
    fn readlink(&self, _task: TaskRef) -> SysResult<Vec<u8>> {
        Err(Errno::EINVAL)
    }
    /// For magic links (/proc/PID/fd/N, cwd, root): the dentry that following the link
    /// reaches, bypassing the textual target. `None` for ordinary symlinks.
    fn magic_link(&self, _task: TaskRef) -> Option<SysResult<Arc<Dentry>>> {
        None
    }
    /// Opens this file with open(2) `flags`; the VFS has already checked access and type.
    fn open(&self, task: TaskRef, flags: i32) -> SysResult<Arc<dyn FileOps>>;
    /// Creates a regular file `name` in this directory.
    fn create(&self, _name: &[u8], _mode: u32, _uid: u32, _gid: u32) -> SysResult<Arc<dyn Inode>> {
        Err(Errno::EPERM)
    }
    fn mkdir(&self, _name: &[u8], _mode: u32, _uid: u32, _gid: u32) -> SysResult<Arc<dyn Inode>> {
        Err(Errno::EPERM)
    }
    fn symlink(
        &self,
        _name: &[u8],
        _target: &[u8],
        _uid: u32,
        _gid: u32,
    ) -> SysResult<Arc<dyn Inode>> {
        Err(Errno::EPERM)
    }
    /// Removes `name`: a directory when `dir` (rmdir), anything else otherwise (unlink).
    fn unlink(&self, _name: &[u8], _dir: bool) -> SysResult<()> {
        Err(Errno::EPERM)
    }
    /// Moves `old_name` of this directory to `new_name` of `new_dir` (same filesystem).
    fn rename(&self, _old_name: &[u8], _new_dir: &dyn Inode, _new_name: &[u8]) -> SysResult<()> {
        Err(Errno::EPERM)
    }
    /// Changes attributes (chmod, chown, utimes, truncate by path).
    fn setattr(&self, _attr: &SetAttr) -> SysResult<()> {
        Err(Errno::EPERM)
    }
    /// O_TMPFILE: a regular file in this directory's filesystem with no name (nlink 0);
    /// `linkable` says whether linkat(2) may give it one later (not with O_EXCL).
    fn tmpfile(
        &self,
        _mode: u32,
        _uid: u32,
        _gid: u32,
        _linkable: bool,
    ) -> SysResult<Arc<dyn Inode>> {
        Err(Errno::EOPNOTSUPP)
    }
    /// Makes `name` in this directory a new link to `target` (same filesystem).
    fn link(&self, _name: &[u8], _target: &dyn Inode) -> SysResult<()> {
        Err(Errno::EPERM)
    }
    /// Creates a regular file or FIFO `name` (mknod(2); `mode` carries the type).
    fn mknod(&self, _name: &[u8], _mode: u32, _uid: u32, _gid: u32) -> SysResult<Arc<dyn Inode>> {
        Err(Errno::EPERM)
    }
    /// renameat2(2) with RENAME_NOREPLACE or RENAME_EXCHANGE in `flags` (0 is `rename`).
    fn rename2(
        &self,
        old_name: &[u8],
        new_dir: &dyn Inode,
        new_name: &[u8],
        flags: u32,
    ) -> SysResult<()> {
        if flags != 0 {
            return Err(Errno::EINVAL);
        }
        self.rename(old_name, new_dir, new_name)
    }
    /// getxattr(2): the value of `name`.
    fn getxattr(&self, _name: &[u8]) -> SysResult<Vec<u8>> {
        Err(Errno::EOPNOTSUPP)
    }
    /// setxattr(2) with XATTR_CREATE/XATTR_REPLACE `flags`.
    fn setxattr(&self, _name: &[u8], _value: &[u8], _flags: i32) -> SysResult<()> {
        Err(Errno::EOPNOTSUPP)
    }
    /// listxattr(2): the names.
    fn listxattr(&self) -> SysResult<Vec<Vec<u8>>> {
        Err(Errno::EOPNOTSUPP)
    }
    fn removexattr(&self, _name: &[u8]) -> SysResult<()> {
        Err(Errno::EOPNOTSUPP)
    }
    fn statfs(&self) -> SysResult<StatFs>;
    /// Creates a socket node (S_IFSOCK) `name` holding a bound unix socket's `endpoint`
    /// (bind(2) of a path, `sentry::net`).
    fn bind_socket(
        &self,
        _name: &[u8],
        _mode: u32,
        _uid: u32,
        _gid: u32,
        _endpoint: Arc<dyn Any + Send + Sync>,
    ) -> SysResult<Arc<dyn Inode>> {
        Err(Errno::EPERM)
    }
    /// The endpoint a socket node holds (connect(2) to a path); `None` for other files.
    fn socket_endpoint(&self) -> Option<Arc<dyn Any + Send + Sync>> {
        None
    }
    /// For downcasting within one filesystem (rename).
    fn as_any(&self) -> &dyn Any;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_like_replaces_like_and_directories_must_be_empty() {
        let never = || -> SysResult<bool> { panic!("emptiness asked for a non-directory pair") };
        assert_eq!(may_replace(false, false, never), Ok(()));
        assert_eq!(may_replace(true, false, never), Err(Errno::ENOTDIR));
        assert_eq!(may_replace(false, true, never), Err(Errno::EISDIR));
        assert_eq!(may_replace(true, true, || Ok(true)), Ok(()));
        assert_eq!(may_replace(true, true, || Ok(false)), Err(Errno::ENOTEMPTY));
        assert_eq!(may_replace(true, true, || Err(Errno::EIO)), Err(Errno::EIO));
    }
}
