//! Dentries and mounts (after gVisor's `pkg/sentry/vfs/dentry.go` and `mount.go`; Linux
//! `include/linux/dcache.h`, `fs/mount.h`). A dentry is one step of a resolved path: its name,
//! its parent, the mount it lies in and the inode it names. Dentries are made by each walk (the
//! filesystems cache inodes), so two dentries may name the same file; `same_file` compares them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::vfs::inode::{DirEntry, Inode, TaskRef};
use crate::SysResult;

/// What every mount of one filesystem instance shares (Linux `struct super_block`): its
/// read-only state, the source and options /proc/PID/mountinfo shows.
#[derive(Debug)]
pub struct SuperBlock {
    readonly: AtomicBool,
    /// The mount source as given (mountinfo's source field).
    pub source: String,
    /// Filesystem options after "rw"/"ro", each with a leading comma (",size=64k,mode=700").
    options: Mutex<String>,
}

impl SuperBlock {
    pub fn new(source: &str, readonly: bool, options: String) -> Arc<SuperBlock> {
        Arc::new(SuperBlock {
            readonly: AtomicBool::new(readonly),
            source: source.to_string(),
            options: Mutex::new(options),
        })
    }
    pub fn readonly(&self) -> bool {
        self.readonly.load(Ordering::Relaxed)
    }
    pub(crate) fn set_readonly(&self, readonly: bool) {
        self.readonly.store(readonly, Ordering::Relaxed);
    }
    pub fn options(&self) -> String {
        self.options
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
    pub(crate) fn set_options(&self, options: String) {
        *self.options.lock().unwrap_or_else(|p| p.into_inner()) = options;
    }
}

/// A mount's propagation type (Linux `fs/pnode.c`; mountinfo's optional fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Propagation {
    /// Peer group id when shared (`shared:N`), else 0.
    pub shared: u64,
    /// Peer group this mount receives from when a slave (`master:N`), else 0.
    pub master: u64,
    pub unbindable: bool,
}

/// One mounted filesystem.
pub struct Mount {
    /// Sandbox-unique id (/proc/PID/mountinfo); 0 for anonymous files.
    pub id: u64,
    pub root: Arc<dyn Inode>,
    /// Writes and creations are `EROFS` (mount(2)'s MS_REMOUNT may change it).
    readonly: AtomicBool,
    /// Filesystem type name (/proc/mounts).
    pub fs_type: &'static str,
    /// Whether another mount sits on a directory of this one, or a synthetic mount point was
    /// added to one (walks check only then).
    pub(crate) has_submounts: AtomicBool,
    /// Synthetic mount-point directories by the (st_dev, st_ino) of the directory holding them.
    synthetic: RwLock<SyntheticChildren>,
    /// Per-mount flags besides read-only: `MS_NOSUID`, `MS_NODEV`, `MS_NOEXEC`,
    /// `MS_NOATIME`, `MS_NODIRATIME` (mount(2) values).
    flags: AtomicU64,
    /// The filesystem instance, shared with the mounts bound from this one.
    pub sb: Arc<SuperBlock>,
    propagation: Mutex<Propagation>,
}

/// Name and inode of each synthetic child, per parent directory.
type SyntheticChildren = BTreeMap<(u64, u64), Vec<(Vec<u8>, Arc<dyn Inode>)>>;

impl Mount {
    pub fn new(id: u64, root: Arc<dyn Inode>, readonly: bool, fs_type: &'static str) -> Arc<Mount> {
        let sb = SuperBlock::new(fs_type, readonly, String::new());
        Mount::with_sb(id, root, readonly, fs_type, libc::MS_RELATIME, sb)
    }

    /// A mount of the filesystem `sb` (a new one, or one more mount of it: a bind).
    pub fn with_sb(
        id: u64,
        root: Arc<dyn Inode>,
        readonly: bool,
        fs_type: &'static str,
        flags: u64,
        sb: Arc<SuperBlock>,
    ) -> Arc<Mount> {
        Arc::new(Mount {
            id,
            root,
            readonly: AtomicBool::new(readonly),
            fs_type,
            has_submounts: AtomicBool::new(false),
            synthetic: RwLock::new(BTreeMap::new()),
            flags: AtomicU64::new(flags),
            sb,
            propagation: Mutex::new(Propagation::default()),
        })
    }

