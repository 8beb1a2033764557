//! The seccomp filter every systrap stub process carries (seccomp(2) `SECCOMP_SET_MODE_FILTER`,
//! classic BPF over `struct seccomp_data`, `include/uapi/linux/seccomp.h`). Built with
//! seccompiler's instruction type: seccompiler's rule compiler matches only syscall numbers and
//! arguments, and this filter must match the instruction pointer.
//!
//! The rules, in order:
//! - a syscall from outside the stub's code page is the application's: `SECCOMP_RET_TRAP`, so
//!   the stub's SIGSYS handler hands it to the sentry and the host never runs it;
//! - from the stub's code page, the calls its own code makes without a tracer are allowed:
//!   rt_sigreturn (the handler's return), futex FUTEX_WAIT/FUTEX_WAKE (the hand-off), pause (a
//!   parked stub thread), prctl(PR_SET_PDEATHSIG), rt_sigprocmask, sigaltstack, close, exit and
//!   exit_group (a new stub process or thread), and the host calls the sentry has the handler
//!   make (`slot::EXEC`): mmap, munmap, mprotect and mremap below `EXEC_ADDR_LIMIT` or from
//!   `EXEC_ADDR_RESUME` up, recvmsg on any fd but the shared fd-passing socket
//!   (`STUB_SOCKET_FD`), clone with exactly the flags of a stub fork or of a new stub thread,
//!   and, for a forked stub, mmap of exactly its slot region. Application code that jumps there
//!   can make those too. They change only its own address space and fds, never the stub's
//!   pages (the bound), and the sentry's view of the address space is not trusted for anything
//!   but the application's own accesses. What it could take from its address space's own
//!   socket is only what the sentry lets go that way, fds that give it nothing it could not do
//!   already (`address_space.rs`, `map_file`); no dup is allowed, so the shared socket, which
//!   the sentry uses for the others, stays at a number it cannot receive on. A fork it makes
//!   itself is a host process the sentry does not know, with this filter, confined to its own
//!   address space like its parent, and a thread it makes runs its own code as any of its
//!   threads does (either costs only host resources, within the container's cgroup). Ptrace
//!   injection checks every traced stop (`inject::inject_syscall`), so a stub page rewritten
//!   by the application cannot borrow the tracer's privilege;
//! - any other call from the stub's code page is `SECCOMP_RET_TRACE`: it runs only when the
//!   sentry injects it into a stub thread it traces; from an untraced thread (application code
//!   that jumped into the stub page with registers of its choosing) it fails with ENOSYS.
//!   This is what keeps the application from using the stub's `syscall` instructions to make
//!   other host calls (mmap of the stub's pages, a clone of a thread, kill, open) itself;
//! - a syscall of another architecture (int 0x80) traps too; the sentry answers with SIGSEGV.

use seccompiler::sock_filter;

use super::address_space::{SLOTS_BASE, SLOTS_LEN};
use crate::platform::ptrace::stub::{PAGE_SIZE, STUB_BASE, STUB_SOCKET_FD};
use crate::platform::ptrace::{FORK_CLONE_FLAGS, THREAD_CLONE_FLAGS};

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_JGE_K: u16 = 0x35;
const BPF_RET_K: u16 = 0x06;

const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
/// `AUDIT_ARCH_X86_64` (`include/uapi/linux/audit.h`).
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

/// Offsets in `struct seccomp_data`.
const NR: u32 = 0;
const ARCH: u32 = 4;
const IP_LO: u32 = 8;
const IP_HI: u32 = 12;
const ARG0_LO: u32 = 16;
const ARG0_HI: u32 = 20;
const ARG1_LO: u32 = 24;
const ARG1_HI: u32 = 28;
const ARG2_HI: u32 = 36;
const ARG4_HI: u32 = 52;

