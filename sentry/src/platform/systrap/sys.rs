//! Host calls and raw memory access of the seccomp-trap platform: the region shared with the
//! stubs (a memfd mapped in the sentry, memfd_create(2), mmap(2)), futex(2) waits and wakes on
//! its words, and the CPU feature check (getauxval(3) `AT_HWCAP2`).
//!
//! The application can write the shared region at any time (it is mapped in its address space),
//! so every access here is an atomic load or store of one aligned word: a racing write yields a
//! garbage value, which the callers validate, never undefined behaviour in the sentry.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use libc::c_long;
use memmap2::{MmapOptions, MmapRaw};

use crate::Errno;

/// Whether host fd `fd` was opened read-only (fcntl(2) F_GETFL); false if unknown.
pub fn fd_is_read_only(fd: BorrowedFd<'_>) -> bool {
    nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)
        .is_ok_and(|flags| flags & libc::O_ACCMODE == libc::O_RDONLY)
}

/// Fills `buf` from the host's random generator (getrandom(2)).
pub fn random_fill(buf: &mut [u8]) -> Result<(), Errno> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: `rest` is a live, writable buffer of `rest.len()` bytes.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        match Errno::result(n) {
            Ok(n) => done += n as usize,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A memfd of `len` bytes mapped shared into the sentry.
pub struct SharedRegion {
    memfd: OwnedFd,
    map: MmapRaw,
}

impl SharedRegion {
    /// A new zeroed region (sparse: pages are allocated when first touched).
    pub fn new(len: u64) -> Result<SharedRegion, Errno> {
        let fd: OwnedFd = nix::sys::memfd::memfd_create(
            c"runsc-systrap",
            nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
        )?;
        let len_i64 = i64::try_from(len).map_err(|_| Errno::EINVAL)?;
        let len_usize = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
        nix::unistd::ftruncate(&fd, len_i64)?;
        let map = MmapOptions::new()
            .len(len_usize)
            .map_raw(&fd)
            .map_err(|e| {
                e.raw_os_error()
                    .map(Errno::from_raw)
                    .unwrap_or(Errno::ENOMEM)
            })?;
        Ok(SharedRegion { memfd: fd, map })
    }

    /// The memfd, for mapping the region into a stub.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.memfd.as_fd()
    }

    pub fn len(&self) -> u64 {
        self.map.len() as u64
    }

    /// The address of the aligned `size`-byte word at `offset`, or `EFAULT` if out of bounds
    /// or misaligned.
    fn word(&self, offset: u64, size: u64) -> Result<*mut u8, Errno> {
        let end = offset.checked_add(size).ok_or(Errno::EFAULT)?;
        if end > self.len() || !offset.is_multiple_of(size) {
            return Err(Errno::EFAULT);
        }
        // `offset < len <= isize::MAX`, so the addition stays inside the mapping.
        Ok(self.map.as_mut_ptr().wrapping_add(offset as usize))
    }

    fn atomic_u32(&self, offset: u64) -> Result<&AtomicU32, Errno> {
        let ptr = self.word(offset, 4)?;
        // SAFETY: `ptr` is 4-byte aligned and inside the live mapping, which lives as long as
        // `self`; every access to the region (here and in the stubs) is atomic or by the CPU.
        Ok(unsafe { AtomicU32::from_ptr(ptr.cast()) })
    }

    fn atomic_u64(&self, offset: u64) -> Result<&AtomicU64, Errno> {
        let ptr = self.word(offset, 8)?;
        // SAFETY: as in `atomic_u32`, with 8-byte alignment.
        Ok(unsafe { AtomicU64::from_ptr(ptr.cast()) })
    }

    pub fn load_u32(&self, offset: u64) -> Result<u32, Errno> {
        Ok(self.atomic_u32(offset)?.load(Ordering::Acquire))
    }

    pub fn store_u32(&self, offset: u64, value: u32) -> Result<(), Errno> {
        self.atomic_u32(offset)?.store(value, Ordering::Release);
        Ok(())
    }

    /// Stores `value` with a full barrier (a locked `xchg`) and returns the old value.
    pub fn swap_u32(&self, offset: u64, value: u32) -> Result<u32, Errno> {
        Ok(self.atomic_u32(offset)?.swap(value, Ordering::SeqCst))
    }

    pub fn load_u64(&self, offset: u64) -> Result<u64, Errno> {
        Ok(self.atomic_u64(offset)?.load(Ordering::Acquire))
    }

    pub fn store_u64(&self, offset: u64, value: u64) -> Result<(), Errno> {
        self.atomic_u64(offset)?.store(value, Ordering::Release);
        Ok(())
    }

    /// Copies `buf.len()` bytes (a multiple of 8) from 8-byte-aligned `offset`.
    pub fn read_words(&self, offset: u64, buf: &mut [u8]) -> Result<(), Errno> {
        if !buf.len().is_multiple_of(8) {
            return Err(Errno::EINVAL);
        }
        for (i, chunk) in buf.chunks_exact_mut(8).enumerate() {
            let word = self.load_u64(offset + 8 * i as u64)?;
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        Ok(())
    }

    /// Copies `buf` (a multiple of 8 bytes) to 8-byte-aligned `offset`.
    pub fn write_words(&self, offset: u64, buf: &[u8]) -> Result<(), Errno> {
        if !buf.len().is_multiple_of(8) {
            return Err(Errno::EINVAL);
        }
        for (i, chunk) in buf.chunks_exact(8).enumerate() {
            let word = u64::from_le_bytes(chunk.try_into().expect("invariant: chunks of 8"));
            self.store_u64(offset + 8 * i as u64, word)?;
        }
        Ok(())
    }

    /// FUTEX_WAIT (shared: the stub maps the same memfd) on the word at `offset` while it holds
    /// `expected`, for at most `timeout`. Returns when woken, when the word differs, on a
    /// signal or on timeout; the caller re-reads the word.
    pub fn futex_wait(&self, offset: u64, expected: u32, timeout: Duration) -> Result<(), Errno> {
        let word = self.atomic_u32(offset)?;
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as c_long,
        };
        // SAFETY: the futex word is a live, aligned u32 of the mapping; `ts` outlives the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT,
                expected,
                &ts as *const libc::timespec,
                0usize,
                0u32,
            )
        };
        match Errno::result(ret) {
            Ok(_) | Err(Errno::EAGAIN | Errno::EINTR | Errno::ETIMEDOUT) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// FUTEX_WAKE of one waiter on the word at `offset`.
    pub fn futex_wake(&self, offset: u64) -> Result<(), Errno> {
        let word = self.atomic_u32(offset)?;
        // SAFETY: the futex word is a live, aligned u32 of the mapping.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAKE,
                1u32,
                0usize,
                0usize,
                0u32,
            )
        };
        Errno::result(ret).map(drop)
    }
}

