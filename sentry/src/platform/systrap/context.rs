//! Running application code on the seccomp-trap platform: the stub thread runs untraced; a
//! syscall traps (seccomp `SECCOMP_RET_TRAP`, seccomp(2)) or a fault raises a signal, the stub's
//! handler parks in its slot, and the sentry reads and rewrites the signal frame the kernel
//! wrote on the slot's stack (`struct rt_sigframe`, `arch/x86/include/asm/sigframe.h`;
//! `struct sigcontext`, `arch/x86/include/uapi/asm/sigcontext.h`), then wakes the handler,
//! whose rt_sigreturn(2) loads the new registers. After gVisor's
//! `pkg/sentry/platform/systrap/subprocess.go` `switchToApp`.
//!
//! Everything read from the slot may have been written by the application (the region is
//! mapped in its address space): pointers are checked to lie in the thread's own slot stack
//! before they are used, and a broken hand-off kills the stub rather than the sentry.
//!
//! Interrupts: as on ptrace, a pending flag plus `INTERRUPT_SIGNAL` sent to the stub thread,
//! whose handler reports it like any other signal.
//!
//! Polling: each thread's `SpinPolicy` (`spin.rs`) sets both sides' poll limits before each
//! resume (the handler's in the slot's `SPIN_LIMIT` word, read at its next report) and moves
//! the pair between one CPU and all of them after each round trip.

use std::sync::{Arc, Weak};
use std::time::Instant;

use super::address_space::{SystrapAddressSpace, SLOTS_BASE};
use super::filter::AUDIT_ARCH_X86_64;
use super::spin::{Affinity, RoundTrip, SpinPolicy};
use super::{Registry, Spin};
use crate::abi::signal::{decode_sigcontext, sigcontext_gprs, SIGCONTEXT_SIZE};
use crate::platform::ptrace::stub::{slot, FORK_CHILD_NR, PAGE_SIZE};
use crate::platform::ptrace::{StubInterrupter, INTERRUPT_SIGNAL};
use crate::platform::{AddressSpace, Context, Event, Interrupter, PlatformError, Regs};
use crate::Errno;

/// Offsets in `struct ucontext` (x86_64): `uc_mcontext` (a `struct sigcontext`) at 40, whose
/// general registers come first (r8 .. r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip,
/// eflags), then `cs, gs, fs, ss` (u16 each), err, trapno, oldmask, cr2, and `fpstate`.
const UC_GREGS: u64 = 40;
const UC_FPSTATE: u64 = UC_GREGS + 23 * 8;
/// Bytes of `struct ucontext` the sentry touches (through `uc_sigmask`).
const UC_LEN: u64 = 304;
/// Offsets in `siginfo_t`: signo, code, then the union (`si_addr`, or for SIGSYS
/// `si_call_addr`, `si_syscall`, `si_arch`).
const SI_SIGNO: u64 = 0;
const SI_CODE: u64 = 8;
const SI_ADDR: u64 = 16;
const SI_SYSCALL: u64 = 24;
const SI_ARCH: u64 = 28;
const SI_LEN: u64 = 128;
/// `SYS_SECCOMP`: the si_code of a SIGSYS raised by `SECCOMP_RET_TRAP`.
const SYS_SECCOMP: i32 = 1;
/// `SI_KERNEL`.
const SI_KERNEL: i32 = 0x80;
/// `FP_XSTATE_MAGIC1` in `struct _fpx_sw_bytes` at byte 464 of the FXSAVE area.
const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const FX_SW_BYTES: u64 = 464;
const FXSAVE_LEN: u64 = 512;
/// Upper bound for an XSAVE area (AMX tiles make it about 11 KiB).
const XSTATE_MAX: u64 = 16 * 1024;

/// Where the last signal frame of the current stub thread lies, as region offsets.
#[derive(Clone, Copy)]
struct Frame {
    ucontext: u64,
    siginfo: u64,
    fs_base: u64,
}

