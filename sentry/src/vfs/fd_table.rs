//! A task's file descriptor table (after gVisor's `pkg/sentry/kernel/fd_table.go`; Linux
//! `fs/file.c`): lowest free number first, a close-on-exec flag per descriptor, dup semantics.
//!
//! Lock order: the table's one RwLock (lookups share it, changes hold it alone); descriptions are
//! dropped after it is released.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::vfs::file::FileDescription;
use crate::{Errno, SysResult};

/// Hard ceiling on descriptor numbers (Linux `sysctl fs.nr_open` default).
pub const MAX_FDS: i32 = 1 << 20;

#[derive(Clone)]
struct FdEntry {
    file: Arc<FileDescription>,
    cloexec: bool,
}

/// Size of a fresh table (Linux `NR_OPEN_DEFAULT`, one machine word of bits).
const FRESH_SIZE: usize = 64;

/// The size Linux gives a table that must hold descriptor `fd`: the next power of two above
/// it, never below a fresh table's.
fn size_for(fd: usize) -> usize {
    (fd + 1).next_power_of_two().max(FRESH_SIZE)
}

/// A task's file descriptor table.
pub struct FdTable {
    slots: RwLock<Vec<Option<FdEntry>>>,
    /// Linux's `max_fds`: the table grows to hold the highest descriptor ever installed and
    /// never shrinks, except that fork copies only up to the highest open one. select(2)
    /// ignores descriptors at or past it and /proc/PID/status reports it as FDSize. Written
    /// under the `slots` lock.
    size: AtomicUsize,
}

impl FdTable {
    pub fn new() -> FdTable {
        FdTable {
            slots: RwLock::new(Vec::new()),
            size: AtomicUsize::new(FRESH_SIZE),
        }
    }

