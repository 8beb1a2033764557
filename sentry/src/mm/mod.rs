//! Address spaces as the sentry sees them (after gVisor's `pkg/sentry/mm` and Linux `mm/mmap.c`,
//! `mm/mprotect.c`, `mm/mremap.c`, `mm/madvise.c`, `mm/msync.c`, `mm/mincore.c`): the VMA set is
//! the truth; the platform's host mappings are its cache. Every change is made on the host through
//! the `AddressSpace` first and recorded only when that succeeded. Copy-in/copy-out are bounded by
//! the VMAs.
//!
//! Placement: the stack's 8 MiB sit right under `Layout::max_addr` (moved below any reserved range
//! in the way); `mmap_base` is 128 MiB under the stack top (Linux's minimum gap), and mappings
//! without a usable hint go top-down below it, then top-down above it, always around the
//! platform's reserved ranges. MAP_FIXED over a reserved range fails with ENOMEM (what Linux
//! answers for a fixed range outside the task's address space); munmap/mprotect/madvise over one
//! never touch it on the host (they act on VMAs only).
//!
//! Lock order: `MemoryManager::state` is taken alone by every method; `AddressSpace` calls (and
//! so the platform's own locks) are made while holding it. Nothing here takes a lock of the
//! kernel, VFS or a task. Copy-in/out check the VMAs under the lock and copy after releasing it.

mod page_reader;
mod sys;
pub mod vma;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub use self::page_reader::PageReader;
pub use self::sys::Pod;
use self::vma::{hits_hard_reserved, hits_reserved, VmaSet};
pub use self::vma::{is_page_aligned, page_down, page_up, SharedAnon, Vma, PAGE_SIZE};
use crate::platform::{AddressSpace, Layout, Prot};
use crate::{Errno, SysResult};

/// Lowest address an application mapping may use (`vm.mmap_min_addr` default).
pub const MMAP_MIN_ADDR: u64 = 0x10000;
/// Size of the initial stack region the loader maps (the default RLIMIT_STACK).
pub const STACK_SIZE: u64 = 8 << 20;
/// Distance between the stack top and `mmap_base` (Linux's `MIN_GAP`).
pub const STACK_GAP: u64 = 128 << 20;

pub const MREMAP_MAYMOVE: i32 = 1;
pub const MREMAP_FIXED: i32 = 2;
pub const MREMAP_DONTUNMAP: i32 = 4;

pub const MS_ASYNC: i32 = 1;
pub const MS_INVALIDATE: i32 = 2;
pub const MS_SYNC: i32 = 4;

/// What an mmap asks for, already decoded from the syscall arguments.
#[derive(Debug, Clone)]
pub struct MmapRequest {
    /// Hint or fixed address (0 = anywhere).
    pub addr: u64,
    pub len: u64,
    pub prot: Prot,
    /// MAP_SHARED (else private).
    pub shared: bool,
    /// MAP_FIXED: place exactly at `addr`, replacing what is there.
    pub fixed: bool,
    /// MAP_FIXED_NOREPLACE: exactly at `addr`, EEXIST if anything is there.
    pub fixed_noreplace: bool,
    /// MAP_GROWSDOWN (stack).
    pub grows_down: bool,
    /// The backing file and offset, or None for anonymous memory.
    pub file: Option<MappedFile>,
    /// Name shown in /proc/PID/maps for file mappings ("/usr/lib/libc.so.6") or special ones
    /// ("[stack]", "[heap]").
    pub name: Option<Vec<u8>>,
}

impl MmapRequest {
    /// Private anonymous memory anywhere (`addr` is a hint).
    pub fn anon(addr: u64, len: u64, prot: Prot) -> MmapRequest {
        MmapRequest {
            addr,
            len,
            prot,
            shared: false,
            fixed: false,
            fixed_noreplace: false,
            grows_down: false,
            file: None,
            name: None,
        }
    }
}

/// A host file descriptor that backs a file mapping (donated by the gofer, or a memfd).
#[derive(Debug, Clone)]
pub struct MappedFile {
    pub host_fd: Arc<OwnedFd>,
    pub offset: u64,
    /// Device and inode for /proc/PID/maps.
    pub dev: u64,
    pub ino: u64,
}

/// Mutable state behind the lock.
struct MmState {
    vmas: VmaSet,
    /// Start of the heap (page after the highest loaded segment); 0 until the loader sets it.
    brk_start: u64,
    /// Current break (unaligned, as the application asked).
    brk: u64,
}

/// One address space of one or more tasks.
pub struct MemoryManager {
    address_space: Arc<dyn AddressSpace>,
    layout: Layout,
    stack_top: u64,
    mmap_base: u64,
    state: Mutex<MmState>,
    /// RLIMIT_AS and RLIMIT_DATA soft limits in bytes (`u64::MAX`: none), as the owning
    /// process last set them (`set_limits`).
    as_limit: AtomicU64,
    data_limit: AtomicU64,
}

/// Whether a mapping counts as data for RLIMIT_DATA (Linux `is_data_mapping`: private,
/// writable, not a stack).
fn is_data(prot: Prot, shared: bool, grows_down: bool) -> bool {
    prot.contains(Prot::WRITE) && !shared && !grows_down
}

impl MemoryManager {
    pub fn new(address_space: Arc<dyn AddressSpace>, layout: Layout) -> MemoryManager {
        let stack_top = compute_stack_top(&layout);
        let mmap_base = page_down(stack_top.saturating_sub(STACK_GAP)).max(MMAP_MIN_ADDR);
        MemoryManager {
            address_space,
            layout,
            stack_top,
            mmap_base,
            state: Mutex::new(MmState {
                vmas: VmaSet::new(),
                brk_start: 0,
                brk: 0,
            }),
            as_limit: AtomicU64::new(u64::MAX),
            data_limit: AtomicU64::new(u64::MAX),
        }
    }
    /// fork(2)'s copy of this address space's bookkeeping (Linux `dup_mmap`): the same VMAs and
    /// break over `address_space`, which the platform made as a copy-on-write host copy of this
    /// one. The host contents come with it; only the sentry's records are copied here.
    pub fn fork(&self, address_space: Arc<dyn AddressSpace>) -> MemoryManager {
        let st = self.lock();
        MemoryManager {
            address_space,
            layout: self.layout.clone(),
            stack_top: self.stack_top,
            mmap_base: self.mmap_base,
            state: Mutex::new(MmState {
                vmas: st.vmas.clone(),
                brk_start: st.brk_start,
                brk: st.brk,
            }),
            as_limit: AtomicU64::new(self.as_limit.load(Ordering::Relaxed)),
            data_limit: AtomicU64::new(self.data_limit.load(Ordering::Relaxed)),
        }
    }

