//! System V IPC syscalls (after Linux `ipc/shm.c`, `ipc/sem.c`, `ipc/msg.c`, `ipc/syscall.c`
//! and gVisor's `sys_shm.go`, `sys_sem.go`, `sys_msgqueue.go`): argument decoding and the
//! x86_64 layouts of `ipc64_perm`, `shmid64_ds`, `semid64_ds`, `msqid64_ds` and the info
//! structs; the work is in `sentry::kernel::ipc::IpcNamespace`.

use std::time::Instant;

use sentry::kernel::ipc::msg::{Message, MsgInfo, MsgStat, RecvRequest, MSGMAX};
use sentry::kernel::ipc::sem::{SemBuf, SemGet, SemInfo, SemStat, SEMOPM};
use sentry::kernel::ipc::shm::{ShmInfo, ShmStat, SHMALL, SHMMAX, SHMMIN, SHMMNI};
use sentry::kernel::ipc::{Perm, PermSet};
use sentry::kernel::{SyscallArgs, Task};
use sentry::{Errno, SysResult};

/// Commands shared by the three *ctl calls (`include/uapi/linux/ipc.h`).
const IPC_RMID: i32 = 0;
const IPC_SET: i32 = 1;
const IPC_STAT: i32 = 2;
const IPC_INFO: i32 = 3;
/// The "new layout" flag old libcs put in the command; x86_64 always uses that layout.
const IPC_64: i32 = 0x100;

const SHM_LOCK: i32 = 11;
const SHM_UNLOCK: i32 = 12;
const SHM_STAT: i32 = 13;
const SHM_INFO: i32 = 14;
const SHM_STAT_ANY: i32 = 15;

const GETPID: i32 = 11;
const GETVAL: i32 = 12;
const GETALL: i32 = 13;
const GETNCNT: i32 = 14;
const GETZCNT: i32 = 15;
const SETVAL: i32 = 16;
const SETALL: i32 = 17;
const SEM_STAT: i32 = 18;
const SEM_INFO: i32 = 19;
const SEM_STAT_ANY: i32 = 20;

const MSG_STAT: i32 = 11;
const MSG_INFO: i32 = 12;
const MSG_STAT_ANY: i32 = 13;

/// Sizes of the x86_64 structures.
const IPC64_PERM_SIZE: usize = 48;
const SHMID64_DS_SIZE: usize = 112;
const SEMID64_DS_SIZE: usize = 104;
const MSQID64_DS_SIZE: usize = 120;
const SHMINFO64_SIZE: usize = 72;
const SHM_INFO_SIZE: usize = 48;
const SEMINFO_SIZE: usize = 40;
const MSGINFO_SIZE: usize = 32;
const SEMBUF_SIZE: usize = 6;

/// A little writer of a C structure at fixed offsets.
struct Out(Vec<u8>);

impl Out {
    fn new(size: usize) -> Out {
        Out(vec![0; size])
    }
    fn put(&mut self, off: usize, bytes: &[u8]) {
        self.0[off..off + bytes.len()].copy_from_slice(bytes);
    }
    fn u16(&mut self, off: usize, v: u16) {
        self.put(off, &v.to_ne_bytes());
    }
    fn u32(&mut self, off: usize, v: u32) {
        self.put(off, &v.to_ne_bytes());
    }
    fn i32(&mut self, off: usize, v: i32) {
        self.put(off, &v.to_ne_bytes());
    }
    fn u64(&mut self, off: usize, v: u64) {
        self.put(off, &v.to_ne_bytes());
    }
    fn i64(&mut self, off: usize, v: i64) {
        self.put(off, &v.to_ne_bytes());
    }
}

fn get_u32(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(
        b[off..off + 4]
            .try_into()
            .expect("invariant: 4 bytes in range"),
    )
}

fn get_u64(b: &[u8], off: usize) -> u64 {
    u64::from_ne_bytes(
        b[off..off + 8]
            .try_into()
            .expect("invariant: 8 bytes in range"),
    )
}

/// `struct ipc64_perm` at offset 0.
fn put_perm(o: &mut Out, p: &Perm) {
    o.i32(0, p.key);
    o.u32(4, p.uid);
    o.u32(8, p.gid);
    o.u32(12, p.cuid);
    o.u32(16, p.cgid);
    o.u32(20, p.mode);
    o.u16(24, p.seq);
}

/// The uid, gid and mode of an `ipc64_perm` read for IPC_SET.
fn read_perm_set(b: &[u8]) -> PermSet {
    PermSet {
        uid: get_u32(b, 4),
        gid: get_u32(b, 8),
        mode: get_u32(b, 20),
    }
}

