//! Synthetic mount points (after gVisor's `pkg/sentry/fsimpl/gofer` synthetic dentries, which
//! `mount(2)` inside the sandbox makes when the mount point is missing from the read-only root;
//! Linux itself needs an existing directory). A synthetic directory lives only in the sentry:
//! it is recorded on the mount of its parent directory, shows in lookups and in getdents of
//! that parent, and is never written to the backing filesystem (the host).

use std::any::Any;
use std::sync::Arc;

use crate::fs::tmpfs::TMPFS_MAGIC;
use crate::vfs::inode::{DirEntry, FileOps, Inode, NoDataOps, Stat, StatFs, TaskRef, Timespec};
use crate::{Errno, SysResult};

/// The anonymous device minor of every synthetic directory.
pub const SYNTHETIC_DEV_MINOR: u64 = 0x3f;

/// An empty, immutable directory owned by root, mode 0755.
pub struct SyntheticDir {
    stat: Stat,
}

impl SyntheticDir {
    /// A new synthetic directory with inode number `ino`.
    pub fn new(ino: u64) -> Arc<SyntheticDir> {
        let now = Timespec::now();
        Arc::new(SyntheticDir {
            stat: Stat {
                dev: crate::vfs::anon_dev(SYNTHETIC_DEV_MINOR),
                ino,
                mode: libc::S_IFDIR | 0o755,
                nlink: 2,
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
        })
    }
}

impl Inode for SyntheticDir {
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
        Ok(self.stat)
    }
    fn lookup(&self, _task: TaskRef, _name: &[u8]) -> SysResult<Arc<dyn Inode>> {
        Err(Errno::ENOENT)
    }
    fn readdir(&self, _task: TaskRef) -> SysResult<Vec<DirEntry>> {
        Ok(Vec::new())
    }
    fn open(&self, _task: TaskRef, _flags: i32) -> SysResult<Arc<dyn FileOps>> {
        Ok(Arc::new(NoDataOps))
    }
    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(TMPFS_MAGIC))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::tmpfs;
    use crate::vfs::{Ctx, Vfs};

    /// A read-only root with /etc and the file /etc/f, and nothing else.
    fn ro_vfs() -> Vfs {
        let root = tmpfs::new_root(1, 0o755);
        let rw = Vfs::with_root(root.clone(), false, "tmpfs");
        let c = rw.root_ctx();
        rw.mkdir_in(&c, b"/etc", 0o755).unwrap();
        rw.open_in(&c, b"/etc/f", libc::O_CREAT | libc::O_WRONLY, 0o644)
            .unwrap();
        Vfs::with_root(root, true, "tmpfs")
    }

    fn names(v: &Vfs, c: &Ctx, dir: &[u8]) -> Vec<Vec<u8>> {
        let f = v
            .open_in(c, dir, libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .unwrap();
        let buf = f.getdents(None, 1 << 16).unwrap();
        let mut out = Vec::new();
        let mut off = 0;
        while off < buf.len() {
            let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
            let name = &buf[off + 19..off + reclen];
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            out.push(name[..end].to_vec());
            off += reclen;
        }
        out.sort();
        out
    }

    #[test]
    fn missing_mount_points_are_made_in_the_sentry_only() {
        let v = ro_vfs();
        v.mount(b"/tmp", tmpfs::new_root(2, 0o1777), false, "tmpfs")
            .unwrap();
        v.mount(b"/a/b/c", tmpfs::new_root(3, 0o700), false, "tmpfs")
            .unwrap();
        let c = v.root_ctx();
        // The mounts are reachable and writable.
        let d = v.lookup_in(&c, b"/tmp", true).unwrap();
        assert_eq!(d.inode.stat(None).unwrap().mode & 0o7777, 0o1777);
        v.open_in(&c, b"/tmp/x", libc::O_CREAT | libc::O_RDWR, 0o600)
            .unwrap();
        let d = v.lookup_in(&c, b"/a/b/c", true).unwrap();
        assert_eq!(d.inode.stat(None).unwrap().mode & 0o7777, 0o700);
        assert_eq!(v.lookup_in(&c, b"/a/b/c/..", true).unwrap().path(), b"/a/b");
        // The parents list them; the read-only root stays read-only and unchanged below.
        let want: Vec<Vec<u8>> = [".", "..", "a", "etc", "tmp"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        assert_eq!(names(&v, &c, b"/"), want);
        assert_eq!(
            names(&v, &c, b"/a/b"),
            vec![b".".to_vec(), b"..".to_vec(), b"c".to_vec()]
        );
        assert_eq!(v.mkdir_in(&c, b"/a/new", 0o755), Err(Errno::EROFS));
        assert_eq!(v.mkdir_in(&c, b"/tmp", 0o755), Err(Errno::EEXIST));
        assert_eq!(v.unlink_in(&c, b"/tmp", true), Err(Errno::EBUSY));
        let root = v.root();
        assert_eq!(root.inode.lookup(None, b"tmp").err(), Some(Errno::ENOENT));
    }

    #[test]
    fn existing_mount_points_and_bad_paths() {
        let v = ro_vfs();
        v.mount(b"/etc", tmpfs::new_root(2, 0o711), false, "tmpfs")
            .unwrap();
        let c = v.root_ctx();
        assert_eq!(v.lookup_in(&c, b"/etc/f", true).err(), Some(Errno::ENOENT));
        assert_eq!(
            names(&v, &c, b"/"),
            vec![b".".to_vec(), b"..".to_vec(), b"etc".to_vec()]
        );
        let w = ro_vfs();
        assert_eq!(
            w.mount(b"/etc/f/x", tmpfs::new_root(3, 0o755), false, "tmpfs"),
            Err(Errno::ENOTDIR)
        );
    }

    #[test]
    fn is_an_empty_root_owned_directory() {
        let d = SyntheticDir::new(7);
        let st = d.stat(None).unwrap();
        assert!(st.is_dir());
        assert_eq!((st.ino, st.mode & 0o7777, st.uid), (7, 0o755, 0));
        assert_eq!(d.lookup(None, b"x").err(), Some(Errno::ENOENT));
        assert!(d.readdir(None).unwrap().is_empty());
        assert_eq!(d.create(b"f", 0o644, 0, 0).err(), Some(Errno::EPERM));
    }
}
