//! An overlay regular file opened read-only before copy-up (after Linux
//! `fs/overlayfs/file.c` `ovl_real_fdget`, which reopens the upper file once the inode has been
//! copied up): reads and mappings go to the lower file until the inode gains an upper copy, and
//! to that copy afterwards, so a read-only descriptor sees writes made through another one.

use std::os::fd::OwnedFd;
use std::sync::{Arc, OnceLock};

use super::OverlayInode;
use crate::vfs::{FileOps, TaskRef};
use crate::{Errno, SysResult};

pub(super) struct OverlayFile {
    inode: Arc<OverlayInode>,
    flags: i32,
    lower: Arc<dyn FileOps>,
    upper: OnceLock<Arc<dyn FileOps>>,
}

impl OverlayFile {
    pub(super) fn new(inode: Arc<OverlayInode>, flags: i32, lower: Arc<dyn FileOps>) -> Self {
        OverlayFile {
            inode,
            flags,
            lower,
            upper: OnceLock::new(),
        }
    }

    /// The file operations of the layer that now holds the data.
    fn real(&self) -> SysResult<&Arc<dyn FileOps>> {
        if let Some(u) = self.upper.get() {
            return Ok(u);
        }
        match self.inode.upper.get() {
            None => Ok(&self.lower),
            Some(up) => {
                let ops = up.open(None, self.flags)?;
                Ok(self.upper.get_or_init(|| ops))
            }
        }
    }
}

impl FileOps for OverlayFile {
    fn read_at(&self, task: TaskRef, buf: &mut [u8], offset: u64) -> SysResult<usize> {
        self.real()?.read_at(task, buf, offset)
    }
    fn write_at(&self, _task: TaskRef, _buf: &[u8], _offset: u64) -> SysResult<usize> {
        Err(Errno::EBADF)
    }
    fn size(&self) -> Option<SysResult<u64>> {
        match self.real() {
            Ok(r) => r.size(),
            Err(e) => Some(Err(e)),
        }
    }
    fn host_fd_for_mmap(&self) -> SysResult<Arc<OwnedFd>> {
        self.real()?.host_fd_for_mmap()
    }
    fn truncate(&self, _size: u64) -> SysResult<()> {
        Err(Errno::EINVAL)
    }
    fn sync(&self) -> SysResult<()> {
        self.real()?.sync()
    }
    fn ioctl(&self, req: u32, arg: &mut [u8]) -> SysResult<u64> {
        self.real()?.ioctl(req, arg)
    }
}
