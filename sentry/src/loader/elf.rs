//! ELF64 x86_64 images (after Linux `fs/binfmt_elf.c` and `include/uapi/linux/elf.h`): header
//! validation, program headers, and mapping PT_LOAD segments into a `MemoryManager` with the
//! bss zeroed.

use crate::mm::{page_down, page_up, MappedFile, MemoryManager, MmapRequest, PAGE_SIZE};
use crate::platform::Prot;
use crate::{Errno, SysResult};

pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;
const EM_X86_64: u16 = 62;
pub const PT_LOAD: u32 = 1;
pub const PT_INTERP: u32 = 3;
pub const PT_PHDR: u32 = 6;
pub const PT_GNU_STACK: u32 = 0x6474_e551;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;
pub const EHDR_SIZE: usize = 64;
pub const PHDR_SIZE: usize = 56;
/// Linux refuses program header tables over 64 KiB (`elf_read_phdrs`).
const MAX_PHDRS_BYTES: usize = 65536;
const PATH_MAX: usize = 4096;

/// Where the main program of type ET_DYN goes (Linux's `ELF_ET_DYN_BASE` without randomization).
pub const ELF_ET_DYN_BASE: u64 = 0x5555_5555_4000;

/// Reads a file being executed.
pub trait ExecSource {
    /// pread: bytes read, short only at end of file.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> SysResult<usize>;
    /// The host fd to map (offset 0), or ENODEV when the file cannot be mapped.
    fn mapped_file(&self) -> SysResult<MappedFile>;
    /// The sandbox path, for /proc/PID/maps.
    fn name(&self) -> Vec<u8>;
}

/// Reads exactly `buf.len()` bytes at `offset`; ENOEXEC at end of file.
pub fn read_exact(src: &dyn ExecSource, buf: &mut [u8], offset: u64) -> SysResult<()> {
    let mut done = 0;
    while done < buf.len() {
        let off = offset.checked_add(done as u64).ok_or(Errno::ENOEXEC)?;
        match src.read_at(&mut buf[done..], off)? {
            0 => return Err(Errno::ENOEXEC),
            n => done += n,
        }
    }
    Ok(())
}

/// One program header (`Elf64_Phdr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phdr {
    pub p_type: u32,
    pub p_flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
}

impl Phdr {
    fn prot(&self) -> Prot {
        let mut p = Prot::empty();
        if self.p_flags & PF_R != 0 {
            p |= Prot::READ;
        }
        if self.p_flags & PF_W != 0 {
            p |= Prot::WRITE;
        }
        if self.p_flags & PF_X != 0 {
            p |= Prot::EXEC;
        }
        p
    }
}

/// The fields of `Elf64_Ehdr` the loader uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ehdr {
    pub e_type: u16,
    pub entry: u64,
    pub phoff: u64,
    pub phnum: u16,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

/// Validates the ELF header at the start of `head`: ELF64, little endian, version 1, x86_64,
/// ET_EXEC or ET_DYN, 56-byte program headers. ENOEXEC for anything else.
pub fn parse_ehdr(head: &[u8]) -> SysResult<Ehdr> {
    if head.len() < EHDR_SIZE || &head[..4] != b"\x7fELF" {
        return Err(Errno::ENOEXEC);
    }
    // EI_CLASS = ELFCLASS64, EI_DATA = ELFDATA2LSB, EI_VERSION = EV_CURRENT.
    if head[4] != 2 || head[5] != 1 || head[6] != 1 {
        return Err(Errno::ENOEXEC);
    }
    let e_type = u16_at(head, 16);
    if !matches!(e_type, ET_EXEC | ET_DYN) || u16_at(head, 18) != EM_X86_64 || u32_at(head, 20) != 1
    {
        return Err(Errno::ENOEXEC);
    }
    let phentsize = u16_at(head, 54);
    let phnum = u16_at(head, 56);
    if usize::from(phentsize) != PHDR_SIZE
        || phnum == 0
        || usize::from(phnum) * PHDR_SIZE > MAX_PHDRS_BYTES
    {
        return Err(Errno::ENOEXEC);
    }
    Ok(Ehdr {
        e_type,
        entry: u64_at(head, 24),
        phoff: u64_at(head, 32),
        phnum,
    })
}