    /// Sets the RLIMIT_AS and RLIMIT_DATA soft limits (bytes; `u64::MAX` for none) that
    /// mmap, mremap and brk honour from now on.
    pub fn set_limits(&self, as_bytes: u64, data_bytes: u64) {
        self.as_limit.store(as_bytes, Ordering::Relaxed);
        self.data_limit.store(data_bytes, Ordering::Relaxed);
    }

    /// Linux `may_expand_vm`: whether `grow` more bytes (of data, if `data`) fit the limits,
    /// `[keep_start, keep_end)` being replaced by the new memory (not counted twice).
    fn may_expand(&self, st: &MmState, grow: u64, data: bool, replaced: (u64, u64)) -> bool {
        let as_limit = self.as_limit.load(Ordering::Relaxed);
        let data_limit = self.data_limit.load(Ordering::Relaxed);
        if as_limit == u64::MAX && (data_limit == u64::MAX || !data) {
            return true;
        }
        let (rs, re) = replaced;
        let (mut total, mut data_total) = (0u64, 0u64);
        for v in st.vmas.iter() {
            let overlap = v.end.min(re).saturating_sub(v.start.max(rs));
            let len = v.len() - overlap;
            total += len;
            if is_data(v.prot, v.shared, v.grows_down) {
                data_total += len;
            }
        }
        total.saturating_add(grow) <= as_limit
            && (!data || data_total.saturating_add(grow) <= data_limit)
    }
    pub fn address_space(&self) -> &Arc<dyn AddressSpace> {
        &self.address_space
    }
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
    /// One past the highest byte of the initial stack region (`[stack_top - STACK_SIZE,
    /// stack_top)` is clear of reserved ranges).
    pub fn stack_top(&self) -> u64 {
        self.stack_top
    }
    /// Where the top-down search for unplaced mappings starts.
    pub fn mmap_base(&self) -> u64 {
        self.mmap_base
    }

    fn lock(&self) -> MutexGuard<'_, MmState> {
        // A panic while holding the lock leaves the VMA set consistent (changes are recorded
        // after the host succeeded), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of every VMA, in address order.
    pub fn vmas(&self) -> Vec<Vma> {
        self.lock().vmas.iter().cloned().collect()
    }

    /// The VMA containing `addr`.
    pub fn vma_at(&self, addr: u64) -> Option<Vma> {
        self.lock().vmas.find(addr).cloned()
    }

    /// mmap(2) with every protection allowed later.
    pub fn mmap(&self, req: MmapRequest) -> SysResult<u64> {
        self.mmap_with_max_prot(req, Prot::all())
    }

    /// mmap(2) where mprotect may never grant more than `max_prot` (EACCES if `req.prot`
    /// already exceeds it).
    pub fn mmap_with_max_prot(&self, req: MmapRequest, max_prot: Prot) -> SysResult<u64> {
        if req.len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_up(req.len).ok_or(Errno::ENOMEM)?;
        if let Some(f) = &req.file {
            if !is_page_aligned(f.offset) {
                return Err(Errno::EINVAL);
            }
            if f.offset.checked_add(len).is_none() {
                return Err(Errno::EOVERFLOW);
            }
        }
        if !max_prot.contains(req.prot) {
            return Err(Errno::EACCES);
        }
        let mut st = self.lock();
        let addr = if req.fixed || req.fixed_noreplace {
            if !is_page_aligned(req.addr) {
                return Err(Errno::EINVAL);
            }
            let end = self.checked_end(req.addr, len)?;
            if req.addr < MMAP_MIN_ADDR {
                return Err(Errno::EPERM);
            }
            self.take_reserved(req.addr, end)?;
            if req.fixed_noreplace && st.vmas.overlaps(req.addr, end) {
                return Err(Errno::EEXIST);
            }
            req.addr
        } else {
            self.place(&st.vmas, req.addr, len).ok_or(Errno::ENOMEM)?
        };
        let data = is_data(req.prot, req.shared, req.grows_down);
        if !self.may_expand(&st, len, data, (addr, addr + len)) {
            return Err(Errno::ENOMEM);
        }
        match &req.file {
            None => self
                .address_space
                .map_anon(addr, len, req.prot, req.shared)?,
            Some(f) => self.address_space.map_file(
                addr,
                len,
                req.prot,
                req.shared,
                f.host_fd.as_fd(),
                f.offset,
            )?,
        }
        st.vmas.remove_range(addr, addr + len);
        let shared_anon = (req.shared && req.file.is_none()).then(SharedAnon::fresh);
        st.vmas.insert(Vma {
            start: addr,
            end: addr + len,
            prot: req.prot,
            max_prot,
            shared: req.shared,
            grows_down: req.grows_down,
            file: req.file,
            shared_anon,
            name: req.name,
        });
        st.vmas.merge_around(addr, addr + len);
        Ok(addr)
    }

    /// `addr + len`, ENOMEM past the end of the application's address space.
    /// A fixed mapping of `[start, end)`: `ENOMEM` where it would cover a reserved range,
    /// unless each range it touches yields and the address space gives it up.
    fn take_reserved(&self, start: u64, end: u64) -> SysResult<()> {
        if !hits_reserved(&self.layout.reserved, start, end) {
            return Ok(());
        }
        if hits_hard_reserved(&self.layout.reserved, start, end) {
            return Err(Errno::ENOMEM);
        }
        self.address_space
            .yield_reserved(start, end)
            .map_err(|_| Errno::ENOMEM)
    }

    fn checked_end(&self, addr: u64, len: u64) -> SysResult<u64> {
        addr.checked_add(len)
            .filter(|e| *e <= self.layout.max_addr)
            .ok_or(Errno::ENOMEM)
    }

