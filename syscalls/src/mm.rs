//! Memory syscalls (after Linux `mm/mmap.c`, `mm/mprotect.c`, `mm/mremap.c`, `mm/madvise.c`,
//! `mm/msync.c`, `mm/mincore.c`, `mm/mlock.c` and gVisor's `sys_mmap.go`): argument decoding and
//! validation; the work is in `sentry::mm::MemoryManager`.

use sentry::kernel::{SyscallArgs, Task};
use sentry::mm::{is_page_aligned, MappedFile, MmapRequest};
use sentry::platform::Prot;
use sentry::{Errno, SysResult};

const MAP_SHARED: i32 = 0x01;
const MAP_PRIVATE: i32 = 0x02;
const MAP_SHARED_VALIDATE: i32 = 0x03;
const MAP_TYPE: i32 = 0x0f;
const MAP_FIXED: i32 = 0x10;
const MAP_ANONYMOUS: i32 = 0x20;
const MAP_32BIT: i32 = 0x40;
const MAP_GROWSDOWN: i32 = 0x100;
const MAP_DENYWRITE: i32 = 0x800;
const MAP_EXECUTABLE: i32 = 0x1000;
const MAP_LOCKED: i32 = 0x2000;
const MAP_NORESERVE: i32 = 0x4000;
const MAP_POPULATE: i32 = 0x8000;
const MAP_NONBLOCK: i32 = 0x10000;
const MAP_STACK: i32 = 0x20000;
const MAP_FIXED_NOREPLACE: i32 = 0x100000;
/// Flags with an effect here or accepted as hints (the sandbox does not page or lock).
const MAP_KNOWN: i32 = MAP_TYPE
    | MAP_FIXED
    | MAP_ANONYMOUS
    | MAP_32BIT
    | MAP_GROWSDOWN
    | MAP_DENYWRITE
    | MAP_EXECUTABLE
    | MAP_LOCKED
    | MAP_NORESERVE
    | MAP_POPULATE
    | MAP_NONBLOCK
    | MAP_STACK
    | MAP_FIXED_NOREPLACE;
/// MAP_32BIT places the mapping in the first 2 GiB (x86_64 `arch_get_unmapped_area`).
const MAP_32BIT_BASE: u64 = 0x4000_0000;
const MAP_32BIT_END: u64 = 0x8000_0000;

const PROT_SEM: u32 = 0x8;
const PROT_GROWSDOWN: u32 = 0x0100_0000;
const PROT_GROWSUP: u32 = 0x0200_0000;

/// Decodes PROT_READ|WRITE|EXEC (PROT_SEM is accepted and ignored, as on x86); EINVAL otherwise.
fn decode_prot(raw: u32) -> SysResult<Prot> {
    let rwx = Prot::all().bits();
    if raw & !(rwx | PROT_SEM) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Prot::from_bits_truncate(raw & rwx))
}

