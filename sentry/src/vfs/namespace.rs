//! Mount namespaces and pivot_root(2) (after Linux `fs/namespace.c`: `copy_mnt_ns`,
//! `copy_tree`, `SYSCALL_DEFINE2(pivot_root)`; mount_namespaces(7), pivot_root(2)).
//!
//! A namespace is a tree of mounts in the one `Vfs`: the mounts are keyed by their parent
//! mount's id, so a copy of every mount under new ids is a tree of its own, and a task is in
//! the namespace its root directory lies in (`namespace_of`). A new namespace copies its
//! parent's mounts (flags, filesystems, peer groups) and moves the task's root and working
//! directory onto the copies; mounts made in one are not seen in the other, except where the
//! copies of shared mounts, peers of the originals, propagate them (`vfs::propagation`).
//!
//! pivot_root moves the mount at `new_root` to the place of the task's root mount and that one
//! to `put_old`, after Linux's checks; roots and working directories that were the old root
//! become the new one, in the caller's filesystem context and in each process's (its leader's
//! context; a thread with a context of its own elsewhere keeps it). The root of a namespace
//! counts as attached (as `/` is over the kernel's rootfs on Linux), so pivot_root from it
//! works.
//!
//! Lock order: as `Vfs`: the submount map and the mount records are never held together, nor
//! while calling into a filesystem.

use std::collections::HashMap;
use std::sync::Arc;

use crate::kernel::Task;
use crate::vfs::{namespace_of, Dentry, FsContext, Mount, MountEntry, Vfs};
use crate::{Errno, SysResult};

/// CAP_SYS_ADMIN.
const CAP_SYS_ADMIN: u32 = 21;

/// Whether `d` is the root of the mount it lies in.
fn is_mount_root(d: &Dentry) -> bool {
    Arc::ptr_eq(&d.mount.root, &d.inode)
}

/// `d` with every mount on its path replaced by its copy in `map` (the same names and files in
/// the copied tree).
fn translate(d: &Arc<Dentry>, map: &HashMap<u64, Arc<Mount>>) -> Arc<Dentry> {
    let mount = map
        .get(&d.mount.id)
        .cloned()
        .unwrap_or_else(|| d.mount.clone());
    let parent = d.parent.as_ref().map(|p| translate(p, map));
    Arc::new(Dentry {
        name: d.name.clone(),
        parent,
        mount,
        inode: d.inode.clone(),
    })
}

/// The path of `d` inside its own mount, from the mount's root ("/" for the root itself).
fn path_in_mount(d: &Dentry) -> Vec<u8> {
    let mut names: Vec<&[u8]> = Vec::new();
    let mut cur = d;
    while !is_mount_root(cur) {
        match &cur.parent {
            Some(p) if p.mount.id == d.mount.id => {
                names.push(&cur.name);
                cur = p;
            }
            _ => break,
        }
    }
    let mut out = Vec::new();
    for n in names.iter().rev() {
        out.push(b'/');
        out.extend_from_slice(n);
    }
    out
}

/// `d` (at or below `top` in its path) as reached from `to`, which replaces `top`.
fn rebase_below(d: &Arc<Dentry>, top: &Dentry, to: &Arc<Dentry>) -> Option<Arc<Dentry>> {
    if d.same_file(top) {
        return Some(to.clone());
    }
    let parent = rebase_below(d.parent.as_ref()?, top, to)?;
    Some(Arc::new(Dentry {
        name: d.name.clone(),
        parent: Some(parent),
        mount: d.mount.clone(),
        inode: d.inode.clone(),
    }))
}

/// `d` with the top of its path (the root of namespace `top_id`) replaced by `to`.
fn rebase_top(d: &Arc<Dentry>, top_id: u64, to: &Arc<Dentry>) -> Arc<Dentry> {
    match &d.parent {
        None if d.mount.id == top_id => to.clone(),
        None => d.clone(),
        Some(p) => Arc::new(Dentry {
            name: d.name.clone(),
            parent: Some(rebase_top(p, top_id, to)),
            mount: d.mount.clone(),
            inode: d.inode.clone(),
        }),
    }
}

