//! An open file (after gVisor's `pkg/sentry/vfs/file_description.go`; Linux `struct file` in
//! `include/linux/fs.h`): the dentry it was opened through, the filesystem's operations, the
//! offset (behind a lock, so concurrent reads of one description serialize as on Linux) and the
//! status flags.
//!
//! Lock order: `offset` before `dir_snapshot`; no lock is held across a call into another
//! description.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::abi::dirent;
use crate::kernel::wait::WaitQueue;
use crate::kernel::Task;
use crate::vfs::dentry::Dentry;
use crate::vfs::inode::{DirEntry, FileOps, Inode, Positioning, Stat, TaskRef, DEFAULT_POLLMASK};
use crate::{Errno, SysResult};

/// Status flags that F_SETFL may change.
pub const SETFL_MASK: i32 = libc::O_APPEND | libc::O_NONBLOCK;

/// An open file (struct file).
pub struct FileDescription {
    dentry: Arc<Dentry>,
    ops: Arc<dyn FileOps>,
    offset: Mutex<u64>,
    /// Access mode and status flags (O_APPEND, O_NONBLOCK, O_PATH, O_DIRECTORY...).
    flags: AtomicI32,
    /// The directory listing taken at the first getdents from offset 0.
    dir_snapshot: Mutex<Option<Vec<DirEntry>>>,
    /// The file's lock key once this description took a flock or OFD lock, so that the last
    /// close releases them (Linux `locks_remove_file`).
    lock_key: Mutex<Option<(u64, u64)>>,
    /// Processes that took record locks through this description: its last close releases
    /// them too (covers a process that exits without closing).
    posix_pids: Mutex<Vec<i32>>,
}