/// mmap(2). Unknown flag bits and MAP_HUGETLB are EINVAL; MAP_SHARED_VALIDATE with them is
/// EOPNOTSUPP. A file needs read access; a shared writable mapping needs write access (EACCES),
/// and a shared mapping of a file not open for writing can never be made writable; a file on a
/// noexec mount can never be mapped executable.
pub fn sys_mmap(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let addr = a.addr(0);
    let len = a.u64(1);
    let prot = decode_prot(a.u32(2))?;
    let flags = a.i32(3);
    let fd = a.fd(4);
    let offset = a.u64(5);
    let shared = match flags & MAP_TYPE {
        MAP_SHARED | MAP_SHARED_VALIDATE => true,
        MAP_PRIVATE => false,
        _ => return Err(Errno::EINVAL),
    };
    if flags & !MAP_KNOWN != 0 {
        return Err(if flags & MAP_TYPE == MAP_SHARED_VALIDATE {
            Errno::EOPNOTSUPP
        } else {
            Errno::EINVAL
        });
    }
    if !is_page_aligned(offset) || len == 0 {
        return Err(Errno::EINVAL);
    }
    let fixed_noreplace = flags & MAP_FIXED_NOREPLACE != 0;
    let fixed = flags & MAP_FIXED != 0 && !fixed_noreplace;
    let low32 = flags & MAP_32BIT != 0 && !fixed && !fixed_noreplace;
    let mut req = MmapRequest {
        addr: if low32 && addr == 0 {
            MAP_32BIT_BASE
        } else {
            addr
        },
        len,
        prot,
        shared,
        fixed,
        fixed_noreplace,
        grows_down: flags & MAP_GROWSDOWN != 0,
        file: None,
        name: None,
    };
    let mut max_prot = Prot::all();
    if flags & MAP_ANONYMOUS == 0 {
        let file = t.fd_table.get(fd)?;
        if file.is_path_only() {
            return Err(Errno::EBADF);
        }
        if !file.readable() {
            return Err(Errno::EACCES);
        }
        if shared && !file.writable() {
            if prot.contains(Prot::WRITE) {
                return Err(Errno::EACCES);
            }
            max_prot = Prot::READ | Prot::EXEC;
        }
        // A file on a noexec mount is never mapped executable (Linux `do_mmap`: EPERM now,
        // EACCES from a later mprotect).
        if file.dentry().mount.noexec() {
            if prot.contains(Prot::EXEC) {
                return Err(Errno::EPERM);
            }
            max_prot.remove(Prot::EXEC);
        }
        let host_fd = file.host_fd_for_mmap()?;
        let st = file.stat(t)?;
        req.file = Some(MappedFile {
            host_fd,
            offset,
            dev: st.st_dev,
            ino: st.st_ino,
        });
        req.name = Some(file.path());
    }
    let got = t.mm.mmap_with_max_prot(req, max_prot)?;
    if low32 && got.saturating_add(len) > MAP_32BIT_END {
        // No room in the first 2 GiB: undo and fail as Linux does.
        t.mm.munmap(got, len)?;
        return Err(Errno::ENOMEM);
    }
    Ok(got)
}

/// munmap(2).
pub fn sys_munmap(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.mm.munmap(a.addr(0), a.u64(1))?;
    Ok(0)
}

/// mprotect(2). PROT_GROWSDOWN extends the change down to the start of a grows-down VMA;
/// PROT_GROWSUP is EINVAL (no grows-up mappings on x86_64).
pub fn sys_mprotect(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let mut addr = a.addr(0);
    let mut len = a.u64(1);
    let raw = a.u32(2);
    if raw & PROT_GROWSUP != 0 {
        return Err(Errno::EINVAL);
    }
    let prot = decode_prot(raw & !PROT_GROWSDOWN)?;
    if raw & PROT_GROWSDOWN != 0 {
        let vma = t.mm.vma_at(addr).ok_or(Errno::ENOMEM)?;
        if !vma.grows_down {
            return Err(Errno::EINVAL);
        }
        len = len.checked_add(addr - vma.start).ok_or(Errno::ENOMEM)?;
        addr = vma.start;
    }
    t.mm.mprotect(addr, len, prot)?;
    Ok(0)
}

/// brk(2): never fails; returns the new or unchanged break.
pub fn sys_brk(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.mm.brk(a.addr(0))
}

/// mremap(2) (MREMAP_DONTUNMAP is EINVAL).
pub fn sys_mremap(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.mm.mremap(a.addr(0), a.u64(1), a.u64(2), a.i32(3), a.addr(4))
}

/// madvise(2): MADV_DONTNEED gives private mappings fresh pages; other advice is a hint.
pub fn sys_madvise(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.mm.madvise(a.addr(0), a.u64(1), a.i32(2))?;
    Ok(0)
}

/// msync(2): MS_SYNC flushes shared file mappings' host files; MS_INVALIDATE is ignored.
pub fn sys_msync(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.mm.msync(a.addr(0), a.u64(1), a.i32(2))?;
    Ok(0)
}

/// mincore(2): every mapped page is reported resident.
pub fn sys_mincore(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let vec = t.mm.mincore(a.addr(0), a.u64(1))?;
    t.mm.copy_out(a.addr(2), &vec)?;
    Ok(0)
}