/// A pivot_root that happened: what the filesystem contexts must follow.
struct Pivot<'a> {
    old_root: &'a Arc<Dentry>,
    new: &'a Arc<Dentry>,
    put_old: &'a Arc<Dentry>,
    new_root: &'a Arc<Dentry>,
}

impl Pivot<'_> {
    /// Linux `chroot_fs_refs` for one context: a root or working directory that was the old
    /// root is the new one; a working directory at or below new_root is the same place seen
    /// from the new root; one elsewhere below the old root stays, which is now below put_old.
    fn follow(&self, fs: &FsContext) {
        let cwd = fs.cwd();
        if cwd.same_file(self.old_root) {
            fs.set_cwd(self.new_root.clone());
        } else if let Some(moved) = rebase_below(&cwd, self.new, self.new_root) {
            fs.set_cwd(moved);
        } else if self.old_root.parent.is_none() && namespace_of(&cwd) == self.old_root.mount.id {
            if let Some(old_now) = rebase_below(self.put_old, self.new, self.new_root) {
                let root_at_old = Arc::new(Dentry {
                    name: old_now.name.clone(),
                    parent: old_now.parent.clone(),
                    mount: self.old_root.mount.clone(),
                    inode: self.old_root.mount.root.clone(),
                });
                fs.set_cwd(rebase_top(&cwd, self.old_root.mount.id, &root_at_old));
            }
        }
        if fs.root().same_file(self.old_root) {
            fs.set_root(self.new_root.clone());
        }
    }
}