/// `HWCAP2_FSGSBASE` (`arch/x86/include/uapi/asm/hwcap2.h`): the kernel lets user code use
/// rdfsbase/wrfsbase, which the stub's signal handler needs.
const HWCAP2_FSGSBASE: u64 = 1 << 1;

/// Whether user code may use the FSGSBASE instructions.
pub fn has_fsgsbase() -> bool {
    // SAFETY: getauxval reads the process's auxiliary vector; it has no preconditions.
    let hwcap2 = unsafe { libc::getauxval(libc::AT_HWCAP2) };
    hwcap2 & HWCAP2_FSGSBASE != 0
}

/// The XSAVE layout a signal frame of this host carries: the user feature mask (XCR0 without
/// the AMX tile features, which a process gets only on request, `arch_prctl(ARCH_REQ_XCOMP_
/// PERM)`) and the size of the standard-format area holding them (the end of the last
/// component, CPUID leaf 0xD; Intel SDM vol. 1, 13.4). `None` without XSAVE.
pub fn xsave_layout() -> Option<(u64, u32)> {
    use std::arch::x86_64::{__cpuid, __cpuid_count, _xgetbv};
    /// XFEATURE_MASK_XTILE_CFG | XFEATURE_MASK_XTILE_DATA.
    const XTILE: u64 = (1 << 17) | (1 << 18);
    /// CPUID.1:ECX.OSXSAVE: the OS enabled XSAVE and XGETBV.
    const OSXSAVE: u32 = 1 << 27;
    let leaf1 = __cpuid(1);
    if leaf1.ecx & OSXSAVE == 0 {
        return None;
    }
    // SAFETY: OSXSAVE is set, so xgetbv(0) (XCR0) is allowed in user mode.
    let xcr0 = unsafe { _xgetbv(0) };
    let features = xcr0 & !XTILE;
    let mut size = 576u32;
    for bit in 2..63u32 {
        if features & (1 << bit) != 0 {
            let leaf = __cpuid_count(0xd, bit);
            size = size.max(leaf.ebx.saturating_add(leaf.eax));
        }
    }
    Some((features, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_words_round_trip_and_are_bounded() {
        let region = SharedRegion::new(8192).unwrap();
        assert_eq!(region.load_u32(0), Ok(0));
        region.store_u32(4, 7).unwrap();
        assert_eq!(region.load_u32(4), Ok(7));
        region.write_words(16, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        let mut back = [0u8; 8];
        region.read_words(16, &mut back).unwrap();
        assert_eq!(back, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(region.load_u64(8192), Err(Errno::EFAULT));
        assert_eq!(region.load_u64(8188), Err(Errno::EFAULT));
        assert_eq!(region.load_u32(2), Err(Errno::EFAULT));
        assert_eq!(region.load_u64(u64::MAX - 3), Err(Errno::EFAULT));
    }

    #[test]
    fn futex_wait_returns_on_timeout_and_on_change() {
        let region = SharedRegion::new(4096).unwrap();
        region.futex_wait(0, 0, Duration::from_millis(1)).unwrap();
        region.store_u32(0, 1).unwrap();
        // The word is not the expected value: returns at once.
        region.futex_wait(0, 0, Duration::from_secs(10)).unwrap();
        region.futex_wake(0).unwrap();
    }

    #[test]
    fn xsave_layout_covers_x87_and_sse() {
        let (features, size) = xsave_layout().expect("this host has XSAVE");
        assert_eq!(features & 3, 3);
        assert!((576..=16 * 1024).contains(&size));
    }
}
