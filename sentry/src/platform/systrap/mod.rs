//! The seccomp-trap platform ("systrap", after gVisor's `pkg/sentry/platform/systrap`): the
//! same stub processes as `platform::ptrace`, but application code runs untraced. Each stub
//! process carries a seccomp filter (`filter.rs`) that turns every syscall made outside the
//! stub's code page into SIGSYS; the stub's handler (`ptrace::stub::HANDLER_OFFSET`) parks the
//! thread in its slot of a region shared with the sentry and wakes the sentry's thread with a
//! futex; the sentry reads the registers from the signal frame, handles the syscall, writes the
//! result into the frame and wakes the handler, whose rt_sigreturn resumes the application.
//! Faults and the sentry's interrupt signal take the same path. A syscall costs a signal
//! delivery and two futex hand-offs instead of two ptrace stops and the register transfers.
//!
//! Address-space changes (mmap, munmap, mprotect, mremap), fork and thread creation are still
//! injected with ptrace: the task's thread seizes its stub thread, which is waiting in its
//! handler, injects, and detaches it at the next switch (`PtraceAddressSpace::caller_stub`).
//! The filter lets only a traced stub thread make those calls from the stub page (`SECCOMP_
//! RET_TRACE`), so application code that jumps there cannot make them itself.
//!
//! Needs: seccomp filters with `SECCOMP_RET_TRAP`/`RET_TRACE`, and the FSGSBASE instructions
//! enabled for user code (Linux 5.9+ on CPUs that have them), with which the handler saves
//! and loads `fs_base`. `SystrapPlatform::new` checks both and runs a probe; `runsc` falls
//! back to ptrace when it fails.
//!
//! Threading rule: as on ptrace, the host thread that made or adopted a stub thread drives it.
//!
//! Host syscalls used beyond ptrace's (for the sentry's seccomp allowlist): futex with a
//! timeout on a shared mapping, memfd_create, ftruncate and mmap of the slot region.

mod address_space;
mod context;
mod filter;
mod sys;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use self::address_space::{SystrapAddressSpace, SLOTS_BASE, SLOTS_LEN};
use self::context::SystrapContext;
use crate::platform::ptrace::PtracePlatform;
use crate::platform::{
    AddressSpace, Context, Layout, PendingStub, Platform, PlatformError, Regs, ReservedRange,
};

/// How many times each side of a hand-off polls the slot before it sleeps on its futex
/// (each poll is a `pause`, tens of nanoseconds): the sentry waiting for the stub's next trap,
/// the stub's handler (`slot::SPIN_LIMIT`) waiting for the sentry's answer.
///
/// The default is 0 for both: the tracer thread and its stub thread share one CPU (as on
/// ptrace, `Shared::pair_on_one_cpu`), where a poll only delays the other side. Measured on
/// this 2-core VM under build load (getppid round trip): pinned without polling 4.8-5.1 µs;
/// unpinned with 2000 polls per side 34-46 µs, with none 6-12 µs (a cross-CPU futex wake is
/// slow here). Polling can pay only with idle cores.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spin {
    pub sentry: u32,
    pub stub: u32,
}

/// Live address spaces by stub host pid, so a `Context` can find the concrete object.
#[derive(Default)]
struct Registry {
    spaces: Mutex<HashMap<i32, Weak<SystrapAddressSpace>>>,
    spin: Spin,
}

impl Registry {
    fn lookup(&self, host_pid: i32) -> Option<Arc<SystrapAddressSpace>> {
        let spaces = self.spaces.lock().unwrap_or_else(PoisonError::into_inner);
        spaces.get(&host_pid).and_then(Weak::upgrade)
    }

    fn register(&self, space: &Arc<SystrapAddressSpace>) {
        let mut spaces = self.spaces.lock().unwrap_or_else(PoisonError::into_inner);
        spaces.retain(|_, weak| weak.strong_count() > 0);
        spaces.insert(space.host_pid(), Arc::downgrade(space));
    }
}

/// The seccomp-trap platform. `Send + Sync`.
pub struct SystrapPlatform {
    ptrace: PtracePlatform,
    layout: Layout,
    registry: Arc<Registry>,
}

