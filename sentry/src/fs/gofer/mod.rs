//! Host files served by the gofer (after gVisor's `pkg/sentry/fsimpl/gofer`). Each inode holds a
//! gofer node id; walks are one component each and cached per directory (the sandbox's own
//! changes keep the cache right; changes made on the host behind the sandbox's back are seen
//! only for names not yet walked). Regular file data goes straight to a host fd the gofer
//! donates: the read-only one is opened lazily once per inode and cached, a writable one is
//! opened per open(2) of a read-write mount. No round trip per read or write. Attributes come
//! from the walk, and are refreshed on fstat, after writes and after each change made here.
//! On a read-only mount every change is EROFS here, and the gofer refuses it as well.
//! A host socket file offers connect(2) an endpoint that asks the gofer to connect to it
//! (`net::hostuds`, `runsc --host-uds=open`).
//!
//! Lock order: a directory's `children` is held across the walk round trip that fills it;
//! `host_fd` across the open round trip; `stat` last and briefly.

use std::any::Any;
use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use gofer::{GoferClient, GoferError, NodeId};

use crate::fs::sys;
use crate::net::hostuds::HostUdsEndpoint;
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
    /// The mount refuses changes (EROFS).
    read_only: bool,
    me: Weak<GoferInode>,
}

/// The gofer's root as an inode of a read-only mount.
pub fn new_root(client: Arc<GoferClient>) -> SysResult<Arc<dyn Inode>> {
    new_mount_root(client, true)
}

/// The gofer's root as an inode; unless `read_only`, changes are sent to the gofer (a
/// read-write bind mount, whose writes reach the host).
pub fn new_mount_root(client: Arc<GoferClient>, read_only: bool) -> SysResult<Arc<dyn Inode>> {
    let (node, st) = client.attach().map_err(gofer_errno)?;
    Ok(GoferInode::new(client, node, &st, read_only))
}

impl GoferInode {
    fn new(
        client: Arc<GoferClient>,
        node: NodeId,
        st: &gofer::Stat,
        read_only: bool,
    ) -> Arc<GoferInode> {
        Arc::new_cyclic(|me| GoferInode {
            client,
            node,
            stat: Mutex::new(stat_from_gofer(st)),
            children: Mutex::new(HashMap::new()),
            host_fd: Mutex::new(None),
            read_only,
            me: me.clone(),
        })
    }

    /// A new child known by its node, recorded in this directory's cache.
    fn add_child(&self, name: &[u8], node: NodeId, st: &gofer::Stat) -> Arc<GoferInode> {
        let child = GoferInode::new(self.client.clone(), node, st, self.read_only);
        lock(&self.children).insert(name.to_vec(), child.clone());
        child
    }

    fn writable(&self) -> SysResult<()> {
        if self.read_only {
            return Err(Errno::EROFS);
        }
        Ok(())
    }

    /// Refetches attributes after a change, ignoring failures (the change itself succeeded).
    fn refresh_quietly(&self) {
        if let Ok(st) = self.client.stat(self.node) {
            *lock(&self.stat) = stat_from_gofer(&st);
        }
    }

