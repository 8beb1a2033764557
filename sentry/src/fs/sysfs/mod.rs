//! The sentry's /sys (after gVisor's `pkg/sentry/fsimpl/sys`; Linux `fs/sysfs/`, sysfs(5)): a
//! small fixed tree of read-only files synthesized from kernel facts: the CPU lists under
//! /sys/devices/system/cpu, an empty /sys/fs/cgroup and the transparent hugepage setting.

use std::any::Any;
use std::sync::Arc;

use crate::kernel::Task;
use crate::vfs::{DirEntry, FileOps, Inode, NoDataOps, Stat, StatFs, TaskRef, Timespec};
use crate::{Errno, SysResult};

/// `SYSFS_MAGIC`.
pub const SYSFS_MAGIC: i64 = 0x6265_6572;

/// Directories, as paths below /sys.
const DIRS: &[&str] = &[
    "",
    "devices",
    "devices/system",
    "devices/system/cpu",
    "fs",
    "fs/cgroup",
    "kernel",
    "kernel/mm",
    "kernel/mm/transparent_hugepage",
];

/// Files, as paths below /sys.
const FILES: &[&str] = &[
    "devices/system/cpu/online",
    "devices/system/cpu/possible",
    "devices/system/cpu/present",
    "kernel/mm/transparent_hugepage/enabled",
];

/// One /sys node: an index into `DIRS` or `FILES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Dir(usize),
    File(usize),
}

pub struct SysInode {
    dev: u64,
    boot: Timespec,
    node: Node,
}

/// The /sys directory.
pub fn new_root(dev: u64) -> Arc<dyn Inode> {
    Arc::new(SysInode {
        dev,
        boot: Timespec::now(),
        node: Node::Dir(0),
    })
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(a, _)| a)
}

fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// "0-N" (or "0") for `n` CPUs.
fn cpu_list(n: usize) -> String {
    if n <= 1 {
        "0\n".to_string()
    } else {
        format!("0-{}\n", n - 1)
    }
}

/// The contents of file `path` for a kernel with `ncpus` CPUs.
fn contents(path: &str, ncpus: usize) -> Vec<u8> {
    match path {
        "kernel/mm/transparent_hugepage/enabled" => b"always madvise [never]\n".to_vec(),
        _ => cpu_list(ncpus).into_bytes(),
    }
}

impl SysInode {
    fn path(&self) -> &'static str {
        match self.node {
            Node::Dir(i) => DIRS.get(i).copied().unwrap_or(""),
            Node::File(i) => FILES.get(i).copied().unwrap_or(""),
        }
    }

    fn ino(node: Node) -> u64 {
        match node {
            Node::Dir(i) => 1 + i as u64,
            Node::File(i) => 0x100 + i as u64,
        }
    }

    /// The children of this directory: (name, node).
    fn children(&self) -> Vec<(&'static str, Node)> {
        let me = self.path();
        let dirs = DIRS
            .iter()
            .enumerate()
            .filter(|(_, d)| !d.is_empty() && parent(d) == me)
            .map(|(i, d)| (base(d), Node::Dir(i)));
        let files = FILES
            .iter()
            .enumerate()
            .filter(|(_, f)| parent(f) == me)
            .map(|(i, f)| (base(f), Node::File(i)));
        dirs.chain(files).collect()
    }
}

