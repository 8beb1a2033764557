//! The stub executable: a tiny static x86_64 ELF built as bytes, with one code page and one
//! scratch page at a fixed address (ELF format per `include/uapi/linux/elf.h`; instruction
//! encodings per the Intel SDM vol. 2). It is exec'd once (the master stub); every other stub is
//! an injected fork of it. No build step and no assembler: each instruction is encoded below,
//! the seccomp-trap platform's handler and fast path as the listing of `stub_systrap.s`.

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
pub const RESTORER_OFFSET: u64 = 0x300;
/// Offset of the seccomp-trap platform's fast path, where a patched syscall site jumps
/// (through `systrap::patch`) with `eax` = the syscall number and `rcx` = the return address:
/// it saves the registers, the flags and the XSAVE state in the slot's fast frame (a
/// `siginfo` and `ucontext` laid out as the kernel lays out a signal frame), runs the
/// handler's hand-off with that frame, and on `RESUME` loads everything back from the frame
/// and jumps to its `rip`. No signal is involved. `gs_base` points at the thread's slot.
pub const FAST_ENTRY_OFFSET: u64 = 0x340;
/// Offset of the seccomp-trap platform's start of a stub process that its handler forked
/// (`slot::EXEC` of clone, `systrap::address_space`): where the child's clone returns. It maps
/// its own slot region and closes its parent's fd-passing socket (it keeps its own, which the
/// parent received with the region's fd), sets PR_SET_PDEATHSIG(SIGKILL), unblocks every
/// signal and reports at the fast path's entry as its first trap (`FORK_CHILD_NR` in place of
/// a syscall number); if a step fails it exits. A new stub thread the handler made starts
/// after it (`thread_child` in `stub_systrap.s`: its slot, its alternate stack, then the same
/// report).
pub const FORK_CHILD_OFFSET: u64 = 0x600;
/// The syscall number the first report of a forked stub carries (`u32::MAX`, no syscall's).
pub const FORK_CHILD_NR: u32 = u32::MAX;
/// Where the seccomp-trap platform's slot region sits in every stub: above the stub pages,
/// aligned to a slot.
pub const SLOTS_BASE: u64 = STUB_BASE + 0x10_0000;
/// Stub threads per address space (application threads per process).
pub const MAX_SLOTS: u64 = 512;
/// Length of the slot region.
pub const SLOTS_LEN: u64 = MAX_SLOTS * slot::SIZE;
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
    /// `u32`: how many host syscalls the sentry asks the waiting handler to make
    /// (`STATE` = `EXEC`), at most `EXEC_MAX`.
    pub const EXEC_COUNT: u64 = 0x40;
    /// The calls, `EXEC_CALL_SIZE` bytes each: the number, six arguments, and the raw result
    /// the handler stores. It makes them in order and stops after the first that fails
    /// (-4095..-1), then reports `TRAPPED` again; the results of calls it did not make stay
    /// as the sentry wrote them.
    pub const EXEC_CALLS: u64 = 0x400;
    pub const EXEC_CALL_SIZE: u64 = 0x40;
    pub const EXEC_RESULT: u64 = 0x38;
    pub const EXEC_MAX: u64 = 4;
    /// The control buffer of the last fd-passing message the handler received on the address
    /// space's own socket (`struct cmsghdr`, then the fds as `int`s): room for `SCM_RIGHTS`
    /// with up to two fds (`CMSG_SPACE(2 * sizeof(int))`).
    pub const FD_CMSG: u64 = 0x260;
    pub const FD_CMSG_SPACE: u64 = 24;
    /// An argument of a host call equal to `FD_ARG + k` (k = 0 or 1) stands for the k-th fd in
    /// `FD_CMSG`: a batch can receive fds and use them at once.
    pub const FD_ARG: u64 = 0xffff_ffff_ffff_ff00;
    /// `u32`: where the fast path stands, for the handler when the sentry's interrupt signal
    /// arrives while stub code runs: `FAST_ENTERING` (set by the fast path at its entry) or
    /// `FAST_RESUMED` (set by the sentry before it resumes a fast frame); anything else
    /// before the first fast entry and after a resume of a signal frame.
    pub const PHASE: u64 = 0x80;
    pub const FAST_ENTERING: u32 = 1;
    pub const FAST_RESUMED: u32 = 2;
    /// `u64`: the XSAVE feature mask the fast path saves and loads (`edx:eax` of xsave64).
    pub const XMASK: u64 = 0x88;
    /// `u32`: the size of the fast frame's XSAVE area.
    pub const FP_LEN: u64 = 0x90;
    /// The alternate signal stack ends where the fast frame begins: the fast path's own stack
    /// (a return address, below `FAST_STACK`), its `siginfo`, `ucontext` and XSAVE area.
    pub const ALTSTACK_END: u64 = 0xb000;
    pub const FAST_STACK: u64 = 0xb100;
    pub const FAST_SIGINFO: u64 = 0xb100;
    pub const FAST_UCONTEXT: u64 = 0xb180;
    pub const FAST_FPSTATE: u64 = 0xb400;
    /// Room for the fast frame's XSAVE area.
    pub const FAST_FPSTATE_MAX: u64 = SIZE - FAST_FPSTATE;
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
    // Seccomp-trap signal handler (HANDLER_OFFSET), restorer (RESTORER_OFFSET) and fast
    // path (FAST_ENTRY_OFFSET): the listing of `stub_systrap.s` in this directory, assembled
    // (`handler_bytes_are_their_assembly` checks that they agree). The handler is entered by
    // a signal with rdi = signo, rsi = siginfo, rdx = ucontext and rsp on the slot's
    // alternate stack, or by the fast path with a frame it built in the slot; register use is
    // free (rt_sigreturn, or the fast path's exit, reloads every register). The hand-off is
    // Dekker-style: each side publishes its word with a locked `xchg` (a full barrier) and
    // then reads the other's "sleeping" word, so a wake-up is never lost and never made when
    // nobody sleeps.
    let handler: &[u8] = &[
        // handler:
        0x83, 0xff, 0x11, // 0x100: cmp edi,0x11
        0x0f, 0x85, 0xa1, 0x00, 0x00, 0x00, // 0x103: jne 1aa <handler_main>
        0x48, 0x8b, 0x82, 0xa8, 0x00, 0x00, 0x00, // 0x109: mov rax,QWORD PTR [rdx+0xa8]
        0x48, 0x8d, 0x0d, 0xe9, 0xfe, 0xff, 0xff, // 0x110: lea rcx,[rip+0xfffffffffffffee9]
        0x48, 0x29, 0xc8, // 0x117: sub rax,rcx
        0x48, 0x3d, 0x00, 0x10, 0x00, 0x00, // 0x11a: cmp rax,0x1000
        0x0f, 0x83, 0x84, 0x00, 0x00, 0x00, // 0x120: jae 1aa <handler_main>
        0x48, 0x3d, 0x40, 0x03, 0x00, 0x00, // 0x126: cmp rax,0x340
        0x74, 0x7b, // 0x12c: je 1a9 <ignore>
        0x48, 0x89, 0xe0, // 0x12e: mov rax,rsp
        0x48, 0x25, 0x00, 0x00, 0xff, 0xff, // 0x131: and rax,0xffffffffffff0000
        0x83, 0xb8, 0x80, 0x00, 0x00, 0x00, 0x02, // 0x137: cmp DWORD PTR [rax+0x80],0x2
        0x75, 0x69, // 0x13e: jne 1a9 <ignore>
        0x49, 0x89, 0xf0, // 0x140: mov r8,rsi
        0x49, 0x89, 0xd1, // 0x143: mov r9,rdx
        0x48, 0x8d, 0xb0, 0xa8, 0xb1, 0x00, 0x00, // 0x146: lea rsi,[rax+0xb1a8]
        0x48, 0x8d, 0x7a, 0x28, // 0x14d: lea rdi,[rdx+0x28]
        0xb9, 0x12, 0x00, 0x00, 0x00, // 0x151: mov ecx,0x12
        0xf3, 0x48, 0xa5, // 0x156: rep movs QWORD PTR es:[rdi],QWORD PTR ds:[rsi]
        0x49, 0x8b, 0xb9, 0xe0, 0x00, 0x00, 0x00, // 0x159: mov rdi,QWORD PTR [r9+0xe0]
        0x48, 0x8d, 0xb0, 0x00, 0xb4, 0x00, 0x00, // 0x160: lea rsi,[rax+0xb400]
        0xb9, 0xd0, 0x01, 0x00, 0x00, // 0x167: mov ecx,0x1d0
        0xf3, 0xa4, // 0x16c: rep movs BYTE PTR es:[rdi],BYTE PTR ds:[rsi]
        0x48, 0x83, 0xc6, 0x30, // 0x16e: add rsi,0x30
        0x48, 0x83, 0xc7, 0x30, // 0x172: add rdi,0x30
        0x8b, 0x88, 0x90, 0x00, 0x00, 0x00, // 0x176: mov ecx,DWORD PTR [rax+0x90]
        0x81, 0xe9, 0x00, 0x02, 0x00, 0x00, // 0x17c: sub ecx,0x200
        0xf3, 0xa4, // 0x182: rep movs BYTE PTR es:[rdi],BYTE PTR ds:[rsi]
        0x48, 0x83, 0x78, 0x28, 0x00, // 0x184: cmp QWORD PTR [rax+0x28],0x0
        0x74, 0x11, // 0x189: je 19c <handler+0x9c>
        0x48, 0x8b, 0x48, 0x20, // 0x18b: mov rcx,QWORD PTR [rax+0x20]
        0xf3, 0x48, 0x0f, 0xae, 0xd1, // 0x18f: wrfsbase rcx
        0x48, 0xc7, 0x40, 0x28, 0x00, 0x00, 0x00, 0x00, // 0x194: mov QWORD PTR [rax+0x28],0x0
        0xbf, 0x11, 0x00, 0x00, 0x00, // 0x19c: mov edi,0x11
        0x4c, 0x89, 0xc6, // 0x1a1: mov rsi,r8
        0x4c, 0x89, 0xca, // 0x1a4: mov rdx,r9
        0xeb, 0x01, // 0x1a7: jmp 1aa <handler_main>
        // ignore:
        0xc3, // 0x1a9: ret
        // handler_main:
        0x48, 0x89, 0xe0, // 0x1aa: mov rax,rsp
        0x48, 0x25, 0x00, 0x00, 0xff, 0xff, // 0x1ad: and rax,0xffffffffffff0000
        0x48, 0x89, 0x70, 0x08, // 0x1b3: mov QWORD PTR [rax+0x8],rsi
        0x48, 0x89, 0x50, 0x10, // 0x1b7: mov QWORD PTR [rax+0x10],rdx
        0xf3, 0x48, 0x0f, 0xae, 0xc1, // 0x1bb: rdfsbase rcx
        0x48, 0x89, 0x48, 0x18, // 0x1c0: mov QWORD PTR [rax+0x18],rcx
        0x49, 0x89, 0xc4, // 0x1c4: mov r12,rax
        // report:
        0xb9, 0x01, 0x00, 0x00, 0x00, // 0x1c7: mov ecx,0x1
        0x41, 0x87, 0x0c, 0x24, // 0x1cc: xchg DWORD PTR [r12],ecx
        0x41, 0x83, 0x7c, 0x24, 0x30, 0x00, // 0x1d0: cmp DWORD PTR [r12+0x30],0x0
        0x74, 0x14, // 0x1d6: je 1ec <report+0x25>
        0x4c, 0x89, 0xe7, // 0x1d8: mov rdi,r12
        0xbe, 0x01, 0x00, 0x00, 0x00, // 0x1db: mov esi,0x1
        0xba, 0x01, 0x00, 0x00, 0x00, // 0x1e0: mov edx,0x1
        0xb8, 0xca, 0x00, 0x00, 0x00, // 0x1e5: mov eax,0xca
        0x0f, 0x05, // 0x1ea: syscall
        0x45, 0x8b, 0x6c, 0x24, 0x38, // 0x1ec: mov r13d,DWORD PTR [r12+0x38]
        0x45, 0x85, 0xed, // 0x1f1: test r13d,r13d
        0x74, 0x0e, // 0x1f4: je 204 <report+0x3d>
        0x41, 0x83, 0x3c, 0x24, 0x01, // 0x1f6: cmp DWORD PTR [r12],0x1
        0x75, 0x11, // 0x1fb: jne 20e <wait>
        0xf3, 0x90, // 0x1fd: pause
        0x41, 0xff, 0xcd, // 0x1ff: dec r13d
        0x75, 0xf2, // 0x202: jne 1f6 <report+0x2f>
        0xb9, 0x01, 0x00, 0x00, 0x00, // 0x204: mov ecx,0x1
        0x41, 0x87, 0x4c, 0x24, 0x34, // 0x209: xchg DWORD PTR [r12+0x34],ecx
        // wait:
        0x41, 0x83, 0x3c, 0x24, 0x02, // 0x20e: cmp DWORD PTR [r12],0x2
        0x74, 0x1d, // 0x213: je 232 <resume>
        0x41, 0x83, 0x3c, 0x24, 0x03, // 0x215: cmp DWORD PTR [r12],0x3
        0x74, 0x43, // 0x21a: je 25f <exec>
        0x4c, 0x89, 0xe7, // 0x21c: mov rdi,r12
        0x31, 0xf6, // 0x21f: xor esi,esi
        0xba, 0x01, 0x00, 0x00, 0x00, // 0x221: mov edx,0x1
        0x45, 0x31, 0xd2, // 0x226: xor r10d,r10d
        0xb8, 0xca, 0x00, 0x00, 0x00, // 0x229: mov eax,0xca
        0x0f, 0x05, // 0x22e: syscall
        0xeb, 0xdc, // 0x230: jmp 20e <wait>
        // resume:
        0x41, 0xc7, 0x44, 0x24, 0x34, 0x00, 0x00, 0x00,
        0x00, // 0x232: mov DWORD PTR [r12+0x34],0x0
        0x41, 0xc7, 0x04, 0x24, 0x00, 0x00, 0x00, 0x00, // 0x23b: mov DWORD PTR [r12],0x0
        0x49, 0x83, 0x7c, 0x24, 0x28, 0x00, // 0x243: cmp QWORD PTR [r12+0x28],0x0
        0x74, 0x13, // 0x249: je 25e <resume+0x2c>
        0x49, 0x8b, 0x4c, 0x24, 0x20, // 0x24b: mov rcx,QWORD PTR [r12+0x20]
        0xf3, 0x48, 0x0f, 0xae, 0xd1, // 0x250: wrfsbase rcx
        0x49, 0xc7, 0x44, 0x24, 0x28, 0x00, 0x00, 0x00,
        0x00, // 0x255: mov QWORD PTR [r12+0x28],0x0
        0xc3, // 0x25e: ret
        // exec:
        0x41, 0xc7, 0x44, 0x24, 0x34, 0x00, 0x00, 0x00,
        0x00, // 0x25f: mov DWORD PTR [r12+0x34],0x0
        0xe9, 0x5d, 0x04, 0x00, 0x00, // 0x268: jmp 6ca <exec_calls>
    ];
    let restorer: &[u8] = &[
        // restorer:
        0xb8, 0x0f, 0x00, 0x00, 0x00, // 0x300: mov eax,0xf
        0x0f, 0x05, // 0x305: syscall
        0xcc, // 0x307: int3
    ];
    let fast: &[u8] = &[
        // fast_entry:
        0x65, 0xc7, 0x04, 0x25, 0x80, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, // 0x340: mov DWORD PTR gs:0x80,0x1
        0x65, 0x48, 0x89, 0x24, 0x25, 0x20, 0xb2, 0x00,
        0x00, // 0x34c: mov QWORD PTR gs:0xb220,rsp
        0xf3, 0x49, 0x0f, 0xae, 0xcb, // 0x355: rdgsbase r11
        0x49, 0x8d, 0xa3, 0x00, 0xb1, 0x00, 0x00, // 0x35a: lea rsp,[r11+0xb100]
        0x9c, // 0x361: pushf
        0x41, 0x5b, // 0x362: pop r11
        0x65, 0x4c, 0x89, 0x1c, 0x25, 0x30, 0xb2, 0x00,
        0x00, // 0x364: mov QWORD PTR gs:0xb230,r11
        0x65, 0x4c, 0x89, 0x1c, 0x25, 0xc0, 0xb1, 0x00,
        0x00, // 0x36d: mov QWORD PTR gs:0xb1c0,r11
        0x65, 0x48, 0x89, 0x0c, 0x25, 0x18, 0xb2, 0x00,
        0x00, // 0x376: mov QWORD PTR gs:0xb218,rcx
        0x65, 0x48, 0x89, 0x0c, 0x25, 0x28, 0xb2, 0x00,
        0x00, // 0x37f: mov QWORD PTR gs:0xb228,rcx
        0x65, 0x89, 0x04, 0x25, 0x18, 0xb1, 0x00, 0x00, // 0x388: mov DWORD PTR gs:0xb118,eax
        0x65, 0x48, 0x89, 0x04, 0x25, 0x10, 0xb2, 0x00,
        0x00, // 0x390: mov QWORD PTR gs:0xb210,rax
        0x65, 0x4c, 0x89, 0x04, 0x25, 0xa8, 0xb1, 0x00,
        0x00, // 0x399: mov QWORD PTR gs:0xb1a8,r8
        0x65, 0x4c, 0x89, 0x0c, 0x25, 0xb0, 0xb1, 0x00,
        0x00, // 0x3a2: mov QWORD PTR gs:0xb1b0,r9
        0x65, 0x4c, 0x89, 0x14, 0x25, 0xb8, 0xb1, 0x00,
        0x00, // 0x3ab: mov QWORD PTR gs:0xb1b8,r10
        0x65, 0x4c, 0x89, 0x24, 0x25, 0xc8, 0xb1, 0x00,
        0x00, // 0x3b4: mov QWORD PTR gs:0xb1c8,r12
        0x65, 0x4c, 0x89, 0x2c, 0x25, 0xd0, 0xb1, 0x00,
        0x00, // 0x3bd: mov QWORD PTR gs:0xb1d0,r13
        0x65, 0x4c, 0x89, 0x34, 0x25, 0xd8, 0xb1, 0x00,
        0x00, // 0x3c6: mov QWORD PTR gs:0xb1d8,r14
        0x65, 0x4c, 0x89, 0x3c, 0x25, 0xe0, 0xb1, 0x00,
        0x00, // 0x3cf: mov QWORD PTR gs:0xb1e0,r15
        0x65, 0x48, 0x89, 0x3c, 0x25, 0xe8, 0xb1, 0x00,
        0x00, // 0x3d8: mov QWORD PTR gs:0xb1e8,rdi
        0x65, 0x48, 0x89, 0x34, 0x25, 0xf0, 0xb1, 0x00,
        0x00, // 0x3e1: mov QWORD PTR gs:0xb1f0,rsi
        0x65, 0x48, 0x89, 0x2c, 0x25, 0xf8, 0xb1, 0x00,
        0x00, // 0x3ea: mov QWORD PTR gs:0xb1f8,rbp
        0x65, 0x48, 0x89, 0x1c, 0x25, 0x00, 0xb2, 0x00,
        0x00, // 0x3f3: mov QWORD PTR gs:0xb200,rbx
        0x65, 0x48, 0x89, 0x14, 0x25, 0x08, 0xb2, 0x00,
        0x00, // 0x3fc: mov QWORD PTR gs:0xb208,rdx
        0xf3, 0x48, 0x0f, 0xae, 0xcb, // 0x405: rdgsbase rbx
        0x8b, 0x83, 0x88, 0x00, 0x00, 0x00, // 0x40a: mov eax,DWORD PTR [rbx+0x88]
        0x8b, 0x93, 0x8c, 0x00, 0x00, 0x00, // 0x410: mov edx,DWORD PTR [rbx+0x8c]
        0x48, 0x0f, 0xae, 0xb3, 0x00, 0xb4, 0x00, 0x00, // 0x416: xsaveopt64 [rbx+0xb400]
        0x48, 0x8d, 0xb3, 0x00, 0xb1, 0x00, 0x00, // 0x41e: lea rsi,[rbx+0xb100]
        0x48, 0x8d, 0x93, 0x80, 0xb1, 0x00, 0x00, // 0x425: lea rdx,[rbx+0xb180]
        0x48, 0x8d, 0x0d, 0x06, 0x00, 0x00, 0x00, // 0x42c: lea rcx,[rip+0x6]
        0x51, // 0x433: push rcx
        0xe9, 0x71, 0xfd, 0xff, 0xff, // 0x434: jmp 1aa <handler_main>
        // fast_exit:
        0xf3, 0x48, 0x0f, 0xae, 0xcb, // 0x439: rdgsbase rbx
        0x8b, 0x83, 0x88, 0x00, 0x00, 0x00, // 0x43e: mov eax,DWORD PTR [rbx+0x88]
        0x8b, 0x93, 0x8c, 0x00, 0x00, 0x00, // 0x444: mov edx,DWORD PTR [rbx+0x8c]
        0x48, 0x0f, 0xae, 0xab, 0x00, 0xb4, 0x00, 0x00, // 0x44a: xrstor64 [rbx+0xb400]
        0x65, 0xff, 0x34, 0x25, 0x30, 0xb2, 0x00, 0x00, // 0x452: push QWORD PTR gs:0xb230
        0x9d, // 0x45a: popf
        0x65, 0x4c, 0x8b, 0x04, 0x25, 0xa8, 0xb1, 0x00,
        0x00, // 0x45b: mov r8,QWORD PTR gs:0xb1a8
        0x65, 0x4c, 0x8b, 0x0c, 0x25, 0xb0, 0xb1, 0x00,
        0x00, // 0x464: mov r9,QWORD PTR gs:0xb1b0
        0x65, 0x4c, 0x8b, 0x14, 0x25, 0xb8, 0xb1, 0x00,
        0x00, // 0x46d: mov r10,QWORD PTR gs:0xb1b8
        0x65, 0x4c, 0x8b, 0x1c, 0x25, 0xc0, 0xb1, 0x00,
        0x00, // 0x476: mov r11,QWORD PTR gs:0xb1c0
        0x65, 0x4c, 0x8b, 0x24, 0x25, 0xc8, 0xb1, 0x00,
        0x00, // 0x47f: mov r12,QWORD PTR gs:0xb1c8
        0x65, 0x4c, 0x8b, 0x2c, 0x25, 0xd0, 0xb1, 0x00,
        0x00, // 0x488: mov r13,QWORD PTR gs:0xb1d0
        0x65, 0x4c, 0x8b, 0x34, 0x25, 0xd8, 0xb1, 0x00,
        0x00, // 0x491: mov r14,QWORD PTR gs:0xb1d8
        0x65, 0x4c, 0x8b, 0x3c, 0x25, 0xe0, 0xb1, 0x00,
        0x00, // 0x49a: mov r15,QWORD PTR gs:0xb1e0
        0x65, 0x48, 0x8b, 0x3c, 0x25, 0xe8, 0xb1, 0x00,
        0x00, // 0x4a3: mov rdi,QWORD PTR gs:0xb1e8
        0x65, 0x48, 0x8b, 0x34, 0x25, 0xf0, 0xb1, 0x00,
        0x00, // 0x4ac: mov rsi,QWORD PTR gs:0xb1f0
        0x65, 0x48, 0x8b, 0x2c, 0x25, 0xf8, 0xb1, 0x00,
        0x00, // 0x4b5: mov rbp,QWORD PTR gs:0xb1f8
        0x65, 0x48, 0x8b, 0x1c, 0x25, 0x00, 0xb2, 0x00,
        0x00, // 0x4be: mov rbx,QWORD PTR gs:0xb200
        0x65, 0x48, 0x8b, 0x14, 0x25, 0x08, 0xb2, 0x00,
        0x00, // 0x4c7: mov rdx,QWORD PTR gs:0xb208
        0x65, 0x48, 0x8b, 0x04, 0x25, 0x10, 0xb2, 0x00,
        0x00, // 0x4d0: mov rax,QWORD PTR gs:0xb210
        0x65, 0x48, 0x8b, 0x0c, 0x25, 0x18, 0xb2, 0x00,
        0x00, // 0x4d9: mov rcx,QWORD PTR gs:0xb218
        0x65, 0x48, 0x8b, 0x24, 0x25, 0x20, 0xb2, 0x00,
        0x00, // 0x4e2: mov rsp,QWORD PTR gs:0xb220
        0x65, 0xff, 0x24, 0x25, 0x28, 0xb2, 0x00, 0x00, // 0x4eb: jmp QWORD PTR gs:0xb228
    ];
    let fork_child: &[u8] = &[
        // fork_child:
        0x4d, 0x89, 0xd7, // 0x600: mov r15,r10
        0x4d, 0x89, 0xc6, // 0x603: mov r14,r8
        0x48, 0xbf, 0x00, 0x00, 0x10, 0x00, 0xf0, 0x7f, 0x00,
        0x00, // 0x606: movabs rdi,0x7ff000100000
        0xbe, 0x00, 0x00, 0x00, 0x02, // 0x610: mov esi,0x2000000
        0xba, 0x03, 0x00, 0x00, 0x00, // 0x615: mov edx,0x3
        0x41, 0xba, 0x11, 0x00, 0x00, 0x00, // 0x61a: mov r10d,0x11
        0x4d, 0x89, 0xf8, // 0x620: mov r8,r15
        0x45, 0x31, 0xc9, // 0x623: xor r9d,r9d
        0xb8, 0x09, 0x00, 0x00, 0x00, // 0x626: mov eax,0x9
        0x0f, 0x05, // 0x62b: syscall
        0x48, 0x39, 0xf8, // 0x62d: cmp rax,rdi
        0x75, 0x4f, // 0x630: jne 681 <fork_child_failed>
        0x4c, 0x89, 0xf7, // 0x632: mov rdi,r14
        0xb8, 0x03, 0x00, 0x00, 0x00, // 0x635: mov eax,0x3
        0x0f, 0x05, // 0x63a: syscall
        0x4c, 0x89, 0xff, // 0x63c: mov rdi,r15
        0xb8, 0x03, 0x00, 0x00, 0x00, // 0x63f: mov eax,0x3
        0x0f, 0x05, // 0x644: syscall
        0xbf, 0x01, 0x00, 0x00, 0x00, // 0x646: mov edi,0x1
        0xbe, 0x09, 0x00, 0x00, 0x00, // 0x64b: mov esi,0x9
        0xb8, 0x9d, 0x00, 0x00, 0x00, // 0x650: mov eax,0x9d
        0x0f, 0x05, // 0x655: syscall
        // child_report:
        0x6a, 0x00, // 0x657: push 0x0
        0xbf, 0x02, 0x00, 0x00, 0x00, // 0x659: mov edi,0x2
        0x48, 0x89, 0xe6, // 0x65e: mov rsi,rsp
        0x31, 0xd2, // 0x661: xor edx,edx
        0x41, 0xba, 0x08, 0x00, 0x00, 0x00, // 0x663: mov r10d,0x8
        0xb8, 0x0e, 0x00, 0x00, 0x00, // 0x669: mov eax,0xe
        0x0f, 0x05, // 0x66e: syscall
        0xb8, 0xff, 0xff, 0xff, 0xff, // 0x670: mov eax,0xffffffff
        0x48, 0x8d, 0x0d, 0x05, 0x00, 0x00, 0x00, // 0x675: lea rcx,[rip+0x5]
        0xe9, 0xbf, 0xfc, 0xff, 0xff, // 0x67c: jmp 340 <fast_entry>
        // fork_child_failed:
        0xbf, 0x01, 0x00, 0x00, 0x00, // 0x681: mov edi,0x1
        0xb8, 0xe7, 0x00, 0x00, 0x00, // 0x686: mov eax,0xe7
        0x0f, 0x05, // 0x68b: syscall
        0x0f, 0x0b, // 0x68d: ud2
        // thread_child:
        0x49, 0x89, 0xe4, // 0x68f: mov r12,rsp
        0x49, 0x81, 0xe4, 0x00, 0x00, 0xff, 0xff, // 0x692: and r12,0xffffffffffff0000
        0xf3, 0x49, 0x0f, 0xae, 0xdc, // 0x699: wrgsbase r12
        0x49, 0x8d, 0x84, 0x24, 0x00, 0x10, 0x00, 0x00, // 0x69e: lea rax,[r12+0x1000]
        0x68, 0x00, 0xa0, 0x00, 0x00, // 0x6a6: push 0xa000
        0x6a, 0x00, // 0x6ab: push 0x0
        0x50, // 0x6ad: push rax
        0x48, 0x89, 0xe7, // 0x6ae: mov rdi,rsp
        0x31, 0xf6, // 0x6b1: xor esi,esi
        0xb8, 0x83, 0x00, 0x00, 0x00, // 0x6b3: mov eax,0x83
        0x0f, 0x05, // 0x6b8: syscall
        0x48, 0x85, 0xc0, // 0x6ba: test rax,rax
        0x74, 0x98, // 0x6bd: je 657 <child_report>
        // thread_child_failed:
        0x31, 0xff, // 0x6bf: xor edi,edi
        0xb8, 0x3c, 0x00, 0x00, 0x00, // 0x6c1: mov eax,0x3c
        0x0f, 0x05, // 0x6c6: syscall
        0x0f, 0x0b, // 0x6c8: ud2
        // exec_calls:
        0x4d, 0x8d, 0xb4, 0x24, 0x00, 0x04, 0x00, 0x00, // 0x6ca: lea r14,[r12+0x400]
        0x45, 0x8b, 0x7c, 0x24, 0x40, // 0x6d2: mov r15d,DWORD PTR [r12+0x40]
        0x41, 0x83, 0xff, 0x04, // 0x6d7: cmp r15d,0x4
        0x76, 0x06, // 0x6db: jbe 6e3 <exec_calls+0x19>
        0x41, 0xbf, 0x04, 0x00, 0x00, 0x00, // 0x6dd: mov r15d,0x4
        0x45, 0x85, 0xff, // 0x6e3: test r15d,r15d
        0x0f, 0x84, 0xdb, 0xfa, 0xff, 0xff, // 0x6e6: je 1c7 <report>
        0x49, 0x8b, 0x4e, 0x08, // 0x6ec: mov rcx,QWORD PTR [r14+0x8]
        0xe8, 0x7f, 0x00, 0x00, 0x00, // 0x6f0: call 774 <fd_arg>
        0x48, 0x89, 0xcf, // 0x6f5: mov rdi,rcx
        0x49, 0x8b, 0x4e, 0x10, // 0x6f8: mov rcx,QWORD PTR [r14+0x10]
        0xe8, 0x73, 0x00, 0x00, 0x00, // 0x6fc: call 774 <fd_arg>
        0x48, 0x89, 0xce, // 0x701: mov rsi,rcx
        0x49, 0x8b, 0x4e, 0x18, // 0x704: mov rcx,QWORD PTR [r14+0x18]
        0xe8, 0x67, 0x00, 0x00, 0x00, // 0x708: call 774 <fd_arg>
        0x48, 0x89, 0xca, // 0x70d: mov rdx,rcx
        0x49, 0x8b, 0x4e, 0x20, // 0x710: mov rcx,QWORD PTR [r14+0x20]
        0xe8, 0x5b, 0x00, 0x00, 0x00, // 0x714: call 774 <fd_arg>
        0x49, 0x89, 0xca, // 0x719: mov r10,rcx
        0x49, 0x8b, 0x4e, 0x28, // 0x71c: mov rcx,QWORD PTR [r14+0x28]
        0xe8, 0x4f, 0x00, 0x00, 0x00, // 0x720: call 774 <fd_arg>
        0x49, 0x89, 0xc8, // 0x725: mov r8,rcx
        0x49, 0x8b, 0x4e, 0x30, // 0x728: mov rcx,QWORD PTR [r14+0x30]
        0xe8, 0x43, 0x00, 0x00, 0x00, // 0x72c: call 774 <fd_arg>
        0x49, 0x89, 0xc9, // 0x731: mov r9,rcx
        0x49, 0x8b, 0x06, // 0x734: mov rax,QWORD PTR [r14]
        0x48, 0x89, 0xc3, // 0x737: mov rbx,rax
        0x0f, 0x05, // 0x73a: syscall
        0x48, 0x83, 0xfb, 0x38, // 0x73c: cmp rbx,0x38
        0x75, 0x16, // 0x740: jne 758 <exec_calls+0x8e>
        0x48, 0x85, 0xc0, // 0x742: test rax,rax
        0x75, 0x11, // 0x745: jne 758 <exec_calls+0x8e>
        0xf7, 0xc7, 0x00, 0x01, 0x00, 0x00, // 0x747: test edi,0x100
        0x0f, 0x85, 0x3c, 0xff, 0xff, 0xff, // 0x74d: jne 68f <thread_child>
        0xe9, 0xa8, 0xfe, 0xff, 0xff, // 0x753: jmp 600 <fork_child>
        0x49, 0x89, 0x46, 0x38, // 0x758: mov QWORD PTR [r14+0x38],rax
        0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, // 0x75c: cmp rax,0xfffffffffffff001
        0x0f, 0x83, 0x5f, 0xfa, 0xff, 0xff, // 0x762: jae 1c7 <report>
        0x49, 0x83, 0xc6, 0x40, // 0x768: add r14,0x40
        0x41, 0xff, 0xcf, // 0x76c: dec r15d
        0xe9, 0x6f, 0xff, 0xff, 0xff, // 0x76f: jmp 6e3 <exec_calls+0x19>
        // fd_arg:
        0x48, 0x89, 0xc8, // 0x774: mov rax,rcx
        0x48, 0x2d, 0x00, 0xff, 0xff, 0xff, // 0x777: sub rax,0xffffffffffffff00
        0x48, 0x83, 0xf8, 0x02, // 0x77d: cmp rax,0x2
        0x73, 0x08, // 0x781: jae 78b <fd_arg+0x17>
        0x41, 0x8b, 0x8c, 0x84, 0x70, 0x02, 0x00,
        0x00, // 0x783: mov ecx,DWORD PTR [r12+rax*4+0x270]
        0xc3, // 0x78b: ret
    ];
    for (offset, code) in [
        (INJECT_OFFSET, inject),
        (FORK_OFFSET, fork),
        (ENTRY_OFFSET, entry),
        (CLONE_OFFSET, clone),
        (FORK_PARK_OFFSET, fork_park),
        (HANDLER_OFFSET, handler),
        (RESTORER_OFFSET, restorer),
        (FAST_ENTRY_OFFSET, fast),
        (FORK_CHILD_OFFSET, fork_child),
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

    /// The seccomp-trap part of the code page is the assembly of `stub_systrap.s` (binutils'
    /// `as` and `objcopy`, which the C toolchain the tests use brings along). The source is
    /// compiled into the test and fed to `as` on stdin; the object and the raw bytes are
    /// the test's own scratch files (this is test code: the sentry itself opens no path).
    #[test]
    fn handler_bytes_are_their_assembly() {
        use std::io::Write;
        let text = include_str!("stub_systrap.s");
        let dir = std::env::temp_dir().join(format!("stub-asm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let object = dir.join("stub.o");
        let binary = dir.join("stub.bin");
        let mut assembler = std::process::Command::new("as")
            .args(["--64", "-o"])
            .arg(&object)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("binutils' as runs");
        let mut stdin = assembler.stdin.take().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        drop(stdin);
        assert!(assembler.wait().unwrap().success());
        let status = std::process::Command::new("objcopy")
            .args(["-O", "binary", "-j", ".text"])
            .arg(&object)
            .arg(&binary)
            .status()
            .expect("binutils' objcopy runs");
        assert!(status.success());
        // The assembly's names for the slot's words are the ones in `slot`.
        let value_of = |name: &str| {
            let prefix = format!(".set {name}, ");
            let line = text
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with(&prefix))
                .unwrap_or_else(|| panic!("{name} is set in stub_systrap.s"));
            let value = line[prefix.len()..].trim();
            u64::from_str_radix(value.trim_start_matches("0x"), 16).unwrap()
        };
        for (name, value) in [
            ("STATE", slot::STATE),
            ("SIGINFO", slot::SIGINFO),
            ("UCONTEXT", slot::UCONTEXT),
            ("FS_BASE", slot::FS_BASE),
            ("NEW_FS_BASE", slot::NEW_FS_BASE),
            ("SET_FS", slot::SET_FS),
            ("SENTRY_SLEEPING", slot::SENTRY_SLEEPING),
            ("STUB_SLEEPING", slot::STUB_SLEEPING),
            ("SPIN_LIMIT", slot::SPIN_LIMIT),
            ("EXEC_COUNT", slot::EXEC_COUNT),
            ("EXEC_CALLS", slot::EXEC_CALLS),
            ("EXEC_CALL_SIZE", slot::EXEC_CALL_SIZE),
            ("EXEC_RESULT", slot::EXEC_RESULT),
            ("EXEC_MAX", slot::EXEC_MAX),
            ("FD_CMSG", slot::FD_CMSG),
            ("FD_ARG", slot::FD_ARG),
            ("PHASE", slot::PHASE),
            ("XMASK", slot::XMASK),
            ("FP_LEN", slot::FP_LEN),
            ("FAST_ENTERING", u64::from(slot::FAST_ENTERING)),
            ("FAST_RESUMED", u64::from(slot::FAST_RESUMED)),
            ("ALTSTACK_END", slot::ALTSTACK_END),
            ("FAST_STACK", slot::FAST_STACK),
            ("FAST_SI", slot::FAST_SIGINFO),
            ("FAST_UC", slot::FAST_UCONTEXT),
            ("FAST_FP", slot::FAST_FPSTATE),
            ("TRAPPED", u64::from(slot::TRAPPED)),
            ("RESUME", u64::from(slot::RESUME)),
            ("EXEC", u64::from(slot::EXEC)),
            ("INTERRUPT_SIGNAL", super::super::INTERRUPT_SIGNAL as u64),
            ("SLOTS_BASE", SLOTS_BASE),
            ("SLOTS_LEN", SLOTS_LEN),
            ("FORK_CHILD_NR", u64::from(FORK_CHILD_NR)),
        ] {
            assert_eq!(value_of(name), value, "{name}");
        }
        let assembled = std::fs::read(&binary).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let page = code_page();
        let start = HANDLER_OFFSET as usize;
        assert!(assembled.len() > FORK_CHILD_OFFSET as usize);
        assert_eq!(&page[start..assembled.len()], &assembled[start..]);
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
