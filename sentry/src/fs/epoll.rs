//! epoll instances (epoll(7); Linux `fs/eventpoll.c`, gVisor `pkg/sentry/vfs/epoll.go`): an
//! interest list of (file description, fd) pairs with an event mask and user data. Level
//! triggered entries are reported while ready; EPOLLET entries when the file saw a new event
//! since the last report (its `generation` moved, or its readiness rose for files that keep no
//! counter); EPOLLONESHOT entries are disabled after one report until EPOLL_CTL_MOD.
//! EPOLLEXCLUSIVE is accepted (every waiter is woken; that is allowed, merely less efficient).
//! An entry goes away when its file description is closed for good (held weakly).
//!
//! Lock order: `EpollInstance::interests`, then the watched files' own locks (readiness). An
//! epoll instance may watch another, never itself or one watching it (ELOOP).

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use crate::fs::eventfd::AnonInode;
use crate::kernel::wait::TaskWaker;
use crate::vfs::poll::wait_for_files;
use crate::vfs::{Dentry, FileDescription, FileOps, Positioning, Stat};
use crate::{Errno, SysResult};

pub const EPOLL_CTL_ADD: i32 = 1;
pub const EPOLL_CTL_DEL: i32 = 2;
pub const EPOLL_CTL_MOD: i32 = 3;
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub const EPOLLWAKEUP: u32 = 1 << 29;
pub const EPOLLONESHOT: u32 = 1 << 30;
pub const EPOLLET: u32 = 1 << 31;
/// Events always reported whether asked for or not.
const ALWAYS: u32 = (libc::POLLERR | libc::POLLHUP) as u32;
/// Bits allowed beside EPOLLEXCLUSIVE (Linux `EPOLLEXCLUSIVE_OK_BITS`).
const EXCLUSIVE_OK: u32 = (libc::POLLIN
    | libc::POLLOUT
    | libc::POLLRDNORM
    | libc::POLLWRNORM
    | libc::POLLRDBAND
    | libc::POLLWRBAND
    | libc::POLLPRI) as u32
    | ALWAYS
    | EPOLLWAKEUP
    | EPOLLET
    | EPOLLEXCLUSIVE;
/// How deep epoll instances may nest (Linux `EPOLL_MAX_NESTS`).
const MAX_NESTS: usize = 4;

/// `struct epoll_event` as the kernel returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpollEvent {
    pub events: u32,
    pub data: u64,
}

struct Interest {
    file: Weak<FileDescription>,
    events: u32,
    data: u64,
    /// A EPOLLONESHOT entry that has fired.
    disabled: bool,
    last_gen: u64,
    last_ready: u32,
}

impl Interest {
    fn mask(&self) -> u32 {
        (self.events & !(EPOLLET | EPOLLONESHOT | EPOLLWAKEUP | EPOLLEXCLUSIVE)) | ALWAYS
    }

    /// The events to report now, updating edge and one-shot state when `commit`.
    fn check(&mut self, file: &FileDescription, commit: bool) -> u32 {
        if self.disabled {
            return 0;
        }
        let mask = self.mask();
        let ready = file.readiness(mask) & mask;
        let report = if self.events & EPOLLET != 0 {
            let gen = file.generation(mask);
            let edge = if gen != 0 || self.last_gen != 0 {
                gen != self.last_gen
            } else {
                ready & !self.last_ready != 0
            };
            if commit {
                if ready != 0 && edge {
                    self.last_gen = gen;
                }
                self.last_ready = ready;
            }
            if edge {
                ready
            } else {
                0
            }
        } else {
            ready
        };
        if commit && report != 0 && self.events & EPOLLONESHOT != 0 {
            self.disabled = true;
        }
        report
    }
}

/// One epoll instance.
pub struct EpollInstance {
    interests: Mutex<BTreeMap<(usize, i32), Interest>>,
}

