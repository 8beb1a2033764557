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

use std::any::Any;
use std::sync::Arc;

use crate::fs::devpts;
use crate::fs::host::{tty, tty_ops};
use crate::fs::sys;
use crate::vfs::{
    DirEntry, FileOps, Inode, NoDataOps, Positioning, Stat, StatFs, TaskRef, Timespec,
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

/// One /dev node: the directory (index None), entry `ENTRIES[i]` (i below its length) or the
/// extra device `i - ENTRIES.len()`.
pub struct DevInode {
    dev: u64,
    index: Option<usize>,
    boot: Timespec,
    opts: Arc<DevState>,
}

/// What the nodes of one /dev share: the options, and the pipe of each FIFO among the spec's
/// devices (by index).
struct DevState {
    opts: DevOptions,
    fifos: Vec<Option<Arc<crate::fs::pipe::Pipe>>>,
}

/// The /dev directory.
pub fn new_root(dev: u64) -> Arc<dyn Inode> {
    new_root_with(dev, DevOptions::default())
}

/// The /dev directory of an OCI container: see the module comment.
pub fn new_root_with(dev: u64, opts: DevOptions) -> Arc<dyn Inode> {
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
        self.index.map_or(1, |i| i as u64 + 2)
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
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
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

    fn lookup(&self, _task: TaskRef, name: &[u8]) -> SysResult<Arc<dyn Inode>> {
        if let Node::Pts = self.node() {
            return devpts::lookup(self.dev, name);
        }
        if self.index.is_some() {
            return Err(Errno::ENOTDIR);
        }
        let i = self
            .entries()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, i)| i)
            .ok_or(Errno::ENOENT)?;
        Ok(Arc::new(self.child(i)))
    }

    fn readdir(&self, _task: TaskRef) -> SysResult<Vec<DirEntry>> {
        if let Node::Pts = self.node() {
            return Ok(devpts::readdir());
        }
        if self.index.is_some() {
            return Err(Errno::ENOTDIR);
        }
        Ok(self
            .entries()
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
            .collect())
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

    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(DEVTMPFS_MAGIC))
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
