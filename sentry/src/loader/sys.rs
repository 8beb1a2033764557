//! Host facts the loader puts in the auxiliary vector (`arch/x86/include/asm/elf.h` ELF_HWCAP,
//! `arch/x86/kernel/signal.c` AT_MINSIGSTKSZ), read from the host's own auxv.

/// The host kernel's value for an auxv tag (0 when it has none). The application runs on the
/// host's CPU under the host's kernel, so AT_HWCAP, AT_HWCAP2 (FSGSBASE...) and AT_MINSIGSTKSZ
/// (the signal frame size for the xsave features the kernel enabled) are the host's truth.
pub fn host_auxv(tag: u64) -> u64 {
    // SAFETY: getauxval only reads the process's own auxiliary vector, saved by libc at start.
    unsafe { libc::getauxval(tag) }
}

/// AT_HWCAP: edx of CPUID leaf 1, as Linux reports it on x86_64 (glibc's getauxval rewrites
/// this one tag with its own bits, so it cannot be read back from the host's auxv).
pub fn hwcap() -> u64 {
    u64::from(std::arch::x86_64::__cpuid(1).edx)
}

/// AT_HWCAP2.
pub fn hwcap2() -> u64 {
    host_auxv(crate::abi::auxv::AT_HWCAP2)
}

/// AT_MINSIGSTKSZ, never below the classic MINSIGSTKSZ of 2048.
pub fn min_sigstksz() -> u64 {
    host_auxv(crate::abi::auxv::AT_MINSIGSTKSZ).max(2048)
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
        // The host's own values, as this test process received them.
        assert_eq!(hwcap2(), host_auxv(crate::abi::auxv::AT_HWCAP2));
    }
}
