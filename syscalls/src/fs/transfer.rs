//! In-kernel copies between files (after Linux `fs/read_write.c` `do_sendfile` and
//! `vfs_copy_file_range`): sendfile(2) and copy_file_range(2), done as reads and writes
//! through the sentry in bounded chunks.

use sentry::kernel::{SyscallArgs, Task};
use sentry::vfs::FileDescription;
use sentry::{Errno, SysResult};

/// Bytes moved per read/write round.
const CHUNK: usize = 64 << 10;
/// Most bytes one call moves (Linux `MAX_RW_COUNT`, rounded).
const MAX_COUNT: u64 = 0x7fff_f000;

fn read_off(t: &Task, addr: u64) -> SysResult<Option<i64>> {
    if addr == 0 {
        return Ok(None);
    }
    let v: [u8; 8] = t.mm.copy_in_pod(addr)?;
    let off = i64::from_ne_bytes(v);
    if off < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Some(off))
}

/// Moves up to `count` bytes from `src` (at `in_off` or its offset) to `dst` (at `out_off` or
/// its offset); returns the bytes moved and the final offsets. An error after some bytes
/// moved ends the copy early (the count is reported, as Linux does).
fn pump(
    t: &Task,
    src: &FileDescription,
    mut in_off: Option<u64>,
    dst: &FileDescription,
    mut out_off: Option<u64>,
    count: u64,
) -> SysResult<(u64, Option<u64>, Option<u64>)> {
    let mut done = 0u64;
    let mut buf = vec![0u8; CHUNK.min(count as usize)];
    while done < count {
        let want = ((count - done) as usize).min(buf.len());
        let r = match in_off {
            Some(o) => src.pread(t, &mut buf[..want], o),
            None => src.read(t, &mut buf[..want]),
        };
        let n = match r {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let mut written = 0;
        while written < n {
            let w = match out_off {
                Some(o) => dst.pwrite(t, &buf[written..n], o + written as u64),
                None => dst.write(t, &buf[written..n]),
            };
            match w {
                Ok(0) => break,
                Ok(m) => written += m,
                Err(e) if done == 0 && written == 0 => return Err(e),
                Err(_) => break,
            }
        }
        if let Some(o) = in_off.as_mut() {
            *o += written as u64;
        }
        if let Some(o) = out_off.as_mut() {
            *o += written as u64;
        }
        done += written as u64;
        if written < n || n < want {
            // A short write: the source read ahead of what landed. Offsets follow what
            // was written; a description-offset source cannot be rewound here, so stop.
            break;
        }
    }
    Ok((done, in_off, out_off))
}

/// sendfile(2).
pub fn sys_sendfile(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (out_fd, in_fd, off_addr, count) = (a.fd(0), a.fd(1), a.addr(2), a.u64(3));
    let src = t.fd_table.get(in_fd)?;
    let dst = t.fd_table.get(out_fd)?;
    if !src.readable() || !dst.writable() {
        return Err(Errno::EBADF);
    }
    if dst.flags() & libc::O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    let off = read_off(t, off_addr)?;
    let count = count.min(MAX_COUNT);
    if count == 0 {
        return Ok(0);
    }
    let (n, in_off, _) = pump(t, &src, off.map(|o| o as u64), &dst, None, count)?;
    if n > 0 {
        super::inotify::file_event(t, &src, sentry::fs::inotify::IN_ACCESS);
        super::inotify::file_event(t, &dst, sentry::fs::inotify::IN_MODIFY);
    }
    if let Some(o) = in_off {
        t.mm.copy_out_pod(off_addr, &(o as i64).to_ne_bytes())?;
    }
    Ok(n)
}

/// copy_file_range(2): between regular files; `flags` must be 0.
pub fn sys_copy_file_range(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (in_fd, in_addr, out_fd, out_addr, len, flags) =
        (a.fd(0), a.addr(1), a.fd(2), a.addr(3), a.u64(4), a.u32(5));
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let src = t.fd_table.get(in_fd)?;
    let dst = t.fd_table.get(out_fd)?;
    if !src.readable() || !dst.writable() || dst.flags() & libc::O_APPEND != 0 {
        return Err(Errno::EBADF);
    }
    let (sst, dst_st) = (src.stat_vfs(Some(t))?, dst.stat_vfs(Some(t))?);
    if sst.is_dir() || dst_st.is_dir() {
        return Err(Errno::EISDIR);
    }
    if !sst.is_reg() || !dst_st.is_reg() {
        return Err(Errno::EINVAL);
    }
    let in_off = read_off(t, in_addr)?;
    let out_off = read_off(t, out_addr)?;
    let len = len.min(MAX_COUNT);
    if sst.dev == dst_st.dev && sst.ino == dst_st.ino {
        let i = match in_off {
            Some(o) => o as u64,
            None => src.seek(Some(t), 0, libc::SEEK_CUR)?,
        };
        let o = match out_off {
            Some(o) => o as u64,
            None => dst.seek(Some(t), 0, libc::SEEK_CUR)?,
        };
        if i < o.saturating_add(len) && o < i.saturating_add(len) {
            return Err(Errno::EINVAL);
        }
    }
    if len == 0 {
        return Ok(0);
    }
    let (n, ni, no) = pump(
        t,
        &src,
        in_off.map(|o| o as u64),
        &dst,
        out_off.map(|o| o as u64),
        len,
    )?;
    if n > 0 {
        super::inotify::file_event(t, &src, sentry::fs::inotify::IN_ACCESS);
        super::inotify::file_event(t, &dst, sentry::fs::inotify::IN_MODIFY);
    }
    if let Some(o) = ni {
        t.mm.copy_out_pod(in_addr, &(o as i64).to_ne_bytes())?;
    }
    if let Some(o) = no {
        t.mm.copy_out_pod(out_addr, &(o as i64).to_ne_bytes())?;
    }
    Ok(n)
}