impl SystrapPlatform {
    /// Starts the stub machinery and checks, with a probe address space, that this host can
    /// run it. Called where `PtracePlatform::new` is (before the sentry's own filter).
    pub fn new() -> Result<SystrapPlatform, PlatformError> {
        if !sys::has_fsgsbase() {
            return Err(PlatformError::Other(
                "the host does not let user code use FSGSBASE (rdfsbase/wrfsbase)".into(),
            ));
        }
        let ptrace = PtracePlatform::new_for_systrap()?;
        let mut layout = ptrace.layout().clone();
        layout.reserved.push(ReservedRange {
            start: SLOTS_BASE,
            end: SLOTS_BASE + SLOTS_LEN,
            name: "[stub]",
        });
        let platform = SystrapPlatform {
            ptrace,
            layout,
            registry: Arc::new(Registry {
                spaces: Mutex::default(),
                spin: Spin::default(),
            }),
        };
        // The probe: a stub with the filter installed, then released.
        let probe = platform.new_address_space()?;
        probe.release();
        Ok(platform)
    }

    fn wrap(
        &self,
        inner: Arc<crate::platform::ptrace::PtraceAddressSpace>,
        install: bool,
    ) -> Result<Arc<dyn AddressSpace>, PlatformError> {
        let space = Arc::new(SystrapAddressSpace::set_up(
            inner,
            install,
            self.registry.spin,
        )?);
        self.registry.register(&space);
        Ok(space)
    }
}

