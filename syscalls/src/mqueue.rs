//! POSIX message queue syscalls (Linux `ipc/mqueue.c`: mq_open, mq_unlink, mq_timedsend,
//! mq_timedreceive, mq_notify, mq_getsetattr): argument decoding, `struct mq_attr` and
//! `struct sigevent`; the queues live in `sentry::fs::mqueue`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sentry::fs::mqueue::{
    registry, MqAttr, Notify, Registry, MQ_PRIO_MAX, SIGEV_NONE, SIGEV_SIGNAL,
};
use sentry::kernel::{SyscallArgs, Task};
use sentry::vfs::FileDescription;
use sentry::{Errno, SysResult};

use crate::pipe::install_fd;

/// `sizeof(struct mq_attr)`: four longs and four reserved ones.
const MQ_ATTR_SIZE: usize = 64;
/// `sizeof(struct sigevent)`.
const SIGEVENT_SIZE: usize = 64;
/// `SIGEV_THREAD`: glibc's, built on a netlink socket the sandbox does not have.
const SIGEV_THREAD: i32 = 2;
/// Longest name copied in (`PATH_MAX`); the registry refuses names past NAME_MAX.
const PATH_MAX: usize = 4096;

fn long_at(b: &[u8], i: usize) -> i64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[i * 8..i * 8 + 8]);
    i64::from_ne_bytes(w)
}

fn read_attr(t: &Task, addr: u64) -> SysResult<MqAttr> {
    let mut b = [0u8; MQ_ATTR_SIZE];
    t.mm.copy_in(addr, &mut b)?;
    Ok(MqAttr {
        flags: long_at(&b, 0),
        maxmsg: long_at(&b, 1),
        msgsize: long_at(&b, 2),
        curmsgs: long_at(&b, 3),
    })
}

fn encode_attr(a: &MqAttr) -> [u8; MQ_ATTR_SIZE] {
    let mut b = [0u8; MQ_ATTR_SIZE];
    for (i, v) in [a.flags, a.maxmsg, a.msgsize, a.curmsgs].iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
    }
    b
}

/// The deadline of an absolute CLOCK_REALTIME `struct timespec` at `addr` (none for NULL).
fn abs_deadline(t: &Task, addr: u64) -> SysResult<Option<Instant>> {
    if addr == 0 {
        return Ok(None);
    }
    let when = crate::time::read_timespec(t, addr)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let left = when.saturating_sub(now);
    let now = Instant::now();
    Ok(Some(now.checked_add(left).unwrap_or_else(|| {
        now + Duration::from_secs(365 * 24 * 3600)
    })))
}

/// The message queue behind descriptor `fd` (EBADF if none or not a queue).
fn queue_file(t: &Task, fd: i32) -> SysResult<std::sync::Arc<FileDescription>> {
    let file = t.fd_table.get(fd)?;
    Registry::queue_of(&file)?;
    Ok(file)
}

/// The queue name of a path argument: glibc strips the leading '/', the kernel sees the rest.
fn read_name(t: &Task, addr: u64) -> SysResult<Vec<u8>> {
    t.mm.copy_in_cstring(addr, PATH_MAX)
}

/// mq_open(2): the descriptor is always close-on-exec, as Linux makes it.
pub fn sys_mq_open(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let name = read_name(t, a.addr(0))?;
    let oflag = a.i32(1);
    let mode = a.u32(2);
    let attr = if oflag & libc::O_CREAT != 0 && a.addr(3) != 0 {
        Some(read_attr(t, a.addr(3))?)
    } else {
        None
    };
    let file = registry().open(Some(t), &name, oflag, mode, attr)?;
    let fd = install_fd(t, file, true)?;
    Ok(fd as u64)
}

/// mq_unlink(2).
pub fn sys_mq_unlink(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let name = read_name(t, a.addr(0))?;
    registry().unlink(Some(t), &name)?;
    Ok(0)
}