fn encode_shm_stat(s: &ShmStat) -> Vec<u8> {
    let mut o = Out::new(SHMID64_DS_SIZE);
    put_perm(&mut o, &s.perm);
    o.u64(48, s.segsz);
    o.i64(56, s.atime);
    o.i64(64, s.dtime);
    o.i64(72, s.ctime);
    o.i32(80, s.cpid);
    o.i32(84, s.lpid);
    o.u64(88, s.nattch);
    o.0
}

fn encode_shminfo64() -> Vec<u8> {
    let mut o = Out::new(SHMINFO64_SIZE);
    o.u64(0, SHMMAX);
    o.u64(8, SHMMIN);
    o.u64(16, SHMMNI);
    o.u64(24, SHMMNI);
    o.u64(32, SHMALL);
    o.0
}

fn encode_shm_info(i: &ShmInfo) -> Vec<u8> {
    let mut o = Out::new(SHM_INFO_SIZE);
    o.i32(0, i.used_ids);
    o.u64(8, i.shm_tot);
    o.u64(16, i.shm_rss);
    o.0
}

fn encode_sem_stat(s: &SemStat) -> Vec<u8> {
    let mut o = Out::new(SEMID64_DS_SIZE);
    put_perm(&mut o, &s.perm);
    o.i64(48, s.otime);
    o.i64(64, s.ctime);
    o.u64(80, s.nsems);
    o.0
}

fn encode_seminfo(i: &SemInfo) -> Vec<u8> {
    let mut o = Out::new(SEMINFO_SIZE);
    let vals = [
        i.semmap, i.semmni, i.semmns, i.semmnu, i.semmsl, i.semopm, i.semume, i.semusz, i.semvmx,
        i.semaem,
    ];
    for (k, v) in vals.iter().enumerate() {
        o.i32(k * 4, *v);
    }
    o.0
}

fn encode_msg_stat(s: &MsgStat) -> Vec<u8> {
    let mut o = Out::new(MSQID64_DS_SIZE);
    put_perm(&mut o, &s.perm);
    o.i64(48, s.stime);
    o.i64(56, s.rtime);
    o.i64(64, s.ctime);
    o.u64(72, s.cbytes);
    o.u64(80, s.qnum);
    o.u64(88, s.qbytes);
    o.i32(96, s.lspid);
    o.i32(100, s.lrpid);
    o.0
}

fn encode_msginfo(i: &MsgInfo) -> Vec<u8> {
    let mut o = Out::new(MSGINFO_SIZE);
    let vals = [
        i.msgpool, i.msgmap, i.msgmax, i.msgmnb, i.msgmni, i.msgssz, i.msgtql,
    ];
    for (k, v) in vals.iter().enumerate() {
        o.i32(k * 4, *v);
    }
    o.u16(28, i.msgseg);
    o.0
}

/// The command of a *ctl call on object `id` without the IPC_64 flag; EINVAL for a negative
/// command or id (Linux checks both before anything else).
fn ctl_cmd(id: i32, raw: i32) -> SysResult<i32> {
    if raw < 0 || id < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(raw & !IPC_64)
}

fn copy_in_vec(t: &Task, addr: u64, len: usize) -> SysResult<Vec<u8>> {
    let mut b = vec![0u8; len];
    t.mm.copy_in(addr, &mut b)?;
    Ok(b)
}

/// shmget(2).
pub fn sys_shmget(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let id = t
        .kernel
        .ipc
        .shmget(&t.creds, t.tg.pid, a.i32(0), a.u64(1), a.i32(2))?;
    Ok(id as u64)
}

/// shmat(2).
pub fn sys_shmat(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (id, addr, flags) = (a.i32(0), a.addr(1), a.i32(2));
    t.kernel
        .ipc
        .shmat(&t.creds, t.tg.pid, &t.mm, id, addr, flags)
}

/// shmdt(2).
pub fn sys_shmdt(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.kernel.ipc.shmdt(t.tg.pid, &t.mm, a.addr(0))?;
    Ok(0)
}