    /// A copy of this mount with id `id` (a recursive bind's or a new namespace's): the same
    /// filesystem, root, flags and synthetic mount points.
    pub(crate) fn duplicate(&self, id: u64, root: Arc<dyn Inode>) -> Arc<Mount> {
        let synthetic = self
            .synthetic
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let has = !synthetic.is_empty();
        Arc::new(Mount {
            id,
            root,
            readonly: AtomicBool::new(self.readonly_flag()),
            fs_type: self.fs_type,
            has_submounts: AtomicBool::new(has),
            synthetic: RwLock::new(synthetic),
            flags: AtomicU64::new(self.flags()),
            sb: self.sb.clone(),
            propagation: Mutex::new(Propagation::default()),
        })
    }

    /// Whether writes below this mount are EROFS (the mount or its filesystem is read-only).
    pub fn readonly(&self) -> bool {
        self.readonly.load(Ordering::Relaxed) || self.sb.readonly()
    }
    /// The mount's own read-only flag (mountinfo's per-mount field).
    pub fn readonly_flag(&self) -> bool {
        self.readonly.load(Ordering::Relaxed)
    }
    /// `MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME` as set on this mount.
    pub fn flags(&self) -> u64 {
        self.flags.load(Ordering::Relaxed)
    }
    pub(crate) fn set_flags(&self, flags: u64) {
        self.flags.store(flags, Ordering::Relaxed);
    }
    /// Files here may not be executed or mapped executable.
    pub fn noexec(&self) -> bool {
        self.flags() & libc::MS_NOEXEC != 0
    }
    /// Set-user-id and set-group-id bits are ignored at execve.
    pub fn nosuid(&self) -> bool {
        self.flags() & libc::MS_NOSUID != 0
    }
    /// Device nodes here may not be opened.
    pub fn nodev(&self) -> bool {
        self.flags() & libc::MS_NODEV != 0
    }
    pub fn propagation(&self) -> Propagation {
        *self.propagation.lock().unwrap_or_else(|p| p.into_inner())
    }
    pub(crate) fn set_propagation(&self, p: Propagation) {
        *self.propagation.lock().unwrap_or_else(|p| p.into_inner()) = p;
    }
    pub(crate) fn set_readonly(&self, readonly: bool) {
        self.readonly.store(readonly, Ordering::Relaxed);
    }
    pub(crate) fn submounts(&self) -> bool {
        self.has_submounts.load(Ordering::Acquire)
    }

    /// Records `inode` as the synthetic child `name` of the directory (`dev`, `ino`) of this
    /// mount. It then shadows any real child of that name.
    pub(crate) fn add_synthetic_child(
        &self,
        dev: u64,
        ino: u64,
        name: &[u8],
        inode: Arc<dyn Inode>,
    ) {
        let mut map = self.synthetic.write().unwrap_or_else(|p| p.into_inner());
        let children = map.entry((dev, ino)).or_default();
        children.retain(|(n, _)| n != name);
        children.push((name.to_vec(), inode));
        self.has_submounts.store(true, Ordering::Release);
    }

    /// The synthetic child `name` of the directory (`dev`, `ino`), if any.
    pub(crate) fn synthetic_child(
        &self,
        dev: u64,
        ino: u64,
        name: &[u8],
    ) -> Option<Arc<dyn Inode>> {
        let map = self.synthetic.read().unwrap_or_else(|p| p.into_inner());
        map.get(&(dev, ino))?
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, i)| i.clone())
    }

    /// The synthetic children of the directory (`dev`, `ino`) as directory entries.
    pub(crate) fn synthetic_entries(&self, dev: u64, ino: u64) -> SysResult<Vec<DirEntry>> {
        let map = self.synthetic.read().unwrap_or_else(|p| p.into_inner());
        let Some(children) = map.get(&(dev, ino)) else {
            return Ok(Vec::new());
        };
        children
            .iter()
            .map(|(name, inode)| {
                let st = inode.stat(None)?;
                Ok(DirEntry {
                    name: name.clone(),
                    ino: st.ino,
                    kind: st.dirent_type(),
                })
            })
            .collect()
    }
}

