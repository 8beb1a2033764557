//! Running application code in a stub thread with PTRACE_SYSEMU and classifying why it stopped
//! (ptrace(2) "Syscall-stops", "Signal-delivery-stop", `PTRACE_EVENT_STOP`; after gVisor's
//! `pkg/sentry/platform/ptrace/subprocess.go` `switchToApp`).
//!
//! Interrupts: `StubInterrupter::interrupt` sets a pending flag and sends `INTERRUPT_SIGNAL`
//! (SIGCHLD, as gVisor does: harmless if it ever reaches an untraced stub) to the stub thread the
//! context last ran. The tracer turns that signal-delivery stop into `Event::Interrupted`; a
//! pending flag seen at the start of `switch` returns `Event::Interrupted` without running.
//! An interrupt may therefore be reported once more than it was requested (spuriously).
//!
//! Cost of a syscall round trip: four host calls (PTRACE_SYSEMU, wait4, PTRACE_GETREGS, and
//! PTRACE_POKEUSER of `rax` for the result) and two context switches. PTRACE_GET_SYSCALL_INFO
//! would not save a call: it replaces GETREGS one for one but leaves out the registers that
//! clone, signal delivery and ptrace-visible state need. `perf` of a getppid loop puts about
//! 97% of the time in the host kernel and 3% here and in the task loop.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use super::address_space::PtraceAddressSpace;
use super::inject::is_fault_signal;
use super::sys::{self, Stop, StoppedTracee};
use super::Shared;
use crate::platform::{AddressSpace, Context, Event, Interrupter, PlatformError, Regs};
use crate::Errno;

/// The host signal that kicks a running stub thread back to its tracer.
pub const INTERRUPT_SIGNAL: i32 = libc::SIGCHLD;

/// Kicks one context (see the module docs): a pending flag, and `INTERRUPT_SIGNAL` sent to the
/// stub thread the context last ran. The seccomp-trap platform uses it too.
pub struct StubInterrupter {
    pending: AtomicBool,
    /// `(stub tgid << 32) | stub tid` of the last switch, 0 before the first.
    target: AtomicU64,
}

impl StubInterrupter {
    pub(crate) fn new() -> StubInterrupter {
        StubInterrupter {
            pending: AtomicBool::new(false),
            target: AtomicU64::new(0),
        }
    }

    /// At the start of a switch: points the interrupter at stub thread `tid` of process
    /// `tgid`, then takes a pending interrupt (true: the switch returns `Interrupted`).
    pub(crate) fn arm(&self, tgid: i32, tid: i32) -> bool {
        let target = (u64::from(tgid as u32) << 32) | u64::from(tid as u32);
        // Only the context's own thread stores `target`: when it already holds this stub
        // thread (every switch but the first after a change), the locked store is skipped.
        // The swap below still orders after the earlier store, so `interrupt` cannot miss the
        // stub thread.
        if self.target.load(Ordering::Relaxed) != target {
            self.target.store(target, Ordering::SeqCst);
        }
        self.pending.swap(false, Ordering::SeqCst)
    }

    /// Whether an interrupt waits to be served.
    pub(crate) fn is_pending(&self) -> bool {
        self.pending.load(Ordering::SeqCst)
    }

    /// The interrupt signal reached the stub thread: the request is served.
    pub(crate) fn served(&self) {
        self.pending.store(false, Ordering::SeqCst);
    }
}

impl Interrupter for StubInterrupter {
    fn interrupt(&self) {
        self.pending.store(true, Ordering::SeqCst);
        let target = self.target.load(Ordering::SeqCst);
        if target != 0 {
            let tgid = (target >> 32) as i32;
            let tid = target as u32 as i32;
            // A dead target is fine: the pending flag still reports the interrupt.
            let _ = sys::tgkill(tgid, tid, INTERRUPT_SIGNAL);
        }
    }
}

/// The address space a context last ran in.
struct Cached {
    space: Weak<PtraceAddressSpace>,
    stub_tid: i32,
}

/// The registers a stub thread held at its last stop, as read by this context.
struct HostRegs {
    tid: i32,
    /// `sys::regs_epoch()` right after the read: any later SETREGS or resumption by this
    /// tracer thread (an injected syscall, say) makes the image stale.
    epoch: u64,
    regs: Regs,
}

