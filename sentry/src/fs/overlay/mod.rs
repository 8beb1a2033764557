//! overlay: the container root as a read-only lower layer (the gofer's files) under a writable
//! upper layer in sentry memory (tmpfs), after Linux `fs/overlayfs`
//! (Documentation/filesystems/overlayfs.rst) and gVisor's `pkg/sentry/fsimpl/overlay`.
//!
//! Each overlay inode pairs an optional lower inode with an upper inode that appears at copy-up.
//! Lookups go through a per-directory cache that is the authority on upper entries (every upper
//! entry is made through the overlay and recorded there), then the whiteouts, then the lower
//! directory; directories made in the upper layer are opaque (they have no lower). Whiteouts are
//! kept by the overlay, not as char-device files in the upper layer. A lower file is copied up
//! (data, mode, owner, times, xattrs; parents first) on open for write or truncate, setattr and
//! setxattr. Renaming a directory that has a lower layer is EXDEV, as Linux does without
//! `redirect_dir`; `mv` falls back to copying. `st_dev` is the overlay's; `st_ino` is the lower
//! file's (kept across copy-up) or, for files born in the upper layer, the upper inode number
//! with bit 62 set. The lower layer is never written.
//!
//! Lock order: `OverlayFs::ops` (every namespace change and copy-up) before a directory's `dir`
//! before an inode's `pos`; lookups take only `dir`.

mod file;

use std::any::Any;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use crate::vfs::inode::{dirent_type_of, may_replace};
use crate::vfs::{DirEntry, FileOps, Inode, NoDataOps, SetAttr, Stat, StatFs, TaskRef, Timespec};
use crate::{Errno, SysResult};

use file::OverlayFile;

/// `OVERLAYFS_SUPER_MAGIC`.
pub const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;
/// Marks inode numbers of files born in the upper layer, so they never equal a lower one.
const UPPER_ONLY_INO: u64 = 1 << 62;
/// Bytes copied per step of a data copy-up.
const COPY_CHUNK: usize = 1 << 20;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One overlay instance.
pub struct OverlayFs {
    dev: u64,
    /// The lower root's device: lower files on it show `dev`; lower files on other host
    /// devices (host mounts the gofer crossed) keep theirs, so (st_dev, st_ino) stays unique.
    lower_dev: u64,
    /// The upper layer's root (a tmpfs), for O_TMPFILE-like copy-ups of unlinked files.
    upper_root: Arc<dyn Inode>,
    /// Serializes namespace changes and copy-ups.
    ops: Mutex<()>,
}

impl OverlayFs {
    /// The `st_dev` the overlay shows for a lower file with attributes `st`.
    fn dev_of(&self, st: &Stat) -> u64 {
        if st.dev == self.lower_dev {
            self.dev
        } else {
            st.dev
        }
    }
}

#[derive(Default)]
struct DirState {
    /// Children looked up or made so far: every upper entry is here.
    children: BTreeMap<Vec<u8>, Arc<OverlayInode>>,
    /// Names whose lower entry is hidden.
    whiteouts: HashSet<Vec<u8>>,
    /// Subdirectories made here minus those removed: a directory with a lower layer reports
    /// the lower link count plus this.
    nlink_delta: i64,
}

/// A file of the overlay.
pub struct OverlayInode {
    fs: Arc<OverlayFs>,
    me: Weak<OverlayInode>,
    /// `st_dev` and `st_ino`, fixed for the inode's life.
    dev: u64,
    ino: u64,
    /// `S_IFMT` bits; fixed for the inode's life.
    file_type: u32,
    lower: Option<Arc<dyn Inode>>,
    upper: OnceLock<Arc<dyn Inode>>,
    /// The overlay's root, whose upper copy is the upper layer's root.
    is_root: bool,
    dir: Mutex<DirState>,
    /// The directory holding this file and its name there (what copy-up recreates); `None`
    /// for the root and for unlinked files. Weak: the directory holds its children strongly
    /// (`DirState::children`), and a strong link back would keep a whole released tree, and
    /// the gofer files under it, alive.
    pos: Mutex<Option<(Weak<OverlayInode>, Vec<u8>)>>,
}

/// A fresh overlay of `lower` (a directory) under an empty tmpfs upper layer; `dev` is the
/// overlay's `st_dev`, `upper_dev` the hidden upper tmpfs's.
pub fn new_root(lower: Arc<dyn Inode>, dev: u64, upper_dev: u64) -> SysResult<Arc<dyn Inode>> {
    let st = lower.stat(None)?;
    if !st.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let upper_root = crate::fs::tmpfs::new_root(upper_dev, st.mode & 0o7777);
    upper_root.setattr(&SetAttr {
        uid: Some(st.uid),
        gid: Some(st.gid),
        atime: Some(st.atime),
        mtime: Some(st.mtime),
        ..Default::default()
    })?;
    let fs = Arc::new(OverlayFs {
        dev,
        lower_dev: st.dev,
        upper_root: upper_root.clone(),
        ops: Mutex::new(()),
    });
    Ok(Arc::new_cyclic(|me| OverlayInode {
        fs: fs.clone(),
        me: me.clone(),
        dev,
        ino: st.ino,
        file_type: libc::S_IFDIR,
        lower: Some(lower),
        upper: OnceLock::new(),
        is_root: true,
        dir: Mutex::new(DirState::default()),
        pos: Mutex::new(None),
    }))
}

