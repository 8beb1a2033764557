//! The stub executable: a tiny static x86_64 ELF built as bytes, with one code page and one
//! scratch page at a fixed address (ELF format per `include/uapi/linux/elf.h`; instruction
//! encodings per the Intel SDM vol. 2). It is exec'd once (the master stub); every other stub is
//! an injected fork of it. No build step and no assembler: each instruction is hand-encoded below.

/// Where the stub's code page is linked. Far above the mmap base and outside the 16 GiB below
/// `0x7fff_ffff_f000` where the kernel places the initial stack.
pub const STUB_BASE: u64 = 0x7ff0_0000_0000;
/// Host page size on x86_64.
pub const PAGE_SIZE: u64 = 4096;
/// The read-write scratch page that follows the code page (injection arguments live there).
pub const SCRATCH_BASE: u64 = STUB_BASE + PAGE_SIZE;
/// One past the last stub page.
pub const STUB_END: u64 = STUB_BASE + 2 * PAGE_SIZE;

/// Offset of `syscall; int3`: the injection point for a single host syscall.
pub const INJECT_OFFSET: u64 = 0x00;
/// Offset of the fork entry: `syscall` (fork, or clone without `CLONE_VM`), then the parent
/// traps and the child sets PR_SET_PDEATHSIG(SIGKILL) and stops itself (SIGSTOP loop).
pub const FORK_OFFSET: u64 = 0x10;
/// Offset of the thread entry: `syscall` (clone of a thread), then the parent traps and the
/// new thread falls into the park loop.
pub const CLONE_OFFSET: u64 = 0x50;
/// Offset of the park loop: `pause()` forever. A new stub thread waits there (untraced) until
/// its tracer seizes and interrupts it; a detached thread group leader waits there for the end
/// of its stub process. Needs no stack.
pub const PARK_OFFSET: u64 = 0x57;
/// Offset of the ELF entry point (never reached in normal operation: exit_group(0) forever).
pub const ENTRY_OFFSET: u64 = 0x40;
/// Offset of the seccomp-trap platform's fork entry: `syscall` (clone), then the parent traps
/// and the child sets PR_SET_PDEATHSIG(SIGKILL) and parks in `pause()` until its tracer seizes
/// and interrupts it. Unlike `FORK_OFFSET` it sends no signal: the stub's seccomp filter lets
/// code on this page make only harmless calls without a tracer (see `systrap::filter`), and
/// a pending SIGSTOP would stop an untraced stub for real.
pub const FORK_PARK_OFFSET: u64 = 0x70;
/// Offset of the seccomp-trap platform's signal handler (SIGSYS, faults, the interrupt
/// signal), run on the stub thread's alternate stack inside its slot of the shared region
/// (`systrap::slots`): it records where the kernel put `siginfo` and `ucontext`, and `fs_base`,
/// marks the slot trapped, wakes the sentry, and sleeps on the slot's futex until the sentry
/// marks it resumed; then it applies a new `fs_base` if asked and returns to the restorer.
/// Meanwhile the sentry may have it make host syscalls (`slot::EXEC`): mapping changes, which
/// the stub filter lets code on this page make without a tracer below `systrap::filter`'s
/// bound.
pub const HANDLER_OFFSET: u64 = 0x100;
/// Offset of the signal restorer: `rt_sigreturn`.
pub const RESTORER_OFFSET: u64 = 0x200;
/// Byte offsets in a slot's first page shared by the handler and the sentry.
pub mod slot {
    /// `u32` futex word: `RUNNING`, `TRAPPED` or `RESUME`.
    pub const STATE: u64 = 0x00;
    /// The `siginfo_t *` the kernel passed to the handler.
    pub const SIGINFO: u64 = 0x08;
    /// The `ucontext_t *` the kernel passed to the handler.
    pub const UCONTEXT: u64 = 0x10;
    /// `fs_base` read by the handler (`rdfsbase`).
    pub const FS_BASE: u64 = 0x18;
    /// `fs_base` the handler loads (`wrfsbase`) before returning, if `SET_FS` is non-zero.
    pub const NEW_FS_BASE: u64 = 0x20;
    pub const SET_FS: u64 = 0x28;
    /// `u32`, non-zero while the sentry sleeps (or is about to) on `STATE`.
    pub const SENTRY_SLEEPING: u64 = 0x30;
    /// `u32`, non-zero while the handler sleeps (or is about to) on `STATE`.
    pub const STUB_SLEEPING: u64 = 0x34;
    /// `u32`: how many times the handler polls `STATE` before it sleeps (0: at once).
    pub const SPIN_LIMIT: u64 = 0x38;
    /// A host syscall the sentry asks the waiting handler to make (`STATE` = `EXEC`): its
    /// number, six arguments, and the raw result the handler stores before it reports
    /// `TRAPPED` again.
    pub const EXEC_NR: u64 = 0x40;
    pub const EXEC_ARGS: u64 = 0x48;
    pub const EXEC_RESULT: u64 = 0x78;
    /// State values.
    pub const RUNNING: u32 = 0;
    pub const TRAPPED: u32 = 1;
    pub const RESUME: u32 = 2;
    pub const EXEC: u32 = 3;
    /// Size of one slot (a power of two: the handler finds its slot by masking `rsp`).
    pub const SIZE: u64 = 0x1_0000;
}

