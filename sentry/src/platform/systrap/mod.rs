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
//! The stub's own host calls are made by its handler on the sentry's request (`slot::EXEC`),
//! while the thread waits there: mapping changes (mmap of anonymous memory and of files,
//! whose fds come over the address space's own socket; munmap, mprotect, mremap), fork
//! (`stub::FORK_CHILD_OFFSET`: the child maps its own slot region and reports by itself) and
//! new threads. New address spaces are forks of a template stub set up once
//! (`SystrapPlatform::template`). Ptrace remains for setting up the template (and fresh stubs
//! where it failed), for the rare calls the filter does not let run untraced (mappings that
//! could reach the stub's pages), for calls made while the thread is not in its handler,
//! for patching code and for ending a thread: the task's thread seizes its stub thread,
//! injects, and detaches it at the next switch (`PtraceAddressSpace::caller_stub`). See
//! `filter.rs` for what application code that jumps into the stub page can and cannot do.
//!
//! Needs: seccomp filters with `SECCOMP_RET_TRAP`/`RET_TRACE`, and the FSGSBASE instructions
//! enabled for user code (Linux 5.9+ on CPUs that have them), with which the handler saves
//! and loads `fs_base`. `SystrapPlatform::new` checks both and runs a probe; `runsc` falls
//! back to ptrace when it fails.
//!
//! Threading rule: as on ptrace, the host thread that made or adopted a stub thread drives it.
//!
//! Host syscalls used beyond ptrace's (for the sentry's seccomp allowlist): futex with a
//! timeout on a shared mapping, memfd_create, ftruncate and mmap of the slot region,
//! socketpair(AF_UNIX) for each address space's fd-passing socket, getrandom.

mod address_space;
mod context;
mod filter;
mod patch;
mod spares;
mod spin;
mod sys;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use self::address_space::{ForkedStub, SystrapAddressSpace, SLOTS_BASE, SLOTS_LEN};
use self::context::SystrapContext;
use self::spin::SpinMode;
use crate::platform::ptrace::PtracePlatform;
use crate::platform::{
    AddressSpace, Context, Layout, PendingStub, Platform, PlatformError, Regs, ReservedRange,
};

/// How many times each side of a hand-off polls the slot before it sleeps on its futex
/// (each poll is a `pause`, about 14 ns here): the sentry waiting for the stub's next trap,
/// the stub's handler (`slot::SPIN_LIMIT`) waiting for the sentry's answer.
///
/// By default the limits adapt per application thread (`spin.rs`): a pair polls across two
/// CPUs while that makes its round trips faster than sleeping with both on one CPU (as on
/// ptrace, `Shared::pair_on_one_cpu`), where a poll would only delay the other side.
/// `RUNSC_SYSTRAP_SPIN=SENTRY,STUB` fixes them instead (0,0: never poll, pairs pinned; others:
/// always poll, pairs unpinned). Measured on this 2-core VM, getppid round trip, before
/// patching: idle machine, pinned without polling 4.4-4.6 µs (ptrace 4.6-5.6); unpinned with
/// 1000 polls per side 2.4-2.5 µs (5000: the same; 100: 76-86 µs, and 88-97 µs with none: a
/// cross-CPU futex wake costs about 90 µs here); pinned with polling 6.7 µs (100) to 34 µs
/// (1000). Under build load, unpinned with 2000 polls: 34-46 µs against 5-12 µs pinned.
/// Patched, 2026-11-29: idle (load average 1), 0,0 2.8-2.9 µs, 1000,1000 0.86-1.0 µs,
/// adaptive 0.87-0.90 µs; under others' builds (load average 5-6), 3.5-4.5, 36-54 and
/// 2.7-3.4 µs; two application threads in getppid loops, 5.4, 43 and 2.6 µs each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spin {
    pub sentry: u32,
    pub stub: u32,
}