impl OverlayInode {
    fn new(
        fs: &Arc<OverlayFs>,
        lower: Option<Arc<dyn Inode>>,
        upper: Option<Arc<dyn Inode>>,
        (dev, ino): (u64, u64),
        file_type: u32,
        pos: Option<(Arc<OverlayInode>, Vec<u8>)>,
    ) -> Arc<OverlayInode> {
        let cell = OnceLock::new();
        if let Some(u) = upper {
            let _ = cell.set(u);
        }
        Arc::new_cyclic(|me| OverlayInode {
            fs: fs.clone(),
            me: me.clone(),
            dev,
            ino,
            file_type,
            lower,
            upper: cell,
            is_root: false,
            dir: Mutex::new(DirState::default()),
            pos: Mutex::new(pos.map(|(parent, name)| (Arc::downgrade(&parent), name))),
        })
    }

    fn is_dir(&self) -> bool {
        self.file_type == libc::S_IFDIR
    }

    /// The layer that answers reads: upper once copied up, else lower.
    fn top(&self) -> SysResult<&Arc<dyn Inode>> {
        match self.upper.get() {
            Some(u) => Ok(u),
            None => self.lower.as_ref().ok_or(Errno::EIO),
        }
    }

    /// Whether the file has been copied up (or was born in the upper layer).
    pub fn is_upper(&self) -> bool {
        self.upper.get().is_some()
    }

    fn arc(&self) -> SysResult<Arc<OverlayInode>> {
        self.me.upgrade().ok_or(Errno::ENOENT)
    }

