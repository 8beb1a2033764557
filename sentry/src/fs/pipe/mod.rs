//! Anonymous pipes (pipe(7); Linux `fs/pipe.c`, gVisor `pkg/sentry/kernel/pipe`): a bounded
//! byte buffer (64 KiB by default, F_SETPIPE_SZ changes it) shared by a read end and a write end.
//! Writes of at most `PIPE_BUF` bytes are atomic; readers block until data or until every writer
//! is gone (EOF); writers block until there is room and fail with EPIPE once every reader is gone;
//! O_NONBLOCK turns waiting into EAGAIN. O_DIRECT write ends make packets (each write of up to
//! `PIPE_BUF` bytes is read by exactly one read, the excess of a short read is discarded).
//!
//! Reader and writer counts follow open file descriptions: each `PipeEnd` is the `FileOps` of one
//! description and counts itself out when dropped (the last reference of the description closed,
//! in any process that shares it after fork).
//!
//! Lock order: `Pipe::state`, released before notifying `Pipe::queue`.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::kernel::wait::WaitQueue;
use crate::vfs::Timespec;
use crate::vfs::{Dentry, FileDescription, FileOps, Inode, Positioning, Stat, StatFs, TaskRef};
use crate::{Errno, SysResult};

/// Bytes a write may move atomically (`PIPE_BUF`).
pub const PIPE_BUF: usize = 4096;
/// Default capacity (16 pages, Linux `PIPE_DEF_BUFFERS`).
pub const DEFAULT_CAPACITY: usize = 65536;
/// `/proc/sys/fs/pipe-max-size`: the most an unprivileged F_SETPIPE_SZ may ask for.
pub const MAX_CAPACITY: usize = 1 << 20;
/// The page size capacities are rounded to.
const PAGE: usize = 4096;
/// `F_SETPIPE_SZ` and `F_GETPIPE_SZ` (include/uapi/linux/fcntl.h).
pub const F_SETPIPE_SZ: i32 = 1031;
pub const F_GETPIPE_SZ: i32 = 1032;
/// `FIONREAD` (include/uapi/asm-generic/ioctls.h).
const FIONREAD: u32 = 0x541b;
/// `PIPEFS_MAGIC`.
const PIPEFS_MAGIC: i64 = 0x5049_5045;
/// Device number pipes report in st_dev (an anonymous device, as pipefs has on Linux).
const PIPEFS_DEV: u64 = 0x0e;

static NEXT_INO: AtomicU64 = AtomicU64::new(1);

/// One page of buffered data (Linux `struct pipe_buffer`): a packet (from an O_DIRECT writer)
/// or stream bytes that later small writes may be merged into.
struct Buffer {
    data: Vec<u8>,
    /// Bytes already read.
    off: usize,
    packet: bool,
}

impl Buffer {
    fn remaining(&self) -> usize {
        self.data.len() - self.off
    }
}

struct State {
    bufs: VecDeque<Buffer>,
    /// Capacity in page slots (F_GETPIPE_SZ is this times the page size).
    slots: usize,
    readers: usize,
    writers: usize,
    /// How many read and write ends were ever opened (Linux `r_counter`/`w_counter`): a FIFO
    /// opener waits for the count of the other side to change, not for it to be non-zero, so
    /// a partner that opened and already closed still completes the open.
    r_counter: u64,
    w_counter: u64,
    /// Events for edge-triggered epoll: data arrived / writers left; room freed / readers left.
    in_gen: u64,
    out_gen: u64,
    /// The page of the last buffer read empty, kept (cleared) for the next write into an
    /// empty slot, as Linux keeps `pipe->tmp_page` (`anon_pipe_buf_release`): a pipe used as
    /// a ping-pong channel makes no allocation per write. Empty (capacity 0) when there is
    /// none.
    spare: Vec<u8>,
}

