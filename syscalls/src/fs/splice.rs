//! splice(2), tee(2) and vmsplice(2) (after Linux `fs/splice.c`: `do_splice`,
//! `splice_pipe_to_pipe`, `do_tee`, `vmsplice_to_pipe`, `vmsplice_to_user`): moving bytes
//! between a pipe and another file (or pipe) inside the sentry. Pages are copied, never
//! gifted: SPLICE_F_MOVE and SPLICE_F_GIFT are hints Linux may ignore too, SPLICE_F_MORE only
//! matters to sockets.
//!
//! Offsets: a pipe side takes none (ESPIPE); a file side's offset pointer, when given, is read,
//! used and written back instead of the file offset, and needs a seekable file (EINVAL for a
//! socket, as Linux's FMODE_PREAD/FMODE_PWRITE checks answer).
//! Either side's O_NONBLOCK on a pipe acts as SPLICE_F_NONBLOCK (Linux since 5.x).

use std::sync::Arc;

use sentry::fs::inotify::{IN_ACCESS, IN_MODIFY};
use sentry::fs::pipe::PipeEnd;
use sentry::kernel::{SyscallArgs, Task};
use sentry::vfs::{FileDescription, Positioning};
use sentry::{Errno, SysResult};

use super::inotify as notify;
use super::read_write::{iovecs, sigpipe_on_epipe};

/// `SPLICE_F_MOVE`, `SPLICE_F_NONBLOCK`, `SPLICE_F_MORE`, `SPLICE_F_GIFT`
/// (include/linux/splice.h).
const SPLICE_F_NONBLOCK: u32 = 0x02;
const SPLICE_F_ALL: u32 = 0x0f;
/// Most bytes one call moves (Linux `MAX_RW_COUNT`).
const MAX_COUNT: usize = 0x7fff_f000;
/// Bytes copied per round through the sentry.
const CHUNK: usize = 64 << 10;
/// `UIO_MAXIOV`.
const IOV_MAX: u64 = 1024;

fn pipe_of(f: &FileDescription) -> Option<&PipeEnd> {
    f.ops_as::<PipeEnd>()
}

/// Whether a file can be read or written at an explicit offset (Linux FMODE_PREAD/PWRITE).
fn seekable(t: &Task, f: &FileDescription) -> SysResult<bool> {
    Ok(match f.ops().positioning() {
        Positioning::Offset => true,
        Positioning::Stream => false,
        Positioning::Host => f.stat_vfs(Some(t))?.is_reg(),
    })
}

fn nonblocking(f: &FileDescription) -> bool {
    f.flags() & libc::O_NONBLOCK != 0
}

/// Reads a `loff_t` argument; negative is EINVAL.
fn read_loff(t: &Task, addr: u64) -> SysResult<u64> {
    let v: [u8; 8] = t.mm.copy_in_pod(addr)?;
    u64::try_from(i64::from_ne_bytes(v)).map_err(|_| Errno::EINVAL)
}

fn write_loff(t: &Task, addr: u64, off: u64) -> SysResult<()> {
    let v = i64::try_from(off).map_err(|_| Errno::EOVERFLOW)?;
    t.mm.copy_out_pod(addr, &v.to_ne_bytes())
}