/// The fd number at which every stub holds its end of the fd-passing socket.
pub const STUB_SOCKET_FD: i32 = 3;

/// Layout of the scratch page used for `recvmsg` of a donated fd.
pub mod scratch {
    use super::SCRATCH_BASE;
    /// `struct msghdr` (56 bytes).
    pub const MSGHDR: u64 = SCRATCH_BASE;
    /// `struct iovec` (16 bytes) that the msghdr points at.
    pub const IOVEC: u64 = SCRATCH_BASE + 64;
    /// The data byte(s) of the datagram.
    pub const DATA: u64 = SCRATCH_BASE + 96;
    /// Length of the data buffer.
    pub const DATA_LEN: u64 = 8;
    /// Control buffer: `CMSG_SPACE(sizeof(int))` = 24 bytes.
    pub const CMSG: u64 = SCRATCH_BASE + 128;
    /// Size of the control buffer.
    pub const CMSG_LEN: u64 = 24;
    /// A `struct kernel_sigaction` (handler, flags, restorer, mask: 32 bytes) for rt_sigaction.
    pub const SIGACTION: u64 = SCRATCH_BASE + 256;
    /// The stack pointer given to new stub threads (top of the scratch page). A parked
    /// thread makes no calls, so nothing is ever written there.
    pub const THREAD_STACK: u64 = SCRATCH_BASE + super::PAGE_SIZE;
}

