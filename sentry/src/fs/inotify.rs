//! inotify instances (inotify(7); Linux `fs/notify/inotify/inotify_user.c` and
//! `inotify_fsnotify.c`, gVisor `pkg/sentry/vfs/inotify.go`): watches on files named by
//! (st_dev, st_ino), a queue of `struct inotify_event` records read(2) returns whole, poll and
//! epoll readiness, FIONREAD.
//!
//! Events come from [`notify`], which the file syscalls call after an operation succeeded (the
//! least invasive hook: no filesystem or VFS code changes, and nothing runs while no watch
//! exists anywhere, see [`active`]). A watch is found through a process-wide registry keyed by
//! the watched file; only changes made inside the sandbox are seen.
//!
//! Lock order: `REGISTRY` before `Inotify::state`; the queue is notified with neither held.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::fs::eventfd::AnonInode;
use crate::kernel::wait::WaitQueue;
use crate::vfs::{Dentry, FileDescription, FileOps, Positioning, Stat, TaskRef};
use crate::{Errno, SysResult};

/// Event bits (include/uapi/linux/inotify.h).
pub const IN_ACCESS: u32 = 0x0000_0001;
pub const IN_MODIFY: u32 = 0x0000_0002;
pub const IN_ATTRIB: u32 = 0x0000_0004;
pub const IN_CLOSE_WRITE: u32 = 0x0000_0008;
pub const IN_CLOSE_NOWRITE: u32 = 0x0000_0010;
pub const IN_OPEN: u32 = 0x0000_0020;
pub const IN_MOVED_FROM: u32 = 0x0000_0040;
pub const IN_MOVED_TO: u32 = 0x0000_0080;
pub const IN_CREATE: u32 = 0x0000_0100;
pub const IN_DELETE: u32 = 0x0000_0200;
pub const IN_DELETE_SELF: u32 = 0x0000_0400;
pub const IN_MOVE_SELF: u32 = 0x0000_0800;
pub const IN_ALL_EVENTS: u32 = 0x0000_0fff;
pub const IN_UNMOUNT: u32 = 0x0000_2000;
pub const IN_Q_OVERFLOW: u32 = 0x0000_4000;
pub const IN_IGNORED: u32 = 0x0000_8000;
pub const IN_ONLYDIR: u32 = 0x0100_0000;
pub const IN_DONT_FOLLOW: u32 = 0x0200_0000;
pub const IN_EXCL_UNLINK: u32 = 0x0400_0000;
pub const IN_MASK_CREATE: u32 = 0x1000_0000;
pub const IN_MASK_ADD: u32 = 0x2000_0000;
pub const IN_ISDIR: u32 = 0x4000_0000;
pub const IN_ONESHOT: u32 = 0x8000_0000;
/// Every bit inotify_add_watch accepts.
pub const VALID_WATCH_BITS: u32 = IN_ALL_EVENTS
    | IN_ONLYDIR
    | IN_DONT_FOLLOW
    | IN_EXCL_UNLINK
    | IN_MASK_CREATE
    | IN_MASK_ADD
    | IN_ISDIR
    | IN_ONESHOT;

/// `sizeof(struct inotify_event)`: wd, mask, cookie, len.
pub const EVENT_SIZE: usize = 16;
/// `/proc/sys/fs/inotify/max_queued_events`.
const MAX_QUEUED: usize = 16384;
/// `/proc/sys/fs/inotify/max_user_watches` (per instance here).
const MAX_WATCHES: usize = 8192;
/// `FIONREAD`.
const FIONREAD: u32 = 0x541b;

/// A file's identity for watches: (st_dev, st_ino).
pub type FileKey = (u64, u64);

/// Watches on every file, by key, across instances.
static REGISTRY: Mutex<Vec<(FileKey, Weak<Inner>)>> = Mutex::new(Vec::new());
/// Live watches in the sandbox: zero means [`notify`] has nothing to do.
static WATCHES: AtomicUsize = AtomicUsize::new(0);
static COOKIE: AtomicU32 = AtomicU32::new(0);

