//! Behaviour every platform must share, as test bodies over `&dyn Platform`: each platform's
//! tests run all of them (`ptrace::tests`, `systrap::tests`), so a difference between the
//! platforms is a failing test, not a surprise in the sandbox. Machine code is hand-encoded
//! (Intel SDM vol. 2); syscall numbers are x86_64's.

use std::sync::Arc;

use crate::platform::{AddressSpace, Event, Platform, Prot, Regs};

/// Where the tests put application code.
pub const CODE: u64 = 0x40_0000;
const PAGE: u64 = 4096;
const RW: Prot = Prot::READ.union(Prot::WRITE);
const RWX: Prot = RW.union(Prot::EXEC);
const ENOSYS: u64 = (-(libc::ENOSYS as i64)) as u64;

/// A new address space with `code` in an RWX page at `CODE`.
pub fn space_with_code(platform: &dyn Platform, code: &[u8]) -> Arc<dyn AddressSpace> {
    let space = platform.new_address_space().unwrap();
    space.map_anon(CODE, PAGE, RWX, false).unwrap();
    assert_eq!(space.write(CODE, code), Ok(code.len()));
    space
}

/// A fresh thread's registers with `rip` set.
pub fn regs_at(platform: &dyn Platform, rip: u64) -> Regs {
    let mut regs = platform.initial_regs();
    regs.rip = rip;
    regs
}

/// A syscall stops with its number in `orig_rax`, `-ENOSYS` in `rax` and `rip` past the
/// instruction; the host never runs it; the result written into `rax` reaches the code.
pub fn syscalls_trap_and_are_not_executed(platform: &dyn Platform) {
    let space = space_with_code(
        platform,
        &[
            0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, 39 (getpid)
            0x0f, 0x05, //                   syscall
            0x89, 0xc7, //                   mov edi, eax
            0xb8, 0x3c, 0x00, 0x00, 0x00, // mov eax, 60 (exit)
            0x0f, 0x05, //                   syscall
            0xcc, //                         int3
        ],
    );
    let mut ctx = platform.new_context();
    let mut regs = regs_at(platform, CODE);
    assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
    assert_eq!(regs.orig_rax, 39);
    assert_eq!(regs.rip, CODE + 7);
    assert_eq!(regs.rax, ENOSYS);
    regs.rax = 4242;
    assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
    assert_eq!(regs.orig_rax, 60);
    assert_eq!(regs.rdi, 4242);
    // exit was not executed either: the stub is still there.
    assert_eq!(regs.rip, CODE + 16);
    assert_eq!(
        ctx.switch(&*space, &mut regs).unwrap(),
        Event::Fault {
            signo: libc::SIGTRAP,
            code: 0x80,
            addr: 0,
        }
    );
}

/// A load from an unmapped address is a SIGSEGV fault with its address, at the instruction;
/// moved on by the sentry, the thread runs from the new `rip`.
pub fn faults_report_signal_and_address(platform: &dyn Platform) {
    // mov rax, [0x12345000]; syscall
    let space = space_with_code(
        platform,
        &[0x48, 0x8b, 0x04, 0x25, 0x00, 0x50, 0x34, 0x12, 0x0f, 0x05],
    );
    let mut ctx = platform.new_context();
    let mut regs = regs_at(platform, CODE);
    assert_eq!(
        ctx.switch(&*space, &mut regs).unwrap(),
        Event::Fault {
            signo: libc::SIGSEGV,
            code: 1, // SEGV_MAPERR
            addr: 0x1234_5000
        }
    );
    assert_eq!(regs.rip, CODE);
    regs.rip = CODE + 8;
    regs.rax = 123;
    assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
    assert_eq!(regs.orig_rax, 123);
}

/// `fs_base` from the registers is the thread's, at the first run and after a change.
pub fn fs_base_reaches_the_application(platform: &dyn Platform) {
    let space = space_with_code(
        platform,
        &[
            0x64, 0x48, 0x8b, 0x3c, 0x25, 0x00, 0x00, 0x00, 0x00, // mov rdi, fs:[0]
            0xb8, 0x27, 0x00, 0x00, 0x00, //                         mov eax, 39
            0x0f, 0x05, //                                           syscall
            0x64, 0x48, 0x8b, 0x3c, 0x25, 0x00, 0x00, 0x00, 0x00, // mov rdi, fs:[0]
            0x0f, 0x05, //                                           syscall
        ],
    );
    space.map_anon(0x60_0000, 2 * PAGE, RW, false).unwrap();
    space.write(0x60_0000, &0x1122_u64.to_le_bytes()).unwrap();
    space.write(0x60_1000, &0x3344_u64.to_le_bytes()).unwrap();
    let mut ctx = platform.new_context();
    let mut regs = regs_at(platform, CODE);
    regs.fs_base = 0x60_0000;
    assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
    assert_eq!(regs.rdi, 0x1122);
    assert_eq!(regs.fs_base, 0x60_0000);
    // A new fs_base (arch_prctl) reaches the thread.
    regs.fs_base = 0x60_1000;
    assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
    assert_eq!(regs.rdi, 0x3344);
    assert_eq!(regs.fs_base, 0x60_1000);
}