fn key(file: &Arc<FileDescription>, fd: i32) -> (usize, i32) {
    (Arc::as_ptr(file) as usize, fd)
}

impl EpollInstance {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<(usize, i32), Interest>> {
        self.interests.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The epoll instance behind `file`, if it is one.
    pub fn of(file: &FileDescription) -> Option<&EpollInstance> {
        file.ops_as::<EpollInstance>()
    }

    /// Whether this instance reaches `target` through watched epoll instances within `depth`.
    fn reaches(&self, target: *const EpollInstance, depth: usize) -> bool {
        if std::ptr::eq(self, target) {
            return true;
        }
        if depth == 0 {
            return true;
        }
        let files: Vec<_> = self
            .lock()
            .values()
            .filter_map(|i| i.file.upgrade())
            .collect();
        files
            .iter()
            .any(|f| EpollInstance::of(f).is_some_and(|inner| inner.reaches(target, depth - 1)))
    }

    /// epoll_ctl(2) on descriptor `fd` open as `file`; `event` for ADD and MOD.
    pub fn ctl(
        &self,
        op: i32,
        fd: i32,
        file: &Arc<FileDescription>,
        event: Option<EpollEvent>,
    ) -> SysResult<()> {
        if !file.supports_poll() {
            return Err(Errno::EPERM);
        }
        let ev = match op {
            EPOLL_CTL_ADD | EPOLL_CTL_MOD => event.ok_or(Errno::EFAULT)?,
            EPOLL_CTL_DEL => EpollEvent { events: 0, data: 0 },
            _ => return Err(Errno::EINVAL),
        };
        let inner = EpollInstance::of(file);
        if op != EPOLL_CTL_DEL
            && ev.events & EPOLLEXCLUSIVE != 0
            && (op == EPOLL_CTL_MOD || inner.is_some() || ev.events & !EXCLUSIVE_OK != 0)
        {
            return Err(Errno::EINVAL);
        }
        if op == EPOLL_CTL_ADD {
            if let Some(inner) = inner {
                if inner.reaches(self, MAX_NESTS) {
                    return Err(Errno::ELOOP);
                }
            }
        }
        let mut map = self.lock();
        map.retain(|_, i| i.file.strong_count() > 0);
        let k = key(file, fd);
        match op {
            EPOLL_CTL_ADD => {
                if map.contains_key(&k) {
                    return Err(Errno::EEXIST);
                }
                map.insert(
                    k,
                    Interest {
                        file: Arc::downgrade(file),
                        events: ev.events,
                        data: ev.data,
                        disabled: false,
                        last_gen: 0,
                        last_ready: 0,
                    },
                );
            }
            EPOLL_CTL_MOD => {
                let i = map.get_mut(&k).ok_or(Errno::ENOENT)?;
                if i.events & EPOLLEXCLUSIVE != 0 {
                    return Err(Errno::EINVAL);
                }
                i.events = ev.events;
                i.data = ev.data;
                i.disabled = false;
                i.last_gen = 0;
                i.last_ready = 0;
            }
            _ => {
                map.remove(&k).ok_or(Errno::ENOENT)?;
            }
        }
        Ok(())
    }

    /// Up to `max` ready events, committing edge and one-shot state.
    fn collect(&self, max: usize, out: &mut Vec<EpollEvent>, commit: bool) {
        out.clear();
        let mut map = self.lock();
        map.retain(|_, i| i.file.strong_count() > 0);
        for i in map.values_mut() {
            if out.len() >= max {
                break;
            }
            let Some(f) = i.file.upgrade() else { continue };
            let events = i.check(&f, commit);
            if events != 0 {
                out.push(EpollEvent {
                    events,
                    data: i.data,
                });
            }
        }
    }

