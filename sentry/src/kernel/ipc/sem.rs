//! System V semaphores (after Linux `ipc/sem.c` and gVisor's `pkg/sentry/kernel/semaphore`):
//! sets of counters changed by atomic multi-operation semop, blocking on the task's waker,
//! SEM_UNDO adjustments per process applied at its exit, and IPC_RMID waking waiters with
//! EIDRM.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::{now, IpcNamespace, IpcObject, IpcState, Perm, PermSet, IPC_NOWAIT};
use crate::kernel::wait::{TaskWaker, WaitQueue};
use crate::kernel::Credentials;
use crate::{Errno, SysResult};

pub const SEM_UNDO: i16 = 0x1000;
/// Limits (`include/uapi/linux/sem.h`).
pub const SEMMSL: i32 = 32000;
pub const SEMMNI: i32 = 32000;
pub const SEMMNS: i32 = SEMMNI * SEMMSL;
pub const SEMOPM: usize = 500;
pub const SEMVMX: i32 = 32767;
pub const SEMAEM: i32 = SEMVMX;
pub const SEMUME: i32 = SEMOPM as i32;
pub const SEMUSZ: i32 = 20;

/// One semaphore.
#[derive(Debug, Clone, Copy, Default)]
struct Sem {
    val: i32,
    pid: i32,
    /// Tasks waiting for the value to increase / to become zero.
    ncnt: u32,
    zcnt: u32,
}

/// What blocked waiters share with the set: its wait queue and whether it was removed.
#[derive(Default)]
struct Shared {
    queue: WaitQueue,
    removed: AtomicBool,
}

/// One semaphore set (`struct sem_array`).
pub struct SemSet {
    perm: Perm,
    sems: Vec<Sem>,
    otime: i64,
    ctime: i64,
    shared: Arc<Shared>,
}

impl IpcObject for SemSet {
    fn perm(&self) -> &Perm {
        &self.perm
    }
    fn perm_mut(&mut self) -> &mut Perm {
        &mut self.perm
    }
}

/// One `struct sembuf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SemBuf {
    pub num: u16,
    pub op: i16,
    pub flg: i16,
}

/// `struct semid64_ds` as IPC_STAT/SEM_STAT report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SemStat {
    pub perm: Perm,
    pub otime: i64,
    pub ctime: i64,
    pub nsems: u64,
}

/// The value commands of semctl(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SemGet {
    Val,
    Pid,
    Ncnt,
    Zcnt,
}

/// `struct seminfo` (IPC_INFO and SEM_INFO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SemInfo {
    pub semmap: i32,
    pub semmni: i32,
    pub semmns: i32,
    pub semmnu: i32,
    pub semmsl: i32,
    pub semopm: i32,
    pub semume: i32,
    pub semusz: i32,
    pub semvmx: i32,
    pub semaem: i32,
}

/// Result of one attempt at a semop.
enum Attempt {
    Done,
    /// Would block on this semaphore, waiting for zero (true) or an increase (false).
    Block(u16, bool),
}

/// Linux `perform_atomic_semop`: applies all of `ops` or none. ERANGE past SEMVMX (or an
/// undo adjustment past SEMAEM), EAGAIN where a blocking op has IPC_NOWAIT.
fn try_ops(
    set: &mut SemSet,
    adj: Option<&mut Vec<i32>>,
    ops: &[SemBuf],
    pid: i32,
) -> SysResult<Attempt> {
    let mut vals: Vec<i32> = set.sems.iter().map(|s| s.val).collect();
    let mut undo: Vec<i32> = adj.as_ref().map_or_else(Vec::new, |a| a.to_vec());
    for op in ops {
        let n = usize::from(op.num);
        let cur = vals[n];
        let op_val = i32::from(op.op);
        let blocks = (op_val == 0 && cur != 0) || cur + op_val < 0;
        if blocks {
            if i32::from(op.flg) & IPC_NOWAIT != 0 {
                return Err(Errno::EAGAIN);
            }
            return Ok(Attempt::Block(op.num, op_val == 0));
        }
        if cur + op_val > SEMVMX {
            return Err(Errno::ERANGE);
        }
        if op.flg & SEM_UNDO != 0 && op_val != 0 {
            let u = undo[n] - op_val;
            if !(-SEMAEM - 1..=SEMAEM).contains(&u) {
                return Err(Errno::ERANGE);
            }
            undo[n] = u;
        }
        vals[n] = cur + op_val;
    }
    for op in ops {
        set.sems[usize::from(op.num)].pid = pid;
    }
    for (s, v) in set.sems.iter_mut().zip(vals) {
        s.val = v;
    }
    if let Some(a) = adj {
        *a = undo;
    }
    set.otime = now();
    Ok(Attempt::Done)
}

