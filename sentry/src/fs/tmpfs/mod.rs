//! tmpfs: files in sentry memory (after gVisor's `pkg/sentry/fsimpl/tmpfs`; Linux `mm/shmem.c`).
//! Each regular file's data lives in its own host memfd, so that it can be mapped into the
//! application (`host_fd_for_mmap`). Directories and symlinks are sentry structures.
//!
//! Limits (`size=`, `nr_blocks=`, `nr_inodes=`; Linux `shmem_reserve_inode`,
//! `shmem_inode_acct_blocks`): a limited instance counts the pages its files hold (a page is
//! held once the memfd has it, as `st_blocks` says) and its inodes (one per inode, one more per
//! extra hard link). A write that would take more pages than are free is cut short at the
//! first page that does not fit (ENOSPC when none fits), fallocate(2) past the limit is ENOSPC,
//! and truncate(2) growing a file is sparse, as on Linux. Pages written through a shared
//! mapping are counted at the file's next write. An unlimited instance counts nothing.
//!
//! Lock order: a directory's `children` before its `meta`; two directories (rename) in
//! ascending inode order; the filesystem's `usage` before a file's `meta`; a file's `meta` last.

use std::any::Any;
use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use crate::fs::pipe::{self, Pipe};
use crate::fs::sys;
use crate::vfs::inode::may_replace;
use crate::vfs::{DirEntry, FileOps, Inode, NoDataOps, SetAttr, Stat, StatFs, TaskRef, Timespec};
use crate::{Errno, SysResult};

/// `TMPFS_MAGIC`.
pub const TMPFS_MAGIC: i64 = 0x0102_1994;
/// Linux's per-entry size that tmpfs reports for directories (`BOGO_DIRENT_SIZE`).
const BOGO_DIRENT_SIZE: i64 = 20;

/// Page size of the memfds that hold file data.
const PAGE: u64 = 4096;

/// One tmpfs instance.
pub struct TmpFs {
    dev: u64,
    next_ino: AtomicU64,
    usage: Mutex<Usage>,
}

/// The limits of a tmpfs instance (0: unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Most pages of file data (`size=` rounded up to pages, or `nr_blocks=`).
    pub max_pages: u64,
    /// Most inodes (`nr_inodes=`).
    pub max_inodes: u64,
}

/// What a limited instance holds against its limits.
#[derive(Debug, Default)]
struct Usage {
    limits: Limits,
    pages: u64,
    inodes: u64,
}

impl Usage {
    fn free_pages(&self) -> u64 {
        self.limits.max_pages.saturating_sub(self.pages)
    }
}

impl TmpFs {
    fn new(dev: u64, first_ino: u64, limits: Limits) -> TmpFs {
        TmpFs {
            dev,
            next_ino: AtomicU64::new(first_ino),
            usage: Mutex::new(Usage {
                limits,
                pages: 0,
                inodes: 0,
            }),
        }
    }

    /// Takes one inode (ENOSPC when `nr_inodes` are all in use).
    fn reserve_inode(&self) -> SysResult<()> {
        let mut u = lock(&self.usage);
        if u.limits.max_inodes != 0 && u.inodes >= u.limits.max_inodes {
            return Err(Errno::ENOSPC);
        }
        u.inodes += 1;
        Ok(())
    }

    fn release_inode(&self) {
        let mut u = lock(&self.usage);
        u.inodes = u.inodes.saturating_sub(1);
    }

    fn limits(&self) -> Limits {
        lock(&self.usage).limits
    }
}

#[derive(Debug, Clone, Copy)]
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    atime: Timespec,
    mtime: Timespec,
    ctime: Timespec,
    /// memfd seals (`F_SEAL_*`).
    seals: u32,
    /// An O_TMPFILE file that linkat(2) may still give a name (Linux `I_LINKABLE`).
    linkable: bool,
    /// Pages of this file counted against a limited filesystem.
    charged: u64,
}

impl Meta {
    fn new(mode: u32, uid: u32, gid: u32, nlink: u64) -> Meta {
        let now = Timespec::now();
        Meta {
            // Linux shmem files start sealed against sealing; memfd_create lifts it.
            seals: libc::F_SEAL_SEAL as u32,
            linkable: false,
            charged: 0,
            mode,
            uid,
            gid,
            nlink,
            atime: now,
            mtime: now,
            ctime: now,
        }
    }
    fn touch(&mut self) {
        let now = Timespec::now();
        self.mtime = now;
        self.ctime = now;
    }
}

enum Data {
    Dir(Mutex<BTreeMap<Vec<u8>, Arc<TmpfsInode>>>),
    File(Arc<OwnedFd>),
    Symlink(Vec<u8>),
    /// A bound unix socket's endpoint (`sentry::net`).
    Socket(Arc<dyn Any + Send + Sync>),
    /// A named pipe: every open is an end of this one pipe.
    Fifo(Arc<Pipe>),
}

/// Most bytes of extended attributes (names and values) one tmpfs inode may hold.
const XATTR_BYTES_MAX: usize = 65536;

/// A tmpfs file, directory, symlink, socket or FIFO.
pub struct TmpfsInode {
    fs: Arc<TmpFs>,
    ino: u64,
    meta: Arc<Mutex<Meta>>,
    data: Data,
    /// `user.*` extended attributes.
    xattrs: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
    /// This inode itself, for link(2).
    me: Weak<TmpfsInode>,
}