/// One application thread's execution on one sentry host thread.
pub struct PtraceContext {
    shared: Arc<Shared>,
    interrupter: Arc<StubInterrupter>,
    cached: Option<Cached>,
    host_regs: Option<HostRegs>,
    /// The host's XSAVE area size, learnt from the first PTRACE_GETREGSET: a state of exactly
    /// that size (what a signal frame written from `fpstate` gives back at rt_sigreturn) is
    /// set without reading the current one first.
    xstate_len: Option<usize>,
}

/// The host's syscall-restart codes (`-ERESTARTSYS` .. `-ERESTART_RESTARTBLOCK`, Linux
/// `include/linux/errno.h`): with one of them in `rax` and `orig_rax >= 0`, a signal on the
/// way back to user mode makes the host rewind the syscall (`arch_do_signal_or_restart`).
fn is_host_restart_code(rax: u64) -> bool {
    (-516..=-512).contains(&(rax as i64))
}

/// Whether `a` and `b` differ in no register but `rax` and `orig_rax`.
fn same_but_rax(a: &Regs, b: &Regs) -> bool {
    a.r15 == b.r15
        && a.r14 == b.r14
        && a.r13 == b.r13
        && a.r12 == b.r12
        && a.rbp == b.rbp
        && a.rbx == b.rbx
        && a.r11 == b.r11
        && a.r10 == b.r10
        && a.r9 == b.r9
        && a.r8 == b.r8
        && a.rcx == b.rcx
        && a.rdx == b.rdx
        && a.rsi == b.rsi
        && a.rdi == b.rdi
        && a.rip == b.rip
        && a.cs == b.cs
        && a.eflags == b.eflags
        && a.rsp == b.rsp
        && a.ss == b.ss
        && a.fs_base == b.fs_base
        && a.gs_base == b.gs_base
        && a.ds == b.ds
        && a.es == b.es
        && a.fs == b.fs
        && a.gs == b.gs
}

impl PtraceContext {
    pub(super) fn new(shared: Arc<Shared>) -> PtraceContext {
        PtraceContext {
            shared,
            interrupter: Arc::new(StubInterrupter::new()),
            cached: None,
            host_regs: None,
            xstate_len: None,
        }
    }

    /// Loads `regs`, with `orig_rax = -1`, into stub thread `stopped`. The common case after a
    /// syscall (every register as the stop left it but the result in `rax`) is one
    /// PTRACE_POKEUSER instead of PTRACE_SETREGS. The host's `orig_rax` then keeps the syscall
    /// number instead of -1, which matters only with a restart code in `rax` (see
    /// `is_host_restart_code`); that case, and any other change, takes the full SETREGS (the
    /// only path that builds a copy of the register image).
    fn load_regs(&mut self, stopped: &StoppedTracee, regs: &Regs) -> Result<(), Errno> {
        const NOT_IN_SYSCALL: u64 = u64::MAX;
        let known = self.host_regs.take().filter(|h| {
            h.tid == stopped.tid() && h.epoch == sys::regs_epoch() && same_but_rax(&h.regs, regs)
        });
        match known {
            Some(h) if h.regs.rax == regs.rax && h.regs.orig_rax == NOT_IN_SYSCALL => Ok(()),
            Some(h) if h.regs.orig_rax == NOT_IN_SYSCALL || !is_host_restart_code(regs.rax) => {
                stopped.set_rax(regs.rax)
            }
            _ => stopped.setregs(&Regs {
                orig_rax: NOT_IN_SYSCALL,
                ..*regs
            }),
        }
    }

    /// The concrete address space behind `address_space` and the stub thread this host
    /// thread traces in it.
    fn resolve(
        &mut self,
        address_space: &dyn AddressSpace,
    ) -> Result<(Arc<PtraceAddressSpace>, i32), PlatformError> {
        let same = |space: &Arc<PtraceAddressSpace>| {
            std::ptr::addr_eq(Arc::as_ptr(space), address_space as *const dyn AddressSpace)
        };
        if let Some(cached) = &self.cached {
            if let Some(space) = cached.space.upgrade() {
                if same(&space) {
                    return Ok((space, cached.stub_tid));
                }
            }
        }
        let pid = address_space.host_pid();
        let not_ours = |source| PlatformError::Ptrace {
            op: "switch",
            pid,
            source,
        };
        let space = self
            .shared
            .lookup(pid)
            .filter(same)
            .ok_or_else(|| not_ours(Errno::ESRCH))?;
        let stub_tid = space
            .stub_tid_for(sys::gettid())
            .ok_or_else(|| not_ours(Errno::EPERM))?;
        self.cached = Some(Cached {
            space: Arc::downgrade(&space),
            stub_tid,
        });
        Ok((space, stub_tid))
    }

