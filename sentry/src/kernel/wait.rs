//! Blocking in the sentry (after gVisor's `pkg/waiter` and `Task.Block`): a task that must wait
//! (a pipe with no data, wait4 with no zombie, a futex) parks its host thread on its own
//! `TaskWaker`, registered with the `WaitQueue`s of the objects it waits for. Whoever changes
//! such an object calls `WaitQueue::notify`; whoever queues a signal for the task calls
//! `TaskWaker::interrupt`, which makes the wait return EINTR (the task loop then turns that into
//! a restart or EINTR for the application).
//!
//! Lock order: a `WaitQueue`'s list lock, then a `TaskWaker`'s state lock. Never hold an
//! object's own lock while calling `notify` if that object's readiness check takes it too.

use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Instant;

use crate::{Errno, SysResult};

/// One task's parking spot.
#[derive(Default)]
pub struct TaskWaker {
    /// Set by `notify`/`interrupt`, cleared when the waiter re-checks its condition.
    woken: Mutex<bool>,
    cv: Condvar,
    /// A signal (or exit request) is pending for the task: waits end with EINTR.
    interrupted: AtomicBool,
}

impl TaskWaker {
    pub fn new() -> Arc<TaskWaker> {
        Arc::new(TaskWaker::default())
    }

    /// Wakes the task so it re-checks what it waits for.
    pub fn wake(&self) {
        let mut w = self
            .woken
            .lock()
            .expect("invariant: waker lock is never poisoned");
        *w = true;
        self.cv.notify_all();
    }

    /// Marks the task interrupted (a signal is pending) and wakes it.
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
        self.wake();
    }

    /// Clears the interrupted mark (once the task has handled its pending signals).
    pub fn clear_interrupt(&self) {
        self.interrupted.store(false, Ordering::SeqCst);
    }

    pub fn is_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    /// Blocks until `ready()` is true (Ok), the task is interrupted (EINTR) or `deadline`
    /// passes (ETIMEDOUT). `ready` is re-checked after every wake-up; register with the
    /// relevant `WaitQueue`s (see `WaitQueue::register`) before calling.
    pub fn wait_until(
        &self,
        deadline: Option<Instant>,
        mut ready: impl FnMut() -> bool,
    ) -> SysResult<()> {
        loop {
            if ready() {
                return Ok(());
            }
            if self.is_interrupted() {
                return Err(Errno::EINTR);
            }
            let mut woken = self
                .woken
                .lock()
                .expect("invariant: waker lock is never poisoned");
            while !*woken {
                match deadline {
                    None => {
                        woken = self
                            .cv
                            .wait(woken)
                            .expect("invariant: waker lock is never poisoned");
                    }
                    Some(d) => {
                        let now = Instant::now();
                        if now >= d {
                            drop(woken);
                            return if ready() {
                                Ok(())
                            } else {
                                Err(Errno::ETIMEDOUT)
                            };
                        }
                        woken = self
                            .cv
                            .wait_timeout(woken, d - now)
                            .expect("invariant: waker lock is never poisoned")
                            .0;
                    }
                }
            }
            *woken = false;
        }
    }
}

/// The tasks waiting for one object (a pipe's readers, a process's wait4 callers...).
///
/// `notify` on a queue nobody waits on (a pipe read or write with no blocked partner, the
/// common case) takes no lock: it reads `registered` and stops at 0. That this loses no
/// wake-up is the store-buffering (Dekker) argument, with a SeqCst fence on each side:
///
/// - a waiter (1) adds itself (`registered` += 1), (2) fences, (3) re-checks readiness
///   (`wait_until` calls `ready()` before it first sleeps);
/// - a notifier (a) makes the change that readiness tests, (b) fences, (c) reads
///   `registered`.
///
/// The two fences are ordered in the single total order of SeqCst operations. If the
/// waiter's comes first, (c) sees (1)'s increment (or a later value, which is non-zero until
/// that waiter has stopped waiting) and the notifier wakes it. If the notifier's comes first,
/// (3) sees (a): for a change made with atomics by the fence rule, for one made under a lock
/// that `ready()` takes too (the pipe's state) by the lock's own ordering. So a waiter that
/// misses the change is always woken. A Relaxed check alone would let (c) read a stale 0
/// while (3) reads the stale state (each side's load passing its own earlier store, as x86's
/// store buffer allows), and the waiter would sleep through the change.
#[derive(Default)]
pub struct WaitQueue {
    waiters: Mutex<Vec<Weak<TaskWaker>>>,
    /// Live `Registration`s (a superset of the live entries of `waiters`).
    registered: AtomicUsize,
}

impl WaitQueue {
    pub fn new() -> WaitQueue {
        WaitQueue::default()
    }