fn registry() -> MutexGuard<'static, Vec<(FileKey, Weak<Inner>)>> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether any watch exists: callers skip gathering event details otherwise.
pub fn active() -> bool {
    WATCHES.load(Ordering::Relaxed) > 0
}

/// The last reference to an open file description of `d` went away (Linux `__fput`):
/// IN_CLOSE_WRITE if it was open for writing, else IN_CLOSE_NOWRITE, to the watches of its
/// directory (with its name) and of the file itself. Whatever dropped it (close, dup2 over
/// it, close-on-exec, the end of the process) gives the same events.
pub fn description_closed(d: &crate::vfs::dentry::Dentry, writable: bool) {
    if !active() {
        return;
    }
    let Ok(st) = d.inode.stat(None) else {
        return;
    };
    let mut mask = if writable {
        IN_CLOSE_WRITE
    } else {
        IN_CLOSE_NOWRITE
    };
    if st.is_dir() {
        mask |= IN_ISDIR;
    }
    if let Some(p) = d
        .parent
        .as_ref()
        .filter(|_| !d.name.is_empty() && d.mount.id != 0)
    {
        if let Ok(pst) = p.inode.stat(None) {
            notify((pst.dev, pst.ino), mask, 0, &d.name);
        }
    }
    notify((st.dev, st.ino), mask, 0, b"");
}

/// A fresh cookie tying an IN_MOVED_FROM to its IN_MOVED_TO.
pub fn next_cookie() -> u32 {
    COOKIE.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    wd: i32,
    mask: u32,
    cookie: u32,
    name: Vec<u8>,
}

impl Event {
    /// The record's `len`: the name with its NUL rounded up to the record size (Linux
    /// `round_event_name_len`), 0 without a name.
    fn name_len(&self) -> usize {
        if self.name.is_empty() {
            0
        } else {
            (self.name.len() + 1).div_ceil(EVENT_SIZE) * EVENT_SIZE
        }
    }
    fn size(&self) -> usize {
        EVENT_SIZE + self.name_len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.wd.to_ne_bytes());
        out.extend_from_slice(&self.mask.to_ne_bytes());
        out.extend_from_slice(&self.cookie.to_ne_bytes());
        let len = self.name_len();
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_ne_bytes());
        let start = out.len();
        out.extend_from_slice(&self.name);
        out.resize(start + len, 0);
    }
}

struct Watch {
    key: FileKey,
    mask: u32,
}

struct State {
    watches: HashMap<i32, Watch>,
    next_wd: i32,
    events: VecDeque<Event>,
    bytes: usize,
    /// Events queued so far (edge-triggered epoll).
    gen: u64,
}

impl State {
    /// Queues an event unless it repeats the last one (Linux `inotify_merge`); past the limit,
    /// one IN_Q_OVERFLOW stands for everything lost.
    fn push(&mut self, ev: Event) {
        if self.events.back() == Some(&ev) {
            return;
        }
        if self.events.len() >= MAX_QUEUED {
            let overflow = Event {
                wd: -1,
                mask: IN_Q_OVERFLOW,
                cookie: 0,
                name: Vec::new(),
            };
            if self.events.back() != Some(&overflow) {
                self.bytes += overflow.size();
                self.events.push_back(overflow);
                self.gen += 1;
            }
            return;
        }
        self.bytes += ev.size();
        self.events.push_back(ev);
        self.gen += 1;
    }

    fn remove_watch(&mut self, wd: i32) -> Option<Watch> {
        let w = self.watches.remove(&wd)?;
        WATCHES.fetch_sub(1, Ordering::Relaxed);
        self.push(Event {
            wd,
            mask: IN_IGNORED,
            cookie: 0,
            name: Vec::new(),
        });
        Some(w)
    }
}

/// One inotify instance: the `FileOps` of its file description.
pub struct Inotify {
    inner: Arc<Inner>,
}

/// The instance's state, which the registry refers to weakly.
struct Inner {
    state: Mutex<State>,
    queue: WaitQueue,
}

