//! mount(2) and umount2(2) from inside the sandbox (after Linux `fs/namespace.c`: `path_mount`,
//! `do_new_mount`, `do_loopback`, `do_remount`, `do_reconfigure_mnt`, `change_mnt_propagation`,
//! `do_umount`; `fs/pnode.c`). No mount ever reaches the host.
//!
//! Supported: new tmpfs (mode=, uid=, gid=, size=, nr_blocks=, nr_inodes=; the limits are
//! enforced by `fs::tmpfs`), proc, sysfs and mqueue instances; the per-mount flags MS_RDONLY,
//! MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_NOATIME, MS_NODIRATIME, MS_STRICTATIME (enforced where
//! files are executed, mapped and opened; shown in /proc/PID/mountinfo); bind mounts of a
//! directory or file, with MS_REC copying the mounts below the source (unbindable ones left
//! out); MS_REMOUNT, with MS_BIND setting the mount's flags, without it also the filesystem's
//! read-only state and tmpfs's size and inode limits; propagation types (MS_SHARED,
//! MS_PRIVATE, MS_SLAVE, MS_UNBINDABLE, with MS_REC for a subtree) kept and shown as
//! mountinfo's `shared:N` / `master:N` / `unbindable`; binds of a shared mount join its peer
//! group, and mounts made on a shared mount are shared and propagate to its peers and slaves
//! (`vfs::propagation`); MS_MOVE. Not supported: mounting over a namespace's root (EINVAL). umount2 refuses a mount with mounts below it (EBUSY) unless MNT_DETACH; open
//! files and working directories below a mount do not make it busy.
//!
//! An OCI spec's mounts, made before the sandbox runs, use the same pieces:
//! `split_mount_options`, `new_tmpfs`, `Vfs::mount_shown` (the spec's source and root shown) and
//! `propagation_flags` with `Vfs::set_propagation`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::kernel::Task;
use crate::vfs::inode::{Inode, SetAttr};
use crate::vfs::{anon_dev, Dentry, Mount, Propagation, SuperBlock, Vfs};
use crate::{Errno, SysResult};

/// mount(2) flags (`include/uapi/linux/mount.h`).
pub const MS_RDONLY: u64 = 1;
pub const MS_NOSUID: u64 = 2;
pub const MS_NODEV: u64 = 4;
pub const MS_NOEXEC: u64 = 8;
pub const MS_REMOUNT: u64 = 32;
pub const MS_NOATIME: u64 = 1024;
pub const MS_NODIRATIME: u64 = 2048;
pub const MS_BIND: u64 = 4096;
pub const MS_MOVE: u64 = 8192;
pub const MS_REC: u64 = 16384;
pub const MS_SILENT: u64 = 32768;
pub const MS_UNBINDABLE: u64 = 1 << 17;
pub const MS_PRIVATE: u64 = 1 << 18;
pub const MS_SLAVE: u64 = 1 << 19;
pub const MS_SHARED: u64 = 1 << 20;
pub const MS_RELATIME: u64 = 1 << 21;
pub const MS_STRICTATIME: u64 = 1 << 24;
/// The atime flags a remount keeps when it names none (Linux `MNT_ATIME_MASK`).
const ATIME_MASK: u64 = MS_NOATIME | MS_NODIRATIME | MS_RELATIME;
const PROPAGATION: u64 = MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED;
/// The magic number old callers put in the top half (`MS_MGC_VAL`), ignored as Linux does.
const MS_MGC_MSK: u64 = 0xffff_0000;
const MS_MGC_VAL: u64 = 0xc0ed_0000;

/// umount2(2) flags.
pub const MNT_FORCE: i32 = 1;
pub const MNT_DETACH: i32 = 2;
pub const MNT_EXPIRE: i32 = 4;
pub const UMOUNT_NOFOLLOW: i32 = 8;

/// CAP_SYS_ADMIN.
const CAP_SYS_ADMIN: u32 = 21;

/// Device minors of the filesystems mounted from inside the sandbox.
static NEXT_MINOR: AtomicU64 = AtomicU64::new(0x100);

/// What mount(2) was asked, its strings already read from the application.
pub struct MountRequest<'a> {
    pub source: Option<&'a [u8]>,
    pub target: &'a [u8],
    pub fs_type: Option<&'a [u8]>,
    pub flags: u64,
    pub data: Option<&'a [u8]>,
}

fn is_mount_root(d: &Dentry) -> bool {
    Arc::ptr_eq(&d.mount.root, &d.inode)
}

/// The per-mount flags mount(2)'s `flags` ask for (Linux `path_mount`): relatime unless
/// MS_NOATIME or MS_STRICTATIME; a remount that names no atime flag keeps the mount's.
fn mount_flags(flags: u64, remount_of: Option<&Mount>) -> u64 {
    let mut m = flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME);
    if flags & MS_NOATIME == 0 {
        m |= MS_RELATIME;
    }
    if flags & MS_STRICTATIME != 0 {
        m &= !(MS_RELATIME | MS_NOATIME);
    }
    if let Some(old) = remount_of {
        if flags & (MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME) == 0 {
            m = (m & !ATIME_MASK) | (old.flags() & ATIME_MASK);
        }
    }
    m
}

