//! Futexes (after Linux `kernel/futex/` and gVisor's `pkg/sentry/kernel/futex`): wait queues
//! keyed by what the futex word is. A private futex (and a shared one in private memory) is
//! named by its address space and address; a shared one in a file-backed shared mapping by the
//! file's (dev, ino) and offset, so processes mapping the same file meet on it at any address;
//! one in shared anonymous memory by the memory object (`mm::SharedAnon`, kept across fork and
//! mremap) and offset, as Linux keys on the shmem inode and page index (`get_futex_key`).
//!
//! No wake-up is lost: a waiter compares the futex word and enqueues itself under the table
//! lock, and wakers take the same lock. Lock order: `FutexTable::queues`, then the
//! `MemoryManager` lock (copy-in/out), then a `TaskWaker`'s lock.
//!
//! PI futexes (FUTEX_LOCK_PI, LOCK_PI2, TRYLOCK_PI, UNLOCK_PI; Linux `kernel/futex/pi.c`): the
//! word holds the owner's TID, FUTEX_WAITERS once someone blocks, FUTEX_OWNER_DIED after a
//! robust owner died. Blocked lockers queue FIFO per key and UNLOCK_PI hands the lock to the
//! first directly (the word never reads free while they wait). No priority is inherited: the
//! sentry does not schedule, the host does, so "PI" here is the protocol, not the boost.
//! The sentry cannot compare-and-swap application memory (copy-in/out are process_vm_*), so it
//! changes a word only when no application thread can change it concurrently: a word that is
//! non-zero with no owner, or owned by the caller, is written whole; otherwise only its top
//! byte (WAITERS and OWNER_DIED; sandbox TIDs are below 2^24) is stored, which a racing
//! user-space cmpxchg cannot be torn by, and the word is read again.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::kernel::wait::TaskWaker;
use crate::mm::MemoryManager;
use crate::{Errno, SysResult};

/// What a futex word is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FutexKey {
    /// An address in one address space (`MemoryManager` identity).
    Private { mm: usize, addr: u64 },
    /// An offset in a file mapped shared.
    Shared { dev: u64, ino: u64, offset: u64 },
    /// An offset in one shared anonymous memory object.
    SharedAnon { id: u64, offset: u64 },
}

impl FutexKey {
    /// The key for the word at `addr` of `mm` (EINVAL when misaligned, EFAULT when unmapped).
    pub fn new(mm: &Arc<MemoryManager>, addr: u64, private: bool) -> SysResult<FutexKey> {
        if !addr.is_multiple_of(4) {
            return Err(Errno::EINVAL);
        }
        let private_key = FutexKey::Private {
            mm: Arc::as_ptr(mm) as usize,
            addr,
        };
        if private {
            return Ok(private_key);
        }
        let vma = mm.vma_at(addr).ok_or(Errno::EFAULT)?;
        let delta = addr - vma.start;
        match (&vma.file, vma.shared_anon, vma.shared) {
            (Some(f), _, true) => Ok(FutexKey::Shared {
                dev: f.dev,
                ino: f.ino,
                offset: f.offset + delta,
            }),
            (None, Some(a), true) => Ok(FutexKey::SharedAnon {
                id: a.id,
                offset: a.offset + delta,
            }),
            _ => Ok(private_key),
        }
    }
}

/// One blocked FUTEX_WAIT.
struct Waiter {
    waker: Arc<TaskWaker>,
    bitset: u32,
    woken: AtomicBool,
}

/// One blocked FUTEX_LOCK_PI: `granted` is set when UNLOCK_PI (or the owner's death) made
/// `tid` the owner.
struct PiWaiter {
    waker: Arc<TaskWaker>,
    tid: u32,
    granted: AtomicBool,
}

#[derive(Default)]
struct Queues {
    map: HashMap<FutexKey, Vec<Arc<Waiter>>>,
    pi: HashMap<FutexKey, VecDeque<Arc<PiWaiter>>>,
}