impl Inotify {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.lock()
    }

    /// inotify_add_watch(2) on the file `key` (`is_dir` for IN_ONLYDIR, checked by the
    /// caller): returns its watch descriptor, the same one for the same file.
    pub fn add_watch(&self, key: FileKey, mask: u32) -> SysResult<i32> {
        self.inner.add_watch(key, mask)
    }

    /// inotify_rm_watch(2): queues IN_IGNORED for the watch.
    pub fn rm_watch(&self, wd: i32) -> SysResult<()> {
        self.inner.rm_watch(wd)
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add_watch(self: &Arc<Self>, key: FileKey, mask: u32) -> SysResult<i32> {
        if mask & IN_MASK_ADD != 0 && mask & IN_MASK_CREATE != 0 {
            return Err(Errno::EINVAL);
        }
        let keep = IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK;
        let mut reg = registry();
        let mut st = self.lock();
        if let Some((&wd, w)) = st.watches.iter_mut().find(|(_, w)| w.key == key) {
            if mask & IN_MASK_CREATE != 0 {
                return Err(Errno::EEXIST);
            }
            if mask & IN_MASK_ADD != 0 {
                w.mask |= mask & keep;
            } else {
                w.mask = mask & keep;
            }
            return Ok(wd);
        }
        if st.watches.len() >= MAX_WATCHES {
            return Err(Errno::ENOSPC);
        }
        st.next_wd += 1;
        let wd = st.next_wd;
        st.watches.insert(
            wd,
            Watch {
                key,
                mask: mask & keep,
            },
        );
        WATCHES.fetch_add(1, Ordering::Relaxed);
        reg.retain(|(_, w)| w.strong_count() > 0);
        reg.push((key, Arc::downgrade(self)));
        Ok(wd)
    }

    fn rm_watch(&self, wd: i32) -> SysResult<()> {
        let removed = self.lock().remove_watch(wd).ok_or(Errno::EINVAL)?;
        let mut reg = registry();
        let me = self as *const Inner;
        reg.retain(|(k, w)| !(*k == removed.key && std::ptr::eq(w.as_ptr(), me)));
        drop(reg);
        self.queue.notify();
        Ok(())
    }

    /// Delivers an event on file `key` to this instance's watch of it, if it wants it.
    /// Returns whether the watch went away (IN_ONESHOT, or the file was deleted).
    fn deliver(&self, key: FileKey, mask: u32, cookie: u32, name: &[u8]) -> bool {
        let mut st = self.lock();
        let Some((&wd, w)) = st.watches.iter().find(|(_, w)| w.key == key) else {
            return false;
        };
        let wmask = w.mask;
        let mut gone = false;
        if wmask & mask & IN_ALL_EVENTS != 0 {
            st.push(Event {
                wd,
                mask: mask & (wmask | IN_ISDIR),
                cookie,
                name: name.to_vec(),
            });
            if wmask & IN_ONESHOT != 0 {
                st.remove_watch(wd);
                gone = true;
            }
        }
        drop(st);
        self.queue.notify();
        gone
    }

    fn read_events(&self, task: TaskRef, buf: &mut [u8], nonblock: bool) -> SysResult<usize> {
        loop {
            {
                let mut st = self.lock();
                if let Some(first) = st.events.front() {
                    if first.size() > buf.len() {
                        return Err(Errno::EINVAL);
                    }
                    let mut out = Vec::with_capacity(buf.len().min(st.bytes));
                    while let Some(ev) = st.events.front() {
                        if out.len() + ev.size() > buf.len() {
                            break;
                        }
                        ev.encode(&mut out);
                        let size = ev.size();
                        st.bytes -= size;
                        st.events.pop_front();
                    }
                    buf[..out.len()].copy_from_slice(&out);
                    return Ok(out.len());
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            let waker = task.map(|t| t.waker.clone()).unwrap_or_default();
            let _reg = self.queue.register(&waker);
            waker.wait_until(None, || !self.lock().events.is_empty())?;
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        WATCHES.fetch_sub(st.watches.len(), Ordering::Relaxed);
        st.watches.clear();
    }
}

/// Tells every watch of file `key` about event `mask` (IN_ISDIR may be or-ed in) with `name`
/// (empty for an event on the watched file itself) and `cookie` (0 unless a rename).
/// IN_ONESHOT watches go after their first event.
pub fn notify(key: FileKey, mask: u32, cookie: u32, name: &[u8]) {
    if !active() {
        return;
    }
    let targets: Vec<Arc<Inner>> = registry()
        .iter()
        .filter(|(k, _)| *k == key)
        .filter_map(|(_, w)| w.upgrade())
        .collect();
    let mut dropped = false;
    for ino in &targets {
        dropped |= ino.deliver(key, mask, cookie, name);
    }
    if dropped {
        registry().retain(|(k, w)| {
            *k != key
                || w.upgrade()
                    .is_some_and(|i| i.lock().watches.values().any(|x| x.key == *k))
        });
    }
}

/// The file `key` is gone (its last link removed): its watches go, each with IN_IGNORED.
pub fn forget(key: FileKey) {
    if !active() {
        return;
    }
    let targets: Vec<Arc<Inner>> = {
        let mut reg = registry();
        let t = reg
            .iter()
            .filter(|(k, _)| *k == key)
            .filter_map(|(_, w)| w.upgrade())
            .collect();
        reg.retain(|(k, _)| *k != key);
        t
    };
    for i in targets {
        let mut st = i.lock();
        let wds: Vec<i32> = st
            .watches
            .iter()
            .filter(|(_, w)| w.key == key)
            .map(|(&wd, _)| wd)
            .collect();
        for wd in wds {
            st.remove_watch(wd);
        }
        drop(st);
        i.queue.notify();
    }
}

/// Whether some watch is on file `key` (saves a caller the work of describing an event).
pub fn watched(key: FileKey) -> bool {
    active()
        && registry()
            .iter()
            .any(|(k, w)| *k == key && w.strong_count() > 0)
}

impl FileOps for Inotify {
    fn positioning(&self) -> Positioning {
        Positioning::Stream
    }
    fn read_stream(&self, task: TaskRef, buf: &mut [u8]) -> SysResult<usize> {
        self.inner.read_events(task, buf, false)
    }
    fn write_stream(&self, _task: TaskRef, _buf: &[u8]) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    fn read_with_flags(&self, task: TaskRef, buf: &mut [u8], flags: i32) -> SysResult<usize> {
        self.inner
            .read_events(task, buf, flags & libc::O_NONBLOCK != 0)
    }
    fn write_with_flags(&self, _task: TaskRef, _buf: &[u8], _flags: i32) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> Option<SysResult<Stat>> {
        Some(Ok(crate::fs::eventfd::anon_stat()))
    }
    fn ioctl(&self, req: u32, arg: &mut [u8]) -> SysResult<u64> {
        match req {
            FIONREAD => {
                let n = i32::try_from(self.lock().bytes).unwrap_or(i32::MAX);
                let out = arg.get_mut(..4).ok_or(Errno::EFAULT)?;
                out.copy_from_slice(&n.to_ne_bytes());
                Ok(0)
            }
            _ => Err(Errno::ENOTTY),
        }
    }
    fn supports_poll(&self) -> bool {
        true
    }
    fn readiness(&self, _mask: u32) -> u32 {
        if self.lock().events.is_empty() {
            0
        } else {
            (libc::POLLIN | libc::POLLRDNORM) as u32
        }
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.inner.queue)
    }
    fn generation(&self, _mask: u32) -> u64 {
        self.lock().gen
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// inotify_init1(2): a new instance's description; `flags` may hold IN_NONBLOCK and
/// IN_CLOEXEC (the caller applies the latter to the descriptor).
pub fn new_inotify(flags: i32) -> SysResult<(Arc<FileDescription>, Arc<Inotify>)> {
    if flags & !(libc::O_NONBLOCK | libc::O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let ino = Arc::new(Inotify {
        inner: Arc::new(Inner {
            state: Mutex::new(State {
                watches: HashMap::new(),
                next_wd: 0,
                events: VecDeque::new(),
                bytes: 0,
                gen: 0,
            }),
            queue: WaitQueue::new(),
        }),
    });
    let dentry = Dentry::anonymous(b"anon_inode:inotify".to_vec(), Arc::new(AnonInode));
    let file = FileDescription::new(
        dentry,
        ino.clone(),
        libc::O_RDONLY | (flags & libc::O_NONBLOCK),
    );
    Ok((file, ino))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(f: &FileDescription) -> Vec<(i32, u32, u32, Vec<u8>)> {
        let mut buf = vec![0u8; 4096];
        let n = f.read_inner(None, &mut buf).unwrap();
        let mut out = Vec::new();
        let mut i = 0;
        while i < n {
            let w = |j: usize| u32::from_ne_bytes(buf[i + j..i + j + 4].try_into().unwrap());
            let len = w(12) as usize;
            let name = buf[i + 16..i + 16 + len].to_vec();
            let name: Vec<u8> = name.into_iter().take_while(|&b| b != 0).collect();
            out.push((w(0) as i32, w(4), w(8), name));
            assert_eq!(len % EVENT_SIZE, 0);
            i += 16 + len;
        }
        out
    }

    // Keys far from any real (dev, ino) so that parallel tests do not meet.
    const DIR: FileKey = (0xfeed_0001, 1);
    const FILE: FileKey = (0xfeed_0001, 2);

    #[test]
    fn watches_events_padding_and_ignored() {
        let (f, ino) = new_inotify(libc::O_NONBLOCK).unwrap();
        let wd = ino.add_watch(DIR, IN_CREATE | IN_DELETE).unwrap();
        assert_eq!(ino.add_watch(DIR, IN_MODIFY | IN_MASK_ADD).unwrap(), wd);
        assert_eq!(
            ino.add_watch(DIR, IN_MODIFY | IN_MASK_CREATE),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            ino.add_watch(DIR, IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE),
            Err(Errno::EINVAL)
        );
        let mut small = [0u8; 4];
        assert_eq!(f.read_inner(None, &mut small), Err(Errno::EAGAIN));
        notify(DIR, IN_CREATE, 0, b"a");
        notify(DIR, IN_MODIFY, 0, b"a");
        notify(DIR, IN_MODIFY, 0, b"a");
        notify(DIR, IN_ACCESS, 0, b"a");
        let mut n = [0u8; 4];
        f.ioctl(FIONREAD, &mut n).unwrap();
        assert_eq!(i32::from_ne_bytes(n), 64);
        assert_eq!(f.read_inner(None, &mut small), Err(Errno::EINVAL));
        assert_eq!(
            read_all(&f),
            vec![
                (wd, IN_CREATE, 0, b"a".to_vec()),
                (wd, IN_MODIFY, 0, b"a".to_vec())
            ]
        );
        ino.rm_watch(wd).unwrap();
        assert_eq!(ino.rm_watch(wd), Err(Errno::EINVAL));
        assert_eq!(read_all(&f), vec![(wd, IN_IGNORED, 0, vec![])]);
    }

    #[test]
    fn oneshot_and_delete_self_remove_the_watch() {
        let (f, ino) = new_inotify(0).unwrap();
        let wd = ino.add_watch(FILE, IN_ATTRIB | IN_ONESHOT).unwrap();
        notify(FILE, IN_ATTRIB, 0, b"");
        notify(FILE, IN_ATTRIB, 0, b"");
        assert_eq!(
            read_all(&f),
            vec![(wd, IN_ATTRIB, 0, vec![]), (wd, IN_IGNORED, 0, vec![])]
        );
        let wd2 = ino.add_watch(FILE, IN_DELETE_SELF).unwrap();
        assert_ne!(wd2, wd);
        notify(FILE, IN_DELETE_SELF, 0, b"");
        forget(FILE);
        assert_eq!(
            read_all(&f),
            vec![
                (wd2, IN_DELETE_SELF, 0, vec![]),
                (wd2, IN_IGNORED, 0, vec![])
            ]
        );
        assert_eq!(f.readiness(libc::POLLIN as u32), 0);
    }
}