/// The code page: every byte not listed is `int3` (0xcc) so a stray jump traps.
fn code_page() -> Vec<u8> {
    let mut page = vec![0xcc_u8; PAGE_SIZE as usize];
    // Injection point (INJECT_OFFSET = 0x00).
    let inject: &[u8] = &[
        0x0f, 0x05, // 0x00: syscall
        0xcc, //       0x02: int3          -> SIGTRAP stop, the tracer reads rax
    ];
    // Fork entry (FORK_OFFSET = 0x10). rax = SYS_fork or SYS_clone on entry.
    let fork: &[u8] = &[
        0x0f, 0x05, //                   0x10: syscall            (fork)
        0x48, 0x85, 0xc0, //             0x12: test rax, rax
        0x75, 0x28, //                   0x15: jnz 0x3f           (parent -> int3)
        0xb8, 0x9d, 0x00, 0x00, 0x00, // 0x17: mov eax, 157       (SYS_prctl)
        0xbf, 0x01, 0x00, 0x00, 0x00, // 0x1c: mov edi, 1         (PR_SET_PDEATHSIG)
        0xbe, 0x09, 0x00, 0x00, 0x00, // 0x21: mov esi, 9         (SIGKILL)
        0x0f, 0x05, //                   0x26: syscall
        0xb8, 0x27, 0x00, 0x00, 0x00, // 0x28: mov eax, 39        (SYS_getpid)   <- loop
        0x0f, 0x05, //                   0x2d: syscall
        0x89, 0xc7, //                   0x2f: mov edi, eax       (pid)
        0xbe, 0x13, 0x00, 0x00, 0x00, // 0x31: mov esi, 19        (SIGSTOP)
        0xb8, 0x3e, 0x00, 0x00, 0x00, // 0x36: mov eax, 62        (SYS_kill)
        0x0f, 0x05, //                   0x3b: syscall
        0xeb, 0xe9, //                   0x3d: jmp 0x28           (loop)
        0xcc, //                         0x3f: int3               (parent: child pid in rax)
    ];
    // ELF entry point (ENTRY_OFFSET = 0x40): only runs if something resumed the fresh stub.
    let entry: &[u8] = &[
        0xb8, 0xe7, 0x00, 0x00, 0x00, // 0x40: mov eax, 231       (SYS_exit_group)
        0x31, 0xff, //                   0x45: xor edi, edi
        0x0f, 0x05, //                   0x47: syscall
        0xeb, 0xf5, //                   0x49: jmp 0x40
    ];
    // Thread entry (CLONE_OFFSET = 0x50) and park loop (PARK_OFFSET = 0x57).
    let clone: &[u8] = &[
        0x0f, 0x05, //                   0x50: syscall            (clone)
        0x48, 0x85, 0xc0, //             0x52: test rax, rax
        0x75, 0x09, //                   0x55: jnz 0x60           (parent -> int3)
        0xb8, 0x22, 0x00, 0x00, 0x00, // 0x57: mov eax, 34        (SYS_pause)    <- park
        0x0f, 0x05, //                   0x5c: syscall
        0xeb, 0xf7, //                   0x5e: jmp 0x57           (loop)
        0xcc, //                         0x60: int3               (parent: new tid in rax)
    ];
    // Seccomp-trap fork entry (FORK_PARK_OFFSET = 0x70). rax = SYS_clone on entry.
    let fork_park: &[u8] = &[
        0x0f, 0x05, //                   0x70: syscall            (clone)
        0x48, 0x85, 0xc0, //             0x72: test rax, rax
        0x75, 0x1a, //                   0x75: jnz 0x91           (parent -> int3)
        0xb8, 0x9d, 0x00, 0x00, 0x00, // 0x77: mov eax, 157       (SYS_prctl)
        0xbf, 0x01, 0x00, 0x00, 0x00, // 0x7c: mov edi, 1         (PR_SET_PDEATHSIG)
        0xbe, 0x09, 0x00, 0x00, 0x00, // 0x81: mov esi, 9         (SIGKILL)
        0x0f, 0x05, //                   0x86: syscall
        0xb8, 0x22, 0x00, 0x00, 0x00, // 0x88: mov eax, 34        (SYS_pause)    <- park
        0x0f, 0x05, //                   0x8d: syscall
        0xeb, 0xf7, //                   0x8f: jmp 0x88
        0xcc, //                         0x91: int3               (parent: child pid in rax)
    ];
    // Seccomp-trap signal handler (HANDLER_OFFSET = 0x100): rdi = signo, rsi = siginfo,
    // rdx = ucontext, rsp on the slot's alternate stack. Register use is free: rt_sigreturn
    // restores every register from the frame. The hand-off is Dekker-style: each side
    // publishes its word with a locked `xchg` (a full barrier) and then reads the other's
    // "sleeping" word, so a wake-up is never lost and never made when nobody sleeps.
    let handler: &[u8] = &[
        0x48, 0x89, 0xe0, //                         0x100: mov rax, rsp
        0x48, 0x25, 0x00, 0x00, 0xff, 0xff, //       0x103: and rax, -0x10000 (slot base)
        0x48, 0x89, 0x70, 0x08, //                   0x109: mov [rax+8], rsi     (SIGINFO)
        0x48, 0x89, 0x50, 0x10, //                   0x10d: mov [rax+0x10], rdx  (UCONTEXT)
        0xf3, 0x48, 0x0f, 0xae, 0xc1, //             0x111: rdfsbase rcx
        0x48, 0x89, 0x48, 0x18, //                   0x116: mov [rax+0x18], rcx  (FS_BASE)
        0x49, 0x89, 0xc4, //                         0x11a: mov r12, rax
        0xb9, 0x01, 0x00, 0x00, 0x00, //             0x11d: mov ecx, TRAPPED     <- report
        0x41, 0x87, 0x0c, 0x24, //                   0x122: xchg [r12], ecx      (STATE)
        0x41, 0x83, 0x7c, 0x24, 0x30,
        0x00, //       0x126: cmp dword [r12+0x30], 0 (SENTRY_SLEEPING)
        0x74, 0x14, //                               0x12c: je 0x142
        0x4c, 0x89, 0xe7, //                         0x12e: mov rdi, r12
        0xbe, 0x01, 0x00, 0x00, 0x00, //             0x131: mov esi, 1 (FUTEX_WAKE)
        0xba, 0x01, 0x00, 0x00, 0x00, //             0x136: mov edx, 1
        0xb8, 0xca, 0x00, 0x00, 0x00, //             0x13b: mov eax, 202 (SYS_futex)
        0x0f, 0x05, //                               0x140: syscall
        0x45, 0x8b, 0x6c, 0x24, 0x38, //             0x142: mov r13d, [r12+0x38] (SPIN_LIMIT)
        0x45, 0x85, 0xed, //                         0x147: test r13d, r13d
        0x74, 0x10, //                               0x14a: je 0x15c
        0x41, 0x83, 0x3c, 0x24, 0x01, //             0x14c: cmp dword [r12], TRAPPED <- spin
        0x75, 0x13, //                               0x151: jne 0x166 (RESUME or EXEC)
        0xf3, 0x90, //                               0x153: pause
        0x41, 0xff, 0xcd, //                         0x155: dec r13d
        0x75, 0xf2, //                               0x158: jnz 0x14c
        0x90, 0x90, //                               0x15a: nop; nop
        0xb9, 0x01, 0x00, 0x00, 0x00, //             0x15c: mov ecx, 1
        0x41, 0x87, 0x4c, 0x24,
        0x34, //             0x161: xchg [r12+0x34], ecx (STUB_SLEEPING)
        0x41, 0x83, 0x3c, 0x24, 0x02, //             0x166: cmp dword [r12], RESUME  <- wait
        0x74, 0x1d, //                               0x16b: je 0x18a
        0x41, 0x83, 0x3c, 0x24, 0x03, //             0x16d: cmp dword [r12], EXEC
        0x74, 0x43, //                               0x172: je 0x1b7
        0x4c, 0x89, 0xe7, //                         0x174: mov rdi, r12
        0x31, 0xf6, //                               0x177: xor esi, esi (FUTEX_WAIT)
        0xba, 0x01, 0x00, 0x00, 0x00, //             0x179: mov edx, TRAPPED
        0x45, 0x31, 0xd2, //                         0x17e: xor r10d, r10d (no timeout)
        0xb8, 0xca, 0x00, 0x00, 0x00, //             0x181: mov eax, 202 (SYS_futex)
        0x0f, 0x05, //                               0x186: syscall
        0xeb, 0xdc, //                               0x188: jmp 0x166
        0x41, 0xc7, 0x44, 0x24, 0x34, 0x00, 0x00, 0x00,
        0x00, // 0x18a: mov dword [r12+0x34], 0
        0x41, 0xc7, 0x04, 0x24, 0x00, 0x00, 0x00, 0x00, // 0x193: mov dword [r12], RUNNING
        0x49, 0x83, 0x7c, 0x24, 0x28, 0x00, //       0x19b: cmp qword [r12+0x28], 0 (SET_FS)
        0x74, 0x13, //                               0x1a1: je 0x1b6
        0x49, 0x8b, 0x4c, 0x24, 0x20, //             0x1a3: mov rcx, [r12+0x20] (NEW_FS_BASE)
        0xf3, 0x48, 0x0f, 0xae, 0xd1, //             0x1a8: wrfsbase rcx
        0x49, 0xc7, 0x44, 0x24, 0x28, 0x00, 0x00, 0x00,
        0x00, // 0x1ad: mov qword [r12+0x28], 0
        0xc3, //                                     0x1b6: ret (to the restorer)
        0x41, 0xc7, 0x44, 0x24, 0x34, 0x00, 0x00, 0x00,
        0x00, // 0x1b7: mov dword [r12+0x34], 0  <- exec
        0x49, 0x8b, 0x44, 0x24, 0x40, //             0x1c0: mov rax, [r12+0x40] (EXEC_NR)
        0x49, 0x8b, 0x7c, 0x24, 0x48, //             0x1c5: mov rdi, [r12+0x48] (EXEC_ARGS)
        0x49, 0x8b, 0x74, 0x24, 0x50, //             0x1ca: mov rsi, [r12+0x50]
        0x49, 0x8b, 0x54, 0x24, 0x58, //             0x1cf: mov rdx, [r12+0x58]
        0x4d, 0x8b, 0x54, 0x24, 0x60, //             0x1d4: mov r10, [r12+0x60]
        0x4d, 0x8b, 0x44, 0x24, 0x68, //             0x1d9: mov r8, [r12+0x68]
        0x4d, 0x8b, 0x4c, 0x24, 0x70, //             0x1de: mov r9, [r12+0x70]
        0x0f, 0x05, //                               0x1e3: syscall
        0x49, 0x89, 0x44, 0x24, 0x78, //             0x1e5: mov [r12+0x78], rax (EXEC_RESULT)
        0xe9, 0x2e, 0xff, 0xff, 0xff, //             0x1ea: jmp 0x11d (report)
    ];
    let restorer: &[u8] = &[
        0xb8, 0x0f, 0x00, 0x00, 0x00, // 0x200: mov eax, 15 (SYS_rt_sigreturn)
        0x0f, 0x05, //                   0x205: syscall
        0xcc, //                         0x207: int3
    ];
    for (offset, code) in [
        (INJECT_OFFSET, inject),
        (FORK_OFFSET, fork),
        (ENTRY_OFFSET, entry),
        (CLONE_OFFSET, clone),
        (FORK_PARK_OFFSET, fork_park),
        (HANDLER_OFFSET, handler),
        (RESTORER_OFFSET, restorer),
    ] {
        let start = offset as usize;
        page[start..start + code.len()].copy_from_slice(code);
    }
    page
}

