//! eventfd objects (eventfd(2); Linux `fs/eventfd.c`, gVisor `pkg/sentry/fsimpl/eventfd`): a
//! 64-bit counter. write(2) adds an 8-byte value (blocking while the sum would pass
//! `u64::MAX - 1`), read(2) returns the counter and zeroes it, or with EFD_SEMAPHORE returns 1
//! and decrements it (blocking while it is 0). O_NONBLOCK makes waiting EAGAIN.
//!
//! Lock order: `EventFd::count`, released before notifying `EventFd::queue`.

use std::any::Any;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::kernel::wait::WaitQueue;
use crate::vfs::{Dentry, FileDescription, FileOps, Inode, Positioning, Stat, StatFs, TaskRef};
use crate::{Errno, SysResult};

/// `EFD_SEMAPHORE` (include/uapi/linux/eventfd.h).
pub const EFD_SEMAPHORE: i32 = 1;
/// The largest value the counter may hold.
const MAX_COUNT: u64 = u64::MAX - 1;
/// `ANON_INODE_FS_MAGIC`.
const ANON_INODE_FS_MAGIC: i64 = 0x0904_1934;

struct Counter {
    value: u64,
    /// Events for edge-triggered epoll: writes (readable) and reads (writable).
    in_gen: u64,
    out_gen: u64,
}

/// One eventfd object.
pub struct EventFd {
    count: Mutex<Counter>,
    semaphore: bool,
    queue: WaitQueue,
}

impl EventFd {
    fn lock(&self) -> MutexGuard<'_, Counter> {
        self.count.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn block(&self, task: TaskRef, ready: impl Fn(&Counter) -> bool) -> SysResult<()> {
        let waker = task.map(|t| t.waker.clone()).unwrap_or_default();
        let _reg = self.queue.register(&waker);
        waker.wait_until(None, || ready(&self.lock()))
    }
}

impl FileOps for EventFd {
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
        let out = buf.get_mut(..8).ok_or(Errno::EINVAL)?;
        loop {
            {
                let mut c = self.lock();
                if c.value > 0 {
                    let v = if self.semaphore { 1 } else { c.value };
                    c.value -= v;
                    c.out_gen += 1;
                    drop(c);
                    self.queue.notify();
                    out.copy_from_slice(&v.to_ne_bytes());
                    return Ok(8);
                }
            }
            if flags & libc::O_NONBLOCK != 0 {
                return Err(Errno::EAGAIN);
            }
            self.block(task, |c| c.value > 0)?;
        }
    }
    fn write_with_flags(&self, task: TaskRef, buf: &[u8], flags: i32) -> SysResult<usize> {
        let bytes: [u8; 8] = buf
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or(Errno::EINVAL)?;
        let v = u64::from_ne_bytes(bytes);
        if v == u64::MAX {
            return Err(Errno::EINVAL);
        }
        loop {
            {
                let mut c = self.lock();
                if MAX_COUNT - c.value >= v {
                    c.value += v;
                    if v > 0 {
                        c.in_gen += 1;
                    }
                    drop(c);
                    self.queue.notify();
                    return Ok(8);
                }
            }
            if flags & libc::O_NONBLOCK != 0 {
                return Err(Errno::EAGAIN);
            }
            self.block(task, |c| MAX_COUNT - c.value >= v)?;
        }
    }
    fn stat(&self) -> Option<SysResult<Stat>> {
        Some(Ok(anon_stat()))
    }
    fn supports_poll(&self) -> bool {
        true
    }
    fn readiness(&self, _mask: u32) -> u32 {
        let c = self.lock();
        let mut ev = 0;
        if c.value > 0 {
            ev |= (libc::POLLIN | libc::POLLRDNORM) as u32;
        }
        if c.value < MAX_COUNT {
            ev |= (libc::POLLOUT | libc::POLLWRNORM) as u32;
        }
        ev
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.queue)
    }
    fn generation(&self, mask: u32) -> u64 {
        let c = self.lock();
        let mut g = 0;
        if mask & (libc::POLLIN | libc::POLLRDNORM) as u32 != 0 {
            g += c.in_gen;
        }
        if mask & (libc::POLLOUT | libc::POLLWRNORM) as u32 != 0 {
            g += c.out_gen;
        }
        g
    }
}