    /// The table's size as Linux would have it (`max_fds`).
    pub fn size(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    /// Grows the table to hold `fd`; called with the slots lock held.
    fn grow_for(&self, fd: usize) {
        if fd >= self.size() {
            self.size.store(size_for(fd), Ordering::Relaxed);
        }
    }

    /// fds 0, 1, 2 are the given host descriptors (the sandbox's stdio, host files).
    pub fn new_with_stdio(stdio: [OwnedFd; 3]) -> FdTable {
        let t = FdTable::new();
        for (i, fd) in stdio.into_iter().enumerate() {
            let file = crate::fs::host::stdio_file(fd, i as i32);
            // A fresh table always has room for 0..2; nothing to report if not.
            let _ = t.install_at(i as i32, file, false);
        }
        t
    }

    fn lock(&self) -> RwLockWriteGuard<'_, Vec<Option<FdEntry>>> {
        self.slots.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The slots for a lookup: lookups by several threads of a process (CLONE_FILES) do not
    /// wait for each other.
    fn read(&self) -> RwLockReadGuard<'_, Vec<Option<FdEntry>>> {
        self.slots.read().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy for fork(2) without CLONE_FILES: same descriptions, same flags.
    pub fn fork(&self) -> FdTable {
        let slots = self.read().clone();
        let size = slots
            .iter()
            .rposition(Option::is_some)
            .map_or(FRESH_SIZE, size_for);
        FdTable {
            slots: RwLock::new(slots),
            size: AtomicUsize::new(size),
        }
    }

    /// Closes every descriptor marked close-on-exec.
    pub fn close_on_exec(&self) {
        let mut dropped = Vec::new();
        {
            let mut slots = self.lock();
            for s in slots.iter_mut() {
                if s.as_ref().is_some_and(|e| e.cloexec) {
                    dropped.push(s.take());
                }
            }
        }
        drop(dropped);
    }

    pub fn get(&self, fd: i32) -> SysResult<Arc<FileDescription>> {
        self.get_with_flags(fd).map(|(f, _)| f)
    }

    /// The description and its close-on-exec flag.
    pub fn get_with_flags(&self, fd: i32) -> SysResult<(Arc<FileDescription>, bool)> {
        let idx = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        match self.read().get(idx) {
            Some(Some(e)) => Ok((e.file.clone(), e.cloexec)),
            _ => Err(Errno::EBADF),
        }
    }

    /// Installs at the lowest free number >= `min_fd`.
    pub fn install(
        &self,
        file: Arc<FileDescription>,
        cloexec: bool,
        min_fd: i32,
    ) -> SysResult<i32> {
        self.install_below(file, cloexec, min_fd, MAX_FDS)
    }

    /// Installs at the lowest free number >= `min_fd` and < `limit` (RLIMIT_NOFILE): EMFILE if
    /// none is free, EINVAL if `min_fd` is out of range.
    pub fn install_below(
        &self,
        file: Arc<FileDescription>,
        cloexec: bool,
        min_fd: i32,
        limit: i32,
    ) -> SysResult<i32> {
        let limit = limit.clamp(0, MAX_FDS);
        if !(0..MAX_FDS).contains(&min_fd) {
            return Err(Errno::EINVAL);
        }
        if min_fd >= limit {
            return Err(Errno::EMFILE);
        }
        let mut slots = self.lock();
        let start = min_fd as usize;
        let free = (start..slots.len())
            .find(|&i| slots[i].is_none())
            .unwrap_or(slots.len().max(start));
        if free >= limit as usize {
            return Err(Errno::EMFILE);
        }
        if free >= slots.len() {
            slots.resize(free + 1, None);
        }
        self.grow_for(free);
        slots[free] = Some(FdEntry { file, cloexec });
        Ok(free as i32)
    }

    /// Installs at exactly `fd`, closing what was there (dup2/dup3).
    pub fn install_at(&self, fd: i32, file: Arc<FileDescription>, cloexec: bool) -> SysResult<()> {
        if !(0..MAX_FDS).contains(&fd) {
            return Err(Errno::EBADF);
        }
        let old = {
            let mut slots = self.lock();
            let i = fd as usize;
            if i >= slots.len() {
                slots.resize(i + 1, None);
            }
            self.grow_for(i);
            slots[i].replace(FdEntry { file, cloexec })
        };
        drop(old);
        Ok(())
    }

    /// close(2).
    pub fn remove(&self, fd: i32) -> SysResult<Arc<FileDescription>> {
        let idx = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        let mut slots = self.lock();
        let e = slots
            .get_mut(idx)
            .and_then(Option::take)
            .ok_or(Errno::EBADF)?;
        while slots.last().is_some_and(Option::is_none) {
            slots.pop();
        }
        Ok(e.file)
    }

    /// F_SETFD.
    pub fn set_cloexec(&self, fd: i32, cloexec: bool) -> SysResult<()> {
        let idx = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        match self.lock().get_mut(idx) {
            Some(Some(e)) => {
                e.cloexec = cloexec;
                Ok(())
            }
            _ => Err(Errno::EBADF),
        }
    }

    /// The open descriptor numbers, ascending (/proc/PID/fd).
    pub fn fds(&self) -> Vec<i32> {
        self.read()
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| i as i32)
            .collect()
    }

    /// dup3 semantics: `newfd` becomes a copy of `oldfd` (EINVAL if equal).
    pub fn dup3(&self, oldfd: i32, newfd: i32, cloexec: bool) -> SysResult<i32> {
        if oldfd == newfd {
            return Err(Errno::EINVAL);
        }
        let f = self.get(oldfd)?;
        self.install_at(newfd, f, cloexec)?;
        Ok(newfd)
    }
}

