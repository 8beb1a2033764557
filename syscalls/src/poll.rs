//! Waiting on many descriptors: poll(2), ppoll(2), select(2), pselect6(2) (Linux
//! `fs/select.c`) and epoll_create(2), epoll_create1(2), epoll_ctl(2), epoll_wait(2),
//! epoll_pwait(2), epoll_pwait2(2) (Linux `fs/eventpoll.c`). The waiting itself is
//! `sentry::vfs::poll` and `sentry::fs::epoll`; these decode arguments and copy results.
//!
//! The signal mask argument of ppoll, pselect6 and epoll_pwait is installed for the wait and
//! restored after it, as Linux does; a signal that interrupts the wait makes it EINTR.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sentry::fs::epoll::{new_epoll, EpollEvent, EpollInstance};
use sentry::kernel::wait::TaskWaker;
use sentry::kernel::{SyscallArgs, Task};
use sentry::vfs::poll::{deadline_after, poll, wait_for_files, PollEntry, PollTarget};
use sentry::vfs::FileDescription;
use sentry::{Errno, SysResult};

use crate::pipe::install_fd;

/// `sizeof(struct epoll_event)` on x86_64 (packed).
const EPOLL_EVENT_SIZE: usize = 12;
/// `EPOLL_CLOEXEC`.
const EPOLL_CLOEXEC: i32 = libc::O_CLOEXEC;
/// select's event classes (Linux `POLLIN_SET`, `POLLOUT_SET`, `POLLEX_SET`).
const IN_SET: u32 =
    (libc::POLLIN | libc::POLLRDNORM | libc::POLLRDBAND | libc::POLLHUP | libc::POLLERR) as u32;
const OUT_SET: u32 = (libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND | libc::POLLERR) as u32;
const EX_SET: u32 = libc::POLLPRI as u32;

fn nofile_limit(t: &Task) -> u64 {
    t.tg.with_state(|s| s.rlimits[libc::RLIMIT_NOFILE as usize].cur)
}

/// Reads a `struct timespec` (EINVAL if out of range).
fn read_timespec(t: &Task, addr: u64) -> SysResult<Duration> {
    let mut b = [0u8; 16];
    t.mm.copy_in(addr, &mut b)?;
    let sec = i64::from_ne_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
    let nsec = i64::from_ne_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?);
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(sec as u64, nsec as u32))
}

/// Writes the time left until `deadline` as a timespec (`usec` false) or timeval (`usec`
/// true), as Linux updates ppoll's, select's and pselect6's timeout.
fn write_remaining(t: &Task, addr: u64, deadline: Instant, usec: bool) {
    let left = deadline.saturating_duration_since(Instant::now());
    let frac = if usec {
        i64::from(left.subsec_micros())
    } else {
        i64::from(left.subsec_nanos())
    };
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(left.as_secs() as i64).to_ne_bytes());
    b[8..].copy_from_slice(&frac.to_ne_bytes());
    // Linux ignores a failure to update the timeout once the call has its result.
    let _ = t.mm.copy_out(addr, &b);
}

