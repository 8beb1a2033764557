//! The sentry's /dev (after gVisor's `pkg/sentry/devices` and Linux `drivers/char/mem.c`):
//! null, zero, full, random, urandom, tty, ptmx, and the fd/stdin/stdout/stderr symlinks into
//! /proc/self/fd. /dev/tty opens the caller's controlling terminal (`drivers/tty/tty_io.c`
//! `tty_open_current_tty`), a host terminal or a sentry pty; /dev/ptmx makes a new pty pair
//! (`fs::devpts`). The `pts` directory shows devpts's entries (the sandbox mounts devpts
//! over it).
//!
//! An OCI container's /dev (`new_root_with`) also holds the nodes of the spec's `linux.devices`
//! with their type, numbers, mode and owner (runc's `createDevices`), and /dev/ptmx is the
//! symlink `pts/ptmx` (runtime-spec `runtime-linux.md`, "Dev symbolic links"). A node opens as
//! the sentry's device of the same numbers; one the sentry does not implement opens with ENXIO
//! (Linux's answer for a node without a driver): never a host device.
//!
//! A spec's tmpfs at /dev (`new_root_on_tmpfs`) is a real tmpfs under those nodes, as runc's
//! /dev is: files, directories, symlinks and nodes the container makes there live in it, held
//! to its `size=` and `nr_inodes=` (tmpfs's limits), and statfs reports it. The sentry's nodes
//! shadow names in it and cannot be removed or renamed (EPERM), nor created again (EEXIST); a
//! rename between /dev and a directory below it is EXDEV (the root is not the tmpfs's own
//! directory inode); the nodes take none of its inodes. Without one (`runsc do`), /dev is
//! read-only: creating there is EPERM.

use std::any::Any;
use std::sync::Arc;

use crate::fs::devpts;
use crate::fs::host::{tty, tty_ops};
use crate::fs::sys;
use crate::vfs::{
    DirEntry, FileOps, Inode, NoDataOps, Positioning, SetAttr, Stat, StatFs, TaskRef, Timespec,
};
use crate::{Errno, SysResult};

/// `TMPFS_MAGIC` (devtmpfs reports it).
const DEVTMPFS_MAGIC: i64 = 0x0102_1994;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Device {
    Null,
    Zero,
    Full,
    Random,
    Urandom,
    Tty,
    Ptmx,
}

impl Device {
    fn rdev(self) -> u64 {
        let (ma, mi) = match self {
            Device::Null => (1, 3),
            Device::Zero => (1, 5),
            Device::Full => (1, 7),
            Device::Random => (1, 8),
            Device::Urandom => (1, 9),
            Device::Tty => (5, 0),
            Device::Ptmx => (5, 2),
        };
        libc::makedev(ma, mi)
    }
}

impl Device {
    /// The sentry's device with these numbers, if it implements one.
    fn by_rdev(kind: u32, rdev: u64) -> Option<Device> {
        if kind != libc::S_IFCHR {
            return None;
        }
        [
            Device::Null,
            Device::Zero,
            Device::Full,
            Device::Random,
            Device::Urandom,
            Device::Tty,
            Device::Ptmx,
        ]
        .into_iter()
        .find(|d| d.rdev() == rdev)
    }
}