    /// Adds `waker`; the returned guard removes it when dropped.
    pub fn register<'a>(&'a self, waker: &Arc<TaskWaker>) -> Registration<'a> {
        self.waiters
            .lock()
            .expect("invariant: wait queue lock is never poisoned")
            .push(Arc::downgrade(waker));
        self.registered.fetch_add(1, Ordering::Relaxed);
        // (2) of the argument on `WaitQueue`: the caller's readiness check comes after this.
        fence(Ordering::SeqCst);
        Registration {
            queue: self,
            waker: Arc::downgrade(waker),
        }
    }

    /// Wakes every registered task. Call it after the change waiters look for is made.
    pub fn notify(&self) {
        // (b) and (c) of the argument on `WaitQueue`.
        fence(Ordering::SeqCst);
        if self.registered.load(Ordering::Relaxed) == 0 {
            return;
        }
        let waiters = self
            .waiters
            .lock()
            .expect("invariant: wait queue lock is never poisoned");
        for w in waiters.iter().filter_map(Weak::upgrade) {
            w.wake();
        }
    }
}

/// Keeps a task registered with a `WaitQueue` while it waits.
pub struct Registration<'a> {
    queue: &'a WaitQueue,
    waker: Weak<TaskWaker>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.queue.registered.fetch_sub(1, Ordering::Relaxed);
        let mut waiters = self
            .queue
            .waiters
            .lock()
            .expect("invariant: wait queue lock is never poisoned");
        if let Some(i) = waiters.iter().position(|w| w.ptr_eq(&self.waker)) {
            waiters.swap_remove(i);
        }
        waiters.retain(|w| w.strong_count() > 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[test]
    fn notify_wakes_a_waiter_whose_condition_became_true() {
        let q = Arc::new(WaitQueue::new());
        let flag = Arc::new(AtomicUsize::new(0));
        let waker = TaskWaker::new();
        let (q2, f2) = (q.clone(), flag.clone());
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            f2.store(1, Ordering::SeqCst);
            q2.notify();
        });
        let _reg = q.register(&waker);
        waker
            .wait_until(None, || flag.load(Ordering::SeqCst) == 1)
            .unwrap();
        t.join().unwrap();
    }

    #[test]
    fn interrupt_ends_a_wait_with_eintr() {
        let waker = TaskWaker::new();
        let w2 = waker.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            w2.interrupt();
        });
        assert_eq!(waker.wait_until(None, || false), Err(Errno::EINTR));
        t.join().unwrap();
        waker.clear_interrupt();
        assert!(!waker.is_interrupted());
    }

    #[test]
    fn deadline_ends_a_wait_with_etimedout() {
        let waker = TaskWaker::new();
        let d = Instant::now() + Duration::from_millis(10);
        assert_eq!(waker.wait_until(Some(d), || false), Err(Errno::ETIMEDOUT));
    }

    #[test]
    fn notify_with_no_waiter_takes_no_lock() {
        let q = Arc::new(WaitQueue::new());
        let held = q.waiters.lock().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let q2 = q.clone();
        let t = std::thread::spawn(move || {
            q2.notify();
            tx.send(()).unwrap();
        });
        // Were the list locked by notify, it would wait for `held` and never answer.
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        drop(held);
        t.join().unwrap();
        // With a registration, notify goes through the list again.
        let waker = TaskWaker::new();
        let reg = q.register(&waker);
        assert_eq!(q.registered.load(Ordering::SeqCst), 1);
        q.notify();
        assert_eq!(waker.wait_until(None, || true), Ok(()));
        drop(reg);
        assert_eq!(q.registered.load(Ordering::SeqCst), 0);
    }

    /// Two threads hand a token back and forth, each waiting for its turn; a notify that
    /// skipped a waiter which had registered but not yet re-checked would leave it asleep
    /// (the deadline turns that hang into a failure).
    #[test]
    fn ping_pong_loses_no_wake_up() {
        const ROUNDS: usize = 5_000;
        let q = Arc::new(WaitQueue::new());
        let turn = Arc::new(AtomicUsize::new(0));
        let player = |me: usize| {
            let (q, turn) = (q.clone(), turn.clone());
            std::thread::spawn(move || {
                let waker = TaskWaker::new();
                for i in 0..ROUNDS {
                    let mine = 2 * i + me;
                    if turn.load(Ordering::Relaxed) != mine {
                        let _reg = q.register(&waker);
                        let deadline = Instant::now() + Duration::from_secs(20);
                        waker
                            .wait_until(Some(deadline), || turn.load(Ordering::Relaxed) == mine)
                            .expect("a wake-up was lost");
                    }
                    turn.store(mine + 1, Ordering::Relaxed);
                    q.notify();
                }
            })
        };
        let (a, b) = (player(0), player(1));
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(turn.load(Ordering::SeqCst), 2 * ROUNDS);
    }

    #[test]
    fn registration_is_removed_on_drop() {
        let q = WaitQueue::new();
        let waker = TaskWaker::new();
        {
            let _r = q.register(&waker);
            assert_eq!(q.waiters.lock().unwrap().len(), 1);
        }
        assert!(q.waiters.lock().unwrap().is_empty());
    }
}
