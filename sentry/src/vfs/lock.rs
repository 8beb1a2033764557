//! Advisory file locks (after Linux `fs/locks.c` and gVisor's `pkg/sentry/fsimpl/lock`):
//! flock(2) locks owned by an open file description, and fcntl(2) record locks owned by a
//! process (F_SETLK) or by an open file description (F_OFD_SETLK). Locks are kept per file,
//! keyed by (st_dev, st_ino), in one table for the sandbox; waiters block on one queue that
//! every release notifies.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::kernel::wait::{TaskWaker, WaitQueue};
use crate::vfs::TaskRef;
use crate::{Errno, SysResult};

/// Who holds a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// A process (thread-group id): classic POSIX record locks.
    Process(i32),
    /// An open file description (its address): flock and OFD locks.
    File(usize),
}

/// The kind of a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
}

/// A byte-range lock: `[start, end)` with `end == u64::MAX` meaning "to end of file".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub owner: Owner,
    pub kind: Kind,
    pub start: u64,
    pub end: u64,
    /// The pid F_GETLK reports (-1 for OFD locks).
    pub pid: i32,
}

impl Record {
    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.start < end && start < self.end
    }
}

#[derive(Default)]
struct FileLocks {
    /// flock(2) holders: (description, exclusive).
    flocks: Vec<(usize, bool)>,
    records: Vec<Record>,
}

impl FileLocks {
    fn is_empty(&self) -> bool {
        self.flocks.is_empty() && self.records.is_empty()
    }
}

struct Table {
    files: Mutex<HashMap<(u64, u64), FileLocks>>,
    queue: WaitQueue,
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| Table {
        files: Mutex::new(HashMap::new()),
        queue: WaitQueue::new(),
    })
}

fn files() -> MutexGuard<'static, HashMap<(u64, u64), FileLocks>> {
    table().files.lock().unwrap_or_else(|p| p.into_inner())
}

/// Retries `attempt` until it succeeds: at once when `!wait` (EAGAIN/EWOULDBLOCK then), else
/// blocking until a release lets it through or a signal interrupts (EINTR).
fn acquire(task: TaskRef, wait: bool, mut attempt: impl FnMut() -> bool) -> SysResult<()> {
    if attempt() {
        return Ok(());
    }
    if !wait {
        return Err(Errno::EAGAIN);
    }
    let waker: std::sync::Arc<TaskWaker> = task.map(|t| t.waker.clone()).unwrap_or_default();
    let _reg = table().queue.register(&waker);
    waker.wait_until(None, attempt)
}

/// flock(2) LOCK_SH/LOCK_EX for description `fd_id` on file `key`; a held lock of the other
/// kind is converted (dropped first, as Linux does).
pub fn flock(
    task: TaskRef,
    key: (u64, u64),
    fd_id: usize,
    exclusive: bool,
    wait: bool,
) -> SysResult<()> {
    {
        let mut f = files();
        let locks = f.entry(key).or_default();
        if let Some(i) = locks.flocks.iter().position(|&(o, _)| o == fd_id) {
            if locks.flocks[i].1 == exclusive {
                return Ok(());
            }
            locks.flocks.remove(i);
            table().queue.notify();
        }
    }
    acquire(task, wait, || {
        let mut f = files();
        let locks = f.entry(key).or_default();
        let conflict = locks
            .flocks
            .iter()
            .any(|&(o, ex)| o != fd_id && (ex || exclusive));
        if conflict {
            return false;
        }
        locks.flocks.push((fd_id, exclusive));
        true
    })
}

/// flock(2) LOCK_UN (and the release when the description closes).
pub fn funlock(key: (u64, u64), fd_id: usize) {
    let mut f = files();
    if let Some(locks) = f.get_mut(&key) {
        let before = locks.flocks.len();
        locks.flocks.retain(|&(o, _)| o != fd_id);
        let changed = locks.flocks.len() != before;
        if locks.is_empty() {
            f.remove(&key);
        }
        drop(f);
        if changed {
            table().queue.notify();
        }
    }
}

/// F_GETLK: the first lock of another owner that conflicts with `want`, if any.
pub fn test_record(key: (u64, u64), want: &Record) -> Option<Record> {
    let f = files();
    f.get(&key)?
        .records
        .iter()
        .find(|r| {
            r.owner != want.owner
                && r.overlaps(want.start, want.end)
                && (r.kind == Kind::Write || want.kind == Kind::Write)
        })
        .copied()
}