/// Parses a program header table.
pub fn parse_phdrs(table: &[u8]) -> Vec<Phdr> {
    table
        .chunks_exact(PHDR_SIZE)
        .map(|b| Phdr {
            p_type: u32_at(b, 0),
            p_flags: u32_at(b, 4),
            offset: u64_at(b, 8),
            vaddr: u64_at(b, 16),
            filesz: u64_at(b, 32),
            memsz: u64_at(b, 40),
        })
        .collect()
}

/// A validated executable: header, program headers, interpreter path, stack executability.
#[derive(Debug, Clone)]
pub struct ElfInfo {
    pub ehdr: Ehdr,
    pub phdrs: Vec<Phdr>,
    pub interp: Option<Vec<u8>>,
    /// PT_GNU_STACK asks for an executable stack (absent means not, on x86_64).
    pub exec_stack: bool,
}

/// Reads and validates the program headers and PT_INTERP of the file whose first bytes are
/// `head`.
pub fn read_elf(src: &dyn ExecSource, head: &[u8]) -> SysResult<ElfInfo> {
    let ehdr = parse_ehdr(head)?;
    let mut table = vec![0u8; usize::from(ehdr.phnum) * PHDR_SIZE];
    read_exact(src, &mut table, ehdr.phoff)?;
    let phdrs = parse_phdrs(&table);
    let mut interp = None;
    let mut exec_stack = false;
    let mut loads = 0;
    for p in &phdrs {
        match p.p_type {
            PT_LOAD => {
                loads += 1;
                let bad = p.filesz > p.memsz
                    || (p.vaddr & (PAGE_SIZE - 1)) != (p.offset & (PAGE_SIZE - 1))
                    || p.vaddr.checked_add(p.memsz).is_none_or(|e| e > (1 << 47))
                    || p.offset.checked_add(p.filesz).is_none();
                if bad {
                    return Err(Errno::ENOEXEC);
                }
            }
            PT_INTERP if interp.is_none() => {
                let len = usize::try_from(p.filesz).map_err(|_| Errno::ENOEXEC)?;
                if !(2..=PATH_MAX).contains(&len) {
                    return Err(Errno::ENOEXEC);
                }
                let mut path = vec![0u8; len];
                read_exact(src, &mut path, p.offset)?;
                // It must end in a NUL; like the kernel, use it as a C string.
                if path.last() != Some(&0) {
                    return Err(Errno::ENOEXEC);
                }
                let nul = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                path.truncate(nul);
                if path.is_empty() {
                    return Err(Errno::ENOEXEC);
                }
                interp = Some(path);
            }
            PT_GNU_STACK => exec_stack = p.p_flags & PF_X != 0,
            _ => {}
        }
    }
    if loads == 0 {
        return Err(Errno::ENOEXEC);
    }
    Ok(ElfInfo {
        ehdr,
        phdrs,
        interp,
        exec_stack,
    })
}

/// Where an image went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadedImage {
    /// Address of the lowest mapped page (AT_BASE for an interpreter).
    pub base: u64,
    /// Added to every p_vaddr (0 for ET_EXEC).
    pub bias: u64,
    pub entry: u64,
    /// Address of the program headers in memory (AT_PHDR), 0 if they are not loaded.
    pub phdr_addr: u64,
    pub phnum: u16,
    /// One past the highest byte of any segment (the heap starts at the page after it).
    pub end: u64,
}