/// The stub thread this context drives.
struct Current {
    space: Weak<SystrapAddressSpace>,
    tid: i32,
    slot: u64,
    /// `Some` while the thread sits in its handler with this frame; `None` before it ran.
    frame: Option<Frame>,
    /// The address space's attach count when this thread was last known detached.
    attaches_seen: u64,
    /// Call addresses this thread found unpatchable (`patch_site` said so): a trap there by
    /// signal goes on without the address space's patch lock (`syscall(3)` in a loop).
    unpatchable: [u64; 4],
    /// The poll limits and CPU placement of this thread's hand-off.
    spin: SpinPolicy,
    /// The slot's `SPIN_LIMIT`: what the handler polled with at its last report.
    stub_polls: u32,
    /// The CPU the pair was pinned to (learnt when it is first unpinned).
    home_cpu: Option<usize>,
    /// When the sentry last saw a trap (while the policy adapts).
    trapped_at: Option<Instant>,
}

impl Current {
    /// Feeds a round trip to the policy and moves the pair as it asks. Best effort: a pair
    /// that cannot be moved stays pinned, without polling.
    fn learn(&mut self, trip: RoundTrip, cpus: &[usize]) {
        match self.spin.record(trip) {
            Affinity::Keep => {}
            Affinity::Unpin => {
                let home = self
                    .home_cpu
                    .or_else(|| crate::platform::ptrace::pinned_cpu(self.tid));
                self.home_cpu = home;
                let unpinned = home.is_some_and(|home| {
                    crate::platform::ptrace::unpin_pair(self.tid, home, cpus).is_ok()
                });
                if !unpinned {
                    self.pin();
                    self.spin = SpinPolicy::new(super::spin::SpinMode::Fixed(Spin::default()));
                }
            }
            Affinity::Pin => self.pin(),
        }
    }

    fn pin(&self) {
        if let Some(cpu) = self.home_cpu {
            let _ = crate::platform::ptrace::pin_pair(self.tid, cpu);
        }
    }
}

pub struct SystrapContext {
    registry: Arc<Registry>,
    interrupter: Arc<StubInterrupter>,
    current: Option<Current>,
}

impl SystrapContext {
    pub(super) fn new(registry: Arc<Registry>) -> SystrapContext {
        SystrapContext {
            registry,
            interrupter: Arc::new(StubInterrupter::new()),
            current: None,
        }
    }

    /// The concrete address space and this thread's state in it.
    fn resolve(
        &mut self,
        address_space: &dyn AddressSpace,
    ) -> Result<Arc<SystrapAddressSpace>, Errno> {
        let same = |space: &Arc<SystrapAddressSpace>| {
            std::ptr::addr_eq(Arc::as_ptr(space), address_space as *const dyn AddressSpace)
        };
        if let Some(current) = &self.current {
            if let Some(space) = current.space.upgrade().filter(same) {
                return Ok(space);
            }
        }
        let space = self
            .registry
            .lookup(address_space.host_pid())
            .filter(same)
            .ok_or(Errno::ESRCH)?;
        let tid = space.inner.caller_stub_tid()?;
        let slot = space.slot_of(tid)?;
        self.current = Some(Current {
            space: Arc::downgrade(&space),
            tid,
            slot,
            frame: None,
            attaches_seen: u64::MAX,
            unpatchable: [0; 4],
            spin: SpinPolicy::new(self.registry.spin),
            stub_polls: 0,
            home_cpu: None,
            trapped_at: None,
        });
        Ok(space)
    }

    /// Offers the site of a syscall that trapped by signal to the patcher, unless this thread
    /// already learnt it cannot be patched.
    fn try_patch(&mut self, space: &SystrapAddressSpace, call_addr: u64, nr: u64) {
        let Some(current) = &mut self.current else {
            return;
        };
        if current.unpatchable.contains(&call_addr) {
            return;
        }
        if !space.patch_site(call_addr, nr) {
            current.unpatchable.rotate_right(1);
            current.unpatchable[0] = call_addr;
        }
    }

    fn current(&self) -> Result<&Current, Errno> {
        self.current.as_ref().ok_or(Errno::ESRCH)
    }

    /// A stub that broke the hand-off (its slot holds impossible values) is killed.
    fn broken(space: &SystrapAddressSpace) -> Event {
        space.release();
        Event::Exited
    }
}

