//! Host facts the loader puts in the auxiliary vector (`arch/x86/include/asm/elf.h`
//! ELF_HWCAP, `arch/x86/kernel/signal.c` AT_MINSIGSTKSZ) and the AT_RANDOM bytes (getrandom(2)).

use std::arch::x86_64::{__cpuid, __cpuid_count, CpuidResult};

use crate::{Errno, SysResult};

/// Bytes of a signal frame besides the xsave area (siginfo, ucontext, padding): what Linux adds
/// to the xsave size for AT_MINSIGSTKSZ on x86_64.
const SIGFRAME_OVERHEAD: u32 = 936;

fn cpuid(leaf: u32, sub: u32) -> CpuidResult {
    // CPUID is a safe intrinsic on x86_64: always present, no memory effects.
    __cpuid_count(leaf, sub)
}

/// AT_HWCAP: edx of CPUID leaf 1, as Linux reports it on x86_64.
pub fn hwcap() -> u64 {
    let r = __cpuid(1);
    u64::from(r.edx)
}

/// AT_MINSIGSTKSZ: the xsave area for the enabled features (CPUID 0xD.0 ebx) plus the frame.
pub fn min_sigstksz() -> u64 {
    let max_leaf = cpuid(0, 0).eax;
    let xsave = if max_leaf >= 0xd {
        cpuid(0xd, 0).ebx
    } else {
        512
    };
    u64::from((xsave + SIGFRAME_OVERHEAD + 15) & !15).max(2048)
}

/// Fills `buf` from the host's random generator.
pub fn random_bytes(buf: &mut [u8]) -> SysResult<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: `rest` is a valid writable buffer of `rest.len()` bytes for the whole call.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        done += n as usize;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_facts_are_plausible() {
        // Every x86_64 CPU has FPU (bit 0) and SSE2 (bit 26).
        assert_eq!(hwcap() & 1, 1);
        assert_ne!(hwcap() & (1 << 26), 0);
        assert!(min_sigstksz() >= 2048);
        let mut a = [0u8; 16];
        random_bytes(&mut a).unwrap();
        assert_ne!(a, [0u8; 16]);
    }
}