impl State {
    fn is_empty(&self) -> bool {
        self.bufs.is_empty()
    }
    fn is_full(&self) -> bool {
        self.bufs.len() >= self.slots
    }
    fn len(&self) -> usize {
        self.bufs.iter().map(Buffer::remaining).sum()
    }

    /// Drops the front buffer (read empty, or a packet whose rest is discarded), keeping its
    /// page as the spare.
    fn pop_front(&mut self) {
        if let Some(b) = self.bufs.pop_front() {
            if self.spare.capacity() == 0 {
                self.spare = b.data;
                self.spare.clear();
            }
        }
    }

    /// A page to fill with `bytes`: the spare if there is one, else a new page. Pages hold a
    /// whole `PAGE` from the start, so later small writes merge into them without growing.
    fn new_page(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut data = std::mem::take(&mut self.spare);
        if data.capacity() < PAGE {
            data = Vec::with_capacity(PAGE);
        }
        data.extend_from_slice(bytes);
        data
    }

    /// Takes up to `buf.len()` bytes from the front buffers; a packet ends the read (its
    /// unread rest is discarded), as Linux `pipe_read` does.
    fn pop(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() {
            let Some(b) = self.bufs.front_mut() else {
                break;
            };
            let take = b.remaining().min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&b.data[b.off..b.off + take]);
            b.off += take;
            n += take;
            let packet = b.packet;
            if packet || b.remaining() == 0 {
                self.pop_front();
            }
            if packet {
                break;
            }
        }
        if n > 0 {
            self.out_gen += 1;
        }
        n
    }
}

/// The pipe object both ends share.
pub struct Pipe {
    state: Mutex<State>,
    queue: WaitQueue,
    ino: u64,
    uid: u32,
    gid: u32,
    ctime: Timespec,
}

impl Pipe {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until `ready` holds on the state (or EINTR). Without a task (the sentry itself,
    /// tests) the wait cannot be interrupted.
    fn block(&self, task: TaskRef, ready: impl Fn(&State) -> bool) -> SysResult<()> {
        let waker = task.map(|t| t.waker.clone()).unwrap_or_default();
        let _reg = self.queue.register(&waker);
        waker.wait_until(None, || ready(&self.lock()))
    }

    fn read(&self, task: TaskRef, buf: &mut [u8], nonblock: bool) -> SysResult<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            {
                let mut st = self.lock();
                if !st.is_empty() {
                    let n = st.pop(buf);
                    drop(st);
                    self.queue.notify();
                    return Ok(n);
                }
                if st.writers == 0 {
                    return Ok(0);
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            self.block(task, |st| !st.is_empty() || st.writers == 0)?;
        }
    }

    /// Linux `pipe_write`: the tail of a write (its length modulo the page size) first merges
    /// into the last buffer if that is a non-packet page with room; the rest goes into new pages,
    /// one per free slot. A write of at most a page therefore lands whole (atomic, PIPE_BUF).
    fn write(&self, task: TaskRef, buf: &[u8], nonblock: bool, packet: bool) -> SysResult<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut done = 0;
        {
            let mut st = self.lock();
            if st.readers == 0 {
                return Err(Errno::EPIPE);
            }
            let chars = buf.len() % PAGE;
            if let Some(last) = st.bufs.back_mut() {
                if chars > 0 && !last.packet && last.data.len() + chars <= PAGE {
                    last.data.extend_from_slice(&buf[..chars]);
                    done = chars;
                    st.in_gen += 1;
                }
            }
        }
        if done > 0 {
            self.queue.notify();
            if done == buf.len() {
                return Ok(done);
            }
        }
        loop {
            let mut progressed = false;
            {
                let mut st = self.lock();
                if st.readers == 0 {
                    return if done > 0 {
                        Ok(done)
                    } else {
                        Err(Errno::EPIPE)
                    };
                }
                while !st.is_full() && done < buf.len() {
                    let copy = PAGE.min(buf.len() - done);
                    let data = st.new_page(&buf[done..done + copy]);
                    st.bufs.push_back(Buffer {
                        data,
                        off: 0,
                        packet,
                    });
                    done += copy;
                    progressed = true;
                }
                if progressed {
                    st.in_gen += 1;
                }
            }
            if progressed {
                self.queue.notify();
            }
            if done == buf.len() {
                return Ok(done);
            }
            if nonblock {
                return if done > 0 {
                    Ok(done)
                } else {
                    Err(Errno::EAGAIN)
                };
            }
            if let Err(e) = self.block(task, |st| st.readers == 0 || !st.is_full()) {
                return if done > 0 { Ok(done) } else { Err(e) };
            }
        }
    }