/// splice(2).
pub fn sys_splice(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (in_fd, in_addr, out_fd, out_addr) = (a.fd(0), a.addr(1), a.fd(2), a.addr(3));
    let (len, flags) = (a.u64(4), a.u32(5));
    if len == 0 {
        return Ok(0);
    }
    if flags & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let src = t.fd_table.get(in_fd)?;
    let dst = t.fd_table.get(out_fd)?;
    if !src.readable() || !dst.writable() {
        return Err(Errno::EBADF);
    }
    let len = usize::try_from(len).unwrap_or(MAX_COUNT).min(MAX_COUNT);
    let nonblock = flags & SPLICE_F_NONBLOCK != 0;
    let r = match (pipe_of(&src), pipe_of(&dst)) {
        (Some(ip), Some(op)) => {
            if in_addr != 0 || out_addr != 0 {
                return Err(Errno::ESPIPE);
            }
            if ip.same_pipe(op) {
                return Err(Errno::EINVAL);
            }
            let nb = nonblock || nonblocking(&src) || nonblocking(&dst);
            pipe_to_pipe(t, ip, op, len, nb)
        }
        (Some(ip), None) => {
            if in_addr != 0 {
                return Err(Errno::ESPIPE);
            }
            let off = if out_addr != 0 {
                if !seekable(t, &dst)? {
                    return Err(Errno::EINVAL);
                }
                Some(read_loff(t, out_addr)?)
            } else {
                None
            };
            if dst.flags() & libc::O_APPEND != 0 {
                return Err(Errno::EINVAL);
            }
            let nb = nonblock || nonblocking(&src);
            let (n, end) = pipe_to_file(t, ip, &dst, off, len, nb)?;
            if n > 0 {
                notify::file_event(t, &dst, IN_MODIFY);
            }
            if let Some(o) = end {
                write_loff(t, out_addr, o)?;
            }
            Ok(n)
        }
        (None, Some(op)) => {
            if out_addr != 0 {
                return Err(Errno::ESPIPE);
            }
            let off = if in_addr != 0 {
                if !seekable(t, &src)? {
                    return Err(Errno::EINVAL);
                }
                Some(read_loff(t, in_addr)?)
            } else {
                None
            };
            let nb = nonblock || nonblocking(&dst);
            let (n, end) = file_to_pipe(t, &src, op, off, len, nb, nonblock)?;
            if n > 0 {
                notify::file_event(t, &src, IN_ACCESS);
            }
            if let Some(o) = end {
                write_loff(t, in_addr, o)?;
            }
            Ok(n)
        }
        (None, None) => return Err(Errno::EINVAL),
    };
    sigpipe_on_epipe(t, r.map(|n| n as u64))
}

/// Linux `splice_pipe_to_pipe`: whatever `ip` holds (up to `len` and the room in `op`),
/// waiting for data and then for room unless non-blocking.
fn pipe_to_pipe(
    t: &Task,
    ip: &PipeEnd,
    op: &PipeEnd,
    len: usize,
    nonblock: bool,
) -> SysResult<usize> {
    let avail = ip.wait_data(Some(t), nonblock)?;
    if avail == 0 {
        return Ok(0);
    }
    let room = op.wait_room(Some(t), nonblock)?;
    let mut buf = vec![0u8; avail.min(len).min(room)];
    let n = ip.peek(&mut buf);
    let w = op.push(Some(t), &buf[..n], true)?;
    ip.consume(w);
    Ok(w)
}