fn load(offset: u32) -> sock_filter {
    sock_filter {
        code: BPF_LD_W_ABS,
        jt: 0,
        jf: 0,
        k: offset,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

fn ret(k: u32) -> sock_filter {
    sock_filter {
        code: BPF_RET_K,
        jt: 0,
        jf: 0,
        k,
    }
}

/// Mapping calls from the stub page run untraced only below `EXEC_ADDR_LIMIT` or from
/// `EXEC_ADDR_RESUME` up (the application's usual mappings sit just below the stack), and with
/// lengths under 4 GiB, so that they can never reach the stub's own pages, which lie between
/// the two; the sentry makes the rare others by ptrace injection (`SECCOMP_RET_TRACE`).
pub const EXEC_ADDR_LIMIT: u64 = 0x7fef_0000_0000;
/// See `EXEC_ADDR_LIMIT`: above the stub and its slot region.
pub const EXEC_ADDR_RESUME: u64 = 0x7ff1_0000_0000;
/// Length limit of an untraced mapping call (exclusive).
pub const EXEC_LEN_LIMIT: u64 = 1 << 32;

/// One instruction of the stub filter before its jumps are resolved: jump targets are names
/// (`NEXT`: the following instruction; any other name: the instruction labelled so).
enum Insn {
    Label(&'static str),
    Load(u32),
    Jump(u16, u32, &'static str, &'static str),
    Ret(u32),
}

const NEXT: &str = "";

/// Resolves the labels of `program` into classic BPF's relative jump offsets.
fn assemble(program: &[Insn]) -> Vec<sock_filter> {
    let mut labels = std::collections::HashMap::new();
    let mut index = 0usize;
    for insn in program {
        match insn {
            Insn::Label(name) => {
                labels.insert(*name, index);
            }
            _ => index += 1,
        }
    }
    let mut out = Vec::with_capacity(index);
    for insn in program {
        let here = out.len();
        let offset = |target: &str| -> u8 {
            if target == NEXT {
                return 0;
            }
            let to = labels[target];
            u8::try_from(to - here - 1).expect("invariant: forward jumps within 255")
        };
        match *insn {
            Insn::Label(_) => {}
            Insn::Load(k) => out.push(load(k)),
            Insn::Jump(code, k, jt, jf) => out.push(jump(code, k, offset(jt), offset(jf))),
            Insn::Ret(k) => out.push(ret(k)),
        }
    }
    out
}

/// The stub filter.
pub fn stub_filter() -> Vec<sock_filter> {
    use Insn::{Jump, Label, Load, Ret};
    let code_lo = STUB_BASE as u32;
    let code_hi = (STUB_BASE >> 32) as u32;
    let addr_hi_limit = (EXEC_ADDR_LIMIT >> 32) as u32;
    let addr_hi_resume = (EXEC_ADDR_RESUME >> 32) as u32;
    let nr = |n: i64| n as u32;
    let fork_flags = FORK_CLONE_FLAGS;
    const _: () = assert!(FORK_CLONE_FLAGS >> 32 == 0 && THREAD_CLONE_FLAGS >> 32 == 0);
    let shared_socket_fd = STUB_SOCKET_FD as u32;
    assemble(&[
        Load(ARCH),
        Jump(BPF_JEQ_K, AUDIT_ARCH_X86_64, NEXT, "trap"),
        Load(IP_HI),
        Jump(BPF_JEQ_K, code_hi, NEXT, "trap"),
        Load(IP_LO),
        Jump(BPF_JGE_K, code_lo, NEXT, "trap"),
        Jump(BPF_JGE_K, code_lo + PAGE_SIZE as u32, "trap", NEXT),
        Load(NR),
        Jump(BPF_JEQ_K, nr(libc::SYS_rt_sigreturn), "allow", NEXT),
        Jump(BPF_JEQ_K, nr(libc::SYS_pause), "allow", NEXT),
        Jump(BPF_JEQ_K, nr(libc::SYS_close), "allow", NEXT),
        Jump(BPF_JEQ_K, nr(libc::SYS_rt_sigprocmask), "allow", NEXT),
        Jump(BPF_JEQ_K, nr(libc::SYS_exit_group), "allow", NEXT),
        Jump(BPF_JEQ_K, nr(libc::SYS_exit), "allow", NEXT),
        Jump(BPF_JEQ_K, nr(libc::SYS_sigaltstack), "allow", NEXT),
        Jump(BPF_JEQ_K, nr(libc::SYS_futex), "futex", NEXT),
        Jump(BPF_JEQ_K, nr(libc::SYS_prctl), "prctl", NEXT),
        Jump(BPF_JEQ_K, nr(libc::SYS_recvmsg), "recvmsg", NEXT),
        Jump(BPF_JEQ_K, nr(libc::SYS_clone), "clone", NEXT),
        Jump(BPF_JEQ_K, nr(libc::SYS_mmap), "mmap", NEXT),
        Jump(BPF_JEQ_K, nr(libc::SYS_munmap), "mapping", NEXT),
        Jump(BPF_JEQ_K, nr(libc::SYS_mprotect), "mapping", NEXT),
        Jump(BPF_JEQ_K, nr(libc::SYS_mremap), NEXT, "trace"),
        // mremap: the new length (arg 2) and the new address (arg 4) are bounded too.
        Load(ARG2_HI),
        Jump(BPF_JEQ_K, 0, NEXT, "trace"),
        Load(ARG4_HI),
        Jump(BPF_JGE_K, addr_hi_resume, "mapping", NEXT),
        Jump(BPF_JGE_K, addr_hi_limit, "trace", "mapping"),
        // FUTEX_WAIT is 0 and FUTEX_WAKE 1; anything else (PI, requeue, private) traces.
        Label("futex"),
        Load(ARG1_LO),
        Jump(BPF_JGE_K, 2, "trace", "allow"),
        Label("prctl"),
        Load(ARG0_LO),
        Jump(BPF_JEQ_K, libc::PR_SET_PDEATHSIG as u32, "allow", "trace"),
        // Never on the shared socket, through which the sentry passes fds the application
        // must not get (the kernel reads the fd as an int); its address space's own socket,
        // and anything else it has, are its own.
        Label("recvmsg"),
        Load(ARG0_LO),
        Jump(BPF_JEQ_K, shared_socket_fd, "trace", "allow"),
        // Only a fork of the stub or a new stub thread, with exactly the platform's flags.
        Label("clone"),
        Load(ARG0_HI),
        Jump(BPF_JEQ_K, 0, NEXT, "trace"),
        Load(ARG0_LO),
        Jump(BPF_JEQ_K, fork_flags as u32, "allow", NEXT),
        Jump(BPF_JEQ_K, THREAD_CLONE_FLAGS as u32, "allow", "trace"),
        // mmap of exactly the slot region (a forked stub maps its own), else bounded.
        Label("mmap"),
        Load(ARG0_LO),
        Jump(BPF_JEQ_K, SLOTS_BASE as u32, NEXT, "mapping"),
        Load(ARG0_HI),
        Jump(BPF_JEQ_K, (SLOTS_BASE >> 32) as u32, NEXT, "mapping"),
        Load(ARG1_LO),
        Jump(BPF_JEQ_K, SLOTS_LEN as u32, NEXT, "mapping"),
        Load(ARG1_HI),
        Jump(BPF_JEQ_K, (SLOTS_LEN >> 32) as u32, "allow", "mapping"),
        // mmap, munmap, mprotect, mremap: the address (arg 0) and length (arg 1).
        Label("mapping"),
        Load(ARG0_HI),
        Jump(BPF_JGE_K, addr_hi_resume, "length", NEXT),
        Jump(BPF_JGE_K, addr_hi_limit, "trace", NEXT),
        Label("length"),
        Load(ARG1_HI),
        Jump(BPF_JEQ_K, 0, "allow", "trace"),
        Label("trace"),
        Ret(SECCOMP_RET_TRACE),
        Label("trap"),
        Ret(SECCOMP_RET_TRAP),
        Label("allow"),
        Ret(SECCOMP_RET_ALLOW),
    ])
}

/// The filter as the bytes of a `struct sock_filter[]` (8 bytes each, little endian), to be
/// written into stub memory.
pub fn to_bytes(program: &[sock_filter]) -> Vec<u8> {
    let mut out = Vec::with_capacity(program.len() * 8);
    for insn in program {
        out.extend_from_slice(&insn.code.to_le_bytes());
        out.push(insn.jt);
        out.push(insn.jf);
        out.extend_from_slice(&insn.k.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a classic BPF program of the kinds `stub_filter` uses over a `seccomp_data`.
    fn run(program: &[sock_filter], nr: i64, arch: u32, ip: u64, args: [u64; 2]) -> u32 {
        run6(program, nr, arch, ip, [args[0], args[1], 0, 0, 0, 0])
    }

    fn run6(program: &[sock_filter], nr: i64, arch: u32, ip: u64, args: [u64; 6]) -> u32 {
        let word = |offset: u32| -> u32 {
            match offset {
                NR => nr as u32,
                ARCH => arch,
                IP_LO => ip as u32,
                IP_HI => (ip >> 32) as u32,
                16..=63 if offset.is_multiple_of(4) => {
                    let arg = args[(offset as usize - 16) / 8];
                    if offset.is_multiple_of(8) {
                        arg as u32
                    } else {
                        (arg >> 32) as u32
                    }
                }
                other => panic!("unexpected load at {other}"),
            }
        };
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let insn = &program[pc];
            pc += 1;
            match insn.code {
                BPF_LD_W_ABS => acc = word(insn.k),
                BPF_JEQ_K | BPF_JGE_K => {
                    let taken = if insn.code == BPF_JEQ_K {
                        acc == insn.k
                    } else {
                        acc >= insn.k
                    };
                    pc += usize::from(if taken { insn.jt } else { insn.jf });
                }
                BPF_RET_K => return insn.k,
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn application_syscalls_trap_and_stub_calls_are_narrow() {
        let f = stub_filter();
        let x86 = AUDIT_ARCH_X86_64;
        let app = 0x40_1000;
        let stub = STUB_BASE + 0x137;
        // Anything from application code traps, even the calls the stub may make.
        for nr in [
            libc::SYS_getpid,
            libc::SYS_futex,
            libc::SYS_rt_sigreturn,
            libc::SYS_mmap,
        ] {
            assert_eq!(run(&f, nr, x86, app, [0, 0]), SECCOMP_RET_TRAP, "{nr}");
        }
        // Just outside the stub page on either side traps too.
        assert_eq!(
            run(&f, libc::SYS_pause, x86, STUB_BASE - 1, [0, 0]),
            SECCOMP_RET_TRAP
        );
        let after = STUB_BASE + PAGE_SIZE;
        assert_eq!(
            run(&f, libc::SYS_pause, x86, after, [0, 0]),
            SECCOMP_RET_TRAP
        );
        // Another architecture traps wherever it comes from.
        assert_eq!(run(&f, 20, 0x4000_0003, stub, [0, 0]), SECCOMP_RET_TRAP);
        // The stub's own untraced calls.
        assert_eq!(
            run(&f, libc::SYS_rt_sigreturn, x86, stub, [0, 0]),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(
            run(&f, libc::SYS_pause, x86, stub, [0, 0]),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(
            run(&f, libc::SYS_futex, x86, stub, [0, 0]),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(
            run(&f, libc::SYS_futex, x86, stub, [0, 1]),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(
            run(&f, libc::SYS_futex, x86, stub, [0, 6]),
            SECCOMP_RET_TRACE
        );
        assert_eq!(
            run(&f, libc::SYS_futex, x86, stub, [0, 128]),
            SECCOMP_RET_TRACE
        );
        assert_eq!(
            run(&f, libc::SYS_prctl, x86, stub, [1, 9]),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(
            run(&f, libc::SYS_prctl, x86, stub, [38, 1]),
            SECCOMP_RET_TRACE
        );
        // Everything else from the stub page needs a tracer.
        for nr in [
            libc::SYS_kill,
            libc::SYS_clone,
            libc::SYS_seccomp,
            libc::SYS_openat,
            libc::SYS_dup,
        ] {
            assert_eq!(run(&f, nr, x86, stub, [0, 0]), SECCOMP_RET_TRACE, "{nr}");
        }
    }

    #[test]
    fn the_handler_may_fork_and_receive_only_in_the_narrow_shapes() {
        let f = stub_filter();
        let x86 = AUDIT_ARCH_X86_64;
        let stub = STUB_BASE + 0x28e;
        let sock = STUB_SOCKET_FD as u64;
        // recvmsg on anything but the shared socket (in the high bits too: the fd is an int).
        assert_eq!(
            run(&f, libc::SYS_recvmsg, x86, stub, [sock + 1, 0x1000]),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(
            run(&f, libc::SYS_recvmsg, x86, stub, [sock, 0x1000]),
            SECCOMP_RET_TRACE
        );
        assert_eq!(
            run(&f, libc::SYS_recvmsg, x86, stub, [sock | 1 << 32, 0x1000]),
            SECCOMP_RET_TRACE
        );
        // No way to move the shared socket to another number.
        for nr in [
            libc::SYS_dup,
            libc::SYS_dup2,
            libc::SYS_dup3,
            libc::SYS_fcntl,
        ] {
            assert_eq!(run(&f, nr, x86, stub, [sock, 7]), SECCOMP_RET_TRACE, "{nr}");
        }
        // clone: a fork with exactly the platform's flags; a thread or anything else traces.
        assert_eq!(
            run(&f, libc::SYS_clone, x86, stub, [FORK_CLONE_FLAGS, 0]),
            SECCOMP_RET_ALLOW
        );
        let thread = (libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND) as u64;
        for flags in [
            thread,
            FORK_CLONE_FLAGS | libc::CLONE_VM as u64,
            0,
            FORK_CLONE_FLAGS | 1 << 32,
        ] {
            assert_eq!(
                run(&f, libc::SYS_clone, x86, stub, [flags, 0]),
                SECCOMP_RET_TRACE,
                "{flags:#x}"
            );
        }
        // mmap of exactly the slot region, from the stub page; not a part of it.
        assert_eq!(
            run(&f, libc::SYS_mmap, x86, stub, [SLOTS_BASE, SLOTS_LEN]),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(
            run(
                &f,
                libc::SYS_mmap,
                x86,
                stub,
                [SLOTS_BASE, SLOTS_LEN - PAGE_SIZE]
            ),
            SECCOMP_RET_TRACE
        );
        assert_eq!(
            run(&f, libc::SYS_mmap, x86, stub, [STUB_BASE, SLOTS_LEN]),
            SECCOMP_RET_TRACE
        );
        assert_eq!(
            run(&f, libc::SYS_munmap, x86, stub, [SLOTS_BASE, SLOTS_LEN]),
            SECCOMP_RET_TRACE
        );
        // close, rt_sigprocmask and exit_group, which change only the stub itself.
        for nr in [
            libc::SYS_close,
            libc::SYS_rt_sigprocmask,
            libc::SYS_exit_group,
            libc::SYS_exit,
            libc::SYS_sigaltstack,
        ] {
            assert_eq!(run(&f, nr, x86, stub, [9, 0]), SECCOMP_RET_ALLOW, "{nr}");
        }
        // From application code every one of them traps.
        for nr in [libc::SYS_recvmsg, libc::SYS_clone, libc::SYS_close] {
            assert_eq!(
                run(&f, nr, x86, 0x40_1000, [sock, FORK_CLONE_FLAGS]),
                SECCOMP_RET_TRAP
            );
        }
    }

    #[test]
    fn bytes_are_eight_per_instruction() {
        let f = stub_filter();
        let bytes = to_bytes(&f);
        assert_eq!(bytes.len(), f.len() * 8);
        assert_eq!(&bytes[0..2], &BPF_LD_W_ABS.to_le_bytes());
        assert_eq!(&bytes[4..8], &ARCH.to_le_bytes());
    }

    #[test]
    fn mapping_calls_from_the_stub_are_bounded() {
        let f = stub_filter();
        let x86 = AUDIT_ARCH_X86_64;
        let stub = STUB_BASE + 0x1e3;
        let below = EXEC_ADDR_LIMIT - 0x1000;
        for nr in [libc::SYS_mmap, libc::SYS_munmap, libc::SYS_mprotect] {
            assert_eq!(
                run(&f, nr, x86, stub, [0x40_0000, 0x1000]),
                SECCOMP_RET_ALLOW
            );
            assert_eq!(run(&f, nr, x86, stub, [below, 0x1000]), SECCOMP_RET_ALLOW);
            // At the limit, at the stub, or a length that could reach it: traced only.
            assert_eq!(
                run(&f, nr, x86, stub, [EXEC_ADDR_LIMIT, 0x1000]),
                SECCOMP_RET_TRACE
            );
            assert_eq!(
                run(&f, nr, x86, stub, [STUB_BASE, 0x1000]),
                SECCOMP_RET_TRACE
            );
            assert_eq!(run(&f, nr, x86, stub, [below, 1 << 32]), SECCOMP_RET_TRACE);
            // From application code they trap as always.
            assert_eq!(run(&f, nr, x86, 0x40_1000, [0, 0x1000]), SECCOMP_RET_TRAP);
        }
        let mremap = |old: u64, new_len: u64, new_addr: u64| {
            run6(
                &f,
                libc::SYS_mremap,
                x86,
                stub,
                [old, 0x1000, new_len, 3, new_addr, 0],
            )
        };
        assert_eq!(mremap(0x40_0000, 0x2000, 0x50_0000), SECCOMP_RET_ALLOW);
        assert_eq!(mremap(0x40_0000, 0x2000, STUB_BASE), SECCOMP_RET_TRACE);
        assert_eq!(mremap(0x40_0000, 1 << 32, 0x50_0000), SECCOMP_RET_TRACE);
        assert_eq!(mremap(STUB_BASE, 0x2000, 0x50_0000), SECCOMP_RET_TRACE);
        // Above the stub and its slots (where the application's mappings usually are).
        let high = 0x7fff_f7ff_0000;
        for nr in [libc::SYS_mmap, libc::SYS_munmap, libc::SYS_mprotect] {
            assert_eq!(run(&f, nr, x86, stub, [high, 0x1000]), SECCOMP_RET_ALLOW);
            let edge = EXEC_ADDR_RESUME;
            assert_eq!(run(&f, nr, x86, stub, [edge, 0x1000]), SECCOMP_RET_ALLOW);
            let slots = STUB_BASE + 0x10_0000;
            assert_eq!(run(&f, nr, x86, stub, [slots, 0x1000]), SECCOMP_RET_TRACE);
            let just_below = EXEC_ADDR_RESUME - 0x1000;
            assert_eq!(
                run(&f, nr, x86, stub, [just_below, 0x1000]),
                SECCOMP_RET_TRACE
            );
        }
        assert_eq!(mremap(high, 0x2000, high + 0x10_0000), SECCOMP_RET_ALLOW);
        assert_eq!(
            mremap(high, 0x2000, STUB_BASE + 0x10_0000),
            SECCOMP_RET_TRACE
        );
    }
}