/// Checks that `[ptr, ptr + len)` lies in the stack part of slot `slot` and is `align`ed, and
/// returns its region offset.
fn in_slot_stack(slot: u64, ptr: u64, len: u64, align: u64) -> Option<u64> {
    let offset = ptr.checked_sub(SLOTS_BASE)?;
    let start = slot * slot::SIZE + PAGE_SIZE;
    let end = (slot + 1) * slot::SIZE;
    (offset >= start && offset.checked_add(len)? <= end && offset.is_multiple_of(align))
        .then_some(offset)
}

/// Whether `frame` is the fast path's (built in the slot) rather than a kernel signal frame.
fn is_fast(slot: u64, frame: &Frame) -> bool {
    frame.siginfo == slot * slot::SIZE + slot::FAST_SIGINFO
}

/// Reads the frame the handler of slot `slot` reported.
fn read_frame(space: &SystrapAddressSpace, slot: u64) -> Result<Option<Frame>, Errno> {
    let base = slot * slot::SIZE;
    let siginfo = space.region.load_u64(base + slot::SIGINFO)?;
    let ucontext = space.region.load_u64(base + slot::UCONTEXT)?;
    let fs_base = space.region.load_u64(base + slot::FS_BASE)?;
    let (Some(siginfo), Some(ucontext)) = (
        in_slot_stack(slot, siginfo, SI_LEN, 8),
        in_slot_stack(slot, ucontext, UC_LEN, 8),
    ) else {
        return Ok(None);
    };
    Ok(Some(Frame {
        ucontext,
        siginfo,
        fs_base,
    }))
}

/// The registers in `frame`; fields a signal frame lacks are kept from `old`.
fn frame_regs(space: &SystrapAddressSpace, frame: &Frame, old: &Regs) -> Result<Regs, Errno> {
    let mut sigcontext = [0u8; SIGCONTEXT_SIZE];
    space
        .region
        .read_words(frame.ucontext + UC_GREGS, &mut sigcontext)?;
    let mut regs = Regs {
        fs_base: frame.fs_base,
        orig_rax: u64::MAX,
        ..*old
    };
    let (eflags, _fpstate, ss) = decode_sigcontext(&sigcontext, &mut regs);
    regs.eflags = eflags;
    regs.ss = u64::from(ss);
    regs.cs = u64::from(u16::from_le_bytes([sigcontext[144], sigcontext[145]]));
    Ok(regs)
}

/// Writes `regs` into `frame` for the handler's rt_sigreturn; a changed `fs_base` is handed
/// to the handler, which loads it itself.
fn write_frame(
    space: &SystrapAddressSpace,
    slot: u64,
    frame: &Frame,
    regs: &Regs,
) -> Result<(), Errno> {
    let g = sigcontext_gprs(regs);
    for (i, value) in g.iter().enumerate() {
        space
            .region
            .store_u64(frame.ucontext + UC_GREGS + 8 * i as u64, *value)?;
    }
    let base = slot * slot::SIZE;
    if regs.fs_base != frame.fs_base {
        space
            .region
            .store_u64(base + slot::NEW_FS_BASE, regs.fs_base)?;
        space.region.store_u64(base + slot::SET_FS, 1)?;
    }
    Ok(())
}

/// The event the frame's siginfo describes.
fn classify(space: &SystrapAddressSpace, frame: &Frame) -> Result<(Event, Option<u64>), Errno> {
    let signo = space.region.load_u32(frame.siginfo + SI_SIGNO)? as i32;
    let code = space.region.load_u32(frame.siginfo + SI_CODE)? as i32;
    if signo == libc::SIGSYS && code == SYS_SECCOMP {
        let arch = space.region.load_u32(frame.siginfo + SI_ARCH)?;
        if arch != AUDIT_ARCH_X86_64 {
            // A 32-bit syscall (int 0x80): not part of this kernel's ABI.
            let fault = Event::Fault {
                signo: libc::SIGSEGV,
                code: SI_KERNEL,
                addr: 0,
            };
            return Ok((fault, None));
        }
        let nr = space.region.load_u32(frame.siginfo + SI_SYSCALL)? as i32;
        return Ok((Event::Syscall, Some(i64::from(nr) as u64)));
    }
    if signo == INTERRUPT_SIGNAL && code <= 0 {
        return Ok((Event::Interrupted, None));
    }
    let fault = matches!(
        signo,
        libc::SIGSEGV | libc::SIGBUS | libc::SIGFPE | libc::SIGILL | libc::SIGTRAP
    );
    if fault && code > 0 {
        let addr = space.region.load_u64(frame.siginfo + SI_ADDR)?;
        return Ok((Event::Fault { signo, code, addr }, None));
    }
    Ok((Event::Signal(signo), None))
}