/// The FP state reads XMM0 as the code left it, and a changed image reaches the code; an
/// FXSAVE area too short is refused.
pub fn fpstate_reads_and_sets_xmm0(platform: &dyn Platform) {
    let space = space_with_code(
        platform,
        &[
            0xf3, 0x0f, 0x6f, 0x04, 0x25, 0x00, 0x00, 0x50, 0x00, // movdqu xmm0, [0x500000]
            0x0f, 0x05, //                                           syscall
            0xf3, 0x0f, 0x7f, 0x04, 0x25, 0x10, 0x00, 0x50, 0x00, // movdqu [0x500010], xmm0
            0x0f, 0x05, //                                           syscall
        ],
    );
    space.map_anon(0x50_0000, PAGE, RW, false).unwrap();
    let pattern: Vec<u8> = (1..=16).collect();
    assert_eq!(space.write(0x50_0000, &pattern), Ok(16));
    let mut ctx = platform.new_context();
    let mut regs = regs_at(platform, CODE);
    assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
    let mut state = ctx.fpstate(&*space).unwrap();
    assert!(state.len() >= 512, "{}", state.len());
    // XMM0 sits at byte 160 of the FXSAVE area.
    assert_eq!(&state[160..176], &pattern[..]);
    let changed: Vec<u8> = (0xa0..0xb0).collect();
    state[160..176].copy_from_slice(&changed);
    ctx.set_fpstate(&*space, &state).unwrap();
    assert_eq!(ctx.fpstate(&*space).unwrap()[160..176], changed[..]);
    assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
    let mut stored = [0u8; 16];
    assert_eq!(space.read(0x50_0010, &mut stored), Ok(16));
    assert_eq!(&stored[..], &changed[..]);
    assert!(ctx.set_fpstate(&*space, &state[..100]).is_err());
}

/// An interrupt from another thread stops a spinning loop; one made before the switch
/// returns at once.
pub fn interrupts_stop_the_application(platform: &'static dyn Platform) {
    let space = space_with_code(platform, &[0xeb, 0xfe]); // jmp $
    let mut ctx = platform.new_context();
    let interrupter = ctx.interrupter();
    let kicker = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        interrupter.interrupt();
    });
    let mut regs = regs_at(platform, CODE);
    assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Interrupted);
    assert_eq!(regs.rip, CODE);
    kicker.join().unwrap();
    ctx.interrupter().interrupt();
    assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Interrupted);
    assert_eq!(regs.rip, CODE);
}

/// Interrupts that arrive at any moment of a syscall loop (on systrap with patching: in the
/// fast path's entry, hand-off and exit too) stop the application at a point of its own code
/// with its own registers, and lose no syscall.
pub fn interrupts_amid_syscalls_keep_the_state(platform: &'static dyn Platform) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let space = space_with_code(
        platform,
        &[
            0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, 39 (getpid)
            0x0f, 0x05, //                   syscall
            0x48, 0xff, 0xc3, //             inc rbx
            0xeb, 0xf4, //                   jmp 0
        ],
    );
    let mut ctx = platform.new_context();
    let interrupter = ctx.interrupter();
    let stop = Arc::new(AtomicBool::new(false));
    let kicker = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                interrupter.interrupt();
                std::thread::sleep(std::time::Duration::from_micros(30));
            }
        })
    };
    let mut regs = regs_at(platform, CODE);
    regs.rbx = 0;
    let mut syscalls = 0u64;
    let mut interrupts = 0u64;
    while syscalls < 3000 {
        match ctx.switch(&*space, &mut regs).unwrap() {
            Event::Syscall => {
                assert_eq!((regs.orig_rax, regs.rip), (39, CODE + 7));
                assert_eq!(regs.rbx, syscalls, "every syscall ran once");
                syscalls += 1;
                regs.rax = 7;
            }
            Event::Interrupted => {
                interrupts += 1;
                assert!(
                    regs.rip < 0x7f00_0000_0000,
                    "stopped in the application's code, not the stub's: {:#x}",
                    regs.rip
                );
                assert!(regs.rbx == syscalls || regs.rbx + 1 == syscalls);
            }
            other => panic!("unexpected {other:?} at {:#x}", regs.rip),
        }
    }
    stop.store(true, Ordering::Relaxed);
    kicker.join().unwrap();
    assert!(interrupts > 0);
}