/// What fstat reports for anonymous-inode files (eventfd, epoll): mode 0600, no file type.
pub(crate) fn anon_stat() -> Stat {
    Stat {
        dev: 0x0f,
        ino: 1,
        mode: 0o600,
        nlink: 1,
        blksize: 4096,
        ..Default::default()
    }
}

/// The inode behind every anonymous-inode file; reopening one through /proc is refused.
pub(crate) struct AnonInode;

impl Inode for AnonInode {
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
        Ok(anon_stat())
    }
    fn open(&self, _task: TaskRef, _flags: i32) -> SysResult<Arc<dyn FileOps>> {
        Err(Errno::ENXIO)
    }
    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(ANON_INODE_FS_MAGIC))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// eventfd2(2): a new eventfd with `initval`; `flags` may hold EFD_SEMAPHORE and EFD_NONBLOCK
/// (EFD_CLOEXEC is the caller's). EINVAL for other bits.
pub fn new_eventfd(initval: u32, flags: i32) -> SysResult<Arc<FileDescription>> {
    if flags & !(EFD_SEMAPHORE | libc::O_NONBLOCK | libc::O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let efd = Arc::new(EventFd {
        count: Mutex::new(Counter {
            value: u64::from(initval),
            in_gen: 0,
            out_gen: 0,
        }),
        semaphore: flags & EFD_SEMAPHORE != 0,
        queue: WaitQueue::new(),
    });
    let dentry = Dentry::anonymous(b"anon_inode:[eventfd]".to_vec(), Arc::new(AnonInode));
    Ok(FileDescription::new(
        dentry,
        efd,
        libc::O_RDWR | (flags & libc::O_NONBLOCK),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn read(f: &FileDescription) -> SysResult<u64> {
        let mut b = [0u8; 8];
        f.read_inner(None, &mut b)?;
        Ok(u64::from_ne_bytes(b))
    }

    #[test]
    fn counter_adds_and_reads_reset() {
        let f = new_eventfd(3, libc::O_NONBLOCK).unwrap();
        f.write_inner(None, &4u64.to_ne_bytes()).unwrap();
        assert_eq!(read(&f).unwrap(), 7);
        assert_eq!(read(&f), Err(Errno::EAGAIN));
        assert_eq!(f.readiness(libc::POLLIN as u32), 0);
        let mut short = [0u8; 4];
        assert_eq!(f.read_inner(None, &mut short), Err(Errno::EINVAL));
        assert_eq!(
            f.write_inner(None, &u64::MAX.to_ne_bytes()),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn semaphore_reads_one_at_a_time() {
        let f = new_eventfd(2, EFD_SEMAPHORE | libc::O_NONBLOCK).unwrap();
        assert_eq!(read(&f).unwrap(), 1);
        assert_eq!(read(&f).unwrap(), 1);
        assert_eq!(read(&f), Err(Errno::EAGAIN));
        assert_eq!(new_eventfd(0, 0x100).err(), Some(Errno::EINVAL));
    }

    #[test]
    fn overflowing_write_would_block() {
        let f = new_eventfd(0, libc::O_NONBLOCK).unwrap();
        f.write_inner(None, &(u64::MAX - 1).to_ne_bytes()).unwrap();
        assert_eq!(f.readiness(libc::POLLOUT as u32), 0);
        assert_eq!(f.write_inner(None, &1u64.to_ne_bytes()), Err(Errno::EAGAIN));
    }

    #[test]
    fn blocked_read_wakes_on_write() {
        let f = new_eventfd(0, 0).unwrap();
        let f2 = f.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            f2.write_inner(None, &5u64.to_ne_bytes()).unwrap();
        });
        assert_eq!(read(&f).unwrap(), 5);
        t.join().unwrap();
        assert_eq!(f.path(), b"anon_inode:[eventfd]".to_vec());
    }
}