const PT_LOAD: u32 = 1;
const PT_GNU_STACK: u32 = 0x6474_e551;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

/// One `Elf64_Phdr`.
struct Phdr {
    p_type: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
}

impl Phdr {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.p_type.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.vaddr.to_le_bytes());
        out.extend_from_slice(&self.vaddr.to_le_bytes()); // p_paddr
        out.extend_from_slice(&self.filesz.to_le_bytes());
        out.extend_from_slice(&self.memsz.to_le_bytes());
        out.extend_from_slice(&self.align.to_le_bytes());
    }
}

/// The whole executable: page 0 holds the ELF and program headers (not mapped), page 1 the
/// code (mapped R+X at `STUB_BASE`), page 2 zeroes (mapped R+W, private, at `SCRATCH_BASE`).
pub fn elf_image() -> Vec<u8> {
    let phdrs = [
        Phdr {
            p_type: PT_LOAD,
            flags: PF_R | PF_X,
            offset: PAGE_SIZE,
            vaddr: STUB_BASE,
            filesz: PAGE_SIZE,
            memsz: PAGE_SIZE,
            align: PAGE_SIZE,
        },
        Phdr {
            p_type: PT_LOAD,
            flags: PF_R | PF_W,
            offset: 2 * PAGE_SIZE,
            vaddr: SCRATCH_BASE,
            filesz: PAGE_SIZE,
            memsz: PAGE_SIZE,
            align: PAGE_SIZE,
        },
        Phdr {
            p_type: PT_GNU_STACK,
            flags: PF_R | PF_W,
            offset: 0,
            vaddr: 0,
            filesz: 0,
            memsz: 0,
            align: 16,
        },
    ];
    let mut out = Vec::with_capacity(3 * PAGE_SIZE as usize);
    // Elf64_Ehdr.
    out.extend_from_slice(&[0x7f, b'E', b'L', b'F']); // EI_MAG
    out.push(2); // EI_CLASS = ELFCLASS64
    out.push(1); // EI_DATA = ELFDATA2LSB
    out.push(1); // EI_VERSION = EV_CURRENT
    out.push(0); // EI_OSABI = ELFOSABI_SYSV
    out.extend_from_slice(&[0; 8]); // EI_ABIVERSION + padding
    out.extend_from_slice(&2u16.to_le_bytes()); // e_type = ET_EXEC
    out.extend_from_slice(&62u16.to_le_bytes()); // e_machine = EM_X86_64
    out.extend_from_slice(&1u32.to_le_bytes()); // e_version
    out.extend_from_slice(&(STUB_BASE + ENTRY_OFFSET).to_le_bytes()); // e_entry
    out.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    out.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
    out.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
    out.extend_from_slice(&(phdrs.len() as u16).to_le_bytes()); // e_phnum
    out.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
    out.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
    out.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
    for phdr in &phdrs {
        phdr.encode(&mut out);
    }
    out.resize(PAGE_SIZE as usize, 0);
    out.extend_from_slice(&code_page());
    out.resize(3 * PAGE_SIZE as usize, 0);
    out
}

