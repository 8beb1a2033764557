//! Waiting for readiness of many files (after Linux `fs/select.c` and gVisor's
//! `pkg/sentry/syscalls/linux/sys_poll.go`): the scan-then-sleep loop poll(2), select(2) and
//! epoll_wait(2) share. The waiting task registers its waker on every file's `WaitQueue`; files
//! whose changes the sentry cannot see (host fds) have none, and are re-checked in 10 ms slices.
//! A pending signal (`TaskWaker::interrupt`) ends the wait with EINTR.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::kernel::wait::TaskWaker;
use crate::vfs::FileDescription;
use crate::{Errno, SysResult};

/// How often files without a wait queue are re-checked while waiting.
pub const HOST_POLL_SLICE: Duration = Duration::from_millis(10);

/// Waits until host fd `fd` is ready for `mask` (or in error or hung up), in host polls of
/// `HOST_POLL_SLICE` between which the task's signals are seen: EINTR when `task` is
/// interrupted, EAGAIN once `until` passes. Host files, host sockets and host unix sockets
/// all block this way (the sentry's waiters do not watch host fds).
pub fn wait_host_ready(
    fd: std::os::fd::BorrowedFd<'_>,
    mask: u32,
    task: crate::vfs::inode::TaskRef,
    until: Option<Instant>,
) -> SysResult<()> {
    loop {
        let slice = match until {
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return Err(Errno::EAGAIN);
                }
                (d - now).min(HOST_POLL_SLICE)
            }
            None => HOST_POLL_SLICE,
        };
        if crate::fs::sys::poll_for(fd, mask, slice)? != 0 {
            return Ok(());
        }
        if task.is_some_and(|t| t.waker.is_interrupted()) {
            return Err(Errno::EINTR);
        }
    }
}

/// Blocks until `check()` holds (Ok(true)), `deadline` passes (Ok(false)) or the task is
/// interrupted (EINTR), registered on the wait queues of `files` meanwhile.
pub fn wait_for_files(
    waker: &Arc<TaskWaker>,
    files: &[Arc<FileDescription>],
    deadline: Option<Instant>,
    mut check: impl FnMut() -> bool,
) -> SysResult<bool> {
    if check() {
        return Ok(true);
    }
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Ok(false);
    }
    let _regs: Vec<_> = files
        .iter()
        .filter_map(|f| f.wait_queue())
        .map(|q| q.register(waker))
        .collect();
    let sliced = files
        .iter()
        .any(|f| f.supports_poll() && f.wait_queue().is_none());
    loop {
        let until = if sliced {
            let next = Instant::now() + HOST_POLL_SLICE;
            Some(deadline.map_or(next, |d| d.min(next)))
        } else {
            deadline
        };
        match waker.wait_until(until, &mut check) {
            Ok(()) => return Ok(true),
            Err(Errno::ETIMEDOUT) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(false);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// What one pollfd names.
pub enum PollTarget {
    /// A negative fd: ignored, revents 0.
    Ignored,
    /// Not an open descriptor: POLLNVAL.
    Invalid,
    File(Arc<FileDescription>),
}

/// One `struct pollfd` being answered.
pub struct PollEntry {
    pub target: PollTarget,
    /// Requested `POLL*` events.
    pub events: u32,
    /// Reported events.
    pub revents: u32,
}

/// poll(2): fills `revents` and returns how many entries have any; waits until one does, until
/// `deadline` (0 then) or EINTR.
pub fn poll(
    waker: &Arc<TaskWaker>,
    entries: &mut [PollEntry],
    deadline: Option<Instant>,
) -> SysResult<usize> {
    let files: Vec<Arc<FileDescription>> = entries
        .iter()
        .filter_map(|e| match &e.target {
            PollTarget::File(f) => Some(f.clone()),
            _ => None,
        })
        .collect();
    let mut ready = 0;
    let scan = |entries: &mut [PollEntry], ready: &mut usize| {
        *ready = 0;
        for e in entries.iter_mut() {
            e.revents = match &e.target {
                PollTarget::Ignored => 0,
                PollTarget::Invalid => libc::POLLNVAL as u32,
                PollTarget::File(f) => f.readiness(e.events),
            };
            if e.revents != 0 {
                *ready += 1;
            }
        }
        *ready > 0
    };
    wait_for_files(waker, &files, deadline, || scan(entries, &mut ready))?;
    Ok(ready)
}

/// The deadline of a relative timeout (`None` = forever); saturates far in the future.
pub fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|d| {
        Instant::now()
            .checked_add(d)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(1 << 32))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::pipe::new_pipe;

    const POLLIN: u32 = libc::POLLIN as u32;
    const POLLOUT: u32 = libc::POLLOUT as u32;

    #[test]
    fn poll_reports_ready_ends_and_invalid_fds() {
        let (r, w) = new_pipe(0, 0, 0);
        let waker = TaskWaker::new();
        let mut e = vec![
            PollEntry {
                target: PollTarget::File(r.clone()),
                events: POLLIN,
                revents: 0,
            },
            PollEntry {
                target: PollTarget::File(w.clone()),
                events: POLLOUT,
                revents: 0,
            },
            PollEntry {
                target: PollTarget::Invalid,
                events: POLLIN,
                revents: 0,
            },
            PollEntry {
                target: PollTarget::Ignored,
                events: POLLIN,
                revents: 0,
            },
        ];
        assert_eq!(poll(&waker, &mut e, deadline_after(None)).unwrap(), 2);
        assert_eq!(e[0].revents, 0);
        assert_eq!(e[1].revents, POLLOUT);
        assert_eq!(e[2].revents, libc::POLLNVAL as u32);
        assert_eq!(e[3].revents, 0);
    }

    #[test]
    fn poll_times_out_then_wakes_on_write() {
        let (r, w) = new_pipe(0, 0, 0);
        let waker = TaskWaker::new();
        let mut e = vec![PollEntry {
            target: PollTarget::File(r.clone()),
            events: POLLIN,
            revents: 0,
        }];
        let start = Instant::now();
        let d = deadline_after(Some(Duration::from_millis(30)));
        assert_eq!(poll(&waker, &mut e, d).unwrap(), 0);
        assert!(start.elapsed() >= Duration::from_millis(30));
        let w2 = w.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            w2.write_inner(None, b"x").unwrap();
        });
        assert_eq!(poll(&waker, &mut e, None).unwrap(), 1);
        assert_eq!(e[0].revents, POLLIN);
        t.join().unwrap();
        drop(w);
    }

    #[test]
    fn interrupt_ends_poll_with_eintr() {
        let (r, _w) = new_pipe(0, 0, 0);
        let waker = TaskWaker::new();
        let w2 = waker.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            w2.interrupt();
        });
        let mut e = vec![PollEntry {
            target: PollTarget::File(r),
            events: POLLIN,
            revents: 0,
        }];
        assert_eq!(poll(&waker, &mut e, None), Err(Errno::EINTR));
        t.join().unwrap();
    }
}