impl Vfs {
    /// mount(2).
    pub fn mount_request(&self, task: &Task, req: &MountRequest) -> SysResult<()> {
        let mut flags = req.flags;
        if flags & MS_MGC_MSK == MS_MGC_VAL {
            flags &= !MS_MGC_MSK;
        }
        // Linux looks the target up first, then checks the capability (`path_mount`).
        let target = self.lookup_at(task, libc::AT_FDCWD, req.target, true, false)?;
        if !task.creds.has_cap(CAP_SYS_ADMIN) {
            return Err(Errno::EPERM);
        }
        if flags & (MS_REMOUNT | MS_BIND) == MS_REMOUNT | MS_BIND {
            return self.reconfigure_mount(&target, flags);
        }
        if flags & MS_REMOUNT != 0 {
            return self.remount(&target, flags, req.data.unwrap_or_default());
        }
        if flags & MS_BIND != 0 {
            let source = req.source.ok_or(Errno::EFAULT)?;
            return self.bind(task, source, &target, flags & MS_REC != 0);
        }
        if flags & PROPAGATION != 0 {
            return self.change_propagation(&target, flags);
        }
        if flags & MS_MOVE != 0 {
            let source = req.source.ok_or(Errno::EFAULT)?;
            return self.move_mount(task, source, &target);
        }
        let fs_type = req.fs_type.ok_or(Errno::EINVAL)?;
        let fs = new_filesystem(fs_type, req.data.unwrap_or_default())?;
        let source = match req.source {
            Some(s) if !s.is_empty() => String::from_utf8_lossy(s).into_owned(),
            _ => "none".to_string(),
        };
        let sb = SuperBlock::new(&source, flags & MS_RDONLY != 0, fs.options);
        let m = Mount::with_sb(
            self.new_mount_id(),
            fs.root,
            flags & MS_RDONLY != 0,
            fs.name,
            mount_flags(flags, None),
            sb,
        );
        self.graft(&target, m, b"/".to_vec())
    }

    /// Puts `m` over `target` after Linux's checks (`graft_tree`): not over a namespace's
    /// root, a directory only over a directory. A mount made on a shared mount is shared.
    fn graft(&self, target: &Arc<Dentry>, m: Arc<Mount>, root_path: Vec<u8>) -> SysResult<()> {
        if target.parent.is_none() {
            // Over the root of a namespace (pivot_root territory): not supported.
            return Err(Errno::EINVAL);
        }
        let root_is_dir = m.root.stat(None)?.is_dir();
        if target.inode.stat(None)?.is_dir() != root_is_dir {
            return Err(Errno::ENOTDIR);
        }
        if target.mount.propagation().shared != 0 && m.propagation().shared == 0 {
            let mut p = m.propagation();
            p.shared = self.new_peer_group();
            m.set_propagation(p);
        }
        self.attach(target, m.clone(), root_path)?;
        self.propagate_mount(target, &m)
    }

    /// MS_BIND: the files at `source` mounted again at `target`, with MS_REC the mounts below
    /// them too (Linux `do_loopback`, `copy_tree`). The new mounts keep the flags of the ones
    /// they copy; a copy of a shared mount joins its peer group.
    fn bind(&self, task: &Task, source: &[u8], target: &Arc<Dentry>, rec: bool) -> SysResult<()> {
        let src = self.lookup_at(task, libc::AT_FDCWD, source, true, false)?;
        if src.mount.propagation().unbindable {
            return Err(Errno::EINVAL);
        }
        if src.mount.id == 0 {
            return Err(Errno::EINVAL);
        }
        let src_root = self.root_path_of(&src);
        let copy = self.copy_mount(&src.mount, src.inode.clone());
        let root_is_dir = src.inode.stat(None)?.is_dir();
        if target.inode.stat(None)?.is_dir() != root_is_dir {
            return Err(Errno::ENOTDIR);
        }
        // The mounts below the source, by the path of their mount point (collected before
        // the copy is grafted, which may put it below the source itself).
        let below = if rec {
            self.mounts_below(&src)
        } else {
            Vec::new()
        };
        self.graft(target, copy.clone(), src_root)?;
        // The copies below, each after its parent's: (original id, copy, path below the source).
        let shared_target = target.mount.propagation().shared != 0;
        let mut copies: Vec<(u64, Arc<Mount>, Vec<u8>)> = vec![(src.mount.id, copy, Vec::new())];
        for (parent, child, rel) in below {
            let Some((new_parent, parent_rel)) = copies
                .iter()
                .find(|(old, _, _)| *old == parent)
                .map(|c| (c.1.clone(), c.2.clone()))
            else {
                continue;
            };
            let Some(key) = self.mount_point_of(child.id) else {
                continue;
            };
            let root = self.root_path_of_mount(child.id);
            let c = self.copy_mount(&child, child.root.clone());
            if shared_target && c.propagation().shared == 0 {
                // A tree put on a shared mount is shared all through (`attach_recursive_mnt`).
                let mut p = c.propagation();
                p.shared = self.new_peer_group();
                c.set_propagation(p);
            }
            self.insert_copy(target, &rel, new_parent.clone(), key, c.clone(), root);
            let in_parent = rel.strip_prefix(&parent_rel[..]).unwrap_or(&rel[..]);
            self.propagate_at(&new_parent, key, in_parent, &c)?;
            copies.push((child.id, c, rel));
        }
        Ok(())
    }

    /// The root within its filesystem of mount `id` (mountinfo's root field).
    fn root_path_of_mount(&self, id: u64) -> Vec<u8> {
        self.lock_records()
            .iter()
            .find(|e| e.mount.id == id)
            .map_or_else(|| b"/".to_vec(), |e| e.root.clone())
    }