impl Context for SystrapContext {
    /// Precondition: the calling host thread drives a stub thread of `address_space` (it
    /// created the address space or adopted the thread).
    fn switch(
        &mut self,
        address_space: &dyn AddressSpace,
        regs: &mut Regs,
    ) -> Result<Event, PlatformError> {
        let pid = address_space.host_pid();
        let err = |op: &'static str| move |source| PlatformError::Ptrace { op, pid, source };
        let space = match self.resolve(address_space) {
            Ok(space) => space,
            Err(Errno::ESRCH) => return Ok(Event::Exited),
            Err(e) => return Err(err("switch")(e)),
        };
        let (tid, slot, frame, attaches_seen, limits, stub_polls, adapts) = {
            let current = self.current().map_err(err("switch"))?;
            (
                current.tid,
                current.slot,
                current.frame,
                current.attaches_seen,
                current.spin.limits(),
                current.stub_polls,
                current.spin.adapts(),
            )
        };
        // Only this thread seizes its own stub thread, and every seize counts: with the count
        // unchanged since it was last detached, it still is (no lock on the common path).
        let attaches = space.inner.attach_count();
        if self.interrupter.arm(pid, tid) {
            return Ok(Event::Interrupted);
        }
        // A stub the handler forked has made its first report by itself, at the fast path's
        // entry (`stub::FORK_CHILD_OFFSET`): it is resumed from that frame like any other.
        let frame = match frame {
            None => match space.take_first_report(slot) {
                None => None,
                Some(fpstate) => match read_frame(&space, slot) {
                    Ok(Some(first))
                        if is_fast(slot, &first)
                            && space.region.load_u32(first.siginfo + SI_SYSCALL)
                                == Ok(FORK_CHILD_NR) =>
                    {
                        // The FP state its parent had (it was made in the handler, which
                        // runs with the kernel's initial one).
                        if let Some(fp) = fpstate {
                            write_fpstate(&space, slot, &first, &fp).map_err(err("fpstate"))?;
                        }
                        space.inner.pair_with_caller(tid);
                        Some(first)
                    }
                    Ok(_) => return Ok(Self::broken(&space)),
                    Err(e) => return Err(err("slot")(e)),
                },
            },
            other => other,
        };
        let started = match frame {
            // First run of this thread here: set it up and let it go with `regs`.
            // The application's registers go in first: the stub may have been made inside a
            // handler, with its stack pointer on the alternate stack that sigaltstack(2)
            // cannot change while in use.
            // `gs_base` points at the thread's slot, for the fast path (the application's
            // own value stays in `regs`).
            None => space
                .inner
                .set_caller_regs(&Regs {
                    gs_base: SLOTS_BASE + slot * slot::SIZE,
                    ..*regs
                })
                .and_then(|()| space.set_up_thread(slot, limits.stub))
                .and_then(|()| space.inner.detach_caller())
                .map(|()| None),
            // It waits in its handler: rewrite the frame, detach it if an injection attached
            // it, and wake it.
            Some(frame) => write_frame(&space, slot, &frame, regs)
                .and_then(|()| {
                    let phase = if is_fast(slot, &frame) {
                        slot::FAST_RESUMED
                    } else {
                        0
                    };
                    space
                        .region
                        .store_u32(slot * slot::SIZE + slot::PHASE, phase)?;
                    // The handler drops an interrupt signal that comes while the fast path
                    // is on its way in or held here; one that came since this switch began
                    // is sent again now that a signal would be reported.
                    if phase == slot::FAST_RESUMED && self.interrupter.is_pending() {
                        crate::platform::ptrace::tgkill(pid, tid, INTERRUPT_SIGNAL)?;
                    }
                    Ok(())
                })
                .and_then(|()| {
                    if attaches != attaches_seen && space.inner.caller_attached()? {
                        space.inner.detach_caller()?;
                    }
                    Ok(())
                })
                .and_then(|()| {
                    if limits.stub != stub_polls {
                        space
                            .region
                            .store_u32(slot * slot::SIZE + slot::SPIN_LIMIT, limits.stub)?;
                    }
                    let resumed = adapts.then(Instant::now);
                    let polling = space.hand_over(slot, slot::RESUME)?;
                    // An injection since the last trap (a seize) moved the stub like a miss
                    // would: it costs more across CPUs.
                    let stub_hit = if attaches != attaches_seen {
                        Some(false)
                    } else {
                        (stub_polls > 0).then_some(polling)
                    };
                    Ok(resumed.map(|at| (at, stub_hit)))
                }),
        };
        if let Some(current) = &mut self.current {
            current.frame = None;
            current.attaches_seen = attaches;
            current.stub_polls = limits.stub;
        }
        space.set_in_handler(slot, false);
        let resumed = match started {
            Ok(resumed) => resumed,
            Err(Errno::ESRCH) => return Ok(Event::Exited),
            Err(e) => return Err(err("resuming the stub")(e)),
        };
        let caught = match space.wait_for_trap_polling(slot, tid, limits.sentry) {
            Ok(caught) => caught,
            Err(Errno::ESRCH) => {
                space.release();
                return Ok(Event::Exited);
            }
            Err(e) => return Err(err("waiting for the stub")(e)),
        };
        if let (Some((resumed, stub_hit)), Some(current)) = (resumed, &mut self.current) {
            let trapped = Instant::now();
            let nanos = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
            let trip = RoundTrip {
                stub_hit,
                sentry_hit: (limits.sentry > 0).then_some(caught),
                held: current
                    .trapped_at
                    .map_or(0, |at| nanos(resumed.saturating_duration_since(at))),
                ran: nanos(trapped.saturating_duration_since(resumed)),
            };
            current.trapped_at = Some(trapped);
            current.learn(trip, &self.registry.cpus);
        }
        let Some(frame) = read_frame(&space, slot).map_err(err("slot"))? else {
            return Ok(Self::broken(&space));
        };
        let (event, syscall) = classify(&space, &frame).map_err(err("slot"))?;
        let mut now = frame_regs(&space, &frame, regs).map_err(err("slot"))?;
        if let Some(nr) = syscall {
            now.orig_rax = nr;
            now.rax = (-(libc::ENOSYS as i64)) as u64;
            if space.patch_after > 0 && !is_fast(slot, &frame) {
                self.try_patch(&space, now.rip, nr);
            }
        }
        if event == Event::Interrupted {
            self.interrupter.served();
        }
        *regs = now;
        if let Some(current) = &mut self.current {
            current.frame = Some(frame);
        }
        space.set_in_handler(slot, true);
        if space.patch_after > 0
            && matches!(
                event,
                Event::Fault {
                    signo: libc::SIGTRAP,
                    code: SI_KERNEL,
                    ..
                }
            )
            && space.is_patched_site(regs.rip)
        {
            // The `int3` of a site being patched: run the site again.
            regs.rip -= 1;
            return self.switch(address_space, regs);
        }
        Ok(event)
    }