/// The extent of an ELF image's loadable segments (`max(p_vaddr + p_memsz)` over `PT_LOAD`,
/// page rounded), read from its header and program headers. Used to size the vDSO.
/// `read` reads bytes at an offset of the image; returns `None` when the image is not a
/// 64-bit little-endian ELF or a read fails.
pub fn elf_load_extent(mut read: impl FnMut(u64, &mut [u8]) -> bool) -> Option<u64> {
    let mut ehdr = [0u8; 64];
    if !read(0, &mut ehdr) || ehdr[0..4] != [0x7f, b'E', b'L', b'F'] || ehdr[4] != 2 {
        return None;
    }
    let phoff = u64::from_le_bytes(ehdr[32..40].try_into().ok()?);
    let phentsize = u64::from(u16::from_le_bytes(ehdr[54..56].try_into().ok()?));
    let phnum = u64::from(u16::from_le_bytes(ehdr[56..58].try_into().ok()?));
    if phentsize < 56 || phnum == 0 || phnum > 64 {
        return None;
    }
    let mut end = 0u64;
    for i in 0..phnum {
        let mut phdr = [0u8; 56];
        if !read(phoff.checked_add(i * phentsize)?, &mut phdr) {
            return None;
        }
        let p_type = u32::from_le_bytes(phdr[0..4].try_into().ok()?);
        if p_type != PT_LOAD {
            continue;
        }
        let vaddr = u64::from_le_bytes(phdr[16..24].try_into().ok()?);
        let memsz = u64::from_le_bytes(phdr[40..48].try_into().ok()?);
        end = end.max(vaddr.checked_add(memsz)?);
    }
    if end == 0 {
        return None;
    }
    Some(end.checked_add(PAGE_SIZE - 1)? & !(PAGE_SIZE - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_is_three_pages_with_headers() {
        let image = elf_image();
        assert_eq!(image.len(), 3 * PAGE_SIZE as usize);
        assert_eq!(&image[0..4], b"\x7fELF");
        let entry = u64::from_le_bytes(image[24..32].try_into().unwrap());
        assert_eq!(entry, STUB_BASE + ENTRY_OFFSET);
    }

    #[test]
    fn code_page_has_injection_and_fork_entries() {
        let image = elf_image();
        let code = &image[PAGE_SIZE as usize..2 * PAGE_SIZE as usize];
        assert_eq!(&code[0..3], &[0x0f, 0x05, 0xcc]);
        assert_eq!(&code[0x10..0x12], &[0x0f, 0x05]);
        // The parent branch lands on the int3 right after the child's loop.
        let jnz_target = 0x17 + usize::from(code[0x16]);
        assert_eq!(jnz_target, 0x3f);
        assert_eq!(code[0x3f], 0xcc);
        // The loop jumps back to the getpid.
        let jmp_target = 0x3f_i64 + i64::from(code[0x3e] as i8);
        assert_eq!(jmp_target, 0x28);
        // Thread entry: the parent lands on an int3, the child parks in a pause loop.
        let clone = CLONE_OFFSET as usize;
        assert_eq!(&code[clone..clone + 2], &[0x0f, 0x05]);
        assert_eq!(clone + 7 + usize::from(code[clone + 6]), 0x60);
        assert_eq!(code[0x60], 0xcc);
        let park = PARK_OFFSET as usize;
        assert_eq!(code[park], 0xb8);
        assert_eq!(0x60_i64 + i64::from(code[0x5f] as i8), PARK_OFFSET as i64);
    }

    #[test]
    fn load_extent_of_own_image() {
        let image = elf_image();
        let extent = elf_load_extent(|off, buf| {
            let off = off as usize;
            match image.get(off..off + buf.len()) {
                Some(src) => {
                    buf.copy_from_slice(src);
                    true
                }
                None => false,
            }
        });
        assert_eq!(extent, Some(STUB_END));
    }
}