impl Queues {
    /// Wakes up to `n` waiters on `key` whose bitset meets `bitset`.
    fn wake(&mut self, key: FutexKey, n: usize, bitset: u32) -> usize {
        let Some(q) = self.map.get_mut(&key) else {
            return 0;
        };
        let mut woken = 0;
        q.retain(|w| {
            if woken < n && w.bitset & bitset != 0 {
                w.woken.store(true, Ordering::SeqCst);
                w.waker.wake();
                woken += 1;
                false
            } else {
                true
            }
        });
        if q.is_empty() {
            self.map.remove(&key);
        }
        woken
    }

    /// Takes the first PI waiter of `key`, and whether others remain.
    fn pop_pi(&mut self, key: FutexKey) -> Option<(Arc<PiWaiter>, bool)> {
        let q = self.pi.get_mut(&key)?;
        let w = q.pop_front()?;
        let more = !q.is_empty();
        if !more {
            self.pi.remove(&key);
        }
        Some((w, more))
    }

    fn remove_pi(&mut self, key: FutexKey, waiter: &Arc<PiWaiter>) {
        if let Some(q) = self.pi.get_mut(&key) {
            q.retain(|w| !Arc::ptr_eq(w, waiter));
            if q.is_empty() {
                self.pi.remove(&key);
            }
        }
    }

    fn remove(&mut self, waiter: &Arc<Waiter>) {
        let mut empty = None;
        for (k, q) in self.map.iter_mut() {
            if let Some(i) = q.iter().position(|w| Arc::ptr_eq(w, waiter)) {
                q.remove(i);
                if q.is_empty() {
                    empty = Some(*k);
                }
                break;
            }
        }
        if let Some(k) = empty {
            self.map.remove(&k);
        }
    }
}

/// Every futex wait queue of the sandbox.
#[derive(Default)]
pub struct FutexTable {
    queues: Mutex<Queues>,
}

/// FUTEX_BITSET_MATCH_ANY.
pub const BITSET_ANY: u32 = u32::MAX;
/// The PI and robust futex word's bits (`include/uapi/linux/futex.h`).
pub const FUTEX_WAITERS: u32 = 0x8000_0000;
pub const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
pub const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

/// How FUTEX_LOCK_PI ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiLock {
    Acquired,
    /// Acquired from an owner that died (FUTEX_OWNER_DIED is set in the word).
    AcquiredOwnerDied,
}

fn write_word(mm: &MemoryManager, addr: u64, v: u32) -> SysResult<()> {
    mm.copy_out(addr, &v.to_ne_bytes())
}

/// Stores only the top byte of the word at `addr` (see the module comment).
fn write_top_byte(mm: &MemoryManager, addr: u64, v: u32) -> SysResult<()> {
    mm.copy_out(addr + 3, &[(v >> 24) as u8])
}

fn read_word(mm: &MemoryManager, addr: u64) -> SysResult<u32> {
    let mut b = [0u8; 4];
    mm.copy_in(addr, &mut b)?;
    Ok(u32::from_ne_bytes(b))
}