impl Spin {
    /// The limits `RUNSC_SYSTRAP_SPIN=SENTRY,STUB` fixes (a tuning knob for measurements);
    /// adaptive limits otherwise, and for anything unparsable.
    fn from_env() -> SpinMode {
        std::env::var("RUNSC_SYSTRAP_SPIN")
            .ok()
            .and_then(|v| Spin::parse(&v))
            .map_or(SpinMode::Adaptive, SpinMode::Fixed)
    }

    fn parse(value: &str) -> Option<Spin> {
        let (sentry, stub) = value.split_once(',')?;
        Some(Spin {
            sentry: sentry.trim().parse().ok()?,
            stub: stub.trim().parse().ok()?,
        })
    }
}

/// Whether syscall sites are patched to reach the sentry without a signal (`patch.rs`): on
/// unless `RUNSC_SYSTRAP_PATCH=0`. Measured on this 2-core VM under build load (load average
/// 3 to 4), getppid through libc's wrapper: 3.0-3.5 µs patched against 4.5-5.0 µs by signal
/// (ptrace: 4.8-5.1 µs).
fn patching_from_env() -> bool {
    std::env::var("RUNSC_SYSTRAP_PATCH").map_or(true, |v| v.trim() != "0")
}

/// Live address spaces by stub host pid, so a `Context` can find the concrete object.
struct Registry {
    spaces: Mutex<HashMap<i32, Weak<SystrapAddressSpace>>>,
    spin: SpinMode,
    /// The CPUs the sentry may use, which an unpinned pair gets back
    /// (`ptrace::unpin_pair`).
    cpus: Vec<usize>,
    /// Traps by signal after which a syscall site is patched (`patch.rs`); 0 when patching
    /// is off (or the host cannot run the fast path).
    patch_after: usize,
    /// Regions and sockets made ahead for new stub processes.
    spares: Arc<spares::Spares>,
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
    /// A stub that is set up once and then forked, from its handler, for every new address
    /// space (`SystrapAddressSpace::fork_template`); `None` if it could not be made (new
    /// address spaces are then forks of the master stub, set up with ptrace).
    template: Option<Arc<SystrapAddressSpace>>,
}

impl SystrapPlatform {
    /// Starts the stub machinery and checks, with a probe address space, that this host can
    /// run it. Called where `PtracePlatform::new` is (before the sentry's own filter).
    pub fn new() -> Result<SystrapPlatform, PlatformError> {
        SystrapPlatform::with_patching(patching_from_env())
    }

    /// Like `new`, with syscall patching on or off (it stays off where the host lacks XSAVE).
    pub fn with_patching(patching: bool) -> Result<SystrapPlatform, PlatformError> {
        SystrapPlatform::start(if patching { patch::PATCH_AFTER } else { 0 })
    }

    /// Starts the platform; a syscall site is patched once it trapped `patch_after` times by
    /// signal (0: no patching).
    fn start(patch_after: usize) -> Result<SystrapPlatform, PlatformError> {
        if !sys::has_fsgsbase() {
            return Err(PlatformError::Other(
                "the host does not let user code use FSGSBASE (rdfsbase/wrfsbase)".into(),
            ));
        }
        let mut spin = Spin::from_env();
        let patch_after = if address_space::fast_layout().is_some() {
            patch_after
        } else {
            0
        };
        let ptrace = PtracePlatform::new_for_systrap(spin.pins())?;
        let cpus = ptrace.allowed_cpus().to_vec();
        if cpus.len() < 2 {
            // Nowhere to poll from: a pair would only delay itself.
            spin = SpinMode::Fixed(Spin::default());
        }
        let mut layout = ptrace.layout().clone();
        layout.reserved.push(ReservedRange {
            start: SLOTS_BASE,
            end: SLOTS_BASE + SLOTS_LEN,
            name: "[stub]",
            yields: false,
        });
        if patch_after > 0 {
            layout.reserved.push(patch::reserved_range());
        }
        let mut platform = SystrapPlatform {
            ptrace,
            layout,
            template: None,
            registry: Arc::new(Registry {
                spaces: Mutex::default(),
                spin,
                spares: Arc::new(spares::Spares::new(cpus.clone())),
                cpus,
                patch_after,
            }),
        };
        // The probe: a stub with the filter installed, then released.
        let probe = platform.new_address_space()?;
        probe.release();
        platform.template = match platform.make_template() {
            Ok(template) => Some(template),
            Err(e) => {
                crate::warn!("systrap: no template stub ({e}); new address spaces use ptrace");
                None
            }
        };
        Ok(platform)
    }

