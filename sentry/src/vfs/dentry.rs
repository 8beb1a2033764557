//! Dentries and mounts (after gVisor's `pkg/sentry/vfs/dentry.go` and `mount.go`; Linux
//! `include/linux/dcache.h`, `fs/mount.h`). A dentry is one step of a resolved path: its name,
//! its parent, the mount it lies in and the inode it names. Dentries are made by each walk (the
//! filesystems cache inodes), so two dentries may name the same file; `same_file` compares them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use crate::vfs::inode::{DirEntry, Inode, TaskRef};
use crate::SysResult;

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
}

/// Name and inode of each synthetic child, per parent directory.
type SyntheticChildren = BTreeMap<(u64, u64), Vec<(Vec<u8>, Arc<dyn Inode>)>>;

impl Mount {
    pub fn new(id: u64, root: Arc<dyn Inode>, readonly: bool, fs_type: &'static str) -> Arc<Mount> {
        Arc::new(Mount {
            id,
            root,
            readonly: AtomicBool::new(readonly),
            fs_type,
            has_submounts: AtomicBool::new(false),
            synthetic: RwLock::new(BTreeMap::new()),
        })
    }
    /// Whether writes below this mount are EROFS.
    pub fn readonly(&self) -> bool {
        self.readonly.load(Ordering::Relaxed)
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