    /// MS_MOVE: the mount at `source` (with the mounts below it) moved to `target`
    /// (`do_move_mount`): a mount point that is not a namespace's root, not under a shared
    /// mount, moved to a place of the same kind in the same namespace and not below itself.
    fn move_mount(&self, task: &Task, source: &[u8], target: &Arc<Dentry>) -> SysResult<()> {
        let src = self.lookup_at(task, libc::AT_FDCWD, source, true, false)?;
        let m = src.mount.clone();
        if !is_mount_root(&src) || src.parent.is_none() || m.id == 0 {
            return Err(Errno::EINVAL);
        }
        if super::namespace_of(&src) != super::namespace_of(target) {
            return Err(Errno::EINVAL);
        }
        if src.inode.stat(None)?.is_dir() != target.inode.stat(None)?.is_dir() {
            return Err(Errno::EINVAL);
        }
        let (old_parent, old_path) = {
            let records = self.lock_records();
            let e = records
                .iter()
                .find(|e| e.mount.id == m.id)
                .ok_or(Errno::EINVAL)?;
            let parent = records
                .iter()
                .find(|p| p.mount.id == e.parent)
                .map(|p| p.mount.clone());
            (parent, e.path.clone())
        };
        if old_parent.is_some_and(|p| p.propagation().shared != 0) {
            return Err(Errno::EINVAL);
        }
        let subtree = self.subtree_mounts(m.id);
        if subtree.iter().any(|s| s.id == target.mount.id) {
            return Err(Errno::ELOOP);
        }
        if target.mount.propagation().shared != 0
            && subtree.iter().any(|s| s.propagation().unbindable)
        {
            return Err(Errno::EINVAL);
        }
        let st = target.inode.stat(None)?;
        {
            let mut sub = self.submounts.write().unwrap_or_else(|p| p.into_inner());
            sub.retain(|_, x| x.id != m.id);
            sub.insert((target.mount.id, st.dev, st.ino), m.clone());
        }
        target
            .mount
            .has_submounts
            .store(true, std::sync::atomic::Ordering::Release);
        let new_path = target.path();
        {
            let ids: Vec<u64> = subtree.iter().map(|s| s.id).collect();
            let mut records = self.lock_records();
            for e in records.iter_mut().filter(|e| ids.contains(&e.mount.id)) {
                if e.mount.id == m.id {
                    e.parent = target.mount.id;
                }
                let rest = e.path.get(old_path.len()..).unwrap_or_default().to_vec();
                let mut p = if new_path == b"/" {
                    Vec::new()
                } else {
                    new_path.clone()
                };
                p.extend_from_slice(&rest);
                e.path = p;
            }
            // Parents before children: the moved mounts go to the end, in order.
            let (moved, mut rest): (Vec<_>, Vec<_>) =
                records.drain(..).partition(|e| ids.contains(&e.mount.id));
            rest.extend(moved);
            *records = rest;
        }
        if target.mount.propagation().shared != 0 && m.propagation().shared == 0 {
            let mut p = m.propagation();
            p.shared = self.new_peer_group();
            m.set_propagation(p);
        }
        self.propagate_mount(target, &m)
    }

    /// A new mount of `m`'s filesystem rooted at `root`, with `m`'s flags; in `m`'s peer group
    /// (and with its master) unless `m` is private.
    fn copy_mount(&self, m: &Mount, root: Arc<dyn Inode>) -> Arc<Mount> {
        let c = m.duplicate(self.new_mount_id(), root);
        let p = m.propagation();
        c.set_propagation(Propagation {
            shared: p.shared,
            master: p.master,
            unbindable: false,
        });
        c
    }

    /// Records the copy `c` of a mount below a recursive bind: its key is the mount point's
    /// (`dev`, `ino`) on `parent`, its path `rel` below the bind's target.
    fn insert_copy(
        &self,
        target: &Arc<Dentry>,
        rel: &[u8],
        parent: Arc<Mount>,
        key: (u64, u64),
        c: Arc<Mount>,
        root: Vec<u8>,
    ) {
        let mut path = target.path();
        if path == b"/" {
            path.clear();
        }
        path.extend_from_slice(rel);
        self.submounts
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert((parent.id, key.0, key.1), c.clone());
        parent
            .has_submounts
            .store(true, std::sync::atomic::Ordering::Release);
        let ns = {
            let mut cur: &Dentry = target;
            while let Some(p) = &cur.parent {
                cur = p;
            }
            cur.mount.id
        };
        self.lock_records().push(crate::vfs::MountEntry {
            ns,
            mount: c,
            parent: parent.id,
            path,
            root,
        });
    }