    fn wrap(
        &self,
        inner: Arc<crate::platform::ptrace::PtraceAddressSpace>,
    ) -> Result<Arc<dyn AddressSpace>, PlatformError> {
        let space = Arc::new(SystrapAddressSpace::set_up(
            inner,
            self.registry.spin.fixed(),
            self.registry.patch_after,
            Arc::clone(&self.registry.spares),
        )?);
        self.registry.register(&space);
        Ok(space)
    }
}

impl SystrapPlatform {
    fn make_template(&self) -> Result<Arc<SystrapAddressSpace>, PlatformError> {
        let inner = self.ptrace.new_stub()?;
        let pid = inner.host_pid();
        let space = SystrapAddressSpace::set_up(
            inner,
            self.registry.spin.fixed(),
            self.registry.patch_after,
            Arc::clone(&self.registry.spares),
        )?;
        space
            .start_as_template(&self.ptrace.initial_regs())
            .map_err(|source| PlatformError::Ptrace {
                op: "starting the template stub",
                pid,
                source,
            })?;
        Ok(Arc::new(space))
    }
}

impl Platform for SystrapPlatform {
    fn name(&self) -> &'static str {
        "systrap"
    }

    fn layout(&self) -> &Layout {
        &self.layout
    }

    /// A fork of the template, made by its handler; a fork of the master stub set up with
    /// ptrace if there is no template or it fails.
    fn new_address_space(&self) -> Result<Arc<dyn AddressSpace>, PlatformError> {
        if let Some(template) = &self.template {
            match template.fork_template() {
                Ok(pending) => return self.adopt_address_space(pending),
                Err(e) => crate::debug!("systrap: fork of the template: {e}"),
            }
        }
        let inner = self.ptrace.new_stub()?;
        self.wrap(inner)
    }

    fn new_context(&self) -> Box<dyn Context> {
        Box::new(SystrapContext::new(self.registry.clone()))
    }

    fn adopt_address_space(
        &self,
        stub: PendingStub,
    ) -> Result<Arc<dyn AddressSpace>, PlatformError> {
        let mut forked = stub
            .inner
            .downcast::<ForkedStub>()
            .map_err(|_| PlatformError::Other("not a pending systrap stub process".into()))?;
        let pid = forked.pid();
        let err = |op: &'static str| move |source| PlatformError::Ptrace { op, pid, source };
        forked
            .wait_first_report()
            .map_err(err("waiting for the forked stub"))?;
        // Dropped unchecked, it is not killed: the pid may not be the stub's.
        if !forked.is_genuine() {
            return Err(PlatformError::StubDied { pid });
        }
        let space = Arc::new(
            SystrapAddressSpace::adopt_forked(
                &mut forked,
                |pid, pidfd| self.ptrace.adopt_running_stub(pid, pidfd),
                self.registry.spin.fixed(),
                self.registry.patch_after,
                Arc::clone(&self.registry.spares),
            )
            .map_err(err("adopting the forked stub"))?,
        );
        self.registry.register(&space);
        Ok(space)
    }

    fn initial_regs(&self) -> Regs {
        self.ptrace.initial_regs()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::platform::conformance::CODE;
    use crate::platform::ptrace::stub::{slot, PAGE_SIZE, STUB_BASE};
    use crate::platform::{Event, Prot};

    pub(super) fn platform() -> &'static SystrapPlatform {
        static PLATFORM: OnceLock<SystrapPlatform> = OnceLock::new();
        PLATFORM.get_or_init(|| SystrapPlatform::new().expect("systrap platform starts"))
    }

    fn dyn_platform() -> &'static dyn Platform {
        platform()
    }

    crate::platform_conformance_tests!(super::dyn_platform);

    fn patching_platform() -> &'static SystrapPlatform {
        static PLATFORM: OnceLock<SystrapPlatform> = OnceLock::new();
        // Every site is patched at its first trap.
        PLATFORM.get_or_init(|| SystrapPlatform::start(1).expect("systrap platform starts"))
    }

    fn dyn_patching_platform() -> &'static dyn Platform {
        patching_platform()
    }

    /// The whole suite again with syscall patching: its loops of `mov $nr, %eax; syscall`
    /// go through the fast path from their second round on.
    mod patching {
        use super::dyn_patching_platform;
        crate::platform_conformance_tests!(super::dyn_patching_platform);
    }

    #[test]
    fn patched_site_takes_the_fast_path_and_keeps_every_register() {
        let platform = patching_platform();
        assert_eq!(platform.registry.patch_after, 1, "this host can patch");
        let code = [
            0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, 39 (getpid)
            0x0f, 0x05, //                   syscall
            0x48, 0x89, 0xc7, //             mov rdi, rax
            0x66, 0x48, 0x0f, 0x7e, 0xc6, // movq rsi, xmm0
            0xeb, 0xef, //                   jmp 0
        ];
        let space = crate::platform::conformance::space_with_code(platform, &code);
        let mut ctx = platform.new_context();
        let mut regs = crate::platform::conformance::regs_at(platform, CODE);
        // First round: by signal; the site is patched before the sentry answers.
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        assert_eq!(regs.rip, CODE + 7);
        let mut now = [0u8; 7];
        space.read(CODE, &mut now).unwrap();
        assert_eq!(&now[..3], &[0xff, 0x24, 0x25], "the site is a jump now");
        assert_eq!(
            &now[5..7],
            &[0x0f, 0x05],
            "its last bytes still read `syscall`"
        );
        let values = [0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666, 0x7777];
        regs.rax = 1234;
        regs.rbx = values[0];
        regs.rbp = values[1];
        regs.r12 = values[2];
        regs.r13 = values[3];
        regs.r14 = values[4];
        regs.r15 = values[5];
        regs.rdx = values[6];
        // Second round: through the fast path, with the answer and every register kept.
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        assert_eq!(regs.orig_rax, 39);
        assert_eq!(regs.rip, CODE + 7);
        assert_eq!(regs.rcx, CODE + 7);
        assert_eq!(regs.rdi, 1234);
        let kept = [
            regs.rbx, regs.rbp, regs.r12, regs.r13, regs.r14, regs.r15, regs.rdx,
        ];
        assert_eq!(kept, values);
        // The FP state travels through the fast frame too: xmm0 set here reaches rsi.
        let mut fp = ctx.fpstate(&*space).unwrap();
        fp[160..168].copy_from_slice(&0xabcd_u64.to_le_bytes());
        ctx.set_fpstate(&*space, &fp).unwrap();
        regs.rax = 5;
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        assert_eq!((regs.rdi, regs.rsi), (5, 0xabcd));
        // A flag set by the sentry (the carry flag) is loaded with the rest.
        regs.eflags |= 1;
        regs.rip = CODE + 15; // jmp 0, flags untouched
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        assert_eq!(regs.eflags & 1, 1);
    }

    #[test]
    fn a_syscall3_site_is_patched_and_loads_its_sixth_argument_as_before() {
        let platform = patching_platform();
        let code = [
            0x48, 0xc7, 0xc0, 0x27, 0x00, 0x00, 0x00, // mov rax, 39 (getpid)
            0x4c, 0x8b, 0x4c, 0x24, 0x08, //             mov r9, [rsp + 8]
            0x0f, 0x05, //                               syscall
            0xeb, 0xf0, //                               jmp 0
        ];
        let space = crate::platform::conformance::space_with_code(platform, &code);
        let stack = CODE + 0x800;
        space
            .write(stack + 8, &0x1234_5678_u64.to_le_bytes())
            .unwrap();
        let mut ctx = platform.new_context();
        let mut regs = crate::platform::conformance::regs_at(platform, CODE);
        regs.rsp = stack;
        // First round by signal (the site is patched then), second through the fast path:
        // the same number and the same sixth argument, read from the stack.
        for round in 0..2 {
            regs.r9 = 0;
            assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
            assert_eq!(regs.orig_rax, 39, "round {round}");
            assert_eq!(regs.r9, 0x1234_5678, "round {round}");
            assert_eq!(regs.rip, CODE + 14, "round {round}");
            let mut site = [0u8; 7];
            space.read(CODE + 7, &mut site).unwrap();
            assert_eq!(&site[..3], &[0xff, 0x24, 0x25], "round {round}: a jump now");
            assert_eq!(&site[5..], &[0x0f, 0x05], "round {round}");
        }
    }

    #[test]
    fn a_site_is_patched_only_once_it_trapped_patch_after_times() {
        let platform = SystrapPlatform::start(3).expect("systrap platform starts");
        assert_eq!(platform.registry.patch_after, 3, "this host can patch");
        let code = [
            0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, 39 (getpid)
            0x0f, 0x05, //                   syscall
            0xeb, 0xf7, //                   jmp 0
        ];
        let space = crate::platform::conformance::space_with_code(&platform, &code);
        let mut ctx = platform.new_context();
        let mut regs = crate::platform::conformance::regs_at(&platform, CODE);
        let mut first = [0u8; 1];
        for _ in 0..2 {
            assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
            space.read(CODE, &mut first).unwrap();
            assert_eq!(first, [0xb8], "not hot yet: still the original code");
        }
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        space.read(CODE, &mut first).unwrap();
        assert_eq!(first, [0xff], "third trap: patched");
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        assert_eq!(regs.orig_rax, 39);
    }

    #[test]
    fn the_patch_region_yields_only_while_no_site_jumps_there() {
        let platform = patching_platform();
        let code = [
            0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, 39 (getpid)
            0x0f, 0x05, //                   syscall
            0xeb, 0xf7, //                   jmp 0
        ];
        let (start, end) = (patch::PATCH_BASE, patch::PATCH_BASE + PAGE_SIZE);
        let fresh = crate::platform::conformance::space_with_code(platform, &code);
        assert_eq!(fresh.yield_reserved(start, end), Ok(()));
        assert_eq!(
            fresh.yield_reserved(0x1000_0000, 0x1000_1000),
            Err(crate::Errno::ENOMEM),
            "only the patch region yields"
        );
        // Given up: the site stays as it is.
        let mut ctx = platform.new_context();
        let mut regs = crate::platform::conformance::regs_at(platform, CODE);
        assert_eq!(ctx.switch(&*fresh, &mut regs).unwrap(), Event::Syscall);
        assert_eq!(ctx.switch(&*fresh, &mut regs).unwrap(), Event::Syscall);
        let mut now = [0u8; 1];
        fresh.read(CODE, &mut now).unwrap();
        assert_eq!(now, [0xb8]);
        // Once a site jumps into the region, it stays.
        let used = crate::platform::conformance::space_with_code(platform, &code);
        let mut ctx = platform.new_context();
        let mut regs = crate::platform::conformance::regs_at(platform, CODE);
        assert_eq!(ctx.switch(&*used, &mut regs).unwrap(), Event::Syscall);
        used.read(CODE, &mut now).unwrap();
        assert_eq!(now, [0xff]);
        assert_eq!(used.yield_reserved(start, end), Err(crate::Errno::ENOMEM));
    }

    #[test]
    fn new_address_spaces_are_forks_of_the_template() {
        let platform = SystrapPlatform::new().expect("systrap platform starts");
        let template = platform
            .template
            .as_ref()
            .expect("the template stub started");
        // The template's last host calls through its handler: none yet, then a fork's
        // (recvmsg, clone, and the two closes of its copies of the child's fds), in one
        // hand-off.
        let last_calls = || {
            let count = template.region.load_u32(slot::EXEC_COUNT).unwrap();
            (0..u64::from(count))
                .map(|i| {
                    let at = slot::EXEC_CALLS + i * slot::EXEC_CALL_SIZE;
                    template.region.load_u64(at).unwrap() as i64
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(last_calls(), []);
        let code = [
            0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, 39 (getpid)
            0x0f, 0x05, //                   syscall
        ];
        let space = crate::platform::conformance::space_with_code(&platform, &code);
        let fork = [
            libc::SYS_recvmsg,
            libc::SYS_clone,
            libc::SYS_close,
            libc::SYS_close,
        ];
        assert_eq!(last_calls(), fork);
        assert_ne!(space.host_pid(), template.host_pid());
        let mut ctx = platform.new_context();
        let mut regs = crate::platform::conformance::regs_at(&platform, CODE);
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        assert_eq!(regs.orig_rax, 39);
        // The template still waits in its slot, ready for the next fork.
        let another = crate::platform::conformance::space_with_code(&platform, &[0x0f, 0x0b]);
        let mut ctx = platform.new_context();
        let mut regs = crate::platform::conformance::regs_at(&platform, CODE);
        assert!(matches!(
            ctx.switch(&*another, &mut regs).unwrap(),
            Event::Fault {
                signo: libc::SIGILL,
                ..
            }
        ));
    }

    #[test]
    fn a_dead_template_leaves_new_address_spaces_to_ptrace() {
        let platform = SystrapPlatform::new().expect("systrap platform starts");
        let template = platform
            .template
            .as_ref()
            .expect("the template stub started");
        let pid = nix::unistd::Pid::from_raw(template.host_pid());
        nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL).unwrap();
        let space = crate::platform::conformance::space_with_code(
            &platform,
            &[
                0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, 39 (getpid)
                0x0f, 0x05, //                   syscall
            ],
        );
        let mut ctx = platform.new_context();
        let mut regs = crate::platform::conformance::regs_at(&platform, CODE);
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        assert_eq!(regs.orig_rax, 39);
    }

    #[test]
    fn forks_leave_no_fd_behind_in_the_parent_stub() {
        let space = space_with_code(&[
            0xb8, 0x39, 0x00, 0x00, 0x00, // mov eax, 57 (fork)
            0x0f, 0x05, //                   syscall
            0xeb, 0xf7, //                   jmp 0
        ]);
        let mut ctx = platform().new_context();
        let mut regs = regs_at(CODE);
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        let fds = || {
            std::fs::read_dir(format!("/proc/{}/fd", space.host_pid()))
                .unwrap()
                .count()
        };
        let before = fds();
        for _ in 0..5 {
            let pending = space.fork().unwrap();
            let child = std::thread::spawn(move || {
                platform()
                    .adopt_address_space(pending)
                    .map(|child| child.release())
                    .is_ok()
            });
            assert!(child.join().unwrap());
        }
        assert_eq!(
            fds(),
            before,
            "the parent closed its copies of each child's fds"
        );
    }

    #[test]
    fn spin_limits_parse() {
        assert_eq!(
            Spin::parse("100, 2000"),
            Some(Spin {
                sentry: 100,
                stub: 2000
            })
        );
        assert_eq!(Spin::parse("100"), None);
        assert_eq!(Spin::parse("x,1"), None);
    }

    fn space_with_code(code: &[u8]) -> Arc<dyn AddressSpace> {
        crate::platform::conformance::space_with_code(platform(), code)
    }

    fn regs_at(rip: u64) -> Regs {
        crate::platform::conformance::regs_at(platform(), rip)
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
}
