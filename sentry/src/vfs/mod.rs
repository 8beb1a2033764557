//! The virtual filesystem (after gVisor's `pkg/sentry/vfs`): mount tree, dentries, path walk,
//! `FileDescription`s and per-task fd tables. Path-level operations (open, stat, mkdir, unlink,
//! rename...) live on `Vfs`; each has a task-level form (`dirfd` relative to the task's fd table
//! and cwd) and a `Ctx` form the tests use without a task.
//!
//! Magic links: /proc/PID/fd/N, /proc/PID/cwd and /proc/PID/root resolve (when followed) to the
//! dentry of the open file or directory itself (`Inode::magic_link`), as Linux's
//! `proc_fd_link` does; readlink(2) of them gives the path text. /proc/PID/exe is an ordinary
//! symlink to the executable's path.
//!
//! Lock order: `Vfs::submounts` (read-mostly) and `Vfs::records` are never held together, nor
//! while calling into a filesystem.

pub mod attr;
pub mod context;
pub mod dentry;
pub mod fd_table;
pub mod file;
pub mod inode;
pub mod lock;
pub mod mount;
pub mod namespace;
pub mod paths;
pub mod poll;
pub mod propagation;
pub mod synthetic;
pub mod walk;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

pub use context::FsContext;
pub use dentry::{Dentry, Mount, Propagation, SuperBlock};
pub use fd_table::FdTable;
pub use file::FileDescription;
pub use inode::{
    DirEntry, FileOps, Inode, NoDataOps, Positioning, SetAttr, Stat, StatFs, TaskRef, Timespec,
};
pub use walk::Resolver;

use crate::kernel::Task;
use crate::{Errno, SysResult};

/// CAP_SYS_CHROOT (`include/uapi/linux/capability.h`).
const CAP_SYS_CHROOT: u32 = 18;

/// A mount as /proc/PID/mounts and /proc/PID/mountinfo list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountRecord {
    /// The mount's id (`Mount::id`).
    pub id: u64,
    /// The id of the mount it sits on (0 for a namespace's root).
    pub parent: u64,
    /// `st_dev` of the mount's root.
    pub dev: u64,
    /// The mount's root within its filesystem ("/", or the directory a bind mount took).
    pub root: Vec<u8>,
    pub path: Vec<u8>,
    pub fs_type: &'static str,
    /// The source shown (the filesystem's, as mount(2) was given it).
    pub source: String,
    /// The mount itself is read-only.
    pub readonly: bool,
    /// `MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME` on the mount.
    pub flags: u64,
    pub propagation: Propagation,
    /// The filesystem is read-only.
    pub super_readonly: bool,
    /// The filesystem's options, each with a leading comma.
    pub super_options: String,
}

/// One mount of a namespace, in mount order.
pub(crate) struct MountEntry {
    /// The namespace: the id of the mount at its root.
    ns: u64,
    mount: Arc<Mount>,
    parent: u64,
    path: Vec<u8>,
    root: Vec<u8>,
}

/// The mount tree of one sandbox.
pub struct Vfs {
    /// The root of the sandbox's first mount namespace (pivot_root there may replace it).
    root: RwLock<Arc<Dentry>>,
    /// Mounts by (parent mount id, st_dev, st_ino) of the directory they cover.
    submounts: RwLock<HashMap<(u64, u64, u64), Arc<Mount>>>,
    records: Mutex<Vec<MountEntry>>,
    /// Peer group ids of shared mounts.
    next_peer_group: AtomicU64,
    next_mount_id: AtomicU64,
    /// Inode numbers of synthetic mount points (vfs::synthetic).
    next_synthetic_ino: AtomicU64,
}

/// Why the sandbox's mount tree could not be built.
#[derive(Debug, thiserror::Error)]
pub enum VfsError {
    #[error("mounting {mount}: {source}")]
    Mount { mount: String, source: Errno },
}

/// How the sandbox's mount tree is built (`Vfs::new_sandbox_with`).
#[derive(Clone, Default)]
pub struct SandboxOptions {
    /// The root is the gofer's files, read-only (OCI `root.readonly`); otherwise an overlay
    /// whose writes stay in sentry memory, or, with `root_direct`, the gofer's files
    /// read-write (writes reach the host's root directory).
    pub root_readonly: bool,
    /// A writable root without the overlay (`--overlay=none`).
    pub root_direct: bool,
    /// Host directories served by the gofer, mounted after the sentry's own mounts, in order.
    pub mounts: Vec<BindMount>,
}

/// A host directory mounted in the sandbox (OCI bind mount, `runsc do --volume`).
#[derive(Clone)]
pub struct BindMount {
    /// Absolute sandbox path of the mount point (made as a synthetic directory if missing).
    pub dest: Vec<u8>,
    /// The gofer channel serving the host directory (its root is the mount's root).
    pub gofer: Arc<gofer::GoferClient>,
    /// Writes are EROFS; the gofer serving it must refuse them too.
    pub readonly: bool,
}

/// Where a path-level operation starts and on whose behalf.
pub struct Ctx<'a> {
    pub task: TaskRef<'a>,
    pub root: Arc<Dentry>,
    /// The directory relative paths start from (cwd or the dirfd's directory).
    pub start: Arc<Dentry>,
    pub umask: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Checks `mask` (R_OK|W_OK|X_OK) against a file's mode for the task's filesystem identity.
