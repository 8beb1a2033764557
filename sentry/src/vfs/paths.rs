//! OCI `linux.maskedPaths` and `linux.readonlyPaths` (runtime-spec `config-linux.md`; the
//! mounts runc makes in `libcontainer/rootfs_linux.go`, `maskPath` and `readonlyPath`): a
//! masked file reads as /dev/null (a bind of it over the file), a masked directory as an empty
//! read-only tmpfs, and a read-only path is the same files mounted again read-only (EROFS for
//! every write below it). Paths that do not exist are skipped, as runc skips them.
//!
//! Limits: a path that is already a mount's root is left as it is (with a warning), and
//! mounts below a read-only path are hidden by it (the new mount has no submounts).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::vfs::walk::Resolver;
use crate::vfs::{anon_dev, Dentry, Vfs, VfsError};
use crate::{Errno, SysResult};

/// Device minors of the tmpfs instances that mask directories (after the sentry's own).
static NEXT_MASK_MINOR: AtomicU64 = AtomicU64::new(0x60);

/// What was done with one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathPolicy {
    Applied,
    /// The path does not exist in the sandbox.
    Absent,
    /// The path is a mount's root; left unchanged.
    MountRoot,
}

impl Vfs {
    /// Masks, then makes read-only, the paths of an OCI spec, in that order (runc's).
    pub fn apply_path_policy(
        &self,
        masked: &[Vec<u8>],
        readonly: &[Vec<u8>],
    ) -> Result<(), VfsError> {
        self.apply_path_policy_in(&self.root(), masked, readonly)
    }

    /// [`Vfs::apply_path_policy`] on the tree whose root dentry is `base` (the sandbox's, or a
    /// pod container's detached one).
    pub fn apply_path_policy_in(
        &self,
        base: &Arc<Dentry>,
        masked: &[Vec<u8>],
        readonly: &[Vec<u8>],
    ) -> Result<(), VfsError> {
        let report = |path: &[u8], r: SysResult<PathPolicy>| {
            let shown = String::from_utf8_lossy(path).into_owned();
            match r {
                Ok(PathPolicy::MountRoot) => {
                    crate::warn!("vfs: {shown} is a mount point: not masked or made read-only");
                    Ok(())
                }
                Ok(_) => Ok(()),
                Err(source) => Err(VfsError::Mount {
                    mount: shown,
                    source,
                }),
            }
        };
        for p in masked {
            report(p, self.mask_path_in(base, p))?;
        }
        for p in readonly {
            report(p, self.readonly_path_in(base, p))?;
        }
        Ok(())
    }

    /// Masks `path`: a directory becomes an empty read-only tmpfs, anything else /dev/null.
    pub fn mask_path(&self, path: &[u8]) -> SysResult<PathPolicy> {
        self.mask_path_in(&self.root(), path)
    }

    fn mask_path_in(&self, base: &Arc<Dentry>, path: &[u8]) -> SysResult<PathPolicy> {
        let Some(d) = self.existing_in(base, path)? else {
            return Ok(PathPolicy::Absent);
        };
        if is_mount_root(&d) {
            return Ok(PathPolicy::MountRoot);
        }
        if d.inode.stat(None)?.is_dir() {
            let minor = NEXT_MASK_MINOR.fetch_add(1, Ordering::Relaxed);
            let empty = crate::fs::tmpfs::new_root(anon_dev(minor), 0o755);
            self.mount_at(&d, empty, true, "tmpfs")?;
        } else {
            let null = crate::fs::dev::new_root(anon_dev(0x41)).lookup(None, b"null")?;
            self.mount_at(&d, null, false, "devtmpfs")?;
        }
        Ok(PathPolicy::Applied)
    }

    /// Mounts the files at `path` again, read-only, over themselves.
    pub fn readonly_path(&self, path: &[u8]) -> SysResult<PathPolicy> {
        self.readonly_path_in(&self.root(), path)
    }