/// Maps every PT_LOAD segment. ET_EXEC goes at its addresses; ET_DYN at `dyn_hint` if free
/// (the whole extent is reserved first), else wherever the top-down search puts it.
pub fn map_image(
    mm: &MemoryManager,
    src: &dyn ExecSource,
    info: &ElfInfo,
    dyn_hint: u64,
) -> SysResult<LoadedImage> {
    let loads: Vec<&Phdr> = info.phdrs.iter().filter(|p| p.p_type == PT_LOAD).collect();
    let lo = loads
        .iter()
        .map(|p| page_down(p.vaddr))
        .min()
        .ok_or(Errno::ENOEXEC)?;
    let hi = loads
        .iter()
        .map(|p| p.vaddr + p.memsz)
        .max()
        .and_then(page_up)
        .ok_or(Errno::ENOEXEC)?;
    if hi <= lo {
        return Err(Errno::ENOEXEC);
    }
    // Reserve the extent so later segments land in one place (Linux's total_mapping_size).
    let reserve = MmapRequest {
        fixed_noreplace: info.ehdr.e_type == ET_EXEC,
        ..MmapRequest::anon(
            if info.ehdr.e_type == ET_EXEC {
                lo
            } else {
                dyn_hint
            },
            hi - lo,
            Prot::empty(),
        )
    };
    let base = mm
        .mmap(reserve)
        .map_err(|e| if e == Errno::EEXIST { Errno::ENOMEM } else { e })?;
    let bias = base - lo;
    let name = src.name();
    let mapped = match src.mapped_file() {
        Ok(f) => Some(f),
        Err(Errno::ENODEV) => None,
        Err(e) => return Err(e),
    };
    let mut covered: Vec<(u64, u64)> = Vec::new();
    for p in &loads {
        covered.push(map_segment(mm, src, mapped.as_ref(), &name, p, bias)?);
    }
    // Give back the reservation's holes between segments, as Linux leaves them unmapped.
    covered.sort_unstable();
    let mut at = base;
    for (s, e) in covered
        .into_iter()
        .chain(std::iter::once((bias + hi, bias + hi)))
    {
        if s > at {
            mm.munmap(at, s - at)?;
        }
        at = at.max(e);
    }
    let phdr_addr = info
        .phdrs
        .iter()
        .find(|p| p.p_type == PT_PHDR)
        .map(|p| p.vaddr)
        .or_else(|| {
            loads
                .iter()
                .find(|p| p.offset <= info.ehdr.phoff && info.ehdr.phoff < p.offset + p.filesz)
                .map(|p| p.vaddr + (info.ehdr.phoff - p.offset))
        })
        .map_or(0, |v| v + bias);
    Ok(LoadedImage {
        base,
        bias,
        entry: info.ehdr.entry.wrapping_add(bias),
        phdr_addr,
        phnum: info.ehdr.phnum,
        end: bias + loads.iter().map(|p| p.vaddr + p.memsz).max().unwrap_or(hi),
    })
}

/// Maps one PT_LOAD segment: file pages (private), the partial page after the file data zeroed,
/// anonymous pages for the rest of the bss. Returns the page range it covers.
fn map_segment(
    mm: &MemoryManager,
    src: &dyn ExecSource,
    mapped: Option<&MappedFile>,
    name: &[u8],
    p: &Phdr,
    bias: u64,
) -> SysResult<(u64, u64)> {
    let prot = p.prot();
    let start = bias + p.vaddr;
    let page_start = page_down(start);
    let file_end = start + p.filesz;
    let mem_end = start + p.memsz;
    let file_page_end = page_up(file_end).ok_or(Errno::ENOEXEC)?;
    let mem_page_end = page_up(mem_end).ok_or(Errno::ENOEXEC)?;
    let fixed = |addr: u64, len: u64, prot: Prot| MmapRequest {
        fixed: true,
        ..MmapRequest::anon(addr, len, prot)
    };
    if p.filesz > 0 {
        let file_off = p.offset - (start - page_start);
        let len = file_page_end - page_start;
        match mapped {
            Some(f) => {
                let file = MappedFile {
                    offset: file_off,
                    ..f.clone()
                };
                mm.mmap(MmapRequest {
                    file: Some(file),
                    name: Some(name.to_vec()),
                    ..fixed(page_start, len, prot)
                })?;
                if p.memsz > p.filesz && file_end < file_page_end {
                    zero(mm, file_end, file_page_end - file_end, prot)?;
                }
            }
            None => {
                // No host fd: anonymous memory filled from the file, then protected.
                let rw = Prot::READ | Prot::WRITE;
                mm.mmap(MmapRequest {
                    name: Some(name.to_vec()),
                    ..fixed(page_start, len, rw)
                })?;
                let n = usize::try_from(file_end - page_start).map_err(|_| Errno::ENOMEM)?;
                let mut data = vec![0u8; n];
                read_exact(src, &mut data, file_off)?;
                mm.copy_out(page_start, &data)?;
                if prot != rw {
                    mm.mprotect(page_start, len, prot)?;
                }
            }
        }
        if mem_page_end > file_page_end {
            mm.mmap(fixed(file_page_end, mem_page_end - file_page_end, prot))?;
        }
    } else if mem_page_end > page_start {
        mm.mmap(fixed(page_start, mem_page_end - page_start, prot))?;
    }
    Ok((page_start, mem_page_end.max(file_page_end)))
}