/// Reads the optional signal mask argument (`sigsetsize` must be 8).
fn read_sigmask(t: &Task, addr: u64, size: u64) -> SysResult<Option<u64>> {
    if addr == 0 {
        return Ok(None);
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let mut b = [0u8; 8];
    t.mm.copy_in(addr, &mut b)?;
    Ok(Some(u64::from_ne_bytes(b)))
}

/// Runs a wait with the task's signal mask replaced by `mask` for its duration (ppoll, pselect6,
/// epoll_pwait; SIGKILL and SIGSTOP stay unblocked). As on Linux, a signal that the temporary
/// mask lets through ends the wait with EINTR (at once if it is already pending), and its
/// handler then runs under the temporary mask: the old mask is restored only by the handler's
/// return (`save_mask_for_suspend`, as sigsuspend does). These calls restart only when no
/// handler ran (ERESTARTNOHAND).
fn with_sigmask<R>(
    t: &mut Task,
    mask: Option<u64>,
    f: impl FnOnce(&Task, &Arc<TaskWaker>) -> SysResult<R>,
) -> SysResult<R> {
    let waker = t.waker.clone();
    let old = t.signal_mask;
    if let Some(m) = mask {
        let unblockable = (1u64 << (libc::SIGKILL - 1)) | (1u64 << (libc::SIGSTOP - 1));
        t.signal_mask = m & !unblockable;
    }
    let r = if mask.is_some() && sentry::kernel::signal::has_deliverable(t) {
        Err(Errno::EINTR)
    } else {
        f(t, &waker)
    };
    match (&r, mask) {
        (Err(Errno::EINTR), Some(_)) => t.signals.save_mask_for_suspend(old),
        _ => t.signal_mask = old,
    }
    if matches!(r, Err(Errno::EINTR)) {
        t.signals
            .set_restart(sentry::kernel::signal::RestartKind::NoHand);
    }
    r
}

fn do_poll(
    t: &mut Task,
    fds_addr: u64,
    nfds: u64,
    timeout: Option<Duration>,
    mask: Option<u64>,
) -> SysResult<(usize, Instant)> {
    if nfds > nofile_limit(t) {
        return Err(Errno::EINVAL);
    }
    let n = usize::try_from(nfds).map_err(|_| Errno::EINVAL)?;
    let mut raw = vec![0u8; n.checked_mul(8).ok_or(Errno::EINVAL)?];
    t.mm.copy_in(fds_addr, &mut raw)?;
    let mut entries: Vec<PollEntry> = raw
        .chunks_exact(8)
        .map(|c| {
            let fd = i32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
            let events = u32::from(u16::from_ne_bytes([c[4], c[5]]));
            let target = if fd < 0 {
                PollTarget::Ignored
            } else {
                match t.fd_table.get(fd) {
                    Ok(f) => PollTarget::File(f),
                    Err(_) => PollTarget::Invalid,
                }
            };
            PollEntry {
                target,
                events,
                revents: 0,
            }
        })
        .collect();
    let deadline = deadline_after(timeout);
    let ready = with_sigmask(t, mask, |_, waker| poll(waker, &mut entries, deadline))?;
    for (c, e) in raw.chunks_exact_mut(8).zip(&entries) {
        c[6..8].copy_from_slice(&(e.revents as u16).to_ne_bytes());
    }
    t.mm.copy_out(fds_addr, &raw)?;
    Ok((ready, deadline.unwrap_or_else(Instant::now)))
}

/// poll(2): `timeout` in milliseconds, negative for none.
pub fn sys_poll(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let ms = a.i32(2);
    let timeout = u64::try_from(ms).ok().map(Duration::from_millis);
    Ok(do_poll(t, a.addr(0), a.u64(1), timeout, None)?.0 as u64)
}

/// ppoll(2): a timespec timeout (updated with the time left) and a signal mask for the wait.
pub fn sys_ppoll(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let ts = a.addr(2);
    let timeout = if ts == 0 {
        None
    } else {
        Some(read_timespec(t, ts)?)
    };
    let mask = read_sigmask(t, a.addr(3), a.u64(4))?;
    let (n, deadline) = do_poll(t, a.addr(0), a.u64(1), timeout, mask)?;
    if ts != 0 {
        write_remaining(t, ts, deadline, false);
    }
    Ok(n as u64)
}

fn read_fdset(t: &Task, addr: u64, words: usize) -> SysResult<Vec<u64>> {
    let mut v = vec![0u64; words];
    if addr != 0 {
        let mut b = vec![0u8; words * 8];
        t.mm.copy_in(addr, &mut b)?;
        for (w, c) in v.iter_mut().zip(b.chunks_exact(8)) {
            *w = u64::from_ne_bytes(c.try_into().map_err(|_| Errno::EFAULT)?);
        }
    }
    Ok(v)
}

fn write_fdset(t: &Task, addr: u64, set: &[u64]) -> SysResult<()> {
    if addr == 0 {
        return Ok(());
    }
    let b: Vec<u8> = set.iter().flat_map(|w| w.to_ne_bytes()).collect();
    t.mm.copy_out(addr, &b)
}

fn do_select(
    t: &mut Task,
    a: &SyscallArgs,
    timeout: Option<Duration>,
    mask: Option<u64>,
) -> SysResult<(u64, Instant)> {
    let nfds = a.i32(0);
    if nfds < 0 {
        return Err(Errno::EINVAL);
    }
    // Linux reads no further than its fd table's size: a descriptor past it is ignored, not
    // EBADF.
    let n = (nfds as usize).min(t.fd_table.size());
    let sets_words = n.div_ceil(64);
    let (rin, win, ein) = (a.addr(1), a.addr(2), a.addr(3));
    let sets = [
        read_fdset(t, rin, sets_words)?,
        read_fdset(t, win, sets_words)?,
        read_fdset(t, ein, sets_words)?,
    ];
    // (fd, file, which sets) for every fd below nfds named in a set.
    let mut watched: Vec<(usize, Arc<FileDescription>, [bool; 3])> = Vec::new();
    for fd in 0..n {
        let bit = |s: &Vec<u64>| s.get(fd / 64).is_some_and(|w| w >> (fd % 64) & 1 != 0);
        let which = [bit(&sets[0]), bit(&sets[1]), bit(&sets[2])];
        if which.iter().any(|&b| b) {
            let file = t.fd_table.get(fd as i32)?;
            watched.push((fd, file, which));
        }
    }
    let files: Vec<Arc<FileDescription>> = watched.iter().map(|w| w.1.clone()).collect();
    let classes = [IN_SET, OUT_SET, EX_SET];
    let mut out = [
        vec![0u64; sets_words],
        vec![0u64; sets_words],
        vec![0u64; sets_words],
    ];
    let mut count = 0u64;
    let deadline = deadline_after(timeout);
    with_sigmask(t, mask, |_, waker| {
        wait_for_files(waker, &files, deadline, || {
            count = 0;
            for o in out.iter_mut() {
                o.iter_mut().for_each(|w| *w = 0);
            }
            for (fd, file, which) in &watched {
                let mut want = 0;
                for (k, &on) in which.iter().enumerate() {
                    if on {
                        want |= classes[k];
                    }
                }
                let ev = file.readiness(want);
                for (k, &on) in which.iter().enumerate() {
                    if on && ev & classes[k] != 0 {
                        out[k][fd / 64] |= 1 << (fd % 64);
                        count += 1;
                    }
                }
            }
            count > 0
        })
    })?;
    write_fdset(t, rin, &out[0])?;
    write_fdset(t, win, &out[1])?;
    write_fdset(t, ein, &out[2])?;
    Ok((count, deadline.unwrap_or_else(Instant::now)))
}

/// select(2): a timeval timeout, updated with the time left.
pub fn sys_select(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let tv = a.addr(4);
    let timeout = if tv == 0 {
        None
    } else {
        let mut b = [0u8; 16];
        t.mm.copy_in(tv, &mut b)?;
        let sec = i64::from_ne_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
        let usec = i64::from_ne_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?);
        // Linux normalizes tv_usec beyond a second into tv_sec; negatives are EINVAL.
        let sec = sec.checked_add(usec / 1_000_000).ok_or(Errno::EINVAL)?;
        let usec = usec % 1_000_000;
        if sec < 0 || usec < 0 {
            return Err(Errno::EINVAL);
        }
        Some(Duration::new(sec as u64, (usec * 1000) as u32))
    };
    let (n, deadline) = do_select(t, a, timeout, None)?;
    if tv != 0 {
        write_remaining(t, tv, deadline, true);
    }
    Ok(n)
}