    /// Where an unplaced mapping of `len` bytes goes: the hint if free, else top-down.
    fn place(&self, vmas: &VmaSet, hint: u64, len: u64) -> Option<u64> {
        let reserved = &self.layout.reserved;
        if hint != 0 {
            if let Some(h) = page_up(hint) {
                if h >= MMAP_MIN_ADDR
                    && h.checked_add(len).is_some_and(|e| {
                        e <= self.layout.max_addr
                            && !vmas.overlaps(h, e)
                            && !hits_reserved(reserved, h, e)
                    })
                {
                    return Some(h);
                }
            }
        }
        vmas.find_gap_top_down(len, MMAP_MIN_ADDR, self.mmap_base, reserved)
            .or_else(|| vmas.find_gap_top_down(len, self.mmap_base, self.layout.max_addr, reserved))
    }

    /// munmap(2): EINVAL for an unaligned or out-of-range request; unmapped holes are fine.
    pub fn munmap(&self, addr: u64, len: u64) -> SysResult<()> {
        if !is_page_aligned(addr) || len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::EINVAL)?;
        let end = self.checked_end(addr, len).map_err(|_| Errno::EINVAL)?;
        let mut st = self.lock();
        self.unmap_locked(&mut st, addr, end)
    }

    /// Unmaps every VMA piece in `[start, end)` on the host and in the set.
    fn unmap_locked(&self, st: &mut MmState, start: u64, end: u64) -> SysResult<()> {
        let pieces: Vec<(u64, u64)> = st
            .vmas
            .intersecting(start, end)
            .map(|v| (v.start.max(start), v.end.min(end)))
            .collect();
        for (s, e) in pieces {
            self.address_space.unmap(s, e - s)?;
            st.vmas.remove_range(s, e);
        }
        Ok(())
    }

    /// mprotect(2): ENOMEM unless every page is mapped, EACCES beyond a VMA's `max_prot`.
    pub fn mprotect(&self, addr: u64, len: u64, prot: Prot) -> SysResult<()> {
        if !is_page_aligned(addr) {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
        if len == 0 {
            return Ok(());
        }
        let mut st = self.lock();
        if !st.vmas.covers(addr, end) {
            return Err(Errno::ENOMEM);
        }
        if st
            .vmas
            .intersecting(addr, end)
            .any(|v| !v.max_prot.contains(prot))
        {
            return Err(Errno::EACCES);
        }
        self.address_space.protect(addr, len, prot)?;
        st.vmas.set_prot(addr, end, prot);
        Ok(())
    }

    /// brk(2): returns the new break, or the unchanged one when the request cannot be met (below
    /// the heap start, or the pages are taken), as Linux does.
    pub fn brk(&self, addr: u64) -> SysResult<u64> {
        let mut st = self.lock();
        let old = st.brk;
        if st.brk_start == 0 || addr < st.brk_start {
            return Ok(old);
        }
        let (Some(old_end), Some(new_end)) = (page_up(old), page_up(addr)) else {
            return Ok(old);
        };
        if new_end > old_end {
            let len = new_end - old_end;
            if new_end > self.layout.max_addr
                || !self.may_expand(&st, len, true, (0, 0))
                || st.vmas.overlaps(old_end, new_end)
                || self.take_reserved(old_end, new_end).is_err()
            {
                return Ok(old);
            }
            let prot = Prot::READ | Prot::WRITE;
            if self
                .address_space
                .map_anon(old_end, len, prot, false)
                .is_err()
            {
                return Ok(old);
            }
            st.vmas.insert(Vma {
                start: old_end,
                end: new_end,
                prot,
                max_prot: Prot::all(),
                shared: false,
                grows_down: false,
                file: None,
                shared_anon: None,
                name: Some(b"[heap]".to_vec()),
            });
            st.vmas.merge_around(old_end, new_end);
        } else if new_end < old_end && self.unmap_locked(&mut st, new_end, old_end).is_err() {
            return Ok(old);
        }
        st.brk = addr;
        Ok(addr)
    }

    /// Sets where the heap starts (the loader calls this after mapping the executable).
    pub fn set_brk_start(&self, addr: u64) {
        let mut st = self.lock();
        let start = page_up(addr).unwrap_or(addr);
        st.brk_start = start;
        st.brk = start;
    }

    /// The heap's start and the current break.
    pub fn brk_range(&self) -> (u64, u64) {
        let st = self.lock();
        (st.brk_start, st.brk)
    }

    /// mremap(2) with MREMAP_MAYMOVE and MREMAP_FIXED. MREMAP_DONTUNMAP and `old_len == 0`
    /// (duplicating a shared mapping) are EINVAL. Growing in place maps the extension with the
    /// same backing: for shared anonymous memory the extension is a separate shared object.
    pub fn mremap(
        &self,
        old: u64,
        old_len: u64,
        new_len: u64,
        flags: i32,
        new_addr: u64,
    ) -> SysResult<u64> {
        if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0
            || flags & MREMAP_DONTUNMAP != 0
            || (flags & MREMAP_FIXED != 0 && flags & MREMAP_MAYMOVE == 0)
            || !is_page_aligned(old)
        {
            return Err(Errno::EINVAL);
        }
        let old_len = page_up(old_len).ok_or(Errno::EINVAL)?;
        let new_len = page_up(new_len).ok_or(Errno::EINVAL)?;
        if new_len == 0 || old_len == 0 {
            return Err(Errno::EINVAL);
        }
        let old_end = old.checked_add(old_len).ok_or(Errno::EINVAL)?;
        let mut st = self.lock();
        let vma = st.vmas.find(old).cloned().ok_or(Errno::EFAULT)?;
        if old_end > vma.end {
            return Err(Errno::EFAULT);
        }
        if flags & MREMAP_FIXED != 0 {
            if !is_page_aligned(new_addr) {
                return Err(Errno::EINVAL);
            }
            let new_end = self
                .checked_end(new_addr, new_len)
                .map_err(|_| Errno::EINVAL)?;
            if new_addr < old_end && old < new_end {
                return Err(Errno::EINVAL);
            }
            if new_addr < MMAP_MIN_ADDR || hits_reserved(&self.layout.reserved, new_addr, new_end) {
                return Err(Errno::ENOMEM);
            }
            let data = is_data(vma.prot, vma.shared, vma.grows_down);
            if new_len > old_len
                && !self.may_expand(&st, new_len - old_len, data, (new_addr, new_end))
            {
                return Err(Errno::ENOMEM);
            }
            self.unmap_locked(&mut st, new_addr, new_end)?;
            let mut moved_len = old_len;
            if new_len < old_len {
                self.unmap_locked(&mut st, old + new_len, old_end)?;
                moved_len = new_len;
            }
            self.move_locked(&mut st, &vma, old, moved_len, new_addr, new_len)?;
            return Ok(new_addr);
        }
        if new_len <= old_len {
            self.unmap_locked(&mut st, old + new_len, old_end)?;
            return Ok(old);
        }
        let data = is_data(vma.prot, vma.shared, vma.grows_down);
        if !self.may_expand(&st, new_len - old_len, data, (0, 0)) {
            return Err(Errno::ENOMEM);
        }
        let ext_end = old
            .checked_add(new_len)
            .filter(|e| *e <= self.layout.max_addr);
        if let Some(ext_end) = ext_end {
            if old_end == vma.end
                && !st.vmas.overlaps(old_end, ext_end)
                && !hits_reserved(&self.layout.reserved, old_end, ext_end)
            {
                let ext = vma.slice(old, old_end);
                let ext_file = ext.file.clone().map(|mut f| {
                    f.offset += old_len;
                    f
                });
                let len = ext_end - old_end;
                match &ext_file {
                    None => self
                        .address_space
                        .map_anon(old_end, len, vma.prot, vma.shared)?,
                    Some(f) => self.address_space.map_file(
                        old_end,
                        len,
                        vma.prot,
                        vma.shared,
                        f.host_fd.as_fd(),
                        f.offset,
                    )?,
                }
                st.vmas.insert(Vma {
                    start: old_end,
                    end: ext_end,
                    file: ext_file,
                    shared_anon: ext.shared_anon.map(|_| SharedAnon::fresh()),
                    ..ext
                });
                st.vmas.merge_around(old_end, ext_end);
                return Ok(old);
            }
        }
        if flags & MREMAP_MAYMOVE == 0 {
            return Err(Errno::ENOMEM);
        }
        let to = self.place(&st.vmas, 0, new_len).ok_or(Errno::ENOMEM)?;
        self.move_locked(&mut st, &vma, old, old_len, to, new_len)?;
        Ok(to)
    }

    /// Moves `[old, old + old_len)` of `vma` to `[to, to + new_len)` (the target is free).
    fn move_locked(
        &self,
        st: &mut MmState,
        vma: &Vma,
        old: u64,
        old_len: u64,
        to: u64,
        new_len: u64,
    ) -> SysResult<()> {
        self.address_space.remap(old, old_len, to, new_len)?;
        let piece = vma.slice(old, old + old_len);
        st.vmas.remove_range(old, old + old_len);
        st.vmas.insert(Vma {
            start: to,
            end: to + new_len,
            ..piece
        });
        st.vmas.merge_around(to, to + new_len);
        Ok(())
    }

    /// madvise(2). MADV_DONTNEED gives private mappings fresh pages (zeros, or the file's
    /// contents); every other known advice is accepted as a hint. ENOMEM if part of the range is
    /// unmapped (after advising the mapped part, as Linux does).
    pub fn madvise(&self, addr: u64, len: u64, advice: i32) -> SysResult<()> {
        const DONTNEED: i32 = libc::MADV_DONTNEED;
        const DONTNEED_LOCKED: i32 = 24;
        const REMOVE: i32 = libc::MADV_REMOVE;
        const WIPEONFORK: i32 = 18;
        const KEEPONFORK: i32 = 19;
        match advice {
            0..=4 | 8..=25 => {}
            libc::MADV_HWPOISON | libc::MADV_SOFT_OFFLINE => return Err(Errno::EPERM),
            _ => return Err(Errno::EINVAL),
        }
        if !is_page_aligned(addr) {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::EINVAL)?;
        let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
        if len == 0 {
            return Ok(());
        }
        let st = self.lock();
        let pieces: Vec<Vma> = st
            .vmas
            .intersecting(addr, end)
            .map(|v| v.slice(addr, end))
            .collect();
        match advice {
            DONTNEED | DONTNEED_LOCKED => {
                for p in pieces.iter().filter(|p| !p.shared) {
                    match &p.file {
                        None => self
                            .address_space
                            .map_anon(p.start, p.len(), p.prot, false)?,
                        Some(f) => self.address_space.map_file(
                            p.start,
                            p.len(),
                            p.prot,
                            false,
                            f.host_fd.as_fd(),
                            f.offset,
                        )?,
                    }
                }
            }
            REMOVE
                if pieces
                    .iter()
                    .any(|p| !p.shared || !p.prot.contains(Prot::WRITE)) =>
            {
                return Err(Errno::EACCES);
            }
            WIPEONFORK | KEEPONFORK if pieces.iter().any(|p| p.shared || p.file.is_some()) => {
                return Err(Errno::EINVAL);
            }
            _ => {}
        }
        if !st.vmas.covers(addr, end) {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// msync(2): ENOMEM unless the range is mapped; MS_SYNC flushes the host files of shared
    /// file mappings in it (fdatasync). MS_INVALIDATE is a no-op (one page cache).
    pub fn msync(&self, addr: u64, len: u64, flags: i32) -> SysResult<()> {
        if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
            || flags & (MS_ASYNC | MS_SYNC) == (MS_ASYNC | MS_SYNC)
            || !is_page_aligned(addr)
        {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
        if len == 0 {
            return Ok(());
        }
        let st = self.lock();
        if !st.vmas.covers(addr, end) {
            return Err(Errno::ENOMEM);
        }
        if flags & MS_SYNC != 0 {
            for v in st.vmas.intersecting(addr, end).filter(|v| v.shared) {
                if let Some(f) = &v.file {
                    nix::unistd::fdatasync(f.host_fd.as_raw_fd()).map_err(|_| Errno::EIO)?;
                }
            }
        }
        Ok(())
    }

    /// mincore(2): one byte per page, 1 = resident. Every mapped page is reported resident (the
    /// host's residency is not the application's business). ENOMEM if a page is unmapped.
    pub fn mincore(&self, addr: u64, len: u64) -> SysResult<Vec<u8>> {
        if !is_page_aligned(addr) {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        let end = self.checked_end(addr, len)?;
        if len != 0 && !self.lock().vmas.covers(addr, end) {
            return Err(Errno::ENOMEM);
        }
        let pages = usize::try_from(len / PAGE_SIZE).map_err(|_| Errno::ENOMEM)?;
        Ok(vec![1u8; pages])
    }

    /// mlock/munlock's check: the page range around `[addr, addr + len)` is mapped (ENOMEM
    /// otherwise). Locking itself is a no-op: the sandbox does not page.
    pub fn check_mapped(&self, addr: u64, len: u64) -> SysResult<()> {
        let start = page_down(addr);
        let end = addr
            .checked_add(len)
            .and_then(page_up)
            .ok_or(Errno::ENOMEM)?;
        if end == start {
            return Ok(());
        }
        if self.lock().vmas.covers(start, end) {
            Ok(())
        } else {
            Err(Errno::ENOMEM)
        }
    }

    /// EFAULT unless `[addr, addr + len)` lies in VMAs that allow the access (reading: any
    /// protection but none, or the vDSO/vvar; writing: PROT_WRITE).
    fn check_access(&self, addr: u64, len: usize, write: bool) -> SysResult<()> {
        if len == 0 {
            return Ok(());
        }
        let end = addr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        let st = self.lock();
        let mut at = addr;
        for v in st.vmas.intersecting(addr, end) {
            let ok = if write {
                v.prot.contains(Prot::WRITE)
            } else {
                !v.prot.is_empty()
            };
            if v.start > at || !ok {
                break;
            }
            at = v.end;
        }
        if at >= end {
            return Ok(());
        }
        if !write
            && self
                .layout
                .reserved
                .iter()
                .any(|r| r.name != "[stub]" && r.start <= addr && end <= r.end)
        {
            return Ok(());
        }
        Err(Errno::EFAULT)
    }

    /// Copies `buf.len()` bytes from application memory; EFAULT unless all of it is readable.
    pub fn copy_in(&self, addr: u64, buf: &mut [u8]) -> SysResult<()> {
        self.check_access(addr, buf.len(), false)?;
        if buf.is_empty() {
            return Ok(());
        }
        match self.address_space.read(addr, buf)? {
            n if n == buf.len() => Ok(()),
            _ => Err(Errno::EFAULT),
        }
    }
    /// Copies to application memory; EFAULT unless all of it is writable.
    pub fn copy_out(&self, addr: u64, buf: &[u8]) -> SysResult<()> {
        self.check_access(addr, buf.len(), true)?;
        if buf.is_empty() {
            return Ok(());
        }
        match self.address_space.write(addr, buf)? {
            n if n == buf.len() => Ok(()),
            _ => Err(Errno::EFAULT),
        }
    }
    /// Copies one `Pod` value in.
    pub fn copy_in_pod<T: Pod>(&self, addr: u64) -> SysResult<T> {
        let mut buf = vec![0u8; std::mem::size_of::<T>()];
        self.copy_in(addr, &mut buf)?;
        sys::pod_from_bytes(&buf).ok_or(Errno::EFAULT)
    }
    /// Copies one `Pod` value out.
    pub fn copy_out_pod<T: Pod>(&self, addr: u64, val: &T) -> SysResult<()> {
        self.copy_out(addr, sys::pod_bytes(val))
    }
    /// Reads a NUL-terminated string of at most `max` bytes (without the NUL); ENAMETOOLONG
    /// past `max`, EFAULT on a bad pointer.
    pub fn copy_in_cstring(&self, addr: u64, max: usize) -> SysResult<Vec<u8>> {
        PageReader::new(self).read_cstring(addr, max)
    }
    /// Lines of /proc/PID/maps: the VMAs and the vDSO/vvar, in address order.
    pub fn maps_text(&self) -> Vec<u8> {
        let st = self.lock();
        let mut lines: Vec<(u64, Vec<u8>)> = Vec::new();
        for v in st.vmas.iter() {
            let mut l = Vec::new();
            v.maps_line(&mut l);
            lines.push((v.start, l));
        }
        for r in &self.layout.reserved {
            let prot = match r.name {
                "[vdso]" => Prot::READ | Prot::EXEC,
                "[vvar]" | "[vvar_vclock]" => Prot::READ,
                _ => continue,
            };
            let mut l = Vec::new();
            vma::maps_line(
                &mut l,
                r.start,
                r.end,
                prot,
                false,
                0,
                0,
                0,
                Some(r.name.as_bytes()),
            );
            lines.push((r.start, l));
        }
        lines.sort_by_key(|(s, _)| *s);
        lines.into_iter().flat_map(|(_, l)| l).collect()
    }
}

/// The top of the stack region: the highest page end under `max_addr` with `STACK_SIZE` plus a
/// guard page below it clear of reserved ranges.
fn compute_stack_top(layout: &Layout) -> u64 {
    let mut top = page_down(layout.max_addr);
    // Each step moves below one reserved range, so this ends.
    for _ in 0..=layout.reserved.len() {
        let bottom = top.saturating_sub(STACK_SIZE + PAGE_SIZE);
        match layout
            .reserved
            .iter()
            .filter(|r| r.start < top && bottom < r.end)
            .map(|r| r.start)
            .min()
        {
            Some(s) => top = page_down(s),
            None => break,
        }
    }
    top
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests {
    use super::testing::{dummy_fd, layout, new_mm, Call, MAX_ADDR, VDSO};
    use super::*;

    const RW: Prot = Prot::READ.union(Prot::WRITE);

    fn fixed(addr: u64, len: u64) -> MmapRequest {
        MmapRequest {
            fixed: true,
            ..MmapRequest::anon(addr, len, RW)
        }
    }

    #[test]
    fn stack_top_avoids_reserved_ranges() {
        let (_, mm) = new_mm();
        // The stub page sits at the very top: the stack goes right under it.
        assert_eq!(mm.stack_top(), MAX_ADDR - 0x1000);
        let mut l = layout();
        l.reserved.push(crate::platform::ReservedRange {
            start: MAX_ADDR - 0x10_0000,
            end: MAX_ADDR - 0xf_0000,
            name: "[vdso]",
            yields: false,
        });
        assert_eq!(compute_stack_top(&l), MAX_ADDR - 0x10_0000);
    }

    #[test]
    fn mmap_validates_like_linux() {
        let (_, mm) = new_mm();
        assert_eq!(mm.mmap(MmapRequest::anon(0, 0, RW)), Err(Errno::EINVAL));
        assert_eq!(
            mm.mmap(MmapRequest::anon(0, u64::MAX, RW)),
            Err(Errno::ENOMEM)
        );
        assert_eq!(mm.mmap(fixed(0x10_0001, 4096)), Err(Errno::EINVAL));
        assert_eq!(mm.mmap(fixed(0x1000, 4096)), Err(Errno::EPERM));
        assert_eq!(mm.mmap(fixed(MAX_ADDR, 4096)), Err(Errno::ENOMEM));
        let file = MappedFile {
            host_fd: dummy_fd(),
            offset: 100,
            dev: 0,
            ino: 0,
        };
        assert_eq!(
            mm.mmap(MmapRequest {
                file: Some(file),
                ..MmapRequest::anon(0, 4096, RW)
            }),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            mm.mmap_with_max_prot(MmapRequest::anon(0, 1, RW), Prot::READ),
            Err(Errno::EACCES)
        );
    }

    #[test]
    fn unplaced_mappings_go_top_down_below_mmap_base() {
        let (fake, mm) = new_mm();
        let a = mm.mmap(MmapRequest::anon(0, 5000, RW)).unwrap();
        assert_eq!(a, mm.mmap_base() - 0x2000);
        let b = mm.mmap(MmapRequest::anon(0, 4096, Prot::READ)).unwrap();
        assert_eq!(b, a - 0x1000);
        assert_eq!(
            fake.calls()[0],
            Call::MapAnon {
                addr: a,
                len: 0x2000,
                prot: RW,
                shared: false
            }
        );
        // A free hint is honoured (rounded up to a page); a taken one is not.
        assert_eq!(
            mm.mmap(MmapRequest::anon(0x4000_0001, 4096, RW)).unwrap(),
            0x4000_1000
        );
        assert_eq!(mm.mmap(MmapRequest::anon(a, 4096, RW)).unwrap(), b - 0x1000);
        // A hint on a reserved range is not used either.
        assert_ne!(mm.mmap(MmapRequest::anon(VDSO, 4096, RW)).unwrap(), VDSO);
    }

    #[test]
    fn fixed_replaces_and_noreplace_refuses() {
        let (_, mm) = new_mm();
        mm.mmap(fixed(0x10_0000, 0x4000)).unwrap();
        assert_eq!(
            mm.mmap(MmapRequest {
                fixed_noreplace: true,
                ..MmapRequest::anon(0x10_3000, 0x2000, RW)
            }),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            mm.mmap(MmapRequest {
                fixed_noreplace: true,
                ..MmapRequest::anon(0x10_4000, 0x1000, RW)
            }),
            Ok(0x10_4000)
        );
        mm.mmap(MmapRequest {
            prot: Prot::READ,
            ..fixed(0x10_1000, 0x1000)
        })
        .unwrap();
        let v: Vec<(u64, u64, Prot)> = mm.vmas().iter().map(|v| (v.start, v.end, v.prot)).collect();
        assert_eq!(
            v,
            vec![
                (0x10_0000, 0x10_1000, RW),
                (0x10_1000, 0x10_2000, Prot::READ),
                (0x10_2000, 0x10_5000, RW)
            ]
        );
    }

    #[test]
    fn fixed_over_reserved_is_enomem() {
        let (_, mm) = new_mm();
        assert_eq!(mm.mmap(fixed(VDSO - 0x1000, 0x2000)), Err(Errno::ENOMEM));
        assert_eq!(
            mm.mmap(fixed(MAX_ADDR - 0x1000, 0x1000)),
            Err(Errno::ENOMEM)
        );
    }

    #[test]
    fn munmap_splits_and_only_touches_vmas() {
        let (fake, mm) = new_mm();
        mm.mmap(fixed(0x10_0000, 0x4000)).unwrap();
        fake.clear_calls();
        mm.munmap(0x10_1000, 0x1000).unwrap();
        assert_eq!(
            fake.calls(),
            vec![Call::Unmap {
                addr: 0x10_1000,
                len: 0x1000
            }]
        );
        assert_eq!(mm.vmas().len(), 2);
        // A range covering holes and the vDSO unmaps only the VMAs in it.
        fake.clear_calls();
        mm.munmap(0x10_0000, VDSO + 0x2000 - 0x10_0000).unwrap();
        assert_eq!(
            fake.calls(),
            vec![
                Call::Unmap {
                    addr: 0x10_0000,
                    len: 0x1000
                },
                Call::Unmap {
                    addr: 0x10_2000,
                    len: 0x2000
                }
            ]
        );
        assert!(mm.vmas().is_empty());
        assert_eq!(mm.munmap(0x10_0001, 1), Err(Errno::EINVAL));
        assert_eq!(mm.munmap(0x10_0000, 0), Err(Errno::EINVAL));
    }

    #[test]
    fn mprotect_splits_checks_and_merges() {
        let (fake, mm) = new_mm();
        mm.mmap(fixed(0x10_0000, 0x3000)).unwrap();
        mm.mprotect(0x10_1000, 0x1000, Prot::READ).unwrap();
        assert_eq!(mm.vmas().len(), 3);
        assert!(fake.calls().contains(&Call::Protect {
            addr: 0x10_1000,
            len: 0x1000,
            prot: Prot::READ
        }));
        mm.mprotect(0x10_1000, 0x1000, RW).unwrap();
        assert_eq!(mm.vmas().len(), 1);
        assert_eq!(
            mm.mprotect(0x10_2000, 0x2000, Prot::READ),
            Err(Errno::ENOMEM)
        );
        assert_eq!(mm.mprotect(0x10_0001, 1, Prot::READ), Err(Errno::EINVAL));
        let a = mm
            .mmap_with_max_prot(
                MmapRequest::anon(0, 4096, Prot::READ),
                Prot::READ | Prot::EXEC,
            )
            .unwrap();
        assert_eq!(mm.mprotect(a, 4096, RW), Err(Errno::EACCES));
    }

    #[test]
    fn fork_copies_the_vmas_and_break_without_touching_the_host() {
        let (_fake, mm) = new_mm();
        mm.set_brk_start(0x60_0000);
        mm.brk(0x60_2000).unwrap();
        mm.mmap(fixed(0x1000_0000, 0x3000)).unwrap();
        let (child_fake, empty) = new_mm();
        let child = mm.fork(empty.address_space().clone());
        assert!(child_fake.calls().is_empty());
        let starts = |m: &MemoryManager| {
            m.vmas()
                .iter()
                .map(|v| (v.start, v.end))
                .collect::<Vec<_>>()
        };
        assert_eq!(starts(&child), starts(&mm));
        assert_eq!(child.brk_range(), mm.brk_range());
        child.munmap(0x1000_0000, 0x3000).unwrap();
        assert!(mm.vma_at(0x1000_0000).is_some());
    }

    #[test]
    fn address_space_and_data_limits_refuse_growth() {
        let (_fake, mm) = new_mm();
        let rw = Prot::READ | Prot::WRITE;
        let a = mm.mmap(MmapRequest::anon(0, 0x4000, rw)).unwrap();
        mm.set_limits(0x8000, u64::MAX);
        assert_eq!(
            mm.mmap(MmapRequest::anon(0, 0x5000, rw)),
            Err(Errno::ENOMEM)
        );
        assert!(mm.mmap(MmapRequest::anon(0, 0x4000, rw)).is_ok());
        // Replacing existing memory does not grow the address space.
        let fixed = MmapRequest {
            fixed: true,
            ..MmapRequest::anon(a, 0x4000, Prot::READ)
        };
        assert_eq!(mm.mmap(fixed), Ok(a));
        assert_eq!(
            mm.mremap(a, 0x4000, 0x5000, MREMAP_MAYMOVE, 0),
            Err(Errno::ENOMEM)
        );
        // RLIMIT_DATA counts private writable memory only.
        mm.set_limits(u64::MAX, 0x4000);
        assert_eq!(
            mm.mmap(MmapRequest::anon(0, 0x1000, rw)),
            Err(Errno::ENOMEM)
        );
        assert!(mm.mmap(MmapRequest::anon(0, 0x1000, Prot::READ)).is_ok());
        mm.set_brk_start(0x60_0000);
        assert_eq!(mm.brk(0x60_1000), Ok(0x60_0000));
    }

    #[test]
    fn shared_anonymous_memory_keeps_its_identity_across_fork_and_splits() {
        let (_fake, mm) = new_mm();
        let req = MmapRequest {
            shared: true,
            ..MmapRequest::anon(0, 0x3000, Prot::READ | Prot::WRITE)
        };
        let a = mm.mmap(req.clone()).unwrap();
        let b = mm.mmap(req).unwrap();
        let id = mm.vma_at(a).unwrap().shared_anon.unwrap();
        assert_ne!(mm.vma_at(b).unwrap().shared_anon.unwrap().id, id.id);
        mm.munmap(a, 0x1000).unwrap();
        let rest = mm.vma_at(a + 0x1000).unwrap().shared_anon.unwrap();
        assert_eq!((rest.id, rest.offset), (id.id, 0x1000));
        let (fake2, _) = new_mm();
        let child = mm.fork(fake2);
        assert_eq!(child.vma_at(a + 0x1000).unwrap().shared_anon, Some(rest));
    }

    #[test]
    fn brk_grows_shrinks_and_fails_softly() {
        let (fake, mm) = new_mm();
        assert_eq!(mm.brk(0), Ok(0));
        mm.set_brk_start(0x60_0010);
        assert_eq!(mm.brk(0), Ok(0x60_1000));
        assert_eq!(mm.brk(0x60_3800), Ok(0x60_3800));
        assert_eq!(mm.brk(0x60_5000), Ok(0x60_5000));
        let heap: Vec<_> = mm
            .vmas()
            .into_iter()
            .filter(|v| v.name.as_deref() == Some(b"[heap]"))
            .collect();
        assert_eq!(
            (heap.len(), heap[0].start, heap[0].end),
            (1, 0x60_1000, 0x60_5000)
        );
        fake.clear_calls();
        assert_eq!(mm.brk(0x60_2000), Ok(0x60_2000));
        assert_eq!(
            fake.calls(),
            vec![Call::Unmap {
                addr: 0x60_2000,
                len: 0x3000
            }]
        );
        // Growing into another mapping fails and returns the old break.
        mm.mmap(fixed(0x60_4000, 0x1000)).unwrap();
        assert_eq!(mm.brk(0x60_8000), Ok(0x60_2000));
        assert_eq!(mm.brk(0x10), Ok(0x60_2000));
    }

    #[test]
    fn mremap_grows_in_place_moves_and_shrinks() {
        let (fake, mm) = new_mm();
        mm.mmap(fixed(0x10_0000, 0x2000)).unwrap();
        mm.copy_out(0x10_0000, b"hello").unwrap();
        assert_eq!(mm.mremap(0x10_0000, 0x2000, 0x4000, 0, 0), Ok(0x10_0000));
        assert_eq!(mm.vmas().len(), 1);
        assert_eq!(mm.vmas()[0].end, 0x10_4000);
        mm.mmap(fixed(0x10_4000, 0x1000)).unwrap();
        assert_eq!(
            mm.mremap(0x10_0000, 0x4000, 0x8000, 0, 0),
            Err(Errno::ENOMEM)
        );
        let to = mm
            .mremap(0x10_0000, 0x4000, 0x8000, MREMAP_MAYMOVE, 0)
            .unwrap();
        assert_ne!(to, 0x10_0000);
        assert!(fake.calls().contains(&Call::Remap {
            old: 0x10_0000,
            old_len: 0x4000,
            new: to,
            new_len: 0x8000
        }));
        let mut buf = [0u8; 5];
        mm.copy_in(to, &mut buf).unwrap();
        assert_eq!(&buf, b"hello");
        assert_eq!(mm.vma_at(0x10_0000).map(|v| v.start), None);
        assert_eq!(mm.mremap(to, 0x8000, 0x1000, 0, 0), Ok(to));
        assert_eq!(mm.vma_at(to).map(|v| v.end), Some(to + 0x1000));
        let fixed_to = mm
            .mremap(to, 0x1000, 0x1000, MREMAP_MAYMOVE | MREMAP_FIXED, 0x20_0000)
            .unwrap();
        assert_eq!(fixed_to, 0x20_0000);
        assert_eq!(
            mm.mremap(0x20_0000, 0x1000, 0x1000, MREMAP_FIXED, 0x30_0000),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            mm.mremap(0x50_0000, 0x1000, 0x2000, MREMAP_MAYMOVE, 0),
            Err(Errno::EFAULT)
        );
    }

    #[test]
    fn madvise_dontneed_zeroes_private_anon() {
        let (fake, mm) = new_mm();
        mm.mmap(fixed(0x10_0000, 0x2000)).unwrap();
        mm.copy_out(0x10_0000, b"data").unwrap();
        fake.clear_calls();
        mm.madvise(0x10_0000, 0x1000, libc::MADV_DONTNEED).unwrap();
        assert_eq!(
            fake.calls(),
            vec![Call::MapAnon {
                addr: 0x10_0000,
                len: 0x1000,
                prot: RW,
                shared: false
            }]
        );
        let mut buf = [1u8; 4];
        mm.copy_in(0x10_0000, &mut buf).unwrap();
        assert_eq!(buf, [0; 4]);
        assert_eq!(mm.madvise(0x10_0000, 0x1000, 99), Err(Errno::EINVAL));
        assert_eq!(
            mm.madvise(0x10_0000, 0x3000, libc::MADV_NORMAL),
            Err(Errno::ENOMEM)
        );
        assert_eq!(mm.madvise(0x10_0000, 0x1000, libc::MADV_WILLNEED), Ok(()));
    }

    #[test]
    fn copies_are_bounded_by_vmas() {
        let (_, mm) = new_mm();
        mm.mmap(fixed(0x10_0000, 0x1000)).unwrap();
        mm.mmap(MmapRequest {
            prot: Prot::READ,
            ..fixed(0x10_1000, 0x1000)
        })
        .unwrap();
        mm.copy_out_pod(0x10_0ff8, &0x1234_5678u64).unwrap();
        assert_eq!(mm.copy_in_pod::<u64>(0x10_0ff8), Ok(0x1234_5678));
        assert_eq!(mm.copy_out(0x10_0ffc, &[0; 8]), Err(Errno::EFAULT));
        assert_eq!(mm.copy_in_pod::<u64>(0x10_1ffc), Err(Errno::EFAULT));
        assert_eq!(mm.copy_in_pod::<u64>(0), Err(Errno::EFAULT));
    }

    #[test]
    fn cstring_across_pages_and_limits() {
        let (_, mm) = new_mm();
        mm.mmap(fixed(0x10_0000, 0x2000)).unwrap();
        mm.copy_out(0x10_0ffd, b"abcdef\0").unwrap();
        assert_eq!(mm.copy_in_cstring(0x10_0ffd, 100), Ok(b"abcdef".to_vec()));
        assert_eq!(mm.copy_in_cstring(0x10_0ffd, 6), Ok(b"abcdef".to_vec()));
        assert_eq!(mm.copy_in_cstring(0x10_0ffd, 5), Err(Errno::ENAMETOOLONG));
        mm.copy_out(0x10_1ffe, b"xy").unwrap();
        assert_eq!(mm.copy_in_cstring(0x10_1ffe, 100), Err(Errno::EFAULT));
    }

    #[test]
    fn maps_text_lists_vmas_and_vdso_not_stub() {
        let (_, mm) = new_mm();
        let file = MappedFile {
            host_fd: dummy_fd(),
            offset: 0x2000,
            dev: 0xfe00,
            ino: 42,
        };
        mm.mmap(MmapRequest {
            file: Some(file),
            name: Some(b"/bin/true".to_vec()),
            prot: Prot::READ | Prot::EXEC,
            ..fixed(0x40_0000, 0x1000)
        })
        .unwrap();
        mm.set_brk_start(0x40_1000);
        mm.brk(0x40_2000).unwrap();
        let text = String::from_utf8(mm.maps_text()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(
            lines[0],
            format!(
                "00400000-00401000 r-xp 00002000 fe:00 42{}/bin/true",
                " ".repeat(72 - 40 + 1)
            )
        );
        assert!(
            lines[1].starts_with("00401000-00402000 rw-p 00000000 00:00 0 ")
                && lines[1].ends_with(" [heap]")
        );
        assert_eq!(lines[1].find("[heap]"), Some(73));
        assert!(
            lines[2].starts_with("7fffefffc000-7ffff0000000 r--p") && lines[2].ends_with("[vvar]")
        );
        assert!(lines[3].ends_with("[vdso]"));
        assert!(!text.contains("stub"));
    }

    #[test]
    fn msync_mincore_mlock_check_ranges() {
        let (_, mm) = new_mm();
        mm.mmap(fixed(0x10_0000, 0x2000)).unwrap();
        assert_eq!(mm.msync(0x10_0000, 0x2000, MS_SYNC), Ok(()));
        assert_eq!(
            mm.msync(0x10_0000, 0x2000, MS_SYNC | MS_ASYNC),
            Err(Errno::EINVAL)
        );
        assert_eq!(mm.msync(0x10_0000, 0x3000, MS_ASYNC), Err(Errno::ENOMEM));
        assert_eq!(mm.mincore(0x10_0000, 0x1001), Ok(vec![1, 1]));
        assert_eq!(mm.mincore(0x10_0000, 0x3000), Err(Errno::ENOMEM));
        assert_eq!(mm.check_mapped(0x10_0010, 0x1ff0), Ok(()));
        assert_eq!(mm.check_mapped(0x10_1010, 0x1ff0), Err(Errno::ENOMEM));
    }
}