/// `prefix` then `rest`, as paths ("/" and "" join to "/").
fn join(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut out = if prefix == b"/" {
        Vec::new()
    } else {
        prefix.to_vec()
    };
    out.extend_from_slice(rest);
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

impl Vfs {
    /// A copy of the namespace that `root` lies in: every mount of it under a new id, with its
    /// flags, filesystem and peer group. Returns the copied namespace's root dentry and the
    /// copies by the id of the mount they copy.
    pub fn copy_namespace(&self, root: &Dentry) -> (Arc<Dentry>, HashMap<u64, Arc<Mount>>) {
        let ns = namespace_of(root);
        // (mount, parent id, path, root within its filesystem)
        type Row = (Arc<Mount>, u64, Vec<u8>, Vec<u8>);
        let entries: Vec<Row> = self
            .lock_records()
            .iter()
            .filter(|e| e.ns == ns)
            .map(|e| (e.mount.clone(), e.parent, e.path.clone(), e.root.clone()))
            .collect();
        let keys: HashMap<u64, (u64, u64)> = self
            .submounts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, m)| (m.id, (k.1, k.2)))
            .collect();
        let mut map: HashMap<u64, Arc<Mount>> = HashMap::new();
        let mut new_entries = Vec::new();
        let mut new_keys = Vec::new();
        let mut top = None;
        for (m, parent, path, root_path) in entries {
            let c = m.duplicate(self.new_mount_id(), m.root.clone());
            c.set_propagation(m.propagation());
            if parent == 0 {
                top = Some(c.clone());
            } else {
                let (Some(p), Some(&(dev, ino))) = (map.get(&parent), keys.get(&m.id)) else {
                    continue;
                };
                p.has_submounts
                    .store(true, std::sync::atomic::Ordering::Release);
                new_keys.push(((p.id, dev, ino), c.clone()));
            }
            new_entries.push((
                c.clone(),
                map.get(&parent).map_or(0, |p| p.id),
                path,
                root_path,
            ));
            map.insert(m.id, c);
        }
        // A namespace always has its root mount; an empty one (not possible for a task's
        // root) copies the mount `root` lies in.
        let top = top.unwrap_or_else(|| {
            let c = root
                .mount
                .duplicate(self.new_mount_id(), root.mount.root.clone());
            map.insert(root.mount.id, c.clone());
            new_entries.insert(0, (c.clone(), 0, b"/".to_vec(), b"/".to_vec()));
            c
        });
        {
            let mut sub = self.submounts.write().unwrap_or_else(|p| p.into_inner());
            for (k, c) in new_keys {
                sub.insert(k, c);
            }
        }
        let new_ns = top.id;
        self.lock_records()
            .extend(
                new_entries
                    .into_iter()
                    .map(|(mount, parent, path, root)| MountEntry {
                        ns: new_ns,
                        mount,
                        parent,
                        path,
                        root,
                    }),
            );
        (Dentry::new_root(top), map)
    }

    /// unshare(CLONE_NEWNS) for the filesystem context `fs` (which the caller has made its
    /// own): a copy of its namespace, with its root and working directory moved onto it.
    pub fn unshare_namespace(&self, fs: &FsContext) {
        let root = fs.root();
        let (_, map) = self.copy_namespace(&root);
        fs.set_root(translate(&root, &map));
        fs.set_cwd(translate(&fs.cwd(), &map));
    }

    /// pivot_root(2).
    pub fn pivot_root(&self, task: &Task, new_root: &[u8], put_old: &[u8]) -> SysResult<()> {
        if !task.creds.has_cap(CAP_SYS_ADMIN) {
            return Err(Errno::EPERM);
        }
        let new = self.lookup_at(task, libc::AT_FDCWD, new_root, true, false)?;
        if !new.inode.stat(Some(task))?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let old = self.lookup_at(task, libc::AT_FDCWD, put_old, true, false)?;
        if !old.inode.stat(Some(task))?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        // put_old's place is the top of the mounts stacked there (Linux `lock_mount`).
        let old = self.top_of_stack(old)?;
        let root = task.fs.root();
        let (new_mnt, old_mnt, root_mnt) = (&new.mount, &old.mount, &root.mount);
        let ex_parent = self.parent_of(new_mnt.id);
        let shared = |id: u64| {
            self.lock_records()
                .iter()
                .any(|e| e.mount.id == id && e.mount.propagation().shared != 0)
        };
        if old_mnt.propagation().shared != 0
            || ex_parent.is_some_and(shared)
            || self.parent_of(root_mnt.id).is_some_and(shared)
        {
            return Err(Errno::EINVAL);
        }
        if namespace_of(&new) != namespace_of(&root) || root_mnt.id == 0 || new_mnt.id == 0 {
            return Err(Errno::EINVAL);
        }
        if new_mnt.id == root_mnt.id || old_mnt.id == root_mnt.id {
            return Err(Errno::EBUSY);
        }
        // The root must be a mount's root; new_root a mount point that is not a namespace's
        // root; put_old at or below new_root; new_root below the root.
        if !is_mount_root(&root) || !is_mount_root(&new) || new.parent.is_none() {
            return Err(Errno::EINVAL);
        }
        if !old.is_descendant_of(&new) || !new.is_descendant_of(&root) {
            return Err(Errno::EINVAL);
        }
        let new_root_dentry = self.swap_roots(&root, &new, &old)?;
        // chroot_fs_refs: the caller's filesystem context, and every process's.
        let moved = Pivot {
            old_root: &root,
            new: &new,
            put_old: &old,
            new_root: &new_root_dentry,
        };
        moved.follow(&task.fs);
        for pid in task.kernel.pids() {
            if let Some(fs) = task.kernel.thread_group(pid).and_then(|tg| tg.view_fs()) {
                if !Arc::ptr_eq(&fs, &task.fs) {
                    moved.follow(&fs);
                }
            }
        }
        Ok(())
    }

    /// The mount at the top of those stacked on `d` (`d` itself when none is).
    pub(crate) fn top_of_stack(&self, mut d: Arc<Dentry>) -> SysResult<Arc<Dentry>> {
        loop {
            let st = d.inode.stat(None)?;
            match self.mount_on(d.mount.id, st.dev, st.ino) {
                Some(m) if !Arc::ptr_eq(&m, &d.mount) => {
                    let root = m.root.clone();
                    d = Arc::new(Dentry {
                        name: d.name.clone(),
                        parent: d.parent.clone(),
                        mount: m,
                        inode: root,
                    });
                }
                _ => return Ok(d),
            }
        }
    }

    /// The id of the mount that mount `id` sits on (None for a namespace's root).
    pub(crate) fn parent_of(&self, id: u64) -> Option<u64> {
        self.lock_records()
            .iter()
            .find(|e| e.mount.id == id)
            .map(|e| e.parent)
            .filter(|&p| p != 0)
    }

    /// pivot_root's move: the mount of `new` takes the place of the mount of `root`, which goes
    /// to `old`. Returns the new root's dentry.
    fn swap_roots(
        &self,
        root: &Arc<Dentry>,
        new: &Arc<Dentry>,
        old: &Arc<Dentry>,
    ) -> SysResult<Arc<Dentry>> {
        let (new_mnt, root_mnt) = (new.mount.clone(), root.mount.clone());
        let ns = namespace_of(root);
        let root_is_ns_root = root.parent.is_none();
        let old_st = old.inode.stat(None)?;
        let old_rel = path_in_mount(old);
        let main = self.root().mount.id == ns;
        {
            let mut sub = self.submounts.write().unwrap_or_else(|p| p.into_inner());
            let new_key = sub
                .iter()
                .find(|(_, m)| m.id == new_mnt.id)
                .map(|(k, _)| *k)
                .ok_or(Errno::EINVAL)?;
            sub.remove(&new_key);
            let root_key = sub
                .iter()
                .find(|(_, m)| m.id == root_mnt.id)
                .map(|(k, _)| *k);
            if let Some(k) = root_key {
                sub.insert(k, new_mnt.clone());
            }
            sub.insert((old.mount.id, old_st.dev, old_st.ino), root_mnt.clone());
        }
        old.mount
            .has_submounts
            .store(true, std::sync::atomic::Ordering::Release);
        // The records: each mount's place relative to its parent, changed for the two that
        // moved, then the paths again from the top.
        let mut records = self.lock_records();
        let paths: HashMap<u64, Vec<u8>> = records
            .iter()
            .filter(|e| e.ns == ns)
            .map(|e| (e.mount.id, e.path.clone()))
            .collect();
        let mut place: HashMap<u64, (u64, Vec<u8>)> = HashMap::new();
        for e in records.iter().filter(|e| e.ns == ns) {
            let parent_path = paths.get(&e.parent).cloned().unwrap_or_default();
            let rel = if e.parent == 0 {
                Vec::new()
            } else if parent_path == b"/" {
                e.path.clone()
            } else {
                e.path
                    .strip_prefix(&parent_path[..])
                    .map(<[u8]>::to_vec)
                    .unwrap_or_else(|| e.path.clone())
            };
            place.insert(e.mount.id, (e.parent, rel));
        }
        let root_place = place.get(&root_mnt.id).cloned().unwrap_or((0, Vec::new()));
        place.insert(new_mnt.id, root_place);
        place.insert(root_mnt.id, (old.mount.id, old_rel));
        let new_ns = if root_is_ns_root { new_mnt.id } else { ns };
        let mut absolute: HashMap<u64, Vec<u8>> = HashMap::new();
        fn path_of(
            id: u64,
            place: &HashMap<u64, (u64, Vec<u8>)>,
            memo: &mut HashMap<u64, Vec<u8>>,
            depth: usize,
        ) -> Vec<u8> {
            if let Some(p) = memo.get(&id) {
                return p.clone();
            }
            let p = match place.get(&id) {
                Some((0, _)) | None => b"/".to_vec(),
                Some((parent, rel)) if depth < 64 => {
                    join(&path_of(*parent, place, memo, depth + 1), rel)
                }
                Some(_) => b"/".to_vec(),
            };
            memo.insert(id, p.clone());
            p
        }
        for e in records.iter_mut().filter(|e| e.ns == ns) {
            let (parent, _) = place.get(&e.mount.id).cloned().unwrap_or((0, Vec::new()));
            e.parent = parent;
            e.path = path_of(e.mount.id, &place, &mut absolute, 0);
            e.ns = new_ns;
        }
        // Parents before children: the new root first.
        if let Some(i) = records.iter().position(|e| e.mount.id == new_mnt.id) {
            let e = records.remove(i);
            let first = records.iter().position(|r| r.ns == new_ns).unwrap_or(0);
            records.insert(first, e);
        }
        drop(records);
        let new_root = if root_is_ns_root {
            Dentry::new_root(new_mnt.clone())
        } else {
            Arc::new(Dentry {
                name: root.name.clone(),
                parent: root.parent.clone(),
                mount: new_mnt.clone(),
                inode: new_mnt.root.clone(),
            })
        };
        if main && root_is_ns_root {
            self.set_root(new_root.clone());
        }
        Ok(new_root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::tmpfs;

    fn tree() -> Vfs {
        let v = Vfs::with_root(tmpfs::new_root(1, 0o755), false, "tmpfs");
        let c = v.root_ctx();
        v.mkdir_in(&c, b"/a", 0o755).unwrap();
        v.mount(b"/a", tmpfs::new_root(2, 0o755), false, "tmpfs")
            .unwrap();
        v.mkdir_in(&c, b"/a/b", 0o755).unwrap();
        v.mount(b"/a/b", tmpfs::new_root(3, 0o755), false, "tmpfs")
            .unwrap();
        v
    }

    #[test]
    fn a_copied_namespace_has_its_own_mounts() {
        let v = tree();
        let (root, map) = v.copy_namespace(&v.root());
        assert_eq!(map.len(), 3);
        let paths = |ns: &Dentry| -> Vec<Vec<u8>> {
            v.mounts_for(ns).into_iter().map(|r| r.path).collect()
        };
        assert_eq!(paths(&root), paths(&v.root()));
        assert_ne!(v.mounts_for(&root)[1].id, v.mounts()[1].id);
        // Both see the files of /a/b; a mount made in the copy is its own.
        let copy = crate::vfs::Ctx {
            root: root.clone(),
            start: root.clone(),
            ..v.root_ctx()
        };
        v.open_in(&copy, b"/a/b/f", libc::O_CREAT | libc::O_WRONLY, 0o644)
            .unwrap();
        assert!(v.lookup_in(&v.root_ctx(), b"/a/b/f", true).is_ok());
        v.mount_in(&root, b"/a/b", tmpfs::new_root(4, 0o755), false, "tmpfs")
            .unwrap();
        assert_eq!(
            v.lookup_in(&copy, b"/a/b/f", true).err(),
            Some(Errno::ENOENT)
        );
        assert!(v.lookup_in(&v.root_ctx(), b"/a/b/f", true).is_ok());
        assert_eq!(v.mounts_for(&root).len(), 4);
        assert_eq!(v.mounts().len(), 3);
    }

    #[test]
    fn a_chrooted_task_sees_the_mounts_below_its_root() {
        let v = tree();
        let a = v.lookup_in(&v.root_ctx(), b"/a", true).unwrap();
        let paths: Vec<Vec<u8>> = v.mounts_for(&a).into_iter().map(|r| r.path).collect();
        assert_eq!(paths, vec![b"/".to_vec(), b"/b".to_vec()]);
    }

    #[test]
    fn swapping_roots_moves_the_old_root_below_the_new() {
        let v = tree();
        let c = v.root_ctx();
        v.mkdir_in(&c, b"/a/old", 0o755).unwrap();
        let root = v.root();
        let new = v.lookup_in(&c, b"/a", true).unwrap();
        let old = v.lookup_in(&c, b"/a/old", true).unwrap();
        let new_root = v.swap_roots(&root, &new, &old).unwrap();
        let paths: Vec<Vec<u8>> = v.mounts().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, vec![b"/".to_vec(), b"/old".to_vec(), b"/b".to_vec()]);
        let c = v.root_ctx();
        assert!(Arc::ptr_eq(&v.root().mount, &new_root.mount));
        assert!(v.lookup_in(&c, b"/old/a", true).is_ok());
        assert!(v.lookup_in(&c, b"/b", true).is_ok());
    }
}