impl FutexTable {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        self.queues
            .lock()
            .expect("invariant: futex table lock is never poisoned")
    }

    /// FUTEX_WAIT(_BITSET): sleeps while the word at `addr` is `val` until woken (Ok), the
    /// deadline passes (ETIMEDOUT) or the task is interrupted (EINTR). EAGAIN when the word
    /// differs, EINVAL for an empty bitset.
    #[allow(clippy::too_many_arguments)]
    pub fn wait(
        &self,
        mm: &Arc<MemoryManager>,
        waker: &Arc<TaskWaker>,
        addr: u64,
        private: bool,
        val: u32,
        bitset: u32,
        deadline: Option<Instant>,
    ) -> SysResult<()> {
        if bitset == 0 {
            return Err(Errno::EINVAL);
        }
        let key = FutexKey::new(mm, addr, private)?;
        let waiter = Arc::new(Waiter {
            waker: waker.clone(),
            bitset,
            woken: AtomicBool::new(false),
        });
        {
            let mut q = self.lock();
            if read_word(mm, addr)? != val {
                return Err(Errno::EAGAIN);
            }
            q.map.entry(key).or_default().push(waiter.clone());
        }
        let result = waker.wait_until(deadline, || waiter.woken.load(Ordering::SeqCst));
        let mut q = self.lock();
        if waiter.woken.load(Ordering::SeqCst) {
            return Ok(());
        }
        q.remove(&waiter);
        result
    }

    /// FUTEX_WAKE(_BITSET): wakes up to `n` waiters; returns how many.
    pub fn wake(
        &self,
        mm: &Arc<MemoryManager>,
        addr: u64,
        private: bool,
        n: usize,
        bitset: u32,
    ) -> SysResult<usize> {
        if bitset == 0 {
            return Err(Errno::EINVAL);
        }
        let key = FutexKey::new(mm, addr, private)?;
        Ok(self.lock().wake(key, n, bitset))
    }

    /// FUTEX_REQUEUE / FUTEX_CMP_REQUEUE (when `cmp` is given, EAGAIN unless the word at
    /// `addr` equals it): wakes `n_wake` waiters of `addr` and moves up to `n_requeue` of the
    /// rest to `addr2`. Returns woken + requeued.
    #[allow(clippy::too_many_arguments)]
    pub fn requeue(
        &self,
        mm: &Arc<MemoryManager>,
        addr: u64,
        addr2: u64,
        private: bool,
        n_wake: usize,
        n_requeue: usize,
        cmp: Option<u32>,
    ) -> SysResult<usize> {
        let key = FutexKey::new(mm, addr, private)?;
        let key2 = FutexKey::new(mm, addr2, private)?;
        let mut q = self.lock();
        if let Some(c) = cmp {
            if read_word(mm, addr)? != c {
                return Err(Errno::EAGAIN);
            }
        }
        let woken = q.wake(key, n_wake, BITSET_ANY);
        if key == key2 {
            return Ok(woken);
        }
        let moved: Vec<Arc<Waiter>> = match q.map.get_mut(&key) {
            Some(list) => {
                let k = n_requeue.min(list.len());
                list.drain(..k).collect()
            }
            None => Vec::new(),
        };
        if q.map.get(&key).is_some_and(Vec::is_empty) {
            q.map.remove(&key);
        }
        let requeued = moved.len();
        if requeued > 0 {
            q.map.entry(key2).or_default().extend(moved);
        }
        Ok(woken + requeued)
    }

    /// FUTEX_WAKE_OP: applies `op` to the word at `addr2`, wakes `n` waiters of `addr`, and
    /// `n2` of `addr2` if the old value of `addr2` passed the op's comparison.
    #[allow(clippy::too_many_arguments)]
    pub fn wake_op(
        &self,
        mm: &Arc<MemoryManager>,
        addr: u64,
        addr2: u64,
        private: bool,
        n: usize,
        n2: usize,
        op: u32,
    ) -> SysResult<usize> {
        let key = FutexKey::new(mm, addr, private)?;
        let key2 = FutexKey::new(mm, addr2, private)?;
        let (kind, cmp, oparg, cmparg) = decode_wake_op(op)?;
        let mut q = self.lock();
        let old = read_word(mm, addr2)?;
        let new = match kind {
            0 => oparg,
            1 => old.wrapping_add(oparg),
            2 => old | oparg,
            3 => old & !oparg,
            4 => old ^ oparg,
            _ => return Err(Errno::ENOSYS),
        };
        mm.copy_out(addr2, &new.to_ne_bytes())?;
        let mut woken = q.wake(key, n, BITSET_ANY);
        let o = old as i32;
        let c = cmparg as i32;
        let pass = match cmp {
            0 => o == c,
            1 => o != c,
            2 => o < c,
            3 => o <= c,
            4 => o > c,
            5 => o >= c,
            _ => return Err(Errno::ENOSYS),
        };
        if pass {
            woken += q.wake(key2, n2, BITSET_ANY);
        }
        Ok(woken)
    }
}

