//! The sentry's /proc (after gVisor's `pkg/sentry/fsimpl/proc`; Linux `fs/proc/`, proc(5)),
//! synthesized from kernel state at lookup and open time. Files are snapshots taken at open.
//!
//! `/proc/self` is a symlink to the caller's pid. `/proc/PID/{fd/N,cwd,root}` are magic links
//! (following them reaches the open file's or directory's dentry, see `vfs`); `exe` is a plain
//! symlink to the executable's path. Only the calling process's own fd table, working directory
//! and memory map are reachable (the kernel keeps no per-pid handle on them): for other pids
//! `fd/` is empty, `cwd`/`root` are ENOENT and `maps` is empty.

mod text;

use std::any::Any;
use std::sync::Arc;

use crate::kernel::{Task, ThreadGroup};
use crate::vfs::{Dentry, DirEntry, FileOps, Inode, NoDataOps, Stat, StatFs, TaskRef, Timespec};
use crate::{Errno, SysResult};

/// `PROC_SUPER_MAGIC`.
pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Files in /proc itself.
const ROOT_FILES: &[(&[u8], FileKind)] = &[
    (b"filesystems", FileKind::Filesystems),
    (b"meminfo", FileKind::Meminfo),
    (b"mounts", FileKind::Mounts),
    (b"uptime", FileKind::Uptime),
    (b"version", FileKind::Version),
];

/// Entries of /proc/PID.
const PID_ENTRIES: &[(&[u8], Kind)] = &[
    (b"cmdline", Kind::File(FileKind::Cmdline)),
    (b"comm", Kind::File(FileKind::Comm)),
    (b"cwd", Kind::Cwd),
    (b"environ", Kind::File(FileKind::Environ)),
    (b"exe", Kind::Exe),
    (b"fd", Kind::FdDir),
    (b"maps", Kind::File(FileKind::Maps)),
    (b"mounts", Kind::File(FileKind::Mounts)),
    (b"root", Kind::Root),
    (b"stat", Kind::File(FileKind::Stat)),
    (b"status", Kind::File(FileKind::Status)),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Cmdline,
    Environ,
    Comm,
    Maps,
    Status,
    Stat,
    Mounts,
    Meminfo,
    Uptime,
    Version,
    Filesystems,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ProcRoot,
    SelfLink,
    PidDir,
    Exe,
    Cwd,
    Root,
    FdDir,
    FdLink(i32),
    File(FileKind),
}

/// One /proc node; `pid` is 0 outside /proc/PID.
pub struct ProcInode {
    dev: u64,
    pid: i32,
    kind: Kind,
    boot: Timespec,
}

/// The /proc directory.
pub fn new_root(dev: u64) -> Arc<dyn Inode> {
    Arc::new(ProcInode {
        dev,
        pid: 0,
        kind: Kind::ProcRoot,
        boot: Timespec::now(),
    })
}

fn need_task<'a>(task: TaskRef<'a>) -> SysResult<&'a Task> {
    task.ok_or(Errno::ENOENT)
}

/// The thread group of `pid` if it is live.
fn thread_group(task: &Task, pid: i32) -> SysResult<Arc<ThreadGroup>> {
    if task.tg.pid == pid {
        return Ok(task.tg.clone());
    }
    task.kernel.thread_group(pid).ok_or(Errno::ENOENT)
}

/// `task` itself when `pid` is its process (only then are its fd table, fs and mm reachable).
fn own<'a>(task: TaskRef<'a>, pid: i32) -> SysResult<&'a Task> {
    match task {
        Some(t) if t.tg.pid == pid => Ok(t),
        _ => Err(Errno::ENOENT),
    }
}

impl ProcInode {
    fn child(&self, pid: i32, kind: Kind) -> Arc<dyn Inode> {
        Arc::new(ProcInode {
            dev: self.dev,
            pid,
            kind,
            boot: self.boot,
        })
    }

    fn ino(&self) -> u64 {
        let k: u64 = match self.kind {
            Kind::ProcRoot => 1,
            Kind::SelfLink => 2,
            Kind::PidDir => 3,
            Kind::Exe => 4,
            Kind::Cwd => 5,
            Kind::Root => 6,
            Kind::FdDir => 7,
            Kind::FdLink(n) => 0x1000 + n as u64,
            Kind::File(f) => 16 + f as u64,
        };
        ((self.pid as u64) << 24) | k
    }
}