    /// The (st_dev, st_ino) of the place mount `id` covers.
    fn mount_point_of(&self, id: u64) -> Option<(u64, u64)> {
        self.submounts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(_, m)| m.id == id)
            .map(|(k, _)| (k.1, k.2))
    }

    /// The mounts below the directory `d` (parents before children, in mount order, the
    /// unbindable ones and what lies below them left out): each with its parent mount's id and
    /// its path relative to `d`.
    fn mounts_below(&self, d: &Arc<Dentry>) -> Vec<(u64, Arc<Mount>, Vec<u8>)> {
        let base = d.path();
        let ns = super::namespace_of(d);
        let records = self.lock_records();
        let mut inside = vec![d.mount.id];
        let mut out = Vec::new();
        for e in records.iter().filter(|e| e.ns == ns) {
            if !inside.contains(&e.parent) || e.mount.id == d.mount.id {
                continue;
            }
            let rel = if base == b"/" {
                Some(&e.path[..])
            } else {
                e.path
                    .strip_prefix(&base[..])
                    .filter(|r| r.first() == Some(&b'/'))
            };
            let Some(rel) = rel else { continue };
            if e.mount.propagation().unbindable {
                continue;
            }
            inside.push(e.mount.id);
            out.push((e.parent, e.mount.clone(), rel.to_vec()));
        }
        out
    }

    /// The path of `d` within its filesystem, from its mount's root (mountinfo's root field).
    fn root_path_of(&self, d: &Arc<Dentry>) -> Vec<u8> {
        let mut names: Vec<&[u8]> = Vec::new();
        let mut cur: &Dentry = d;
        while !is_mount_root(cur) {
            match &cur.parent {
                Some(p) if p.mount.id == d.mount.id => {
                    names.push(&cur.name);
                    cur = p;
                }
                _ => break,
            }
        }
        let base = self
            .lock_records()
            .iter()
            .find(|e| e.mount.id == d.mount.id)
            .map(|e| e.root.clone())
            .unwrap_or_else(|| b"/".to_vec());
        let mut out = if base == b"/" { Vec::new() } else { base };
        for n in names.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(n);
        }
        if out.is_empty() {
            out.push(b'/');
        }
        out
    }

    /// MS_REMOUNT|MS_BIND: the mount's own flags, on a mount point only
    /// (`do_reconfigure_mnt`).
    fn reconfigure_mount(&self, target: &Arc<Dentry>, flags: u64) -> SysResult<()> {
        if !is_mount_root(target) || target.mount.id == 0 {
            return Err(Errno::EINVAL);
        }
        target
            .mount
            .set_flags(mount_flags(flags, Some(&target.mount)));
        target.mount.set_readonly(flags & MS_RDONLY != 0);
        Ok(())
    }

    /// MS_REMOUNT: the filesystem's options (tmpfs's limits) and read-only state, and the
    /// mount's flags (`do_remount`).
    fn remount(&self, target: &Arc<Dentry>, flags: u64, data: &[u8]) -> SysResult<()> {
        if !is_mount_root(target) || target.mount.id == 0 {
            return Err(Errno::EINVAL);
        }
        let m = &target.mount;
        if m.fs_type == "tmpfs" {
            let old = TmpfsOptions::parse(m.sb.options().trim_start_matches(',').as_bytes())?;
            let new = TmpfsOptions::parse(data)?;
            let merged = old.merge(&new);
            crate::fs::tmpfs::set_limits(m.root.as_ref(), merged.limits())?;
            m.sb.set_options(merged.show());
        }
        m.sb.set_readonly(flags & MS_RDONLY != 0);
        m.set_flags(mount_flags(flags, Some(m)));
        m.set_readonly(flags & MS_RDONLY != 0);
        Ok(())
    }

    /// MS_SHARED, MS_PRIVATE, MS_SLAVE or MS_UNBINDABLE (exactly one, with MS_REC at most), on
    /// a mount point; with MS_REC on every mount below it too (`do_change_type`).
    fn change_propagation(&self, target: &Arc<Dentry>, flags: u64) -> SysResult<()> {
        let kind = flags & !(MS_REC | MS_SILENT);
        if kind.count_ones() != 1 || kind & PROPAGATION == 0 {
            return Err(Errno::EINVAL);
        }
        if !is_mount_root(target) || target.mount.id == 0 {
            return Err(Errno::EINVAL);
        }
        let mut mounts = vec![target.mount.clone()];
        if flags & MS_REC != 0 {
            mounts.extend(self.mounts_below_all(target));
        }
        for m in mounts {
            let old = m.propagation();
            let mut p = old;
            match kind {
                MS_SHARED => {
                    if p.shared == 0 {
                        p.shared = self.new_peer_group();
                    }
                }
                MS_SLAVE => {
                    // A mount with peers becomes their slave; one alone keeps its master,
                    // or, with none, becomes private (Linux `do_make_slave`).
                    if p.shared != 0 && self.has_peers(&m, p.shared) {
                        p.master = p.shared;
                    }
                    p.shared = 0;
                    p.unbindable = false;
                }
                _ => {
                    p = Propagation {
                        unbindable: kind == MS_UNBINDABLE,
                        ..Propagation::default()
                    };
                }
            }
            m.set_propagation(p);
            if old.shared != 0 && p.shared != old.shared {
                self.release_group(old.shared, old.master);
            }
        }
        Ok(())
    }

    /// After a mount left peer group `group`: if none is left in it, its slaves become slaves
    /// of `master` (the leaving mount's own master; 0 makes them private), as Linux's
    /// `do_make_slave` hands them on.
    fn release_group(&self, group: u64, master: u64) {
        let records = self.lock_records();
        if records
            .iter()
            .any(|e| e.mount.propagation().shared == group)
        {
            return;
        }
        for e in records.iter() {
            let mut p = e.mount.propagation();
            if p.master == group {
                p.master = master;
                e.mount.set_propagation(p);
            }
        }
    }

    /// Mount `id` and every mount below it, parents first.
    fn subtree_mounts(&self, id: u64) -> Vec<Arc<Mount>> {
        let records = self.lock_records();
        let mut ids = vec![id];
        let mut out: Vec<Arc<Mount>> = records
            .iter()
            .filter(|e| e.mount.id == id)
            .map(|e| e.mount.clone())
            .collect();
        let mut i = 0;
        while i < ids.len() {
            let parent = ids[i];
            for e in records.iter().filter(|e| e.parent == parent) {
                if !ids.contains(&e.mount.id) {
                    ids.push(e.mount.id);
                    out.push(e.mount.clone());
                }
            }
            i += 1;
        }
        out
    }

    /// Whether another mount is in peer group `group` with `m`.
    fn has_peers(&self, m: &Mount, group: u64) -> bool {
        self.lock_records()
            .iter()
            .any(|e| e.mount.id != m.id && e.mount.propagation().shared == group)
    }

    /// Every mount below `d`'s mount (unbindable ones included), parents first.
    fn mounts_below_all(&self, d: &Arc<Dentry>) -> Vec<Arc<Mount>> {
        let ns = super::namespace_of(d);
        let records = self.lock_records();
        let mut inside = vec![d.mount.id];
        let mut out = Vec::new();
        for e in records.iter().filter(|e| e.ns == ns) {
            if inside.contains(&e.parent) && !inside.contains(&e.mount.id) {
                inside.push(e.mount.id);
                out.push(e.mount.clone());
            }
        }
        out
    }

    /// umount2(2).
    pub fn umount(&self, task: &Task, target: &[u8], flags: i32) -> SysResult<()> {
        if flags & !(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW) != 0
            || (flags & MNT_EXPIRE != 0 && flags & (MNT_FORCE | MNT_DETACH) != 0)
        {
            return Err(Errno::EINVAL);
        }
        let follow = flags & UMOUNT_NOFOLLOW == 0;
        let d = self.lookup_at(task, libc::AT_FDCWD, target, follow, false)?;
        // The last component's mounts are followed (Linux's LOOKUP_MOUNTPOINT): "." names
        // what is stacked on the working directory.
        let d = self.top_of_stack(d)?;
        if !task.creds.has_cap(CAP_SYS_ADMIN) {
            return Err(Errno::EPERM);
        }
        if !is_mount_root(&d) || d.mount.id == 0 {
            return Err(Errno::EINVAL);
        }
        if self.parent_of(d.mount.id).is_none() && flags & MNT_DETACH == 0 {
            // The root of a namespace (over the kernel's rootfs on Linux): unmounting the
            // caller's own root remounts it read-only instead (Linux `do_umount`).
            if !Arc::ptr_eq(&task.fs.root().mount, &d.mount) {
                return Err(Errno::EINVAL);
            }
            d.mount.sb.set_readonly(true);
            return Ok(());
        }
        if flags & MNT_EXPIRE != 0 {
            // Expiry marks a mount on the first call and takes it on a later one if unused;
            // the sandbox cannot tell use, so it never expires one (Linux's answer for a busy
            // mount).
            return Err(Errno::EAGAIN);
        }
        let id = d.mount.id;
        let has_children = self
            .submounts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .any(|k| k.0 == id);
        if has_children && flags & MNT_DETACH == 0 {
            return Err(Errno::EBUSY);
        }
        // This mount goes, and with MNT_DETACH the whole subtree under it, with the copies
        // that propagation made of it; the peer groups they leave empty hand their slaves on.
        let parent: Option<Arc<Mount>> = {
            let records = self.lock_records();
            let pid = records.iter().find(|e| e.mount.id == id).map(|e| e.parent);
            pid.and_then(|pid| {
                records
                    .iter()
                    .find(|e| e.mount.id == pid)
                    .map(|e| e.mount.clone())
            })
        };
        let copies = match (&parent, self.mount_point_of(id)) {
            (Some(p), Some(key)) => {
                self.propagated_umounts(p, &d.mount, key, flags & MNT_DETACH != 0)
            }
            _ => Vec::new(),
        };
        let mut doomed = Vec::new();
        for m in std::iter::once(d.mount.clone()).chain(copies) {
            doomed.extend(self.subtree_mounts(m.id));
            self.detach_subtree(m.id);
        }
        for m in doomed {
            let p = m.propagation();
            if p.shared != 0 {
                self.release_group(p.shared, p.master);
            }
        }
        Ok(())
    }
}