impl FutexTable {
    /// FUTEX_LOCK_PI / LOCK_PI2 / TRYLOCK_PI for thread `tid`: takes the lock if its word has no
    /// owner, else (unless `trylock`, EAGAIN) sets FUTEX_WAITERS and blocks until the owner's
    /// UNLOCK_PI hands it over, `deadline` passes (ETIMEDOUT) or a signal comes (EINTR).
    /// EDEADLK when `tid` owns it already; ESRCH when the owner is no thread (`owner_exists`).
    #[allow(clippy::too_many_arguments)]
    pub fn lock_pi(
        &self,
        mm: &Arc<MemoryManager>,
        waker: &Arc<TaskWaker>,
        tid: i32,
        addr: u64,
        private: bool,
        trylock: bool,
        deadline: Option<Instant>,
        owner_exists: impl Fn(i32) -> bool,
    ) -> SysResult<PiLock> {
        let key = FutexKey::new(mm, addr, private)?;
        let me = tid as u32 & FUTEX_TID_MASK;
        let waiter = Arc::new(PiWaiter {
            waker: waker.clone(),
            tid: me,
            granted: AtomicBool::new(false),
        });
        {
            let mut q = self.lock();
            loop {
                let v = read_word(mm, addr)?;
                let owner = v & FUTEX_TID_MASK;
                if owner == 0 {
                    if v == 0 {
                        // Free, but a user-space locker may cmpxchg it: mark it first.
                        write_top_byte(mm, addr, FUTEX_WAITERS)?;
                        continue;
                    }
                    let others = q.pi.get(&key).is_some_and(|l| !l.is_empty());
                    let nv = me | (v & FUTEX_OWNER_DIED) | if others { FUTEX_WAITERS } else { 0 };
                    write_word(mm, addr, nv)?;
                    return Ok(if v & FUTEX_OWNER_DIED != 0 {
                        PiLock::AcquiredOwnerDied
                    } else {
                        PiLock::Acquired
                    });
                }
                if owner == me {
                    return Err(Errno::EDEADLK);
                }
                if !owner_exists(owner as i32) {
                    return Err(Errno::ESRCH);
                }
                if trylock {
                    return Err(Errno::EAGAIN);
                }
                if v & FUTEX_WAITERS == 0 {
                    write_top_byte(mm, addr, v | FUTEX_WAITERS)?;
                    continue;
                }
                q.pi.entry(key).or_default().push_back(waiter.clone());
                break;
            }
        }
        let result = waker.wait_until(deadline, || waiter.granted.load(Ordering::SeqCst));
        let mut q = self.lock();
        if waiter.granted.load(Ordering::SeqCst) {
            let v = read_word(mm, addr)?;
            return Ok(if v & FUTEX_OWNER_DIED != 0 {
                PiLock::AcquiredOwnerDied
            } else {
                PiLock::Acquired
            });
        }
        q.remove_pi(key, &waiter);
        result.map(|()| PiLock::Acquired)
    }

    /// Makes the first PI waiter of `key` the owner of the word at `addr` (keeping `died`,
    /// FUTEX_OWNER_DIED or 0). False when nobody waits.
    fn hand_over(
        q: &mut Queues,
        mm: &MemoryManager,
        key: FutexKey,
        addr: u64,
        died: u32,
    ) -> SysResult<bool> {
        let Some((w, _more)) = q.pop_pi(key) else {
            return Ok(false);
        };
        // Linux keeps FUTEX_WAITERS set on a hand-over: the next unlock comes to the kernel.
        write_word(mm, addr, w.tid | FUTEX_WAITERS | died)?;
        w.granted.store(true, Ordering::SeqCst);
        w.waker.wake();
        Ok(true)
    }

