//! sockfs (Linux `net/socket.c`): the anonymous inode every socket has, for fstat (S_IFSOCK),
//! statfs (SOCKFS_MAGIC), the "socket:[ino]" name in /proc/PID/fd, and ENXIO on reopening
//! /proc/self/fd/N. Shared by unix and inet sockets.

use std::any::Any;
use std::sync::Arc;

use crate::vfs::{Dentry, FileDescription, FileOps, Inode, Stat, StatFs, TaskRef, Timespec};
use crate::{Errno, SysResult};

/// `SOCKFS_MAGIC`.
const SOCKFS_MAGIC: i64 = 0x534F_434B;
/// The anonymous device sockets report.
const SOCKFS_DEV: u64 = 0x08;

/// Who a socket's inode says it is.
#[derive(Debug, Clone, Copy)]
pub struct SockIdentity {
    pub ino: u64,
    pub uid: u32,
    pub gid: u32,
    pub ctime: Timespec,
}

impl SockIdentity {
    /// fstat of a socket.
    pub fn stat(&self) -> Stat {
        Stat {
            dev: SOCKFS_DEV,
            ino: self.ino,
            mode: libc::S_IFSOCK | 0o777,
            nlink: 1,
            uid: self.uid,
            gid: self.gid,
            blksize: 4096,
            atime: self.ctime,
            mtime: self.ctime,
            ctime: self.ctime,
            ..Default::default()
        }
    }
}

struct SockInode {
    stat: Stat,
}

impl Inode for SockInode {
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
        Ok(self.stat)
    }
    fn open(&self, _task: TaskRef, _flags: i32) -> SysResult<Arc<dyn FileOps>> {
        Err(Errno::ENXIO)
    }
    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(SOCKFS_MAGIC))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A socket's open file: `ops` over a sockfs inode, read-write, with O_NONBLOCK from `flags`.
pub fn socket_file(id: SockIdentity, ops: Arc<dyn FileOps>, flags: i32) -> Arc<FileDescription> {
    let name = format!("socket:[{}]", id.ino).into_bytes();
    let inode: Arc<dyn Inode> = Arc::new(SockInode { stat: id.stat() });
    FileDescription::new(
        Dentry::anonymous(name, inode),
        ops,
        libc::O_RDWR | (flags & libc::O_NONBLOCK),
    )
}