impl Default for FdTable {
    fn default() -> Self {
        FdTable::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::tmpfs;
    use crate::vfs::Vfs;

    fn file() -> Arc<FileDescription> {
        let v = Vfs::with_root(tmpfs::new_root(1, 0o755), false, "tmpfs");
        v.open_in(&v.root_ctx(), b"/", libc::O_RDONLY, 0).unwrap()
    }

    #[test]
    fn lowest_free_number_is_used() {
        let t = FdTable::new();
        let f = file();
        assert_eq!(t.install(f.clone(), false, 0).unwrap(), 0);
        assert_eq!(t.install(f.clone(), false, 0).unwrap(), 1);
        assert_eq!(t.install(f.clone(), false, 0).unwrap(), 2);
        t.remove(1).unwrap();
        assert_eq!(t.install(f.clone(), false, 0).unwrap(), 1);
        assert_eq!(t.install(f.clone(), false, 10).unwrap(), 10);
        assert_eq!(t.install(f.clone(), false, 0).unwrap(), 3);
        assert_eq!(t.fds(), vec![0, 1, 2, 3, 10]);
        assert_eq!(t.remove(7).err(), Some(Errno::EBADF));
        assert_eq!(t.get(-1).err(), Some(Errno::EBADF));
    }

    #[test]
    fn lookups_by_two_threads_do_not_wait_for_each_other() {
        let t = Arc::new(FdTable::new());
        t.install(file(), true, 0).unwrap();
        let reading = t.read();
        let (tx, rx) = std::sync::mpsc::channel();
        let t2 = t.clone();
        let other = std::thread::spawn(move || {
            tx.send(t2.get_with_flags(0).map(|(_, cloexec)| cloexec))
                .unwrap();
        });
        let got = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(got, Ok(true));
        drop(reading);
        other.join().unwrap();
    }

    #[test]
    fn limit_gives_emfile() {
        let t = FdTable::new();
        let f = file();
        assert_eq!(t.install_below(f.clone(), false, 0, 2).unwrap(), 0);
        assert_eq!(t.install_below(f.clone(), false, 0, 2).unwrap(), 1);
        assert_eq!(
            t.install_below(f.clone(), false, 0, 2).err(),
            Some(Errno::EMFILE)
        );
        assert_eq!(t.install(f, false, MAX_FDS).err(), Some(Errno::EINVAL));
    }

    #[test]
    fn cloexec_is_per_descriptor_and_exec_closes() {
        let t = FdTable::new();
        let f = file();
        t.install(f.clone(), true, 0).unwrap();
        t.install(f.clone(), false, 0).unwrap();
        assert!(t.get_with_flags(0).unwrap().1);
        assert!(!t.get_with_flags(1).unwrap().1);
        t.set_cloexec(1, true).unwrap();
        t.set_cloexec(0, false).unwrap();
        t.close_on_exec();
        assert_eq!(t.fds(), vec![0]);
    }

    #[test]
    fn dup3_shares_the_description_and_replaces() {
        let t = FdTable::new();
        let a = file();
        let b = file();
        t.install(a.clone(), false, 0).unwrap();
        t.install(b, false, 0).unwrap();
        assert_eq!(t.dup3(0, 1, true).unwrap(), 1);
        assert!(Arc::ptr_eq(&t.get(1).unwrap(), &a));
        assert!(t.get_with_flags(1).unwrap().1);
        assert_eq!(t.dup3(0, 0, false).err(), Some(Errno::EINVAL));
        assert_eq!(t.dup3(5, 6, false).err(), Some(Errno::EBADF));
        // fork copies descriptors and flags; later changes are private.
        let child = t.fork();
        t.remove(0).unwrap();
        assert!(child.get(0).is_ok());
    }

    #[test]
    fn size_grows_in_powers_of_two_and_fork_trims_it() {
        let t = FdTable::new();
        let f = file();
        assert_eq!(t.size(), 64);
        t.install_at(63, f.clone(), false).unwrap();
        assert_eq!(t.size(), 64);
        t.install_at(64, f.clone(), false).unwrap();
        assert_eq!(t.size(), 128);
        t.install_at(300, f.clone(), false).unwrap();
        assert_eq!(t.size(), 512);
        t.remove(300).unwrap();
        assert_eq!(t.size(), 512, "closing never shrinks");
        assert_eq!(t.fork().size(), 128, "fork sizes for the highest open fd");
        t.remove(64).unwrap();
        assert_eq!(t.fork().size(), 64);
    }
}