/// Clears semaphore `num` (or all with None) of set `id` from every undo list (SETVAL,
/// SETALL).
fn clear_undo(st: &mut IpcState, id: i32, num: Option<usize>) {
    for lists in st.undo.values_mut() {
        if let Some(adj) = lists.get_mut(&id) {
            match num {
                Some(n) => {
                    if let Some(a) = adj.get_mut(n) {
                        *a = 0;
                    }
                }
                None => adj.iter_mut().for_each(|a| *a = 0),
            }
        }
    }
}

/// Applies process `pid`'s undo adjustments (Linux `exit_sem`): each value moves by its
/// adjustment, clamped to 0..=SEMVMX, and waiters are woken.
pub(super) fn exit_undo(st: &mut IpcState, pid: i32) {
    let Some(lists) = st.undo.remove(&pid) else {
        return;
    };
    for (id, adj) in lists {
        let Ok(set) = st.sem.get_mut(id) else {
            continue;
        };
        if adj.iter().all(|&a| a == 0) {
            continue;
        }
        for (s, a) in set.sems.iter_mut().zip(adj) {
            if a != 0 {
                s.val = (s.val + a).clamp(0, SEMVMX);
                s.pid = pid;
            }
        }
        set.otime = now();
        set.shared.queue.notify();
    }
}

impl IpcNamespace {
    /// semget(2): EINVAL for `nsems` outside 0..=SEMMSL (0 only to look a set up) or larger
    /// than an existing set's.
    pub fn semget(&self, cr: &Credentials, key: i32, nsems: i32, flags: i32) -> SysResult<i32> {
        if !(0..=SEMMSL).contains(&nsems) {
            return Err(Errno::EINVAL);
        }
        let n = nsems as usize;
        let mut st = self.lock();
        st.sem.get_or_create(
            cr,
            key,
            flags,
            |set| {
                if set.sems.len() < n {
                    Err(Errno::EINVAL)
                } else {
                    Ok(())
                }
            },
            |perm| {
                if n == 0 {
                    return Err(Errno::EINVAL);
                }
                Ok(SemSet {
                    perm,
                    sems: vec![Sem::default(); n],
                    otime: 0,
                    ctime: now(),
                    shared: Arc::new(Shared::default()),
                })
            },
        )
    }