    /// epoll_wait(2): waits until some entry is ready, `deadline` passes (empty) or EINTR.
    pub fn wait(
        &self,
        waker: &Arc<TaskWaker>,
        max: usize,
        deadline: Option<Instant>,
    ) -> SysResult<Vec<EpollEvent>> {
        let files: Vec<_> = self
            .lock()
            .values()
            .filter_map(|i| i.file.upgrade())
            .collect();
        let mut out = Vec::new();
        wait_for_files(waker, &files, deadline, || {
            self.collect(max, &mut out, true);
            !out.is_empty()
        })?;
        Ok(out)
    }
}

impl FileOps for EpollInstance {
    fn positioning(&self) -> Positioning {
        Positioning::Stream
    }
    // read and write: the defaults' EINVAL.
    fn stat(&self) -> Option<SysResult<Stat>> {
        Some(Ok(crate::fs::eventfd::anon_stat()))
    }
    fn supports_poll(&self) -> bool {
        true
    }
    fn readiness(&self, _mask: u32) -> u32 {
        let mut out = Vec::new();
        self.collect(1, &mut out, false);
        if out.is_empty() {
            0
        } else {
            (libc::POLLIN | libc::POLLRDNORM) as u32
        }
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// epoll_create1(2): a new instance (`cloexec` is the caller's business).
pub fn new_epoll() -> Arc<FileDescription> {
    let ep = Arc::new(EpollInstance {
        interests: Mutex::new(BTreeMap::new()),
    });
    let dentry = Dentry::anonymous(b"anon_inode:[eventpoll]".to_vec(), Arc::new(AnonInode));
    FileDescription::new(dentry, ep, libc::O_RDWR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::eventfd::new_eventfd;
    use crate::fs::pipe::new_pipe;
    use std::time::Duration;

    const IN: u32 = libc::POLLIN as u32;
    const OUT: u32 = libc::POLLOUT as u32;

    fn ep(f: &Arc<FileDescription>) -> &EpollInstance {
        EpollInstance::of(f).unwrap()
    }

    fn now() -> Option<Instant> {
        Some(Instant::now())
    }

    #[test]
    fn read_and_write_are_einval() {
        let e = new_epoll();
        let mut b = [0u8; 8];
        assert_eq!(e.read_inner(None, &mut b), Err(Errno::EINVAL));
        assert_eq!(e.write_inner(None, &b), Err(Errno::EINVAL));
    }

    #[test]
    fn level_triggered_reports_while_ready() {
        let e = new_epoll();
        let (r, w) = new_pipe(0, 0, 0);
        let ev = EpollEvent {
            events: IN,
            data: 7,
        };
        ep(&e).ctl(EPOLL_CTL_ADD, 3, &r, Some(ev)).unwrap();
        assert_eq!(
            ep(&e).ctl(EPOLL_CTL_ADD, 3, &r, Some(ev)),
            Err(Errno::EEXIST)
        );
        let waker = TaskWaker::new();
        assert!(ep(&e).wait(&waker, 8, now()).unwrap().is_empty());
        w.write_inner(None, b"x").unwrap();
        for _ in 0..2 {
            assert_eq!(
                ep(&e).wait(&waker, 8, now()).unwrap(),
                vec![EpollEvent {
                    events: IN,
                    data: 7
                }]
            );
        }
        assert_eq!(e.readiness(IN), IN);
        ep(&e).ctl(EPOLL_CTL_DEL, 3, &r, None).unwrap();
        assert_eq!(ep(&e).ctl(EPOLL_CTL_DEL, 3, &r, None), Err(Errno::ENOENT));
        assert_eq!(
            ep(&e).ctl(EPOLL_CTL_MOD, 3, &r, Some(ev)),
            Err(Errno::ENOENT)
        );
    }

    #[test]
    fn edge_triggered_reports_once_per_event() {
        let e = new_epoll();
        let (r, w) = new_pipe(0, 0, 0);
        let ev = EpollEvent {
            events: IN | EPOLLET,
            data: 1,
        };
        ep(&e).ctl(EPOLL_CTL_ADD, 3, &r, Some(ev)).unwrap();
        let waker = TaskWaker::new();
        w.write_inner(None, b"x").unwrap();
        assert_eq!(ep(&e).wait(&waker, 8, now()).unwrap().len(), 1);
        assert!(ep(&e).wait(&waker, 8, now()).unwrap().is_empty());
        w.write_inner(None, b"y").unwrap();
        assert_eq!(ep(&e).wait(&waker, 8, now()).unwrap().len(), 1);
    }

    #[test]
    fn oneshot_disables_until_mod_and_hup_on_writer_close() {
        let e = new_epoll();
        let (r, w) = new_pipe(0, 0, 0);
        let ev = EpollEvent {
            events: IN | EPOLLONESHOT | libc::POLLRDHUP as u32,
            data: 2,
        };
        ep(&e).ctl(EPOLL_CTL_ADD, 3, &r, Some(ev)).unwrap();
        let waker = TaskWaker::new();
        w.write_inner(None, b"x").unwrap();
        assert_eq!(ep(&e).wait(&waker, 8, now()).unwrap().len(), 1);
        assert!(ep(&e).wait(&waker, 8, now()).unwrap().is_empty());
        ep(&e).ctl(EPOLL_CTL_MOD, 3, &r, Some(ev)).unwrap();
        drop(w);
        let got = ep(&e).wait(&waker, 8, now()).unwrap();
        // Pipes report POLLHUP (not POLLRDHUP) once the writers are gone, as on Linux.
        let want = IN | libc::POLLHUP as u32;
        assert_eq!(
            got,
            vec![EpollEvent {
                events: want,
                data: 2
            }]
        );
    }

    #[test]
    fn wait_blocks_until_eventfd_write_and_times_out() {
        let e = new_epoll();
        let efd = new_eventfd(0, 0).unwrap();
        let ev = EpollEvent {
            events: IN,
            data: 9,
        };
        ep(&e).ctl(EPOLL_CTL_ADD, 4, &efd, Some(ev)).unwrap();
        let waker = TaskWaker::new();
        let d = Some(Instant::now() + Duration::from_millis(20));
        assert!(ep(&e).wait(&waker, 8, d).unwrap().is_empty());
        let f2 = efd.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            f2.write_inner(None, &1u64.to_ne_bytes()).unwrap();
        });
        assert_eq!(ep(&e).wait(&waker, 8, None).unwrap().len(), 1);
        t.join().unwrap();
        // Closing the last reference removes the entry.
        drop(efd);
        assert!(ep(&e).wait(&waker, 8, now()).unwrap().is_empty());
        let _ = OUT;
    }

    #[test]
    fn refuses_self_loops_and_bad_exclusive() {
        let a = new_epoll();
        let b = new_epoll();
        let ev = EpollEvent {
            events: IN,
            data: 0,
        };
        ep(&a).ctl(EPOLL_CTL_ADD, 5, &b, Some(ev)).unwrap();
        assert_eq!(
            ep(&b).ctl(EPOLL_CTL_ADD, 4, &a, Some(ev)),
            Err(Errno::ELOOP)
        );
        let (r, _w) = new_pipe(0, 0, 0);
        let ex = EpollEvent {
            events: IN | EPOLLEXCLUSIVE,
            data: 0,
        };
        ep(&a).ctl(EPOLL_CTL_ADD, 3, &r, Some(ex)).unwrap();
        assert_eq!(
            ep(&a).ctl(EPOLL_CTL_MOD, 3, &r, Some(ev)),
            Err(Errno::EINVAL)
        );
        let bad = EpollEvent {
            events: IN | EPOLLEXCLUSIVE | EPOLLONESHOT,
            data: 0,
        };
        assert_eq!(
            ep(&b).ctl(EPOLL_CTL_ADD, 3, &r, Some(bad)),
            Err(Errno::EINVAL)
        );
    }
}