/// A named step of a path.
pub struct Dentry {
    /// The component name; for an anonymous file (host stdio) the whole name shown for it.
    pub name: Vec<u8>,
    /// The directory this was reached from (for a mount's root: the mount point's parent).
    pub parent: Option<Arc<Dentry>>,
    pub mount: Arc<Mount>,
    pub inode: Arc<dyn Inode>,
}

/// Compares the data pointers of two inodes (vtable pointers may differ between codegen units).
pub(crate) fn same_inode(a: &Arc<dyn Inode>, b: &Arc<dyn Inode>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

impl Dentry {
    /// The root dentry of a mount tree.
    pub fn new_root(mount: Arc<Mount>) -> Arc<Dentry> {
        let inode = mount.root.clone();
        Arc::new(Dentry {
            name: Vec::new(),
            parent: None,
            mount,
            inode,
        })
    }

    /// A file outside the mount tree (host stdio), shown as `name`.
    pub fn anonymous(name: Vec<u8>, inode: Arc<dyn Inode>) -> Arc<Dentry> {
        let mount = Mount::new(0, inode.clone(), false, "anon");
        Arc::new(Dentry {
            name,
            parent: None,
            mount,
            inode,
        })
    }

    /// A child of `parent`.
    pub fn child(
        parent: &Arc<Dentry>,
        name: &[u8],
        mount: Arc<Mount>,
        inode: Arc<dyn Inode>,
    ) -> Arc<Dentry> {
        Arc::new(Dentry {
            name: name.to_vec(),
            parent: Some(parent.clone()),
            mount,
            inode,
        })
    }

    /// Whether both name the same file in the same mount.
    pub fn same_file(&self, other: &Dentry) -> bool {
        self.mount.id == other.mount.id && same_inode(&self.inode, &other.inode)
    }

    /// Whether `self` is `other` or lies below it.
    pub fn is_descendant_of(&self, other: &Dentry) -> bool {
        let mut cur: Option<&Dentry> = Some(self);
        while let Some(d) = cur {
            if d.same_file(other) {
                return true;
            }
            cur = d.parent.as_deref();
        }
        false
    }

    /// The path as a task whose root is `root` sees it (getcwd after chroot): relative to
    /// `root`, or, for a file outside it, Linux's "(unreachable)" followed by the sandbox path.
    pub fn path_from(&self, root: &Dentry) -> Vec<u8> {
        let mut names: Vec<&[u8]> = Vec::new();
        let mut cur: &Dentry = self;
        loop {
            if cur.same_file(root) {
                break;
            }
            match &cur.parent {
                Some(p) => {
                    names.push(&cur.name);
                    cur = p;
                }
                None => {
                    let mut out = b"(unreachable)".to_vec();
                    out.extend_from_slice(&self.path());
                    return out;
                }
            }
        }
        if names.is_empty() {
            return b"/".to_vec();
        }
        let mut out = Vec::new();
        for n in names.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(n);
        }
        out
    }

    /// The absolute sandbox path ("/" for the root; the bare name for anonymous files).
    pub fn path(&self) -> Vec<u8> {
        let mut names: Vec<&[u8]> = Vec::new();
        let mut cur: &Dentry = self;
        loop {
            match &cur.parent {
                Some(p) => {
                    names.push(&cur.name);
                    cur = p;
                }
                None => {
                    if !cur.name.is_empty() {
                        // Anonymous: its name stands for the whole path.
                        names.push(&cur.name);
                        names.reverse();
                        return names.join(&b"/"[..]);
                    }
                    break;
                }
            }
        }
        if names.is_empty() {
            return b"/".to_vec();
        }
        let mut out = Vec::new();
        for n in names.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(n);
        }
        out
    }

    pub fn stat(&self, task: TaskRef) -> SysResult<crate::vfs::Stat> {
        self.inode.stat(task)
    }
}