    /// semop(2)/semtimedop(2) for process `pid`: E2BIG past SEMOPM operations, EINVAL for
    /// none or a bad id, EFBIG for a semaphore number out of range, EACCES, ERANGE; blocks
    /// until all operations can be applied at once, EAGAIN with IPC_NOWAIT or at `deadline`,
    /// EINTR on a signal, EIDRM if the set is removed meanwhile.
    pub fn semop(
        &self,
        cr: &Credentials,
        pid: i32,
        id: i32,
        ops: &[SemBuf],
        deadline: Option<Instant>,
        waker: &Arc<TaskWaker>,
    ) -> SysResult<()> {
        if ops.len() > SEMOPM {
            return Err(Errno::E2BIG);
        }
        if ops.is_empty() {
            return Err(Errno::EINVAL);
        }
        let undo = ops.iter().any(|o| o.flg & SEM_UNDO != 0);
        let alter = ops.iter().any(|o| o.op != 0);
        let shared = {
            let st = self.lock();
            let set = st.sem.get(id)?;
            let max = ops.iter().map(|o| usize::from(o.num)).max().unwrap_or(0);
            if max >= set.sems.len() {
                return Err(Errno::EFBIG);
            }
            if !set.perm.allows(cr, if alter { 0o222 } else { 0o444 }) {
                return Err(Errno::EACCES);
            }
            set.shared.clone()
        };
        let _reg = shared.queue.register(waker);
        let mut blocked: Option<(u16, bool)> = None;
        let mut outcome: Option<SysResult<()>> = None;
        let attempt = |blocked: &mut Option<(u16, bool)>| -> Option<SysResult<()>> {
            if shared.removed.load(Ordering::SeqCst) {
                return Some(Err(Errno::EIDRM));
            }
            let mut st = self.lock();
            let st = &mut *st;
            let Ok(set) = st.sem.get_mut(id) else {
                return Some(Err(Errno::EIDRM));
            };
            let nsems = set.sems.len();
            let adj = if undo {
                Some(
                    st.undo
                        .entry(pid)
                        .or_default()
                        .entry(id)
                        .or_insert_with(|| vec![0; nsems]),
                )
            } else {
                None
            };
            let r = try_ops(set, adj, ops, pid);
            if let Some((n, zero)) = blocked.take() {
                let s = &mut set.sems[usize::from(n)];
                if zero {
                    s.zcnt = s.zcnt.saturating_sub(1);
                } else {
                    s.ncnt = s.ncnt.saturating_sub(1);
                }
            }
            match r {
                Ok(Attempt::Done) => {
                    if alter {
                        set.shared.queue.notify();
                    }
                    Some(Ok(()))
                }
                Ok(Attempt::Block(n, zero)) => {
                    let s = &mut set.sems[usize::from(n)];
                    if zero {
                        s.zcnt += 1;
                    } else {
                        s.ncnt += 1;
                    }
                    *blocked = Some((n, zero));
                    None
                }
                Err(e) => Some(Err(e)),
            }
        };
        let waited = waker.wait_until(deadline, || {
            outcome = attempt(&mut blocked);
            outcome.is_some()
        });
        if let Some((n, zero)) = blocked {
            let mut st = self.lock();
            if let Ok(set) = st.sem.get_mut(id) {
                if let Some(s) = set.sems.get_mut(usize::from(n)) {
                    if zero {
                        s.zcnt = s.zcnt.saturating_sub(1);
                    } else {
                        s.ncnt = s.ncnt.saturating_sub(1);
                    }
                }
            }
        }
        match waited {
            Ok(()) => outcome.unwrap_or(Err(Errno::EINTR)),
            Err(Errno::ETIMEDOUT) => Err(Errno::EAGAIN),
            Err(e) => Err(e),
        }
    }

    /// semctl(GETVAL/GETPID/GETNCNT/GETZCNT).
    pub fn sem_get(&self, cr: &Credentials, id: i32, num: i32, what: SemGet) -> SysResult<i32> {
        let st = self.lock();
        let set = st.sem.get(id)?;
        if !set.perm.allows(cr, 0o444) {
            return Err(Errno::EACCES);
        }
        let s = usize::try_from(num)
            .ok()
            .and_then(|n| set.sems.get(n))
            .ok_or(Errno::EINVAL)?;
        Ok(match what {
            SemGet::Val => s.val,
            SemGet::Pid => s.pid,
            SemGet::Ncnt => s.ncnt as i32,
            SemGet::Zcnt => s.zcnt as i32,
        })
    }

    /// semctl(GETALL).
    pub fn sem_getall(&self, cr: &Credentials, id: i32) -> SysResult<Vec<u16>> {
        let st = self.lock();
        let set = st.sem.get(id)?;
        if !set.perm.allows(cr, 0o444) {
            return Err(Errno::EACCES);
        }
        Ok(set.sems.iter().map(|s| s.val as u16).collect())
    }