/// Zeroes `[addr, addr + len)` inside a mapping with protection `prot`, making it writable for
/// the moment if it is not.
fn zero(mm: &MemoryManager, addr: u64, len: u64, prot: Prot) -> SysResult<()> {
    let zeros = vec![0u8; usize::try_from(len).map_err(|_| Errno::ENOMEM)?];
    if prot.contains(Prot::WRITE) {
        return mm.copy_out(addr, &zeros);
    }
    let page = page_down(addr);
    mm.mprotect(page, PAGE_SIZE, Prot::READ | Prot::WRITE)?;
    mm.copy_out(addr, &zeros)?;
    mm.mprotect(page, PAGE_SIZE, prot)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal ELF64 header with `phnum` program headers right after it.
    pub fn ehdr(e_type: u16, entry: u64, phnum: u16) -> Vec<u8> {
        let mut h = vec![0u8; EHDR_SIZE];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[6] = 1;
        h[16..18].copy_from_slice(&e_type.to_le_bytes());
        h[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        h[20..24].copy_from_slice(&1u32.to_le_bytes());
        h[24..32].copy_from_slice(&entry.to_le_bytes());
        h[32..40].copy_from_slice(&(EHDR_SIZE as u64).to_le_bytes());
        h[52..54].copy_from_slice(&(EHDR_SIZE as u16).to_le_bytes());
        h[54..56].copy_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
        h[56..58].copy_from_slice(&phnum.to_le_bytes());
        h
    }

    pub fn phdr(p: &Phdr) -> Vec<u8> {
        let mut b = vec![0u8; PHDR_SIZE];
        b[0..4].copy_from_slice(&p.p_type.to_le_bytes());
        b[4..8].copy_from_slice(&p.p_flags.to_le_bytes());
        b[8..16].copy_from_slice(&p.offset.to_le_bytes());
        b[16..24].copy_from_slice(&p.vaddr.to_le_bytes());
        b[24..32].copy_from_slice(&p.vaddr.to_le_bytes());
        b[32..40].copy_from_slice(&p.filesz.to_le_bytes());
        b[40..48].copy_from_slice(&p.memsz.to_le_bytes());
        b[48..56].copy_from_slice(&PAGE_SIZE.to_le_bytes());
        b
    }

    #[test]
    fn header_validation() {
        assert_eq!(parse_ehdr(b"garbage").err(), Some(Errno::ENOEXEC));
        assert_eq!(parse_ehdr(&[0u8; 64]).err(), Some(Errno::ENOEXEC));
        let good = ehdr(ET_EXEC, 0x401000, 2);
        assert_eq!(
            parse_ehdr(&good),
            Ok(Ehdr {
                e_type: ET_EXEC,
                entry: 0x401000,
                phoff: 64,
                phnum: 2
            })
        );
        let mut elf32 = good.clone();
        elf32[4] = 1;
        assert_eq!(parse_ehdr(&elf32).err(), Some(Errno::ENOEXEC));
        let mut big_endian = good.clone();
        big_endian[5] = 2;
        assert_eq!(parse_ehdr(&big_endian).err(), Some(Errno::ENOEXEC));
        let mut arm = good.clone();
        arm[18..20].copy_from_slice(&183u16.to_le_bytes());
        assert_eq!(parse_ehdr(&arm).err(), Some(Errno::ENOEXEC));
        let mut core = good.clone();
        core[16..18].copy_from_slice(&4u16.to_le_bytes());
        assert_eq!(parse_ehdr(&core).err(), Some(Errno::ENOEXEC));
        let mut nophdrs = good;
        nophdrs[56..58].copy_from_slice(&0u16.to_le_bytes());
        assert_eq!(parse_ehdr(&nophdrs).err(), Some(Errno::ENOEXEC));
    }
}