    fn lock_ops(&self) -> MutexGuard<'_, ()> {
        lock(&self.fs.ops)
    }

    /// The child `name` as an overlay inode (cache, whiteouts, then the lower directory).
    fn child(&self, task: TaskRef, name: &[u8]) -> SysResult<Arc<OverlayInode>> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut d = lock(&self.dir);
        if let Some(c) = d.children.get(name) {
            return Ok(c.clone());
        }
        if d.whiteouts.contains(name) {
            return Err(Errno::ENOENT);
        }
        let Some(lower) = &self.lower else {
            return Err(Errno::ENOENT);
        };
        let l = lower.lookup(task, name)?;
        let st = l.stat(task)?;
        let child = OverlayInode::new(
            &self.fs,
            Some(l),
            None,
            (self.fs.dev_of(&st), st.ino),
            st.file_type(),
            Some((self.arc()?, name.to_vec())),
        );
        d.children.insert(name.to_vec(), child.clone());
        Ok(child)
    }

    /// Fails with EEXIST if `name` exists (ops lock held).
    fn check_absent(&self, name: &[u8]) -> SysResult<()> {
        match self.child(None, name) {
            Ok(_) => Err(Errno::EEXIST),
            Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Makes the upper copy of this file and of its parents (ops lock held). Without
    /// `with_data` a regular file's data is not copied (open with O_TRUNC).
    fn copy_up_locked(&self, with_data: bool) -> SysResult<Arc<dyn Inode>> {
        if let Some(u) = self.upper.get() {
            return Ok(u.clone());
        }
        let lower = self
            .lower
            .as_ref()
            .expect("invariant: an overlay inode has a lower or an upper layer");
        if self.is_root {
            // The upper root was made with the lower root's attributes.
            let _ = self.upper.set(self.fs.upper_root.clone());
            return Ok(self.fs.upper_root.clone());
        }
        let st = lower.stat(None)?;
        let perm = st.mode & 0o7777;
        let pos = lock(&self.pos).clone();
        let pos = match pos {
            // The directory is gone (its tree was released): nothing to copy up into.
            Some((parent, name)) => Some((parent.upgrade().ok_or(Errno::ENOENT)?, name)),
            None => None,
        };
        let (new, parent) = match pos {
            Some((parent, name)) => {
                let pu = parent.copy_up_locked(true)?;
                let new = match st.file_type() {
                    libc::S_IFDIR => pu.mkdir(&name, libc::S_IFDIR | perm, st.uid, st.gid)?,
                    libc::S_IFREG => pu.create(&name, libc::S_IFREG | perm, st.uid, st.gid)?,
                    libc::S_IFLNK => pu.symlink(&name, &lower.readlink(None)?, st.uid, st.gid)?,
                    libc::S_IFIFO => pu.mknod(&name, libc::S_IFIFO | perm, st.uid, st.gid)?,
                    _ => return Err(Errno::EPERM),
                };
                (new, Some((pu, name)))
            }
            None if st.is_reg() => (
                self.fs.upper_root.tmpfile(perm, st.uid, st.gid, false)?,
                None,
            ),
            // An unlinked directory or special file cannot change.
            None => return Err(Errno::ENOENT),
        };
        if let Err(e) = fill_copy(lower.as_ref(), new.as_ref(), &st, with_data) {
            if let Some((pu, name)) = parent {
                let _ = pu.unlink(&name, st.is_dir());
            }
            return Err(e);
        }
        let _ = self.upper.set(new.clone());
        Ok(new)
    }

    /// Takes the ops lock and copies up.
    fn copy_up(&self, with_data: bool) -> SysResult<Arc<dyn Inode>> {
        let _g = self.lock_ops();
        self.copy_up_locked(with_data)
    }

    /// Creates `name` in the upper layer with `make` and records it (a new upper-only file).
    fn make(
        &self,
        name: &[u8],
        make: impl FnOnce(&dyn Inode) -> SysResult<Arc<dyn Inode>>,
    ) -> SysResult<Arc<dyn Inode>> {
        let _g = self.lock_ops();
        self.check_absent(name)?;
        let up = self.copy_up_locked(true)?;
        let new = make(up.as_ref())?;
        let st = new.stat(None)?;
        if st.is_dir() {
            lock(&self.dir).nlink_delta += 1;
        }
        let child = OverlayInode::new(
            &self.fs,
            None,
            Some(new),
            (self.fs.dev, st.ino | UPPER_ONLY_INO),
            st.file_type(),
            Some((self.arc()?, name.to_vec())),
        );
        lock(&self.dir)
            .children
            .insert(name.to_vec(), child.clone());
        Ok(child)
    }

    /// Whether this merged directory has no entries.
    fn is_empty_dir(&self) -> SysResult<bool> {
        Ok(self.readdir(None)?.is_empty())
    }

    /// Forgets `name` here (after it moved or was removed), leaving a whiteout over any lower
    /// entry.
    fn forget(&self, name: &[u8]) {
        let mut d = lock(&self.dir);
        d.children.remove(name);
        if self.lower.is_some() {
            d.whiteouts.insert(name.to_vec());
        }
    }

    fn set_pos(&self, pos: Option<(Arc<OverlayInode>, Vec<u8>)>) {
        *lock(&self.pos) = pos.map(|(parent, name)| (Arc::downgrade(&parent), name));
    }

    fn same_fs(&self, other: &dyn Inode) -> SysResult<Arc<OverlayInode>> {
        let o = other
            .as_any()
            .downcast_ref::<OverlayInode>()
            .ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(&o.fs, &self.fs) {
            return Err(Errno::EXDEV);
        }
        o.arc()
    }
}

/// Copies attributes (and data, when `with_data`) of `lower` onto its fresh upper copy.
fn fill_copy(lower: &dyn Inode, upper: &dyn Inode, st: &Stat, with_data: bool) -> SysResult<()> {
    if st.is_reg() && with_data {
        copy_data(lower, upper)?;
    }
    if let Ok(names) = lower.listxattr() {
        for n in names {
            if let Ok(v) = lower.getxattr(&n) {
                // Namespaces the upper layer does not keep are dropped, as Linux does.
                let _ = upper.setxattr(&n, &v, 0);
            }
        }
    }
    upper.setattr(&SetAttr {
        mode: Some(st.mode & 0o7777),
        uid: Some(st.uid),
        gid: Some(st.gid),
        atime: Some(st.atime),
        mtime: Some(st.mtime),
        size: None,
    })
}

/// Copies a regular file's bytes from `lower` to `upper`.
fn copy_data(lower: &dyn Inode, upper: &dyn Inode) -> SysResult<()> {
    let src = lower.open(None, libc::O_RDONLY)?;
    let dst = upper.open(None, libc::O_WRONLY)?;
    let mut buf = vec![0u8; COPY_CHUNK];
    let mut off = 0u64;
    loop {
        let n = src.read_at(None, &mut buf, off)?;
        if n == 0 {
            return Ok(());
        }
        let mut done = 0;
        while done < n {
            let k = dst.write_at(None, &buf[done..n], off + done as u64)?;
            if k == 0 {
                return Err(Errno::EIO);
            }
            done += k;
        }
        off += n as u64;
    }
}

impl Inode for OverlayInode {
    fn stat(&self, task: TaskRef) -> SysResult<Stat> {
        let mut st = self.top()?.stat(task)?;
        if let (true, Some(lower)) = (self.is_dir(), &self.lower) {
            // A directory with a lower layer: size and links as the lower one shows them, the
            // links adjusted by the subdirectories made and removed here.
            let l = lower.stat(task)?;
            let delta = lock(&self.dir).nlink_delta;
            st.nlink = l.nlink.saturating_add_signed(delta);
            st.size = l.size;
            st.blocks = l.blocks;
        }
        st.dev = self.dev;
        st.ino = self.ino;
        Ok(st)
    }

    fn refresh(&self) -> SysResult<()> {
        self.top()?.refresh()
    }

    fn lookup(&self, task: TaskRef, name: &[u8]) -> SysResult<Arc<dyn Inode>> {
        Ok(self.child(task, name)?)
    }

    fn readdir(&self, task: TaskRef) -> SysResult<Vec<DirEntry>> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let d = lock(&self.dir);
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let entry = |name: &[u8], c: &OverlayInode| DirEntry {
            name: name.to_vec(),
            ino: c.ino,
            kind: dirent_type_of(c.file_type),
        };
        if let Some(lower) = &self.lower {
            for e in lower.readdir(task)? {
                if d.whiteouts.contains(&e.name) && !d.children.contains_key(&e.name) {
                    continue;
                }
                seen.insert(e.name.clone());
                match d.children.get(&e.name) {
                    Some(c) => out.push(entry(&e.name, c)),
                    None => out.push(e),
                }
            }
        }
        for (name, c) in &d.children {
            if !seen.contains(name) {
                out.push(entry(name, c));
            }
        }
        Ok(out)
    }

    fn readlink(&self, task: TaskRef) -> SysResult<Vec<u8>> {
        self.top()?.readlink(task)
    }

    fn open(&self, task: TaskRef, flags: i32) -> SysResult<Arc<dyn FileOps>> {
        match self.file_type {
            libc::S_IFDIR => Ok(Arc::new(NoDataOps)),
            libc::S_IFLNK => Err(Errno::ELOOP),
            libc::S_IFREG => {
                let writes = flags & libc::O_ACCMODE != libc::O_RDONLY;
                let truncate = flags & libc::O_TRUNC != 0;
                if writes || truncate {
                    let up = self.copy_up(!truncate)?;
                    return up.open(task, flags);
                }
                match self.upper.get() {
                    Some(up) => up.open(task, flags),
                    None => {
                        let lower = self.top()?.open(task, flags)?;
                        Ok(Arc::new(OverlayFile::new(self.arc()?, flags, lower)))
                    }
                }
            }
            _ => self.top()?.open(task, flags),
        }
    }

    fn create(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> SysResult<Arc<dyn Inode>> {
        self.make(name, |up| up.create(name, mode, uid, gid))
    }

    fn mkdir(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> SysResult<Arc<dyn Inode>> {
        self.make(name, |up| up.mkdir(name, mode, uid, gid))
    }

    fn symlink(&self, name: &[u8], target: &[u8], uid: u32, gid: u32) -> SysResult<Arc<dyn Inode>> {
        self.make(name, |up| up.symlink(name, target, uid, gid))
    }

    fn mknod(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> SysResult<Arc<dyn Inode>> {
        self.make(name, |up| up.mknod(name, mode, uid, gid))
    }

    fn bind_socket(
        &self,
        name: &[u8],
        mode: u32,
        uid: u32,
        gid: u32,
        endpoint: Arc<dyn Any + Send + Sync>,
    ) -> SysResult<Arc<dyn Inode>> {
        self.make(name, |up| up.bind_socket(name, mode, uid, gid, endpoint))
    }

    fn socket_endpoint(&self) -> Option<Arc<dyn Any + Send + Sync>> {
        self.upper.get().and_then(|u| u.socket_endpoint())
    }

    fn tmpfile(&self, mode: u32, uid: u32, gid: u32, linkable: bool) -> SysResult<Arc<dyn Inode>> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let up = self.copy_up(true)?;
        let new = up.tmpfile(mode, uid, gid, linkable)?;
        let st = new.stat(None)?;
        Ok(OverlayInode::new(
            &self.fs,
            None,
            Some(new),
            (self.fs.dev, st.ino | UPPER_ONLY_INO),
            libc::S_IFREG,
            None,
        ))
    }

    fn unlink(&self, name: &[u8], dir: bool) -> SysResult<()> {
        let _g = self.lock_ops();
        let child = self.child(None, name)?;
        may_replace(dir, child.is_dir(), || child.is_empty_dir())?;
        let up = self.copy_up_locked(true)?;
        if child.is_upper() {
            up.unlink(name, dir)?;
        } else {
            let now = Timespec::now();
            up.setattr(&SetAttr {
                mtime: Some(now),
                ..Default::default()
            })?;
        }
        self.forget(name);
        if dir {
            lock(&self.dir).nlink_delta -= 1;
        }
        child.set_pos(None);
        Ok(())
    }

    fn rename(&self, old_name: &[u8], new_dir: &dyn Inode, new_name: &[u8]) -> SysResult<()> {
        self.rename2(old_name, new_dir, new_name, 0)
    }

    fn rename2(
        &self,
        old_name: &[u8],
        new_dir: &dyn Inode,
        new_name: &[u8],
        flags: u32,
    ) -> SysResult<()> {
        let exchange = flags & libc::RENAME_EXCHANGE != 0;
        if flags & !(libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE) != 0 {
            return Err(Errno::EINVAL);
        }
        let nd = self.same_fs(new_dir)?;
        let _g = self.lock_ops();
        let child = self.child(None, old_name)?;
        let target = match nd.child(None, new_name) {
            Ok(t) => Some(t),
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(e),
        };
        if let Some(t) = &target {
            if Arc::ptr_eq(t, &child) {
                return Ok(());
            }
            if flags & libc::RENAME_NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
        } else if exchange {
            return Err(Errno::ENOENT);
        }
        // Without redirect_dir a directory with a lower layer cannot move (Linux: EXDEV).
        if child.is_dir() && child.lower.is_some() {
            return Err(Errno::EXDEV);
        }
        if let Some(t) = &target {
            if exchange {
                if t.is_dir() && t.lower.is_some() {
                    return Err(Errno::EXDEV);
                }
            } else {
                may_replace(child.is_dir(), t.is_dir(), || t.is_empty_dir())?;
            }
        }
        child.copy_up_locked(true)?;
        if let (true, Some(t)) = (exchange, &target) {
            t.copy_up_locked(true)?;
        }
        let sup = self.copy_up_locked(true)?;
        let nup = nd.copy_up_locked(true)?;
        let target_upper = target.as_ref().is_some_and(|t| t.is_upper());
        if target.is_some() && !target_upper && !exchange {
            // The replaced file lives only in the lower layer: the upper rename makes a new
            // name, and the cache entry below shadows the lower one.
            sup.rename2(old_name, nup.as_ref(), new_name, libc::RENAME_NOREPLACE)?;
        } else {
            sup.rename2(old_name, nup.as_ref(), new_name, flags)?;
        }
        let target_dir = target.as_ref().is_some_and(|t| t.is_dir());
        if exchange {
            if child.is_dir() != target_dir {
                let (gain, lose) = if child.is_dir() {
                    (&*nd, self)
                } else {
                    (self, &*nd)
                };
                lock(&gain.dir).nlink_delta += 1;
                lock(&lose.dir).nlink_delta -= 1;
            }
        } else if child.is_dir() {
            lock(&self.dir).nlink_delta -= 1;
            if !target_dir {
                lock(&nd.dir).nlink_delta += 1;
            }
        }
        if let (true, Some(t)) = (exchange, &target) {
            lock(&self.dir)
                .children
                .insert(old_name.to_vec(), t.clone());
            lock(&nd.dir)
                .children
                .insert(new_name.to_vec(), child.clone());
            t.set_pos(Some((self.arc()?, old_name.to_vec())));
        } else {
            self.forget(old_name);
            let mut d = lock(&nd.dir);
            d.children.insert(new_name.to_vec(), child.clone());
            if nd.lower.is_some() {
                d.whiteouts.insert(new_name.to_vec());
            }
            drop(d);
            if let Some(t) = &target {
                t.set_pos(None);
            }
        }
        child.set_pos(Some((nd, new_name.to_vec())));
        Ok(())
    }

    fn link(&self, name: &[u8], target: &dyn Inode) -> SysResult<()> {
        let t = self.same_fs(target)?;
        if t.is_dir() {
            return Err(Errno::EPERM);
        }
        let _g = self.lock_ops();
        self.check_absent(name)?;
        let tu = t.copy_up_locked(true)?;
        let up = self.copy_up_locked(true)?;
        up.link(name, tu.as_ref())?;
        lock(&self.dir).children.insert(name.to_vec(), t);
        Ok(())
    }

    fn setattr(&self, attr: &SetAttr) -> SysResult<()> {
        let with_data = attr.size != Some(0);
        self.copy_up(with_data)?.setattr(attr)
    }

    fn getxattr(&self, name: &[u8]) -> SysResult<Vec<u8>> {
        self.top()?.getxattr(name)
    }

    fn setxattr(&self, name: &[u8], value: &[u8], flags: i32) -> SysResult<()> {
        self.copy_up(true)?.setxattr(name, value, flags)
    }

    fn listxattr(&self) -> SysResult<Vec<Vec<u8>>> {
        self.top()?.listxattr()
    }

    fn removexattr(&self, name: &[u8]) -> SysResult<()> {
        self.copy_up(true)?.removexattr(name)
    }

    fn statfs(&self) -> SysResult<StatFs> {
        let mut s = self.fs.upper_root.statfs()?;
        s.fs_type = OVERLAYFS_SUPER_MAGIC;
        Ok(s)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::fs::tmpfs;
    use crate::vfs::{Ctx, FileDescription, SetAttr, Vfs};
    use crate::Errno;

    const DEV: u64 = 0x77;

    /// A lower tree (tmpfs, standing for the gofer) and an overlay of it.
    fn setup() -> (Vfs, Vfs) {
        let lower = Vfs::with_root(tmpfs::new_root(1, 0o755), false, "tmpfs");
        let c = lower.root_ctx();
        for d in [&b"/etc"[..], b"/etc/sub", b"/usr", b"/usr/share", b"/empty"] {
            lower.mkdir_in(&c, d, 0o755).unwrap();
        }
        write(&lower, &c, b"/etc/hosts", b"127.0.0.1 localhost\n");
        write(&lower, &c, b"/etc/hostname", b"box\n");
        write(&lower, &c, b"/etc/sub/x", b"x");
        write(&lower, &c, b"/usr/share/doc", b"lower doc\n");
        lower.symlink_in(&c, b"hosts", b"/etc/link").unwrap();
        let d = lower.lookup_in(&c, b"/etc/hostname", false).unwrap();
        d.inode
            .setattr(&SetAttr {
                mode: Some(0o640),
                uid: Some(7),
                gid: Some(8),
                mtime: Some(crate::vfs::Timespec { sec: 1000, nsec: 5 }),
                ..Default::default()
            })
            .unwrap();
        let root = super::new_root(lower.root().inode.clone(), DEV, 2).unwrap();
        (lower, Vfs::with_root(root, false, "overlay"))
    }

    #[test]
    fn a_released_overlay_frees_the_lower_files_it_looked_up() {
        let lower = Vfs::with_root(tmpfs::new_root(1, 0o755), false, "tmpfs");
        let c = lower.root_ctx();
        lower.mkdir_in(&c, b"/bin", 0o755).unwrap();
        write(&lower, &c, b"/bin/tool", b"x");
        let lower_file = Arc::downgrade(&lower.lookup_in(&c, b"/bin/tool", false).unwrap().inode);
        let root = super::new_root(lower.root().inode.clone(), DEV, 2).unwrap();
        let overlay = Vfs::with_root(root, false, "overlay");
        let oc = overlay.root_ctx();
        let found = overlay.lookup_in(&oc, b"/bin/tool", false).unwrap();
        // A write copies the file and its directory up: parents link children and back.
        write(&overlay, &oc, b"/bin/tool", b"y");
        let inode = Arc::downgrade(&found.inode);
        drop(found);
        drop(oc);
        drop(overlay);
        lower.unlink_in(&c, b"/bin/tool", false).unwrap();
        assert_eq!(
            inode.strong_count(),
            0,
            "the overlay file outlives its tree"
        );
        assert_eq!(lower_file.strong_count(), 0, "the lower file is still held");
    }

    fn write(v: &Vfs, c: &Ctx, path: &[u8], data: &[u8]) {
        let f = v
            .open_in(
                c,
                path,
                libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
                0o644,
            )
            .unwrap();
        f.write_inner(None, data).unwrap();
    }

    fn read_fd(f: &FileDescription) -> Vec<u8> {
        let mut out = Vec::new();
        let mut b = [0u8; 256];
        loop {
            let n = f.read_inner(None, &mut b).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&b[..n]);
        }
    }

    fn read(v: &Vfs, path: &[u8]) -> Result<Vec<u8>, Errno> {
        let f = v.open_in(&v.root_ctx(), path, libc::O_RDONLY, 0)?;
        Ok(read_fd(&f))
    }

    fn names(v: &Vfs, path: &[u8]) -> Vec<String> {
        let d = v.lookup_in(&v.root_ctx(), path, true).unwrap();
        let mut n: Vec<String> = d
            .inode
            .readdir(None)
            .unwrap()
            .into_iter()
            .map(|e| String::from_utf8(e.name).unwrap())
            .collect();
        n.sort();
        n
    }

    fn stat(v: &Vfs, path: &[u8]) -> crate::vfs::Stat {
        v.lookup_in(&v.root_ctx(), path, false)
            .unwrap()
            .inode
            .stat(None)
            .unwrap()
    }

    #[test]
    fn writes_copy_up_and_leave_the_lower_layer_alone() {
        let (lower, v) = setup();
        let c = v.root_ctx();
        let before = stat(&v, b"/etc/hostname");
        assert_eq!(before.dev, DEV);
        let f = v
            .open_in(&c, b"/etc/hostname", libc::O_WRONLY | libc::O_APPEND, 0)
            .unwrap();
        f.write_inner(None, b"more\n").unwrap();
        assert_eq!(read(&v, b"/etc/hostname").unwrap(), b"box\nmore\n");
        assert_eq!(read(&lower, b"/etc/hostname").unwrap(), b"box\n");
        let after = stat(&v, b"/etc/hostname");
        assert_eq!((after.dev, after.ino), (before.dev, before.ino));
        assert_eq!((after.mode, after.uid, after.gid), (before.mode, 7, 8));
        // The parent was copied up too, and keeps its inode number.
        assert_eq!(stat(&v, b"/etc").ino, stat(&lower, b"/etc").ino);
        // O_TRUNC copies up without the data.
        let f = v.open_in(&c, b"/etc/hosts", libc::O_RDWR | libc::O_TRUNC, 0);
        assert_eq!(read_fd(&f.unwrap()), b"");
        assert_eq!(
            read(&lower, b"/etc/hosts").unwrap(),
            b"127.0.0.1 localhost\n"
        );
    }

    #[test]
    fn chmod_and_truncate_by_path_copy_up() {
        let (lower, v) = setup();
        let c = v.root_ctx();
        let d = v.lookup_in(&c, b"/usr/share/doc", false).unwrap();
        d.inode
            .setattr(&SetAttr {
                mode: Some(0o600),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(stat(&v, b"/usr/share/doc").mode, libc::S_IFREG | 0o600);
        assert_eq!(stat(&lower, b"/usr/share/doc").mode, libc::S_IFREG | 0o644);
        assert_eq!(read(&v, b"/usr/share/doc").unwrap(), b"lower doc\n");
        d.inode
            .setattr(&SetAttr {
                size: Some(5),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(read(&v, b"/usr/share/doc").unwrap(), b"lower");
        assert_eq!(read(&lower, b"/usr/share/doc").unwrap(), b"lower doc\n");
    }

    #[test]
    fn directories_merge_without_duplicates_and_hide_whiteouts() {
        let (lower, v) = setup();
        let c = v.root_ctx();
        write(&v, &c, b"/etc/new", b"n");
        write(&v, &c, b"/etc/hosts", b"replaced\n");
        v.unlink_in(&c, b"/etc/hostname", false).unwrap();
        v.mkdir_in(&c, b"/etc/dir", 0o755).unwrap();
        assert_eq!(names(&v, b"/etc"), ["dir", "hosts", "link", "new", "sub"]);
        assert_eq!(read(&v, b"/etc/hostname"), Err(Errno::ENOENT));
        assert_eq!(names(&lower, b"/etc"), ["hostname", "hosts", "link", "sub"]);
        // A name can come back over its whiteout, without the lower contents.
        write(&v, &c, b"/etc/hostname", b"again\n");
        assert_eq!(read(&v, b"/etc/hostname").unwrap(), b"again\n");
        assert_eq!(read(&v, b"/etc/link").unwrap(), b"replaced\n");
        v.unlink_in(&c, b"/etc/hostname", false).unwrap();
        assert_eq!(read(&v, b"/etc/hostname"), Err(Errno::ENOENT));
    }

    #[test]
    fn rmdir_checks_emptiness_across_layers() {
        let (_lower, v) = setup();
        let c = v.root_ctx();
        assert_eq!(v.unlink_in(&c, b"/etc/sub", true), Err(Errno::ENOTEMPTY));
        v.unlink_in(&c, b"/etc/sub/x", false).unwrap();
        v.unlink_in(&c, b"/etc/sub", true).unwrap();
        assert!(v.lookup_in(&c, b"/etc/sub", false).is_err());
        v.unlink_in(&c, b"/empty", true).unwrap();
        // A new directory over a removed lower one is opaque.
        v.mkdir_in(&c, b"/etc/sub", 0o700).unwrap();
        assert!(names(&v, b"/etc/sub").is_empty());
        assert_eq!(stat(&v, b"/etc/sub").mode, libc::S_IFDIR | 0o700);
    }

    #[test]
    fn renames_leave_whiteouts_and_lower_directories_are_exdev() {
        let (lower, v) = setup();
        let c = v.root_ctx();
        let ino = stat(&v, b"/etc/hosts").ino;
        v.rename_in(&c, b"/etc/hosts", &c, b"/usr/hosts").unwrap();
        assert_eq!(read(&v, b"/etc/hosts"), Err(Errno::ENOENT));
        assert_eq!(read(&v, b"/usr/hosts").unwrap(), b"127.0.0.1 localhost\n");
        assert_eq!(stat(&v, b"/usr/hosts").ino, ino);
        // Over a lower-only file.
        v.rename_in(&c, b"/usr/hosts", &c, b"/usr/share/doc")
            .unwrap();
        assert_eq!(
            read(&v, b"/usr/share/doc").unwrap(),
            b"127.0.0.1 localhost\n"
        );
        assert_eq!(names(&v, b"/usr/share"), ["doc"]);
        assert_eq!(
            v.rename_in(&c, b"/etc/sub", &c, b"/sub2"),
            Err(Errno::EXDEV)
        );
        v.mkdir_in(&c, b"/etc/made", 0o755).unwrap();
        write(&v, &c, b"/etc/made/f", b"f");
        v.rename_in(&c, b"/etc/made", &c, b"/usr/moved").unwrap();
        assert_eq!(read(&v, b"/usr/moved/f").unwrap(), b"f");
        assert_eq!(names(&lower, b"/usr"), ["share"]);
        assert_eq!(
            read(&lower, b"/etc/hosts").unwrap(),
            b"127.0.0.1 localhost\n"
        );
    }

    #[test]
    fn read_only_descriptors_see_the_copy_after_copy_up() {
        let (_lower, v) = setup();
        let c = v.root_ctx();
        let ro = v.open_in(&c, b"/etc/hosts", libc::O_RDONLY, 0).unwrap();
        let rw = v.open_in(&c, b"/etc/hosts", libc::O_RDWR, 0).unwrap();
        rw.write_inner(None, b"::1").unwrap();
        assert_eq!(read_fd(&ro), b"::1.0.0.1 localhost\n");
        // The mapping is of the upper copy's memfd.
        let a = ro.host_fd_for_mmap().unwrap();
        let b = rw.host_fd_for_mmap().unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn hard_links_symlinks_and_fifos_go_to_the_upper_layer() {
        let (lower, v) = setup();
        let c = v.root_ctx();
        let t = v.lookup_in(&c, b"/etc/hosts", false).unwrap();
        let dir = v.lookup_in(&c, b"/usr", false).unwrap();
        dir.inode.link(b"hl", t.inode.as_ref()).unwrap();
        assert_eq!(stat(&v, b"/usr/hl").ino, stat(&v, b"/etc/hosts").ino);
        assert_eq!(stat(&v, b"/usr/hl").nlink, 2);
        v.symlink_in(&c, b"/etc/hosts", b"/usr/sl").unwrap();
        assert_eq!(v.readlink_in(&c, b"/usr/sl").unwrap(), b"/etc/hosts");
        assert_eq!(v.readlink_in(&c, b"/etc/link").unwrap(), b"hosts");
        dir.inode
            .mknod(b"fifo", libc::S_IFIFO | 0o600, 0, 0)
            .unwrap();
        assert_eq!(stat(&v, b"/usr/fifo").mode, libc::S_IFIFO | 0o600);
        assert_eq!(names(&lower, b"/usr"), ["share"]);
        assert_eq!(v.mkdir_in(&c, b"/usr/sl", 0o755), Err(Errno::EEXIST));
    }

    #[test]
    fn inode_numbers_are_stable_per_file() {
        let (_lower, v) = setup();
        let c = v.root_ctx();
        v.mkdir_in(&c, b"/n", 0o755).unwrap();
        let a = stat(&v, b"/n");
        let b = stat(&v, b"/n");
        assert_eq!(a.ino, b.ino);
        assert_ne!(a.ino, stat(&v, b"/etc").ino);
        let d = v.lookup_in(&c, b"/", true).unwrap();
        let ents = d.inode.readdir(None).unwrap();
        let n = ents.iter().find(|e| e.name == b"n").unwrap();
        assert_eq!(n.ino, a.ino);
        let e = ents.iter().find(|e| e.name == b"etc").unwrap();
        assert_eq!(e.ino, stat(&v, b"/etc").ino);
        let st = v.root().inode.statfs().unwrap();
        assert_eq!(st.fs_type, super::OVERLAYFS_SUPER_MAGIC);
    }

    #[test]
    fn unlinked_open_file_copies_up_anonymously() {
        let (lower, v) = setup();
        let c = v.root_ctx();
        let ro = v.open_in(&c, b"/etc/sub/x", libc::O_RDONLY, 0).unwrap();
        v.unlink_in(&c, b"/etc/sub/x", false).unwrap();
        ro.dentry()
            .inode
            .setattr(&SetAttr {
                mode: Some(0o600),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(read_fd(&ro), b"x");
        assert!(names(&v, b"/etc/sub").is_empty());
        assert_eq!(read(&lower, b"/etc/sub/x").unwrap(), b"x");
    }

    #[test]
    fn directory_link_counts_follow_subdirectories() {
        let (lower, v) = setup();
        let c = v.root_ctx();
        let n = stat(&lower, b"/etc").nlink;
        assert_eq!(stat(&v, b"/etc").nlink, n);
        v.mkdir_in(&c, b"/etc/d1", 0o755).unwrap();
        assert_eq!(stat(&v, b"/etc").nlink, n + 1);
        v.rename_in(&c, b"/etc/d1", &c, b"/usr/d1").unwrap();
        assert_eq!(stat(&v, b"/etc").nlink, n);
        v.unlink_in(&c, b"/etc/sub/x", false).unwrap();
        v.unlink_in(&c, b"/etc/sub", true).unwrap();
        assert_eq!(stat(&v, b"/etc").nlink, n - 1);
        // The root is copied up only when something changes in it, keeping its attributes.
        let root = stat(&v, b"/");
        assert_eq!(root.mode, stat(&lower, b"/").mode);
        assert_eq!(root.size, stat(&lower, b"/").size);
    }
}