impl Drop for FileDescription {
    fn drop(&mut self) {
        if !self.is_path_only() {
            crate::fs::inotify::description_closed(&self.dentry, self.writable());
        }
        let key = *lock(&self.lock_key);
        if let Some(key) = key {
            let id = self as *const FileDescription as usize;
            crate::vfs::lock::funlock(key, id);
            crate::vfs::lock::release_owner(key, crate::vfs::lock::Owner::File(id));
            for pid in lock(&self.posix_pids).iter() {
                crate::vfs::lock::release_owner(key, crate::vfs::lock::Owner::Process(*pid));
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn to_off(v: u64) -> SysResult<i64> {
    i64::try_from(v).map_err(|_| Errno::EOVERFLOW)
}

impl FileDescription {
    /// A description of `dentry` with the filesystem's `ops` and open(2) `flags` (creation flags
    /// and O_CLOEXEC are dropped).
    pub fn new(dentry: Arc<Dentry>, ops: Arc<dyn FileOps>, flags: i32) -> Arc<FileDescription> {
        let keep = libc::O_ACCMODE
            | libc::O_APPEND
            | libc::O_NONBLOCK
            | libc::O_PATH
            | libc::O_DIRECTORY
            | libc::O_NOFOLLOW
            | libc::O_DIRECT
            | libc::O_NOATIME
            | libc::O_LARGEFILE
            | libc::O_SYNC
            | libc::O_DSYNC;
        Arc::new(FileDescription {
            dentry,
            ops,
            offset: Mutex::new(0),
            flags: AtomicI32::new((flags & keep) | libc::O_LARGEFILE),
            dir_snapshot: Mutex::new(None),
            lock_key: Mutex::new(None),
            posix_pids: Mutex::new(Vec::new()),
        })
    }

    /// This description's identity as a lock owner (flock, OFD locks).
    pub fn lock_id(&self) -> usize {
        self as *const FileDescription as usize
    }

    /// The (st_dev, st_ino) key of the file for the lock table; remembers it so that the last
    /// close releases this description's flock and OFD locks.
    pub fn lock_key(&self, task: TaskRef) -> SysResult<(u64, u64)> {
        let mut k = lock(&self.lock_key);
        if let Some(key) = *k {
            return Ok(key);
        }
        let st = self.stat_vfs(task)?;
        *k = Some((st.dev, st.ino));
        Ok((st.dev, st.ino))
    }

    /// Remembers that process `pid` took a record lock through this description.
    pub fn note_posix_owner(&self, pid: i32) {
        let mut p = lock(&self.posix_pids);
        if !p.contains(&pid) {
            p.push(pid);
        }
    }

    /// The lock key if this description ever took a lock.
    pub fn known_lock_key(&self) -> Option<(u64, u64)> {
        *lock(&self.lock_key)
    }

    pub fn dentry(&self) -> &Arc<Dentry> {
        &self.dentry
    }
    pub fn inode(&self) -> &Arc<dyn Inode> {
        &self.dentry.inode
    }
    pub fn ops(&self) -> &Arc<dyn FileOps> {
        &self.ops
    }
    /// The file's operations as their concrete type `T` (an epoll instance, a socket...), or
    /// None when the file is of another kind.
    pub fn ops_as<T: 'static>(&self) -> Option<&T> {
        self.ops.as_any().and_then(|a| a.downcast_ref::<T>())
    }
    /// Access mode and status flags, as F_GETFL reports them.
    pub fn flags(&self) -> i32 {
        self.flags.load(Ordering::Relaxed)
    }
    /// F_SETFL: only O_APPEND and O_NONBLOCK change.
    pub fn set_status_flags(&self, flags: i32) {
        let old = self.flags();
        self.flags.store(
            (old & !SETFL_MASK) | (flags & SETFL_MASK),
            Ordering::Relaxed,
        );
    }
    pub fn is_path_only(&self) -> bool {
        self.flags() & libc::O_PATH != 0
    }
    pub fn readable(&self) -> bool {
        !self.is_path_only()
            && matches!(
                self.flags() & libc::O_ACCMODE,
                libc::O_RDONLY | libc::O_RDWR
            )
    }
    pub fn writable(&self) -> bool {
        !self.is_path_only()
            && matches!(
                self.flags() & libc::O_ACCMODE,
                libc::O_WRONLY | libc::O_RDWR
            )
    }

    /// read(2) at the current offset, advancing it.
    pub fn read(&self, task: &Task, buf: &mut [u8]) -> SysResult<usize> {
        self.read_inner(Some(task), buf)
    }

    pub(crate) fn read_inner(&self, task: TaskRef, buf: &mut [u8]) -> SysResult<usize> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        match self.ops.positioning() {
            Positioning::Offset => {
                let mut off = lock(&self.offset);
                let n = self.ops.read_at(task, buf, *off)?;
                *off += n as u64;
                Ok(n)
            }
            Positioning::Stream | Positioning::Host => {
                self.ops.read_with_flags(task, buf, self.flags())
            }
        }
    }

    /// pread64(2): at `offset`, offset unchanged.
    pub fn pread(&self, task: &Task, buf: &mut [u8], offset: u64) -> SysResult<usize> {
        self.pread_inner(Some(task), buf, offset)
    }

    pub(crate) fn pread_inner(
        &self,
        task: TaskRef,
        buf: &mut [u8],
        offset: u64,
    ) -> SysResult<usize> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        to_off(offset).map_err(|_| Errno::EINVAL)?;
        match self.ops.positioning() {
            Positioning::Offset | Positioning::Host => self.ops.read_at(task, buf, offset),
            Positioning::Stream => Err(Errno::ESPIPE),
        }
    }

    /// write(2) at the current offset (at the end with O_APPEND), advancing it.
    pub fn write(&self, task: &Task, buf: &[u8]) -> SysResult<usize> {
        self.write_inner(Some(task), buf)
    }

    pub(crate) fn write_inner(&self, task: TaskRef, buf: &[u8]) -> SysResult<usize> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        match self.ops.positioning() {
            Positioning::Offset => {
                let mut off = lock(&self.offset);
                if self.flags() & libc::O_APPEND != 0 {
                    *off = self.size(task)?;
                }
                let n = self.ops.write_at(task, buf, *off)?;
                *off += n as u64;
                Ok(n)
            }
            Positioning::Stream | Positioning::Host => {
                self.ops.write_with_flags(task, buf, self.flags())
            }
        }
    }