/// Removes `owner`'s locks on `[start, end)`, splitting records that stick out.
fn remove_range(records: &mut Vec<Record>, owner: Owner, start: u64, end: u64) {
    let mut out = Vec::with_capacity(records.len() + 1);
    for r in records.drain(..) {
        if r.owner != owner || !r.overlaps(start, end) {
            out.push(r);
            continue;
        }
        if r.start < start {
            out.push(Record { end: start, ..r });
        }
        if r.end > end {
            out.push(Record { start: end, ..r });
        }
    }
    *records = out;
}

/// Merges `owner`'s adjacent or overlapping records of the same kind.
fn coalesce(records: &mut Vec<Record>, owner: Owner) {
    let (mut mine, others): (Vec<Record>, Vec<Record>) =
        records.drain(..).partition(|r| r.owner == owner);
    mine.sort_by_key(|r| r.start);
    let mut merged: Vec<Record> = Vec::new();
    for r in mine {
        match merged.last_mut() {
            Some(last) if last.kind == r.kind && last.end >= r.start => {
                last.end = last.end.max(r.end);
            }
            _ => merged.push(r),
        }
    }
    *records = others;
    records.extend(merged);
}

/// F_SETLK/F_SETLKW (and the OFD forms): takes `want` (waiting when `wait`), replacing the
/// owner's own locks on the range.
pub fn set_record(task: TaskRef, key: (u64, u64), want: Record, wait: bool) -> SysResult<()> {
    acquire(task, wait, || {
        let mut f = files();
        let locks = f.entry(key).or_default();
        let conflict = locks.records.iter().any(|r| {
            r.owner != want.owner
                && r.overlaps(want.start, want.end)
                && (r.kind == Kind::Write || want.kind == Kind::Write)
        });
        if conflict {
            return false;
        }
        remove_range(&mut locks.records, want.owner, want.start, want.end);
        locks.records.push(want);
        coalesce(&mut locks.records, want.owner);
        drop(f);
        // A downgrade (write to read) may let readers in.
        table().queue.notify();
        true
    })
}

/// F_UNLCK on `[start, end)` for `owner`.
pub fn unlock_record(key: (u64, u64), owner: Owner, start: u64, end: u64) {
    let mut f = files();
    if let Some(locks) = f.get_mut(&key) {
        remove_range(&mut locks.records, owner, start, end);
        if locks.is_empty() {
            f.remove(&key);
        }
    }
    drop(f);
    table().queue.notify();
}

/// Drops every record lock `owner` holds on the file (close(2) of any descriptor of the file
/// by the owning process; the last close of an OFD owner).
pub fn release_owner(key: (u64, u64), owner: Owner) {
    unlock_record(key, owner, 0, u64::MAX);
}

/// Whether any record lock exists anywhere (close(2) then looks for the closer's locks).
pub fn has_records() -> bool {
    files().values().any(|l| !l.records.is_empty())
}

/// Whether `fd_id` holds anything on `key` (for tests).
pub fn holds_flock(key: (u64, u64), fd_id: usize) -> bool {
    files()
        .get(&key)
        .is_some_and(|l| l.flocks.iter().any(|&(o, _)| o == fd_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flock_shared_and_exclusive_conflict() {
        let key = (77, 1);
        flock(None, key, 1, false, false).unwrap();
        flock(None, key, 2, false, false).unwrap();
        assert_eq!(flock(None, key, 3, true, false), Err(Errno::EAGAIN));
        funlock(key, 1);
        funlock(key, 2);
        flock(None, key, 3, true, false).unwrap();
        assert!(holds_flock(key, 3));
        assert_eq!(flock(None, key, 1, false, false), Err(Errno::EAGAIN));
        funlock(key, 3);
        assert!(!holds_flock(key, 3));
    }

    #[test]
    fn records_split_merge_and_conflict() {
        let key = (77, 2);
        let a = Owner::Process(10);
        let b = Owner::Process(11);
        let rec = |owner, kind, start, end| Record {
            owner,
            kind,
            start,
            end,
            pid: 0,
        };
        set_record(None, key, rec(a, Kind::Write, 0, 100), false).unwrap();
        unlock_record(key, a, 40, 60);
        let probe = rec(b, Kind::Write, 50, 55);
        assert_eq!(test_record(key, &probe), None);
        set_record(None, key, probe, false).unwrap();
        assert_eq!(
            set_record(None, key, rec(b, Kind::Read, 10, 20), false),
            Err(Errno::EAGAIN)
        );
        let got = test_record(key, &rec(b, Kind::Read, 0, 10)).unwrap();
        assert_eq!((got.start, got.end, got.owner), (0, 40, a));
        release_owner(key, a);
        release_owner(key, b);
        assert_eq!(test_record(key, &rec(b, Kind::Write, 0, u64::MAX)), None);
    }
}