/// Splits OCI-style mount options (`["nosuid", "nodev", "size=64m", "mode=1777"]`) into
/// mount(2) flags and the filesystem's option string, as runc does: the flag words it knows
/// become flags, the rest is data.
pub fn split_mount_options<S: AsRef<str>>(options: &[S]) -> (u64, Vec<u8>) {
    let mut flags = 0;
    let mut data: Vec<&str> = Vec::new();
    for o in options {
        let o = o.as_ref();
        match o {
            "ro" => flags |= MS_RDONLY,
            "rw" => flags &= !MS_RDONLY,
            "nosuid" => flags |= MS_NOSUID,
            "suid" => flags &= !MS_NOSUID,
            "nodev" => flags |= MS_NODEV,
            "dev" => flags &= !MS_NODEV,
            "noexec" => flags |= MS_NOEXEC,
            "exec" => flags &= !MS_NOEXEC,
            "noatime" => flags |= MS_NOATIME,
            "nodiratime" => flags |= MS_NODIRATIME,
            "relatime" => flags |= MS_RELATIME,
            "strictatime" => flags |= MS_STRICTATIME,
            "rprivate" | "private" | "rshared" | "shared" | "rslave" | "slave" | "bind"
            | "rbind" => {}
            other => data.push(other),
        }
    }
    (flags, data.join(",").into_bytes())
}

/// The mount(2) propagation flags of an OCI propagation word (`shared`, `rslave`, ...; runc's
/// `mountPropagationMapping`): MS_SHARED, MS_SLAVE, MS_PRIVATE or MS_UNBINDABLE, with MS_REC
/// for the `r` forms. None for any other word.
pub fn propagation_flags(word: &str) -> Option<u64> {
    let (rec, kind) = match word.strip_prefix('r') {
        Some(k) => (MS_REC, k),
        None => (0, word),
    };
    let flag = match kind {
        "shared" => MS_SHARED,
        "slave" => MS_SLAVE,
        "private" => MS_PRIVATE,
        "unbindable" => MS_UNBINDABLE,
        _ => return None,
    };
    Some(flag | rec)
}

impl Vfs {
    /// Changes the propagation type of the mount whose root is the absolute sandbox `path`, as
    /// mount(2) with `flags` (one of MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE, maybe
    /// with MS_REC) does: an OCI spec's `linux.rootfsPropagation` and mount options.
    pub fn set_propagation(&self, path: &[u8], flags: u64) -> SysResult<()> {
        self.set_propagation_in(&self.root(), path, flags)
    }

    /// [`Vfs::set_propagation`] on the tree whose root dentry is `base` (the sandbox's, or a
    /// pod container's detached one).
    pub fn set_propagation_in(&self, base: &Arc<Dentry>, path: &[u8], flags: u64) -> SysResult<()> {
        let mut ctx = self.root_ctx();
        ctx.root = base.clone();
        ctx.start = base.clone();
        let target = self.lookup_in(&ctx, path, true)?;
        self.change_propagation(&target, flags)
    }