/// mq_timedsend(2): EINVAL for a priority of MQ_PRIO_MAX or more, EBADF for a descriptor not
/// open for writing, EMSGSIZE past mq_msgsize.
pub fn sys_mq_timedsend(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let prio = a.u32(3);
    if a.u64(3) >= u64::from(MQ_PRIO_MAX) {
        return Err(Errno::EINVAL);
    }
    let deadline = abs_deadline(t, a.addr(4))?;
    let file = queue_file(t, a.i32(0))?;
    if !file.writable() {
        return Err(Errno::EBADF);
    }
    let q = Registry::queue_of(&file)?;
    let len = a.u64(2);
    if len > q.attr().msgsize as u64 {
        return Err(Errno::EMSGSIZE);
    }
    let mut msg = vec![0u8; len as usize];
    t.mm.copy_in(a.addr(1), &mut msg)?;
    let nonblock = file.flags() & libc::O_NONBLOCK != 0;
    q.send(Some(t), msg, prio, nonblock, deadline)?;
    Ok(0)
}

/// mq_timedreceive(2): EBADF for a descriptor not open for reading, EMSGSIZE for a buffer
/// shorter than mq_msgsize; returns the message's length.
pub fn sys_mq_timedreceive(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let deadline = abs_deadline(t, a.addr(4))?;
    let file = queue_file(t, a.i32(0))?;
    if !file.readable() {
        return Err(Errno::EBADF);
    }
    let q = Registry::queue_of(&file)?;
    let len = usize::try_from(a.u64(2)).unwrap_or(usize::MAX);
    let nonblock = file.flags() & libc::O_NONBLOCK != 0;
    let (msg, prio) = q.receive(Some(t), len, nonblock, deadline)?;
    t.mm.copy_out(a.addr(1), &msg)?;
    if a.addr(3) != 0 {
        t.mm.copy_out(a.addr(3), &prio.to_ne_bytes())?;
    }
    Ok(msg.len() as u64)
}

/// mq_notify(2): SIGEV_NONE and SIGEV_SIGNAL; SIGEV_THREAD (which needs a netlink socket) is
/// EINVAL.
pub fn sys_mq_notify(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let req = if a.addr(1) == 0 {
        None
    } else {
        let mut b = [0u8; SIGEVENT_SIZE];
        t.mm.copy_in(a.addr(1), &mut b)?;
        let value = long_at(&b, 0) as u64;
        let signo = i32::from_ne_bytes([b[8], b[9], b[10], b[11]]);
        let notify = i32::from_ne_bytes([b[12], b[13], b[14], b[15]]);
        match notify {
            SIGEV_NONE => Some(Notify::None),
            SIGEV_SIGNAL if (0..=64).contains(&signo) => Some(Notify::Signal { signo, value }),
            SIGEV_THREAD => return Err(Errno::EINVAL),
            _ => return Err(Errno::EINVAL),
        }
    };
    let file = queue_file(t, a.i32(0))?;
    Registry::queue_of(&file)?.set_notify(&t.tg, req)?;
    Ok(0)
}

/// mq_getsetattr(2): only O_NONBLOCK of mq_flags may be set (EINVAL otherwise).
pub fn sys_mq_getsetattr(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let new = if a.addr(1) == 0 {
        None
    } else {
        let n = read_attr(t, a.addr(1))?;
        if n.flags & !i64::from(libc::O_NONBLOCK) != 0 {
            return Err(Errno::EINVAL);
        }
        Some(n)
    };
    let file = queue_file(t, a.i32(0))?;
    let mut old = Registry::queue_of(&file)?.attr();
    old.flags = i64::from(file.flags() & libc::O_NONBLOCK);
    if let Some(n) = new {
        file.set_status_flags((file.flags() & !libc::O_NONBLOCK) | n.flags as i32);
    }
    if a.addr(2) != 0 {
        t.mm.copy_out(a.addr(2), &encode_attr(&old))?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mq_attr_round_trips() {
        let a = MqAttr {
            flags: 0o4000,
            maxmsg: 10,
            msgsize: 8192,
            curmsgs: 3,
        };
        let b = encode_attr(&a);
        assert_eq!(long_at(&b, 1), 10);
        assert_eq!(long_at(&b, 3), 3);
        assert_eq!(&b[32..], &[0u8; 32]);
    }
}
