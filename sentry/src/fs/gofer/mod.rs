//! Host files served by the gofer (after gVisor's `pkg/sentry/fsimpl/gofer`). Each inode holds a
//! gofer node id; walks are one component each and cached per directory (the mount is read-only
//! to the sandbox, so the cache is never invalidated by the sandbox itself). Regular file data
//! goes straight to a host fd the gofer donates, opened lazily once per inode and cached: no
//! round trip per read. Attributes come from the walk and are refreshed on fstat.
//!
//! Lock order: a directory's `children` is held across the walk round trip that fills it;
//! `host_fd` across the open round trip; `stat` last and briefly.

use std::any::Any;
use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};

use gofer::{GoferClient, GoferError, NodeId};

use crate::fs::sys;
use crate::vfs::{DirEntry, FileOps, Inode, NoDataOps, Stat, StatFs, TaskRef, Timespec};
use crate::{Errno, SysResult};

/// A gofer failure as the application sees it.
fn gofer_errno(e: GoferError) -> Errno {
    e.errno()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn ts(t: gofer::Timespec) -> Timespec {
    Timespec {
        sec: t.sec,
        nsec: t.nsec,
    }
}

/// The gofer's attributes as the VFS's.
pub fn stat_from_gofer(s: &gofer::Stat) -> Stat {
    Stat {
        dev: s.dev,
        ino: s.ino,
        mode: s.mode,
        nlink: s.nlink,
        uid: s.uid,
        gid: s.gid,
        rdev: s.rdev,
        size: s.size,
        blksize: s.blksize,
        blocks: s.blocks,
        atime: ts(s.atime),
        mtime: ts(s.mtime),
        ctime: ts(s.ctime),
    }
}

/// One host file known to the gofer.
pub struct GoferInode {
    client: Arc<GoferClient>,
    node: NodeId,
    stat: Mutex<Stat>,
    children: Mutex<HashMap<Vec<u8>, Arc<GoferInode>>>,
    /// The donated read-only host fd, once opened.
    host_fd: Mutex<Option<Arc<OwnedFd>>>,
}

/// The gofer's root as an inode.
pub fn new_root(client: Arc<GoferClient>) -> SysResult<Arc<dyn Inode>> {
    let (node, st) = client.attach().map_err(gofer_errno)?;
    Ok(GoferInode::new(client, node, &st))
}

impl GoferInode {
    fn new(client: Arc<GoferClient>, node: NodeId, st: &gofer::Stat) -> Arc<GoferInode> {
        Arc::new(GoferInode {
            client,
            node,
            stat: Mutex::new(stat_from_gofer(st)),
            children: Mutex::new(HashMap::new()),
            host_fd: Mutex::new(None),
        })
    }

    fn cached_stat(&self) -> Stat {
        *lock(&self.stat)
    }

    /// The donated read-only host fd, opening it on first use.
    fn read_fd(&self) -> SysResult<Arc<OwnedFd>> {
        let mut g = lock(&self.host_fd);
        if let Some(fd) = g.as_ref() {
            return Ok(fd.clone());
        }
        let fd = Arc::new(
            self.client
                .open(self.node, libc::O_RDONLY | libc::O_CLOEXEC)
                .map_err(gofer_errno)?,
        );
        *g = Some(fd.clone());
        Ok(fd)
    }
}

impl Drop for GoferInode {
    fn drop(&mut self) {
        self.client.close(self.node);
    }
}

impl Inode for GoferInode {
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
        Ok(self.cached_stat())
    }

    fn refresh(&self) -> SysResult<()> {
        let fresh = match lock(&self.host_fd).as_ref() {
            Some(fd) => Stat::from_libc(&sys::fstat(fd.as_fd())?),
            None => stat_from_gofer(&self.client.stat(self.node).map_err(gofer_errno)?),
        };
        *lock(&self.stat) = fresh;
        Ok(())
    }

    fn lookup(&self, _task: TaskRef, name: &[u8]) -> SysResult<Arc<dyn Inode>> {
        if !self.cached_stat().is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut ch = lock(&self.children);
        if let Some(c) = ch.get(name) {
            return Ok(c.clone());
        }
        let (node, st) = self.client.walk(self.node, name).map_err(gofer_errno)?;
        let child = GoferInode::new(self.client.clone(), node, &st);
        ch.insert(name.to_vec(), child.clone());
        Ok(child)
    }

    fn readdir(&self, _task: TaskRef) -> SysResult<Vec<DirEntry>> {
        if !self.cached_stat().is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let ents = self.client.getdents(self.node).map_err(gofer_errno)?;
        Ok(ents
            .into_iter()
            .map(|e| DirEntry {
                name: e.name,
                ino: e.ino,
                kind: e.kind,
            })
            .collect())
    }

    fn readlink(&self, _task: TaskRef) -> SysResult<Vec<u8>> {
        if !self.cached_stat().is_symlink() {
            return Err(Errno::EINVAL);
        }
        self.client.readlink(self.node).map_err(gofer_errno)
    }

    fn open(&self, _task: TaskRef, flags: i32) -> SysResult<Arc<dyn FileOps>> {
        let st = self.cached_stat();
        match st.file_type() {
            libc::S_IFDIR => Ok(Arc::new(NoDataOps)),
            libc::S_IFREG => {
                if flags & libc::O_ACCMODE != libc::O_RDONLY {
                    return Err(Errno::EROFS);
                }
                Ok(Arc::new(GoferFile {
                    fd: self.read_fd()?,
                }))
            }
            libc::S_IFLNK => Err(Errno::ELOOP),
            // Host devices, fifos and sockets are not reachable through the gofer.
            _ => Err(Errno::ENXIO),
        }
    }

    fn create(&self, _name: &[u8], _mode: u32, _uid: u32, _gid: u32) -> SysResult<Arc<dyn Inode>> {
        Err(Errno::EROFS)
    }
    fn mkdir(&self, _name: &[u8], _mode: u32, _uid: u32, _gid: u32) -> SysResult<Arc<dyn Inode>> {
        Err(Errno::EROFS)
    }
    fn unlink(&self, _name: &[u8], _dir: bool) -> SysResult<()> {
        Err(Errno::EROFS)
    }
    fn rename(&self, _old: &[u8], _new_dir: &dyn Inode, _new: &[u8]) -> SysResult<()> {
        Err(Errno::EROFS)
    }

    fn statfs(&self) -> SysResult<StatFs> {
        let s = self.client.statfs(self.node).map_err(gofer_errno)?;
        Ok(StatFs {
            fs_type: s.fs_type,
            bsize: s.bsize,
            blocks: s.blocks,
            bfree: s.bfree,
            bavail: s.bavail,
            files: s.files,
            ffree: s.ffree,
            namelen: s.namelen,
            frsize: s.frsize,
            flags: s.flags | i64::from(libc::ST_RDONLY as u32),
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An open gofer regular file: pread on the donated host fd.
struct GoferFile {
    fd: Arc<OwnedFd>,
}

impl FileOps for GoferFile {
    fn read_at(&self, _task: TaskRef, buf: &mut [u8], offset: u64) -> SysResult<usize> {
        sys::pread(self.fd.as_fd(), buf, offset)
    }
    fn write_at(&self, _task: TaskRef, _buf: &[u8], _offset: u64) -> SysResult<usize> {
        Err(Errno::EBADF)
    }
    fn size(&self) -> Option<SysResult<u64>> {
        Some(sys::fstat(self.fd.as_fd()).map(|s| u64::try_from(s.st_size).unwrap_or(0)))
    }
    fn host_fd_for_mmap(&self) -> SysResult<Arc<OwnedFd>> {
        Ok(self.fd.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;
    use std::sync::Arc;

    use gofer::server::ServerConfig;
    use gofer::GoferClient;
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

    use crate::vfs::Vfs;
    use crate::Errno;

    /// A host tree served by an in-process gofer; removed on drop.
    struct Tree(PathBuf);

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn sandbox(tag: &str) -> (Tree, Vfs) {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let p =
            std::env::temp_dir().join(format!("vfs-gofer-{tag}-{}-{nanos}", std::process::id()));
        for d in ["etc/sub", "tmp", "dev", "proc", "usr/bin"] {
            std::fs::create_dir_all(p.join(d)).unwrap();
        }
        std::fs::write(p.join("etc/hello"), b"hello from the host\n").unwrap();
        std::fs::write(p.join("etc/sub/x"), b"x").unwrap();
        symlink("/etc/hello", p.join("etc/abs_link")).unwrap();
        symlink("../../..", p.join("etc/sub/up")).unwrap();
        symlink("usr/bin", p.join("bin")).unwrap();
        std::fs::write(p.join("usr/bin/tool"), b"#!/bin/sh\n").unwrap();
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let cfg = ServerConfig {
            root: p.clone(),
            read_only: true,
        };
        std::thread::spawn(move || gofer::server::serve(&cfg, vec![b]));
        let vfs = Vfs::new_sandbox(Arc::new(GoferClient::new(a))).unwrap();
        (Tree(p), vfs)
    }

    #[test]
    fn reads_host_files_through_donated_fds() {
        let (tree, v) = sandbox("read");
        let c = v.root_ctx();
        let f = v.open_in(&c, b"/etc/hello", libc::O_RDONLY, 0).unwrap();
        let mut b = [0u8; 64];
        let n = f.read_inner(None, &mut b).unwrap();
        assert_eq!(&b[..n], b"hello from the host\n");
        let st = f.stat_vfs(None).unwrap();
        let host = std::fs::metadata(tree.0.join("etc/hello")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            (st.ino, st.size as u64, st.mode),
            (host.ino(), host.size(), host.mode())
        );
        assert!(f.host_fd_for_mmap().is_ok());
        assert_eq!(f.path(), b"/etc/hello".to_vec());
    }

    #[test]
    fn host_symlinks_resolve_inside_the_sandbox() {
        let (_tree, v) = sandbox("links");
        let c = v.root_ctx();
        assert_eq!(
            v.lookup_in(&c, b"/etc/abs_link", true).unwrap().path(),
            b"/etc/hello".to_vec()
        );
        // "../../.." from /etc/sub stops at the sandbox root.
        assert_eq!(
            v.lookup_in(&c, b"/etc/sub/up/etc", true).unwrap().path(),
            b"/etc".to_vec()
        );
        assert_eq!(
            v.lookup_in(&c, b"/bin/tool", true).unwrap().path(),
            b"/usr/bin/tool".to_vec()
        );
        assert_eq!(v.readlink_in(&c, b"/bin").unwrap(), b"usr/bin".to_vec());
    }

    #[test]
    fn root_is_read_only_and_tmp_is_writable() {
        let (tree, v) = sandbox("rofs");
        let c = v.root_ctx();
        assert_eq!(
            v.open_in(&c, b"/etc/new", libc::O_CREAT | libc::O_WRONLY, 0o644)
                .err(),
            Some(Errno::EROFS)
        );
        assert_eq!(
            v.open_in(&c, b"/etc/hello", libc::O_WRONLY, 0).err(),
            Some(Errno::EROFS)
        );
        assert_eq!(v.mkdir_in(&c, b"/etc/d", 0o755), Err(Errno::EROFS));
        assert_eq!(v.mkdir_in(&c, b"/etc", 0o755), Err(Errno::EEXIST));
        assert_eq!(v.unlink_in(&c, b"/etc/hello", false), Err(Errno::EROFS));
        let f = v
            .open_in(&c, b"/tmp/t", libc::O_CREAT | libc::O_RDWR, 0o600)
            .unwrap();
        f.write_inner(None, b"sandboxed").unwrap();
        assert!(!tree.0.join("tmp/t").exists());
        let st = v
            .lookup_in(&c, b"/tmp", true)
            .unwrap()
            .inode
            .stat(None)
            .unwrap();
        assert_eq!(st.mode, libc::S_IFDIR | 0o1777);
        assert_eq!(
            v.lookup_in(&c, b"/tmp/..", true).unwrap().path(),
            b"/".to_vec()
        );
    }

    #[test]
    fn directory_listing_and_dev() {
        let (_tree, v) = sandbox("list");
        let c = v.root_ctx();
        let d = v
            .open_in(&c, b"/etc", libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .unwrap();
        let recs = d.getdents(None, 4096).unwrap();
        let text = String::from_utf8_lossy(&recs);
        for n in ["hello", "sub", "abs_link"] {
            assert!(text.contains(n), "{n} missing");
        }
        let null = v.open_in(&c, b"/dev/null", libc::O_RDWR, 0).unwrap();
        assert_eq!(null.write_inner(None, b"gone").unwrap(), 4);
        let mut b = [0u8; 4];
        assert_eq!(null.read_inner(None, &mut b).unwrap(), 0);
        assert_eq!(
            v.open_in(&c, b"/dev/tty", libc::O_RDWR, 0).err(),
            Some(Errno::ENXIO)
        );
        let mounts = v.mounts();
        let shm = mounts
            .iter()
            .find(|m| m.path == b"/dev/shm")
            .expect("/dev/shm is mounted");
        assert_eq!((shm.fs_type, shm.readonly), ("tmpfs", false));
        let st = v
            .lookup_in(&c, b"/dev/shm", true)
            .unwrap()
            .stat(None)
            .unwrap();
        assert_eq!(st.mode, libc::S_IFDIR | 0o1777);
        for p in [&b"/"[..], b"/tmp", b"/dev", b"/proc"] {
            assert!(mounts.iter().any(|m| m.path == p), "{p:?} not mounted");
        }
    }
}