    /// A new tmpfs at the absolute sandbox `path` (made synthetic if missing), with mount(2)
    /// `flags` (MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, atime flags) and tmpfs options
    /// `data` (`size=`, `nr_inodes=`, `mode=`, `uid=`, `gid=`, enforced): an OCI tmpfs mount.
    pub fn mount_tmpfs(&self, path: &[u8], flags: u64, data: &[u8]) -> SysResult<()> {
        let fs = new_filesystem(b"tmpfs", data)?;
        let root = self.root();
        let r = crate::vfs::Resolver {
            vfs: self,
            task: None,
            root: root.clone(),
        };
        let target = self.mount_point(&r, path)?;
        let readonly = flags & MS_RDONLY != 0;
        let sb = SuperBlock::new("tmpfs", readonly, fs.options);
        let m = Mount::with_sb(
            self.new_mount_id(),
            fs.root,
            readonly,
            fs.name,
            mount_flags(flags, None),
            sb,
        );
        self.graft(&target, m, b"/".to_vec())
    }
}

/// How a mount the sandbox starts with (an OCI spec's) shows in /proc/PID/mountinfo and
/// which per-mount flags it has (`Vfs::mount_shown`).
#[derive(Debug, Clone)]
pub struct MountShown<'a> {
    /// mountinfo's source (the spec's `source`; for a bind the host filesystem's).
    pub source: &'a str,
    /// mount(2) flags: MS_RDONLY (the mount's), MS_NOSUID, MS_NODEV, MS_NOEXEC and the atime
    /// flags (relatime unless MS_NOATIME or MS_STRICTATIME, as mount(2) sets them).
    pub flags: u64,
    /// The filesystem itself is read-only (a new read-only filesystem, not a read-only bind).
    pub super_readonly: bool,
    /// The filesystem's options as mountinfo shows them, each after a comma.
    pub super_options: String,
    /// mountinfo's root: the path within its filesystem of the mount's root.
    pub root: Vec<u8>,
}

impl Vfs {
    /// Mounts `root` (a directory, or a file over a file) at the absolute sandbox `path` (made
    /// synthetic if missing, as `Vfs::mount` does), shown and flagged as `shown` says.
    pub fn mount_shown(
        &self,
        path: &[u8],
        root: Arc<dyn Inode>,
        fs_type: &'static str,
        shown: MountShown,
    ) -> SysResult<()> {
        self.mount_shown_in(&self.root(), path, root, fs_type, shown)
    }

    /// [`Vfs::mount_shown`] on the tree whose root dentry is `base` (the sandbox's, or a pod
    /// container's detached one).
    pub fn mount_shown_in(
        &self,
        base: &Arc<Dentry>,
        path: &[u8],
        root: Arc<dyn Inode>,
        fs_type: &'static str,
        shown: MountShown,
    ) -> SysResult<()> {
        let r = crate::vfs::Resolver {
            vfs: self,
            task: None,
            root: base.clone(),
        };
        let target = if root.stat(None)?.is_dir() {
            self.mount_point(&r, path)?
        } else {
            self.file_mount_point(&r, path)?
        };
        let sb = SuperBlock::new(shown.source, shown.super_readonly, shown.super_options);
        let m = Mount::with_sb(
            self.new_mount_id(),
            root,
            shown.flags & MS_RDONLY != 0,
            fs_type,
            mount_flags(shown.flags, None),
            sb,
        );
        self.graft(&target, m, shown.root)
    }
}

/// A new tmpfs with device number `dev` configured by `data` (`size=`, `nr_blocks=`,
/// `nr_inodes=`, `mode=`, `uid=`, `gid=`; EINVAL for others): its root and its options as
/// mountinfo shows them.
pub fn new_tmpfs(dev: u64, data: &[u8]) -> SysResult<(Arc<dyn Inode>, String)> {
    let opts = TmpfsOptions::parse(data)?;
    let root =
        crate::fs::tmpfs::new_root_with_limits(dev, opts.mode.unwrap_or(0o1777), opts.limits());
    if opts.uid.is_some() || opts.gid.is_some() {
        root.setattr(&SetAttr {
            uid: opts.uid,
            gid: opts.gid,
            ..SetAttr::default()
        })?;
    }
    Ok((root, opts.show()))
}

/// A filesystem instance made by mount(2).
struct NewFs {
    root: Arc<dyn Inode>,
    name: &'static str,
    /// Its mountinfo options.
    options: String,
}

/// A new filesystem instance of type `name` configured by `data` (comma-separated options).
fn new_filesystem(name: &[u8], data: &[u8]) -> SysResult<NewFs> {
    let minor = NEXT_MINOR.fetch_add(1, Ordering::Relaxed);
    let plain = |root, name| NewFs {
        root,
        name,
        options: String::new(),
    };
    match name {
        b"tmpfs" => {
            let (root, options) = new_tmpfs(anon_dev(minor), data)?;
            Ok(NewFs {
                root,
                name: "tmpfs",
                options,
            })
        }
        b"devpts" => {
            let (root, options) = crate::fs::devpts::new_instance(anon_dev(minor), data)?;
            Ok(NewFs {
                root,
                name: "devpts",
                options,
            })
        }
        b"proc" => Ok(plain(crate::fs::proc::new_root(anon_dev(minor)), "proc")),
        b"sysfs" => Ok(plain(crate::fs::sysfs::new_root(anon_dev(minor)), "sysfs")),
        b"mqueue" => Ok(plain(crate::fs::mqueue::new_root(), "mqueue")),
        _ => Err(Errno::ENODEV),
    }
}

/// tmpfs's mount options (those given; the rest take their defaults).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TmpfsOptions {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// `size=` (rounded up to pages) or `nr_blocks=`; 0 is unlimited.
    pub pages: Option<u64>,
    /// `nr_inodes=`; 0 is unlimited.
    pub inodes: Option<u64>,
}

