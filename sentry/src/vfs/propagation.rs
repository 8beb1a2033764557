//! Mount propagation between peers and to slaves (after Linux `fs/pnode.c`: `propagate_mnt`,
//! `propagate_umount`; Documentation/filesystems/sharedsubtree.rst).
//!
//! A mount made on a shared mount is copied onto every other member of its peer group and
//! onto the slaves of that group (and, when a slave is shared, onto its own peers and slaves),
//! wherever the mount point lies inside what that mount shows; the copies on peers join the
//! new mount's peer group, those on slaves become its slaves. Unmounting propagates the same
//! way to the copies that have no mounts below them (all of them with MNT_DETACH). A
//! recursive bind propagates each mount it copies.
//!
//! Lock order: as `Vfs`; the records are read into a snapshot before any change.

use std::collections::HashSet;
use std::sync::Arc;

use crate::vfs::dentry::same_inode;
use crate::vfs::{Dentry, Mount, MountEntry, Propagation, Vfs};
use crate::SysResult;

/// A receiver of a mount event: the mount, and the peer group and master its copy gets.
struct Receiver {
    mount: Arc<Mount>,
    shared: u64,
    master: u64,
}

/// `path` below `prefix` (both absolute), as the rest starting with '/' ("" when equal).
fn strip_path(path: &[u8], prefix: &[u8]) -> Option<Vec<u8>> {
    if prefix == b"/" {
        return Some(if path == b"/" {
            Vec::new()
        } else {
            path.to_vec()
        });
    }
    let rest = path.strip_prefix(prefix)?;
    if rest.is_empty() || rest[0] == b'/' {
        Some(rest.to_vec())
    } else {
        None
    }
}

