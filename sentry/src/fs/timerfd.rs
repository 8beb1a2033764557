//! timerfd objects (timerfd_create(2); Linux `fs/timerfd.c`, gVisor
//! `pkg/sentry/fsimpl/timerfd`): a timer on CLOCK_REALTIME, CLOCK_MONOTONIC or CLOCK_BOOTTIME
//! whose expirations a read(2) returns as a u64 count (and resets).
//!
//! Expirations are computed lazily from the clock at every read, poll and gettime: no timer
//! thread exists. A blocked read sleeps until the next expiry (a deadline on its wait). poll
//! and epoll see the file as one without a wait queue (like a host fd), so they re-check it in
//! `vfs::poll::HOST_POLL_SLICE` (10 ms) slices: a firing timer wakes them at most 10 ms late.
//!
//! Lock order: `TimerFd::state`, released before notifying `TimerFd::queue`.

use std::any::Any;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::time::{clock_gettime, ClockId};

use crate::fs::eventfd::{anon_stat, AnonInode};
use crate::kernel::signal::block_until;
use crate::kernel::wait::WaitQueue;
use crate::vfs::{Dentry, FileDescription, FileOps, Positioning, Stat, TaskRef};
use crate::{Errno, SysResult};

/// `TFD_TIMER_ABSTIME` (include/uapi/linux/timerfd.h).
pub const TFD_TIMER_ABSTIME: i32 = 1;
/// `TFD_TIMER_CANCEL_ON_SET`: accepted; clock changes are not tracked.
pub const TFD_TIMER_CANCEL_ON_SET: i32 = 2;

#[derive(Debug, Default)]
struct TimerState {
    /// The next expiry, as a time on the file's clock; None when disarmed.
    next: Option<Duration>,
    interval: Duration,
    /// Expirations not read yet.
    count: u64,
    /// Expirations ever seen (edge-triggered epoll).
    total: u64,
}

impl TimerState {
    /// Accounts for the expirations up to `now`.
    fn advance(&mut self, now: Duration) {
        let Some(next) = self.next else { return };
        if now < next {
            return;
        }
        let n = if self.interval.is_zero() {
            self.next = None;
            1
        } else {
            let n = (now - next).as_nanos() / self.interval.as_nanos() + 1;
            let n = u64::try_from(n).unwrap_or(u64::MAX);
            self.next = u32::try_from(n)
                .ok()
                .and_then(|k| self.interval.checked_mul(k))
                .and_then(|d| next.checked_add(d));
            n
        };
        self.count = self.count.saturating_add(n);
        self.total = self.total.saturating_add(n);
    }
}

/// One timerfd object.
pub struct TimerFd {
    clock: i32,
    state: Mutex<TimerState>,
    queue: WaitQueue,
}

/// The current time on `clock`.
fn now_on(clock: i32) -> SysResult<Duration> {
    let ts = clock_gettime(ClockId::from_raw(clock)).map_err(|_| Errno::EINVAL)?;
    Ok(Duration::new(
        u64::try_from(ts.tv_sec()).map_err(|_| Errno::EINVAL)?,
        u32::try_from(ts.tv_nsec()).map_err(|_| Errno::EINVAL)?,
    ))
}

impl TimerFd {
    fn lock(&self) -> MutexGuard<'_, TimerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state brought up to date with the clock.
    fn current(&self) -> MutexGuard<'_, TimerState> {
        let mut s = self.lock();
        if let Ok(now) = now_on(self.clock) {
            s.advance(now);
        }
        s
    }

    /// The file's clock id.
    pub fn clock(&self) -> i32 {
        self.clock
    }

    /// timerfd_gettime(2): (time to the next expiry, interval); zeros when disarmed.
    pub fn get(&self) -> SysResult<(Duration, Duration)> {
        let now = now_on(self.clock)?;
        let mut s = self.lock();
        s.advance(now);
        let left = s.next.map_or(Duration::ZERO, |n| {
            // An armed timer never reports 0 left (Linux reports at least 1 ns).
            n.checked_sub(now)
                .filter(|d| !d.is_zero())
                .unwrap_or(Duration::from_nanos(1))
        });
        Ok((left, s.interval))
    }

    /// timerfd_settime(2): arms (value non-zero; absolute on the clock with TFD_TIMER_ABSTIME)
    /// or disarms the timer, discards unread expirations, and returns the old setting.
    pub fn set(
        &self,
        flags: i32,
        value: Duration,
        interval: Duration,
    ) -> SysResult<(Duration, Duration)> {
        let old = self.get()?;
        let now = now_on(self.clock)?;
        {
            let mut s = self.lock();
            s.count = 0;
            s.interval = interval;
            s.next = if value.is_zero() {
                None
            } else if flags & TFD_TIMER_ABSTIME != 0 {
                Some(value)
            } else {
                Some(now.checked_add(value).ok_or(Errno::EINVAL)?)
            };
        }
        self.queue.notify();
        Ok(old)
    }

    /// The host instant of the next expiry, if armed.
    fn next_deadline(&self) -> Option<Instant> {
        let now = now_on(self.clock).ok()?;
        let next = self.lock().next?;
        // Too far away to represent: wait without a deadline.
        Instant::now().checked_add(next.saturating_sub(now))
    }

    /// The description of `file` if it is a timerfd.
    pub fn of(file: &FileDescription) -> Option<&TimerFd> {
        file.ops_as::<TimerFd>()
    }
}