    fn set_capacity(&self, task: TaskRef, arg: u64) -> SysResult<u64> {
        if arg > 1 << 31 {
            return Err(Errno::EINVAL);
        }
        let size = usize::try_from(arg).map_err(|_| Errno::EINVAL)?;
        let size = size.max(PAGE).next_power_of_two();
        let privileged = task.is_none_or(|t| t.creds.euid == 0);
        if size > MAX_CAPACITY && !privileged {
            return Err(Errno::EPERM);
        }
        let mut st = self.lock();
        if size / PAGE < st.bufs.len() {
            return Err(Errno::EBUSY);
        }
        st.slots = size / PAGE;
        st.out_gen += 1;
        drop(st);
        self.queue.notify();
        Ok(size as u64)
    }

    fn stat(&self) -> Stat {
        Stat {
            dev: PIPEFS_DEV,
            ino: self.ino,
            mode: libc::S_IFIFO | 0o600,
            nlink: 1,
            uid: self.uid,
            gid: self.gid,
            blksize: PAGE as i64,
            atime: self.ctime,
            mtime: self.ctime,
            ctime: self.ctime,
            ..Default::default()
        }
    }
}

/// One end of a pipe: the operations of one open file description.
pub struct PipeEnd {
    pipe: Arc<Pipe>,
    reads: bool,
    writes: bool,
}

impl PipeEnd {
    fn new(pipe: Arc<Pipe>, reads: bool, writes: bool) -> Arc<PipeEnd> {
        {
            let mut st = pipe.lock();
            st.readers += usize::from(reads);
            st.writers += usize::from(writes);
            st.r_counter += u64::from(reads);
            st.w_counter += u64::from(writes);
        }
        Arc::new(PipeEnd {
            pipe,
            reads,
            writes,
        })
    }
}