impl Inode for SysInode {
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
        let (mode, size) = match self.node {
            Node::Dir(_) => (libc::S_IFDIR | 0o755, 0),
            Node::File(_) => (libc::S_IFREG | 0o444, 4096),
        };
        Ok(Stat {
            dev: self.dev,
            ino: Self::ino(self.node),
            mode,
            nlink: if matches!(self.node, Node::Dir(_)) {
                2
            } else {
                1
            },
            size,
            blksize: 4096,
            atime: self.boot,
            mtime: self.boot,
            ctime: self.boot,
            ..Default::default()
        })
    }

    fn lookup(&self, _task: TaskRef, name: &[u8]) -> SysResult<Arc<dyn Inode>> {
        if !matches!(self.node, Node::Dir(_)) {
            return Err(Errno::ENOTDIR);
        }
        let (_, node) = self
            .children()
            .into_iter()
            .find(|(n, _)| n.as_bytes() == name)
            .ok_or(Errno::ENOENT)?;
        Ok(Arc::new(SysInode {
            dev: self.dev,
            boot: self.boot,
            node,
        }))
    }

    fn readdir(&self, _task: TaskRef) -> SysResult<Vec<DirEntry>> {
        if !matches!(self.node, Node::Dir(_)) {
            return Err(Errno::ENOTDIR);
        }
        Ok(self
            .children()
            .into_iter()
            .map(|(n, node)| DirEntry {
                name: n.as_bytes().to_vec(),
                ino: Self::ino(node),
                kind: if matches!(node, Node::Dir(_)) {
                    libc::DT_DIR
                } else {
                    libc::DT_REG
                },
            })
            .collect())
    }

    fn open(&self, task: TaskRef, flags: i32) -> SysResult<Arc<dyn FileOps>> {
        if flags & libc::O_ACCMODE != libc::O_RDONLY {
            return Err(match self.node {
                Node::Dir(_) => Errno::EISDIR,
                Node::File(_) => Errno::EACCES,
            });
        }
        match self.node {
            Node::Dir(_) => Ok(Arc::new(NoDataOps)),
            Node::File(_) => {
                let ncpus = task.map_or(1, |t: &Task| t.kernel.ncpus);
                Ok(Arc::new(SysFile {
                    data: contents(self.path(), ncpus),
                }))
            }
        }
    }

    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(SYSFS_MAGIC))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An open /sys file: its contents at open.
struct SysFile {
    data: Vec<u8>,
}

impl FileOps for SysFile {
    fn read_at(&self, _task: TaskRef, buf: &mut [u8], offset: u64) -> SysResult<usize> {
        let off = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        let n = buf.len().min(self.data.len() - off);
        buf[..n].copy_from_slice(&self.data[off..off + n]);
        Ok(n)
    }
    fn write_at(&self, _task: TaskRef, _buf: &[u8], _offset: u64) -> SysResult<usize> {
        Err(Errno::EACCES)
    }
    fn size(&self) -> Option<SysResult<u64>> {
        Some(Ok(self.data.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(path: &[&[u8]]) -> SysResult<Arc<dyn Inode>> {
        let mut n = new_root(7);
        for p in path {
            n = n.lookup(None, p)?;
        }
        Ok(n)
    }

    fn read(n: &Arc<dyn Inode>) -> Vec<u8> {
        let f = n.open(None, libc::O_RDONLY).unwrap();
        let mut buf = [0u8; 64];
        let len = f.read_at(None, &mut buf, 0).unwrap();
        buf[..len].to_vec()
    }

    #[test]
    fn cpu_lists_and_thp() {
        let online = walk(&[b"devices", b"system", b"cpu", b"online"]).unwrap();
        assert_eq!(read(&online), b"0\n".to_vec());
        let thp = walk(&[b"kernel", b"mm", b"transparent_hugepage", b"enabled"]).unwrap();
        assert_eq!(read(&thp), b"always madvise [never]\n".to_vec());
        assert_eq!(cpu_list(4), "0-3\n");
    }

    #[test]
    fn tree_shape() {
        let cg = walk(&[b"fs", b"cgroup"]).unwrap();
        assert!(cg.readdir(None).unwrap().is_empty());
        assert!(cg.stat(None).unwrap().mode & libc::S_IFDIR != 0);
        let names: Vec<Vec<u8>> = new_root(7)
            .readdir(None)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(
            names,
            vec![b"devices".to_vec(), b"fs".to_vec(), b"kernel".to_vec()]
        );
        assert_eq!(walk(&[b"nope"]).err(), Some(Errno::ENOENT));
        assert_eq!(
            walk(&[b"devices", b"system", b"cpu", b"online", b"x"]).err(),
            Some(Errno::ENOTDIR)
        );
    }
}