    /// The number of semaphores in set `id` (to size GETALL/SETALL buffers).
    pub fn sem_nsems(&self, id: i32) -> SysResult<usize> {
        Ok(self.lock().sem.get(id)?.sems.len())
    }

    /// semctl(SETVAL) (`num = Some`) or SETALL (`values` for every semaphore): ERANGE past
    /// SEMVMX, EINVAL for a bad number; clears the semaphores' undo adjustments everywhere and
    /// wakes waiters.
    pub fn sem_set_values(
        &self,
        cr: &Credentials,
        pid: i32,
        id: i32,
        num: Option<i32>,
        values: &[i32],
    ) -> SysResult<()> {
        let mut st = self.lock();
        let set = st.sem.get_mut(id)?;
        let idx = match num {
            Some(n) => Some(
                usize::try_from(n)
                    .ok()
                    .filter(|&n| n < set.sems.len())
                    .ok_or(Errno::EINVAL)?,
            ),
            None => None,
        };
        if !set.perm.allows(cr, 0o222) {
            return Err(Errno::EACCES);
        }
        if values.iter().any(|v| !(0..=SEMVMX).contains(v)) {
            return Err(Errno::ERANGE);
        }
        match idx {
            Some(n) => {
                let v = values.first().copied().ok_or(Errno::EINVAL)?;
                set.sems[n].val = v;
                set.sems[n].pid = pid;
            }
            None => {
                if values.len() != set.sems.len() {
                    return Err(Errno::EINVAL);
                }
                for (s, &v) in set.sems.iter_mut().zip(values) {
                    s.val = v;
                    s.pid = pid;
                }
            }
        }
        set.ctime = now();
        set.shared.queue.notify();
        clear_undo(&mut st, id, idx);
        Ok(())
    }

    /// semctl(IPC_STAT) / SEM_STAT (`by_index`) / SEM_STAT_ANY (`any`).
    pub fn sem_stat(
        &self,
        cr: &Credentials,
        id: i32,
        by_index: bool,
        any: bool,
    ) -> SysResult<(i32, SemStat)> {
        let st = self.lock();
        let (id, set) = if by_index {
            st.sem.by_index(id)?
        } else {
            (id, st.sem.get(id)?)
        };
        if !any && !set.perm.allows(cr, 0o444) {
            return Err(Errno::EACCES);
        }
        Ok((
            id,
            SemStat {
                perm: set.perm,
                otime: set.otime,
                ctime: set.ctime,
                nsems: set.sems.len() as u64,
            },
        ))
    }

    /// semctl(IPC_SET).
    pub fn sem_set(&self, cr: &Credentials, id: i32, new: &PermSet) -> SysResult<()> {
        let mut st = self.lock();
        let set = st.sem.get_mut(id)?;
        set.perm.check_owner(cr)?;
        set.perm.set(new);
        set.ctime = now();
        Ok(())
    }

    /// semctl(IPC_RMID): the set goes at once; blocked semops fail with EIDRM.
    pub fn sem_rmid(&self, cr: &Credentials, id: i32) -> SysResult<()> {
        let mut st = self.lock();
        st.sem.get(id)?.perm.check_owner(cr)?;
        let set = st.sem.remove(id).ok_or(Errno::EINVAL)?;
        for lists in st.undo.values_mut() {
            lists.remove(&id);
        }
        set.shared.removed.store(true, Ordering::SeqCst);
        set.shared.queue.notify();
        Ok(())
    }