/// Without a task (the sentry itself) everything is allowed; uid 0 may do anything but execute a
/// file with no execute bit.
pub fn check_access(task: TaskRef, st: &Stat, mask: i32) -> SysResult<()> {
    let Some(t) = task else { return Ok(()) };
    check_access_as(t.creds.fsuid, t.creds.fsgid, &t.creds.groups, st, mask)
}

/// `check_access` for an explicit identity (access(2) uses the real ids).
pub fn check_access_as(uid: u32, gid: u32, groups: &[u32], st: &Stat, mask: i32) -> SysResult<()> {
    let mask = mask & (libc::R_OK | libc::W_OK | libc::X_OK);
    if mask == 0 {
        return Ok(());
    }
    if uid == 0 {
        if mask & libc::X_OK != 0 && !st.is_dir() && st.mode & 0o111 == 0 {
            return Err(Errno::EACCES);
        }
        return Ok(());
    }
    let bits = if st.uid == uid {
        (st.mode >> 6) & 7
    } else if st.gid == gid || groups.contains(&st.gid) {
        (st.mode >> 3) & 7
    } else {
        st.mode & 7
    };
    let want = mask as u32;
    if bits & want == want {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

fn is_dot_or_dotdot(name: &[u8]) -> bool {
    name == b"." || name == b".."
}

/// The namespace (mount tree) `d` lies in: the id of the mount at the top of its path.
pub(crate) fn namespace_of(d: &Dentry) -> u64 {
    let mut cur = d;
    while let Some(p) = &cur.parent {
        cur = p;
    }
    cur.mount.id
}

/// Synthetic device numbers for the sentry's own filesystems (anonymous major 0).
pub fn anon_dev(minor: u64) -> u64 {
    libc::makedev(0, minor as u32)
}

impl Vfs {
    /// A tree with `root` mounted at "/".
    pub fn with_root(root: Arc<dyn Inode>, readonly: bool, fs_type: &'static str) -> Vfs {
        let mount = Mount::new(1, root, readonly, fs_type);
        Vfs {
            root: RwLock::new(Dentry::new_root(mount.clone())),
            submounts: RwLock::new(HashMap::new()),
            records: Mutex::new(vec![MountEntry {
                ns: 1,
                mount,
                parent: 0,
                path: b"/".to_vec(),
                root: b"/".to_vec(),
            }]),
            next_peer_group: AtomicU64::new(1),
            next_mount_id: AtomicU64::new(2),
            next_synthetic_ino: AtomicU64::new(1),
        }
    }

    /// The sandbox's mounts with a read-only root: see `new_sandbox_with`.
    pub fn new_sandbox(gofer: Arc<gofer::GoferClient>) -> Result<Vfs, VfsError> {
        Vfs::new_sandbox_with(
            gofer,
            &SandboxOptions {
                root_readonly: true,
                root_direct: false,
                mounts: Vec::new(),
            },
        )
    }

    /// The sandbox's mounts: at `/` the gofer's root, read-only when `opts.root_readonly`,
    /// else under a writable in-memory overlay (`fs::overlay`); a fresh tmpfs at `/tmp`, the
    /// sentry's `/dev` and `/proc`; then `opts.mounts`. Mount points the root lacks are made
    /// synthetic (`mount`).
    pub fn new_sandbox_with(
        gofer: Arc<gofer::GoferClient>,
        opts: &SandboxOptions,
    ) -> Result<Vfs, VfsError> {
        fn err(mount: &'static str) -> impl Fn(Errno) -> VfsError {
            move |source| VfsError::Mount {
                mount: mount.to_string(),
                source,
            }
        }
        let vfs = if opts.root_readonly {
            let lower = crate::fs::gofer::new_root(gofer).map_err(err("/"))?;
            Vfs::with_root(lower, true, "9p")
        } else if opts.root_direct {
            // `--overlay=none`: the gofer serves the root read-write.
            let root = crate::fs::gofer::new_mount_root(gofer, false).map_err(err("/"))?;
            Vfs::with_root(root, false, "9p")
        } else {
            let lower = crate::fs::gofer::new_root(gofer).map_err(err("/"))?;
            let root = crate::fs::overlay::new_root(lower, anon_dev(0x4a), anon_dev(0x4b))
                .map_err(err("/"))?;
            Vfs::with_root(root, false, "overlay")
        };
        vfs.mount(
            b"/tmp",
            crate::fs::tmpfs::new_root(anon_dev(0x40), 0o1777),
            false,
            "tmpfs",
        )
        .map_err(err("/tmp"))?;
        vfs.mount(
            b"/dev",
            crate::fs::dev::new_root(anon_dev(0x41)),
            false,
            "devtmpfs",
        )
        .map_err(err("/dev"))?;
        vfs.mount(
            b"/dev/pts",
            crate::fs::devpts::new_root(anon_dev(0x46)),
            false,
            "devpts",
        )
        .map_err(err("/dev/pts"))?;
        vfs.mount(
            b"/dev/shm",
            crate::fs::tmpfs::new_root(anon_dev(0x43), 0o1777),
            false,
            "tmpfs",
        )
        .map_err(err("/dev/shm"))?;
        vfs.mount(
            b"/dev/mqueue",
            crate::fs::mqueue::new_root(),
            false,
            "mqueue",
        )
        .map_err(err("/dev/mqueue"))?;
        vfs.mount(
            b"/proc",
            crate::fs::proc::new_root(anon_dev(0x42)),
            false,
            "proc",
        )
        .map_err(err("/proc"))?;
        vfs.mount(
            b"/sys",
            crate::fs::sysfs::new_root(anon_dev(0x48)),
            true,
            "sysfs",
        )
        .map_err(err("/sys"))?;
        for m in &opts.mounts {
            let e = |source| VfsError::Mount {
                mount: String::from_utf8_lossy(&m.dest).into_owned(),
                source,
            };
            if !m.dest.starts_with(b"/") {
                return Err(e(Errno::EINVAL));
            }
            let root = crate::fs::gofer::new_mount_root(m.gofer.clone(), m.readonly).map_err(e)?;
            vfs.mount(&m.dest, root, m.readonly, "9p").map_err(e)?;
        }
        Ok(vfs)
    }

    /// Mounts `root` on the directory `path` (or, when `root` is a file, on the file `path`,
    /// made an empty synthetic file if missing). Missing directories on the way (and the mount
    /// point itself) are made as synthetic directories in the sentry, as gVisor does; the
    /// filesystem below is never written.
    pub fn mount(
        &self,
        path: &[u8],
        root: Arc<dyn Inode>,
        readonly: bool,
        fs_type: &'static str,
    ) -> SysResult<()> {
        self.mount_in(&self.root(), path, root, readonly, fs_type)
    }

    /// A mount tree of its own, not reachable from the sandbox root: `root` mounted at its "/"
    /// (a pod's app container's root, `control::container-create`). Mount on it with
    /// [`Vfs::mount_in`]; [`Vfs::release_tree`] takes its mounts away again.
    pub fn new_detached_tree(
        &self,
        root: Arc<dyn Inode>,
        readonly: bool,
        fs_type: &'static str,
    ) -> Arc<Dentry> {
        let id = self.next_mount_id.fetch_add(1, Ordering::Relaxed);
        let mount = Mount::new(id, root, readonly, fs_type);
        self.lock_records().push(MountEntry {
            ns: id,
            mount: mount.clone(),
            parent: 0,
            path: b"/".to_vec(),
            root: b"/".to_vec(),
        });
        Dentry::new_root(mount)
    }

    /// Every mount on the tree whose root dentry is `tree` goes (as a lazy umount of all).
    pub fn release_tree(&self, tree: &Arc<Dentry>) {
        self.detach_subtree(tree.mount.id);
    }

    /// Takes mount `id` and every mount below it out of the tree (a lazy umount of them all);
    /// returns their ids.
    pub(crate) fn detach_subtree(&self, id: u64) -> Vec<u64> {
        let mut submounts = self.submounts.write().unwrap_or_else(|p| p.into_inner());
        let mut gone = vec![id];
        let mut i = 0;
        while i < gone.len() {
            let parent = gone[i];
            gone.extend(
                submounts
                    .iter()
                    .filter(|(k, _)| k.0 == parent)
                    .map(|(_, m)| m.id),
            );
            i += 1;
        }
        submounts.retain(|_, m| !gone.contains(&m.id));
        drop(submounts);
        self.lock_records().retain(|r| !gone.contains(&r.mount.id));
        gone
    }

    /// `mount` on the tree whose root dentry is `base` (the sandbox's, or a detached one).
    pub fn mount_in(
        &self,
        base: &Arc<Dentry>,
        path: &[u8],
        root: Arc<dyn Inode>,
        readonly: bool,
        fs_type: &'static str,
    ) -> SysResult<()> {
        let r = Resolver {
            vfs: self,
            task: None,
            root: base.clone(),
        };
        let root_is_dir = root.stat(None)?.is_dir();
        let d = if root_is_dir {
            self.mount_point(&r, path)?
        } else {
            self.file_mount_point(&r, path)?
        };
        // A directory goes only over a directory, a file only over a non-directory
        // (Linux's graft_tree).
        if d.inode.stat(None)?.is_dir() != root_is_dir {
            return Err(Errno::ENOTDIR);
        }
        self.mount_at(&d, root, readonly, fs_type)
    }

    /// Resolves `path` for a mount of a file (a bind mount of a host file): its directories are
    /// made synthetic as for `mount_point`, and a missing target becomes an empty synthetic
    /// file, as runc creates the target file in the rootfs.
    fn file_mount_point(&self, r: &Resolver, path: &[u8]) -> SysResult<Arc<Dentry>> {
        match r.resolve(r.root.clone(), path, true) {
            Err(Errno::ENOENT) => {}
            other => return other,
        }
        let trimmed = path.strip_suffix(b"/").unwrap_or(path);
        let slash = trimmed
            .iter()
            .rposition(|&b| b == b'/')
            .ok_or(Errno::EINVAL)?;
        let (parent_path, name) = (&trimmed[..slash], &trimmed[slash + 1..]);
        if name.is_empty() || is_dot_or_dotdot(name) || name.len() > walk::NAME_MAX {
            return Err(Errno::EINVAL);
        }
        let parent = if parent_path.is_empty() {
            r.root.clone()
        } else {
            self.mount_point(r, parent_path)?
        };
        let pst = parent.inode.stat(None)?;
        if !pst.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        match parent.inode.lookup(None, name) {
            Err(Errno::ENOENT) => {}
            // A dangling symlink: not a place to mount.
            Ok(_) => return Err(Errno::ENOENT),
            Err(e) => return Err(e),
        }
        let ino = self.next_synthetic_ino.fetch_add(1, Ordering::Relaxed);
        let inode: Arc<dyn Inode> = Arc::new(SyntheticFile::new(ino));
        parent
            .mount
            .add_synthetic_child(pst.dev, pst.ino, name, inode.clone());
        Ok(Dentry::child(&parent, name, parent.mount.clone(), inode))
    }

    /// Mounts `root` over the file or directory `d` (a bind mount's target may be either).
    fn mount_at(
        &self,
        d: &Arc<Dentry>,
        root: Arc<dyn Inode>,
        readonly: bool,
        fs_type: &'static str,
    ) -> SysResult<()> {
        let id = self.new_mount_id();
        self.attach(d, Mount::new(id, root, readonly, fs_type), b"/".to_vec())
    }

    /// A fresh mount id.
    pub(crate) fn new_mount_id(&self) -> u64 {
        self.next_mount_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A fresh peer group id (`shared:N`).
    pub(crate) fn new_peer_group(&self) -> u64 {
        self.next_peer_group.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn lock_records(&self) -> std::sync::MutexGuard<'_, Vec<MountEntry>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts the mount `m` (whose root is `root_path` within its filesystem) over `d`.
    pub(crate) fn attach(
        &self,
        d: &Arc<Dentry>,
        m: Arc<Mount>,
        root_path: Vec<u8>,
    ) -> SysResult<()> {
        let st = d.inode.stat(None)?;
        self.submounts
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert((d.mount.id, st.dev, st.ino), m.clone());
        d.mount.has_submounts.store(true, Ordering::Release);
        self.lock_records().push(MountEntry {
            ns: namespace_of(d),
            mount: m,
            parent: d.mount.id,
            path: d.path(),
            root: root_path,
        });
        Ok(())
    }

    /// Resolves `path` from the root, adding a synthetic directory for each component that
    /// does not exist.
    fn mount_point(&self, r: &Resolver, path: &[u8]) -> SysResult<Arc<Dentry>> {
        match r.resolve(r.root.clone(), path, true) {
            Err(Errno::ENOENT) => {}
            other => return other,
        }
        let comps: Vec<&[u8]> = path
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty())
            .collect();
        let mut cur = r.root.clone();
        for (i, name) in comps.iter().enumerate() {
            let mut prefix = Vec::new();
            for c in &comps[..=i] {
                prefix.push(b'/');
                prefix.extend_from_slice(c);
            }
            cur = match r.resolve(r.root.clone(), &prefix, true) {
                Ok(d) => d,
                Err(Errno::ENOENT) => {
                    // Only a name that is truly absent (not a dangling symlink) is made.
                    match cur.inode.lookup(None, name) {
                        Err(Errno::ENOENT) => self.add_synthetic_dir(&cur, name)?,
                        Ok(_) => return Err(Errno::ENOENT),
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            };
        }
        Ok(cur)
    }

    /// Adds the synthetic directory `name` to the directory `parent`.
    fn add_synthetic_dir(&self, parent: &Arc<Dentry>, name: &[u8]) -> SysResult<Arc<Dentry>> {
        if is_dot_or_dotdot(name) || name.len() > walk::NAME_MAX {
            return Err(Errno::EINVAL);
        }
        let pst = parent.inode.stat(None)?;
        if !pst.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let ino = self.next_synthetic_ino.fetch_add(1, Ordering::Relaxed);
        let inode: Arc<dyn Inode> = synthetic::SyntheticDir::new(ino);
        parent
            .mount
            .add_synthetic_child(pst.dev, pst.ino, name, inode.clone());
        Ok(Dentry::child(parent, name, parent.mount.clone(), inode))
    }

    pub(crate) fn mount_on(&self, parent_mount: u64, dev: u64, ino: u64) -> Option<Arc<Mount>> {
        self.submounts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(parent_mount, dev, ino))
            .cloned()
    }

    /// The sandbox's mounts in the order they were made (/proc/mounts).
    pub fn mounts(&self) -> Vec<MountRecord> {
        self.mounts_in(self.root().mount.id)
    }

    /// The mounts of the tree (mount namespace) that `root`, a task's root, lies in.
    /// As the task sees them: after chroot(2), only the mounts at or below its root, their
    /// paths from it (Linux `show_mountinfo` skips what `seq_path_root` cannot reach).
    pub fn mounts_for(&self, root: &Dentry) -> Vec<MountRecord> {
        let all = self.mounts_in(namespace_of(root));
        let base = root.path();
        if base == b"/" {
            return all;
        }
        all.into_iter()
            .filter_map(|mut r| {
                let rest = r.path.strip_prefix(&base[..])?;
                if !rest.is_empty() && rest[0] != b'/' {
                    return None;
                }
                r.path = if rest.is_empty() {
                    b"/".to_vec()
                } else {
                    rest.to_vec()
                };
                Some(r)
            })
            .collect()
    }

    fn mounts_in(&self, ns: u64) -> Vec<MountRecord> {
        // Read under the lock, then stat the roots without it.
        type Row = (Arc<Mount>, u64, Vec<u8>, Vec<u8>);
        let entries: Vec<Row> = self
            .lock_records()
            .iter()
            .filter(|e| e.ns == ns)
            .map(|e| (e.mount.clone(), e.parent, e.root.clone(), e.path.clone()))
            .collect();
        entries
            .into_iter()
            .map(|(m, parent, root, path)| MountRecord {
                id: m.id,
                parent,
                dev: m.root.stat(None).map(|s| s.dev).unwrap_or(0),
                root,
                path,
                fs_type: m.fs_type,
                source: m.sb.source.clone(),
                readonly: m.readonly_flag(),
                flags: m.flags(),
                propagation: m.propagation(),
                super_readonly: m.sb.readonly(),
                super_options: m.sb.options(),
            })
            .collect()
    }

    /// The root dentry.
    pub fn root(&self) -> Arc<Dentry> {
        self.root.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Makes `root` the sandbox's root (pivot_root in its first namespace).
    pub(crate) fn set_root(&self, root: Arc<Dentry>) {
        *self.root.write().unwrap_or_else(|p| p.into_inner()) = root;
    }

    /// A context for `task` starting at `dirfd` (AT_FDCWD or an fd naming a directory).
    pub fn ctx<'a>(&self, task: &'a Task, dirfd: i32) -> SysResult<Ctx<'a>> {
        let start = if dirfd == libc::AT_FDCWD {
            task.fs.cwd()
        } else {
            task.fd_table.get(dirfd)?.dentry().clone()
        };
        Ok(Ctx {
            task: Some(task),
            root: task.fs.root(),
            start,
            umask: task.fs.umask(),
            uid: task.creds.fsuid,
            gid: task.creds.fsgid,
        })
    }

    /// A context for the sentry itself, from the root.
    pub fn root_ctx(&self) -> Ctx<'static> {
        Ctx {
            task: None,
            root: self.root(),
            start: self.root(),
            umask: 0o022,
            uid: 0,
            gid: 0,
        }
    }

    fn resolver<'a>(&'a self, c: &Ctx<'a>) -> Resolver<'a> {
        Resolver {
            vfs: self,
            task: c.task,
            root: c.root.clone(),
        }
    }

    /// Opens `path` relative to `dirfd` (AT_FDCWD or a task fd) with open(2) flags and mode.
    pub fn open(
        &self,
        task: &Task,
        dirfd: i32,
        path: &[u8],
        flags: i32,
        mode: u32,
    ) -> SysResult<Arc<FileDescription>> {
        let c = self.ctx(task, dirfd)?;
        self.open_in(&c, path, flags, mode)
    }

    /// open(2) in a context.
    pub fn open_in(
        &self,
        c: &Ctx,
        path: &[u8],
        flags: i32,
        mode: u32,
    ) -> SysResult<Arc<FileDescription>> {
        let acc = flags & libc::O_ACCMODE;
        let path_only = flags & libc::O_PATH != 0;
        if acc == libc::O_ACCMODE && !path_only {
            return Err(Errno::EINVAL);
        }
        let r = self.resolver(c);
        let follow = flags & libc::O_NOFOLLOW == 0;
        let mut created = false;
        let dentry = if flags & libc::O_CREAT != 0 && !path_only {
            let pn = r.resolve_parent(c.start.clone(), path)?;
            if pn.name.is_empty() || is_dot_or_dotdot(&pn.name) {
                return Err(Errno::EISDIR);
            }
            let (mut parent, mut name, mut trailing_slash) =
                (pn.parent, pn.name, pn.trailing_slash);
            // A symlink in the last component is followed, and a dangling one's target is
            // created (open(2), O_CREAT; Linux's open_last_lookups loop), MAXSYMLINKS deep.
            let mut links = 0;
            loop {
                match r.lookup_child(&parent, &name) {
                    Ok(d) => {
                        if flags & libc::O_EXCL != 0 {
                            return Err(Errno::EEXIST);
                        }
                        if !d.inode.stat(c.task)?.is_symlink() {
                            break d;
                        }
                        if !follow {
                            return Err(Errno::ELOOP);
                        }
                        links += 1;
                        if links > walk::MAX_SYMLINKS {
                            return Err(Errno::ELOOP);
                        }
                        let target = d.inode.readlink(c.task)?;
                        let tp = r.resolve_parent(parent.clone(), &target)?;
                        if tp.name.is_empty() || is_dot_or_dotdot(&tp.name) {
                            // The link names a directory ("/", "..").
                            break r.resolve(parent.clone(), &target, true)?;
                        }
                        (parent, name, trailing_slash) = (tp.parent, tp.name, tp.trailing_slash);
                    }
                    Err(Errno::ENOENT) => {
                        if trailing_slash {
                            return Err(Errno::EISDIR);
                        }
                        if parent.mount.readonly() {
                            return Err(Errno::EROFS);
                        }
                        check_access(c.task, &parent.inode.stat(c.task)?, libc::W_OK | libc::X_OK)?;
                        let m = (mode & 0o7777 & !c.umask) | libc::S_IFREG;
                        let inode = parent.inode.create(&name, m, c.uid, c.gid)?;
                        created = true;
                        break Dentry::child(&parent, &name, parent.mount.clone(), inode);
                    }
                    Err(e) => return Err(e),
                }
            }
        } else {
            r.resolve(c.start.clone(), path, follow)?
        };
        let st = dentry.inode.stat(c.task)?;
        if flags & libc::O_DIRECTORY != 0 && !st.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if path_only {
            return Ok(FileDescription::new(
                dentry,
                Arc::new(NoDataOps),
                flags & !libc::O_ACCMODE,
            ));
        }
        if st.is_symlink() {
            return Err(Errno::ELOOP);
        }
        // Device nodes on a nodev mount do not open (Linux `may_open_dev`).
        let ft = st.file_type();
        if (ft == libc::S_IFCHR || ft == libc::S_IFBLK) && dentry.mount.nodev() {
            return Err(Errno::EACCES);
        }
        let truncate = flags & libc::O_TRUNC != 0;
        if st.is_dir() && (acc != libc::O_RDONLY || truncate || flags & libc::O_CREAT != 0) {
            return Err(Errno::EISDIR);
        }
        let writes = acc != libc::O_RDONLY || truncate;
        if writes && dentry.mount.readonly() && (st.is_reg() || st.is_dir() || st.is_symlink()) {
            return Err(Errno::EROFS);
        }
        if !created {
            let want = match acc {
                libc::O_RDONLY => libc::R_OK,
                libc::O_WRONLY => libc::W_OK,
                _ => libc::R_OK | libc::W_OK,
            };
            check_access(c.task, &st, want)?;
        }
        let ops = dentry.inode.open(c.task, flags)?;
        if truncate && st.is_reg() && !created {
            ops.truncate(0)?;
        }
        Ok(FileDescription::new(dentry, ops, flags))
    }

    /// Resolves `path` for the *at family: `AT_EMPTY_PATH` with an empty path names `dirfd`
    /// itself; `follow` says whether a final symlink is followed.
    pub fn lookup_at(
        &self,
        task: &Task,
        dirfd: i32,
        path: &[u8],
        follow: bool,
        empty_path: bool,
    ) -> SysResult<Arc<Dentry>> {
        let c = self.ctx(task, dirfd)?;
        if path.is_empty() && empty_path {
            return Ok(c.start);
        }
        self.resolver(&c).resolve(c.start.clone(), path, follow)
    }

    /// Resolves `path` in a context.
    pub fn lookup_in(&self, c: &Ctx, path: &[u8], follow: bool) -> SysResult<Arc<Dentry>> {
        self.resolver(c).resolve(c.start.clone(), path, follow)
    }

    /// stat(2) family: `flags` may hold AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH.
    pub fn stat_at(&self, task: &Task, dirfd: i32, path: &[u8], flags: i32) -> SysResult<Stat> {
        if path.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
            if dirfd == libc::AT_FDCWD {
                return task.fs.cwd().inode.stat(Some(task));
            }
            return task.fd_table.get(dirfd)?.stat_vfs(Some(task));
        }
        let d = self.lookup_at(
            task,
            dirfd,
            path,
            flags & libc::AT_SYMLINK_NOFOLLOW == 0,
            false,
        )?;
        d.inode.stat(Some(task))
    }

    /// access(2)/faccessat2(2): `mode` is F_OK or R_OK|W_OK|X_OK; `flags` may hold
    /// AT_SYMLINK_NOFOLLOW, AT_EACCESS and AT_EMPTY_PATH.
    pub fn access_at(
        &self,
        task: &Task,
        dirfd: i32,
        path: &[u8],
        mode: i32,
        flags: i32,
    ) -> SysResult<()> {
        let d = self.lookup_at(
            task,
            dirfd,
            path,
            flags & libc::AT_SYMLINK_NOFOLLOW == 0,
            flags & libc::AT_EMPTY_PATH != 0,
        )?;
        let st = d.inode.stat(Some(task))?;
        if mode & libc::X_OK != 0 && st.is_reg() && d.mount.noexec() {
            return Err(Errno::EACCES);
        }
        if mode & libc::W_OK != 0 && d.mount.readonly() && (st.is_reg() || st.is_dir()) {
            return Err(Errno::EROFS);
        }
        let cr = &task.creds;
        let (uid, gid) = if flags & libc::AT_EACCESS != 0 {
            (cr.euid, cr.egid)
        } else {
            (cr.uid, cr.gid)
        };
        check_access_as(uid, gid, &cr.groups, &st, mode)
    }

    /// readlinkat(2).
    pub fn readlink_at(&self, task: &Task, dirfd: i32, path: &[u8]) -> SysResult<Vec<u8>> {
        let d = self.lookup_at(task, dirfd, path, false, true)?;
        Self::readlink_dentry(Some(task), &d)
    }

    /// readlink in a context.
    pub fn readlink_in(&self, c: &Ctx, path: &[u8]) -> SysResult<Vec<u8>> {
        let d = self.lookup_in(c, path, false)?;
        Self::readlink_dentry(c.task, &d)
    }

    fn readlink_dentry(task: TaskRef, d: &Dentry) -> SysResult<Vec<u8>> {
        if !d.inode.stat(task)?.is_symlink() {
            return Err(Errno::EINVAL);
        }
        d.inode.readlink(task)
    }

    /// mkdirat(2).
    pub fn mkdir_at(&self, task: &Task, dirfd: i32, path: &[u8], mode: u32) -> SysResult<()> {
        let c = self.ctx(task, dirfd)?;
        self.mkdir_in(&c, path, mode)
    }

    /// mkdir in a context.
    pub fn mkdir_in(&self, c: &Ctx, path: &[u8], mode: u32) -> SysResult<()> {
        let r = self.resolver(c);
        let pn = r.resolve_parent(c.start.clone(), path)?;
        if pn.name.is_empty() || is_dot_or_dotdot(&pn.name) {
            return Err(Errno::EEXIST);
        }
        match r.lookup_child(&pn.parent, &pn.name) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        if pn.parent.mount.readonly() {
            return Err(Errno::EROFS);
        }
        check_access(
            c.task,
            &pn.parent.inode.stat(c.task)?,
            libc::W_OK | libc::X_OK,
        )?;
        let m = (mode & 0o7777 & !c.umask) | libc::S_IFDIR;
        pn.parent.inode.mkdir(&pn.name, m, c.uid, c.gid).map(|_| ())
    }

    /// symlinkat(2).
    pub fn symlink_in(&self, c: &Ctx, target: &[u8], path: &[u8]) -> SysResult<()> {
        let r = self.resolver(c);
        let pn = r.resolve_parent(c.start.clone(), path)?;
        if pn.name.is_empty() || is_dot_or_dotdot(&pn.name) {
            return Err(Errno::EEXIST);
        }
        match r.lookup_child(&pn.parent, &pn.name) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        if pn.parent.mount.readonly() {
            return Err(Errno::EROFS);
        }
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        check_access(
            c.task,
            &pn.parent.inode.stat(c.task)?,
            libc::W_OK | libc::X_OK,
        )?;
        pn.parent
            .inode
            .symlink(&pn.name, target, c.uid, c.gid)
            .map(|_| ())
    }

    /// bind(2) of a unix socket to `path`: creates a socket node holding `endpoint`
    /// (EADDRINUSE if the name exists).
    pub fn bind_socket(
        &self,
        task: &Task,
        path: &[u8],
        endpoint: Arc<dyn std::any::Any + Send + Sync>,
    ) -> SysResult<()> {
        let c = self.ctx(task, libc::AT_FDCWD)?;
        let r = self.resolver(&c);
        let pn = r.resolve_parent(c.start.clone(), path)?;
        if pn.name.is_empty() || is_dot_or_dotdot(&pn.name) {
            return Err(Errno::EADDRINUSE);
        }
        match r.lookup_child(&pn.parent, &pn.name) {
            Ok(_) => return Err(Errno::EADDRINUSE),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        if pn.parent.mount.readonly() {
            return Err(Errno::EROFS);
        }
        check_access(
            c.task,
            &pn.parent.inode.stat(c.task)?,
            libc::W_OK | libc::X_OK,
        )?;
        let mode = 0o777 & !c.umask;
        match pn
            .parent
            .inode
            .bind_socket(&pn.name, mode, c.uid, c.gid, endpoint)
        {
            Err(Errno::EEXIST) => Err(Errno::EADDRINUSE),
            r => r.map(|_| ()),
        }
    }

    /// connect(2) to a unix socket at `path`: the endpoint its socket node holds
    /// (ECONNREFUSED for a file that is not a socket, EACCES without write permission).
    pub fn lookup_socket(
        &self,
        task: &Task,
        path: &[u8],
    ) -> SysResult<Arc<dyn std::any::Any + Send + Sync>> {
        let c = self.ctx(task, libc::AT_FDCWD)?;
        let d = self.resolver(&c).resolve(c.start.clone(), path, true)?;
        let st = d.inode.stat(c.task)?;
        check_access(c.task, &st, libc::W_OK)?;
        d.inode.socket_endpoint().ok_or(Errno::ECONNREFUSED)
    }

    /// unlinkat(2): `flags` is 0 or AT_REMOVEDIR.
    pub fn unlink_at(&self, task: &Task, dirfd: i32, path: &[u8], flags: i32) -> SysResult<()> {
        let c = self.ctx(task, dirfd)?;
        self.unlink_in(&c, path, flags & libc::AT_REMOVEDIR != 0)
    }

    /// unlink (or rmdir when `rmdir`) in a context.
    pub fn unlink_in(&self, c: &Ctx, path: &[u8], rmdir: bool) -> SysResult<()> {
        let r = self.resolver(c);
        let pn = r.resolve_parent(c.start.clone(), path)?;
        if pn.name.is_empty() {
            return Err(if rmdir { Errno::EBUSY } else { Errno::EISDIR });
        }
        if rmdir && pn.name == b"." {
            return Err(Errno::EINVAL);
        }
        if rmdir && pn.name == b".." {
            return Err(Errno::ENOTEMPTY);
        }
        if is_dot_or_dotdot(&pn.name) {
            return Err(Errno::EISDIR);
        }
        let child = r.lookup_child(&pn.parent, &pn.name)?;
        let st = child.inode.stat(c.task)?;
        if !rmdir && st.is_dir() {
            return Err(Errno::EISDIR);
        }
        if rmdir && !st.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if !rmdir && pn.trailing_slash {
            return Err(Errno::ENOTDIR);
        }
        if child.mount.id != pn.parent.mount.id {
            return Err(Errno::EBUSY);
        }
        if pn.parent.mount.readonly() {
            return Err(Errno::EROFS);
        }
        let pst = pn.parent.inode.stat(c.task)?;
        check_access(c.task, &pst, libc::W_OK | libc::X_OK)?;
        attr::check_sticky(c.task, &pst, &st)?;
        pn.parent.inode.unlink(&pn.name, rmdir)
    }

    /// renameat(2).
    pub fn rename_at(
        &self,
        task: &Task,
        olddirfd: i32,
        old: &[u8],
        newdirfd: i32,
        new: &[u8],
    ) -> SysResult<()> {
        let oc = self.ctx(task, olddirfd)?;
        let nc = self.ctx(task, newdirfd)?;
        self.rename_in(&oc, old, &nc, new)
    }

    /// rename in contexts.
    pub fn rename_in(&self, oc: &Ctx, old: &[u8], nc: &Ctx, new: &[u8]) -> SysResult<()> {
        self.rename2_in(oc, old, nc, new, 0)
    }

    /// renameat2(2) in contexts: `flags` is 0, RENAME_NOREPLACE or RENAME_EXCHANGE
    /// (RENAME_WHITEOUT and combinations are EINVAL).
    pub fn rename2_in(
        &self,
        oc: &Ctx,
        old: &[u8],
        nc: &Ctx,
        new: &[u8],
        flags: u32,
    ) -> SysResult<()> {
        if flags & !(libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE) != 0
            || flags == libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE
        {
            return Err(Errno::EINVAL);
        }
        let r = self.resolver(oc);
        let op = r.resolve_parent(oc.start.clone(), old)?;
        let np = self.resolver(nc).resolve_parent(nc.start.clone(), new)?;
        for n in [&op.name, &np.name] {
            if n.is_empty() || is_dot_or_dotdot(n) {
                return Err(Errno::EBUSY);
            }
        }
        // Linux's order (do_renameat2): EXDEV and EROFS, the two lookups, NOREPLACE's EEXIST
        // and EXCHANGE's ENOENT, trailing slashes, then the ancestor traps, then permissions.
        if op.parent.mount.id != np.parent.mount.id {
            return Err(Errno::EXDEV);
        }
        if op.parent.mount.readonly() {
            return Err(Errno::EROFS);
        }
        let child = r.lookup_child(&op.parent, &op.name)?;
        let st = child.inode.stat(oc.task)?;
        if child.mount.id != op.parent.mount.id {
            return Err(Errno::EBUSY);
        }
        let target = match self.resolver(nc).lookup_child(&np.parent, &np.name) {
            Ok(d) => Some(d),
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(e),
        };
        if flags & libc::RENAME_NOREPLACE != 0 && target.is_some() {
            return Err(Errno::EEXIST);
        }
        let exchange = flags & libc::RENAME_EXCHANGE != 0;
        if exchange && target.is_none() {
            return Err(Errno::ENOENT);
        }
        if (op.trailing_slash || np.trailing_slash) && !st.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        // The source may not be an ancestor of the target (moving a directory into itself)...
        if st.is_dir() && np.parent.is_descendant_of(&child) {
            return Err(Errno::EINVAL);
        }
        // ...nor the target an ancestor of the source (it is not empty: it holds the source).
        if let Some(t) = &target {
            if t.inode.stat(nc.task)?.is_dir() && op.parent.is_descendant_of(t) {
                return Err(if exchange {
                    Errno::EINVAL
                } else {
                    Errno::ENOTEMPTY
                });
            }
        }
        let opst = op.parent.inode.stat(oc.task)?;
        let npst = np.parent.inode.stat(nc.task)?;
        check_access(oc.task, &opst, libc::W_OK | libc::X_OK)?;
        check_access(nc.task, &npst, libc::W_OK | libc::X_OK)?;
        attr::check_sticky(oc.task, &opst, &st)?;
        if let Some(t) = &target {
            attr::check_sticky(nc.task, &npst, &t.inode.stat(nc.task)?)?;
        }
        op.parent
            .inode
            .rename2(&op.name, np.parent.inode.as_ref(), &np.name, flags)
    }

    /// chdir(2).
    pub fn chdir(&self, task: &Task, path: &[u8]) -> SysResult<()> {
        let d = self.lookup_at(task, libc::AT_FDCWD, path, true, false)?;
        Self::set_cwd(task, d)
    }

    /// fchdir(2).
    pub fn fchdir(&self, task: &Task, fd: i32) -> SysResult<()> {
        let d = task.fd_table.get(fd)?.dentry().clone();
        Self::set_cwd(task, d)
    }

    /// chroot(2): CAP_SYS_CHROOT, then a searchable directory becomes the task's root.
    pub fn chroot(&self, task: &Task, path: &[u8]) -> SysResult<()> {
        let d = self.lookup_at(task, libc::AT_FDCWD, path, true, false)?;
        let st = d.inode.stat(Some(task))?;
        if !st.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        check_access(Some(task), &st, libc::X_OK)?;
        if !task.creds.has_cap(CAP_SYS_CHROOT) {
            return Err(Errno::EPERM);
        }
        task.fs.set_root(d);
        Ok(())
    }

    fn set_cwd(task: &Task, d: Arc<Dentry>) -> SysResult<()> {
        let st = d.inode.stat(Some(task))?;
        if !st.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        check_access(Some(task), &st, libc::X_OK)?;
        task.fs.set_cwd(d);
        Ok(())
    }

    /// statfs(2).
    pub fn statfs_at(&self, task: &Task, path: &[u8]) -> SysResult<StatFs> {
        self.lookup_at(task, libc::AT_FDCWD, path, true, false)?
            .inode
            .statfs()
    }
}

/// The empty, immutable regular file that stands in for a missing target of a file mount (the
/// mount covers it; after gVisor's synthetic mount points, `vfs::synthetic`).
struct SyntheticFile {
    stat: Stat,
}

impl SyntheticFile {
    fn new(ino: u64) -> SyntheticFile {
        let now = Timespec::now();
        SyntheticFile {
            stat: Stat {
                dev: anon_dev(synthetic::SYNTHETIC_DEV_MINOR),
                ino,
                mode: libc::S_IFREG | 0o644,
                nlink: 1,
                uid: 0,
                gid: 0,
                rdev: 0,
                size: 0,
                blksize: 4096,
                blocks: 0,
                atime: now,
                mtime: now,
                ctime: now,
            },
        }
    }
}

impl Inode for SyntheticFile {
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
        Ok(self.stat)
    }
    fn lookup(&self, _task: TaskRef, _name: &[u8]) -> SysResult<Arc<dyn Inode>> {
        Err(Errno::ENOTDIR)
    }
    fn readdir(&self, _task: TaskRef) -> SysResult<Vec<DirEntry>> {
        Err(Errno::ENOTDIR)
    }
    fn open(&self, _task: TaskRef, _flags: i32) -> SysResult<Arc<dyn FileOps>> {
        Ok(Arc::new(NoDataOps))
    }
    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(crate::fs::tmpfs::TMPFS_MAGIC))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
