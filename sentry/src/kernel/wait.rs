//! Blocking in the sentry (after gVisor's `pkg/waiter` and `Task.Block`): a task that must wait
//! (a pipe with no data, wait4 with no zombie, a futex) parks its host thread on its own
//! `TaskWaker`, registered with the `WaitQueue`s of the objects it waits for. Whoever changes
//! such an object calls `WaitQueue::notify`; whoever queues a signal for the task calls
//! `TaskWaker::interrupt`, which makes the wait return EINTR (the task loop then turns that into
//! a restart or EINTR for the application).
//!
//! Lock order: a `WaitQueue`'s list lock, then a `TaskWaker`'s state lock. Never hold an
//! object's own lock while calling `notify` if that object's readiness check takes it too.

use std::sync::atomic::{AtomicBool, Ordering};
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
#[derive(Default)]
pub struct WaitQueue {
    waiters: Mutex<Vec<Weak<TaskWaker>>>,
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
        Registration {
            queue: self,
            waker: Arc::downgrade(waker),
        }
    }

    /// Wakes every registered task.
    pub fn notify(&self) {
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
