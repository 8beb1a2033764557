//! /proc/cpuinfo from the host CPU's CPUID leaves (Linux `arch/x86/kernel/cpu/proc.c`), never
//! from a host file. x86_64 only; the feature names follow `arch/x86/include/asm/cpufeatures.h`.

use std::arch::x86_64::{__cpuid_count, CpuidResult};
use std::fmt::Write as _;

fn cpuid(leaf: u32, sub: u32) -> CpuidResult {
    __cpuid_count(leaf, sub)
}

/// (register, bit, name) for leaf 1: 0 = EDX, 1 = ECX.
const LEAF1: &[(u8, u32, &str)] = &[
    (0, 0, "fpu"),
    (0, 1, "vme"),
    (0, 2, "de"),
    (0, 3, "pse"),
    (0, 4, "tsc"),
    (0, 5, "msr"),
    (0, 6, "pae"),
    (0, 7, "mce"),
    (0, 8, "cx8"),
    (0, 9, "apic"),
    (0, 11, "sep"),
    (0, 12, "mtrr"),
    (0, 13, "pge"),
    (0, 14, "mca"),
    (0, 15, "cmov"),
    (0, 16, "pat"),
    (0, 17, "pse36"),
    (0, 19, "clflush"),
    (0, 23, "mmx"),
    (0, 24, "fxsr"),
    (0, 25, "sse"),
    (0, 26, "sse2"),
    (0, 27, "ss"),
    (0, 28, "ht"),
    (1, 0, "pni"),
    (1, 1, "pclmulqdq"),
    (1, 3, "monitor"),
    (1, 9, "ssse3"),
    (1, 12, "fma"),
    (1, 13, "cx16"),
    (1, 17, "pcid"),
    (1, 19, "sse4_1"),
    (1, 20, "sse4_2"),
    (1, 21, "x2apic"),
    (1, 22, "movbe"),
    (1, 23, "popcnt"),
    (1, 25, "aes"),
    (1, 26, "xsave"),
    (1, 28, "avx"),
    (1, 29, "f16c"),
    (1, 30, "rdrand"),
    (1, 31, "hypervisor"),
];

/// Extended leaf 0x80000001: 0 = EDX, 1 = ECX.
const LEAF_EXT: &[(u8, u32, &str)] = &[
    (0, 11, "syscall"),
    (0, 20, "nx"),
    (0, 22, "mmxext"),
    (0, 26, "pdpe1gb"),
    (0, 27, "rdtscp"),
    (0, 29, "lm"),
    (1, 0, "lahf_lm"),
    (1, 1, "cmp_legacy"),
    (1, 5, "abm"),
    (1, 6, "sse4a"),
    (1, 8, "3dnowprefetch"),
];

/// Leaf 7 subleaf 0: 0 = EBX, 1 = ECX, 2 = EDX.
const LEAF7: &[(u8, u32, &str)] = &[
    (0, 0, "fsgsbase"),
    (0, 3, "bmi1"),
    (0, 5, "avx2"),
    (0, 7, "smep"),
    (0, 8, "bmi2"),
    (0, 9, "erms"),
    (0, 10, "invpcid"),
    (0, 16, "avx512f"),
    (0, 17, "avx512dq"),
    (0, 18, "rdseed"),
    (0, 19, "adx"),
    (0, 20, "smap"),
    (0, 23, "clflushopt"),
    (0, 24, "clwb"),
    (0, 28, "avx512cd"),
    (0, 29, "sha_ni"),
    (0, 30, "avx512bw"),
    (0, 31, "avx512vl"),
    (1, 1, "avx512vbmi"),
    (1, 2, "umip"),
    (1, 4, "pku"),
    (1, 8, "gfni"),
    (1, 9, "vaes"),
    (1, 10, "vpclmulqdq"),
    (1, 22, "rdpid"),
    (2, 4, "fsrm"),
    (2, 10, "md_clear"),
    (2, 29, "arch_capabilities"),
];

