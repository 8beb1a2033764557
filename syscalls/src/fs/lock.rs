//! File locking syscalls (after Linux `fs/locks.c`): flock(2) and fcntl(2)'s record locks
//! F_GETLK/F_SETLK/F_SETLKW and the open-file-description forms F_OFD_*; the lock table is
//! `sentry::vfs::lock`.

use std::sync::Arc;

use sentry::kernel::{SyscallArgs, Task};
use sentry::vfs::lock::{self, Kind, Owner, Record};
use sentry::vfs::FileDescription;
use sentry::{Errno, SysResult};

/// flock(2): LOCK_SH, LOCK_EX, LOCK_UN, each optionally with LOCK_NB.
pub fn sys_flock(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (fd, op) = (a.fd(0), a.i32(1));
    let file = t.fd_table.get(fd)?;
    if file.is_path_only() {
        return Err(Errno::EBADF);
    }
    let wait = op & libc::LOCK_NB == 0;
    let key = file.lock_key(Some(t))?;
    match op & !libc::LOCK_NB {
        libc::LOCK_SH => lock::flock(Some(t), key, file.lock_id(), false, wait)?,
        libc::LOCK_EX => lock::flock(Some(t), key, file.lock_id(), true, wait)?,
        libc::LOCK_UN => lock::funlock(key, file.lock_id()),
        _ => return Err(Errno::EINVAL),
    }
    Ok(0)
}

/// `struct flock` (include/uapi/asm-generic/fcntl.h), 32 bytes on x86_64.
struct Flock {
    l_type: i16,
    l_whence: i16,
    l_start: i64,
    l_len: i64,
    l_pid: i32,
}

fn read_flock(t: &Task, addr: u64) -> SysResult<Flock> {
    let b: [u8; 32] = t.mm.copy_in_pod(addr)?;
    let i16_at = |i: usize| i16::from_ne_bytes([b[i], b[i + 1]]);
    let i64_at = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        i64::from_ne_bytes(w)
    };
    Ok(Flock {
        l_type: i16_at(0),
        l_whence: i16_at(2),
        l_start: i64_at(8),
        l_len: i64_at(16),
        l_pid: i32::from_ne_bytes([b[24], b[25], b[26], b[27]]),
    })
}

fn write_flock(t: &Task, addr: u64, f: &Flock) -> SysResult<()> {
    let mut b = [0u8; 32];
    b[0..2].copy_from_slice(&f.l_type.to_ne_bytes());
    b[2..4].copy_from_slice(&f.l_whence.to_ne_bytes());
    b[8..16].copy_from_slice(&f.l_start.to_ne_bytes());
    b[16..24].copy_from_slice(&f.l_len.to_ne_bytes());
    b[24..28].copy_from_slice(&f.l_pid.to_ne_bytes());
    t.mm.copy_out(addr, &b)
}

/// The byte range `[start, end)` a `struct flock` names (Linux `flock64_to_posix_lock`).
fn range(t: &Task, file: &FileDescription, f: &Flock) -> SysResult<(u64, u64)> {
    let base: i64 = match i32::from(f.l_whence) {
        libc::SEEK_SET => 0,
        libc::SEEK_CUR => {
            i64::try_from(file.seek(Some(t), 0, libc::SEEK_CUR)?).map_err(|_| Errno::EOVERFLOW)?
        }
        libc::SEEK_END => file.stat_vfs(Some(t))?.size,
        _ => return Err(Errno::EINVAL),
    };
    let start = base.checked_add(f.l_start).ok_or(Errno::EOVERFLOW)?;
    if start < 0 {
        return Err(Errno::EINVAL);
    }
    let (s, e) = match f.l_len {
        0 => (start, None),
        n if n > 0 => (start, Some(start.checked_add(n).ok_or(Errno::EOVERFLOW)?)),
        n => {
            let s = start + n;
            if s < 0 {
                return Err(Errno::EINVAL);
            }
            (s, Some(start))
        }
    };
    Ok((s as u64, e.map_or(u64::MAX, |e| e as u64)))
}

/// fcntl(2) F_GETLK/F_SETLK/F_SETLKW and F_OFD_GETLK/F_OFD_SETLK/F_OFD_SETLKW.
pub fn fcntl_lock(t: &Task, file: &Arc<FileDescription>, cmd: i32, addr: u64) -> SysResult<u64> {
    if file.is_path_only() {
        return Err(Errno::EBADF);
    }
    let ofd = matches!(
        cmd,
        libc::F_OFD_GETLK | libc::F_OFD_SETLK | libc::F_OFD_SETLKW
    );
    let mut f = read_flock(t, addr)?;
    if ofd && f.l_pid != 0 {
        return Err(Errno::EINVAL);
    }
    let kind = match i32::from(f.l_type) {
        libc::F_RDLCK => Some(Kind::Read),
        libc::F_WRLCK => Some(Kind::Write),
        libc::F_UNLCK => None,
        _ => return Err(Errno::EINVAL),
    };
    let (start, end) = range(t, file, &f)?;
    let owner = if ofd {
        Owner::File(file.lock_id())
    } else {
        Owner::Process(t.tg.pid)
    };
    let key = file.lock_key(Some(t))?;
    match cmd {
        libc::F_GETLK | libc::F_OFD_GETLK => {
            let Some(kind) = kind else {
                return Err(Errno::EINVAL);
            };
            let probe = Record {
                owner,
                kind,
                start,
                end,
                pid: 0,
            };
            match lock::test_record(key, &probe) {
                None => f.l_type = libc::F_UNLCK as i16,
                Some(r) => {
                    f.l_type = if r.kind == Kind::Write {
                        libc::F_WRLCK as i16
                    } else {
                        libc::F_RDLCK as i16
                    };
                    f.l_whence = libc::SEEK_SET as i16;
                    f.l_start = r.start as i64;
                    f.l_len = if r.end == u64::MAX {
                        0
                    } else {
                        (r.end - r.start) as i64
                    };
                    f.l_pid = r.pid;
                }
            }
            write_flock(t, addr, &f)?;
            Ok(0)
        }
        _ => {
            let wait = matches!(cmd, libc::F_SETLKW | libc::F_OFD_SETLKW);
            match kind {
                None => lock::unlock_record(key, owner, start, end),
                Some(kind) => {
                    let ok = match kind {
                        Kind::Read => file.readable(),
                        Kind::Write => file.writable(),
                    };
                    if !ok {
                        return Err(Errno::EBADF);
                    }
                    if !ofd {
                        file.note_posix_owner(t.tg.pid);
                    }
                    let pid = if ofd { -1 } else { t.tg.pid };
                    let rec = Record {
                        owner,
                        kind,
                        start,
                        end,
                        pid,
                    };
                    lock::set_record(Some(t), key, rec, wait)?;
                }
            }
            Ok(0)
        }
    }
}

/// close(2)'s side effect: a process's record locks on the file go with any of its closes.
pub fn release_on_close(t: &Task, file: &FileDescription) {
    if !lock::has_records() {
        return;
    }
    let key = match file.known_lock_key() {
        Some(k) => Some(k),
        None => file.stat_vfs(Some(t)).ok().map(|st| (st.dev, st.ino)),
    };
    if let Some(key) = key {
        lock::release_owner(key, Owner::Process(t.tg.pid));
    }
}