    /// The stub is gone: reap it and report `Exited`.
    fn exited(space: &PtraceAddressSpace) -> Event {
        space.terminate();
        Event::Exited
    }
}

impl Context for PtraceContext {
    /// Precondition: the calling host thread is the one that created `address_space` (its
    /// stub thread's tracer); otherwise `PlatformError::Ptrace { source: EPERM }`.
    fn switch(
        &mut self,
        address_space: &dyn AddressSpace,
        regs: &mut Regs,
    ) -> Result<Event, PlatformError> {
        let (space, tid) = self.resolve(address_space)?;
        if space.is_released() {
            return Ok(Event::Exited);
        }
        if self.interrupter.arm(space.host_pid(), tid) {
            return Ok(Event::Interrupted);
        }
        let err = |op: &'static str| {
            move |source| PlatformError::Ptrace {
                op,
                pid: tid,
                source,
            }
        };
        let mut stopped = StoppedTracee::assume_stopped(tid);
        // The host sees orig_rax = -1 ("not in a syscall") so that it never applies its own
        // syscall-restart logic (rewinding rip, rax = orig_rax) to the application: restarts
        // are the sentry's business. Under SYSEMU the current syscall is skipped regardless.
        match self.load_regs(&stopped, regs) {
            Ok(()) => {}
            Err(Errno::ESRCH) => return Ok(Self::exited(&space)),
            Err(e) => return Err(err("PTRACE_SETREGS")(e)),
        }
        loop {
            let running = match stopped.sysemu() {
                Ok(running) => running,
                Err(Errno::ESRCH) => return Ok(Self::exited(&space)),
                Err(e) => return Err(err("PTRACE_SYSEMU")(e)),
            };
            let (now, event) = match running.wait().map_err(err("waitpid"))? {
                Stop::Exited => {
                    space.mark_dead();
                    return Ok(Event::Exited);
                }
                Stop::Syscall(now) => (now, Event::Syscall),
                // Group-stop or PTRACE_INTERRUPT trap: nothing for the application; resume.
                Stop::Event(now) => {
                    stopped = now;
                    continue;
                }
                Stop::Signal(now, INTERRUPT_SIGNAL) => {
                    self.interrupter.served();
                    (now, Event::Interrupted)
                }
                // The stubs' own stop signal from their fork handshake: suppress and resume.
                Stop::Signal(now, libc::SIGSTOP) => {
                    stopped = now;
                    continue;
                }
                Stop::Signal(now, sig) if is_fault_signal(sig) => {
                    let info = now.fault_info().map_err(err("PTRACE_GETSIGINFO"))?;
                    // si_code > 0: raised by the kernel (a real fault), not sent by someone.
                    let event = if info.code > 0 {
                        Event::Fault {
                            signo: info.signo,
                            code: info.code,
                            addr: info.addr,
                        }
                    } else {
                        Event::Signal(sig)
                    };
                    (now, event)
                }
                Stop::Signal(now, sig) => (now, Event::Signal(sig)),
            };
            *regs = now.getregs().map_err(err("PTRACE_GETREGS"))?;
            self.host_regs = Some(HostRegs {
                tid,
                epoch: sys::regs_epoch(),
                regs: *regs,
            });
            return Ok(event);
        }
    }

    fn interrupter(&self) -> Arc<dyn Interrupter> {
        self.interrupter.clone()
    }

    /// PTRACE_GETREGSET `NT_X86_XSTATE` (the whole XSAVE area), or the 512-byte FXSAVE area
    /// from PTRACE_GETFPREGS where the host has no XSAVE.
    fn fpstate(&mut self, address_space: &dyn AddressSpace) -> Result<Vec<u8>, PlatformError> {
        let (_, tid) = self.resolve(address_space)?;
        let stopped = StoppedTracee::assume_stopped(tid);
        let err = |op: &'static str| {
            move |source| PlatformError::Ptrace {
                op,
                pid: tid,
                source,
            }
        };
        match stopped.get_xstate() {
            Ok(state) => {
                self.xstate_len = Some(state.len());
                Ok(state)
            }
            Err(Errno::EIO | Errno::ENODEV | Errno::EINVAL) => {
                stopped.get_fpregs().map_err(err("PTRACE_GETFPREGS"))
            }
            Err(e) => Err(err("PTRACE_GETREGSET")(e)),
        }
    }

    /// PTRACE_SETREGSET `NT_X86_XSTATE`. The kernel takes only a buffer of exactly its XSAVE
    /// size: a shorter `state` (an FXSAVE area, or a frame from a smaller XSAVE layout) is laid
    /// over the current state, a longer one is cut. A malformed XSAVE header (from the
    /// application's signal frame) is `EINVAL` from the host, returned as an error.
    fn set_fpstate(
        &mut self,
        address_space: &dyn AddressSpace,
        state: &[u8],
    ) -> Result<(), PlatformError> {
        let (_, tid) = self.resolve(address_space)?;
        let stopped = StoppedTracee::assume_stopped(tid);
        let err = |op: &'static str| {
            move |source| PlatformError::Ptrace {
                op,
                pid: tid,
                source,
            }
        };
        if state.len() < sys::FXSAVE_LEN {
            return Err(err("set_fpstate")(Errno::EINVAL));
        }
        if self.xstate_len == Some(state.len()) {
            // The whole area is replaced: the current one need not be read.
            return stopped.set_xstate(state).map_err(err("PTRACE_SETREGSET"));
        }
        match stopped.get_xstate() {
            Ok(mut current) => {
                self.xstate_len = Some(current.len());
                let n = current.len().min(state.len());
                current[..n].copy_from_slice(&state[..n]);
                stopped
                    .set_xstate(&current)
                    .map_err(err("PTRACE_SETREGSET"))
            }
            Err(Errno::EIO | Errno::ENODEV | Errno::EINVAL) => {
                stopped.set_fpregs(state).map_err(err("PTRACE_SETFPREGS"))
            }
            Err(e) => Err(err("PTRACE_GETREGSET")(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::ptrace::stub::PAGE_SIZE;
    use crate::platform::ptrace::tests::{platform, regs_at, space_with_code, CODE};
    use crate::platform::{Platform, Prot};

    #[test]
    fn registers_set_after_a_syscall_stop_and_an_injection_reach_the_stub() {
        let space = space_with_code(&[
            0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, 39 (getpid)
            0x0f, 0x05, //                   syscall
            0x89, 0xc7, //                   mov edi, eax
            0x0f, 0x05, //                   syscall
            0x48, 0x89, 0xde, //             mov rsi, rbx
            0x0f, 0x05, //                   syscall
        ]);
        let mut ctx = platform().new_context();
        let mut regs = regs_at(CODE);
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        // Only rax changes: the result alone is poked.
        regs.rax = 77;
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        assert_eq!(regs.rdi, 77);
        // An injected syscall runs in the same stub thread in between: the next switch must
        // not trust the image read at the stop, and another register changes too.
        space
            .map_anon(0x50_0000, PAGE_SIZE, Prot::READ, false)
            .unwrap();
        regs.rax = 5;
        regs.rbx = 0xabcd;
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        assert_eq!(regs.rsi, 0xabcd);
        assert_eq!(regs.rip, CODE + 16);
    }

    #[test]
    fn only_restart_codes_need_orig_rax_reset() {
        for code in 512..=516i64 {
            assert!(is_host_restart_code((-code) as u64));
        }
        assert!(!is_host_restart_code((-511i64) as u64));
        assert!(!is_host_restart_code((-517i64) as u64));
        assert!(!is_host_restart_code(512));
        let a = regs_at(CODE);
        let mut b = Regs {
            rax: 1,
            orig_rax: 2,
            ..a
        };
        assert!(same_but_rax(&a, &b));
        b.gs_base = 9;
        assert!(!same_but_rax(&a, &b));
    }

    #[test]
    fn host_never_restarts_an_interrupted_syscall() {
        let space = space_with_code(&[
            0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, 39
            0x0f, 0x05, //                   syscall
            0x89, 0xc7, //                   mov edi, eax
            0xb8, 0x3c, 0x00, 0x00, 0x00, // mov eax, 60
            0x0f, 0x05, //                   syscall
        ]);
        let mut ctx = platform().new_context();
        let mut regs = regs_at(CODE);
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        // The interrupt signal is queued while the stub sits in its syscall stop, so it is
        // delivered on the syscall exit path, where the host would restart -ERESTARTSYS.
        ctx.interrupter().interrupt();
        regs.rax = (-512i64) as u64;
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Interrupted);
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Interrupted);
        assert_eq!(regs.rip, CODE + 7);
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        assert_eq!(regs.orig_rax, 60);
        assert_eq!(regs.rdi, 0xffff_fe00);
    }
}
