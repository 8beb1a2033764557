//! inotify(7) syscalls (Linux `fs/notify/inotify/inotify_user.c`): inotify_init(2),
//! inotify_init1(2), inotify_add_watch(2), inotify_rm_watch(2); and the event hooks the file
//! syscalls call after an operation succeeded (Linux `include/linux/fsnotify.h`: an event goes
//! to the file's own watches and, with the file's name, to its directory's). Every hook returns
//! at once while no watch exists in the sandbox.

use std::sync::Arc;

use sentry::fs::inotify::{self as ino, FileKey, Inotify};
use sentry::kernel::{SyscallArgs, Task};
use sentry::vfs::{Dentry, FileDescription, Stat};
use sentry::{Errno, SysResult};

use super::{nofile_limit, path_arg};

fn key(st: &Stat) -> FileKey {
    (st.dev, st.ino)
}

fn isdir(st: &Stat) -> u32 {
    if st.is_dir() {
        ino::IN_ISDIR
    } else {
        0
    }
}

/// inotify_init1(2).
pub fn sys_inotify_init1(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let flags = a.i32(0);
    let (file, _) = ino::new_inotify(flags)?;
    let limit = nofile_limit(t);
    Ok(t.fd_table
        .install_below(file, flags & libc::O_CLOEXEC != 0, 0, limit)? as u64)
}

/// inotify_init(2).
pub fn sys_inotify_init(t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    let (file, _) = ino::new_inotify(0)?;
    let limit = nofile_limit(t);
    Ok(t.fd_table.install_below(file, false, 0, limit)? as u64)
}

fn instance(file: &Arc<FileDescription>) -> SysResult<&Inotify> {
    file.ops_as::<Inotify>().ok_or(Errno::EINVAL)
}

/// inotify_add_watch(2): the file must be readable by the caller; IN_DONT_FOLLOW watches a
/// final symlink itself, IN_ONLYDIR wants a directory.
pub fn sys_inotify_add_watch(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (fd, path_addr, mask) = (a.fd(0), a.addr(1), a.u32(2));
    if mask & ino::IN_MASK_ADD != 0 && mask & ino::IN_MASK_CREATE != 0 {
        return Err(Errno::EINVAL);
    }
    if mask & ino::VALID_WATCH_BITS == 0 {
        return Err(Errno::EINVAL);
    }
    let file = t.fd_table.get(fd)?;
    instance(&file)?;
    let path = path_arg(t, path_addr)?;
    let follow = mask & ino::IN_DONT_FOLLOW == 0;
    let d = t
        .kernel
        .vfs
        .lookup_at(t, libc::AT_FDCWD, &path, follow, false)?;
    let st = d.inode.stat(Some(t))?;
    sentry::vfs::check_access(Some(t), &st, libc::R_OK)?;
    if mask & ino::IN_ONLYDIR != 0 && !st.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    Ok(instance(&file)?.add_watch(key(&st), mask)? as u64)
}

/// inotify_rm_watch(2).
pub fn sys_inotify_rm_watch(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (fd, wd) = (a.fd(0), a.i32(1));
    let file = t.fd_table.get(fd)?;
    instance(&file)?.rm_watch(wd)?;
    Ok(0)
}

/// An event on the file `d` names: to its directory's watches (with its name), then its own.
pub(super) fn dentry_event(t: &Task, d: &Dentry, mask: u32) {
    if !ino::active() {
        return;
    }
    let Ok(st) = d.inode.stat(Some(t)) else {
        return;
    };
    let mask = mask | isdir(&st);
    if let Some(p) = d
        .parent
        .as_ref()
        .filter(|_| !d.name.is_empty() && d.mount.id != 0)
    {
        if let Ok(pst) = p.inode.stat(Some(t)) {
            ino::notify(key(&pst), mask, 0, &d.name);
        }
    }
    ino::notify(key(&st), mask, 0, b"");
}

/// An event on an open file (IN_ACCESS, IN_MODIFY, IN_OPEN, IN_CLOSE_*); none for O_PATH.
pub(super) fn file_event(t: &Task, f: &FileDescription, mask: u32) {
    if ino::active() && !f.is_path_only() {
        dentry_event(t, f.dentry(), mask);
    }
}

/// What a path named before a change that may remove or replace it (unlink, rmdir, rename).
pub(super) struct Before {
    dentry: Arc<Dentry>,
    st: Stat,
}

/// Looks `path` up (not following a final symlink) if any watch exists.
pub(super) fn before(t: &Task, dirfd: i32, path: &[u8]) -> Option<Before> {
    if !ino::active() {
        return None;
    }
    let dentry = t.kernel.vfs.lookup_at(t, dirfd, path, false, false).ok()?;
    let st = dentry.inode.stat(Some(t)).ok()?;
    Some(Before { dentry, st })
}