impl FileOps for TimerFd {
    fn positioning(&self) -> Positioning {
        Positioning::Stream
    }
    fn read_stream(&self, task: TaskRef, buf: &mut [u8]) -> SysResult<usize> {
        self.read_with_flags(task, buf, 0)
    }
    fn write_stream(&self, _task: TaskRef, _buf: &[u8]) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    fn read_with_flags(&self, task: TaskRef, buf: &mut [u8], flags: i32) -> SysResult<usize> {
        let out = buf.get_mut(..8).ok_or(Errno::EINVAL)?;
        loop {
            {
                let mut s = self.current();
                if s.count > 0 {
                    let v = s.count;
                    s.count = 0;
                    out.copy_from_slice(&v.to_ne_bytes());
                    return Ok(8);
                }
            }
            if flags & libc::O_NONBLOCK != 0 {
                return Err(Errno::EAGAIN);
            }
            let deadline = self.next_deadline();
            let ready = || self.current().count > 0;
            let r = match task {
                Some(t) => {
                    let _reg = self.queue.register(&t.waker);
                    block_until(t, deadline, ready)
                }
                None => {
                    let waker = Arc::default();
                    let _reg = self.queue.register(&waker);
                    waker.wait_until(deadline, ready)
                }
            };
            match r {
                Ok(()) | Err(Errno::ETIMEDOUT) => {}
                Err(e) => return Err(e),
            }
        }
    }
    fn write_with_flags(&self, _task: TaskRef, _buf: &[u8], _flags: i32) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> Option<SysResult<Stat>> {
        Some(Ok(anon_stat()))
    }
    fn supports_poll(&self) -> bool {
        true
    }
    fn readiness(&self, _mask: u32) -> u32 {
        if self.current().count > 0 {
            (libc::POLLIN | libc::POLLRDNORM) as u32
        } else {
            0
        }
    }
    // No wait queue for pollers: they re-check in short slices (see the module comment).
    fn generation(&self, mask: u32) -> u64 {
        if mask & (libc::POLLIN | libc::POLLRDNORM) as u32 != 0 {
            self.current().total
        } else {
            0
        }
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// timerfd_create(2): a disarmed timer on `clock` (CLOCK_REALTIME, CLOCK_MONOTONIC or
/// CLOCK_BOOTTIME); `flags` may hold O_NONBLOCK and O_CLOEXEC (the caller's). EINVAL else.
pub fn new_timerfd(clock: i32, flags: i32) -> SysResult<Arc<FileDescription>> {
    if !matches!(
        clock,
        libc::CLOCK_REALTIME | libc::CLOCK_MONOTONIC | libc::CLOCK_BOOTTIME
    ) || flags & !(libc::O_NONBLOCK | libc::O_CLOEXEC) != 0
    {
        return Err(Errno::EINVAL);
    }
    let tfd = Arc::new(TimerFd {
        clock,
        state: Mutex::new(TimerState::default()),
        queue: WaitQueue::new(),
    });
    let dentry = Dentry::anonymous(b"anon_inode:[timerfd]".to_vec(), Arc::new(AnonInode));
    Ok(FileDescription::new(
        dentry,
        tfd,
        libc::O_RDWR | (flags & libc::O_NONBLOCK),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(f: &FileDescription) -> SysResult<u64> {
        let mut b = [0u8; 8];
        f.read_inner(None, &mut b)?;
        Ok(u64::from_ne_bytes(b))
    }

    #[test]
    fn one_shot_fires_once() {
        let f = new_timerfd(libc::CLOCK_MONOTONIC, libc::O_NONBLOCK).unwrap();
        let t = TimerFd::of(&f).unwrap();
        assert_eq!(read(&f), Err(Errno::EAGAIN));
        t.set(0, Duration::from_millis(20), Duration::ZERO).unwrap();
        assert_eq!(read(&f), Err(Errno::EAGAIN));
        std::thread::sleep(Duration::from_millis(30));
        assert_ne!(f.readiness(libc::POLLIN as u32), 0);
        assert_eq!(read(&f).unwrap(), 1);
        assert_eq!(t.get().unwrap(), (Duration::ZERO, Duration::ZERO));
        let mut short = [0u8; 4];
        assert_eq!(f.read_inner(None, &mut short), Err(Errno::EINVAL));
    }

    #[test]
    fn interval_counts_and_blocking_read_waits() {
        let f = new_timerfd(libc::CLOCK_MONOTONIC, 0).unwrap();
        let t = TimerFd::of(&f).unwrap();
        let start = Instant::now();
        t.set(0, Duration::from_millis(10), Duration::from_millis(10))
            .unwrap();
        assert!(read(&f).unwrap() >= 1);
        assert!(start.elapsed() >= Duration::from_millis(10));
        std::thread::sleep(Duration::from_millis(45));
        assert!(read(&f).unwrap() >= 4);
        let (left, iv) = t.get().unwrap();
        assert!(left <= Duration::from_millis(10) && !left.is_zero());
        assert_eq!(iv, Duration::from_millis(10));
        let old = t.set(0, Duration::ZERO, Duration::ZERO).unwrap();
        assert_eq!(old.1, Duration::from_millis(10));
        assert_eq!(t.get().unwrap(), (Duration::ZERO, Duration::ZERO));
    }

    #[test]
    fn absolute_and_bad_arguments() {
        let f = new_timerfd(libc::CLOCK_REALTIME, libc::O_NONBLOCK).unwrap();
        let t = TimerFd::of(&f).unwrap();
        let now = now_on(libc::CLOCK_REALTIME).unwrap();
        t.set(
            TFD_TIMER_ABSTIME,
            now - Duration::from_secs(1),
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(read(&f).unwrap(), 1);
        assert!(new_timerfd(libc::CLOCK_PROCESS_CPUTIME_ID, 0).is_err());
        assert!(new_timerfd(libc::CLOCK_MONOTONIC, 0x4).is_err());
        assert_eq!(f.path(), b"anon_inode:[timerfd]".to_vec());
    }
}