impl Drop for TmpfsInode {
    /// The inode and its pages go back to the filesystem (Linux `shmem_evict_inode`).
    fn drop(&mut self) {
        let charged = lock(&self.meta).charged;
        let mut u = lock(&self.fs.usage);
        u.inodes = u.inodes.saturating_sub(1);
        u.pages = u.pages.saturating_sub(charged);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A fresh tmpfs; returns its root directory with permissions `mode` (e.g. 0o1777 for /tmp).
pub fn new_root(dev: u64, mode: u32) -> Arc<dyn Inode> {
    new_root_with_limits(dev, mode, Limits::default())
}

/// A fresh tmpfs held to `limits` (mount options `size=`, `nr_inodes=`); its root directory
/// takes one of the inodes, as on Linux.
pub fn new_root_with_limits(dev: u64, mode: u32, limits: Limits) -> Arc<dyn Inode> {
    let fs = Arc::new(TmpFs::new(dev, 2, limits));
    lock(&fs.usage).inodes = 1;
    Arc::new_cyclic(|me| TmpfsInode {
        fs,
        ino: 1,
        meta: Arc::new(Mutex::new(Meta::new(
            libc::S_IFDIR | (mode & 0o7777),
            0,
            0,
            2,
        ))),
        data: Data::Dir(Mutex::new(BTreeMap::new())),
        xattrs: Mutex::new(BTreeMap::new()),
        me: me.clone(),
    })
}

/// Changes the limits of the tmpfs whose root is `root` (a remount): EINVAL when more is in
/// use than the new limits allow, or when limiting an unlimited instance, which never
/// counted (Linux `shmem_reconfigure`: "Cannot retroactively limit size").
pub fn set_limits(root: &dyn Inode, limits: Limits) -> SysResult<()> {
    let t = root
        .as_any()
        .downcast_ref::<TmpfsInode>()
        .ok_or(Errno::EINVAL)?;
    let mut u = lock(&t.fs.usage);
    let old = u.limits;
    let too_small = (limits.max_pages != 0 && (old.max_pages == 0 || limits.max_pages < u.pages))
        || (limits.max_inodes != 0 && (old.max_inodes == 0 || limits.max_inodes < u.inodes));
    if too_small && limits != old {
        return Err(Errno::EINVAL);
    }
    u.limits = limits;
    Ok(())
}

/// The filesystem that memfd_create(2) files live in (Linux's internal shm mount).
fn memfd_fs() -> Arc<TmpFs> {
    static FS: OnceLock<Arc<TmpFs>> = OnceLock::new();
    FS.get_or_init(|| Arc::new(TmpFs::new(crate::vfs::anon_dev(0x44), 1, Limits::default())))
        .clone()
}

/// memfd_create(2): an unnamed tmpfs regular file (mode 0777, owned by `uid`/`gid`). Without
/// `allow_sealing` the file starts sealed with F_SEAL_SEAL, as on Linux.
pub fn new_memfd(
    name: &[u8],
    uid: u32,
    gid: u32,
    allow_sealing: bool,
) -> SysResult<Arc<dyn Inode>> {
    let cname = CString::new(name.to_vec()).map_err(|_| Errno::EINVAL)?;
    let fd = sys::memfd_create(&cname)?;
    let fs = memfd_fs();
    let mut meta = Meta::new(libc::S_IFREG | 0o777, uid, gid, 1);
    if allow_sealing {
        meta.seals = 0;
    }
    fs.reserve_inode()?;
    Ok(Arc::new_cyclic(|me| TmpfsInode {
        ino: fs.next_ino.fetch_add(1, Ordering::Relaxed),
        fs,
        meta: Arc::new(Mutex::new(meta)),
        data: Data::File(Arc::new(fd)),
        xattrs: Mutex::new(BTreeMap::new()),
        me: me.clone(),
    }))
}

impl TmpfsInode {
    /// A new inode of this filesystem (ENOSPC when its inodes are all in use).
    fn new_child(&self, mode: u32, uid: u32, gid: u32, data: Data) -> SysResult<Arc<TmpfsInode>> {
        self.fs.reserve_inode()?;
        let nlink = if mode & libc::S_IFMT == libc::S_IFDIR {
            2
        } else {
            1
        };
        Ok(Arc::new_cyclic(|me| TmpfsInode {
            fs: self.fs.clone(),
            ino: self.fs.next_ino.fetch_add(1, Ordering::Relaxed),
            meta: Arc::new(Mutex::new(Meta::new(mode, uid, gid, nlink))),
            data,
            xattrs: Mutex::new(BTreeMap::new()),
            me: me.clone(),
        }))
    }

    fn children(&self) -> SysResult<&Mutex<BTreeMap<Vec<u8>, Arc<TmpfsInode>>>> {
        match &self.data {
            Data::Dir(c) => Ok(c),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn is_dir(&self) -> bool {
        matches!(self.data, Data::Dir(_))
    }

    /// Inserts a new child made by `make` unless `name` exists.
    fn insert_new(
        &self,
        name: &[u8],
        make: impl FnOnce() -> SysResult<Arc<TmpfsInode>>,
    ) -> SysResult<Arc<dyn Inode>> {
        let mut ch = lock(self.children()?);
        if lock(&self.meta).nlink == 0 {
            return Err(Errno::ENOENT);
        }
        if ch.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let child = make()?;
        let mut m = lock(&self.meta);
        if child.is_dir() {
            m.nlink += 1;
        }
        m.touch();
        ch.insert(name.to_vec(), child.clone());
        Ok(child)
    }
}

impl Inode for TmpfsInode {
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
        let m = *lock(&self.meta);
        let (size, blocks) = match &self.data {
            Data::File(fd) => {
                let s = sys::fstat(fd.as_fd())?;
                (s.st_size, s.st_blocks)
            }
            Data::Dir(c) => ((lock(c).len() as i64 + 2) * BOGO_DIRENT_SIZE, 0),
            Data::Symlink(t) => (t.len() as i64, 0),
            Data::Socket(_) | Data::Fifo(_) => (0, 0),
        };
        Ok(Stat {
            dev: self.fs.dev,
            ino: self.ino,
            mode: m.mode,
            nlink: m.nlink,
            uid: m.uid,
            gid: m.gid,
            rdev: 0,
            size,
            blksize: 4096,
            blocks,
            atime: m.atime,
            mtime: m.mtime,
            ctime: m.ctime,
        })
    }

    fn lookup(&self, _task: TaskRef, name: &[u8]) -> SysResult<Arc<dyn Inode>> {
        let ch = lock(self.children()?);
        match ch.get(name) {
            Some(c) => Ok(c.clone()),
            None => Err(Errno::ENOENT),
        }
    }

    fn readdir(&self, _task: TaskRef) -> SysResult<Vec<DirEntry>> {
        let ch = lock(self.children()?);
        Ok(ch
            .iter()
            .map(|(n, c)| DirEntry {
                name: n.clone(),
                ino: c.ino,
                kind: crate::vfs::inode::dirent_type_of(lock(&c.meta).mode),
            })
            .collect())
    }

    fn readlink(&self, _task: TaskRef) -> SysResult<Vec<u8>> {
        match &self.data {
            Data::Symlink(t) => Ok(t.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn open(&self, task: TaskRef, flags: i32) -> SysResult<Arc<dyn FileOps>> {
        match &self.data {
            Data::File(fd) => Ok(Arc::new(TmpfsFile {
                fs: self.fs.clone(),
                fd: fd.clone(),
                meta: self.meta.clone(),
            })),
            Data::Dir(_) => Ok(Arc::new(NoDataOps)),
            Data::Symlink(_) => Err(Errno::ELOOP),
            Data::Socket(_) => Err(Errno::ENXIO),
            Data::Fifo(p) => pipe::open_fifo(p, task, flags),
        }
    }

    fn setattr(&self, attr: &SetAttr) -> SysResult<()> {
        if let Some(size) = attr.size {
            match &self.data {
                Data::File(fd) => resize(&self.fs, &self.meta, fd, size)?,
                Data::Dir(_) => return Err(Errno::EISDIR),
                _ => return Err(Errno::EINVAL),
            }
        }
        let mut m = lock(&self.meta);
        if let Some(mode) = attr.mode {
            m.mode = (m.mode & libc::S_IFMT) | (mode & 0o7777);
        }
        if let Some(uid) = attr.uid {
            m.uid = uid;
        }
        if let Some(gid) = attr.gid {
            m.gid = gid;
        }
        if let Some(t) = attr.atime {
            m.atime = t;
        }
        if let Some(t) = attr.mtime {
            m.mtime = t;
        }
        m.ctime = Timespec::now();
        Ok(())
    }

    fn link(&self, name: &[u8], target: &dyn Inode) -> SysResult<()> {
        let t = target
            .as_any()
            .downcast_ref::<TmpfsInode>()
            .ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(&t.fs, &self.fs) {
            return Err(Errno::EXDEV);
        }
        if t.is_dir() {
            return Err(Errno::EPERM);
        }
        let target = t.me.upgrade().ok_or(Errno::ENOENT)?;
        {
            let m = lock(&target.meta);
            if m.nlink == 0 && !m.linkable {
                return Err(Errno::ENOENT);
            }
        }
        self.insert_new(name, || {
            // Each extra name takes an inode (Linux `shmem_link`).
            if lock(&target.meta).nlink > 0 {
                self.fs.reserve_inode()?;
            }
            let mut tm = lock(&target.meta);
            tm.nlink += 1;
            tm.ctime = Timespec::now();
            drop(tm);
            Ok(target.clone())
        })
        .map(|_| ())
    }

    fn tmpfile(&self, mode: u32, uid: u32, gid: u32, linkable: bool) -> SysResult<Arc<dyn Inode>> {
        self.children()?;
        let fd = sys::memfd_create(c"tmpfile")?;
        let child = self.new_child(
            libc::S_IFREG | (mode & 0o7777),
            uid,
            gid,
            Data::File(Arc::new(fd)),
        )?;
        {
            let mut m = lock(&child.meta);
            m.nlink = 0;
            m.linkable = linkable;
        }
        Ok(child)
    }

    fn mknod(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> SysResult<Arc<dyn Inode>> {
        match mode & libc::S_IFMT {
            libc::S_IFREG => self.create(name, mode, uid, gid),
            libc::S_IFIFO => self.insert_new(name, || {
                self.new_child(
                    libc::S_IFIFO | (mode & 0o7777),
                    uid,
                    gid,
                    Data::Fifo(pipe::new_fifo(uid, gid)),
                )
            }),
            _ => Err(Errno::EPERM),
        }
    }

    fn rename2(
        &self,
        old_name: &[u8],
        new_dir: &dyn Inode,
        new_name: &[u8],
        flags: u32,
    ) -> SysResult<()> {
        const NOREPLACE: u32 = libc::RENAME_NOREPLACE;
        const EXCHANGE: u32 = libc::RENAME_EXCHANGE;
        match flags {
            0 => self.rename(old_name, new_dir, new_name),
            NOREPLACE => {
                if new_dir.lookup(None, new_name).is_ok() {
                    return Err(Errno::EEXIST);
                }
                self.rename(old_name, new_dir, new_name)
            }
            EXCHANGE => self.exchange(old_name, new_dir, new_name),
            _ => Err(Errno::EINVAL),
        }
    }

    fn getxattr(&self, name: &[u8]) -> SysResult<Vec<u8>> {
        check_xattr_name(name)?;
        lock(&self.xattrs).get(name).cloned().ok_or(Errno::ENODATA)
    }

    fn setxattr(&self, name: &[u8], value: &[u8], flags: i32) -> SysResult<()> {
        check_xattr_name(name)?;
        if !matches!(self.data, Data::File(_) | Data::Dir(_)) {
            // Linux allows user.* only on regular files and directories.
            return Err(Errno::EPERM);
        }
        let mut x = lock(&self.xattrs);
        let exists = x.contains_key(name);
        if flags & libc::XATTR_CREATE != 0 && exists {
            return Err(Errno::EEXIST);
        }
        if flags & libc::XATTR_REPLACE != 0 && !exists {
            return Err(Errno::ENODATA);
        }
        let used: usize = x
            .iter()
            .filter(|(k, _)| k.as_slice() != name)
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if used + name.len() + value.len() > XATTR_BYTES_MAX {
            return Err(Errno::ENOSPC);
        }
        x.insert(name.to_vec(), value.to_vec());
        drop(x);
        lock(&self.meta).ctime = Timespec::now();
        Ok(())
    }

    fn listxattr(&self) -> SysResult<Vec<Vec<u8>>> {
        Ok(lock(&self.xattrs).keys().cloned().collect())
    }

    fn removexattr(&self, name: &[u8]) -> SysResult<()> {
        check_xattr_name(name)?;
        lock(&self.xattrs).remove(name).ok_or(Errno::ENODATA)?;
        lock(&self.meta).ctime = Timespec::now();
        Ok(())
    }

    fn create(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> SysResult<Arc<dyn Inode>> {
        self.insert_new(name, || {
            let cname = CString::new(name.to_vec()).map_err(|_| Errno::EINVAL)?;
            let fd = sys::memfd_create(&cname)?;
            self.new_child(
                libc::S_IFREG | (mode & 0o7777),
                uid,
                gid,
                Data::File(Arc::new(fd)),
            )
        })
    }

    fn mkdir(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> SysResult<Arc<dyn Inode>> {
        self.insert_new(name, || {
            self.new_child(
                libc::S_IFDIR | (mode & 0o7777),
                uid,
                gid,
                Data::Dir(Mutex::new(BTreeMap::new())),
            )
        })
    }

    fn symlink(&self, name: &[u8], target: &[u8], uid: u32, gid: u32) -> SysResult<Arc<dyn Inode>> {
        self.insert_new(name, || {
            self.new_child(
                libc::S_IFLNK | 0o777,
                uid,
                gid,
                Data::Symlink(target.to_vec()),
            )
        })
    }

    fn bind_socket(
        &self,
        name: &[u8],
        mode: u32,
        uid: u32,
        gid: u32,
        endpoint: Arc<dyn Any + Send + Sync>,
    ) -> SysResult<Arc<dyn Inode>> {
        self.insert_new(name, || {
            self.new_child(
                libc::S_IFSOCK | (mode & 0o7777),
                uid,
                gid,
                Data::Socket(endpoint),
            )
        })
    }

    fn socket_endpoint(&self) -> Option<Arc<dyn Any + Send + Sync>> {
        match &self.data {
            Data::Socket(e) => Some(e.clone()),
            _ => None,
        }
    }

    fn unlink(&self, name: &[u8], dir: bool) -> SysResult<()> {
        let mut ch = lock(self.children()?);
        let child = ch.get(name).ok_or(Errno::ENOENT)?.clone();
        if dir {
            let sub = child.children()?;
            if !lock(sub).is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
        } else if child.is_dir() {
            return Err(Errno::EISDIR);
        }
        ch.remove(name);
        let extra_name = {
            let mut cm = lock(&child.meta);
            let extra = !dir && cm.nlink > 1;
            cm.nlink = if dir { 0 } else { cm.nlink.saturating_sub(1) };
            cm.ctime = Timespec::now();
            extra
        };
        if extra_name {
            self.fs.release_inode();
        }
        let mut m = lock(&self.meta);
        if dir {
            m.nlink = m.nlink.saturating_sub(1);
        }
        m.touch();
        Ok(())
    }

    fn rename(&self, old_name: &[u8], new_dir: &dyn Inode, new_name: &[u8]) -> SysResult<()> {
        let nd = new_dir
            .as_any()
            .downcast_ref::<TmpfsInode>()
            .ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(&nd.fs, &self.fs) {
            return Err(Errno::EXDEV);
        }
        let same = nd.ino == self.ino;
        // Lock order: ascending inode number.
        let (mut a, mut b) = if same {
            (lock(self.children()?), None)
        } else if self.ino < nd.ino {
            let a = lock(self.children()?);
            let b = lock(nd.children()?);
            (a, Some(b))
        } else {
            let b = lock(nd.children()?);
            let a = lock(self.children()?);
            (a, Some(b))
        };
        let child = a.get(old_name).ok_or(Errno::ENOENT)?.clone();
        let dst = b.as_deref().unwrap_or(&*a);
        if let Some(existing) = dst.get(new_name) {
            if existing.ino == child.ino {
                return Ok(());
            }
            may_replace(child.is_dir(), existing.is_dir(), || {
                Ok(lock(existing.children()?).is_empty())
            })?;
        }
        a.remove(old_name);
        let replaced = match b.as_deref_mut() {
            Some(m) => m.insert(new_name.to_vec(), child.clone()),
            None => a.insert(new_name.to_vec(), child.clone()),
        };
        let replaced_dir = replaced.as_ref().is_some_and(|r| r.is_dir());
        if let Some(r) = replaced {
            let mut rm = lock(&r.meta);
            let extra_name = !r.is_dir() && rm.nlink > 1;
            rm.nlink = if r.is_dir() {
                0
            } else {
                rm.nlink.saturating_sub(1)
            };
            drop(rm);
            if extra_name {
                self.fs.release_inode();
            }
        }
        drop(b);
        drop(a);
        let dir_moved = child.is_dir() && !same;
        {
            let mut m = lock(&self.meta);
            if dir_moved || (same && replaced_dir) {
                m.nlink = m.nlink.saturating_sub(1);
            }
            m.touch();
        }
        if !same {
            let mut m = lock(&nd.meta);
            if dir_moved && !replaced_dir {
                m.nlink += 1;
            }
            m.touch();
        }
        lock(&child.meta).ctime = Timespec::now();
        Ok(())
    }

    fn statfs(&self) -> SysResult<StatFs> {
        let u = lock(&self.fs.usage);
        let mut s = StatFs::synthetic(TMPFS_MAGIC);
        // An unlimited instance reports a fixed 4 GiB, all free (Linux: half the RAM).
        let (blocks, free) = match u.limits.max_pages {
            0 => (1 << 20, 1 << 20),
            max => (max, u.free_pages()),
        };
        s.blocks = blocks;
        s.bfree = free;
        s.bavail = free;
        s.files = match u.limits.max_inodes {
            0 => 1 << 20,
            max => max,
        };
        s.ffree = s.files.saturating_sub(u.inodes);
        Ok(s)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Only the `user.` namespace is kept on tmpfs here; others are EOPNOTSUPP.
fn check_xattr_name(name: &[u8]) -> SysResult<()> {
    if name.is_empty() || name.len() > 255 {
        return Err(Errno::ERANGE);
    }
    if !name.starts_with(b"user.") {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(())
}

/// Whether the seals allow resizing the file to `size` (F_SEAL_SHRINK, F_SEAL_GROW).
fn check_resize(m: &Meta, fd: &OwnedFd, size: u64) -> SysResult<()> {
    if m.seals & (libc::F_SEAL_SHRINK | libc::F_SEAL_GROW) as u32 == 0 {
        return Ok(());
    }
    let cur = u64::try_from(sys::fstat(fd.as_fd())?.st_size).unwrap_or(0);
    if (size < cur && m.seals & libc::F_SEAL_SHRINK as u32 != 0)
        || (size > cur && m.seals & libc::F_SEAL_GROW as u32 != 0)
    {
        return Err(Errno::EPERM);
    }
    Ok(())
}

impl TmpfsInode {
    /// RENAME_EXCHANGE: swaps `old_name` here with `new_name` in `new_dir`; both must exist.
    fn exchange(&self, old_name: &[u8], new_dir: &dyn Inode, new_name: &[u8]) -> SysResult<()> {
        let nd = new_dir
            .as_any()
            .downcast_ref::<TmpfsInode>()
            .ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(&nd.fs, &self.fs) {
            return Err(Errno::EXDEV);
        }
        let same = nd.ino == self.ino;
        let (mut a, mut b) = if same {
            (lock(self.children()?), None)
        } else if self.ino < nd.ino {
            let a = lock(self.children()?);
            let b = lock(nd.children()?);
            (a, Some(b))
        } else {
            let b = lock(nd.children()?);
            let a = lock(self.children()?);
            (a, Some(b))
        };
        let x = a.get(old_name).ok_or(Errno::ENOENT)?.clone();
        let y = b
            .as_deref()
            .unwrap_or(&*a)
            .get(new_name)
            .ok_or(Errno::ENOENT)?
            .clone();
        a.insert(old_name.to_vec(), y.clone());
        match b.as_deref_mut() {
            Some(m) => m.insert(new_name.to_vec(), x.clone()),
            None => a.insert(new_name.to_vec(), x.clone()),
        };
        drop(b);
        drop(a);
        if !same && x.is_dir() != y.is_dir() {
            // The directory moved carries its ".." link with it.
            let (gain, lose) = if x.is_dir() { (nd, self) } else { (self, nd) };
            lock(&gain.meta).nlink += 1;
            let mut lm = lock(&lose.meta);
            lm.nlink = lm.nlink.saturating_sub(1);
        }
        lock(&self.meta).touch();
        if !same {
            lock(&nd.meta).touch();
        }
        let now = Timespec::now();
        lock(&x.meta).ctime = now;
        lock(&y.meta).ctime = now;
        Ok(())
    }
}

/// Sets a file's size (truncate(2)): growing is sparse, shrinking gives pages back.
fn resize(fs: &TmpFs, meta: &Mutex<Meta>, fd: &OwnedFd, size: u64) -> SysResult<()> {
    check_resize(&lock(meta), fd, size)?;
    let mut u = lock(&fs.usage);
    sys::ftruncate(fd.as_fd(), size)?;
    if u.limits.max_pages != 0 {
        recharge(&mut u, meta, fd)?;
    }
    drop(u);
    lock(meta).touch();
    Ok(())
}

/// Counts the pages the file's memfd holds now against the filesystem.
fn recharge(u: &mut Usage, meta: &Mutex<Meta>, fd: &OwnedFd) -> SysResult<()> {
    let st = sys::fstat(fd.as_fd())?;
    let pages = (u64::try_from(st.st_blocks).unwrap_or(0) * 512).div_ceil(PAGE);
    let mut m = lock(meta);
    u.pages = u.pages.saturating_sub(m.charged) + pages;
    m.charged = pages;
    Ok(())
}

/// The page ranges `[a, b)` of `fd` that hold data and meet pages `[first, end)` (SEEK_DATA
/// and SEEK_HOLE, which tmpfs answers a page at a time).
fn data_pages(fd: &OwnedFd, first: u64, end: u64) -> SysResult<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    let mut pos = first * PAGE;
    let stop = end.saturating_mul(PAGE);
    while pos < stop {
        let off = i64::try_from(pos).map_err(|_| Errno::EFBIG)?;
        let data = match sys::lseek(fd.as_fd(), off, libc::SEEK_DATA) {
            Ok(d) => d,
            Err(Errno::ENXIO) => break,
            Err(e) => return Err(e),
        };
        if data >= stop {
            break;
        }
        let off = i64::try_from(data).map_err(|_| Errno::EFBIG)?;
        let hole = sys::lseek(fd.as_fd(), off, libc::SEEK_HOLE)?;
        out.push((data / PAGE, hole.div_ceil(PAGE)));
        if hole <= data {
            break;
        }
        pos = hole;
    }
    Ok(out)
}

/// The pages of `[first, end)` that hold no data yet, in order, as many as `want` at most.
fn hole_pages(fd: &OwnedFd, first: u64, end: u64, want: u64) -> SysResult<Vec<u64>> {
    let data = data_pages(fd, first, end)?;
    let mut out = Vec::new();
    let mut ranges = data.iter().peekable();
    let mut p = first;
    while p < end && (out.len() as u64) < want {
        while ranges.peek().is_some_and(|r| r.1 <= p) {
            ranges.next();
        }
        match ranges.peek() {
            Some(&&(a, b)) if a <= p => p = b,
            _ => {
                out.push(p);
                p += 1;
            }
        }
    }
    Ok(out)
}

/// How much of a write of `len` bytes at `offset` fits in the `free` pages left: all of it, or
/// up to the first page it would need beyond them (Linux `generic_perform_write` stops there).
fn fitting_len(fd: &OwnedFd, offset: u64, len: usize, free: u64) -> SysResult<usize> {
    if len == 0 {
        return Ok(0);
    }
    let first = offset / PAGE;
    let end = offset.saturating_add(len as u64 - 1) / PAGE + 1;
    if end - first <= free {
        return Ok(len);
    }
    let holes = hole_pages(fd, first, end, free.saturating_add(1))?;
    match holes.get(usize::try_from(free).unwrap_or(usize::MAX)) {
        None => Ok(len),
        Some(&p) => Ok(usize::try_from((p * PAGE).saturating_sub(offset)).unwrap_or(len)),
    }
}

/// An open tmpfs regular file: reads and writes on its memfd.
struct TmpfsFile {
    fs: Arc<TmpFs>,
    fd: Arc<OwnedFd>,
    meta: Arc<Mutex<Meta>>,
}

impl TmpfsFile {
    /// A write to a limited filesystem: as much as fits, counted.
    fn write_limited(&self, u: &mut Usage, buf: &[u8], offset: u64) -> SysResult<usize> {
        // Pages written through a mapping since the last count take their place first.
        recharge(u, &self.meta, &self.fd)?;
        let len = fitting_len(&self.fd, offset, buf.len(), u.free_pages())?;
        if len == 0 && !buf.is_empty() {
            return Err(Errno::ENOSPC);
        }
        let n = sys::pwrite(self.fd.as_fd(), &buf[..len], offset)?;
        recharge(u, &self.meta, &self.fd)?;
        Ok(n)
    }

    /// fallocate(2) on a limited filesystem: ENOSPC unless every page of the range fits, then
    /// each missing page below the end of the file is made (a zero byte written into a hole
    /// leaves it reading as zeros).
    fn allocate_limited(&self, mode: i32, offset: u64, end: u64) -> SysResult<()> {
        let mut u = lock(&self.fs.usage);
        recharge(&mut u, &self.meta, &self.fd)?;
        let first = offset / PAGE;
        let last = end.div_ceil(PAGE);
        let free = u.free_pages();
        let holes = hole_pages(&self.fd, first, last, free.saturating_add(1))?;
        if holes.len() as u64 > free {
            return Err(Errno::ENOSPC);
        }
        let cur = u64::try_from(sys::fstat(self.fd.as_fd())?.st_size).unwrap_or(0);
        let size = if mode & libc::FALLOC_FL_KEEP_SIZE == 0 && end > cur {
            check_resize(&lock(&self.meta), &self.fd, end)?;
            sys::ftruncate(self.fd.as_fd(), end)?;
            end
        } else {
            cur
        };
        for p in holes {
            let at = (p * PAGE).max(offset);
            if at < size {
                sys::pwrite(self.fd.as_fd(), &[0], at)?;
            }
        }
        recharge(&mut u, &self.meta, &self.fd)?;
        drop(u);
        if size != cur {
            lock(&self.meta).touch();
        }
        Ok(())
    }
}

impl FileOps for TmpfsFile {
    fn read_at(&self, _task: TaskRef, buf: &mut [u8], offset: u64) -> SysResult<usize> {
        sys::pread(self.fd.as_fd(), buf, offset)
    }
    fn write_at(&self, _task: TaskRef, buf: &[u8], offset: u64) -> SysResult<usize> {
        let seals = lock(&self.meta).seals;
        if seals & (libc::F_SEAL_WRITE | libc::F_SEAL_FUTURE_WRITE) as u32 != 0 {
            return Err(Errno::EPERM);
        }
        if seals & libc::F_SEAL_GROW as u32 != 0 {
            let size = u64::try_from(sys::fstat(self.fd.as_fd())?.st_size).unwrap_or(0);
            if offset.saturating_add(buf.len() as u64) > size {
                return Err(Errno::EPERM);
            }
        }
        let mut u = lock(&self.fs.usage);
        let n = if u.limits.max_pages != 0 {
            self.write_limited(&mut u, buf, offset)?
        } else {
            drop(u);
            sys::pwrite(self.fd.as_fd(), buf, offset)?
        };
        lock(&self.meta).touch();
        Ok(n)
    }
    fn size(&self) -> Option<SysResult<u64>> {
        Some(sys::fstat(self.fd.as_fd()).map(|s| u64::try_from(s.st_size).unwrap_or(0)))
    }
    fn truncate(&self, size: u64) -> SysResult<()> {
        resize(&self.fs, &self.meta, &self.fd, size)
    }
    fn allocate(&self, mode: i32, offset: u64, len: u64) -> SysResult<()> {
        let end = offset.checked_add(len).ok_or(Errno::EFBIG)?;
        if end > i64::MAX as u64 {
            return Err(Errno::EFBIG);
        }
        if self.fs.limits().max_pages != 0 {
            return self.allocate_limited(mode, offset, end);
        }
        if mode & libc::FALLOC_FL_KEEP_SIZE != 0 {
            return Ok(());
        }
        let cur = u64::try_from(sys::fstat(self.fd.as_fd())?.st_size).unwrap_or(0);
        if end > cur {
            check_resize(&lock(&self.meta), &self.fd, end)?;
            sys::ftruncate(self.fd.as_fd(), end)?;
            lock(&self.meta).touch();
        }
        Ok(())
    }
    fn add_seals(&self, seals: u32) -> SysResult<()> {
        let mut m = lock(&self.meta);
        if m.seals & libc::F_SEAL_SEAL as u32 != 0 {
            return Err(Errno::EPERM);
        }
        m.seals |= seals;
        Ok(())
    }
    fn seals(&self) -> SysResult<u32> {
        Ok(lock(&self.meta).seals)
    }
    fn host_fd_for_mmap(&self) -> SysResult<Arc<OwnedFd>> {
        Ok(self.fd.clone())
    }
}

#[cfg(test)]
mod tests {
    use crate::fs::tmpfs;
    use crate::vfs::{Ctx, Vfs};
    use crate::Errno;

    fn vfs() -> (Vfs, Ctx<'static>) {
        let v = Vfs::with_root(tmpfs::new_root(9, 0o1777), false, "tmpfs");
        let c = v.root_ctx();
        (v, c)
    }

    #[test]
    fn size_limit_cuts_writes_and_counts_pages() {
        let limits = tmpfs::Limits {
            max_pages: 4,
            max_inodes: 3,
        };
        let v = Vfs::with_root(
            tmpfs::new_root_with_limits(9, 0o1777, limits),
            false,
            "tmpfs",
        );
        let c = v.root_ctx();
        let f = v
            .open_in(&c, b"/x", libc::O_CREAT | libc::O_RDWR, 0o644)
            .unwrap();
        let root = v.lookup_in(&c, b"/", true).unwrap();
        assert_eq!(root.inode.statfs().unwrap().ffree, 1);
        // Five pages asked, four fit: a short write, then ENOSPC.
        assert_eq!(f.write_inner(None, &[7u8; 5 * 4096]).unwrap(), 4 * 4096);
        assert_eq!(f.write_inner(None, b"y").err(), Some(Errno::ENOSPC));
        let st = root.inode.statfs().unwrap();
        assert_eq!((st.blocks, st.bfree), (4, 0));
        // Overwriting held pages needs none; growing by truncate is sparse.
        assert_eq!(f.ops().write_at(None, b"zz", 10).unwrap(), 2);
        f.truncate(1 << 20).unwrap();
        assert_eq!(
            f.ops().write_at(None, b"z", 1 << 19).err(),
            Some(Errno::ENOSPC)
        );
        f.truncate(4096).unwrap();
        assert_eq!(root.inode.statfs().unwrap().bfree, 3);
        assert_eq!(f.ops().allocate(0, 0, 5 * 4096).err(), Some(Errno::ENOSPC));
        f.ops().allocate(0, 4096, 3 * 4096).unwrap();
        assert_eq!(f.stat_vfs(None).unwrap().size, 4 * 4096);
        assert_eq!(root.inode.statfs().unwrap().bfree, 0);
        // Inodes: the root, x, and one more.
        v.mkdir_in(&c, b"/d", 0o755).unwrap();
        assert_eq!(v.mkdir_in(&c, b"/e", 0o755), Err(Errno::ENOSPC));
        v.unlink_in(&c, b"/d", true).unwrap();
        drop(f);
        v.unlink_in(&c, b"/x", false).unwrap();
        let st = root.inode.statfs().unwrap();
        assert_eq!((st.bfree, st.ffree), (4, 2));
    }

    #[test]
    fn create_write_read_stat() {
        let (v, c) = vfs();
        let f = v
            .open_in(&c, b"/x", libc::O_CREAT | libc::O_RDWR, 0o666)
            .unwrap();
        assert_eq!(f.write_inner(None, b"hello world").unwrap(), 11);
        let st = f.stat_vfs(None).unwrap();
        assert_eq!(st.size, 11);
        assert_eq!(st.mode, libc::S_IFREG | 0o644); // umask 022
        assert_eq!(st.dev, 9);
        let mut b = [0u8; 5];
        assert_eq!(f.pread_inner(None, &mut b, 6).unwrap(), 5);
        assert_eq!(&b, b"world");
        assert_eq!(f.seek(None, 0, libc::SEEK_SET).unwrap(), 0);
        let g = v.open_in(&c, b"/x", libc::O_RDONLY, 0).unwrap();
        let mut all = [0u8; 32];
        assert_eq!(g.read_inner(None, &mut all).unwrap(), 11);
        assert_eq!(g.read_inner(None, &mut all).unwrap(), 0);
        assert!(f.host_fd_for_mmap().is_ok());
        assert_eq!(g.write_inner(None, b"x").err(), Some(Errno::EBADF));
    }

    #[test]
    fn append_trunc_and_excl() {
        let (v, c) = vfs();
        let f = v
            .open_in(&c, b"/x", libc::O_CREAT | libc::O_WRONLY, 0o644)
            .unwrap();
        f.write_inner(None, b"abc").unwrap();
        let a = v
            .open_in(&c, b"/x", libc::O_WRONLY | libc::O_APPEND, 0)
            .unwrap();
        a.write_inner(None, b"def").unwrap();
        assert_eq!(f.stat_vfs(None).unwrap().size, 6);
        assert_eq!(
            v.open_in(&c, b"/x", libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY, 0)
                .err(),
            Some(Errno::EEXIST)
        );
        v.open_in(&c, b"/x", libc::O_WRONLY | libc::O_TRUNC, 0)
            .unwrap();
        assert_eq!(f.stat_vfs(None).unwrap().size, 0);
        assert_eq!(f.seek(None, 0, libc::SEEK_END).unwrap(), 0);
    }

    #[test]
    fn unlink_keeps_open_files_readable() {
        let (v, c) = vfs();
        let f = v
            .open_in(&c, b"/x", libc::O_CREAT | libc::O_RDWR, 0o644)
            .unwrap();
        f.write_inner(None, b"data").unwrap();
        v.unlink_in(&c, b"/x", false).unwrap();
        assert_eq!(v.lookup_in(&c, b"/x", true).err(), Some(Errno::ENOENT));
        let mut b = [0u8; 4];
        assert_eq!(f.pread_inner(None, &mut b, 0).unwrap(), 4);
        assert_eq!(f.stat_vfs(None).unwrap().nlink, 0);
        assert_eq!(v.unlink_in(&c, b"/x", false), Err(Errno::ENOENT));
    }

    #[test]
    fn mkdir_rmdir_rules() {
        let (v, c) = vfs();
        v.mkdir_in(&c, b"/d", 0o777).unwrap();
        assert_eq!(v.mkdir_in(&c, b"/d", 0o777), Err(Errno::EEXIST));
        assert_eq!(
            v.lookup_in(&c, b"/d", true)
                .unwrap()
                .inode
                .stat(None)
                .unwrap()
                .mode,
            libc::S_IFDIR | 0o755
        );
        assert_eq!(
            v.lookup_in(&c, b"/", true)
                .unwrap()
                .inode
                .stat(None)
                .unwrap()
                .nlink,
            3
        );
        v.open_in(&c, b"/d/f", libc::O_CREAT | libc::O_WRONLY, 0o644)
            .unwrap();
        assert_eq!(v.unlink_in(&c, b"/d", true), Err(Errno::ENOTEMPTY));
        assert_eq!(v.unlink_in(&c, b"/d", false), Err(Errno::EISDIR));
        assert_eq!(v.unlink_in(&c, b"/d/f", true), Err(Errno::ENOTDIR));
        v.unlink_in(&c, b"/d/f", false).unwrap();
        assert_eq!(v.unlink_in(&c, b"/d/.", true), Err(Errno::EINVAL));
        v.unlink_in(&c, b"/d", true).unwrap();
        assert_eq!(
            v.lookup_in(&c, b"/", true)
                .unwrap()
                .inode
                .stat(None)
                .unwrap()
                .nlink,
            2
        );
        assert_eq!(
            v.open_in(&c, b"/", libc::O_WRONLY, 0).err(),
            Some(Errno::EISDIR)
        );
    }

    #[test]
    fn rename_moves_and_replaces() {
        let (v, c) = vfs();
        v.mkdir_in(&c, b"/d", 0o755).unwrap();
        let f = v
            .open_in(&c, b"/a", libc::O_CREAT | libc::O_RDWR, 0o644)
            .unwrap();
        f.write_inner(None, b"A").unwrap();
        v.open_in(&c, b"/d/b", libc::O_CREAT | libc::O_RDWR, 0o644)
            .unwrap();
        v.rename_in(&c, b"/a", &c, b"/d/b").unwrap();
        assert_eq!(v.lookup_in(&c, b"/a", true).err(), Some(Errno::ENOENT));
        assert_eq!(
            v.lookup_in(&c, b"/d/b", true)
                .unwrap()
                .inode
                .stat(None)
                .unwrap()
                .size,
            1
        );
        assert_eq!(v.rename_in(&c, b"/d", &c, b"/d/b/x"), Err(Errno::ENOTDIR));
        v.mkdir_in(&c, b"/d/sub", 0o755).unwrap();
        assert_eq!(v.rename_in(&c, b"/d", &c, b"/d/sub/x"), Err(Errno::EINVAL));
        v.rename_in(&c, b"/d", &c, b"/e").unwrap();
        assert!(v.lookup_in(&c, b"/e/sub", true).is_ok());
    }

    #[test]
    fn readdir_lists_entries_with_dot_and_dotdot() {
        let (v, c) = vfs();
        v.mkdir_in(&c, b"/d", 0o755).unwrap();
        v.open_in(&c, b"/d/one", libc::O_CREAT | libc::O_WRONLY, 0o644)
            .unwrap();
        v.mkdir_in(&c, b"/d/two", 0o755).unwrap();
        let d = v
            .open_in(&c, b"/d", libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .unwrap();
        let recs = d.getdents(None, 4096).unwrap();
        let mut names = Vec::new();
        let mut i = 0;
        while i < recs.len() {
            let reclen = u16::from_ne_bytes([recs[i + 16], recs[i + 17]]) as usize;
            let name: Vec<u8> = recs[i + 19..i + reclen]
                .iter()
                .copied()
                .take_while(|&b| b != 0)
                .collect();
            names.push((name, recs[i + 18]));
            i += reclen;
        }
        assert_eq!(
            names,
            vec![
                (b".".to_vec(), libc::DT_DIR),
                (b"..".to_vec(), libc::DT_DIR),
                (b"one".to_vec(), libc::DT_REG),
                (b"two".to_vec(), libc::DT_DIR)
            ]
        );
        assert!(d.getdents(None, 4096).unwrap().is_empty());
    }

    #[test]
    fn getdents_resumes_and_rejects_tiny_buffers() {
        let (v, c) = vfs();
        for n in [&b"/a"[..], b"/b", b"/c"] {
            v.open_in(&c, n, libc::O_CREAT | libc::O_WRONLY, 0o644)
                .unwrap();
        }
        let d = v.open_in(&c, b"/", libc::O_RDONLY, 0).unwrap();
        assert_eq!(d.getdents(None, 10).err(), Some(Errno::EINVAL));
        let mut total = 0;
        loop {
            let r = d.getdents(None, 24).unwrap();
            if r.is_empty() {
                break;
            }
            assert_eq!(r.len(), 24);
            total += 1;
        }
        assert_eq!(total, 5);
        d.seek(None, 0, libc::SEEK_SET).unwrap();
        assert_eq!(d.getdents(None, 1024).unwrap().len(), 5 * 24);
    }
}