/// shmctl(2).
pub fn sys_shmctl(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let id = a.i32(0);
    let cmd = ctl_cmd(id, a.i32(1))?;
    let buf = a.addr(2);
    let ipc = &t.kernel.ipc;
    match cmd {
        IPC_INFO => {
            t.mm.copy_out(buf, &encode_shminfo64())?;
            Ok(ipc.shm_max_idx() as u64)
        }
        SHM_INFO => {
            let (max, info) = ipc.shm_info();
            t.mm.copy_out(buf, &encode_shm_info(&info))?;
            Ok(max as u64)
        }
        IPC_STAT | SHM_STAT | SHM_STAT_ANY => {
            let by_index = cmd != IPC_STAT;
            let (full, st) = ipc.shm_stat(&t.creds, id, by_index, cmd == SHM_STAT_ANY)?;
            t.mm.copy_out(buf, &encode_shm_stat(&st))?;
            Ok(if by_index { full as u64 } else { 0 })
        }
        IPC_SET => {
            let b = copy_in_vec(t, buf, IPC64_PERM_SIZE)?;
            ipc.shm_set(&t.creds, id, &read_perm_set(&b))?;
            Ok(0)
        }
        IPC_RMID => {
            ipc.shm_rmid(&t.creds, id)?;
            Ok(0)
        }
        SHM_LOCK | SHM_UNLOCK => {
            ipc.shm_lock(&t.creds, id, cmd == SHM_LOCK)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// semget(2).
pub fn sys_semget(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let id = t
        .kernel
        .ipc
        .semget(&t.creds, a.i32(0), a.i32(1), a.i32(2))?;
    Ok(id as u64)
}

/// The operations of a semop: E2BIG past SEMOPM, EINVAL for none.
fn read_sembufs(t: &Task, addr: u64, nsops: u64) -> SysResult<Vec<SemBuf>> {
    if nsops > SEMOPM as u64 {
        return Err(Errno::E2BIG);
    }
    if nsops == 0 {
        return Err(Errno::EINVAL);
    }
    let b = copy_in_vec(t, addr, nsops as usize * SEMBUF_SIZE)?;
    Ok(b.chunks_exact(SEMBUF_SIZE)
        .map(|c| SemBuf {
            num: u16::from_ne_bytes([c[0], c[1]]),
            op: i16::from_ne_bytes([c[2], c[3]]),
            flg: i16::from_ne_bytes([c[4], c[5]]),
        })
        .collect())
}

fn do_semop(t: &mut Task, a: &SyscallArgs, deadline: Option<Instant>) -> SysResult<u64> {
    let ops = read_sembufs(t, a.addr(1), a.u64(2))?;
    let waker = t.waker.clone();
    t.kernel
        .ipc
        .semop(&t.creds, t.tg.pid, a.i32(0), &ops, deadline, &waker)?;
    Ok(0)
}

/// semop(2).
pub fn sys_semop(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_semop(t, a, None)
}

/// semtimedop(2): a relative timeout; EAGAIN when it passes.
pub fn sys_semtimedop(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let deadline = if a.addr(3) == 0 {
        None
    } else {
        let d = crate::time::read_timespec(t, a.addr(3))?;
        Some(Instant::now().checked_add(d).unwrap_or_else(far_future))
    };
    do_semop(t, a, deadline)
}

/// A deadline that never comes in practice (a year from now).
fn far_future() -> Instant {
    Instant::now() + std::time::Duration::from_secs(365 * 24 * 3600)
}

/// semctl(2): the fourth argument is the `union semun` (a value for SETVAL, else a pointer).
pub fn sys_semctl(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let id = a.i32(0);
    let num = a.i32(1);
    let cmd = ctl_cmd(id, a.i32(2))?;
    let arg = a.u64(3);
    let ipc = &t.kernel.ipc;
    let pid = t.tg.pid;
    let get = |what| ipc.sem_get(&t.creds, id, num, what).map(|v| v as u64);
    match cmd {
        IPC_INFO | SEM_INFO => {
            let (max, info) = ipc.sem_info(cmd == SEM_INFO);
            t.mm.copy_out(arg, &encode_seminfo(&info))?;
            Ok(max as u64)
        }
        IPC_STAT | SEM_STAT | SEM_STAT_ANY => {
            let by_index = cmd != IPC_STAT;
            let (full, st) = ipc.sem_stat(&t.creds, id, by_index, cmd == SEM_STAT_ANY)?;
            t.mm.copy_out(arg, &encode_sem_stat(&st))?;
            Ok(if by_index { full as u64 } else { 0 })
        }
        GETVAL => get(SemGet::Val),
        GETPID => get(SemGet::Pid),
        GETNCNT => get(SemGet::Ncnt),
        GETZCNT => get(SemGet::Zcnt),
        GETALL => {
            let vals = ipc.sem_getall(&t.creds, id)?;
            let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_ne_bytes()).collect();
            t.mm.copy_out(arg, &bytes)?;
            Ok(0)
        }
        SETVAL => {
            // The low 32 bits of the union: its `int val` on little-endian x86_64.
            let v = arg as u32 as i32;
            ipc.sem_set_values(&t.creds, pid, id, Some(num), &[v])?;
            Ok(0)
        }
        SETALL => {
            let n = ipc.sem_nsems(id)?;
            let b = copy_in_vec(t, arg, n * 2)?;
            let vals: Vec<i32> = b
                .chunks_exact(2)
                .map(|c| i32::from(u16::from_ne_bytes([c[0], c[1]])))
                .collect();
            ipc.sem_set_values(&t.creds, pid, id, None, &vals)?;
            Ok(0)
        }
        IPC_SET => {
            let b = copy_in_vec(t, arg, IPC64_PERM_SIZE)?;
            ipc.sem_set(&t.creds, id, &read_perm_set(&b))?;
            Ok(0)
        }
        IPC_RMID => {
            ipc.sem_rmid(&t.creds, id)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// msgget(2).
pub fn sys_msgget(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let id = t.kernel.ipc.msgget(&t.creds, a.i32(0), a.i32(1))?;
    Ok(id as u64)
}

/// msgsnd(2): `struct msgbuf { long mtype; char mtext[msgsz]; }`.
pub fn sys_msgsnd(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (id, ptr, size, flags) = (a.i32(0), a.addr(1), a.i64(2), a.i32(3));
    let size = usize::try_from(size).map_err(|_| Errno::EINVAL)?;
    if size > MSGMAX {
        return Err(Errno::EINVAL);
    }
    let head = copy_in_vec(t, ptr, 8)?;
    let mtype = get_u64(&head, 0) as i64;
    if mtype < 1 {
        return Err(Errno::EINVAL);
    }
    let text = copy_in_vec(t, ptr.checked_add(8).ok_or(Errno::EFAULT)?, size)?;
    let waker = t.waker.clone();
    t.kernel.ipc.msgsnd(
        &t.creds,
        t.tg.pid,
        id,
        Message { mtype, text },
        flags,
        &waker,
    )?;
    Ok(0)
}

/// msgrcv(2): returns the number of text bytes copied.
pub fn sys_msgrcv(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (id, ptr, size, msgtyp, flags) = (a.i32(0), a.addr(1), a.i64(2), a.i64(3), a.i32(4));
    let max = usize::try_from(size).map_err(|_| Errno::EINVAL)?;
    let waker = t.waker.clone();
    let m = t.kernel.ipc.msgrcv(
        &t.creds,
        t.tg.pid,
        id,
        RecvRequest { max, msgtyp, flags },
        &waker,
    )?;
    t.mm.copy_out(ptr, &m.mtype.to_ne_bytes())?;
    t.mm.copy_out(ptr.checked_add(8).ok_or(Errno::EFAULT)?, &m.text)?;
    Ok(m.text.len() as u64)
}

/// msgctl(2).
pub fn sys_msgctl(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let id = a.i32(0);
    let cmd = ctl_cmd(id, a.i32(1))?;
    let buf = a.addr(2);
    let ipc = &t.kernel.ipc;
    match cmd {
        IPC_INFO | MSG_INFO => {
            let (max, info) = ipc.msg_info(cmd == MSG_INFO);
            t.mm.copy_out(buf, &encode_msginfo(&info))?;
            Ok(max as u64)
        }
        IPC_STAT | MSG_STAT | MSG_STAT_ANY => {
            let by_index = cmd != IPC_STAT;
            let (full, st) = ipc.msg_stat(&t.creds, id, by_index, cmd == MSG_STAT_ANY)?;
            t.mm.copy_out(buf, &encode_msg_stat(&st))?;
            Ok(if by_index { full as u64 } else { 0 })
        }
        IPC_SET => {
            let b = copy_in_vec(t, buf, MSQID64_DS_SIZE)?;
            let qbytes = get_u64(&b, 88);
            ipc.msg_set(&t.creds, id, &read_perm_set(&b), qbytes)?;
            Ok(0)
        }
        IPC_RMID => {
            ipc.msg_rmid(&t.creds, id)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_libc() {
        assert_eq!(std::mem::size_of::<libc::ipc_perm>(), IPC64_PERM_SIZE);
        assert_eq!(std::mem::size_of::<libc::shmid_ds>(), SHMID64_DS_SIZE);
        assert_eq!(std::mem::size_of::<libc::msqid_ds>(), MSQID64_DS_SIZE);
        assert_eq!(std::mem::size_of::<libc::sembuf>(), SEMBUF_SIZE);
        assert_eq!(std::mem::offset_of!(libc::shmid_ds, shm_nattch), 88);
        assert_eq!(std::mem::offset_of!(libc::msqid_ds, msg_qbytes), 88);
        assert_eq!(std::mem::offset_of!(libc::ipc_perm, mode), 20);
    }

    #[test]
    fn perm_round_trips_through_the_layout() {
        let p = Perm {
            key: 7,
            uid: 1,
            gid: 2,
            cuid: 3,
            cgid: 4,
            mode: 0o640,
            seq: 9,
        };
        let mut o = Out::new(IPC64_PERM_SIZE);
        put_perm(&mut o, &p);
        assert_eq!(
            read_perm_set(&o.0),
            PermSet {
                uid: 1,
                gid: 2,
                mode: 0o640
            }
        );
        assert_eq!(ctl_cmd(0, IPC_STAT | IPC_64), Ok(IPC_STAT));
        assert_eq!(ctl_cmd(0, -1), Err(Errno::EINVAL));
        assert_eq!(ctl_cmd(-1, IPC_INFO), Err(Errno::EINVAL));
    }
}