    fn interrupter(&self) -> Arc<dyn Interrupter> {
        self.interrupter.clone()
    }

    /// The XSAVE area the kernel saved in the signal frame.
    fn fpstate(&mut self, address_space: &dyn AddressSpace) -> Result<Vec<u8>, PlatformError> {
        let pid = address_space.host_pid();
        let err = |source| PlatformError::Ptrace {
            op: "fpstate",
            pid,
            source,
        };
        let space = self.resolve(address_space).map_err(err)?;
        let current = self.current().map_err(err)?;
        let frame = current.frame.ok_or(err(Errno::EAGAIN))?;
        let (offset, len) = fp_area(&space, current.slot, &frame).map_err(err)?;
        let mut state = vec![0u8; len as usize];
        space.region.read_words(offset, &mut state).map_err(err)?;
        Ok(state)
    }

    /// Writes `state` over the frame's XSAVE area, keeping the kernel's own descriptor bytes
    /// (`_fpx_sw_bytes`). A header the kernel would refuse at rt_sigreturn is `EINVAL` here.
    fn set_fpstate(
        &mut self,
        address_space: &dyn AddressSpace,
        state: &[u8],
    ) -> Result<(), PlatformError> {
        let pid = address_space.host_pid();
        let err = |source| PlatformError::Ptrace {
            op: "set_fpstate",
            pid,
            source,
        };
        let space = self.resolve(address_space).map_err(err)?;
        let current = self.current().map_err(err)?;
        let frame = current.frame.ok_or(err(Errno::EAGAIN))?;
        write_fpstate(&space, current.slot, &frame, state).map_err(err)
    }
}