/// mlock(2): ENOMEM unless the range is mapped; nothing is paged, so nothing else to do.
pub fn sys_mlock(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.mm.check_mapped(a.addr(0), a.u64(1))?;
    Ok(0)
}

/// munlock(2).
pub fn sys_munlock(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    t.mm.check_mapped(a.addr(0), a.u64(1))?;
    Ok(0)
}

/// mlock2(2): mlock with MLOCK_ONFAULT allowed (EINVAL for other flags).
pub fn sys_mlock2(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    if a.u32(2) & !MLOCK_ONFAULT != 0 {
        return Err(Errno::EINVAL);
    }
    sys_mlock(t, a)
}

/// `include/uapi/asm-generic/mman-common.h`, `mman.h`.
const MLOCK_ONFAULT: u32 = 1;
const MCL_CURRENT: i32 = 1;
const MCL_FUTURE: i32 = 2;
const MCL_ONFAULT: i32 = 4;
/// CAP_IPC_LOCK.
const CAP_IPC_LOCK: u32 = 14;

/// mlockall(2): EINVAL for no or unknown flags (or MCL_ONFAULT alone), EPERM when
/// RLIMIT_MEMLOCK is 0 and the caller lacks CAP_IPC_LOCK (Linux `can_do_mlock`). The
/// sentry never pages application memory out, so the memory is as good as locked.
pub fn sys_mlockall(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let flags = a.i32(0);
    if flags == 0 || flags & !(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 || flags == MCL_ONFAULT
    {
        return Err(Errno::EINVAL);
    }
    let memlock =
        t.tg.with_state(|s| s.rlimits[libc::RLIMIT_MEMLOCK as usize].cur);
    if !t.creds.has_cap(CAP_IPC_LOCK) {
        if memlock == 0 {
            return Err(Errno::EPERM);
        }
        // MCL_CURRENT locks everything mapped now: ENOMEM past the limit.
        let mapped: u64 = t.mm.vmas().iter().map(|v| v.end - v.start).sum();
        if flags & MCL_CURRENT != 0 && mapped > memlock {
            return Err(Errno::ENOMEM);
        }
    }
    Ok(0)
}

/// munlockall(2).
pub fn sys_munlockall(_t: &mut Task, _a: &SyscallArgs) -> SysResult<u64> {
    Ok(0)
}

/// CAP_SYS_PTRACE.
const CAP_SYS_PTRACE: u32 = 19;

/// Reads as much of `[addr, addr + len)` of `mm` as is readable from its start: page by page
/// after a failure of the whole, stopping at the first page that cannot be read.
fn read_partial(mm: &sentry::mm::MemoryManager, addr: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    if mm.copy_in(addr, &mut buf).is_ok() {
        return buf;
    }
    let mut done = 0usize;
    while done < len {
        let at = addr + done as u64;
        let room = (sentry::mm::PAGE_SIZE - (at % sentry::mm::PAGE_SIZE)) as usize;
        let n = room.min(len - done);
        if mm.copy_in(at, &mut buf[done..done + n]).is_err() {
            break;
        }
        done += n;
    }
    buf.truncate(done);
    buf
}

/// Writes `data` at `addr` of `mm` page by page, stopping at the first page that cannot be
/// written; the bytes written.
fn write_partial(mm: &sentry::mm::MemoryManager, addr: u64, data: &[u8]) -> usize {
    if mm.copy_out(addr, data).is_ok() {
        return data.len();
    }
    let mut done = 0usize;
    while done < data.len() {
        let at = addr + done as u64;
        let room = (sentry::mm::PAGE_SIZE - (at % sentry::mm::PAGE_SIZE)) as usize;
        let n = room.min(data.len() - done);
        if mm.copy_out(at, &data[done..done + n]).is_err() {
            break;
        }
        done += n;
    }
    done
}

/// The address space process_vm_readv/writev may reach in process `pid`: ESRCH if none,
/// EPERM unless the caller's real, effective and saved ids all match the target's real ones
/// (or it has CAP_SYS_PTRACE) and the target is dumpable (Linux `ptrace_may_access`).
fn remote_mm(t: &Task, pid: i32) -> SysResult<std::sync::Arc<sentry::mm::MemoryManager>> {
    if pid == t.tg.pid || pid == t.tid {
        return Ok(t.mm.clone());
    }
    let tg = t
        .kernel
        .thread_group(pid)
        .or_else(|| t.kernel.task(pid).map(|h| h.tg.clone()))
        .ok_or(Errno::ESRCH)?;
    let mm = tg.view_mm().ok_or(Errno::ESRCH)?;
    if !t.creds.has_cap(CAP_SYS_PTRACE) {
        let c = &t.creds;
        let theirs = tg.view_creds().ok_or(Errno::ESRCH)?;
        let same_user = [theirs.uid, theirs.euid, theirs.suid]
            .iter()
            .all(|&u| u == c.uid && u == c.euid && u == c.suid);
        if !same_user || !tg.with_state(|s| s.dumpable) {
            return Err(Errno::EPERM);
        }
    }
    Ok(mm)
}

/// process_vm_readv(2) (`write` false) and process_vm_writev(2): bytes move between the
/// caller's local iovecs and process `pid`'s remote ones, in order, up to the first remote
/// region that cannot be reached (a partial count), EFAULT when not a byte could.
fn process_vm(t: &mut Task, a: &SyscallArgs, write: bool) -> SysResult<u64> {
    let (pid, flags) = (a.i32(0), a.u64(5));
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let local = crate::fs::iovecs(t, a.addr(1), a.i32(2))?;
    let remote = crate::fs::iovecs(t, a.addr(3), a.i32(4))?;
    let mm = remote_mm(t, pid)?;
    let total: usize = local.iter().map(|v| v.1).sum::<usize>().min(16 << 20);
    if write {
        // Gather the local bytes, then scatter them over the remote regions.
        let mut data = Vec::with_capacity(total);
        for &(base, len) in &local {
            let n = len.min(total - data.len());
            let got = read_partial(&t.mm, base, n);
            let short = got.len() < n;
            data.extend_from_slice(&got);
            if short {
                break;
            }
        }
        if data.is_empty() && total > 0 {
            return Err(Errno::EFAULT);
        }
        let mut done = 0usize;
        for &(base, len) in &remote {
            let n = len.min(data.len() - done);
            if n == 0 {
                break;
            }
            let w = write_partial(&mm, base, &data[done..done + n]);
            done += w;
            if w < n {
                break;
            }
        }
        if done == 0 && !data.is_empty() {
            return Err(Errno::EFAULT);
        }
        return Ok(done as u64);
    }
    let mut data = Vec::with_capacity(total);
    for &(base, len) in &remote {
        let n = len.min(total - data.len());
        if n == 0 {
            break;
        }
        let got = read_partial(&mm, base, n);
        let short = got.len() < n;
        data.extend_from_slice(&got);
        if short {
            break;
        }
    }
    if data.is_empty() && total > 0 && remote.iter().any(|v| v.1 > 0) {
        return Err(Errno::EFAULT);
    }
    let mut done = 0usize;
    for &(base, len) in &local {
        let n = len.min(data.len() - done);
        if n == 0 {
            break;
        }
        let w = write_partial(&t.mm, base, &data[done..done + n]);
        done += w;
        if w < n {
            break;
        }
    }
    if done == 0 && !data.is_empty() {
        return Err(Errno::EFAULT);
    }
    Ok(done as u64)
}

/// process_vm_readv(2).
pub fn sys_process_vm_readv(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    process_vm(t, a, false)
}

/// process_vm_writev(2).
pub fn sys_process_vm_writev(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    process_vm(t, a, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prot_decoding_rejects_unknown_bits() {
        assert_eq!(decode_prot(7), Ok(Prot::all()));
        assert_eq!(decode_prot(PROT_SEM | 1), Ok(Prot::READ));
        assert_eq!(decode_prot(0x10), Err(Errno::EINVAL));
        assert_eq!(decode_prot(PROT_GROWSDOWN), Err(Errno::EINVAL));
    }
}