    /// FUTEX_UNLOCK_PI by thread `tid`: EPERM unless it owns the word; the first waiter becomes
    /// the owner, or the word becomes 0.
    pub fn unlock_pi(
        &self,
        mm: &Arc<MemoryManager>,
        tid: i32,
        addr: u64,
        private: bool,
    ) -> SysResult<()> {
        let key = FutexKey::new(mm, addr, private)?;
        let mut q = self.lock();
        let v = read_word(mm, addr)?;
        if v & FUTEX_TID_MASK != tid as u32 & FUTEX_TID_MASK {
            return Err(Errno::EPERM);
        }
        if !Self::hand_over(&mut q, mm, key, addr, 0)? {
            write_word(mm, addr, 0)?;
        }
        Ok(())
    }

    /// Linux `handle_futex_death` for one robust-list entry of exiting thread `tid`: if the
    /// word at `addr` names `tid`, it gets FUTEX_OWNER_DIED; a PI lock (`pi`) goes to its first
    /// waiter, a plain one wakes one FUTEX_WAIT waiter.
    pub fn owner_died(&self, mm: &Arc<MemoryManager>, tid: i32, addr: u64, pi: bool) {
        let mut q = self.lock();
        let Ok(v) = read_word(mm, addr) else { return };
        if v & FUTEX_TID_MASK != tid as u32 & FUTEX_TID_MASK {
            return;
        }
        // The robust list does not say whether the futex was private: a shared key first.
        for private in [false, true] {
            let Ok(key) = FutexKey::new(mm, addr, private) else {
                return;
            };
            if pi && q.pi.contains_key(&key) {
                let _ = Self::hand_over(&mut q, mm, key, addr, FUTEX_OWNER_DIED);
                return;
            }
        }
        if write_word(mm, addr, (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED).is_err() {
            return;
        }
        if !pi && v & FUTEX_WAITERS != 0 {
            for private in [false, true] {
                if let Ok(key) = FutexKey::new(mm, addr, private) {
                    if q.wake(key, 1, BITSET_ANY) > 0 {
                        return;
                    }
                }
            }
        }
    }
}

/// Splits FUTEX_WAKE_OP's encoded operation into (op, cmp, oparg, cmparg) (`FUTEX_OP()`).
fn decode_wake_op(encoded: u32) -> SysResult<(u32, u32, u32, u32)> {
    let mut op = (encoded >> 28) & 0xf;
    let cmp = (encoded >> 24) & 0xf;
    let sext12 = |v: u32| (((v & 0xfff) << 20) as i32 >> 20) as u32;
    let mut oparg = sext12(encoded >> 12);
    let cmparg = sext12(encoded);
    if op & 8 != 0 {
        op &= 7;
        oparg = 1u32 << (oparg & 31);
    }
    if op > 4 || cmp > 5 {
        return Err(Errno::ENOSYS);
    }
    Ok((op, cmp, oparg, cmparg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::testing::new_mm;
    use crate::mm::MmapRequest;
    use crate::platform::Prot;
    use std::time::Duration;

    fn mm_with_page() -> (Arc<MemoryManager>, u64) {
        let (_fake, mm) = new_mm();
        let mm = Arc::new(mm);
        let addr = mm
            .mmap(MmapRequest::anon(0, 4096, Prot::READ | Prot::WRITE))
            .unwrap();
        (mm, addr)
    }

    #[test]
    fn wait_with_a_different_value_is_eagain() {
        let (mm, addr) = mm_with_page();
        let t = FutexTable::default();
        let w = TaskWaker::new();
        let r = t.wait(&mm, &w, addr, true, 1, BITSET_ANY, None);
        assert_eq!(r, Err(Errno::EAGAIN));
    }

    #[test]
    fn wait_times_out_and_leaves_no_waiter() {
        let (mm, addr) = mm_with_page();
        let t = FutexTable::default();
        let w = TaskWaker::new();
        let d = Instant::now() + Duration::from_millis(10);
        assert_eq!(
            t.wait(&mm, &w, addr, true, 0, BITSET_ANY, Some(d)),
            Err(Errno::ETIMEDOUT)
        );
        assert!(t.lock().map.is_empty());
        assert_eq!(t.wake(&mm, addr, true, 1, BITSET_ANY), Ok(0));
    }

    #[test]
    fn wake_releases_a_waiter_on_another_thread() {
        let (mm, addr) = mm_with_page();
        let t = Arc::new(FutexTable::default());
        let (t2, mm2) = (t.clone(), mm.clone());
        let h = std::thread::spawn(move || {
            let w = TaskWaker::new();
            t2.wait(&mm2, &w, addr, true, 0, BITSET_ANY, None)
        });
        let mut woke = 0;
        while woke == 0 {
            std::thread::sleep(Duration::from_millis(5));
            woke = t.wake(&mm, addr, true, 1, BITSET_ANY).unwrap();
        }
        assert_eq!(h.join().unwrap(), Ok(()));
    }

    #[test]
    fn bitsets_that_do_not_meet_are_not_woken() {
        let (mm, addr) = mm_with_page();
        let t = Arc::new(FutexTable::default());
        let (t2, mm2) = (t.clone(), mm.clone());
        let h = std::thread::spawn(move || {
            let w = TaskWaker::new();
            let d = Instant::now() + Duration::from_millis(200);
            t2.wait(&mm2, &w, addr, true, 0, 0b01, Some(d))
        });
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(t.wake(&mm, addr, true, 1, 0b10), Ok(0));
        assert_eq!(h.join().unwrap(), Err(Errno::ETIMEDOUT));
    }

    #[test]
    fn cmp_requeue_checks_the_value() {
        let (mm, addr) = mm_with_page();
        let t = FutexTable::default();
        assert_eq!(
            t.requeue(&mm, addr, addr + 4, true, 1, 1, Some(5)),
            Err(Errno::EAGAIN)
        );
        assert_eq!(t.requeue(&mm, addr, addr + 4, true, 1, 1, Some(0)), Ok(0));
    }

    #[test]
    fn wake_op_applies_the_operation() {
        let (mm, addr) = mm_with_page();
        let t = FutexTable::default();
        mm.copy_out(addr + 4, &5u32.to_ne_bytes()).unwrap();
        // FUTEX_OP(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_GT, 1)
        let op = (1 << 28) | (4 << 24) | (3 << 12) | 1;
        assert_eq!(t.wake_op(&mm, addr, addr + 4, true, 1, 1, op), Ok(0));
        let mut b = [0u8; 4];
        mm.copy_in(addr + 4, &mut b).unwrap();
        assert_eq!(u32::from_ne_bytes(b), 8);
    }

    #[test]
    fn shared_anonymous_keys_follow_the_memory_not_the_address() {
        let (_fake, mm) = new_mm();
        let mm = Arc::new(mm);
        let req = MmapRequest {
            shared: true,
            ..MmapRequest::anon(0, 4096, Prot::READ | Prot::WRITE)
        };
        let a = mm.mmap(req.clone()).unwrap();
        let (fake2, _) = new_mm();
        let child = Arc::new(mm.fork(fake2));
        let parent_key = FutexKey::new(&mm, a + 8, false).unwrap();
        assert_eq!(FutexKey::new(&child, a + 8, false), Ok(parent_key));
        // New shared memory at the same address is another object.
        let fixed = MmapRequest {
            fixed: true,
            addr: a,
            ..req
        };
        child.mmap(fixed).unwrap();
        assert_ne!(FutexKey::new(&child, a + 8, false), Ok(parent_key));
        // Private memory keys per address space even without FUTEX_PRIVATE_FLAG.
        let p = mm
            .mmap(MmapRequest::anon(0, 4096, Prot::READ | Prot::WRITE))
            .unwrap();
        let (fake3, _) = new_mm();
        let other = Arc::new(mm.fork(fake3));
        assert_ne!(
            FutexKey::new(&mm, p, false),
            FutexKey::new(&other, p, false)
        );
    }

    fn word(mm: &MemoryManager, addr: u64) -> u32 {
        read_word(mm, addr).unwrap()
    }

    #[test]
    fn pi_lock_takes_a_free_word_and_refuses_its_owner() {
        let (mm, addr) = mm_with_page();
        let t = FutexTable::default();
        let w = TaskWaker::new();
        let lock = |tid, trylock| t.lock_pi(&mm, &w, tid, addr, true, trylock, None, |_| true);
        assert_eq!(lock(7, false), Ok(PiLock::Acquired));
        assert_eq!(word(&mm, addr), 7);
        assert_eq!(lock(7, false), Err(Errno::EDEADLK));
        assert_eq!(lock(8, true), Err(Errno::EAGAIN));
        assert_eq!(t.unlock_pi(&mm, 8, addr, true), Err(Errno::EPERM));
        t.unlock_pi(&mm, 7, addr, true).unwrap();
        assert_eq!(word(&mm, addr), 0);
        write_word(&mm, addr, 99).unwrap();
        let none = t.lock_pi(&mm, &w, 7, addr, true, false, None, |_| false);
        assert_eq!(none, Err(Errno::ESRCH));
    }

    #[test]
    fn pi_unlock_hands_the_lock_to_the_waiter() {
        let (mm, addr) = mm_with_page();
        let t = Arc::new(FutexTable::default());
        write_word(&mm, addr, 5).unwrap();
        let (t2, mm2) = (t.clone(), mm.clone());
        let h = std::thread::spawn(move || {
            let w = TaskWaker::new();
            t2.lock_pi(&mm2, &w, 6, addr, true, false, None, |_| true)
        });
        while word(&mm, addr) & FUTEX_WAITERS == 0 || t.lock().pi.is_empty() {
            std::thread::sleep(Duration::from_millis(2));
        }
        t.unlock_pi(&mm, 5, addr, true).unwrap();
        assert_eq!(h.join().unwrap(), Ok(PiLock::Acquired));
        assert_eq!(word(&mm, addr), 6 | FUTEX_WAITERS);
    }

    #[test]
    fn pi_lock_times_out_with_waiters_set() {
        let (mm, addr) = mm_with_page();
        let t = FutexTable::default();
        let w = TaskWaker::new();
        write_word(&mm, addr, 5).unwrap();
        let d = Instant::now() + Duration::from_millis(10);
        let r = t.lock_pi(&mm, &w, 6, addr, true, false, Some(d), |_| true);
        assert_eq!(r, Err(Errno::ETIMEDOUT));
        assert_eq!(word(&mm, addr), 5 | FUTEX_WAITERS);
        assert!(t.lock().pi.is_empty());
    }

    #[test]
    fn robust_owner_death_marks_the_word() {
        let (mm, addr) = mm_with_page();
        let t = FutexTable::default();
        write_word(&mm, addr, 5 | FUTEX_WAITERS).unwrap();
        t.owner_died(&mm, 4, addr, true);
        assert_eq!(word(&mm, addr), 5 | FUTEX_WAITERS);
        t.owner_died(&mm, 5, addr, true);
        assert_eq!(word(&mm, addr), FUTEX_WAITERS | FUTEX_OWNER_DIED);
        let w = TaskWaker::new();
        let r = t.lock_pi(&mm, &w, 6, addr, true, false, None, |_| true);
        assert_eq!(r, Ok(PiLock::AcquiredOwnerDied));
        assert_eq!(word(&mm, addr), 6 | FUTEX_OWNER_DIED);
    }

    #[test]
    fn misaligned_futex_is_einval() {
        let (mm, addr) = mm_with_page();
        assert_eq!(FutexKey::new(&mm, addr + 1, true), Err(Errno::EINVAL));
    }
}
