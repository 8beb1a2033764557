//! System V shared memory (after Linux `ipc/shm.c` and gVisor's `pkg/sentry/kernel/shm`): a
//! segment is a host memfd; shmat maps it MAP_SHARED into the caller's address space. The
//! attach count is the number of VMAs that map the segment, as in Linux (`shm_open` runs for
//! every VMA, fork's copies and splits included): each VMA holds a reference to the segment's
//! host fd, so fork, munmap, exec and exit need no bookkeeping here beyond the exit hook that
//! detaches early. A removed (`SHM_DEST`) segment is destroyed once nothing maps it.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use super::{now, IpcNamespace, IpcObject, IpcState, Perm, PermSet, CAP_IPC_OWNER};
use crate::kernel::Credentials;
use crate::mm::{page_up, MappedFile, MemoryManager, MmapRequest, PAGE_SIZE};
use crate::platform::Prot;
use crate::{Errno, SysResult};

pub const SHM_RDONLY: i32 = 0o10000;
pub const SHM_RND: i32 = 0o20000;
pub const SHM_REMAP: i32 = 0o40000;
pub const SHM_EXEC: i32 = 0o100000;
/// `shm_perm.mode` bits: removed, waiting for the last detach; locked.
pub const SHM_DEST: u32 = 0o1000;
pub const SHM_LOCKED: u32 = 0o2000;
/// Attach addresses are multiples of this (x86_64 `SHMLBA`).
const SHMLBA: u64 = PAGE_SIZE;
/// Limits (`include/uapi/linux/shm.h`).
pub const SHMMIN: u64 = 1;
pub const SHMMAX: u64 = u64::MAX - (1 << 24);
pub const SHMALL: u64 = u64::MAX - (1 << 24);
pub const SHMMNI: u64 = 4096;

/// One segment (`struct shmid_kernel`).
pub struct Segment {
    perm: Perm,
    size: u64,
    /// The backing memfd; every VMA mapping the segment holds a clone.
    fd: Arc<OwnedFd>,
    atime: i64,
    dtime: i64,
    ctime: i64,
    cpid: i32,
    lpid: i32,
}

impl IpcObject for Segment {
    fn perm(&self) -> &Perm {
        &self.perm
    }
    fn perm_mut(&mut self) -> &mut Perm {
        &mut self.perm
    }
}

impl Segment {
    /// Current attaches: VMAs holding the fd (all references but the segment's own).
    fn nattch(&self) -> u64 {
        Arc::strong_count(&self.fd) as u64 - 1
    }

    fn stat(&self) -> ShmStat {
        ShmStat {
            perm: self.perm,
            segsz: self.size,
            atime: self.atime,
            dtime: self.dtime,
            ctime: self.ctime,
            cpid: self.cpid,
            lpid: self.lpid,
            nattch: self.nattch(),
        }
    }
}

/// `struct shmid64_ds` as IPC_STAT/SHM_STAT report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShmStat {
    pub perm: Perm,
    pub segsz: u64,
    pub atime: i64,
    pub dtime: i64,
    pub ctime: i64,
    pub cpid: i32,
    pub lpid: i32,
    pub nattch: u64,
}

/// `struct shm_info` (SHM_INFO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShmInfo {
    pub used_ids: i32,
    /// Pages of all segments.
    pub shm_tot: u64,
    /// Pages resident (all of them: the sandbox does not swap).
    pub shm_rss: u64,
}

/// Destroys removed segments nothing maps any more (Linux `shm_destroy` on the last close).
fn reap(st: &mut IpcState) {
    st.shm
        .objects
        .retain(|_, s| s.perm.mode & SHM_DEST == 0 || s.nattch() > 0);
}

/// Unmaps every attachment in `mm` (exit of its last user).
pub(super) fn detach_all(st: &mut IpcState, pid: i32, mm: &MemoryManager) {
    if st.shm.is_empty() {
        return;
    }
    let vmas = mm.vmas();
    let t = now();
    for seg in st.shm.objects.values_mut() {
        let mine: Vec<(u64, u64)> = vmas
            .iter()
            .filter(|v| {
                v.file
                    .as_ref()
                    .is_some_and(|f| Arc::ptr_eq(&f.host_fd, &seg.fd))
            })
            .map(|v| (v.start, v.len()))
            .collect();
        for (start, len) in &mine {
            let _ = mm.munmap(*start, *len);
        }
        if !mine.is_empty() {
            seg.dtime = t;
            seg.lpid = pid;
        }
    }
    drop(vmas);
    reap(st);
}

impl IpcNamespace {
    /// shmget(2): EINVAL for a size outside SHMMIN..=SHMMAX when creating or larger than an
    /// existing segment; ENOENT/EEXIST/EACCES as for every IPC get.
    pub fn shmget(
        &self,
        cr: &Credentials,
        pid: i32,
        key: i32,
        size: u64,
        flags: i32,
    ) -> SysResult<i32> {
        let mut st = self.lock();
        reap(&mut st);
        st.shm.get_or_create(
            cr,
            key,
            flags,
            |seg| {
                if seg.size < size {
                    Err(Errno::EINVAL)
                } else {
                    Ok(())
                }
            },
            |perm| {
                if !(SHMMIN..=SHMMAX).contains(&size) {
                    return Err(Errno::EINVAL);
                }
                let len = page_up(size).ok_or(Errno::EINVAL)?;
                let fd = super::sys::segment_memfd(len)?;
                Ok(Segment {
                    perm,
                    size,
                    fd: Arc::new(fd),
                    atime: 0,
                    dtime: 0,
                    ctime: now(),
                    cpid: pid,
                    lpid: 0,
                })
            },
        )
    }