/// What splice(2), tee(2) and vmsplice(2) need of a pipe end (Linux `fs/splice.c` works on
/// `pipe_inode_info` directly): waiting for data or room, peeking without consuming, and
/// discarding what another file took.
impl PipeEnd {
    /// This end reads (an O_RDONLY or O_RDWR end).
    pub fn is_read_end(&self) -> bool {
        self.reads
    }
    /// This end writes.
    pub fn is_write_end(&self) -> bool {
        self.writes
    }
    /// Both ends belong to one pipe.
    pub fn same_pipe(&self, other: &PipeEnd) -> bool {
        Arc::ptr_eq(&self.pipe, &other.pipe)
    }
    /// Bytes buffered now.
    pub fn buffered(&self) -> usize {
        self.pipe.lock().len()
    }
    /// Waits until the pipe holds data (its byte count) or has no writer left (0, EOF);
    /// `nonblock` makes an empty pipe with writers EAGAIN.
    pub fn wait_data(&self, task: TaskRef, nonblock: bool) -> SysResult<usize> {
        loop {
            {
                let st = self.pipe.lock();
                if !st.is_empty() {
                    return Ok(st.len());
                }
                if st.writers == 0 {
                    return Ok(0);
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            self.pipe
                .block(task, |st| !st.is_empty() || st.writers == 0)?;
        }
    }
    /// Waits until the pipe has a free page slot; returns the bytes that fit in the free slots.
    /// EPIPE once no reader is left; `nonblock` makes a full pipe EAGAIN.
    pub fn wait_room(&self, task: TaskRef, nonblock: bool) -> SysResult<usize> {
        loop {
            {
                let st = self.pipe.lock();
                if st.readers == 0 {
                    return Err(Errno::EPIPE);
                }
                if !st.is_full() {
                    return Ok((st.slots - st.bufs.len()) * PAGE);
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            self.pipe
                .block(task, |st| st.readers == 0 || !st.is_full())?;
        }
    }
    /// Copies up to `buf.len()` buffered bytes from the front without consuming them.
    pub fn peek(&self, buf: &mut [u8]) -> usize {
        let st = self.pipe.lock();
        let mut n = 0;
        for b in &st.bufs {
            if n == buf.len() {
                break;
            }
            let take = b.remaining().min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&b.data[b.off..b.off + take]);
            n += take;
        }
        n
    }
    /// Discards up to `n` bytes from the front (what a splice moved elsewhere).
    pub fn consume(&self, n: usize) {
        let mut left = n;
        {
            let mut st = self.pipe.lock();
            while left > 0 {
                let Some(b) = st.bufs.front_mut() else {
                    break;
                };
                let take = b.remaining().min(left);
                b.off += take;
                left -= take;
                if b.remaining() == 0 {
                    st.pop_front();
                }
            }
            if left < n {
                st.out_gen += 1;
            }
        }
        self.pipe.queue.notify();
    }
    /// Writes `buf` into the pipe as write(2) would (without the end's own status flags).
    pub fn push(&self, task: TaskRef, buf: &[u8], nonblock: bool) -> SysResult<usize> {
        self.pipe.write(task, buf, nonblock, false)
    }
    /// Reads from the pipe as read(2) would (without the end's own status flags).
    pub fn pull(&self, task: TaskRef, buf: &mut [u8], nonblock: bool) -> SysResult<usize> {
        self.pipe.read(task, buf, nonblock)
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        {
            let mut st = self.pipe.lock();
            if self.reads {
                st.readers -= 1;
                st.out_gen += 1;
            }
            if self.writes {
                st.writers -= 1;
                st.in_gen += 1;
            }
        }
        self.pipe.queue.notify();
    }
}

const IN_EVENTS: u32 = (libc::POLLIN | libc::POLLRDNORM | libc::POLLHUP) as u32;
const OUT_EVENTS: u32 = (libc::POLLOUT | libc::POLLWRNORM | libc::POLLERR) as u32;

impl FileOps for PipeEnd {
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
        if !self.reads {
            return Err(Errno::EBADF);
        }
        self.pipe.read(task, buf, flags & libc::O_NONBLOCK != 0)
    }
    fn write_with_flags(&self, task: TaskRef, buf: &[u8], flags: i32) -> SysResult<usize> {
        if !self.writes {
            return Err(Errno::EBADF);
        }
        self.pipe.write(
            task,
            buf,
            flags & libc::O_NONBLOCK != 0,
            flags & libc::O_DIRECT != 0,
        )
    }
    fn stat(&self) -> Option<SysResult<Stat>> {
        Some(Ok(self.pipe.stat()))
    }
    fn ioctl(&self, req: u32, arg: &mut [u8]) -> SysResult<u64> {
        match req {
            FIONREAD => {
                let n = i32::try_from(self.pipe.lock().len()).unwrap_or(i32::MAX);
                let out = arg.get_mut(..4).ok_or(Errno::EFAULT)?;
                out.copy_from_slice(&n.to_ne_bytes());
                Ok(0)
            }
            _ => Err(Errno::ENOTTY),
        }
    }
    fn fcntl(&self, task: TaskRef, cmd: i32, arg: u64) -> SysResult<u64> {
        match cmd {
            F_GETPIPE_SZ => Ok((self.pipe.lock().slots * PAGE) as u64),
            F_SETPIPE_SZ => self.pipe.set_capacity(task, arg),
            _ => Err(Errno::EINVAL),
        }
    }
    fn supports_poll(&self) -> bool {
        true
    }
    fn readiness(&self, _mask: u32) -> u32 {
        let st = self.pipe.lock();
        let mut ev = 0u32;
        if self.reads {
            if !st.is_empty() {
                ev |= (libc::POLLIN | libc::POLLRDNORM) as u32;
            }
            // Linux `pipe_poll` reports EPOLLHUP, never EPOLLRDHUP (a socket event).
            if st.writers == 0 {
                ev |= libc::POLLHUP as u32;
            }
        }
        if self.writes {
            if !st.is_full() {
                ev |= (libc::POLLOUT | libc::POLLWRNORM) as u32;
            }
            if st.readers == 0 {
                ev |= libc::POLLERR as u32;
            }
        }
        ev
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pipe.queue)
    }
    fn generation(&self, mask: u32) -> u64 {
        let st = self.pipe.lock();
        let mut g = 0;
        if mask & IN_EVENTS != 0 {
            g += st.in_gen;
        }
        if mask & OUT_EVENTS != 0 {
            g += st.out_gen;
        }
        g
    }
}

/// The pipe's inode: what fstat reports and what reopening /proc/self/fd/N opens (a new end
/// of the same pipe, as for a FIFO).
struct PipeInode {
    pipe: Arc<Pipe>,
}

impl Inode for PipeInode {
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
        Ok(self.pipe.stat())
    }
    fn open(&self, _task: TaskRef, flags: i32) -> SysResult<Arc<dyn FileOps>> {
        let (r, w) = match flags & libc::O_ACCMODE {
            libc::O_RDONLY => (true, false),
            libc::O_WRONLY => (false, true),
            _ => (true, true),
        };
        Ok(PipeEnd::new(self.pipe.clone(), r, w))
    }
    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(PIPEFS_MAGIC))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A pipe with no ends yet: the one behind a FIFO (mknod S_IFIFO), whose ends `open_fifo`