/// `a` then `b` as paths.
fn join(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = if a == b"/" { Vec::new() } else { a.to_vec() };
    out.extend_from_slice(b);
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// The path of `d` inside its mount, from the mount's root ("" for the root itself).
fn path_in_mount(d: &Dentry) -> Vec<u8> {
    let mut names: Vec<&[u8]> = Vec::new();
    let mut cur = d;
    while !Arc::ptr_eq(&cur.mount.root, &cur.inode) {
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

/// What the records say of one mount: namespace, path and root within its filesystem.
#[derive(Clone)]
struct Place {
    ns: u64,
    path: Vec<u8>,
    root: Vec<u8>,
}

impl Vfs {
    #[cfg(test)]
    fn mount_point_of_for_tests(&self, id: u64) -> (u64, u64) {
        self.submounts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(_, m)| m.id == id)
            .map(|(k, _)| (k.1, k.2))
            .unwrap_or_default()
    }

    fn place_of(&self, id: u64) -> Option<Place> {
        self.lock_records()
            .iter()
            .find(|e| e.mount.id == id)
            .map(|e| Place {
                ns: e.ns,
                path: e.path.clone(),
                root: e.root.clone(),
            })
    }

    /// Who receives what is mounted on `parent` (nobody unless it is shared); the copies on
    /// its peers join `group`.
    fn receivers(&self, parent: &Mount, group: u64) -> Vec<Receiver> {
        let g0 = parent.propagation().shared;
        if g0 == 0 {
            return Vec::new();
        }
        let all: Vec<(Arc<Mount>, Propagation)> = self
            .lock_records()
            .iter()
            .map(|e| (e.mount.clone(), e.mount.propagation()))
            .collect();
        let mut out = Vec::new();
        let mut seen = HashSet::from([g0]);
        let mut queue = vec![(g0, group, parent.propagation().master)];
        while let Some((g, copy_group, copy_master)) = queue.pop() {
            for (m, p) in &all {
                if p.shared == g && m.id != parent.id {
                    out.push(Receiver {
                        mount: m.clone(),
                        shared: copy_group,
                        master: copy_master,
                    });
                }
            }
            for (m, p) in &all {
                if p.master != g {
                    continue;
                }
                if p.shared == 0 {
                    out.push(Receiver {
                        mount: m.clone(),
                        shared: 0,
                        master: copy_group,
                    });
                } else if seen.insert(p.shared) {
                    queue.push((p.shared, self.new_peer_group(), copy_group));
                }
            }
        }
        out
    }

    /// Copies the mount `m`, just put on the directory `d`, onto the receivers of `d`'s mount.
    pub(crate) fn propagate_mount(&self, d: &Dentry, m: &Arc<Mount>) -> SysResult<()> {
        if d.mount.propagation().shared == 0 {
            return Ok(());
        }
        let st = d.inode.stat(None)?;
        self.propagate_at(&d.mount, (st.dev, st.ino), &path_in_mount(d), m)
    }

    /// `propagate_mount` for the mount `m` put on `parent` at the place (`dev`, `ino`), which
    /// is `in_parent` below the parent's root.
    pub(crate) fn propagate_at(
        &self,
        parent: &Mount,
        (dev, ino): (u64, u64),
        in_parent: &[u8],
        m: &Arc<Mount>,
    ) -> SysResult<()> {
        let receivers = self.receivers(parent, m.propagation().shared);
        if receivers.is_empty() {
            return Ok(());
        }
        let Some(parent_place) = self.place_of(parent.id) else {
            return Ok(());
        };
        let m_root = self
            .place_of(m.id)
            .map_or_else(|| b"/".to_vec(), |p| p.root);
        let st = (dev, ino);
        // Where the mount point lies in the filesystem.
        let fs_path = join(&parent_place.root, in_parent);
        for r in receivers {
            let Some(place) = self.place_of(r.mount.id) else {
                continue;
            };
            let Some(rest) = strip_path(&fs_path, &place.root) else {
                continue;
            };
            // Over whatever is already mounted there.
            let mut top = r.mount.clone();
            let (mut dev, mut ino) = st;
            while let Some(x) = self.mount_on(top.id, dev, ino) {
                let xs = x.root.stat(None)?;
                (dev, ino) = (xs.dev, xs.ino);
                top = x;
            }
            let c = m.duplicate(self.new_mount_id(), m.root.clone());
            c.set_propagation(Propagation {
                shared: r.shared,
                master: r.master,
                unbindable: false,
            });
            self.submounts
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert((top.id, dev, ino), c.clone());
            top.has_submounts
                .store(true, std::sync::atomic::Ordering::Release);
            self.lock_records().push(MountEntry {
                ns: place.ns,
                mount: c,
                parent: top.id,
                path: join(&place.path, &rest),
                root: m_root.clone(),
            });
        }
        Ok(())
    }

    /// The copies of `m` (about to be unmounted from `parent` at (`dev`, `ino`)) that its
    /// unmounting takes along: on the receivers of `parent`, a mount of the same filesystem at
    /// the same place, without mounts below it unless `detach`.
    pub(crate) fn propagated_umounts(
        &self,
        parent: &Mount,
        m: &Mount,
        key: (u64, u64),
        detach: bool,
    ) -> Vec<Arc<Mount>> {
        let mut out = Vec::new();
        for r in self.receivers(parent, 0) {
            let Some(x) = self.mount_on(r.mount.id, key.0, key.1) else {
                continue;
            };
            if x.id == m.id || !Arc::ptr_eq(&x.sb, &m.sb) || !same_inode(&x.root, &m.root) {
                continue;
            }
            let busy = self
                .submounts
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .keys()
                .any(|k| k.0 == x.id);
            if !busy || detach {
                out.push(x);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fs::tmpfs;

    #[test]
    fn a_mount_on_a_shared_mount_reaches_its_peer_and_goes_with_it() {
        let v = Vfs::with_root(tmpfs::new_root(1, 0o755), false, "tmpfs");
        let c = v.root_ctx();
        for d in [&b"/p"[..], b"/q"] {
            v.mkdir_in(&c, d, 0o755).unwrap();
        }
        v.mount(b"/p", tmpfs::new_root(2, 0o755), false, "tmpfs")
            .unwrap();
        v.mkdir_in(&c, b"/p/d", 0o755).unwrap();
        let p = v.lookup_in(&c, b"/p", true).unwrap();
        // q: another mount of p's filesystem, in p's peer group.
        let q = p.mount.duplicate(v.new_mount_id(), p.mount.root.clone());
        let shared = Propagation {
            shared: v.new_peer_group(),
            ..Propagation::default()
        };
        p.mount.set_propagation(shared);
        q.set_propagation(shared);
        let q_at = v.lookup_in(&c, b"/q", true).unwrap();
        v.attach(&q_at, q.clone(), b"/".to_vec()).unwrap();
        let d = v.lookup_in(&c, b"/p/d", true).unwrap();
        let m = Mount::new(v.new_mount_id(), tmpfs::new_root(3, 0o755), false, "tmpfs");
        v.attach(&d, m.clone(), b"/".to_vec()).unwrap();
        v.propagate_mount(&d, &m).unwrap();
        let at_q = v.lookup_in(&c, b"/q/d", true).unwrap();
        assert_eq!(at_q.stat(None).unwrap().dev, 3);
        assert!(v.mounts().iter().any(|r| r.path == b"/q/d"));
        let key = v.mount_point_of_for_tests(m.id);
        let gone = v.propagated_umounts(&p.mount, &m, key, false);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].id, at_q.mount.id);
    }

    #[test]
    fn paths_below_a_prefix() {
        assert_eq!(strip_path(b"/a/b", b"/a"), Some(b"/b".to_vec()));
        assert_eq!(strip_path(b"/a", b"/a"), Some(Vec::new()));
        assert_eq!(strip_path(b"/ab", b"/a"), None);
        assert_eq!(strip_path(b"/x", b"/"), Some(b"/x".to_vec()));
        assert_eq!(join(b"/", b"/x"), b"/x".to_vec());
        assert_eq!(join(b"/m", b""), b"/m".to_vec());
    }
}
