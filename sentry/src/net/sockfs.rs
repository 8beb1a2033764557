//! sockfs (Linux `net/socket.c`): the anonymous inode every socket has, for fstat (S_IFSOCK),
//! statfs (SOCKFS_MAGIC), the "socket:[ino]" name in /proc/PID/fd, and ENXIO on reopening
//! /proc/self/fd/N; and `SockFile`, the one `FileOps` every kind of socket (unix, inet,
//! netlink) is read, written and polled through as a file (Linux `socket_file_ops`); and
//! `SockRegistry`, the list of a kind's sockets that /proc/net shows.

use std::any::Any;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::kernel::wait::WaitQueue;
use crate::vfs::{
    Dentry, FileDescription, FileOps, Inode, Positioning, Stat, StatFs, TaskRef, Timespec,
};
use crate::{Errno, SysResult};

/// `SOCKFS_MAGIC`.
const SOCKFS_MAGIC: i64 = 0x534F_434B;
/// The anonymous device sockets report.
const SOCKFS_DEV: u64 = 0x08;

/// Who a socket's inode says it is.
#[derive(Debug, Clone, Copy)]
pub struct SockIdentity {
    pub ino: u64,
    pub uid: u32,
    pub gid: u32,
    pub ctime: Timespec,
}

impl SockIdentity {
    /// A new socket's: inode `ino`, owned by `task`'s uid and gid (root's without a task),
    /// made now.
    pub fn new(ino: u64, task: TaskRef) -> SockIdentity {
        let (uid, gid) = task.map_or((0, 0), |t| (t.creds.uid, t.creds.gid));
        SockIdentity {
            ino,
            uid,
            gid,
            ctime: Timespec::now(),
        }
    }

    /// fstat of a socket.
    pub fn stat(&self) -> Stat {
        Stat {
            dev: SOCKFS_DEV,
            ino: self.ino,
            mode: libc::S_IFSOCK | 0o777,
            nlink: 1,
            uid: self.uid,
            gid: self.gid,
            blksize: 4096,
            atime: self.ctime,
            mtime: self.ctime,
            ctime: self.ctime,
            ..Default::default()
        }
    }
}

struct SockInode {
    stat: Stat,
}

impl Inode for SockInode {
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
        Ok(self.stat)
    }
    fn open(&self, _task: TaskRef, _flags: i32) -> SysResult<Arc<dyn FileOps>> {
        Err(Errno::ENXIO)
    }
    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(SOCKFS_MAGIC))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A kind of socket as its open files see it (read(2) and write(2) are recv and send with no
/// flags; O_NONBLOCK comes from the description).
pub trait Sock: Send + Sync + 'static {
    /// Who the socket's inode says it is.
    fn identity(&self) -> SockIdentity;
    /// read(2): at most `len` bytes.
    fn file_read(&self, task: TaskRef, len: usize, nonblock: bool) -> SysResult<Vec<u8>>;
    /// write(2).
    fn file_write(&self, task: TaskRef, buf: &[u8], nonblock: bool) -> SysResult<usize>;
    /// ioctl(2) on the file (ENOTTY unless the kind has its own).
    fn file_ioctl(&self, _req: u32, _arg: &mut [u8]) -> SysResult<u64> {
        Err(Errno::ENOTTY)
    }
    /// The `POLL*` events now true.
    fn poll_events(&self) -> u32;
    /// The queue notified when they may have changed.
    fn poll_queue(&self) -> &WaitQueue;
    /// A counter that moves with every event (edge-triggered epoll).
    fn poll_generation(&self) -> u64;
    /// Readiness now comes from a host fd whose changes the sentry cannot see (a unix socket
    /// forwarding to a host one, `net::hostuds`): pollers then re-check in slices instead of
    /// waiting on `poll_queue`.
    fn host_polled(&self) -> bool {
        false
    }
    /// The last description of the socket closed.
    fn last_close(&self);
}

/// The `FileOps` of one open socket description of kind `S`.
pub struct SockFile<S: Sock> {
    sock: Arc<S>,
}

impl<S: Sock> SockFile<S> {
    /// The socket behind the description.
    pub fn socket(&self) -> &Arc<S> {
        &self.sock
    }
}

impl<S: Sock> Drop for SockFile<S> {
    fn drop(&mut self) {
        self.sock.last_close();
    }
}