/// makes, or behind pipe2's two descriptors.
pub fn new_fifo(uid: u32, gid: u32) -> Arc<Pipe> {
    Arc::new(Pipe {
        state: Mutex::new(State {
            bufs: VecDeque::new(),
            slots: DEFAULT_CAPACITY / PAGE,
            readers: 0,
            writers: 0,
            r_counter: 0,
            w_counter: 0,
            in_gen: 0,
            out_gen: 0,
            spare: Vec::new(),
        }),
        queue: WaitQueue::new(),
        ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
        uid,
        gid,
        ctime: Timespec::now(),
    })
}

/// open(2) of a FIFO (Linux `fifo_open`): a reader waits for a writer and a writer for a
/// reader unless O_NONBLOCK; a non-blocking writer without readers is ENXIO; O_RDWR never
/// waits.
pub fn open_fifo(pipe: &Arc<Pipe>, task: TaskRef, flags: i32) -> SysResult<Arc<dyn FileOps>> {
    let nonblock = flags & libc::O_NONBLOCK != 0;
    match flags & libc::O_ACCMODE {
        libc::O_RDONLY => {
            // The writer count seen before this reader counts itself: a writer that opens
            // (and maybe closes again) from then on moves `w_counter` and ends the wait, as
            // Linux's fifo_open sees it under the pipe's mutex.
            let (writers, seen) = {
                let st = pipe.lock();
                (st.writers, st.w_counter)
            };
            let end = PipeEnd::new(pipe.clone(), true, false);
            pipe.lock().in_gen += 1;
            pipe.queue.notify();
            if !nonblock && writers == 0 {
                pipe.block(task, |st| st.w_counter != seen || st.writers > 0)?;
            }
            Ok(end)
        }
        libc::O_WRONLY => {
            if nonblock && pipe.lock().readers == 0 {
                return Err(Errno::ENXIO);
            }
            // As for a reader: the reader count seen before this writer counts itself.
            let (readers, seen) = {
                let st = pipe.lock();
                (st.readers, st.r_counter)
            };
            let end = PipeEnd::new(pipe.clone(), false, true);
            pipe.lock().out_gen += 1;
            pipe.queue.notify();
            if !nonblock && readers == 0 {
                pipe.block(task, |st| st.r_counter != seen || st.readers > 0)?;
            }
            Ok(end)
        }
        _ => {
            let end = PipeEnd::new(pipe.clone(), true, true);
            pipe.queue.notify();
            Ok(end)
        }
    }
}