    /// semctl(IPC_INFO) (`usage` false) or SEM_INFO (true), with the highest index in use
    /// (0 if none) to return.
    pub fn sem_info(&self, usage: bool) -> (i32, SemInfo) {
        let st = self.lock();
        let mut info = SemInfo {
            semmap: SEMMNS,
            semmni: SEMMNI,
            semmns: SEMMNS,
            semmnu: SEMMNS,
            semmsl: SEMMSL,
            semopm: SEMOPM as i32,
            semume: SEMUME,
            semusz: SEMUSZ,
            semvmx: SEMVMX,
            semaem: SEMAEM,
        };
        if usage {
            info.semusz = st.sem.len() as i32;
            info.semaem = st.sem.iter().map(|s| s.sems.len() as i32).sum();
        }
        (st.sem.max_idx().max(0), info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::ipc::IPC_PRIVATE;

    fn op(num: u16, op: i16, flg: i16) -> SemBuf {
        SemBuf { num, op, flg }
    }

    #[test]
    fn semop_is_atomic_and_checks_ranges() {
        let ns = IpcNamespace::new();
        let cr = Credentials::new(0, 0, vec![]);
        let w = TaskWaker::new();
        let id = ns.semget(&cr, IPC_PRIVATE, 2, 0o600).unwrap();
        ns.semop(&cr, 5, id, &[op(0, 2, 0)], None, &w).unwrap();
        let nowait = IPC_NOWAIT as i16;
        // The second op would block: nothing changes.
        assert_eq!(
            ns.semop(&cr, 5, id, &[op(0, -1, 0), op(1, -1, nowait)], None, &w),
            Err(Errno::EAGAIN)
        );
        assert_eq!(ns.sem_get(&cr, id, 0, SemGet::Val), Ok(2));
        assert_eq!(ns.sem_get(&cr, id, 0, SemGet::Pid), Ok(5));
        assert_eq!(
            ns.semop(&cr, 5, id, &[op(2, 1, 0)], None, &w),
            Err(Errno::EFBIG)
        );
        assert_eq!(ns.semop(&cr, 5, id, &[], None, &w), Err(Errno::EINVAL));
        assert_eq!(ns.sem_set_values(&cr, 5, id, Some(1), &[SEMVMX]), Ok(()));
        assert_eq!(
            ns.semop(&cr, 5, id, &[op(1, 1, 0)], None, &w),
            Err(Errno::ERANGE)
        );
        assert_eq!(
            ns.sem_set_values(&cr, 5, id, Some(1), &[SEMVMX + 1]),
            Err(Errno::ERANGE)
        );
        let t = Some(Instant::now());
        assert_eq!(
            ns.semop(&cr, 5, id, &[op(0, 0, 0)], t, &w),
            Err(Errno::EAGAIN)
        );
        assert_eq!(ns.sem_get(&cr, id, 0, SemGet::Zcnt), Ok(0));
    }

    #[test]
    fn undo_is_applied_at_exit() {
        let ns = IpcNamespace::new();
        let cr = Credentials::new(0, 0, vec![]);
        let w = TaskWaker::new();
        let id = ns.semget(&cr, IPC_PRIVATE, 1, 0o600).unwrap();
        ns.semop(&cr, 9, id, &[op(0, 3, SEM_UNDO)], None, &w)
            .unwrap();
        ns.semop(&cr, 9, id, &[op(0, -1, SEM_UNDO)], None, &w)
            .unwrap();
        assert_eq!(ns.sem_get(&cr, id, 0, SemGet::Val), Ok(2));
        exit_undo(&mut ns.lock(), 9);
        assert_eq!(ns.sem_get(&cr, id, 0, SemGet::Val), Ok(0));
    }

    #[test]
    fn rmid_wakes_a_blocked_waiter_with_eidrm() {
        let ns = Arc::new(IpcNamespace::new());
        let cr = Credentials::new(0, 0, vec![]);
        let id = ns.semget(&cr, IPC_PRIVATE, 1, 0o600).unwrap();
        let ns2 = ns.clone();
        let cr2 = cr.clone();
        let h = std::thread::spawn(move || {
            let w = TaskWaker::new();
            ns2.semop(&cr2, 3, id, &[op(0, -1, 0)], None, &w)
        });
        while ns.sem_get(&cr, id, 0, SemGet::Ncnt) != Ok(1) {
            std::thread::yield_now();
        }
        ns.sem_rmid(&cr, id).unwrap();
        assert_eq!(h.join().unwrap(), Err(Errno::EIDRM));
    }
}