/// pselect6(2): a timespec timeout (updated) and `{ const sigset_t *ss; size_t ss_len }`.
pub fn sys_pselect6(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let ts = a.addr(4);
    let timeout = if ts == 0 {
        None
    } else {
        Some(read_timespec(t, ts)?)
    };
    let mask = if a.addr(5) == 0 {
        None
    } else {
        let mut b = [0u8; 16];
        t.mm.copy_in(a.addr(5), &mut b)?;
        let ss = u64::from_ne_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
        let len = u64::from_ne_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?);
        read_sigmask(t, ss, len)?
    };
    let (n, deadline) = do_select(t, a, timeout, mask)?;
    if ts != 0 {
        write_remaining(t, ts, deadline, false);
    }
    Ok(n)
}

fn create_epoll(t: &mut Task, cloexec: bool) -> SysResult<u64> {
    Ok(install_fd(t, new_epoll(), cloexec)? as u64)
}

/// epoll_create(2): `size` must be positive and is otherwise ignored.
pub fn sys_epoll_create(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    if a.i32(0) <= 0 {
        return Err(Errno::EINVAL);
    }
    create_epoll(t, false)
}

/// epoll_create1(2): EPOLL_CLOEXEC only.
pub fn sys_epoll_create1(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let flags = a.i32(0);
    if flags & !EPOLL_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    create_epoll(t, flags != 0)
}