fn names(regs: &[u32], table: &[(u8, u32, &'static str)], out: &mut Vec<&'static str>) {
    for &(r, bit, name) in table {
        if regs
            .get(usize::from(r))
            .is_some_and(|v| v & (1u32 << bit) != 0)
        {
            out.push(name);
        }
    }
}

fn regs_bytes(regs: &[u32]) -> Vec<u8> {
    regs.iter().flat_map(|r| r.to_le_bytes()).collect()
}

/// The text for `ncpus` processors.
pub fn cpuinfo(ncpus: usize) -> Vec<u8> {
    let l0 = cpuid(0, 0);
    let vendor = regs_bytes(&[l0.ebx, l0.edx, l0.ecx]);
    let l1 = cpuid(1, 0);
    let base_family = (l1.eax >> 8) & 0xf;
    let family = if base_family == 0xf {
        base_family + ((l1.eax >> 20) & 0xff)
    } else {
        base_family
    };
    let mut model = (l1.eax >> 4) & 0xf;
    if base_family == 0x6 || base_family == 0xf {
        model |= ((l1.eax >> 16) & 0xf) << 4;
    }
    let stepping = l1.eax & 0xf;
    let max_ext = cpuid(0x8000_0000, 0).eax;
    let mut flags = Vec::new();
    names(&[l1.edx, l1.ecx], LEAF1, &mut flags);
    if max_ext >= 0x8000_0001 {
        let e = cpuid(0x8000_0001, 0);
        names(&[e.edx, e.ecx], LEAF_EXT, &mut flags);
    }
    if l0.eax >= 7 {
        let l7 = cpuid(7, 0);
        names(&[l7.ebx, l7.ecx, l7.edx], LEAF7, &mut flags);
    }
    let model_name = if max_ext >= 0x8000_0004 {
        let mut b = Vec::new();
        for leaf in 0x8000_0002..=0x8000_0004u32 {
            let r = cpuid(leaf, 0);
            b.extend(regs_bytes(&[r.eax, r.ebx, r.ecx, r.edx]));
        }
        String::from_utf8_lossy(&b)
            .trim_matches(char::from(0))
            .trim()
            .to_string()
    } else {
        "unknown".to_string()
    };
    let (phys, virt) = if max_ext >= 0x8000_0008 {
        let r = cpuid(0x8000_0008, 0);
        (r.eax & 0xff, (r.eax >> 8) & 0xff)
    } else {
        (46, 48)
    };
    let mhz = if l0.eax >= 0x16 {
        cpuid(0x16, 0).eax & 0xffff
    } else {
        0
    };
    let mhz = if mhz == 0 { 2000 } else { mhz };
    let clflush = ((l1.ebx >> 8) & 0xff) * 8;
    let mut s = String::new();
    for i in 0..ncpus {
        let _ = write!(
            s,
            "processor\t: {i}\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\n\
             model name\t: {model_name}\nstepping\t: {stepping}\nmicrocode\t: 0x1\n\
             cpu MHz\t\t: {mhz}.000\ncache size\t: 8192 KB\nphysical id\t: 0\nsiblings\t: {ncpus}\n\
             core id\t\t: {i}\ncpu cores\t: {ncpus}\napicid\t\t: {i}\ninitial apicid\t: {i}\n\
             fpu\t\t: yes\nfpu_exception\t: yes\ncpuid level\t: {level}\nwp\t\t: yes\n\
             flags\t\t: {flags}\nbugs\t\t:\nbogomips\t: {bogo}.00\nclflush size\t: {clflush}\n\
             cache_alignment\t: {clflush}\naddress sizes\t: {phys} bits physical, {virt} bits virtual\n\
             power management:\n\n",
            vendor = String::from_utf8_lossy(&vendor),
            level = l0.eax,
            flags = flags.join(" "),
            bogo = mhz * 2,
        );
    }
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_block_per_processor_with_vendor_and_flags() {
        let s = String::from_utf8(cpuinfo(2)).unwrap();
        assert_eq!(s.matches("processor\t: ").count(), 2);
        assert!(s.contains("processor\t: 1\n"));
        let vendor = s.lines().find(|l| l.starts_with("vendor_id")).unwrap();
        assert!(vendor.len() > "vendor_id\t: ".len());
        let flags = s.lines().find(|l| l.starts_with("flags")).unwrap();
        assert!(flags.contains(" fpu ") || flags.contains(": fpu"));
        assert!(s.ends_with("\n\n"));
    }
}
