//! System V message queues (after Linux `ipc/msg.c` and gVisor's `pkg/sentry/kernel/msgqueue`):
//! typed messages, selection by type (0: first; positive: that type, or any other with
//! MSG_EXCEPT; negative: the lowest type up to |msgtyp|), blocking senders when the queue is
//! full (`msg_qbytes`), blocking receivers, EIDRM on removal.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{now, IpcNamespace, IpcObject, Perm, PermSet, CAP_SYS_RESOURCE, IPC_NOWAIT};
use crate::kernel::wait::{TaskWaker, WaitQueue};
use crate::kernel::Credentials;
use crate::{Errno, SysResult};

pub const MSG_NOERROR: i32 = 0o10000;
pub const MSG_EXCEPT: i32 = 0o20000;
pub const MSG_COPY: i32 = 0o40000;
/// Limits (`include/uapi/linux/msg.h`).
pub const MSGMAX: usize = 8192;
pub const MSGMNB: u64 = 16384;
pub const MSGMNI: i32 = 32000;
const MSGPOOL: i32 = MSGMNI * MSGMNB as i32 / 1024;
const MSGSSZ: i32 = 16;
const MSGSEG: u16 = 0xffff;

#[derive(Default)]
struct Shared {
    queue: WaitQueue,
    removed: AtomicBool,
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub mtype: i64,
    pub text: Vec<u8>,
}

/// One queue (`struct msg_queue`).
pub struct MsgQueue {
    perm: Perm,
    messages: VecDeque<Message>,
    cbytes: u64,
    qbytes: u64,
    stime: i64,
    rtime: i64,
    ctime: i64,
    lspid: i32,
    lrpid: i32,
    shared: Arc<Shared>,
}

impl IpcObject for MsgQueue {
    fn perm(&self) -> &Perm {
        &self.perm
    }
    fn perm_mut(&mut self) -> &mut Perm {
        &mut self.perm
    }
}

/// `struct msqid64_ds` as IPC_STAT/MSG_STAT report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsgStat {
    pub perm: Perm,
    pub stime: i64,
    pub rtime: i64,
    pub ctime: i64,
    pub cbytes: u64,
    pub qnum: u64,
    pub qbytes: u64,
    pub lspid: i32,
    pub lrpid: i32,
}

/// `struct msginfo` (IPC_INFO, MSG_INFO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MsgInfo {
    pub msgpool: i32,
    pub msgmap: i32,
    pub msgmax: i32,
    pub msgmnb: i32,
    pub msgmni: i32,
    pub msgssz: i32,
    pub msgtql: i32,
    pub msgseg: u16,
}

/// What msgrcv asks for: at most `max` text bytes, the message type selector, the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvRequest {
    pub max: usize,
    pub msgtyp: i64,
    pub flags: i32,
}

/// Which message msgrcv takes: Linux `find_msg` with `convert_mode`.
fn select(q: &MsgQueue, msgtyp: i64, flags: i32) -> Option<usize> {
    if msgtyp == 0 {
        return if q.messages.is_empty() { None } else { Some(0) };
    }
    if msgtyp > 0 {
        let except = flags & MSG_EXCEPT != 0;
        return q
            .messages
            .iter()
            .position(|m| (m.mtype == msgtyp) != except);
    }
    let limit = msgtyp.checked_neg().unwrap_or(i64::MAX);
    let mut best: Option<(usize, i64)> = None;
    for (i, m) in q.messages.iter().enumerate() {
        if m.mtype <= limit && best.is_none_or(|(_, t)| m.mtype < t) {
            best = Some((i, m.mtype));
        }
    }
    best.map(|(i, _)| i)
}

impl IpcNamespace {
    /// msgget(2).
    pub fn msgget(&self, cr: &Credentials, key: i32, flags: i32) -> SysResult<i32> {
        let mut st = self.lock();
        st.msg.get_or_create(
            cr,
            key,
            flags,
            |_| Ok(()),
            |perm| {
                Ok(MsgQueue {
                    perm,
                    messages: VecDeque::new(),
                    cbytes: 0,
                    qbytes: MSGMNB,
                    stime: 0,
                    rtime: 0,
                    ctime: now(),
                    lspid: 0,
                    lrpid: 0,
                    shared: Arc::new(Shared::default()),
                })
            },
        )
    }