/// A number with an optional binary suffix (k, m, g, t, p, e, either case), as Linux's
/// `memparse` reads it: decimal, or hex with 0x, or octal with a leading 0.
fn memparse(text: &str) -> SysResult<u64> {
    let (radix, body) = if let Some(hex) = text.strip_prefix("0x").or(text.strip_prefix("0X")) {
        (16, hex)
    } else if text.len() > 1 && text.starts_with('0') {
        (8, &text[1..])
    } else {
        (10, text)
    };
    let split = body
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(body.len());
    let (digits, suffix) = body.split_at(split);
    let n = u64::from_str_radix(digits, radix).map_err(|_| Errno::EINVAL)?;
    let shift = match suffix {
        "" => 0,
        "k" | "K" => 10,
        "m" | "M" => 20,
        "g" | "G" => 30,
        "t" | "T" => 40,
        "p" | "P" => 50,
        "e" | "E" => 60,
        _ => return Err(Errno::EINVAL),
    };
    n.checked_shl(shift)
        .filter(|v| v >> shift == n)
        .ok_or(Errno::EINVAL)
}

impl TmpfsOptions {
    /// Parses `mode=`, `uid=`, `gid=`, `size=` (bytes, rounded up to pages), `nr_blocks=`
    /// (pages) and `nr_inodes=`, and accepts `huge=`, `noswap`, `mpol=`; anything else is
    /// EINVAL, as tmpfs says.
    pub fn parse(data: &[u8]) -> SysResult<TmpfsOptions> {
        let mut o = TmpfsOptions::default();
        let text = std::str::from_utf8(data).map_err(|_| Errno::EINVAL)?;
        for opt in text
            .trim_end_matches('\0')
            .split(',')
            .filter(|s| !s.is_empty())
        {
            let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
            let num = |radix| u32::from_str_radix(value, radix).map_err(|_| Errno::EINVAL);
            match key {
                "mode" => o.mode = Some(num(8)? & 0o7777),
                "uid" => o.uid = Some(num(10)?),
                "gid" => o.gid = Some(num(10)?),
                "size" => o.pages = Some(memparse(value)?.div_ceil(4096)),
                "nr_blocks" => o.pages = Some(memparse(value)?),
                "nr_inodes" => o.inodes = Some(memparse(value)?),
                "huge" | "noswap" | "mpol" => {}
                _ => return Err(Errno::EINVAL),
            }
        }
        Ok(o)
    }

    /// The limits these options set.
    pub fn limits(&self) -> crate::fs::tmpfs::Limits {
        crate::fs::tmpfs::Limits {
            max_pages: self.pages.unwrap_or(0),
            max_inodes: self.inodes.unwrap_or(0),
        }
    }

    /// `self` with the options `newer` gives replaced (a remount).
    pub fn merge(&self, newer: &TmpfsOptions) -> TmpfsOptions {
        TmpfsOptions {
            mode: newer.mode.or(self.mode),
            uid: newer.uid.or(self.uid),
            gid: newer.gid.or(self.gid),
            pages: newer.pages.or(self.pages),
            inodes: newer.inodes.or(self.inodes),
        }
    }