impl Inode for ProcInode {
    fn stat(&self, task: TaskRef) -> SysResult<Stat> {
        let mode = match self.kind {
            Kind::ProcRoot | Kind::PidDir => libc::S_IFDIR | 0o555,
            Kind::FdDir => libc::S_IFDIR | 0o500,
            Kind::SelfLink | Kind::Exe | Kind::Cwd | Kind::Root => libc::S_IFLNK | 0o777,
            Kind::FdLink(_) => libc::S_IFLNK | 0o700,
            Kind::File(FileKind::Environ) => libc::S_IFREG | 0o400,
            Kind::File(_) => libc::S_IFREG | 0o444,
        };
        let (uid, gid) = match (task, self.pid) {
            (Some(t), p) if p != 0 => (t.creds.uid, t.creds.gid),
            _ => (0, 0),
        };
        Ok(Stat {
            dev: self.dev,
            ino: self.ino(),
            mode,
            nlink: if mode & libc::S_IFMT == libc::S_IFDIR {
                2
            } else {
                1
            },
            uid,
            gid,
            blksize: 4096,
            atime: self.boot,
            mtime: self.boot,
            ctime: self.boot,
            ..Default::default()
        })
    }

    fn lookup(&self, task: TaskRef, name: &[u8]) -> SysResult<Arc<dyn Inode>> {
        match self.kind {
            Kind::ProcRoot => {
                if name == b"self" {
                    return Ok(self.child(0, Kind::SelfLink));
                }
                if let Some((_, k)) = ROOT_FILES.iter().find(|(n, _)| *n == name) {
                    return Ok(self.child(0, Kind::File(*k)));
                }
                let pid: i32 = std::str::from_utf8(name)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or(Errno::ENOENT)?;
                if pid <= 0 || name.starts_with(b"0") || name.starts_with(b"+") {
                    return Err(Errno::ENOENT);
                }
                thread_group(need_task(task)?, pid)?;
                Ok(self.child(pid, Kind::PidDir))
            }
            Kind::PidDir => {
                let (_, k) = PID_ENTRIES
                    .iter()
                    .find(|(n, _)| *n == name)
                    .ok_or(Errno::ENOENT)?;
                Ok(self.child(self.pid, *k))
            }
            Kind::FdDir => {
                let t = own(task, self.pid)?;
                let fd: i32 = std::str::from_utf8(name)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or(Errno::ENOENT)?;
                if fd.to_string().as_bytes() != name {
                    return Err(Errno::ENOENT);
                }
                t.fd_table.get(fd).map_err(|_| Errno::ENOENT)?;
                Ok(self.child(self.pid, Kind::FdLink(fd)))
            }
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn readdir(&self, task: TaskRef) -> SysResult<Vec<DirEntry>> {
        match self.kind {
            Kind::ProcRoot => {
                let mut v: Vec<DirEntry> = ROOT_FILES
                    .iter()
                    .map(|(n, k)| DirEntry {
                        name: n.to_vec(),
                        ino: 16 + *k as u64,
                        kind: libc::DT_REG,
                    })
                    .collect();
                v.push(DirEntry {
                    name: b"self".to_vec(),
                    ino: 2,
                    kind: libc::DT_LNK,
                });
                if let Some(t) = task {
                    for pid in t.kernel.pids() {
                        v.push(DirEntry {
                            name: pid.to_string().into_bytes(),
                            ino: ((pid as u64) << 24) | 3,
                            kind: libc::DT_DIR,
                        });
                    }
                }
                Ok(v)
            }
            Kind::PidDir => Ok(PID_ENTRIES
                .iter()
                .map(|(n, k)| {
                    let node = ProcInode {
                        dev: self.dev,
                        pid: self.pid,
                        kind: *k,
                        boot: self.boot,
                    };
                    let kind = node
                        .stat(None)
                        .map(|s| s.dirent_type())
                        .unwrap_or(libc::DT_UNKNOWN);
                    DirEntry {
                        name: n.to_vec(),
                        ino: node.ino(),
                        kind,
                    }
                })
                .collect()),
            Kind::FdDir => {
                let Ok(t) = own(task, self.pid) else {
                    return Ok(Vec::new());
                };
                Ok(t.fd_table
                    .fds()
                    .into_iter()
                    .map(|fd| DirEntry {
                        name: fd.to_string().into_bytes(),
                        ino: ((self.pid as u64) << 24) | (0x1000 + fd as u64),
                        kind: libc::DT_LNK,
                    })
                    .collect())
            }
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn readlink(&self, task: TaskRef) -> SysResult<Vec<u8>> {
        let t = need_task(task)?;
        match self.kind {
            Kind::SelfLink => Ok(t.tg.pid.to_string().into_bytes()),
            Kind::Exe => {
                let p = thread_group(t, self.pid)?.with_state(|s| s.exe_path.clone());
                if p.is_empty() {
                    return Err(Errno::ENOENT);
                }
                Ok(p)
            }
            Kind::Cwd => Ok(own(task, self.pid)?.fs.cwd_path()),
            Kind::Root => Ok(own(task, self.pid)?.fs.root().path()),
            Kind::FdLink(fd) => Ok(own(task, self.pid)?
                .fd_table
                .get(fd)
                .map_err(|_| Errno::ENOENT)?
                .path()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn magic_link(&self, task: TaskRef) -> Option<SysResult<Arc<Dentry>>> {
        let target =
            |f: &dyn Fn(&Task) -> SysResult<Arc<Dentry>>| Some(own(task, self.pid).and_then(f));
        match self.kind {
            Kind::Cwd => target(&|t| Ok(t.fs.cwd())),
            Kind::Root => target(&|t| Ok(t.fs.root())),
            Kind::FdLink(fd) => target(&|t| {
                t.fd_table
                    .get(fd)
                    .map(|f| f.dentry().clone())
                    .map_err(|_| Errno::ENOENT)
            }),
            _ => None,
        }
    }

    fn open(&self, task: TaskRef, _flags: i32) -> SysResult<Arc<dyn FileOps>> {
        match self.kind {
            Kind::ProcRoot | Kind::PidDir | Kind::FdDir => Ok(Arc::new(NoDataOps)),
            Kind::File(k) => Ok(Arc::new(ProcFile {
                data: self.generate(need_task(task)?, k)?,
            })),
            _ => Err(Errno::ELOOP),
        }
    }

    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(PROC_SUPER_MAGIC))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl ProcInode {
    fn generate(&self, t: &Task, k: FileKind) -> SysResult<Vec<u8>> {
        if self.pid == 0 {
            return Ok(match k {
                FileKind::Meminfo => text::meminfo(),
                FileKind::Uptime => text::uptime(t.kernel.boot_instant.elapsed()),
                FileKind::Version => text::version(),
                FileKind::Filesystems => text::filesystems(),
                _ => text::mounts(&t.kernel.vfs.mounts()),
            });
        }
        let tg = thread_group(t, self.pid)?;
        let st = tg.with_state(|s| s.clone());
        Ok(match k {
            FileKind::Cmdline => text::nul_joined(&st.argv),
            FileKind::Environ => text::nul_joined(&st.envv),
            FileKind::Comm => {
                let mut c = st.comm.clone();
                c.push(b'\n');
                c
            }
            FileKind::Maps => match own(Some(t), self.pid) {
                Ok(t) => t.mm.maps_text(),
                Err(_) => Vec::new(),
            },
            FileKind::Status => {
                let umask = own(Some(t), self.pid)
                    .map(|t| t.fs.umask())
                    .unwrap_or(0o022);
                text::status(&text::ProcessInfo::of(&tg, &st.comm, t), umask)
            }
            FileKind::Stat => {
                let start = tg.start.saturating_duration_since(t.kernel.boot_instant);
                text::stat(&text::ProcessInfo::of(&tg, &st.comm, t), start)
            }
            FileKind::Mounts => text::mounts(&t.kernel.vfs.mounts()),
            FileKind::Meminfo | FileKind::Uptime | FileKind::Version | FileKind::Filesystems => {
                return Err(Errno::ENOENT)
            }
        })
    }
}

/// An open /proc file: the snapshot taken at open.
struct ProcFile {
    data: Vec<u8>,
}

impl FileOps for ProcFile {
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