/// epoll_ctl(2).
pub fn sys_epoll_ctl(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (epfd, op, fd, ev_addr) = (a.fd(0), a.i32(1), a.fd(2), a.addr(3));
    let ep_file = t.fd_table.get(epfd)?;
    let file = t.fd_table.get(fd)?;
    let ep = EpollInstance::of(&ep_file).ok_or(Errno::EINVAL)?;
    if Arc::ptr_eq(&ep_file, &file) {
        return Err(Errno::EINVAL);
    }
    let event = if op == sentry::fs::epoll::EPOLL_CTL_DEL {
        None
    } else {
        let mut b = [0u8; EPOLL_EVENT_SIZE];
        t.mm.copy_in(ev_addr, &mut b)?;
        Some(EpollEvent {
            events: u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
            data: u64::from_ne_bytes(b[4..12].try_into().map_err(|_| Errno::EFAULT)?),
        })
    };
    ep.ctl(op, fd, &file, event)?;
    Ok(0)
}

fn do_epoll_wait(
    t: &mut Task,
    a: &SyscallArgs,
    timeout: Option<Duration>,
    mask: Option<u64>,
) -> SysResult<u64> {
    let (epfd, addr, max) = (a.fd(0), a.addr(1), a.i32(2));
    if max <= 0 || max as usize > i32::MAX as usize / EPOLL_EVENT_SIZE {
        return Err(Errno::EINVAL);
    }
    let ep_file = t.fd_table.get(epfd)?;
    let ep = EpollInstance::of(&ep_file).ok_or(Errno::EINVAL)?;
    let deadline = deadline_after(timeout);
    let events = with_sigmask(t, mask, |_, waker| ep.wait(waker, max as usize, deadline))?;
    let mut b = Vec::with_capacity(events.len() * EPOLL_EVENT_SIZE);
    for e in &events {
        b.extend_from_slice(&e.events.to_ne_bytes());
        b.extend_from_slice(&e.data.to_ne_bytes());
    }
    t.mm.copy_out(addr, &b)?;
    Ok(events.len() as u64)
}

fn ms_timeout(ms: i32) -> Option<Duration> {
    u64::try_from(ms).ok().map(Duration::from_millis)
}

/// epoll_wait(2): `timeout` in milliseconds, negative for none.
pub fn sys_epoll_wait(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_epoll_wait(t, a, ms_timeout(a.i32(3)), None)
}

/// epoll_pwait(2): with a signal mask for the wait.
pub fn sys_epoll_pwait(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let mask = read_sigmask(t, a.addr(4), a.u64(5))?;
    do_epoll_wait(t, a, ms_timeout(a.i32(3)), mask)
}

/// epoll_pwait2(2): a timespec timeout (not updated) and a signal mask.
pub fn sys_epoll_pwait2(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let timeout = if a.addr(3) == 0 {
        None
    } else {
        Some(read_timespec(t, a.addr(3))?)
    };
    let mask = read_sigmask(t, a.addr(4), a.u64(5))?;
    do_epoll_wait(t, a, timeout, mask)
}