/// Linux `iter_file_splice_write`: drains `ip` into `dst` up to `len`, waiting only while
/// nothing moved yet. Returns the count and the final explicit offset.
fn pipe_to_file(
    t: &Task,
    ip: &PipeEnd,
    dst: &Arc<FileDescription>,
    mut off: Option<u64>,
    len: usize,
    nonblock: bool,
) -> SysResult<(usize, Option<u64>)> {
    let mut done = 0usize;
    let mut buf = vec![0u8; CHUNK.min(len)];
    while done < len {
        let avail = if done == 0 {
            ip.wait_data(Some(t), nonblock)?
        } else {
            ip.buffered()
        };
        if avail == 0 {
            break;
        }
        let want = avail.min(len - done).min(buf.len());
        let n = ip.peek(&mut buf[..want]);
        let r = match off {
            Some(o) => dst.pwrite(t, &buf[..n], o),
            None => dst.write(t, &buf[..n]),
        };
        let w = match r {
            Ok(w) => w,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        ip.consume(w);
        done += w;
        if let Some(o) = off.as_mut() {
            *o += w as u64;
        }
        if w < n {
            break;
        }
    }
    Ok((done, off))
}

/// Linux `splice_file_to_pipe`: reads at most the room in `op` (and `len`) from `src`.
/// `sock_nonblock` (SPLICE_F_NONBLOCK itself) also makes a stream source's read non-blocking.
fn file_to_pipe(
    t: &Task,
    src: &Arc<FileDescription>,
    op: &PipeEnd,
    off: Option<u64>,
    len: usize,
    nonblock: bool,
    sock_nonblock: bool,
) -> SysResult<(usize, Option<u64>)> {
    let room = op.wait_room(Some(t), nonblock)?;
    let mut buf = vec![0u8; room.min(len).min(CHUNK)];
    let n = match off {
        Some(o) => src.pread(t, &mut buf, o)?,
        None if sock_nonblock && src.ops().positioning() != Positioning::Offset => src
            .ops()
            .read_with_flags(Some(t), &mut buf, src.flags() | libc::O_NONBLOCK)?,
        None => src.read(t, &mut buf)?,
    };
    if n == 0 {
        return Ok((0, off));
    }
    let w = op.push(Some(t), &buf[..n], false)?;
    Ok((w, off.map(|o| o + w as u64)))
}

/// tee(2): copies up to `len` bytes from pipe `in_fd` to pipe `out_fd` without consuming
/// them (Linux `do_tee`/`link_pipe`).
pub fn sys_tee(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (in_fd, out_fd, len, flags) = (a.fd(0), a.fd(1), a.u64(2), a.u32(3));
    if flags & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let src = t.fd_table.get(in_fd)?;
    let dst = t.fd_table.get(out_fd)?;
    if !src.readable() || !dst.writable() {
        return Err(Errno::EBADF);
    }
    let (Some(ip), Some(op)) = (pipe_of(&src), pipe_of(&dst)) else {
        return Err(Errno::EINVAL);
    };
    if ip.same_pipe(op) {
        return Err(Errno::EINVAL);
    }
    let nonblock = flags & SPLICE_F_NONBLOCK != 0 || nonblocking(&src) || nonblocking(&dst);
    let len = usize::try_from(len).unwrap_or(MAX_COUNT).min(MAX_COUNT);
    let r = (|| {
        let avail = ip.wait_data(Some(t), nonblock)?;
        if avail == 0 {
            return Ok(0);
        }
        let room = op.wait_room(Some(t), nonblock)?;
        let mut buf = vec![0u8; avail.min(len).min(room)];
        let n = ip.peek(&mut buf);
        op.push(Some(t), &buf[..n], true).map(|w| w as u64)
    })();
    sigpipe_on_epipe(t, r)
}

/// vmsplice(2): the iovecs' bytes into a pipe's write end, or a read end's bytes out into the
/// iovecs (Linux `vmsplice_to_pipe`/`vmsplice_to_user`).
pub fn sys_vmsplice(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (fd, iov, nr, flags) = (a.fd(0), a.addr(1), a.u64(2), a.u32(3));
    if flags & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    if nr > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    let file = t.fd_table.get(fd)?;
    let Some(pipe) = pipe_of(&file) else {
        return Err(Errno::EBADF);
    };
    let nr = i32::try_from(nr).map_err(|_| Errno::EINVAL)?;
    let vecs = iovecs(t, iov, nr)?;
    if nr == 0 {
        return Ok(0);
    }
    let nonblock = flags & SPLICE_F_NONBLOCK != 0;
    let total = vecs
        .iter()
        .map(|v| v.1)
        .sum::<usize>()
        .min(MAX_COUNT)
        .min(16 << 20);
    if file.writable() {
        let mut buf = Vec::with_capacity(total);
        for (base, l) in vecs {
            let k = l.min(total - buf.len());
            if k == 0 {
                continue;
            }
            let start = buf.len();
            buf.resize(start + k, 0);
            t.mm.copy_in(base, &mut buf[start..])?;
        }
        let r = pipe.push(Some(t), &buf, nonblock).map(|n| n as u64);
        return sigpipe_on_epipe(t, r);
    }
    if !file.readable() {
        return Err(Errno::EBADF);
    }
    let mut buf = vec![0u8; total];
    let n = pipe.pull(Some(t), &mut buf, nonblock)?;
    let mut done = 0;
    for (base, l) in vecs {
        if done >= n {
            break;
        }
        let k = l.min(n - done);
        t.mm.copy_out(base, &buf[done..done + k])?;
        done += k;
    }
    Ok(n as u64)
}