impl<S: Sock> FileOps for SockFile<S> {
    fn positioning(&self) -> Positioning {
        Positioning::Stream
    }
    fn read_stream(&self, task: TaskRef, buf: &mut [u8]) -> SysResult<usize> {
        self.read_with_flags(task, buf, 0)
    }
    fn write_stream(&self, task: TaskRef, buf: &[u8]) -> SysResult<usize> {
        self.write_with_flags(task, buf, 0)
    }
    fn read_with_flags(&self, task: TaskRef, buf: &mut [u8], flags: i32) -> SysResult<usize> {
        let data = self
            .sock
            .file_read(task, buf.len(), flags & libc::O_NONBLOCK != 0)?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok(n)
    }
    fn write_with_flags(&self, task: TaskRef, buf: &[u8], flags: i32) -> SysResult<usize> {
        self.sock
            .file_write(task, buf, flags & libc::O_NONBLOCK != 0)
    }
    fn stat(&self) -> Option<SysResult<Stat>> {
        Some(Ok(self.sock.identity().stat()))
    }
    fn ioctl(&self, req: u32, arg: &mut [u8]) -> SysResult<u64> {
        self.sock.file_ioctl(req, arg)
    }
    fn supports_poll(&self) -> bool {
        true
    }
    fn readiness(&self, _mask: u32) -> u32 {
        self.sock.poll_events()
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        if self.sock.host_polled() {
            return None;
        }
        Some(self.sock.poll_queue())
    }
    fn generation(&self, _mask: u32) -> u64 {
        self.sock.poll_generation()
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// A new open file of `sock`: read-write, with O_NONBLOCK from `flags`, over a sockfs inode.
pub fn socket_file<S: Sock>(sock: Arc<S>, flags: i32) -> Arc<FileDescription> {
    let id = sock.identity();
    let name = format!("socket:[{}]", id.ino).into_bytes();
    let inode: Arc<dyn Inode> = Arc::new(SockInode { stat: id.stat() });
    FileDescription::new(
        Dentry::anonymous(name, inode),
        Arc::new(SockFile { sock }),
        libc::O_RDWR | (flags & libc::O_NONBLOCK),
    )
}

/// Every socket of one kind made, for /proc/net: weak references, pruned as the list grows.
/// Its lock is never held with a socket's.
pub struct SockRegistry<T>(Mutex<Vec<Weak<T>>>);

impl<T> Default for SockRegistry<T> {
    fn default() -> SockRegistry<T> {
        SockRegistry::new()
    }
}

impl<T> SockRegistry<T> {
    pub const fn new() -> SockRegistry<T> {
        SockRegistry(Mutex::new(Vec::new()))
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Weak<T>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a new socket.
    pub fn add(&self, sock: &Arc<T>) {
        let mut all = self.lock();
        if all.len() == all.capacity() {
            all.retain(|w| w.strong_count() > 0);
        }
        all.push(Arc::downgrade(sock));
    }

    /// The sockets still alive, oldest first.
    pub fn live(&self) -> Vec<Arc<T>> {
        self.lock().iter().filter_map(Weak::upgrade).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A socket that reads "hello", swallows writes and remembers its last close.
    struct Fake {
        queue: WaitQueue,
        closed: AtomicBool,
    }

    impl Sock for Fake {
        fn identity(&self) -> SockIdentity {
            SockIdentity {
                ino: 42,
                uid: 1,
                gid: 2,
                ctime: Timespec::default(),
            }
        }
        fn file_read(&self, _task: TaskRef, len: usize, nonblock: bool) -> SysResult<Vec<u8>> {
            if !nonblock {
                return Err(Errno::EINTR);
            }
            Ok(b"hello"[..len.min(5)].to_vec())
        }
        fn file_write(&self, _task: TaskRef, buf: &[u8], _nonblock: bool) -> SysResult<usize> {
            Ok(buf.len())
        }
        fn poll_events(&self) -> u32 {
            libc::POLLIN as u32
        }
        fn poll_queue(&self) -> &WaitQueue {
            &self.queue
        }
        fn poll_generation(&self) -> u64 {
            7
        }
        fn last_close(&self) {
            self.closed.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn registry_lists_live_sockets_oldest_first() {
        let r: SockRegistry<u32> = SockRegistry::new();
        let (a, b) = (Arc::new(1), Arc::new(2));
        r.add(&a);
        r.add(&b);
        for _ in 0..10 {
            r.add(&Arc::new(0));
        }
        drop(a);
        assert_eq!(r.live(), vec![Arc::new(2)]);
        assert!(r.lock().len() <= 12);
    }

    #[test]
    fn sock_file_reads_writes_polls_and_closes_through_the_socket() {
        let sock = Arc::new(Fake {
            queue: WaitQueue::new(),
            closed: AtomicBool::new(false),
        });
        let f = socket_file(sock.clone(), libc::O_NONBLOCK);
        assert_eq!(f.path(), b"socket:[42]".to_vec());
        let mut b = [0u8; 3];
        assert_eq!(f.read_inner(None, &mut b), Ok(3));
        assert_eq!(&b, b"hel");
        assert_eq!(f.write_inner(None, b"xy"), Ok(2));
        assert_eq!(f.readiness(libc::POLLIN as u32), libc::POLLIN as u32);
        let st = f.stat_vfs(None).unwrap();
        assert_eq!((st.ino, st.mode & libc::S_IFMT), (42, libc::S_IFSOCK));
        let ops = f.ops_as::<SockFile<Fake>>().unwrap();
        assert!(Arc::ptr_eq(ops.socket(), &sock));
        assert_eq!(
            ops.ioctl(libc::FIONREAD as u32, &mut [0u8; 4]),
            Err(Errno::ENOTTY)
        );
        drop(f);
        assert!(sock.closed.load(Ordering::SeqCst));
    }
}