enum Node {
    Dir,
    Dev(Device),
    Link(&'static [u8]),
    Pts,
    /// One of `DevOptions::devices` (the inode's index says which).
    Extra,
}

/// /dev/ptmx of an OCI container.
const PTMX_LINK: Node = Node::Link(b"pts/ptmx");

/// A device node of an OCI spec (`linux.devices`), directly under /dev.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    /// Its name in /dev (one component).
    pub name: Vec<u8>,
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO` (a named pipe; its numbers are ignored).
    pub kind: u32,
    pub major: u32,
    pub minor: u32,
    /// Permission bits.
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
}

/// What an OCI container's /dev holds beyond the sentry's devices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DevOptions {
    /// /dev/ptmx is the symlink `pts/ptmx` instead of a device node.
    pub ptmx_symlink: bool,
    /// Nodes added (or replacing a sentry node of the same name), in spec order.
    pub devices: Vec<DeviceNode>,
}

const ENTRIES: &[(&[u8], Node)] = &[
    (b"full", Node::Dev(Device::Full)),
    (b"null", Node::Dev(Device::Null)),
    (b"ptmx", Node::Dev(Device::Ptmx)),
    (b"random", Node::Dev(Device::Random)),
    (b"tty", Node::Dev(Device::Tty)),
    (b"urandom", Node::Dev(Device::Urandom)),
    (b"zero", Node::Dev(Device::Zero)),
    (b"pts", Node::Pts),
    (b"fd", Node::Link(b"/proc/self/fd")),
    (b"stdin", Node::Link(b"/proc/self/fd/0")),
    (b"stdout", Node::Link(b"/proc/self/fd/1")),
    (b"stderr", Node::Link(b"/proc/self/fd/2")),
];

/// Inode numbers of the nodes (`DEV_NODE_INO + index`): above any the backing tmpfs hands out,
/// which shares their device number.
const DEV_NODE_INO: u64 = 1 << 40;

/// One /dev node: the directory (index None), entry `ENTRIES[i]` (i below its length) or the
/// extra device `i - ENTRIES.len()`.
pub struct DevInode {
    dev: u64,
    index: Option<usize>,
    boot: Timespec,
    opts: Arc<DevState>,
}

/// What the nodes of one /dev share: the options, the pipe of each FIFO among the spec's
/// devices (by index), and the root of the tmpfs beneath them, if any.
struct DevState {
    opts: DevOptions,
    fifos: Vec<Option<Arc<crate::fs::pipe::Pipe>>>,
    backing: Option<Arc<dyn Inode>>,
}

/// The /dev directory.
pub fn new_root(dev: u64) -> Arc<dyn Inode> {
    new_root_with(dev, DevOptions::default())
}

/// The /dev directory of an OCI container: see the module comment.
pub fn new_root_with(dev: u64, opts: DevOptions) -> Arc<dyn Inode> {
    new_dev(dev, opts, None)
}

/// The /dev directory of an OCI container whose spec mounts a tmpfs there with mount(2) data
/// `data` (`size=65536k,mode=755`): the nodes over a tmpfs made with those options (see the
/// module comment); the options as mountinfo shows them. EINVAL for an option tmpfs rejects.
pub fn new_root_on_tmpfs(
    dev: u64,
    opts: DevOptions,
    data: &[u8],
) -> SysResult<(Arc<dyn Inode>, String)> {
    let (backing, shown) = crate::vfs::mount::new_tmpfs(dev, data)?;
    Ok((new_dev(dev, opts, Some(backing)), shown))
}

fn new_dev(dev: u64, opts: DevOptions, backing: Option<Arc<dyn Inode>>) -> Arc<dyn Inode> {
    Arc::new(DevInode {
        dev,
        index: None,
        boot: Timespec::now(),
        opts: Arc::new(DevState {
            fifos: opts
                .devices
                .iter()
                .map(|d| (d.kind == libc::S_IFIFO).then(|| crate::fs::pipe::new_fifo(d.uid, d.gid)))
                .collect(),
            opts,
            backing,
        }),
    })
}

impl DevInode {
    fn node(&self) -> &'static Node {
        match self.index {
            Some(i) if i >= ENTRIES.len() => &Node::Extra,
            Some(i) if self.opts.opts.ptmx_symlink && ENTRIES[i].0 == b"ptmx" => &PTMX_LINK,
            Some(i) => &ENTRIES[i].1,
            None => &Node::Dir,
        }
    }
    /// The spec's device this inode is, if it is one.
    fn extra(&self) -> Option<&DeviceNode> {
        let i = self.index?.checked_sub(ENTRIES.len())?;
        self.opts.opts.devices.get(i)
    }
    fn ino(&self) -> u64 {
        self.index.map_or(1, |i| DEV_NODE_INO + i as u64)
    }
    /// The tmpfs under the directory (None for a node, or a /dev without one).
    fn backing(&self) -> Option<&Arc<dyn Inode>> {
        self.index.is_none().then_some(())?;
        self.opts.backing.as_ref()
    }
    /// The tmpfs under the directory, for a change of entry `name`: EEXIST for a sentry node's
    /// name when `making`, else EPERM for one; EPERM without a tmpfs (a read-only /dev).
    fn backing_for(&self, name: &[u8], making: bool) -> SysResult<&Arc<dyn Inode>> {
        let b = self.backing().ok_or(Errno::EPERM)?;
        if self.entries().iter().any(|(n, _)| *n == name) {
            return Err(if making { Errno::EEXIST } else { Errno::EPERM });
        }
        Ok(b)
    }
    fn child(&self, index: usize) -> DevInode {
        DevInode {
            dev: self.dev,
            index: Some(index),
            boot: self.boot,
            opts: self.opts.clone(),
        }
    }
    /// The entries of the directory by name: the sentry's (unless a spec device takes the
    /// name), then the spec's devices; each with its index.
    fn entries(&self) -> Vec<(&[u8], usize)> {
        let extra = &self.opts.opts.devices;
        let mut out: Vec<(&[u8], usize)> = ENTRIES
            .iter()
            .enumerate()
            .filter(|(_, (n, _))| !extra.iter().any(|d| d.name == *n))
            .map(|(i, (n, _))| (*n, i))
            .collect();
        out.extend(
            extra
                .iter()
                .enumerate()
                .map(|(i, d)| (&d.name[..], ENTRIES.len() + i)),
        );
        out
    }
}

impl Inode for DevInode {
    fn stat(&self, task: TaskRef) -> SysResult<Stat> {
        if let Some(b) = self.backing() {
            // The tmpfs's root: its mode, owner, links and times.
            let mut st = b.stat(task)?;
            st.dev = self.dev;
            st.ino = 1;
            return Ok(st);
        }
        let (mut uid, mut gid) = (0, 0);
        let (mode, rdev, nlink, size) = match self.node() {
            Node::Dir | Node::Pts => (libc::S_IFDIR | 0o755, 0, 2, 0),
            Node::Dev(d) => (libc::S_IFCHR | 0o666, d.rdev(), 1, 0),
            Node::Link(t) => (libc::S_IFLNK | 0o777, 0, 1, t.len() as i64),
            Node::Extra => {
                let d = self.extra().ok_or(Errno::ENOENT)?;
                (uid, gid) = (d.uid, d.gid);
                let rdev = match d.kind {
                    libc::S_IFIFO => 0,
                    _ => libc::makedev(d.major, d.minor),
                };
                (d.kind | (d.perm & 0o7777), rdev, 1, 0)
            }
        };
        Ok(Stat {
            dev: self.dev,
            ino: self.ino(),
            mode,
            nlink,
            uid,
            gid,
            rdev,
            size,
            blksize: 4096,
            atime: self.boot,
            mtime: self.boot,
            ctime: self.boot,
            ..Default::default()
        })
    }

    fn lookup(&self, task: TaskRef, name: &[u8]) -> SysResult<Arc<dyn Inode>> {
        if let Node::Pts = self.node() {
            return devpts::lookup(self.dev, name);
        }
        if self.index.is_some() {
            return Err(Errno::ENOTDIR);
        }
        match self.entries().into_iter().find(|(n, _)| *n == name) {
            Some((_, i)) => Ok(Arc::new(self.child(i))),
            None => match self.backing() {
                Some(b) => b.lookup(task, name),
                None => Err(Errno::ENOENT),
            },
        }
    }

    fn readdir(&self, task: TaskRef) -> SysResult<Vec<DirEntry>> {
        if let Node::Pts = self.node() {
            return Ok(devpts::readdir());
        }
        if self.index.is_some() {
            return Err(Errno::ENOTDIR);
        }
        let mine = self.entries();
        let below: Vec<DirEntry> = match self.backing() {
            Some(b) => b
                .readdir(task)?
                .into_iter()
                .filter(|e| !mine.iter().any(|(n, _)| *n == e.name.as_slice()))
                .collect(),
            None => Vec::new(),
        };
        let mut out: Vec<DirEntry> = mine
            .into_iter()
            .map(|(n, i)| {
                let child = self.child(i);
                let kind = match child.node() {
                    Node::Dir | Node::Pts => libc::DT_DIR,
                    Node::Dev(_) => libc::DT_CHR,
                    Node::Link(_) => libc::DT_LNK,
                    Node::Extra => match child.extra().map(|d| d.kind) {
                        Some(libc::S_IFBLK) => libc::DT_BLK,
                        Some(libc::S_IFIFO) => libc::DT_FIFO,
                        _ => libc::DT_CHR,
                    },
                };
                DirEntry {
                    name: n.to_vec(),
                    ino: child.ino(),
                    kind,
                }
            })
            .collect();
        out.extend(below);
        Ok(out)
    }

    fn readlink(&self, _task: TaskRef) -> SysResult<Vec<u8>> {
        match self.node() {
            Node::Link(t) => Ok(t.to_vec()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn open(&self, task: TaskRef, flags: i32) -> SysResult<Arc<dyn FileOps>> {
        match self.node() {
            Node::Dir | Node::Pts => Ok(Arc::new(NoDataOps)),
            Node::Dev(d) => open_device(*d, task, flags),
            Node::Link(_) => Err(Errno::ELOOP),
            // A spec's node: the sentry's device of those numbers, or no driver.
            Node::Extra => {
                let d = self.extra().ok_or(Errno::ENOENT)?;
                let fifo = self
                    .index
                    .and_then(|i| self.opts.fifos.get(i - ENTRIES.len()));
                if let Some(Some(pipe)) = fifo {
                    return crate::fs::pipe::open_fifo(pipe, task, flags);
                }
                match Device::by_rdev(d.kind, libc::makedev(d.major, d.minor)) {
                    Some(dev) => open_device(dev, task, flags),
                    None => Err(Errno::ENXIO),
                }
            }
        }
    }

    fn create(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> SysResult<Arc<dyn Inode>> {
        self.backing_for(name, true)?.create(name, mode, uid, gid)
    }

    fn mkdir(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> SysResult<Arc<dyn Inode>> {
        self.backing_for(name, true)?.mkdir(name, mode, uid, gid)
    }

    fn mknod(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> SysResult<Arc<dyn Inode>> {
        self.backing_for(name, true)?.mknod(name, mode, uid, gid)
    }

    fn symlink(&self, name: &[u8], target: &[u8], uid: u32, gid: u32) -> SysResult<Arc<dyn Inode>> {
        self.backing_for(name, true)?
            .symlink(name, target, uid, gid)
    }

    fn bind_socket(
        &self,
        name: &[u8],
        mode: u32,
        uid: u32,
        gid: u32,
        endpoint: Arc<dyn Any + Send + Sync>,
    ) -> SysResult<Arc<dyn Inode>> {
        self.backing_for(name, true)?
            .bind_socket(name, mode, uid, gid, endpoint)
    }

    fn link(&self, name: &[u8], target: &dyn Inode) -> SysResult<()> {
        self.backing_for(name, true)?.link(name, target)
    }

    fn unlink(&self, name: &[u8], dir: bool) -> SysResult<()> {
        self.backing_for(name, false)?.unlink(name, dir)
    }

    fn rename(&self, old_name: &[u8], new_dir: &dyn Inode, new_name: &[u8]) -> SysResult<()> {
        self.rename2(old_name, new_dir, new_name, 0)
    }

    fn rename2(
        &self,
        old_name: &[u8],
        new_dir: &dyn Inode,
        new_name: &[u8],
        flags: u32,
    ) -> SysResult<()> {
        let from = self.backing_for(old_name, false)?;
        // Within /dev: the tmpfs's root on both sides; below it: the tmpfs's own directory.
        let to: &dyn Inode = match new_dir.as_any().downcast_ref::<DevInode>() {
            Some(d) if Arc::ptr_eq(&d.opts, &self.opts) => &**d.backing_for(new_name, false)?,
            Some(_) => return Err(Errno::EXDEV),
            None => new_dir,
        };
        from.rename2(old_name, to, new_name, flags)
    }

    fn setattr(&self, attr: &SetAttr) -> SysResult<()> {
        match self.backing() {
            Some(b) => b.setattr(attr),
            None => Err(Errno::EPERM),
        }
    }

    fn statfs(&self) -> SysResult<StatFs> {
        match &self.opts.backing {
            Some(b) => b.statfs(),
            None => Ok(StatFs::synthetic(DEVTMPFS_MAGIC)),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Opens the sentry's device `d`.
fn open_device(d: Device, task: TaskRef, flags: i32) -> SysResult<Arc<dyn FileOps>> {
    match d {
        // The caller's controlling terminal; ENXIO without one, as on Linux.
        Device::Tty => {
            let t = task.ok_or(Errno::ENXIO)?;
            let sid = t.kernel.sid_of(t.tg.pid)?;
            if let Some(ctty) = tty::controlling_tty(sid) {
                return Ok(tty_ops(&ctty));
            }
            let pty = devpts::controlling_pty(sid).ok_or(Errno::ENXIO)?;
            devpts::open_replica(&pty, task, flags | libc::O_NOCTTY)
        }
        Device::Ptmx => devpts::open_master(task),
        d => Ok(Arc::new(DevFile(d))),
    }
}

/// An open character device.
struct DevFile(Device);

impl FileOps for DevFile {
    fn positioning(&self) -> Positioning {
        // Linux's null/zero/random ignore the position; lseek on them succeeds.
        Positioning::Offset
    }
    fn read_at(&self, _task: TaskRef, buf: &mut [u8], _offset: u64) -> SysResult<usize> {
        match self.0 {
            Device::Null => Ok(0),
            Device::Zero | Device::Full => {
                buf.fill(0);
                Ok(buf.len())
            }
            Device::Random | Device::Urandom => {
                let mut done = 0;
                while done < buf.len() {
                    done += sys::getrandom(&mut buf[done..])?;
                }
                Ok(done)
            }
            Device::Tty | Device::Ptmx => Err(Errno::ENXIO),
        }
    }
    fn write_at(&self, _task: TaskRef, buf: &[u8], _offset: u64) -> SysResult<usize> {
        match self.0 {
            Device::Full => Err(Errno::ENOSPC),
            Device::Tty | Device::Ptmx => Err(Errno::ENXIO),
            _ => Ok(buf.len()),
        }
    }
    fn size(&self) -> Option<SysResult<u64>> {
        Some(Ok(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(name: &[u8]) -> Arc<dyn FileOps> {
        new_root(1)
            .lookup(None, name)
            .unwrap()
            .open(None, libc::O_RDWR)
            .unwrap()
    }

    #[test]
    fn a_spec_tmpfs_at_dev_holds_files_to_its_limits_under_the_nodes() {
        let opts = DevOptions {
            ptmx_symlink: true,
            devices: Vec::new(),
        };
        let (root, shown) = new_root_on_tmpfs(7, opts, b"size=8k,nr_inodes=4,mode=755").unwrap();
        assert_eq!(shown, ",size=8k,nr_inodes=4,mode=755");
        assert_eq!(root.stat(None).unwrap().mode, libc::S_IFDIR | 0o755);
        let f = root.create(b"f", 0o644, 0, 0).unwrap();
        assert_eq!(f.stat(None).unwrap().dev, 7);
        let file = f.open(None, libc::O_RDWR).unwrap();
        // Two pages, then no space.
        assert_eq!(file.write_at(None, &[1u8; 3 * 4096], 0).unwrap(), 2 * 4096);
        assert_eq!(root.statfs().unwrap().blocks, 2);
        root.mkdir(b"d", 0o755, 0, 0).unwrap();
        // The root, f and d hold three of the four inodes.
        root.create(b"g", 0o644, 0, 0).unwrap();
        assert_eq!(root.create(b"h", 0o644, 0, 0).err(), Some(Errno::ENOSPC));
        let names: Vec<Vec<u8>> = root
            .readdir(None)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert!(names.contains(&b"null".to_vec()) && names.contains(&b"f".to_vec()));
        assert!(root
            .lookup(None, b"d")
            .unwrap()
            .stat(None)
            .unwrap()
            .is_dir());
        // The sentry's nodes stay.
        assert_eq!(root.create(b"null", 0o644, 0, 0).err(), Some(Errno::EEXIST));
        assert_eq!(root.unlink(b"null", false), Err(Errno::EPERM));
        assert_eq!(root.rename(b"f", &*root, b"zero"), Err(Errno::EPERM));
        root.rename(b"f", &*root, b"f2").unwrap();
        assert!(root.lookup(None, b"f2").is_ok());
        root.unlink(b"f2", false).unwrap();
        assert_eq!(root.statfs().unwrap().blocks, 2);
        // Without a tmpfs, /dev is read-only.
        assert_eq!(
            new_root(1).create(b"x", 0o644, 0, 0).err(),
            Some(Errno::EPERM)
        );
    }

    #[test]
    fn null_reads_eof_and_swallows_writes() {
        let f = open(b"null");
        let mut b = [1u8; 4];
        assert_eq!(f.read_at(None, &mut b, 0).unwrap(), 0);
        assert_eq!(f.write_at(None, b"xyz", 0).unwrap(), 3);
    }

    #[test]
    fn zero_reads_zeros() {
        let f = open(b"zero");
        let mut b = [1u8; 16];
        assert_eq!(f.read_at(None, &mut b, 0).unwrap(), 16);
        assert!(b.iter().all(|&x| x == 0));
    }

    #[test]
    fn full_is_enospc_on_write_and_zeros_on_read() {
        let f = open(b"full");
        assert_eq!(f.write_at(None, b"x", 0), Err(Errno::ENOSPC));
        let mut b = [1u8; 3];
        assert_eq!(f.read_at(None, &mut b, 0).unwrap(), 3);
        assert_eq!(b, [0, 0, 0]);
    }

    #[test]
    fn urandom_fills_and_tty_is_enxio() {
        let f = open(b"urandom");
        let mut b = [0u8; 100];
        assert_eq!(f.read_at(None, &mut b, 0).unwrap(), 100);
        let tty = new_root(1).lookup(None, b"tty").unwrap();
        assert!(matches!(tty.open(None, libc::O_RDWR), Err(Errno::ENXIO)));
        let st = tty.stat(None).unwrap();
        assert_eq!(st.rdev, libc::makedev(5, 0));
    }

    #[test]
    fn pts_lists_a_host_terminal_with_its_host_stat() {
        let pty = nix::pty::openpty(None, None).unwrap();
        let file = crate::fs::host::stdio_file_in_session(pty.slave, 0, None);
        let st = file.stat_vfs(None).unwrap();
        let n = crate::fs::host::tty::sandbox_number(st.rdev).unwrap();
        let pts = new_root(1).lookup(None, b"pts").unwrap();
        assert!(pts.stat(None).unwrap().is_dir());
        let names: Vec<Vec<u8>> = pts
            .readdir(None)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert!(names.contains(&n.to_string().into_bytes()), "{names:?}");
        let node = pts.lookup(None, n.to_string().as_bytes()).unwrap();
        let nst = node.stat(None).unwrap();
        assert_eq!((nst.rdev, nst.ino, nst.dev), (st.rdev, st.ino, st.dev));
        assert!(node.open(None, libc::O_RDWR).is_ok());
        assert!(matches!(pts.lookup(None, b"999999"), Err(Errno::ENOENT)));
    }

    #[test]
    fn fd_is_a_symlink_to_proc_self_fd() {
        let l = new_root(1).lookup(None, b"fd").unwrap();
        assert!(l.stat(None).unwrap().is_symlink());
        assert_eq!(l.readlink(None).unwrap(), b"/proc/self/fd".to_vec());
    }

    fn spec_dev() -> Arc<dyn Inode> {
        let node = |name: &[u8], kind, major, minor| DeviceNode {
            name: name.to_vec(),
            kind,
            major,
            minor,
            perm: 0o640,
            uid: 7,
            gid: 8,
        };
        new_root_with(
            1,
            DevOptions {
                ptmx_symlink: true,
                devices: vec![
                    node(b"test1", libc::S_IFCHR, 10, 229),
                    node(b"test2", libc::S_IFBLK, 8, 0),
                    node(b"mynull", libc::S_IFCHR, 1, 3),
                    node(b"zero", libc::S_IFCHR, 1, 5),
                    node(b"fifo", libc::S_IFIFO, 0, 0),
                ],
            },
        )
    }

    #[test]
    fn spec_devices_have_their_attributes_and_never_open_a_host_device() {
        let root = spec_dev();
        let t1 = root.lookup(None, b"test1").unwrap();
        let st = t1.stat(None).unwrap();
        assert_eq!(st.mode, libc::S_IFCHR | 0o640);
        assert_eq!((st.rdev, st.uid, st.gid), (libc::makedev(10, 229), 7, 8));
        assert!(matches!(t1.open(None, libc::O_RDWR), Err(Errno::ENXIO)));
        let t2 = root.lookup(None, b"test2").unwrap();
        assert_eq!(t2.stat(None).unwrap().mode & libc::S_IFMT, libc::S_IFBLK);
        assert!(matches!(t2.open(None, libc::O_RDONLY), Err(Errno::ENXIO)));
        // Numbers the sentry implements open as its device.
        let f = root
            .lookup(None, b"mynull")
            .unwrap()
            .open(None, libc::O_RDWR)
            .unwrap();
        assert_eq!(f.read_at(None, &mut [0u8; 4], 0).unwrap(), 0);
        // A spec node replaces the sentry's of the same name, listed once.
        let zero = root.lookup(None, b"zero").unwrap().stat(None).unwrap();
        assert_eq!((zero.mode & 0o777, zero.uid), (0o640, 7));
        let entries = root.readdir(None).unwrap();
        let names: Vec<&[u8]> = entries.iter().map(|e| &e.name[..]).collect();
        assert_eq!(names.iter().filter(|n| **n == b"zero").count(), 1);
        assert!(names.contains(&&b"test1"[..]) && names.contains(&&b"null"[..]));
        let t2e = entries.iter().find(|e| e.name == b"test2").unwrap();
        assert_eq!(t2e.kind, libc::DT_BLK);
        // A FIFO is a named pipe of the sandbox's own.
        let fifo = root.lookup(None, b"fifo").unwrap();
        assert_eq!(fifo.stat(None).unwrap().mode, libc::S_IFIFO | 0o640);
        let wronly = libc::O_WRONLY | libc::O_NONBLOCK;
        assert!(matches!(fifo.open(None, wronly), Err(Errno::ENXIO)));
        let _r = fifo.open(None, libc::O_RDONLY | libc::O_NONBLOCK).unwrap();
        assert!(fifo.open(None, wronly).is_ok());
    }

    #[test]
    fn oci_ptmx_is_a_symlink_into_pts() {
        let ptmx = spec_dev().lookup(None, b"ptmx").unwrap();
        assert!(ptmx.stat(None).unwrap().is_symlink());
        assert_eq!(ptmx.readlink(None).unwrap(), b"pts/ptmx".to_vec());
        let plain = new_root(1).lookup(None, b"ptmx").unwrap();
        assert_eq!(plain.stat(None).unwrap().rdev, libc::makedev(5, 2));
    }
}