    /// As mountinfo shows them (Linux `shmem_show_options`): those not at their default, each
    /// after a comma.
    pub fn show(&self) -> String {
        let mut s = String::new();
        if let Some(p) = self.pages {
            s.push_str(&format!(",size={}k", p.saturating_mul(4)));
        }
        if let Some(n) = self.inodes {
            s.push_str(&format!(",nr_inodes={n}"));
        }
        if let Some(m) = self.mode.filter(|&m| m != 0o1777) {
            s.push_str(&format!(",mode={m:03o}"));
        }
        if let Some(u) = self.uid.filter(|&u| u != 0) {
            s.push_str(&format!(",uid={u}"));
        }
        if let Some(g) = self.gid.filter(|&g| g != 0) {
            s.push_str(&format!(",gid={g}"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_options() {
        let o = TmpfsOptions::parse(b"size=1m,mode=755,uid=5,gid=6").unwrap();
        assert_eq!(
            o,
            TmpfsOptions {
                mode: Some(0o755),
                uid: Some(5),
                gid: Some(6),
                pages: Some(256),
                inodes: None,
            }
        );
        assert_eq!(o.show(), ",size=1024k,mode=755,uid=5,gid=6");
        let limits = |s: &[u8]| TmpfsOptions::parse(s).map(|o| o.limits());
        assert_eq!(limits(b"size=3000").unwrap().max_pages, 1);
        assert_eq!(limits(b"size=64K,nr_inodes=1k").unwrap().max_inodes, 1024);
        assert_eq!(limits(b"nr_blocks=0x10").unwrap().max_pages, 16);
        assert_eq!(limits(b"size=0").unwrap().max_pages, 0);
        for bad in [
            &b"size=12x"[..],
            b"size=",
            b"size=-1",
            b"size=1kk",
            b"nr_inodes=k",
        ] {
            assert_eq!(limits(bad), Err(Errno::EINVAL), "{:?}", bad);
        }
        assert_eq!(TmpfsOptions::parse(b"").unwrap().show(), "");
        assert_eq!(TmpfsOptions::parse(b"bogus=1"), Err(Errno::EINVAL));
        assert_eq!(TmpfsOptions::parse(b"mode=9"), Err(Errno::EINVAL));
        let merged = o.merge(&TmpfsOptions::parse(b"size=128k").unwrap());
        assert_eq!(merged.show(), ",size=128k,mode=755,uid=5,gid=6");
    }

    #[test]
    fn mount_flags_default_to_relatime_and_remounts_keep_atime() {
        assert_eq!(mount_flags(0, None), MS_RELATIME);
        assert_eq!(
            mount_flags(MS_NOEXEC | MS_NOATIME, None),
            MS_NOEXEC | MS_NOATIME
        );
        assert_eq!(mount_flags(MS_STRICTATIME, None), 0);
        let m = Mount::with_sb(
            9,
            crate::fs::tmpfs::new_root(1, 0o755),
            false,
            "tmpfs",
            MS_NOATIME,
            SuperBlock::new("none", false, String::new()),
        );
        assert_eq!(mount_flags(MS_NOSUID, Some(&m)), MS_NOSUID | MS_NOATIME);
    }

    #[test]
    fn oci_tmpfs_mounts_get_their_flags_and_limits() {
        let (flags, data) =
            split_mount_options(&["nosuid", "noexec", "size=8k", "mode=1777", "rbind"]);
        assert_eq!(flags, MS_NOSUID | MS_NOEXEC);
        assert_eq!(data, b"size=8k,mode=1777".to_vec());
        let v = Vfs::with_root(crate::fs::tmpfs::new_root(1, 0o755), false, "tmpfs");
        v.mount_tmpfs(b"/run/x", flags | MS_NODEV, &data).unwrap();
        let rec = v.mounts().pop().unwrap();
        assert_eq!(rec.path, b"/run/x".to_vec());
        assert_eq!(rec.flags, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME);
        assert_eq!(rec.super_options, ",size=8k");
        let c = v.root_ctx();
        let f = v
            .open_in(&c, b"/run/x/f", libc::O_CREAT | libc::O_WRONLY, 0o644)
            .unwrap();
        assert_eq!(f.write_inner(None, &[0u8; 3 * 4096]).unwrap(), 2 * 4096);
        assert_eq!(v.mount_tmpfs(b"/run/y", 0, b"bogus"), Err(Errno::EINVAL));
    }

    #[test]
    fn spec_mounts_shown_with_their_source_root_and_flags() {
        let v = Vfs::with_root(crate::fs::tmpfs::new_root(1, 0o755), false, "tmpfs");
        let (root, options) = new_tmpfs(anon_dev(0x77), b"size=64k,nr_inodes=3,mode=1777").unwrap();
        let shown = MountShown {
            source: "shm",
            flags: MS_NOSUID | MS_NODEV | MS_NOEXEC,
            super_readonly: false,
            super_options: options,
            root: b"/".to_vec(),
        };
        v.mount_shown(b"/dev/shm", root, "tmpfs", shown).unwrap();
        let rec = v.mounts().pop().unwrap();
        assert_eq!(
            (
                rec.path.as_slice(),
                rec.source.as_str(),
                rec.root.as_slice()
            ),
            (&b"/dev/shm"[..], "shm", &b"/"[..])
        );
        assert_eq!(rec.flags, MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME);
        assert_eq!(rec.super_options, ",size=64k,nr_inodes=3");
        assert!(!rec.readonly && !rec.super_readonly);
        // The inode limit holds: the root and two files.
        let c = v.root_ctx();
        for name in [&b"/dev/shm/a"[..], b"/dev/shm/b"] {
            v.open_in(&c, name, libc::O_CREAT | libc::O_WRONLY, 0o644)
                .unwrap();
        }
        assert_eq!(
            v.open_in(&c, b"/dev/shm/c", libc::O_CREAT | libc::O_WRONLY, 0o644)
                .err(),
            Some(Errno::ENOSPC)
        );
        // A read-only bind-like mount with a root of its own, strictatime.
        let shown = MountShown {
            source: "/dev/vda",
            flags: MS_RDONLY | MS_STRICTATIME,
            super_readonly: false,
            super_options: String::new(),
            root: b"/etc".to_vec(),
        };
        v.mount_shown(
            b"/mnt/etc",
            crate::fs::tmpfs::new_root(2, 0o755),
            "9p",
            shown,
        )
        .unwrap();
        let rec = v.mounts().pop().unwrap();
        assert_eq!((rec.root.as_slice(), rec.flags), (&b"/etc"[..], 0));
        assert!(rec.readonly && !rec.super_readonly);
        assert_eq!(new_tmpfs(1, b"bogus").err(), Some(Errno::EINVAL));
    }

    #[test]
    fn oci_propagation_words() {
        assert_eq!(propagation_flags("shared"), Some(MS_SHARED));
        assert_eq!(propagation_flags("rslave"), Some(MS_SLAVE | MS_REC));
        assert_eq!(propagation_flags("rprivate"), Some(MS_PRIVATE | MS_REC));
        assert_eq!(propagation_flags("unbindable"), Some(MS_UNBINDABLE));
        assert_eq!(propagation_flags("rw"), None);
        assert_eq!(propagation_flags("rbind"), None);
        let v = Vfs::with_root(crate::fs::tmpfs::new_root(1, 0o755), false, "tmpfs");
        let (root, options) = new_tmpfs(anon_dev(0x78), b"").unwrap();
        let shown = MountShown {
            source: "tmpfs",
            flags: 0,
            super_readonly: false,
            super_options: options,
            root: b"/".to_vec(),
        };
        v.mount_shown(b"/mnt", root, "tmpfs", shown).unwrap();
        v.set_propagation(b"/", MS_SHARED).unwrap();
        let p = |i: usize| v.mounts()[i].propagation;
        assert!(p(0).shared != 0 && p(1).shared == 0, "not recursive");
        v.set_propagation(b"/", MS_UNBINDABLE | MS_REC).unwrap();
        assert!(p(0).unbindable && p(1).unbindable && p(0).shared == 0);
        assert_eq!(
            v.set_propagation(b"/mnt", MS_SHARED | MS_SLAVE),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn unknown_filesystems_are_enodev() {
        assert_eq!(new_filesystem(b"ext4", b"").err(), Some(Errno::ENODEV));
        assert_eq!(
            new_filesystem(b"tmpfs", b"").map(|f| f.name).ok(),
            Some("tmpfs")
        );
    }
}