    /// pwrite64(2).
    pub fn pwrite(&self, task: &Task, buf: &[u8], offset: u64) -> SysResult<usize> {
        self.pwrite_inner(Some(task), buf, offset)
    }

    pub(crate) fn pwrite_inner(&self, task: TaskRef, buf: &[u8], offset: u64) -> SysResult<usize> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        to_off(offset).map_err(|_| Errno::EINVAL)?;
        match self.ops.positioning() {
            // With O_APPEND, Linux's pwrite appends whatever the offset (pwrite(2), BUGS); the
            // file offset lock serialises it with write's appends. (A host fd does it itself.)
            Positioning::Offset if self.flags() & libc::O_APPEND != 0 => {
                let _appending = lock(&self.offset);
                let end = self.size(task)?;
                self.ops.write_at(task, buf, end)
            }
            Positioning::Offset | Positioning::Host => self.ops.write_at(task, buf, offset),
            Positioning::Stream => Err(Errno::ESPIPE),
        }
    }

    fn size(&self, task: TaskRef) -> SysResult<u64> {
        match self.ops.size() {
            Some(r) => r,
            None => Ok(u64::try_from(self.dentry.inode.stat(task)?.size).unwrap_or(0)),
        }
    }

    /// lseek(2).
    pub fn seek(&self, task: TaskRef, offset: i64, whence: i32) -> SysResult<u64> {
        if self.is_path_only() {
            return Err(Errno::EBADF);
        }
        match self.ops.positioning() {
            Positioning::Stream => return Err(Errno::ESPIPE),
            Positioning::Host => return self.ops.seek(offset, whence),
            Positioning::Offset => {}
        }
        let mut off = lock(&self.offset);
        let base: i64 = match whence {
            libc::SEEK_SET => 0,
            libc::SEEK_CUR => to_off(*off)?,
            libc::SEEK_END => to_off(self.size(task)?)?,
            libc::SEEK_DATA | libc::SEEK_HOLE => {
                let size = to_off(self.size(task)?)?;
                if offset < 0 || offset >= size {
                    return Err(Errno::ENXIO);
                }
                // No holes: data runs from `offset` to the end, the only hole is at the end.
                if whence == libc::SEEK_HOLE {
                    *off = size as u64;
                    return Ok(*off);
                }
                0
            }
            _ => return Err(Errno::EINVAL),
        };
        let new = base.checked_add(offset).ok_or(Errno::EOVERFLOW)?;
        if new < 0 {
            return Err(Errno::EINVAL);
        }
        *off = new as u64;
        if new == 0 {
            *lock(&self.dir_snapshot) = None;
        }
        Ok(*off)
    }

    /// fstat(2).
    pub fn stat(&self, task: &Task) -> SysResult<libc::stat> {
        Ok(self.stat_vfs(Some(task))?.to_libc())
    }

    /// fstat(2) as the VFS's `Stat` (attributes refreshed from the backing store).
    pub fn stat_vfs(&self, task: TaskRef) -> SysResult<Stat> {
        if let Some(r) = self.ops.stat() {
            return r;
        }
        self.dentry.inode.refresh()?;
        self.dentry.inode.stat(task)
    }

    /// The host fd to map for mmap of this file (a gofer-donated fd, or a memfd); ENODEV when
    /// the file cannot be mapped.
    pub fn host_fd_for_mmap(&self) -> SysResult<Arc<OwnedFd>> {
        if self.is_path_only() {
            return Err(Errno::EBADF);
        }
        self.ops.host_fd_for_mmap()
    }

    /// The absolute path in the sandbox (for /proc/PID/fd, /proc/PID/exe, maps).
    pub fn path(&self) -> Vec<u8> {
        self.dentry.path()
    }

    /// ioctl(2) with its argument buffer.
    pub fn ioctl(&self, req: u32, arg: &mut [u8]) -> SysResult<u64> {
        if self.is_path_only() {
            return Err(Errno::EBADF);
        }
        self.ops.ioctl(req, arg)
    }

    /// fcntl(2) commands the file itself answers (F_GETPIPE_SZ, F_SETPIPE_SZ); EINVAL for others.
    pub fn fcntl(&self, task: TaskRef, cmd: i32, arg: u64) -> SysResult<u64> {
        if self.is_path_only() {
            return Err(Errno::EBADF);
        }
        self.ops.fcntl(task, cmd, arg)
    }

    /// The `POLL*` events now true of `mask` (POLLERR and POLLHUP always count), as poll(2),
    /// select(2) and epoll see them. Files without a poll operation are always readable and
    /// writable.
    pub fn readiness(&self, mask: u32) -> u32 {
        let always = (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) as u32;
        if self.ops.supports_poll() {
            self.ops.readiness(mask | always) & (mask | always)
        } else {
            DEFAULT_POLLMASK & mask
        }
    }

    /// Whether the file has a poll operation (epoll_ctl gives EPERM for those without).
    pub fn supports_poll(&self) -> bool {
        !self.is_path_only() && self.ops.supports_poll()
    }

    /// The queue notified when readiness may change, if the sentry can see the changes.
    pub fn wait_queue(&self) -> Option<&WaitQueue> {
        self.ops.wait_queue()
    }

    /// The file's event counter for `mask` (see `FileOps::generation`).
    pub fn generation(&self, mask: u32) -> u64 {
        self.ops.generation(mask)
    }

    /// ftruncate(2).
    pub fn truncate(&self, size: u64) -> SysResult<()> {
        if !self.writable() {
            return Err(Errno::EINVAL);
        }
        if self.dentry.mount.readonly() {
            return Err(Errno::EROFS);
        }
        self.ops.truncate(size)
    }

    /// fsync(2)/fdatasync(2).
    pub fn sync(&self) -> SysResult<()> {
        if self.is_path_only() {
            return Err(Errno::EBADF);
        }
        self.ops.sync()
    }

    /// getdents64(2): as many `linux_dirent64` records as fit in `max_len` bytes, "." and ".."
    /// first, resuming at the file offset (the index of the next entry). EINVAL if not even one
    /// record fits; an empty result at the end.
    pub fn getdents(&self, task: TaskRef, max_len: usize) -> SysResult<Vec<u8>> {
        if self.is_path_only() {
            return Err(Errno::EBADF);
        }
        let st = self.dentry.inode.stat(task)?;
        if !st.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut off = lock(&self.offset);
        let mut snap = lock(&self.dir_snapshot);
        if snap.is_none() || *off == 0 {
            let mut all = Vec::new();
            all.push(DirEntry {
                name: b".".to_vec(),
                ino: st.ino,
                kind: libc::DT_DIR,
            });
            let parent_ino = match &self.dentry.parent {
                Some(p) if !self.dentry.is_root_of(task) => p.inode.stat(task)?.ino,
                _ => st.ino,
            };
            all.push(DirEntry {
                name: b"..".to_vec(),
                ino: parent_ino,
                kind: libc::DT_DIR,
            });
            all.extend(self.dentry.inode.readdir(task)?);
            if self.dentry.mount.submounts() {
                // Synthetic mount points (vfs::synthetic) show beside the real entries.
                for e in self.dentry.mount.synthetic_entries(st.dev, st.ino)? {
                    if !all.iter().any(|a| a.name == e.name) {
                        all.push(e);
                    }
                }
            }
            *snap = Some(all);
        }
        let entries = snap.as_ref().map(Vec::as_slice).unwrap_or(&[]);
        let mut out = Vec::new();
        let mut idx = usize::try_from(*off).unwrap_or(usize::MAX);
        while let Some(e) = entries.get(idx) {
            let reclen = dirent::reclen(e.name.len());
            if out.len() + reclen > max_len {
                if out.is_empty() {
                    return Err(Errno::EINVAL);
                }
                break;
            }
            dirent::push(&mut out, e.ino, (idx + 1) as i64, e.kind, &e.name);
            idx += 1;
        }
        *off = idx as u64;
        Ok(out)
    }
}

impl Dentry {
    /// Whether this is the calling task's root (whose ".." is itself).
    pub(crate) fn is_root_of(&self, task: TaskRef) -> bool {
        match task {
            Some(t) => self.same_file(&t.fs.root()),
            None => self.parent.is_none(),
        }
    }
}
