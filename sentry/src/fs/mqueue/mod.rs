//! POSIX message queues and the mqueue filesystem (mq_overview(7); Linux `ipc/mqueue.c`, gVisor
//! `pkg/sentry/kernel/mq` and `pkg/sentry/fsimpl/mqfs`): named queues of prioritised messages,
//! highest priority first and FIFO within a priority, with blocking and non-blocking send and
//! receive, one mq_notify(3) registration per queue, and a filesystem whose root lists the
//! queues. The sandbox has one IPC namespace, so it has one registry (`registry()`): every mount
//! of type mqueue (/dev/mqueue, `mount -t mqueue`) shows the same root, as Linux shares one
//! superblock per IPC namespace. RLIMIT_MSGQUEUE is not charged.
//!
//! Lock order: `Registry::queues`, then a queue's `MessageQueue::state`; the state lock is
//! released before the queue's wait queue is notified or a signal is sent.

use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Instant;

use crate::abi::signal::SigInfo;
use crate::kernel::thread_group::ThreadGroup;
use crate::kernel::wait::WaitQueue;
use crate::vfs::{
    anon_dev, check_access, Dentry, DirEntry, FileDescription, FileOps, Inode, SetAttr, Stat,
    StatFs, TaskRef, Timespec,
};
use crate::{Errno, SysResult};

/// `MQUEUE_MAGIC` (include/uapi/linux/magic.h).
pub const MQUEUE_MAGIC: i64 = 0x1980_0202;
/// /proc/sys/fs/mqueue/msg_max and msgsize_max defaults (the limits without CAP_SYS_RESOURCE),
/// also the defaults of a queue created without attributes.
pub const MSG_MAX: i64 = 10;
pub const MSGSIZE_MAX: i64 = 8192;
/// The limits with CAP_SYS_RESOURCE (`HARD_MSGMAX`, `HARD_MSGSIZEMAX`).
pub const HARD_MSGMAX: i64 = 65536;
pub const HARD_MSGSIZEMAX: i64 = 16 * 1024 * 1024;
/// /proc/sys/fs/mqueue/queues_max default: queues allowed without CAP_SYS_RESOURCE.
pub const QUEUES_MAX: usize = 256;
/// `MQ_PRIO_MAX`: priorities are below this.
pub const MQ_PRIO_MAX: u32 = 32768;
/// `SI_MESGQ`: the si_code of a notification signal.
pub const SI_MESGQ: i32 = -3;
/// `sigev_notify` values (`include/uapi/asm-generic/siginfo.h`).
pub const SIGEV_SIGNAL: i32 = 0;
pub const SIGEV_NONE: i32 = 1;
/// What stat(2) reports as a queue's size (Linux's `FILENT_SIZE`).
const FILENT_SIZE: i64 = 80;
const CAP_SYS_RESOURCE: u32 = 24;
/// The device number of the mqueue filesystem.
const MQUEUE_MINOR: u64 = 0x45;

/// A queue's attributes (`struct mq_attr`); `flags` is the descriptor's O_NONBLOCK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MqAttr {
    pub flags: i64,
    pub maxmsg: i64,
    pub msgsize: i64,
    pub curmsgs: i64,
}

/// Linux `mq_attr_ok`: positive sizes within the limits that `privileged` (CAP_SYS_RESOURCE)
/// selects, and a total that does not overflow.
fn attr_ok(attr: &MqAttr, privileged: bool) -> bool {
    if attr.maxmsg <= 0 || attr.msgsize <= 0 {
        return false;
    }
    let (max, size) = if privileged {
        (HARD_MSGMAX, HARD_MSGSIZEMAX)
    } else {
        (MSG_MAX, MSGSIZE_MAX)
    };
    attr.maxmsg <= max && attr.msgsize <= size && attr.msgsize.checked_mul(attr.maxmsg).is_some()
}

/// One mq_notify(3) registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// SIGEV_NONE: the registration is taken by the next notification, nothing is sent.
    None,
    /// SIGEV_SIGNAL: `signo` with si_value `value` to the registering process.
    Signal { signo: i32, value: u64 },
}

struct Registration {
    kind: Notify,
    tg: Weak<ThreadGroup>,
    pid: i32,
}