    /// Runs `step` under the lock on queue `id` until it gives an answer, blocking between
    /// tries unless `nowait` (then `would_block` is the answer). EIDRM once the queue is gone.
    fn msg_wait<R>(
        &self,
        id: i32,
        nowait: bool,
        would_block: Errno,
        waker: &Arc<TaskWaker>,
        mut step: impl FnMut(&mut MsgQueue) -> Option<SysResult<R>>,
    ) -> SysResult<R> {
        let shared = self.lock().msg.get(id)?.shared.clone();
        let _reg = shared.queue.register(waker);
        let mut outcome: Option<SysResult<R>> = None;
        let mut first = true;
        let waited = waker.wait_until(None, || {
            if shared.removed.load(Ordering::SeqCst) {
                outcome = Some(Err(Errno::EIDRM));
                return true;
            }
            let mut st = self.lock();
            let Ok(q) = st.msg.get_mut(id) else {
                outcome = Some(Err(if first { Errno::EINVAL } else { Errno::EIDRM }));
                return true;
            };
            first = false;
            outcome = step(q);
            if outcome.is_none() && nowait {
                outcome = Some(Err(would_block));
            }
            outcome.is_some()
        });
        waited?;
        outcome.unwrap_or(Err(Errno::EINTR))
    }

    /// msgsnd(2) of process `pid`: EINVAL for a type below 1 or a text past MSGMAX; EACCES;
    /// waits while the queue is full (EAGAIN with IPC_NOWAIT), EINTR, EIDRM.
    pub fn msgsnd(
        &self,
        cr: &Credentials,
        pid: i32,
        id: i32,
        msg: Message,
        flags: i32,
        waker: &Arc<TaskWaker>,
    ) -> SysResult<()> {
        if msg.mtype < 1 || msg.text.len() > MSGMAX {
            return Err(Errno::EINVAL);
        }
        {
            let st = self.lock();
            if !st.msg.get(id)?.perm.allows(cr, 0o222) {
                return Err(Errno::EACCES);
            }
        }
        let len = msg.text.len() as u64;
        let mut msg = Some(msg);
        self.msg_wait(id, flags & IPC_NOWAIT != 0, Errno::EAGAIN, waker, |q| {
            if q.cbytes + len > q.qbytes || q.messages.len() as u64 + 1 > q.qbytes {
                return None;
            }
            let m = msg.take()?;
            q.messages.push_back(m);
            q.cbytes += len;
            q.lspid = pid;
            q.stime = now();
            q.shared.queue.notify();
            Some(Ok(()))
        })
    }

    /// msgrcv(2) of process `pid`: the selected message (its text cut to `max` with
    /// MSG_NOERROR, else E2BIG and it stays); waits while none matches (ENOMSG with
    /// IPC_NOWAIT). MSG_COPY (with IPC_NOWAIT, without MSG_EXCEPT) copies message number
    /// `msgtyp` without removing it.
    pub fn msgrcv(
        &self,
        cr: &Credentials,
        pid: i32,
        id: i32,
        req: RecvRequest,
        waker: &Arc<TaskWaker>,
    ) -> SysResult<Message> {
        let RecvRequest { max, msgtyp, flags } = req;
        let copy = flags & MSG_COPY != 0;
        if copy && (flags & MSG_EXCEPT != 0 || flags & IPC_NOWAIT == 0) {
            return Err(Errno::EINVAL);
        }
        {
            let st = self.lock();
            if !st.msg.get(id)?.perm.allows(cr, 0o444) {
                return Err(Errno::EACCES);
            }
        }
        self.msg_wait(id, flags & IPC_NOWAIT != 0, Errno::ENOMSG, waker, |q| {
            let idx = if copy {
                usize::try_from(msgtyp)
                    .ok()
                    .filter(|&i| i < q.messages.len())?
            } else {
                select(q, msgtyp, flags)?
            };
            let m = &q.messages[idx];
            if m.text.len() > max && flags & MSG_NOERROR == 0 {
                return Some(Err(Errno::E2BIG));
            }
            if copy {
                let mut m = m.clone();
                m.text.truncate(max);
                return Some(Ok(m));
            }
            let mut m = q.messages.remove(idx)?;
            q.cbytes -= m.text.len() as u64;
            q.lrpid = pid;
            q.rtime = now();
            q.shared.queue.notify();
            m.text.truncate(max);
            Some(Ok(m))
        })
    }

    /// msgctl(IPC_STAT) / MSG_STAT (`by_index`) / MSG_STAT_ANY (`any`).
    pub fn msg_stat(
        &self,
        cr: &Credentials,
        id: i32,
        by_index: bool,
        any: bool,
    ) -> SysResult<(i32, MsgStat)> {
        let st = self.lock();
        let (id, q) = if by_index {
            st.msg.by_index(id)?
        } else {
            (id, st.msg.get(id)?)
        };
        if !any && !q.perm.allows(cr, 0o444) {
            return Err(Errno::EACCES);
        }
        Ok((
            id,
            MsgStat {
                perm: q.perm,
                stime: q.stime,
                rtime: q.rtime,
                ctime: q.ctime,
                cbytes: q.cbytes,
                qnum: q.messages.len() as u64,
                qbytes: q.qbytes,
                lspid: q.lspid,
                lrpid: q.lrpid,
            },
        ))
    }