impl Platform for SystrapPlatform {
    fn name(&self) -> &'static str {
        "systrap"
    }

    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn new_address_space(&self) -> Result<Arc<dyn AddressSpace>, PlatformError> {
        let inner = self.ptrace.new_stub()?;
        self.wrap(inner, true)
    }

    fn new_context(&self) -> Box<dyn Context> {
        Box::new(SystrapContext::new(self.registry.clone()))
    }

    fn adopt_address_space(
        &self,
        stub: PendingStub,
    ) -> Result<Arc<dyn AddressSpace>, PlatformError> {
        let inner = self.ptrace.adopt_stub(stub)?;
        self.wrap(inner, false)
    }

    fn initial_regs(&self) -> Regs {
        self.ptrace.initial_regs()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::platform::ptrace::stub::{PAGE_SIZE, STUB_BASE};
    use crate::platform::{Event, Prot};

    /// Where the tests put application code.
    pub(super) const CODE: u64 = 0x40_0000;
    const RWX: Prot = Prot::READ.union(Prot::WRITE).union(Prot::EXEC);

    pub(super) fn platform() -> &'static SystrapPlatform {
        static PLATFORM: OnceLock<SystrapPlatform> = OnceLock::new();
        PLATFORM.get_or_init(|| SystrapPlatform::new().expect("systrap platform starts"))
    }

    /// A new address space with `code` in an RWX page at `CODE`.
    pub(super) fn space_with_code(code: &[u8]) -> Arc<dyn AddressSpace> {
        let space = platform().new_address_space().unwrap();
        space.map_anon(CODE, PAGE_SIZE, RWX, false).unwrap();
        assert_eq!(space.write(CODE, code), Ok(code.len()));
        space
    }

    pub(super) fn regs_at(rip: u64) -> Regs {
        let mut regs = platform().initial_regs();
        regs.rip = rip;
        regs
    }

    #[test]
    fn syscalls_trap_to_the_sentry_and_results_come_back() {
        let space = space_with_code(&[
            0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, 39 (getpid)
            0x0f, 0x05, //                   syscall
            0x89, 0xc7, //                   mov edi, eax
            0xb8, 0x3c, 0x00, 0x00, 0x00, // mov eax, 60 (exit)
            0x0f, 0x05, //                   syscall
            0xcc, //                         int3
        ]);
        let mut ctx = platform().new_context();
        let mut regs = regs_at(CODE);
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        assert_eq!(regs.orig_rax, 39);
        assert_eq!(regs.rip, CODE + 7);
        assert_eq!(regs.rax, (-(libc::ENOSYS as i64)) as u64);
        regs.rax = 4242;
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        assert_eq!(regs.orig_rax, 60);
        assert_eq!(regs.rdi, 4242);
        // exit was not executed by the host: the stub is still there.
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

    #[test]
    fn injections_between_switches_keep_the_hand_off() {
        let space = space_with_code(&[
            0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, 39 (getpid)
            0x0f, 0x05, //                   syscall
            0x48, 0x8b, 0x3c, 0x25, 0x00, 0x00, 0x50, 0x00, // mov rdi, [0x500000]
            0x0f, 0x05, //                   syscall
        ]);
        let mut ctx = platform().new_context();
        let mut regs = regs_at(CODE);
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        // The stub thread waits in its handler; mapping memory seizes it and injects.
        let rw = Prot::READ | Prot::WRITE;
        space.map_anon(0x50_0000, PAGE_SIZE, rw, false).unwrap();
        assert_eq!(space.write(0x50_0000, &77u64.to_le_bytes()), Ok(8));
        regs.rax = 5;
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        assert_eq!(regs.rdi, 77);
        assert_eq!(regs.orig_rax, 5);
    }

    #[test]
    fn faults_report_signal_and_address() {
        // mov rax, [0x12345000]
        let space = space_with_code(&[0x48, 0x8b, 0x04, 0x25, 0x00, 0x50, 0x34, 0x12]);
        let mut ctx = platform().new_context();
        let mut regs = regs_at(CODE);
        let event = ctx.switch(&*space, &mut regs).unwrap();
        assert_eq!(
            event,
            Event::Fault {
                signo: libc::SIGSEGV,
                code: 1, // SEGV_MAPERR
                addr: 0x1234_5000
            }
        );
        assert_eq!(regs.rip, CODE);
        // The sentry moves it on (as a signal handler would): it runs from the new rip.
        regs.rip = CODE + 8;
        space.write(CODE + 8, &[0x0f, 0x05]).unwrap(); // syscall
        regs.rax = 123;
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        assert_eq!(regs.orig_rax, 123);
    }

    #[test]
    fn fs_base_is_loaded_and_reported() {
        let space = space_with_code(&[
            0x64, 0x48, 0x8b, 0x3c, 0x25, 0x00, 0x00, 0x00, 0x00, // mov rdi, fs:[0]
            0xb8, 0x27, 0x00, 0x00, 0x00, //                         mov eax, 39
            0x0f, 0x05, //                                           syscall
            0x64, 0x48, 0x8b, 0x3c, 0x25, 0x00, 0x00, 0x00, 0x00, // mov rdi, fs:[0]
            0x0f, 0x05, //                                           syscall
        ]);
        let rw = Prot::READ | Prot::WRITE;
        space.map_anon(0x60_0000, 2 * PAGE_SIZE, rw, false).unwrap();
        space.write(0x60_0000, &0x1122_u64.to_le_bytes()).unwrap();
        space.write(0x60_1000, &0x3344_u64.to_le_bytes()).unwrap();
        let mut ctx = platform().new_context();
        let mut regs = regs_at(CODE);
        regs.fs_base = 0x60_0000;
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        assert_eq!(regs.rdi, 0x1122);
        assert_eq!(regs.fs_base, 0x60_0000);
        // A new fs_base (arch_prctl) reaches the thread through the handler.
        regs.fs_base = 0x60_1000;
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        assert_eq!(regs.rdi, 0x3344);
        assert_eq!(regs.fs_base, 0x60_1000);
    }

    #[test]
    fn fpstate_reads_and_sets_xmm0() {
        let space = space_with_code(&[
            0xf3, 0x0f, 0x6f, 0x04, 0x25, 0x00, 0x00, 0x50, 0x00, // movdqu xmm0, [0x500000]
            0x0f, 0x05, //                                           syscall
            0xf3, 0x0f, 0x7f, 0x04, 0x25, 0x10, 0x00, 0x50, 0x00, // movdqu [0x500010], xmm0
            0x0f, 0x05, //                                           syscall
        ]);
        let rw = Prot::READ | Prot::WRITE;
        space.map_anon(0x50_0000, PAGE_SIZE, rw, false).unwrap();
        let pattern: Vec<u8> = (1..=16).collect();
        assert_eq!(space.write(0x50_0000, &pattern), Ok(16));
        let mut ctx = platform().new_context();
        let mut regs = regs_at(CODE);
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        let mut state = ctx.fpstate(&*space).unwrap();
        assert!(state.len() >= 512, "{}", state.len());
        assert_eq!(&state[160..176], &pattern[..]);
        let changed: Vec<u8> = (0xa0..0xb0).collect();
        state[160..176].copy_from_slice(&changed);
        ctx.set_fpstate(&*space, &state).unwrap();
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        let mut stored = [0u8; 16];
        assert_eq!(space.read(0x50_0010, &mut stored), Ok(16));
        assert_eq!(&stored[..], &changed[..]);
        // An MXCSR with reserved bits is refused, as rt_sigreturn would.
        let mut bad = ctx.fpstate(&*space).unwrap();
        bad[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(ctx.set_fpstate(&*space, &bad).is_err());
    }

    #[test]
    fn interrupt_stops_a_spinning_loop() {
        let space = space_with_code(&[0xeb, 0xfe]); // jmp $
        let mut ctx = platform().new_context();
        let interrupter = ctx.interrupter();
        let kicker = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            interrupter.interrupt();
        });
        let mut regs = regs_at(CODE);
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Interrupted);
        assert_eq!(regs.rip, CODE);
        kicker.join().unwrap();
    }

    #[test]
    fn killed_stub_reports_exited() {
        let space = space_with_code(&[0xeb, 0xfe]);
        let mut ctx = platform().new_context();
        let mut regs = regs_at(CODE);
        let pid = space.host_pid();
        let killer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let pid = nix::unistd::Pid::from_raw(pid);
            nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL).unwrap();
        });
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Exited);
        killer.join().unwrap();
    }

    #[test]
    fn application_cannot_make_host_calls_through_the_stub_page() {
        // Jump into the stub's injection point (`syscall; int3`) with rax = getpid: untraced,
        // the filter answers ENOSYS instead of running it; the int3 after it then traps.
        let space = space_with_code(&[
            0xb8, 0x27, 0x00, 0x00, 0x00, //                   mov eax, 39 (getpid)
            0x48, 0xb9, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x7f, 0x00, 0x00, // mov rcx, STUB_BASE
            0xff, 0xe1, //                                     jmp rcx
        ]);
        let mut ctx = platform().new_context();
        let mut regs = regs_at(CODE);
        let event = ctx.switch(&*space, &mut regs).unwrap();
        assert_eq!(
            event,
            Event::Fault {
                signo: libc::SIGTRAP,
                code: 0x80,
                addr: 0
            }
        );
        assert_eq!(regs.rax, (-(libc::ENOSYS as i64)) as u64);
        // The same for mprotect of the stub page itself (beyond the untraced bound) ...
        regs.rip = STUB_BASE;
        regs.rax = libc::SYS_mprotect as u64;
        regs.rdi = STUB_BASE;
        regs.rsi = PAGE_SIZE;
        regs.rdx = 7;
        assert!(matches!(
            ctx.switch(&*space, &mut regs).unwrap(),
            Event::Fault {
                signo: libc::SIGTRAP,
                ..
            }
        ));
        assert_eq!(regs.rax, (-(libc::ENOSYS as i64)) as u64);
        // ... while a mapping change of its own memory below the bound goes through.
        regs.rip = STUB_BASE;
        regs.rax = libc::SYS_mprotect as u64;
        regs.rdi = CODE;
        regs.rsi = PAGE_SIZE;
        regs.rdx = 5;
        assert!(matches!(
            ctx.switch(&*space, &mut regs).unwrap(),
            Event::Fault {
                signo: libc::SIGTRAP,
                ..
            }
        ));
        assert_eq!(regs.rax, 0);
    }

    #[test]
    fn fork_gives_a_copy_with_its_own_slots() {
        let space = space_with_code(&[
            0xb8, 0x39, 0x00, 0x00, 0x00, //                   mov eax, 57 (fork)
            0x0f, 0x05, //                                     syscall
            0x48, 0x8b, 0x3c, 0x25, 0x00, 0x00, 0x50, 0x00, // mov rdi, [0x500000]
            0x0f, 0x05, //                                     syscall
        ]);
        let rw = Prot::READ | Prot::WRITE;
        space.map_anon(0x50_0000, PAGE_SIZE, rw, false).unwrap();
        space.write(0x50_0000, &1u64.to_le_bytes()).unwrap();
        let mut ctx = platform().new_context();
        let mut regs = regs_at(CODE);
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        let pending = space.fork().unwrap();
        let child_regs = regs;
        let child = std::thread::spawn(move || {
            let child = platform().adopt_address_space(pending).unwrap();
            // Copy-on-write: the child's write is its own.
            child.write(0x50_0000, &2u64.to_le_bytes()).unwrap();
            let mut ctx = platform().new_context();
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

    #[test]
    fn threads_share_memory_and_trap_separately() {
        let space = space_with_code(&[
            0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, 39
            0x0f, 0x05, //                   syscall
            0xeb, 0xf7, //                   jmp CODE
        ]);
        let mut ctx = platform().new_context();
        let mut regs = regs_at(CODE);
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        let pending = space.new_thread().unwrap();
        let other = space.clone();
        let thread = std::thread::spawn(move || {
            other.adopt_thread(pending).unwrap();
            let mut ctx = platform().new_context();
            let mut regs = regs_at(CODE);
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
}