struct State {
    maxmsg: i64,
    msgsize: i64,
    /// Messages by priority (the highest key is received first), FIFO within one.
    messages: BTreeMap<u32, VecDeque<Vec<u8>>>,
    count: i64,
    /// Bytes of message text queued (the QSIZE of a read).
    qsize: u64,
    notify: Option<Registration>,
    /// Receivers blocked waiting for a message: a send then notifies no one.
    receivers: usize,
    mode: u32,
    uid: u32,
    gid: u32,
    atime: Timespec,
    mtime: Timespec,
    ctime: Timespec,
    /// Event counts for edge-triggered epoll: sends (readable) and receives (writable).
    in_gen: u64,
    out_gen: u64,
}

/// One message queue. It lives while it has a name or an open descriptor.
pub struct MessageQueue {
    ino: u64,
    state: Mutex<State>,
    queue: WaitQueue,
}

static NEXT_INO: AtomicU64 = AtomicU64::new(2);

impl MessageQueue {
    fn new(attr: &MqAttr, mode: u32, uid: u32, gid: u32) -> Arc<MessageQueue> {
        let now = Timespec::now();
        Arc::new(MessageQueue {
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
            state: Mutex::new(State {
                maxmsg: attr.maxmsg,
                msgsize: attr.msgsize,
                messages: BTreeMap::new(),
                count: 0,
                qsize: 0,
                notify: None,
                receivers: 0,
                mode: mode & 0o7777,
                uid,
                gid,
                atime: now,
                mtime: now,
                ctime: now,
                in_gen: 0,
                out_gen: 0,
            }),
            queue: WaitQueue::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The attributes, with `flags` left 0 (the descriptor's to fill).
    pub fn attr(&self) -> MqAttr {
        let s = self.lock();
        MqAttr {
            flags: 0,
            maxmsg: s.maxmsg,
            msgsize: s.msgsize,
            curmsgs: s.count,
        }
    }

    fn stat_now(&self) -> Stat {
        let s = self.lock();
        Stat {
            dev: anon_dev(MQUEUE_MINOR),
            ino: self.ino,
            mode: libc::S_IFREG | s.mode,
            nlink: 1,
            uid: s.uid,
            gid: s.gid,
            size: FILENT_SIZE,
            blksize: 4096,
            atime: s.atime,
            mtime: s.mtime,
            ctime: s.ctime,
            ..Default::default()
        }
    }

    /// Blocks `task` until `ready` holds for the state (EINTR, ETIMEDOUT at `deadline`).
    fn block(
        &self,
        task: TaskRef,
        deadline: Option<Instant>,
        ready: impl Fn(&State) -> bool,
    ) -> SysResult<()> {
        let waker = task.map(|t| t.waker.clone()).unwrap_or_default();
        let _reg = self.queue.register(&waker);
        waker.wait_until(deadline, || ready(&self.lock()))
    }

    /// mq_timedsend(3): queues `msg` at `prio` (< MQ_PRIO_MAX, checked by the caller), waiting
    /// while the queue is full unless `nonblock` (EAGAIN); EMSGSIZE when longer than
    /// mq_msgsize. A message reaching an empty queue that no receiver waits on fires the
    /// registered notification, which is then removed.
    pub fn send(
        &self,
        task: TaskRef,
        msg: Vec<u8>,
        prio: u32,
        nonblock: bool,
        deadline: Option<Instant>,
    ) -> SysResult<()> {
        if msg.len() as u64 > self.lock().msgsize as u64 {
            return Err(Errno::EMSGSIZE);
        }
        loop {
            {
                let mut s = self.lock();
                if s.count < s.maxmsg {
                    let was_empty = s.count == 0;
                    s.qsize += msg.len() as u64;
                    s.messages.entry(prio).or_default().push_back(msg);
                    s.count += 1;
                    s.in_gen += 1;
                    let now = Timespec::now();
                    s.mtime = now;
                    s.ctime = now;
                    let fire = if was_empty && s.receivers == 0 {
                        s.notify.take()
                    } else {
                        None
                    };
                    drop(s);
                    self.queue.notify();
                    if let Some(reg) = fire {
                        deliver(reg, task);
                    }
                    return Ok(());
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            self.block(task, deadline, |s| s.count < s.maxmsg)?;
        }
    }

    /// mq_timedreceive(3): the oldest message of the highest priority and its priority,
    /// waiting while the queue is empty unless `nonblock` (EAGAIN); EMSGSIZE when `buf_len`
    /// is below mq_msgsize.
    pub fn receive(
        &self,
        task: TaskRef,
        buf_len: usize,
        nonblock: bool,
        deadline: Option<Instant>,
    ) -> SysResult<(Vec<u8>, u32)> {
        if (buf_len as u64) < self.lock().msgsize as u64 {
            return Err(Errno::EMSGSIZE);
        }
        loop {
            {
                let mut s = self.lock();
                if let Some(got) = take_first(&mut s) {
                    drop(s);
                    self.queue.notify();
                    return Ok(got);
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            self.lock().receivers += 1;
            let r = self.block(task, deadline, |s| s.count > 0);
            self.lock().receivers -= 1;
            r?;
        }
    }

    /// mq_notify(3): `Some` registers the calling process (`tg`; EBUSY when the queue already
    /// has a registration), `None` removes the registration if `tg` holds it.
    pub fn set_notify(&self, tg: &Arc<ThreadGroup>, req: Option<Notify>) -> SysResult<()> {
        let mut s = self.lock();
        match req {
            None => {
                if s.notify.as_ref().is_some_and(|r| r.pid == tg.pid) {
                    s.notify = None;
                }
                Ok(())
            }
            Some(kind) => {
                if s.notify.is_some() {
                    return Err(Errno::EBUSY);
                }
                s.notify = Some(Registration {
                    kind,
                    tg: Arc::downgrade(tg),
                    pid: tg.pid,
                });
                Ok(())
            }
        }
    }

    /// The line read(2) returns (Linux `mqueue_read_file`).
    pub fn status_line(&self) -> String {
        let s = self.lock();
        let (notify, signo, pid) = match &s.notify {
            None => (0, 0, 0),
            Some(r) => match r.kind {
                Notify::None => (SIGEV_NONE, 0, r.pid),
                Notify::Signal { signo, .. } => (SIGEV_SIGNAL, signo, r.pid),
            },
        };
        format!(
            "QSIZE:{:<10} NOTIFY:{:<5} SIGNO:{:<5} NOTIFY_PID:{:<6}\n",
            s.qsize, notify, signo, pid
        )
    }
}

fn take_first(s: &mut State) -> Option<(Vec<u8>, u32)> {
    let mut entry = s.messages.last_entry()?;
    let prio = *entry.key();
    let msg = entry.get_mut().pop_front()?;
    if entry.get().is_empty() {
        entry.remove();
    }
    s.count -= 1;
    s.qsize -= msg.len() as u64;
    s.out_gen += 1;
    let now = Timespec::now();
    s.atime = now;
    s.ctime = now;
    Some((msg, prio))
}

/// Sends the notification of `reg`, from the sending task (si_pid, si_uid).
fn deliver(reg: Registration, sender: TaskRef) {
    let Notify::Signal { signo, value } = reg.kind else {
        return;
    };
    let Some(tg) = reg.tg.upgrade() else { return };
    let (pid, uid) = sender.map(|t| (t.tg.pid, t.creds.uid)).unwrap_or((0, 0));
    let mut info = SigInfo::from_sender(signo, SI_MESGQ, pid, uid);
    info.bytes[24..32].copy_from_slice(&value.to_ne_bytes());
    crate::kernel::signal::send_to_process(&tg, info);
}

impl FileOps for MessageQueue {
    fn read_at(&self, _task: TaskRef, buf: &mut [u8], offset: u64) -> SysResult<usize> {
        let line = self.status_line().into_bytes();
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(line.len());
        let n = (line.len() - start).min(buf.len());
        buf[..n].copy_from_slice(&line[start..start + n]);
        Ok(n)
    }
    fn write_at(&self, _task: TaskRef, _buf: &[u8], _offset: u64) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> Option<SysResult<Stat>> {
        Some(Ok(self.stat_now()))
    }
    fn supports_poll(&self) -> bool {
        true
    }
    fn readiness(&self, _mask: u32) -> u32 {
        let s = self.lock();
        let mut ev = 0;
        if s.count > 0 {
            ev |= (libc::POLLIN | libc::POLLRDNORM) as u32;
        }
        if s.count < s.maxmsg {
            ev |= (libc::POLLOUT | libc::POLLWRNORM) as u32;
        }
        ev
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.queue)
    }
    fn generation(&self, mask: u32) -> u64 {
        let s = self.lock();
        let mut g = 0;
        if mask & (libc::POLLIN | libc::POLLRDNORM) as u32 != 0 {
            g += s.in_gen;
        }
        if mask & (libc::POLLOUT | libc::POLLWRNORM) as u32 != 0 {
            g += s.out_gen;
        }
        g
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// The inode of one queue in the mqueue filesystem.
struct QueueInode(Arc<MessageQueue>);

impl Inode for QueueInode {
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
        Ok(self.0.stat_now())
    }
    fn open(&self, _task: TaskRef, _flags: i32) -> SysResult<Arc<dyn FileOps>> {
        Ok(self.0.clone())
    }
    fn setattr(&self, attr: &SetAttr) -> SysResult<()> {
        let mut s = self.0.lock();
        if let Some(mode) = attr.mode {
            s.mode = mode & 0o7777;
        }
        if let Some(uid) = attr.uid {
            s.uid = uid;
        }
        if let Some(gid) = attr.gid {
            s.gid = gid;
        }
        if let Some(t) = attr.atime {
            s.atime = t;
        }
        if let Some(t) = attr.mtime {
            s.mtime = t;
        }
        s.ctime = Timespec::now();
        Ok(())
    }
    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(MQUEUE_MAGIC))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The named queues of the sandbox's IPC namespace; also the mqueue filesystem's root.
pub struct Registry {
    queues: Mutex<BTreeMap<Vec<u8>, Arc<MessageQueue>>>,
    created: Timespec,
}

/// The sandbox's registry.
pub fn registry() -> &'static Arc<Registry> {
    static REGISTRY: OnceLock<Arc<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| Arc::new(Registry::new()))
}

/// The root of an mqueue mount (the sandbox's one registry).
pub fn new_root() -> Arc<dyn Inode> {
    registry().clone()
}

/// Linux `lookup_one_len` on a queue name: EACCES for "", ".", ".." and names holding '/',
/// ENAMETOOLONG past NAME_MAX.
fn check_name(name: &[u8]) -> SysResult<()> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
        return Err(Errno::EACCES);
    }
    if name.len() > 255 {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

impl Registry {
    pub fn new() -> Registry {
        Registry {
            queues: Mutex::new(BTreeMap::new()),
            created: Timespec::now(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<Vec<u8>, Arc<MessageQueue>>> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// mq_open(2) of `name` (without its leading '/'): the queue opened with `oflag`
    /// (O_ACCMODE, O_CREAT, O_EXCL, O_NONBLOCK), created with `mode` (less the umask) and
    /// `attr` (defaults 10 x 8192) when absent and O_CREAT is given.
    pub fn open(
        &self,
        task: TaskRef,
        name: &[u8],
        oflag: i32,
        mode: u32,
        attr: Option<MqAttr>,
    ) -> SysResult<Arc<FileDescription>> {
        check_name(name)?;
        let mut queues = self.lock();
        let q = match queues.get(name) {
            None => {
                if oflag & libc::O_CREAT == 0 {
                    return Err(Errno::ENOENT);
                }
                let privileged = task.is_none_or(|t| t.creds.has_cap(CAP_SYS_RESOURCE));
                let attr = match attr {
                    Some(a) if !attr_ok(&a, privileged) => return Err(Errno::EINVAL),
                    Some(a) => a,
                    None => MqAttr {
                        maxmsg: MSG_MAX,
                        msgsize: MSGSIZE_MAX,
                        ..MqAttr::default()
                    },
                };
                if queues.len() >= QUEUES_MAX && !privileged {
                    return Err(Errno::ENOSPC);
                }
                let umask = task.map(|t| t.fs.umask()).unwrap_or(0);
                let (uid, gid) = task
                    .map(|t| (t.creds.fsuid, t.creds.fsgid))
                    .unwrap_or((0, 0));
                let q = MessageQueue::new(&attr, mode & !umask, uid, gid);
                queues.insert(name.to_vec(), q.clone());
                q
            }
            Some(q) => {
                if oflag & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL {
                    return Err(Errno::EEXIST);
                }
                let want = match oflag & libc::O_ACCMODE {
                    libc::O_RDONLY => libc::R_OK,
                    libc::O_WRONLY => libc::W_OK,
                    libc::O_RDWR => libc::R_OK | libc::W_OK,
                    _ => return Err(Errno::EINVAL),
                };
                check_access(task, &q.stat_now(), want)?;
                q.clone()
            }
        };
        drop(queues);
        let mut path = b"/".to_vec();
        path.extend_from_slice(name);
        let dentry = Dentry::anonymous(path, Arc::new(QueueInode(q.clone())));
        Ok(FileDescription::new(
            dentry,
            q,
            oflag & (libc::O_ACCMODE | libc::O_NONBLOCK),
        ))
    }

    /// mq_unlink(2): removes the name; open descriptors keep the queue.
    pub fn unlink(&self, task: TaskRef, name: &[u8]) -> SysResult<()> {
        check_name(name)?;
        let mut queues = self.lock();
        if !queues.contains_key(name) {
            return Err(Errno::ENOENT);
        }
        // The root is world-writable and sticky: only the owner (or CAP_FOWNER) removes.
        if let (Some(t), Some(q)) = (task, queues.get(name)) {
            const CAP_FOWNER: u32 = 3;
            if t.creds.fsuid != q.lock().uid && !t.creds.has_cap(CAP_FOWNER) {
                return Err(Errno::EPERM);
            }
        }
        queues.remove(name);
        Ok(())
    }

    /// The queue of descriptor `file`, EBADF when it is not a message queue.
    pub fn queue_of(file: &FileDescription) -> SysResult<&MessageQueue> {
        file.ops_as::<MessageQueue>().ok_or(Errno::EBADF)
    }
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::new()
    }
}

impl Inode for Registry {
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
        Ok(Stat {
            dev: anon_dev(MQUEUE_MINOR),
            ino: 1,
            mode: libc::S_IFDIR | 0o1777,
            nlink: 2,
            blksize: 4096,
            atime: self.created,
            mtime: self.created,
            ctime: self.created,
            ..Default::default()
        })
    }
    fn lookup(&self, _task: TaskRef, name: &[u8]) -> SysResult<Arc<dyn Inode>> {
        let q = self.lock().get(name).cloned().ok_or(Errno::ENOENT)?;
        Ok(Arc::new(QueueInode(q)))
    }
    fn readdir(&self, _task: TaskRef) -> SysResult<Vec<DirEntry>> {
        Ok(self
            .lock()
            .iter()
            .map(|(name, q)| DirEntry {
                name: name.clone(),
                ino: q.ino,
                kind: libc::DT_REG,
            })
            .collect())
    }
    fn open(&self, _task: TaskRef, _flags: i32) -> SysResult<Arc<dyn FileOps>> {
        Ok(Arc::new(crate::vfs::NoDataOps))
    }
    fn create(&self, name: &[u8], mode: u32, uid: u32, gid: u32) -> SysResult<Arc<dyn Inode>> {
        check_name(name)?;
        let mut queues = self.lock();
        if queues.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let attr = MqAttr {
            maxmsg: MSG_MAX,
            msgsize: MSGSIZE_MAX,
            ..MqAttr::default()
        };
        let q = MessageQueue::new(&attr, mode, uid, gid);
        queues.insert(name.to_vec(), q.clone());
        Ok(Arc::new(QueueInode(q)))
    }
    fn unlink(&self, name: &[u8], dir: bool) -> SysResult<()> {
        if dir {
            return Err(Errno::ENOTDIR);
        }
        self.lock().remove(name).map(|_| ()).ok_or(Errno::ENOENT)
    }
    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(MQUEUE_MAGIC))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn attr(maxmsg: i64, msgsize: i64) -> Option<MqAttr> {
        Some(MqAttr {
            maxmsg,
            msgsize,
            ..MqAttr::default()
        })
    }

    fn open(r: &Registry, name: &[u8], flags: i32) -> SysResult<Arc<FileDescription>> {
        r.open(None, name, flags, 0o600, attr(4, 16))
    }

    fn q(f: &FileDescription) -> &MessageQueue {
        Registry::queue_of(f).unwrap()
    }

    #[test]
    fn open_create_exclusive_and_missing() {
        let r = Registry::new();
        assert_eq!(open(&r, b"q", libc::O_RDWR).err(), Some(Errno::ENOENT));
        open(&r, b"q", libc::O_RDWR | libc::O_CREAT).unwrap();
        let excl = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL;
        assert_eq!(open(&r, b"q", excl).err(), Some(Errno::EEXIST));
        assert_eq!(open(&r, b"a/b", excl).err(), Some(Errno::EACCES));
        assert_eq!(open(&r, b"q", 3).err(), Some(Errno::EINVAL));
        r.unlink(None, b"q").unwrap();
        assert_eq!(r.unlink(None, b"q"), Err(Errno::ENOENT));
    }

    #[test]
    fn attributes_are_checked() {
        assert!(!attr_ok(&attr(0, 8).unwrap(), true));
        assert!(!attr_ok(&attr(11, 8).unwrap(), false));
        assert!(attr_ok(&attr(11, 8).unwrap(), true));
        assert!(!attr_ok(&attr(10, 8193).unwrap(), false));
        assert!(!attr_ok(&attr(HARD_MSGMAX + 1, 8).unwrap(), true));
    }

    #[test]
    fn priority_order_then_fifo() {
        let r = Registry::new();
        let f = open(&r, b"p", libc::O_RDWR | libc::O_CREAT).unwrap();
        let mq = q(&f);
        for (m, p) in [(b"a", 1), (b"b", 5), (b"c", 1), (b"d", 5)] {
            mq.send(None, m.to_vec(), p, true, None).unwrap();
        }
        let got: Vec<(Vec<u8>, u32)> = (0..4)
            .map(|_| mq.receive(None, 16, true, None).unwrap())
            .collect();
        let order: Vec<u8> = got.iter().map(|(m, _)| m[0]).collect();
        assert_eq!(order, b"bdac");
        assert_eq!(mq.receive(None, 16, true, None), Err(Errno::EAGAIN));
        assert_eq!(mq.receive(None, 8, true, None), Err(Errno::EMSGSIZE));
        assert_eq!(
            mq.send(None, vec![0; 17], 0, true, None),
            Err(Errno::EMSGSIZE)
        );
    }

    #[test]
    fn full_queue_is_eagain_or_times_out() {
        let r = Registry::new();
        let f = open(&r, b"f", libc::O_RDWR | libc::O_CREAT).unwrap();
        let mq = q(&f);
        for _ in 0..4 {
            mq.send(None, vec![1], 0, true, None).unwrap();
        }
        assert_eq!(mq.send(None, vec![1], 0, true, None), Err(Errno::EAGAIN));
        let soon = Instant::now() + Duration::from_millis(10);
        assert_eq!(
            mq.send(None, vec![1], 0, false, Some(soon)),
            Err(Errno::ETIMEDOUT)
        );
        assert_eq!(mq.attr().curmsgs, 4);
        assert!(mq.status_line().starts_with("QSIZE:4          NOTIFY:0"));
    }

    #[test]
    fn blocked_receive_wakes_on_send() {
        let r = Registry::new();
        let f = open(&r, b"w", libc::O_RDWR | libc::O_CREAT).unwrap();
        let f2 = f.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            q(&f2).send(None, b"hi".to_vec(), 3, false, None).unwrap();
        });
        assert_eq!(
            q(&f).receive(None, 16, false, None).unwrap(),
            (b"hi".to_vec(), 3)
        );
        t.join().unwrap();
        assert_eq!(f.path(), b"/w".to_vec());
    }

    #[test]
    fn directory_lists_queues() {
        let r = Registry::new();
        open(&r, b"one", libc::O_RDWR | libc::O_CREAT).unwrap();
        r.create(b"two", 0o644, 0, 0).unwrap();
        let names: Vec<Vec<u8>> = r
            .readdir(None)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, vec![b"one".to_vec(), b"two".to_vec()]);
        assert!(r.lookup(None, b"two").is_ok());
        Inode::unlink(&r, b"two", false).unwrap();
        assert_eq!(r.lookup(None, b"two").err(), Some(Errno::ENOENT));
    }
}