    /// msgctl(IPC_SET): owner, mode and `msg_qbytes` (above MSGMNB needs CAP_SYS_RESOURCE).
    pub fn msg_set(&self, cr: &Credentials, id: i32, new: &PermSet, qbytes: u64) -> SysResult<()> {
        let mut st = self.lock();
        let q = st.msg.get_mut(id)?;
        q.perm.check_owner(cr)?;
        if qbytes > MSGMNB && !cr.has_cap(CAP_SYS_RESOURCE) {
            return Err(Errno::EPERM);
        }
        q.perm.set(new);
        q.qbytes = qbytes;
        q.ctime = now();
        q.shared.queue.notify();
        Ok(())
    }

    /// msgctl(IPC_RMID): waiters fail with EIDRM.
    pub fn msg_rmid(&self, cr: &Credentials, id: i32) -> SysResult<()> {
        let mut st = self.lock();
        st.msg.get(id)?.perm.check_owner(cr)?;
        let q = st.msg.remove(id).ok_or(Errno::EINVAL)?;
        q.shared.removed.store(true, Ordering::SeqCst);
        q.shared.queue.notify();
        Ok(())
    }

    /// msgctl(IPC_INFO) (`usage` false) or MSG_INFO (true), with the highest index in use
    /// (0 if none).
    pub fn msg_info(&self, usage: bool) -> (i32, MsgInfo) {
        let st = self.lock();
        let mut info = MsgInfo {
            msgpool: MSGPOOL,
            msgmap: MSGMNB as i32,
            msgmax: MSGMAX as i32,
            msgmnb: MSGMNB as i32,
            msgmni: MSGMNI,
            msgssz: MSGSSZ,
            msgtql: MSGMNB as i32,
            msgseg: MSGSEG,
        };
        if usage {
            info.msgpool = st.msg.len() as i32;
            info.msgmap = st.msg.iter().map(|q| q.messages.len() as i32).sum();
            info.msgtql = st.msg.iter().map(|q| q.cbytes as i32).sum();
        }
        (st.msg.max_idx().max(0), info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::ipc::IPC_PRIVATE;

    fn rq(max: usize, msgtyp: i64, flags: i32) -> RecvRequest {
        RecvRequest { max, msgtyp, flags }
    }

    fn m(t: i64, s: &str) -> Message {
        Message {
            mtype: t,
            text: s.as_bytes().to_vec(),
        }
    }

    #[test]
    fn types_select_messages() {
        let ns = IpcNamespace::new();
        let cr = Credentials::new(0, 0, vec![]);
        let w = TaskWaker::new();
        let id = ns.msgget(&cr, IPC_PRIVATE, 0o600).unwrap();
        for (t, s) in [(3, "c"), (1, "a"), (2, "b")] {
            ns.msgsnd(&cr, 1, id, m(t, s), 0, &w).unwrap();
        }
        let nw = IPC_NOWAIT;
        assert_eq!(ns.msgrcv(&cr, 1, id, rq(10, 2, nw), &w), Ok(m(2, "b")));
        assert_eq!(ns.msgrcv(&cr, 1, id, rq(10, -5, nw), &w), Ok(m(1, "a")));
        assert_eq!(ns.msgrcv(&cr, 1, id, rq(10, 7, nw), &w), Err(Errno::ENOMSG));
        assert_eq!(
            ns.msgrcv(&cr, 1, id, rq(10, 0, nw | MSG_COPY), &w),
            Ok(m(3, "c"))
        );
        assert_eq!(
            ns.msgrcv(&cr, 1, id, rq(10, 3, nw | MSG_EXCEPT), &w),
            Err(Errno::ENOMSG)
        );
        ns.msgsnd(&cr, 1, id, m(4, "long"), 0, &w).unwrap();
        assert_eq!(ns.msgrcv(&cr, 1, id, rq(2, 4, nw), &w), Err(Errno::E2BIG));
        assert_eq!(
            ns.msgrcv(&cr, 1, id, rq(2, 4, nw | MSG_NOERROR), &w),
            Ok(m(4, "lo"))
        );
        assert_eq!(ns.msg_stat(&cr, id, false, false).unwrap().1.qnum, 1);
        ns.msg_rmid(&cr, id).unwrap();
        assert_eq!(ns.msgrcv(&cr, 1, id, rq(10, 0, nw), &w), Err(Errno::EINVAL));
    }

    #[test]
    fn full_queue_refuses_with_nowait() {
        let ns = IpcNamespace::new();
        let cr = Credentials::new(0, 0, vec![]);
        let w = TaskWaker::new();
        let id = ns.msgget(&cr, IPC_PRIVATE, 0o600).unwrap();
        let perm = PermSet {
            uid: 0,
            gid: 0,
            mode: 0o600,
        };
        ns.msg_set(&cr, id, &perm, 4).unwrap();
        ns.msgsnd(&cr, 1, id, m(1, "abcd"), 0, &w).unwrap();
        assert_eq!(
            ns.msgsnd(&cr, 1, id, m(1, "e"), IPC_NOWAIT, &w),
            Err(Errno::EAGAIN)
        );
    }
}