    /// shmat(2): maps segment `id` MAP_SHARED at `addr` (rounded down with SHM_RND; EINVAL if
    /// unaligned, or if it overlaps a mapping without SHM_REMAP) or where the mm chooses.
    pub fn shmat(
        &self,
        cr: &Credentials,
        pid: i32,
        mm: &MemoryManager,
        id: i32,
        addr: u64,
        flags: i32,
    ) -> SysResult<u64> {
        let mut addr = addr;
        if addr != 0 {
            if !addr.is_multiple_of(SHMLBA) {
                if flags & SHM_RND == 0 {
                    return Err(Errno::EINVAL);
                }
                addr -= addr % SHMLBA;
                if addr == 0 && flags & SHM_REMAP != 0 {
                    return Err(Errno::EINVAL);
                }
            }
        } else if flags & SHM_REMAP != 0 {
            return Err(Errno::EINVAL);
        }
        let (mut prot, mut acc) = if flags & SHM_RDONLY != 0 {
            (Prot::READ, 0o444)
        } else {
            (Prot::READ | Prot::WRITE, 0o666)
        };
        if flags & SHM_EXEC != 0 {
            prot |= Prot::EXEC;
            acc |= 0o111;
        }
        let max_prot = if flags & SHM_RDONLY != 0 {
            Prot::READ | Prot::EXEC
        } else {
            Prot::all()
        };
        let mut st = self.lock();
        reap(&mut st);
        let seg = st.shm.get_mut(id)?;
        if !seg.perm.allows(cr, acc) {
            return Err(Errno::EACCES);
        }
        let fixed = addr != 0;
        let req = MmapRequest {
            addr,
            len: seg.size,
            prot,
            shared: true,
            fixed: fixed && flags & SHM_REMAP != 0,
            fixed_noreplace: fixed && flags & SHM_REMAP == 0,
            grows_down: false,
            file: Some(MappedFile {
                host_fd: seg.fd.clone(),
                offset: 0,
                dev: 0,
                ino: id as u64,
            }),
            name: Some(format!("/SYSV{:08x} (deleted)", seg.perm.key as u32).into_bytes()),
        };
        let at = match mm.mmap_with_max_prot(req, max_prot) {
            Err(Errno::EEXIST) => return Err(Errno::EINVAL),
            r => r?,
        };
        seg.atime = now();
        seg.lpid = pid;
        Ok(at)
    }

    /// shmdt(2): detaches the attachment starting at `addr` (every VMA of that segment in
    /// `[addr, addr + size)`); EINVAL if no attachment starts there.
    pub fn shmdt(&self, pid: i32, mm: &MemoryManager, addr: u64) -> SysResult<()> {
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        let mut st = self.lock();
        let first = mm.vma_at(addr).filter(|v| v.start == addr);
        let fd = first
            .and_then(|v| v.file)
            .map(|f| f.host_fd)
            .ok_or(Errno::EINVAL)?;
        let seg = st
            .shm
            .objects
            .values_mut()
            .find(|s| Arc::ptr_eq(&s.fd, &fd))
            .ok_or(Errno::EINVAL)?;
        drop(fd);
        let end = addr.saturating_add(page_up(seg.size).unwrap_or(seg.size));
        let pieces: Vec<(u64, u64)> = mm
            .vmas()
            .iter()
            .filter(|v| v.start >= addr && v.start < end)
            .filter(|v| {
                v.file
                    .as_ref()
                    .is_some_and(|f| Arc::ptr_eq(&f.host_fd, &seg.fd))
            })
            .map(|v| (v.start, v.len()))
            .collect();
        for (start, len) in pieces {
            mm.munmap(start, len)?;
        }
        seg.dtime = now();
        seg.lpid = pid;
        reap(&mut st);
        Ok(())
    }

    /// shmctl(IPC_STAT) (`by_index`: SHM_STAT, `id` being an index; `any`: SHM_STAT_ANY,
    /// no read permission needed). Returns the id with the status.
    pub fn shm_stat(
        &self,
        cr: &Credentials,
        id: i32,
        by_index: bool,
        any: bool,
    ) -> SysResult<(i32, ShmStat)> {
        let mut st = self.lock();
        reap(&mut st);
        let (id, seg) = if by_index {
            st.shm.by_index(id)?
        } else {
            (id, st.shm.get(id)?)
        };
        if !any && !seg.perm.allows(cr, 0o444) {
            return Err(Errno::EACCES);
        }
        Ok((id, seg.stat()))
    }