    fn readonly_path_in(&self, base: &Arc<Dentry>, path: &[u8]) -> SysResult<PathPolicy> {
        let Some(d) = self.existing_in(base, path)? else {
            return Ok(PathPolicy::Absent);
        };
        if is_mount_root(&d) {
            return Ok(PathPolicy::MountRoot);
        }
        self.mount_at(&d, d.inode.clone(), true, d.mount.fs_type)?;
        Ok(PathPolicy::Applied)
    }

    /// The dentry at absolute `path` (symlinks followed), or None when it does not exist.
    #[cfg(test)]
    fn existing(&self, path: &[u8]) -> SysResult<Option<Arc<Dentry>>> {
        self.existing_in(&self.root(), path)
    }

    /// `existing` in the tree whose root dentry is `base`.
    fn existing_in(&self, base: &Arc<Dentry>, path: &[u8]) -> SysResult<Option<Arc<Dentry>>> {
        if path.first() != Some(&b'/') {
            return Err(Errno::EINVAL);
        }
        let r = Resolver {
            vfs: self,
            task: None,
            root: base.clone(),
        };
        match r.resolve(base.clone(), path, true) {
            Ok(d) => Ok(Some(d)),
            Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn is_mount_root(d: &Arc<Dentry>) -> bool {
    Arc::ptr_eq(&d.mount.root, &d.inode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::Vfs;

    /// A tree with a tmpfs root holding /dir/file ("data") and /file2.
    fn tree() -> Vfs {
        let vfs = Vfs::with_root(
            crate::fs::tmpfs::new_root(anon_dev(0x7f), 0o755),
            false,
            "tmpfs",
        );
        let root = vfs.root();
        let dir = root.inode.mkdir(b"dir", 0o755, 0, 0).unwrap();
        for (parent, name) in [(&dir, &b"file"[..]), (&root.inode, &b"file2"[..])] {
            let f = parent.create(name, 0o644, 0, 0).unwrap();
            f.open(None, libc::O_RDWR)
                .unwrap()
                .write_at(None, b"data", 0)
                .unwrap();
        }
        vfs
    }

    fn read(vfs: &Vfs, path: &[u8]) -> SysResult<Vec<u8>> {
        let d = vfs.existing(path)?.ok_or(Errno::ENOENT)?;
        let f = d.inode.open(None, libc::O_RDONLY)?;
        let mut buf = [0u8; 16];
        let n = f.read_at(None, &mut buf, 0)?;
        Ok(buf[..n].to_vec())
    }

    #[test]
    fn masked_file_reads_nothing_and_masked_dir_is_empty() {
        let vfs = tree();
        assert_eq!(read(&vfs, b"/file2").unwrap(), b"data");
        assert_eq!(vfs.mask_path(b"/file2"), Ok(PathPolicy::Applied));
        assert_eq!(read(&vfs, b"/file2").unwrap(), b"");
        assert_eq!(vfs.mask_path(b"/dir"), Ok(PathPolicy::Applied));
        assert_eq!(read(&vfs, b"/dir/file"), Err(Errno::ENOENT));
        let d = vfs.existing(b"/dir").unwrap().unwrap();
        assert!(d.mount.readonly());
        assert_eq!(vfs.mask_path(b"/nope"), Ok(PathPolicy::Absent));
        assert_eq!(vfs.mask_path(b"/"), Ok(PathPolicy::MountRoot));
    }

    #[test]
    fn readonly_path_keeps_the_files_on_a_readonly_mount() {
        let vfs = tree();
        assert_eq!(vfs.readonly_path(b"/dir"), Ok(PathPolicy::Applied));
        let f = vfs.existing(b"/dir/file").unwrap().unwrap();
        assert!(f.mount.readonly());
        assert_eq!(read(&vfs, b"/dir/file").unwrap(), b"data");
        assert!(!vfs.existing(b"/file2").unwrap().unwrap().mount.readonly());
        assert_eq!(vfs.readonly_path(b"/dir/none/x"), Ok(PathPolicy::Absent));
    }
}