/// A stub killed from outside, while the application runs, is `Exited`.
pub fn killed_stub_reports_exited(platform: &dyn Platform) {
    let space = space_with_code(platform, &[0xeb, 0xfe]);
    let mut ctx = platform.new_context();
    let mut regs = regs_at(platform, CODE);
    let pid = space.host_pid();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let pid = nix::unistd::Pid::from_raw(pid);
        nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL).unwrap();
    });
    assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Exited);
    killer.join().unwrap();
}

/// fork gives a copy-on-write copy that runs on its own thread from the parent's registers.
pub fn fork_gives_a_copy(platform: &'static dyn Platform) {
    let space = space_with_code(
        platform,
        &[
            0xb8, 0x39, 0x00, 0x00, 0x00, //                   mov eax, 57 (fork)
            0x0f, 0x05, //                                     syscall
            0x48, 0x8b, 0x3c, 0x25, 0x00, 0x00, 0x50, 0x00, // mov rdi, [0x500000]
            0x0f, 0x05, //                                     syscall
        ],
    );
    space.map_anon(0x50_0000, PAGE, RW, false).unwrap();
    space.write(0x50_0000, &1u64.to_le_bytes()).unwrap();
    let mut ctx = platform.new_context();
    let mut regs = regs_at(platform, CODE);
    assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
    let pending = space.fork().unwrap();
    let child_regs = regs;
    let child = std::thread::spawn(move || {
        let child = platform.adopt_address_space(pending).unwrap();
        child.write(0x50_0000, &2u64.to_le_bytes()).unwrap();
        let mut ctx = platform.new_context();
        let mut regs = child_regs;
        regs.rax = 0;
        assert_eq!(ctx.switch(&*child, &mut regs).unwrap(), Event::Syscall);
        regs.rdi
    });
    assert_eq!(child.join().unwrap(), 2);
    regs.rax = 99;
    assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
    assert_eq!(regs.rdi, 1);
}

/// A second stub thread, driven by another host thread, traps on its own.
pub fn threads_trap_separately(platform: &'static dyn Platform) {
    let space = space_with_code(
        platform,
        &[
            0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, 39
            0x0f, 0x05, //                   syscall
            0xeb, 0xf7, //                   jmp CODE
        ],
    );
    let mut ctx = platform.new_context();
    let mut regs = regs_at(platform, CODE);
    assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
    let pending = space.new_thread().unwrap();
    let other = space.clone();
    let thread = std::thread::spawn(move || {
        other.adopt_thread(pending).unwrap();
        let mut ctx = platform.new_context();
        let mut regs = regs_at(platform, CODE);
        for _ in 0..3 {
            assert_eq!(ctx.switch(&*other, &mut regs).unwrap(), Event::Syscall);
            assert_eq!(regs.orig_rax, 39);
        }
        other.exit_thread().unwrap();
    });
    for _ in 0..3 {
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
    }
    thread.join().unwrap();
    assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
}

/// Every check above, as one `#[test]` each, for the platform `$platform()` returns.
#[macro_export]
macro_rules! platform_conformance_tests {
    ($platform:path) => {
        mod conformance {
            use $crate::platform::conformance as c;
            #[test]
            fn syscalls_trap_and_are_not_executed() {
                c::syscalls_trap_and_are_not_executed($platform());
            }
            #[test]
            fn faults_report_signal_and_address() {
                c::faults_report_signal_and_address($platform());
            }
            #[test]
            fn fs_base_reaches_the_application() {
                c::fs_base_reaches_the_application($platform());
            }
            #[test]
            fn fpstate_reads_and_sets_xmm0() {
                c::fpstate_reads_and_sets_xmm0($platform());
            }
            #[test]
            fn interrupts_stop_the_application() {
                c::interrupts_stop_the_application($platform());
            }
            #[test]
            fn interrupts_amid_syscalls_keep_the_state() {
                c::interrupts_amid_syscalls_keep_the_state($platform());
            }
            #[test]
            fn killed_stub_reports_exited() {
                c::killed_stub_reports_exited($platform());
            }
            #[test]
            fn fork_gives_a_copy() {
                c::fork_gives_a_copy($platform());
            }
            #[test]
            fn threads_trap_separately() {
                c::threads_trap_separately($platform());
            }
        }
    };
}