/// The FP state in the frame the thread of slot `slot` reported last (it waits in its
/// handler): what a stub forked from it starts with.
pub(super) fn handler_fpstate(space: &SystrapAddressSpace, slot: u64) -> Result<Vec<u8>, Errno> {
    let frame = read_frame(space, slot)?.ok_or(Errno::EFAULT)?;
    let (offset, len) = fp_area(space, slot, &frame)?;
    let mut state = vec![0u8; len as usize];
    space.region.read_words(offset, &mut state)?;
    Ok(state)
}

/// Writes `state` over `frame`'s XSAVE area, keeping the kernel's own descriptor bytes
/// (`_fpx_sw_bytes`). A header the kernel would refuse at rt_sigreturn is `EINVAL` here.
fn write_fpstate(
    space: &SystrapAddressSpace,
    slot: u64,
    frame: &Frame,
    state: &[u8],
) -> Result<(), Errno> {
    let (offset, len) = fp_area(space, slot, frame)?;
    if (state.len() as u64) < FXSAVE_LEN {
        return Err(Errno::EINVAL);
    }
    let mut current_state = vec![0u8; len as usize];
    space.region.read_words(offset, &mut current_state)?;
    let n = current_state.len().min(state.len());
    let mut new = current_state.clone();
    new[..n].copy_from_slice(&state[..n]);
    let sw = FX_SW_BYTES as usize..FXSAVE_LEN as usize;
    new[sw.clone()].copy_from_slice(&current_state[sw]);
    check_xsave(&current_state, &new)?;
    space.region.write_words(offset, &new)
}

/// The region offset and length (a multiple of 8) of the frame's FP state.
fn fp_area(space: &SystrapAddressSpace, slot: u64, frame: &Frame) -> Result<(u64, u64), Errno> {
    let ptr = space.region.load_u64(frame.ucontext + UC_FPSTATE)?;
    let offset = in_slot_stack(slot, ptr, FXSAVE_LEN, 64).ok_or(Errno::EFAULT)?;
    let magic = space.region.load_u32(offset + FX_SW_BYTES)?;
    let len = if magic == FP_XSTATE_MAGIC1 {
        let size = u64::from(space.region.load_u32(offset + FX_SW_BYTES + 16)?);
        if !(FXSAVE_LEN..=XSTATE_MAX).contains(&size) {
            return Err(Errno::EFAULT);
        }
        size.next_multiple_of(8)
    } else {
        FXSAVE_LEN
    };
    in_slot_stack(slot, ptr, len, 64).ok_or(Errno::EFAULT)?;
    Ok((offset, len))
}

/// Rejects what the kernel's rt_sigreturn would refuse in a new XSAVE image, given the frame's
/// current one: MXCSR bits outside the mask, and an XSAVE header with features the frame does
/// not carry, a compacted format or reserved bytes set.
fn check_xsave(current: &[u8], new: &[u8]) -> Result<(), Errno> {
    let u32_at = |b: &[u8], at: usize| {
        u32::from_le_bytes(b[at..at + 4].try_into().expect("invariant: 4 bytes"))
    };
    let u64_at = |b: &[u8], at: usize| {
        u64::from_le_bytes(b[at..at + 8].try_into().expect("invariant: 8 bytes"))
    };
    let mask = match u32_at(current, 28) {
        0 => 0xffbf,
        m => m,
    };
    if u32_at(new, 24) & !mask != 0 {
        return Err(Errno::EINVAL);
    }
    if new.len() >= 576 && u32_at(current, FX_SW_BYTES as usize) == FP_XSTATE_MAGIC1 {
        let features = u64_at(current, FX_SW_BYTES as usize + 8);
        let xstate_bv = u64_at(new, 512);
        let xcomp_bv = u64_at(new, 520);
        if xstate_bv & !features != 0 || xcomp_bv != 0 || new[528..576].iter().any(|&b| b != 0) {
            return Err(Errno::EINVAL);
        }
    }
    Ok(())
}