    /// Another inode of the same mount (link, rename), or EXDEV.
    fn same_mount<'a>(&self, other: &'a dyn Inode) -> SysResult<&'a GoferInode> {
        let o = other
            .as_any()
            .downcast_ref::<GoferInode>()
            .ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(&o.client, &self.client) {
            return Err(Errno::EXDEV);
        }
        Ok(o)
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
        let child = GoferInode::new(self.client.clone(), node, &st, self.read_only);
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
                if flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0 {
                    self.writable()?;
                    // O_APPEND and O_TRUNC are the VFS's business (offsets, ftruncate).
                    let host_flags = (flags & libc::O_ACCMODE) | libc::O_CLOEXEC;
                    let fd = self
                        .client
                        .open(self.node, host_flags)
                        .map_err(gofer_errno)?;
                    return Ok(Arc::new(GoferFile {
                        fd: Arc::new(fd),
                        inode: Some(self.me.upgrade().ok_or(Errno::ENOENT)?),
                    }));
                }
                Ok(Arc::new(GoferFile {
                    fd: self.read_fd()?,
                    inode: None,
                }))
            }
            libc::S_IFLNK => Err(Errno::ELOOP),
            // Host devices, fifos and sockets are not reachable through the gofer.
            _ => Err(Errno::ENXIO),
        }
    }

    fn create(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> SysResult<Arc<dyn Inode>> {
        self.writable()?;
        let flags = libc::O_RDONLY | libc::O_CLOEXEC;
        let (node, st, _fd) = self
            .client
            .create(self.node, name, flags, mode & 0o7777, uid, gid)
            .map_err(gofer_errno)?;
        self.refresh_quietly();
        Ok(self.add_child(name, node, &st))
    }
    fn mkdir(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> SysResult<Arc<dyn Inode>> {
        self.writable()?;
        let (node, st) = self
            .client
            .mkdir(self.node, name, mode & 0o7777, uid, gid)
            .map_err(gofer_errno)?;
        self.refresh_quietly();
        Ok(self.add_child(name, node, &st))
    }
    fn symlink(&self, name: &[u8], target: &[u8], uid: u32, gid: u32) -> SysResult<Arc<dyn Inode>> {
        self.writable()?;
        let (node, st) = self
            .client
            .symlink(self.node, name, target, uid, gid)
            .map_err(gofer_errno)?;
        self.refresh_quietly();
        Ok(self.add_child(name, node, &st))
    }
    fn mknod(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> SysResult<Arc<dyn Inode>> {
        self.writable()?;
        let (node, st) = self
            .client
            .mknod(self.node, name, mode, uid, gid)
            .map_err(gofer_errno)?;
        self.refresh_quietly();
        Ok(self.add_child(name, node, &st))
    }
    fn link(&self, name: &[u8], target: &dyn Inode) -> SysResult<()> {
        self.writable()?;
        let t = self.same_mount(target)?;
        let (node, st) = self
            .client
            .link(self.node, name, t.node)
            .map_err(gofer_errno)?;
        self.refresh_quietly();
        t.refresh_quietly();
        self.add_child(name, node, &st);
        Ok(())
    }
    fn unlink(&self, name: &[u8], dir: bool) -> SysResult<()> {
        self.writable()?;
        let flags = if dir { libc::AT_REMOVEDIR } else { 0 };
        self.client
            .unlink(self.node, name, flags)
            .map_err(gofer_errno)?;
        if let Some(c) = lock(&self.children).remove(name) {
            c.refresh_quietly();
        }
        self.refresh_quietly();
        Ok(())
    }
    fn rename(&self, old: &[u8], new_dir: &dyn Inode, new: &[u8]) -> SysResult<()> {
        self.rename2(old, new_dir, new, 0)
    }
    fn rename2(&self, old: &[u8], new_dir: &dyn Inode, new: &[u8], flags: u32) -> SysResult<()> {
        self.writable()?;
        let nd = self.same_mount(new_dir)?;
        self.client
            .rename(self.node, old, nd.node, new, flags)
            .map_err(gofer_errno)?;
        // The cache follows the names; a child not yet walked is walked anew when needed.
        let moved = lock(&self.children).remove(old);
        let replaced = lock(&nd.children).remove(new);
        if let Some(m) = moved {
            lock(&nd.children).insert(new.to_vec(), m);
        }
        if flags & libc::RENAME_EXCHANGE != 0 {
            if let Some(r) = replaced {
                lock(&self.children).insert(old.to_vec(), r);
            }
        }
        self.refresh_quietly();
        nd.refresh_quietly();
        Ok(())
    }
    fn setattr(&self, attr: &crate::vfs::SetAttr) -> SysResult<()> {
        self.writable()?;
        let mut g = gofer::SetAttr::default();
        if let Some(m) = attr.mode {
            g.mask |= gofer::SetAttr::MODE;
            g.mode = m & 0o7777;
        }
        if let Some(u) = attr.uid {
            g.mask |= gofer::SetAttr::UID;
            g.uid = u;
        }
        if let Some(gid) = attr.gid {
            g.mask |= gofer::SetAttr::GID;
            g.gid = gid;
        }
        if let Some(size) = attr.size {
            g.mask |= gofer::SetAttr::SIZE;
            g.size = i64::try_from(size).map_err(|_| Errno::EFBIG)?;
        }
        if let Some(t) = attr.atime {
            g.mask |= gofer::SetAttr::ATIME;
            g.atime = gofer::Timespec {
                sec: t.sec,
                nsec: t.nsec,
            };
        }
        if let Some(t) = attr.mtime {
            g.mask |= gofer::SetAttr::MTIME;
            g.mtime = gofer::Timespec {
                sec: t.sec,
                nsec: t.nsec,
            };
        }
        let st = self.client.setattr(self.node, g).map_err(gofer_errno)?;
        *lock(&self.stat) = stat_from_gofer(&st);
        Ok(())
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
            flags: if self.read_only {
                s.flags | i64::from(libc::ST_RDONLY as u32)
            } else {
                s.flags
            },
        })
    }

    /// A host socket file: connect(2) to it asks the gofer for a connected host socket
    /// (`net::hostuds`; the gofer refuses unless `--host-uds=open`).
    fn socket_endpoint(&self) -> Option<Arc<dyn Any + Send + Sync>> {
        if self.cached_stat().mode & libc::S_IFMT != libc::S_IFSOCK {
            return None;
        }
        // The endpoint keeps the inode, so the gofer node stays open until the connect.
        let me = self.me.upgrade()?;
        let connect = move |ty: i32| me.client.connect_unix(me.node, ty).map_err(gofer_errno);
        Some(Arc::new(HostUdsEndpoint::new(Box::new(connect))))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An open gofer regular file: pread (and pwrite, when opened for writing on a read-write
/// mount) on the donated host fd.
struct GoferFile {
    fd: Arc<OwnedFd>,
    /// For a writable open: the inode whose cached attributes writes refresh.
    inode: Option<Arc<GoferInode>>,
}

impl GoferFile {
    fn writable_inode(&self) -> SysResult<&GoferInode> {
        self.inode.as_deref().ok_or(Errno::EBADF)
    }
    fn note_change(&self, inode: &GoferInode) {
        if let Ok(st) = sys::fstat(self.fd.as_fd()) {
            *lock(&inode.stat) = Stat::from_libc(&st);
        }
    }
}

impl FileOps for GoferFile {
    fn read_at(&self, _task: TaskRef, buf: &mut [u8], offset: u64) -> SysResult<usize> {
        sys::pread(self.fd.as_fd(), buf, offset)
    }
    fn write_at(&self, _task: TaskRef, buf: &[u8], offset: u64) -> SysResult<usize> {
        let inode = self.writable_inode()?;
        let n = sys::pwrite(self.fd.as_fd(), buf, offset)?;
        self.note_change(inode);
        Ok(n)
    }
    fn truncate(&self, size: u64) -> SysResult<()> {
        let inode = self.writable_inode().map_err(|_| Errno::EINVAL)?;
        sys::ftruncate(self.fd.as_fd(), size)?;
        self.note_change(inode);
        Ok(())
    }
    fn sync(&self) -> SysResult<()> {
        sys::fsync(self.fd.as_fd())
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
    use std::path::{Path, PathBuf};
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

    /// A gofer server on `root` in a thread of this process; the client end.
    fn serve(root: &Path, read_only: bool) -> Arc<GoferClient> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let cfg = ServerConfig {
            root: root.to_path_buf(),
            read_only,
        };
        std::thread::spawn(move || gofer::server::serve(&cfg, vec![b]));
        Arc::new(GoferClient::new(a))
    }

    fn sandbox(tag: &str) -> (Tree, Vfs) {
        sandbox_with(tag, true)
    }

    fn sandbox_with(tag: &str, root_readonly: bool) -> (Tree, Vfs) {
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
        let opts = crate::vfs::SandboxOptions {
            root_readonly,
            root_direct: false,
            mounts: Vec::new(),
        };
        let vfs = Vfs::new_sandbox_with(serve(&p, true), &opts).unwrap();
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

    #[test]
    fn overlay_root_writes_stay_in_the_sandbox() {
        let (tree, v) = sandbox_with("overlay", false);
        let c = v.root_ctx();
        let f = v
            .open_in(&c, b"/etc/hello", libc::O_WRONLY | libc::O_APPEND, 0)
            .unwrap();
        f.write_inner(None, b"appended\n").unwrap();
        let f = v
            .open_in(&c, b"/etc/new", libc::O_CREAT | libc::O_WRONLY, 0o644)
            .unwrap();
        f.write_inner(None, b"new").unwrap();
        v.mkdir_in(&c, b"/usr/bin/d", 0o755).unwrap();
        v.unlink_in(&c, b"/etc/sub/x", false).unwrap();
        v.rename_in(&c, b"/usr/bin/tool", &c, b"/etc/tool").unwrap();
        let f = v.open_in(&c, b"/etc/hello", libc::O_RDONLY, 0).unwrap();
        let mut b = [0u8; 64];
        let n = f.read_inner(None, &mut b).unwrap();
        assert_eq!(&b[..n], b"hello from the host\nappended\n");
        assert_eq!(v.mounts()[0].fs_type, "overlay");
        // The host tree is exactly as it was.
        assert_eq!(
            std::fs::read(tree.0.join("etc/hello")).unwrap(),
            b"hello from the host\n"
        );
        assert!(!tree.0.join("etc/new").exists());
        assert!(!tree.0.join("usr/bin/d").exists());
        assert!(!tree.0.join("etc/tool").exists());
        assert!(tree.0.join("usr/bin/tool").exists());
        assert_eq!(std::fs::read(tree.0.join("etc/sub/x")).unwrap(), b"x");
        // Mount points on the overlay still work.
        let t = v
            .open_in(&c, b"/tmp/t", libc::O_CREAT | libc::O_RDWR, 0o600)
            .unwrap();
        t.write_inner(None, b"t").unwrap();
        assert!(!tree.0.join("tmp/t").exists());
    }

    /// A host directory served by its own in-process gofer, as a bind mount at `dest`.
    fn bind(tree: &Tree, dest: &[u8], readonly: bool) -> crate::vfs::BindMount {
        crate::vfs::BindMount {
            dest: dest.to_vec(),
            gofer: serve(&tree.0, readonly),
            readonly,
        }
    }

    #[test]
    fn bind_mounts_write_through_when_rw_and_refuse_when_ro() {
        let (root, _) = sandbox_with("bind-root", true);
        let (rw, _) = sandbox_with("bind-rw", true);
        let (ro, _) = sandbox_with("bind-ro", true);
        let opts = crate::vfs::SandboxOptions {
            root_readonly: false,
            root_direct: false,
            mounts: vec![bind(&rw, b"/mnt/rw", false), bind(&ro, b"/etc/ro", true)],
        };
        let v = Vfs::new_sandbox_with(serve(&root.0, true), &opts).unwrap();
        let c = v.root_ctx();
        // Read-write: every change reaches the host directory.
        let f = v
            .open_in(&c, b"/mnt/rw/new", libc::O_CREAT | libc::O_RDWR, 0o640)
            .unwrap();
        f.write_inner(None, b"written").unwrap();
        assert_eq!(f.stat_vfs(None).unwrap().size, 7);
        assert_eq!(std::fs::read(rw.0.join("new")).unwrap(), b"written");
        let f = v
            .open_in(&c, b"/mnt/rw/etc/hello", libc::O_WRONLY | libc::O_APPEND, 0)
            .unwrap();
        f.write_inner(None, b"more\n").unwrap();
        assert_eq!(
            std::fs::read(rw.0.join("etc/hello")).unwrap(),
            b"hello from the host\nmore\n"
        );
        let st = v
            .lookup_in(&c, b"/mnt/rw/etc/hello", true)
            .unwrap()
            .stat(None)
            .unwrap();
        assert_eq!(st.size, 25);
        v.mkdir_in(&c, b"/mnt/rw/d", 0o755).unwrap();
        v.rename_in(&c, b"/mnt/rw/new", &c, b"/mnt/rw/d/moved")
            .unwrap();
        assert!(rw.0.join("d/moved").is_file() && !rw.0.join("new").exists());
        v.unlink_in(&c, b"/mnt/rw/etc/sub/x", false).unwrap();
        assert!(!rw.0.join("etc/sub/x").exists());
        let d = v.lookup_in(&c, b"/mnt/rw/d/moved", true).unwrap();
        d.inode
            .setattr(&crate::vfs::SetAttr {
                mode: Some(0o600),
                size: Some(3),
                ..Default::default()
            })
            .unwrap();
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(rw.0.join("d/moved")).unwrap();
        assert_eq!((m.mode() & 0o7777, m.size()), (0o600, 3));
        assert_eq!(
            v.open_in(&c, b"/mnt/rw/d/moved", libc::O_RDONLY, 0)
                .unwrap()
                .stat_vfs(None)
                .unwrap()
                .size,
            3
        );
        // Read-only: refused, and the host directory is untouched.
        assert_eq!(
            v.open_in(&c, b"/etc/ro/etc/hello", libc::O_WRONLY, 0).err(),
            Some(Errno::EROFS)
        );
        assert_eq!(
            v.open_in(&c, b"/etc/ro/n", libc::O_CREAT | libc::O_WRONLY, 0o644)
                .err(),
            Some(Errno::EROFS)
        );
        assert_eq!(
            v.unlink_in(&c, b"/etc/ro/etc/hello", false),
            Err(Errno::EROFS)
        );
        assert_eq!(
            std::fs::read(ro.0.join("etc/hello")).unwrap(),
            b"hello from the host\n"
        );
        // The overlay root around them still keeps its writes in memory.
        v.open_in(&c, b"/etc/overlaid", libc::O_CREAT | libc::O_WRONLY, 0o644)
            .unwrap();
        assert!(!root.0.join("etc/overlaid").exists());
        let mounts = v.mounts();
        assert!(mounts
            .iter()
            .any(|m| m.path == b"/mnt/rw" && !m.readonly && m.fs_type == "9p"));
        assert!(mounts.iter().any(|m| m.path == b"/etc/ro" && m.readonly));
    }

    #[test]
    fn bind_mounts_of_single_files() {
        let (root, _) = sandbox_with("fbind-root", true);
        let (host, _) = sandbox_with("fbind-host", true);
        let file = host.0.join("etc/hello");
        let file_mount = |dest: &[u8], readonly: bool| crate::vfs::BindMount {
            dest: dest.to_vec(),
            gofer: serve(&file, readonly),
            readonly,
        };
        let opts = crate::vfs::SandboxOptions {
            root_readonly: false,
            root_direct: false,
            mounts: vec![
                // Over a file of the image, and over a missing one in a missing directory.
                file_mount(b"/etc/sub/x", false),
                file_mount(b"/new/dir/ro", true),
            ],
        };
        let v = Vfs::new_sandbox_with(serve(&root.0, true), &opts).unwrap();
        let c = v.root_ctx();
        let read = |path: &[u8]| {
            let f = v.open_in(&c, path, libc::O_RDONLY, 0).unwrap();
            let mut b = [0u8; 64];
            let n = f.read_inner(None, &mut b).unwrap();
            b[..n].to_vec()
        };
        assert_eq!(read(b"/etc/sub/x"), b"hello from the host\n");
        assert_eq!(read(b"/new/dir/ro"), b"hello from the host\n");
        let st = v
            .lookup_in(&c, b"/etc/sub/x", true)
            .unwrap()
            .stat(None)
            .unwrap();
        assert_eq!((st.mode & libc::S_IFMT, st.size), (libc::S_IFREG, 20));
        // Read-write: writes reach the host file; the image's file is untouched.
        let f = v
            .open_in(&c, b"/etc/sub/x", libc::O_WRONLY | libc::O_APPEND, 0)
            .unwrap();
        f.write_inner(None, b"more\n").unwrap();
        assert_eq!(
            std::fs::read(&file).unwrap(),
            b"hello from the host\nmore\n"
        );
        assert_eq!(std::fs::read(root.0.join("etc/sub/x")).unwrap(), b"x");
        // A file root has no children.
        assert_eq!(
            v.lookup_in(&c, b"/etc/sub/x/y", true).err(),
            Some(Errno::ENOTDIR)
        );
        // Read-only: refused.
        assert_eq!(
            v.open_in(&c, b"/new/dir/ro", libc::O_WRONLY, 0).err(),
            Some(Errno::EROFS)
        );
        assert!(!root.0.join("new").exists());
        // A file never goes over a directory, nor a directory over a file.
        let over_dir = crate::vfs::SandboxOptions {
            root_readonly: false,
            root_direct: false,
            mounts: vec![file_mount(b"/etc/sub", false)],
        };
        assert!(Vfs::new_sandbox_with(serve(&root.0, true), &over_dir).is_err());
        let dir_over_file = crate::vfs::SandboxOptions {
            root_readonly: false,
            root_direct: false,
            mounts: vec![bind(&host, b"/etc/hello", false)],
        };
        assert!(Vfs::new_sandbox_with(serve(&root.0, true), &dir_over_file).is_err());
    }
}
