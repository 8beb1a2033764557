//! The sentry's /dev (after gVisor's `pkg/sentry/devices` and Linux `drivers/char/mem.c`):
//! null, zero, full, random, urandom, tty, ptmx, and the fd/stdin/stdout/stderr symlinks into
//! /proc/self/fd. /dev/tty opens the caller's controlling terminal (`drivers/tty/tty_io.c`
//! `tty_open_current_tty`), a host terminal or a sentry pty; /dev/ptmx makes a new pty pair
//! (`fs::devpts`). The `pts` directory shows devpts's entries (the sandbox mounts devpts
//! over it).

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

enum Node {
    Dir,
    Dev(Device),
    Link(&'static [u8]),
    Pts,
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

/// One /dev node: the directory (index None) or entry `ENTRIES[i]`.
pub struct DevInode {
    dev: u64,
    index: Option<usize>,
    boot: Timespec,
}

/// The /dev directory.
pub fn new_root(dev: u64) -> Arc<dyn Inode> {
    Arc::new(DevInode {
        dev,
        index: None,
        boot: Timespec::now(),
    })
}

impl DevInode {
    fn node(&self) -> &'static Node {
        match self.index {
            Some(i) => &ENTRIES[i].1,
            None => &Node::Dir,
        }
    }
    fn ino(&self) -> u64 {
        self.index.map_or(1, |i| i as u64 + 2)
    }
}

impl Inode for DevInode {
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
        let (mode, rdev, nlink, size) = match self.node() {
            Node::Dir | Node::Pts => (libc::S_IFDIR | 0o755, 0, 2, 0),
            Node::Dev(d) => (libc::S_IFCHR | 0o666, d.rdev(), 1, 0),
            Node::Link(t) => (libc::S_IFLNK | 0o777, 0, 1, t.len() as i64),
        };
        Ok(Stat {
            dev: self.dev,
            ino: self.ino(),
            mode,
            nlink,
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
        let i = ENTRIES
            .iter()
            .position(|(n, _)| *n == name)
            .ok_or(Errno::ENOENT)?;
        Ok(Arc::new(DevInode {
            dev: self.dev,
            index: Some(i),
            boot: self.boot,
        }))
    }

    fn readdir(&self, _task: TaskRef) -> SysResult<Vec<DirEntry>> {
        if let Node::Pts = self.node() {
            return Ok(devpts::readdir());
        }
        if self.index.is_some() {
            return Err(Errno::ENOTDIR);
        }
        Ok(ENTRIES
            .iter()
            .enumerate()
            .map(|(i, (n, node))| DirEntry {
                name: n.to_vec(),
                ino: i as u64 + 2,
                kind: match node {
                    Node::Dir | Node::Pts => libc::DT_DIR,
                    Node::Dev(_) => libc::DT_CHR,
                    Node::Link(_) => libc::DT_LNK,
                },
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
            // The caller's controlling terminal; ENXIO without one, as on Linux.
            Node::Dev(Device::Tty) => {
                let t = task.ok_or(Errno::ENXIO)?;
                let sid = t.kernel.sid_of(t.tg.pid)?;
                if let Some(ctty) = tty::controlling_tty(sid) {
                    return Ok(tty_ops(&ctty));
                }
                let pty = devpts::controlling_pty(sid).ok_or(Errno::ENXIO)?;
                devpts::open_replica(&pty, task, flags | libc::O_NOCTTY)
            }
            Node::Dev(Device::Ptmx) => devpts::open_master(task),
            Node::Dev(d) => Ok(Arc::new(DevFile(*d))),
            Node::Link(_) => Err(Errno::ELOOP),
        }
    }

    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(DEVTMPFS_MAGIC))
    }

    fn as_any(&self) -> &dyn Any {
        self
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
}