/// pipe2(2): a new pipe's (read end, write end). `flags` may hold O_NONBLOCK and O_DIRECT
/// (O_CLOEXEC belongs to the descriptors and is the caller's business).
pub fn new_pipe(uid: u32, gid: u32, flags: i32) -> (Arc<FileDescription>, Arc<FileDescription>) {
    let pipe = new_fifo(uid, gid);
    let name = format!("pipe:[{}]", pipe.ino).into_bytes();
    let inode: Arc<dyn Inode> = Arc::new(PipeInode { pipe: pipe.clone() });
    let dentry = Dentry::anonymous(name, inode);
    let status = flags & (libc::O_NONBLOCK | libc::O_DIRECT);
    let r = FileDescription::new(
        dentry.clone(),
        PipeEnd::new(pipe.clone(), true, false),
        libc::O_RDONLY | status,
    );
    let w = FileDescription::new(
        dentry,
        PipeEnd::new(pipe, false, true),
        libc::O_WRONLY | status,
    );
    (r, w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const POLLIN: u32 = libc::POLLIN as u32;
    const POLLOUT: u32 = libc::POLLOUT as u32;
    const POLLHUP: u32 = libc::POLLHUP as u32;
    const POLLERR: u32 = libc::POLLERR as u32;

    #[test]
    fn write_then_read_and_eof_after_writer_closes() {
        let (r, w) = new_pipe(0, 0, 0);
        assert_eq!(w.write_inner(None, b"hello").unwrap(), 5);
        let mut b = [0u8; 16];
        assert_eq!(r.read_inner(None, &mut b).unwrap(), 5);
        assert_eq!(&b[..5], b"hello");
        drop(w);
        assert_eq!(r.read_inner(None, &mut b).unwrap(), 0);
        assert_eq!(r.readiness(POLLIN) & POLLHUP, POLLHUP);
    }

    #[test]
    fn nonblocking_ends_say_eagain_and_fill_to_capacity() {
        let (r, w) = new_pipe(0, 0, libc::O_NONBLOCK);
        let mut b = [0u8; 8];
        assert_eq!(r.read_inner(None, &mut b), Err(Errno::EAGAIN));
        let big = vec![7u8; 100_000];
        assert_eq!(w.write_inner(None, &big).unwrap(), DEFAULT_CAPACITY);
        assert_eq!(w.write_inner(None, b"x"), Err(Errno::EAGAIN));
        assert_eq!(w.readiness(POLLOUT), 0);
        let mut n = [0u8; 4];
        r.ioctl(FIONREAD, &mut n).unwrap();
        assert_eq!(i32::from_ne_bytes(n) as usize, DEFAULT_CAPACITY);
        // An atomic write must fit whole.
        assert_eq!(r.read_inner(None, &mut b).unwrap(), 8);
        // Capacity is in pages: a partly read page still holds its slot.
        assert_eq!(w.write_inner(None, &[1u8; 100]), Err(Errno::EAGAIN));
        let mut rest = vec![0u8; PAGE - 8];
        assert_eq!(r.read_inner(None, &mut rest).unwrap(), PAGE - 8);
        assert_eq!(w.write_inner(None, &[1u8; 100]).unwrap(), 100);
        // Small writes merge into the last page while it has room.
        assert_eq!(w.write_inner(None, &[1u8; 3000]).unwrap(), 3000);
        assert_eq!(w.write_inner(None, &[1u8; 1000]), Err(Errno::EAGAIN));
        assert_eq!(w.write_inner(None, &[1u8; 996]).unwrap(), 996);
    }

    #[test]
    fn an_emptied_page_is_reused_clean_by_the_next_write() {
        let (r, w) = new_pipe(0, 0, libc::O_NONBLOCK | libc::O_DIRECT);
        let pipe = r.ops_as::<PipeEnd>().unwrap().pipe.clone();
        // A packet read short: its unread rest is discarded, its page kept as the spare.
        w.write_inner(None, b"stale bytes").unwrap();
        let mut b = [0u8; 5];
        assert_eq!(r.read_inner(None, &mut b).unwrap(), 5);
        assert_eq!(pipe.lock().spare.capacity(), PAGE);
        let kept = pipe.lock().spare.as_ptr();
        w.write_inner(None, b"new").unwrap();
        assert!(pipe.lock().spare.capacity() == 0);
        assert_eq!(
            pipe.lock().bufs.front().map(|b| b.data.as_ptr()),
            Some(kept)
        );
        let mut all = [0u8; 16];
        assert_eq!(r.read_inner(None, &mut all).unwrap(), 3);
        assert_eq!(&all[..3], b"new");
        // Two pages emptied at once: one is kept, the other freed.
        w.write_inner(None, &[1u8; PAGE]).unwrap();
        w.write_inner(None, &[2u8; PAGE]).unwrap();
        let mut big = vec![0u8; 2 * PAGE];
        assert_eq!(r.read_inner(None, &mut big).unwrap(), PAGE);
        assert_eq!(r.read_inner(None, &mut big).unwrap(), PAGE);
        assert!(big[..PAGE].iter().all(|&x| x == 2));
        assert_eq!(pipe.lock().spare.capacity(), PAGE);
        assert!(pipe.lock().spare.is_empty());
    }

    #[test]
    fn peek_keeps_data_and_consume_drops_it() {
        let (r, w) = new_pipe(0, 0, libc::O_NONBLOCK);
        w.write_inner(None, b"abcdef").unwrap();
        let re = r.ops_as::<PipeEnd>().unwrap();
        let we = w.ops_as::<PipeEnd>().unwrap();
        assert!(re.same_pipe(we) && re.is_read_end() && !re.is_write_end());
        assert_eq!(re.wait_data(None, true).unwrap(), 6);
        let mut b = [0u8; 4];
        assert_eq!(re.peek(&mut b), 4);
        assert_eq!(&b, b"abcd");
        re.consume(2);
        assert_eq!(re.buffered(), 4);
        assert_eq!(we.wait_room(None, true).unwrap(), DEFAULT_CAPACITY - PAGE);
        let mut rest = [0u8; 8];
        assert_eq!(r.read_inner(None, &mut rest).unwrap(), 4);
        assert_eq!(&rest[..4], b"cdef");
        assert_eq!(re.wait_data(None, true), Err(Errno::EAGAIN));
        drop(w);
        assert_eq!(re.wait_data(None, true).unwrap(), 0);
    }

    #[test]
    fn epipe_when_no_reader() {
        let (r, w) = new_pipe(0, 0, 0);
        drop(r);
        assert_eq!(w.write_inner(None, b"x"), Err(Errno::EPIPE));
        assert_eq!(w.readiness(POLLOUT) & POLLERR, POLLERR);
    }

    #[test]
    fn capacity_changes_round_up_and_refuse_shrinking_below_content() {
        let (r, w) = new_pipe(0, 0, libc::O_NONBLOCK);
        assert_eq!(r.fcntl(None, F_GETPIPE_SZ, 0).unwrap(), 65536);
        assert_eq!(w.fcntl(None, F_SETPIPE_SZ, 5000).unwrap(), 8192);
        assert_eq!(r.fcntl(None, F_GETPIPE_SZ, 0).unwrap(), 8192);
        assert_eq!(w.fcntl(None, F_SETPIPE_SZ, 0).unwrap(), 4096);
        w.write_inner(None, &[0u8; 4096]).unwrap();
        assert_eq!(w.write_inner(None, &[0u8; 1]), Err(Errno::EAGAIN));
        assert_eq!(w.fcntl(None, F_SETPIPE_SZ, 10), Ok(4096));
        w.fcntl(None, F_SETPIPE_SZ, 65536).unwrap();
        w.write_inner(None, &[0u8; 10]).unwrap();
        assert_eq!(w.fcntl(None, F_SETPIPE_SZ, 10), Err(Errno::EBUSY));
        assert_eq!(w.fcntl(None, 9999, 0), Err(Errno::EINVAL));
    }

    #[test]
    fn packets_are_read_one_per_read() {
        let (r, w) = new_pipe(0, 0, libc::O_DIRECT | libc::O_NONBLOCK);
        w.write_inner(None, b"abc").unwrap();
        w.write_inner(None, b"defgh").unwrap();
        let mut b = [0u8; 16];
        assert_eq!(r.read_inner(None, &mut b).unwrap(), 3);
        let mut small = [0u8; 2];
        assert_eq!(r.read_inner(None, &mut small).unwrap(), 2);
        assert_eq!(&small, b"de");
        assert_eq!(r.read_inner(None, &mut b), Err(Errno::EAGAIN));
    }

    #[test]
    fn fifo_reader_open_completes_even_if_the_writer_already_left() {
        let pipe = new_fifo(0, 0);
        let p2 = pipe.clone();
        let reader = std::thread::spawn(move || open_fifo(&p2, None, libc::O_RDONLY).map(|_| ()));
        // Once the reader waits in the FIFO, a writer opens and closes before the reader is
        // woken: the reader can only ever see the writer gone again.
        while pipe.lock().readers == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(PipeEnd::new(pipe.clone(), false, true));
        pipe.queue.notify();
        assert_eq!(reader.join().unwrap(), Ok(()));
    }

    #[test]
    fn blocked_reader_wakes_on_write_and_on_last_writer_close() {
        let (r, w) = new_pipe(0, 0, 0);
        let w2 = w.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            w2.write_inner(None, b"z").unwrap();
            std::thread::sleep(Duration::from_millis(20));
            drop(w2);
        });
        let mut b = [0u8; 4];
        assert_eq!(r.read_inner(None, &mut b).unwrap(), 1);
        drop(w);
        assert_eq!(r.read_inner(None, &mut b).unwrap(), 0);
        t.join().unwrap();
    }

    #[test]
    fn blocked_writer_wakes_when_room_is_made() {
        let (r, w) = new_pipe(0, 0, 0);
        w.write_inner(None, &vec![1u8; DEFAULT_CAPACITY]).unwrap();
        let t = std::thread::spawn(move || w.write_inner(None, &[2u8; 100]).unwrap());
        std::thread::sleep(Duration::from_millis(20));
        // Room means a free page slot: a read of a whole page makes one.
        let mut b = vec![0u8; PAGE];
        assert_eq!(r.read_inner(None, &mut b).unwrap(), PAGE);
        assert_eq!(t.join().unwrap(), 100);
    }

    #[test]
    fn fstat_is_a_fifo_and_the_name_is_pipe_ino() {
        let (r, w) = new_pipe(5, 6, 0);
        let st = r.stat_vfs(None).unwrap();
        assert_eq!(st.file_type(), libc::S_IFIFO);
        assert_eq!(st.uid, 5);
        assert_eq!(r.path(), format!("pipe:[{}]", st.ino).into_bytes());
        assert_eq!(w.stat_vfs(None).unwrap().ino, st.ino);
        assert_eq!(r.write_inner(None, b"x"), Err(Errno::EBADF));
        assert_eq!(w.seek(None, 0, libc::SEEK_CUR), Err(Errno::ESPIPE));
    }
}