    /// shmctl(IPC_SET): owner, group and mode bits.
    pub fn shm_set(&self, cr: &Credentials, id: i32, new: &PermSet) -> SysResult<()> {
        let mut st = self.lock();
        let seg = st.shm.get_mut(id)?;
        seg.perm.check_owner(cr)?;
        seg.perm.set(new);
        seg.ctime = now();
        Ok(())
    }

    /// shmctl(IPC_RMID): the key is released at once; the segment goes with its last detach.
    pub fn shm_rmid(&self, cr: &Credentials, id: i32) -> SysResult<()> {
        let mut st = self.lock();
        let seg = st.shm.get_mut(id)?;
        seg.perm.check_owner(cr)?;
        seg.perm.mode |= SHM_DEST;
        seg.perm.key = super::IPC_PRIVATE;
        reap(&mut st);
        Ok(())
    }

    /// shmctl(SHM_LOCK/SHM_UNLOCK): recorded in the mode (nothing is paged anyway). The
    /// owner, the creator or CAP_IPC_LOCK... approximated by the owner check or CAP_IPC_OWNER.
    pub fn shm_lock(&self, cr: &Credentials, id: i32, lock: bool) -> SysResult<()> {
        let mut st = self.lock();
        let seg = st.shm.get_mut(id)?;
        if cr.euid != seg.perm.uid && cr.euid != seg.perm.cuid && !cr.has_cap(CAP_IPC_OWNER) {
            const CAP_IPC_LOCK: u32 = 14;
            if !cr.has_cap(CAP_IPC_LOCK) {
                return Err(Errno::EPERM);
            }
        }
        if lock {
            seg.perm.mode |= SHM_LOCKED;
        } else {
            seg.perm.mode &= !SHM_LOCKED;
        }
        Ok(())
    }

    /// shmctl(SHM_INFO): usage, with the highest index in use (0 if none) to return.
    pub fn shm_info(&self) -> (i32, ShmInfo) {
        let mut st = self.lock();
        reap(&mut st);
        let pages: u64 = st
            .shm
            .iter()
            .map(|s| page_up(s.size).unwrap_or(s.size) / PAGE_SIZE)
            .sum();
        (
            st.shm.max_idx().max(0),
            ShmInfo {
                used_ids: st.shm.len() as i32,
                shm_tot: pages,
                shm_rss: pages,
            },
        )
    }

    /// The highest shm index in use, 0 if none (shmctl(IPC_INFO)'s result).
    pub fn shm_max_idx(&self) -> i32 {
        let mut st = self.lock();
        reap(&mut st);
        st.shm.max_idx().max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::ipc::{IPC_CREAT, IPC_EXCL, IPC_PRIVATE};

    fn user(uid: u32) -> Credentials {
        Credentials::new(uid, uid, vec![])
    }

    #[test]
    fn get_stat_and_remove_unattached() {
        let ns = IpcNamespace::new();
        let cr = user(1000);
        assert_eq!(ns.shmget(&cr, 1, IPC_PRIVATE, 0, 0o600), Err(Errno::EINVAL));
        let id = ns.shmget(&cr, 7, 42, 5000, IPC_CREAT | 0o600).unwrap();
        assert_eq!(
            ns.shmget(&cr, 7, 42, 5000, IPC_CREAT | IPC_EXCL),
            Err(Errno::EEXIST)
        );
        assert_eq!(ns.shmget(&cr, 7, 42, 9000, 0), Err(Errno::EINVAL));
        assert_eq!(ns.shmget(&cr, 7, 42, 100, 0), Ok(id));
        let (_, s) = ns.shm_stat(&cr, id, false, false).unwrap();
        assert_eq!(
            (s.segsz, s.cpid, s.nattch, s.perm.mode),
            (5000, 7, 0, 0o600)
        );
        assert_eq!(
            ns.shm_stat(&user(1001), id, false, false).err(),
            Some(Errno::EACCES)
        );
        assert_eq!(ns.shm_rmid(&user(1001), id), Err(Errno::EPERM));
        assert_eq!(ns.shm_info().1.used_ids, 1);
        ns.shm_rmid(&cr, id).unwrap();
        assert_eq!(
            ns.shm_stat(&cr, id, false, false).err(),
            Some(Errno::EINVAL)
        );
        assert_eq!(ns.shmget(&cr, 7, 42, 100, 0), Err(Errno::ENOENT));
    }

    #[test]
    fn attach_references_keep_a_removed_segment() {
        let ns = IpcNamespace::new();
        let cr = user(0);
        let id = ns.shmget(&cr, 1, IPC_PRIVATE, 4096, 0o600).unwrap();
        let attach = {
            let st = ns.lock();
            st.shm.get(id).unwrap().fd.clone()
        };
        ns.shm_rmid(&cr, id).unwrap();
        let (_, s) = ns.shm_stat(&cr, id, false, false).unwrap();
        assert_eq!(s.nattch, 1);
        assert_eq!(s.perm.mode & SHM_DEST, SHM_DEST);
        assert_eq!(s.perm.key, IPC_PRIVATE);
        drop(attach);
        assert_eq!(
            ns.shm_stat(&cr, id, false, false).err(),
            Some(Errno::EINVAL)
        );
    }
}