fn parent_key(t: &Task, d: &Dentry) -> Option<FileKey> {
    let p = d.parent.as_ref()?;
    p.inode.stat(Some(t)).ok().map(|s| key(&s))
}

/// After unlink or rmdir of `b`: IN_ATTRIB (a file's link count), IN_DELETE_SELF and
/// IN_IGNORED when the last link went, then the directory's IN_DELETE (the order Linux's
/// `vfs_unlink`/`vfs_rmdir` and `d_delete_notify` give).
pub(super) fn removed(t: &Task, b: Option<Before>) {
    let Some(b) = b else {
        return;
    };
    let k = key(&b.st);
    let dir = isdir(&b.st);
    if dir == 0 {
        ino::notify(k, ino::IN_ATTRIB, 0, b"");
    }
    if dir != 0 || b.st.nlink <= 1 {
        // Linux reports the "self" events without IN_ISDIR.
        ino::notify(k, ino::IN_DELETE_SELF, 0, b"");
        ino::forget(k);
    }
    if let Some(pk) = parent_key(t, &b.dentry) {
        ino::notify(pk, ino::IN_DELETE | dir, 0, &b.dentry.name);
    }
}

/// After creating `path` (open O_CREAT, mkdir, mknod, symlink, link): IN_CREATE in its
/// directory.
pub(super) fn created(t: &Task, dirfd: i32, path: &[u8]) {
    if !ino::active() {
        return;
    }
    if let Some(b) = before(t, dirfd, path) {
        if let Some(pk) = parent_key(t, &b.dentry) {
            ino::notify(pk, ino::IN_CREATE | isdir(&b.st), 0, &b.dentry.name);
        }
    }
}

/// After a rename of `old` to `new_path` (with `replaced` the file it replaced): the shared
/// cookie's IN_MOVED_FROM and IN_MOVED_TO, IN_MOVE_SELF, and the replaced file's removal
/// (Linux `fsnotify_move`).
pub(super) fn renamed(
    t: &Task,
    old: Option<Before>,
    replaced: Option<Before>,
    newdirfd: i32,
    new_path: &[u8],
) {
    let Some(old) = old else {
        return;
    };
    let Some(new) = before(t, newdirfd, new_path) else {
        return;
    };
    let dir = isdir(&old.st);
    let cookie = ino::next_cookie();
    if let Some(pk) = parent_key(t, &old.dentry) {
        ino::notify(pk, ino::IN_MOVED_FROM | dir, cookie, &old.dentry.name);
    }
    if let Some(pk) = parent_key(t, &new.dentry) {
        ino::notify(pk, ino::IN_MOVED_TO | dir, cookie, &new.dentry.name);
    }
    if let Some(r) = replaced.filter(|r| key(&r.st) != key(&old.st)) {
        let rk = key(&r.st);
        if r.st.is_dir() || r.st.nlink <= 1 {
            ino::notify(rk, ino::IN_DELETE_SELF, 0, b"");
            ino::forget(rk);
        } else {
            ino::notify(rk, ino::IN_ATTRIB, 0, b"");
        }
    }
    ino::notify(key(&old.st), ino::IN_MOVE_SELF, 0, b"");
}

/// Before an open: whether the path already named a file (only asked for O_CREAT while a
/// watch exists), so that the open can tell IN_CREATE.
pub(super) fn open_before(t: &Task, dirfd: i32, path: &[u8], flags: i32) -> bool {
    if !ino::active() || flags & libc::O_CREAT == 0 {
        return true;
    }
    t.kernel
        .vfs
        .lookup_at(t, dirfd, path, flags & libc::O_NOFOLLOW == 0, false)
        .is_ok()
}

/// After an open (Linux `do_open`): IN_CREATE in the directory for a new file, IN_OPEN, then
/// IN_MODIFY for an existing file O_TRUNC emptied.
pub(super) fn opened(t: &Task, f: &FileDescription, flags: i32, existed: bool) {
    if !ino::active() || f.is_path_only() {
        return;
    }
    let d = f.dentry();
    if !existed && flags & libc::O_TMPFILE != libc::O_TMPFILE {
        if let (Some(pk), Ok(st)) = (parent_key(t, d), d.inode.stat(Some(t))) {
            ino::notify(pk, ino::IN_CREATE | isdir(&st), 0, &d.name);
        }
        dentry_event(t, d, ino::IN_OPEN);
    } else {
        dentry_event(t, d, ino::IN_OPEN);
        if flags & libc::O_TRUNC != 0 && d.inode.stat(Some(t)).is_ok_and(|s| s.is_reg()) {
            dentry_event(t, d, ino::IN_MODIFY);
        }
    }
}
