//! One application address space on the seccomp-trap platform: a ptrace stub process (whose
//! mappings are still changed by injected syscalls, see `platform::ptrace`) plus the region of
//! slots it shares with the sentry, one slot per stub thread: a page of hand-off words
//! (`stub::slot`) followed by the thread's alternate signal stack, on which the kernel writes
//! the signal frame the sentry reads and rewrites (sigaltstack(2), rt_sigaction(2)).
//! After gVisor's `pkg/sentry/platform/systrap/subprocess.go`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::filter;
use super::patch::{self, PatchState};
use super::spares::{Spare, Spares};
use super::sys::{self, SharedRegion};
use super::Spin;
use crate::platform::ptrace::stub::{self, slot, PAGE_SIZE, STUB_BASE};
use crate::platform::ptrace::{
    OwnSocket, PtraceAddressSpace, FORK_CLONE_FLAGS, INTERRUPT_SIGNAL, THREAD_CLONE_FLAGS,
};
use crate::platform::{AddressSpace, PendingStub, PlatformError, Prot};
use crate::Errno;

pub use crate::platform::ptrace::stub::{MAX_SLOTS, SLOTS_BASE, SLOTS_LEN};
// The stub and its slots lie where the filter never lets mapping calls run untraced.
const _: () = assert!(
    STUB_BASE >= filter::EXEC_ADDR_LIMIT && SLOTS_BASE + SLOTS_LEN <= filter::EXEC_ADDR_RESUME
);

/// Constants of a signal frame the fast frame reproduces: `SYS_SECCOMP` (the si_code of a
/// seccomp SIGSYS), the user code and stack segments (`__USER_CS`, `__USER_DS`), and the
/// XSAVE area's software descriptor magics and place.
const SYS_SECCOMP: u32 = 1;
const USER_CS: u64 = 0x33;
const USER_SS: u64 = 0x2b;
const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
const FX_SW_BYTES: u64 = 464;

/// The XSAVE layout of the fast frame, if the host has XSAVE and it fits the slot.
pub(super) fn fast_layout() -> Option<(u64, u32)> {
    static LAYOUT: std::sync::OnceLock<Option<(u64, u32)>> = std::sync::OnceLock::new();
    *LAYOUT.get_or_init(|| {
        super::sys::xsave_layout()
            .filter(|&(_, size)| u64::from(size) + 4 <= slot::FAST_FPSTATE_MAX)
    })
}

// The slot's parts do not overlap: hand-off words, alternate stack, the fast path's stack
// (which must lie outside the alternate stack, so that a signal taken on the fast path starts
// a frame at the alternate stack's top), its frame; and the fast path's phases are distinct
// from each other and from the "neither" a new slot starts with.
const _: () = assert!(
    slot::ALTSTACK_END < slot::FAST_STACK
        && slot::FAST_STACK <= slot::FAST_SIGINFO
        && slot::FAST_SIGINFO + 128 <= slot::FAST_UCONTEXT
        && slot::FAST_UCONTEXT + 304 <= slot::FAST_FPSTATE
        && slot::FAST_FPSTATE.is_multiple_of(64)
        && slot::FAST_ENTERING != slot::FAST_RESUMED
        && slot::FAST_ENTERING != 0
        && slot::FAST_RESUMED != 0
);

/// How long the sentry sleeps on a hand-off word before checking that the stub lives.
const LIVENESS_PERIOD: std::time::Duration = std::time::Duration::from_millis(100);

/// A non-empty, page-aligned range (what the ptrace side checks too, before the bound).
fn check_aligned(addr: u64, len: u64) -> Result<(), Errno> {
    if len == 0 || !addr.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// Scratch offsets in slot 0's first page, used while a new stub process is set up (it has a
/// single thread then, and the hand-off words stay below 0x100).
const SETUP_SIGACTION: u64 = 0x800;
const SETUP_FPROG: u64 = 0x900;
const SETUP_FILTER: u64 = 0xa00;
/// Per-slot scratch for the thread's own setup.
const THREAD_STACK_T: u64 = 0x100;
const THREAD_SIGMASK: u64 = 0x120;
/// Per-slot scratch for fds received on the address space's own socket (recvmsg(2) from the
/// handler): a `struct msghdr`, its `iovec` and the data byte; the control buffer is
/// `slot::FD_CMSG`, where the handler finds the fds for `slot::FD_ARG`.
const FD_MSGHDR: u64 = 0x200;
const FD_IOVEC: u64 = 0x240;
const FD_DATA: u64 = 0x250;
use slot::{FD_CMSG, FD_CMSG_SPACE};
/// Per-slot: 16 random bytes the sentry writes into a forked stub's new slot region, read back
/// from the stub's memory to check that the pid its parent reported maps that region.
const NONCE: u64 = 0x280;

/// Signals the stub handler takes: the trapped syscall, faults, and the sentry's kick.
const HANDLED_SIGNALS: [i32; 7] = [
    libc::SIGSYS,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGTRAP,
    INTERRUPT_SIGNAL,
];

/// `SA_RESTORER` (`arch/x86/include/uapi/asm/signal.h`); libc does not export it.
const SA_RESTORER: u64 = 0x0400_0000;
/// `SECCOMP_SET_MODE_FILTER` (`include/uapi/linux/seccomp.h`).
const SECCOMP_SET_MODE_FILTER: u64 = 1;

pub struct SystrapAddressSpace {
    pub(super) inner: Arc<PtraceAddressSpace>,
    pub(super) region: Arc<SharedRegion>,
    /// Which stub thread holds each slot.
    slots: Mutex<Vec<Option<i32>>>,
    /// Per slot: its thread waits in its handler now (so that it can make host syscalls for
    /// the sentry, `slot::EXEC`). Set and cleared on every switch, so atomic, not locked.
    in_handler: Box<[AtomicBool]>,
    spin: Spin,
    /// Syscall patching (`patch.rs`): what has been patched, under the lock `fork` holds.
    patches: Mutex<PatchState>,
    /// Traps by signal after which a site is patched (`patch.rs`); 0: no patching.
    pub(super) patch_after: usize,
    /// Regions and sockets made ahead for forks (the platform's).
    spares: Arc<Spares>,
    /// The slots whose thread has not reported yet but will by itself (a stub process or
    /// thread the handler made reports at the fast path's entry, `stub::FORK_CHILD_OFFSET`),
    /// with the FP state it resumes with (its parent's when it was made).
    first_reports: Mutex<Vec<(u64, Option<Vec<u8>>)>>,
    /// This is the platform's template (`start_as_template`): its one thread waits in its
    /// slot 0 for good, and whichever sentry thread forks it drives it there (under the
    /// patch lock), untraced.
    template: AtomicBool,
}

/// The slot marker of a slot given to a thread the handler is making (its tid is not known
/// yet); no thread has id 0.
const RESERVED: i32 = 0;

/// The platform half of a `PendingStub` from `new_thread`: a stub thread the handler made, on
/// its way to its first report in its slot. Dropped unadopted, it is told to exit.
pub(super) struct HandlerThread {
    tgid: i32,
    tid: i32,
    slot: u64,
    region: Arc<SharedRegion>,
    fpstate: Option<Vec<u8>>,
    /// False once adopted.
    armed: bool,
}

impl Drop for HandlerThread {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // Once it waits in its slot, it makes exit(0) there (`slot::EXEC`). Its slot stays
        // taken: the address space cannot tell when the thread is gone.
        if reported_soon(&self.region, self.slot) {
            let _ = request_exec(
                &self.region,
                self.slot,
                &[HostCall::new(libc::SYS_exit, [0; 6])],
            );
        }
    }
}

/// The platform half of a `PendingStub` from `fork`: a stub process the handler forked, on
/// its way to its first report, with the slot region and socket made for it. Dropped
/// unadopted, it is killed (its parent, the master stub, reaps it), if it proves to be the
/// stub (`is_genuine`).
pub(super) struct ForkedStub {
    pid: i32,
    /// `None` once adopted.
    pidfd: Option<OwnedFd>,
    /// The child's region and socket; `None` once adopted.
    parts: Option<(SharedRegion, OwnSocket)>,
    /// The forking thread's slot: the child's thread has the same one (its alternate stack and
    /// `gs_base` are copies of its parent's).
    slot: u64,
    /// What the child's slot holds at `NONCE`.
    nonce: [u8; 16],
    /// The parent's FP state when it forked, for the child's first resume.
    fpstate: Option<Vec<u8>>,
}

impl Drop for ForkedStub {
    fn drop(&mut self) {
        let Some(pidfd) = self.pidfd.take() else {
            return;
        };
        // Give it the time to map its region (it has by its first report), then check that
        // it is the stub before killing it.
        if let Some((region, _)) = &self.parts {
            reported_soon(region, self.slot);
        }
        if self.is_genuine() {
            crate::platform::ptrace::pidfd_kill_and_reap(pidfd.as_fd());
        }
    }
}

impl ForkedStub {
    pub(super) fn pid(&self) -> i32 {
        self.pid
    }

    /// Whether process `pid` maps this stub's slot region at `SLOTS_BASE`: the pid came
    /// through memory the application can write, so until this holds it may name any
    /// process the sentry can see. Meaningful once the child has mapped its region (it has
    /// by its first report).
    pub(super) fn is_genuine(&self) -> bool {
        let mut seen = [0u8; 16];
        let at = SLOTS_BASE + self.slot * slot::SIZE + NONCE;
        crate::platform::ptrace::read_memory(self.pid, at, &mut seen) == Ok(16)
            && seen == self.nonce
    }

    /// Waits for the child's first report, checking every `LIVENESS_PERIOD` that it lives.
    pub(super) fn wait_first_report(&self) -> Result<(), Errno> {
        let (region, _) = self.parts.as_ref().ok_or(Errno::ESRCH)?;
        wait_trapped(region, self.slot, self.pid, self.pid, 0).map(drop)
    }
}

/// Polls slot `slot` of `region` for its thread's report (`TRAPPED`) for up to 100 ms: for a
/// stub process or thread the handler made and nobody adopted. True if it came.
fn reported_soon(region: &SharedRegion, slot: u64) -> bool {
    for _ in 0..20 {
        if region.load_u32(slot * slot::SIZE + slot::STATE) == Ok(slot::TRAPPED) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    false
}

/// Marks slot `slot` of `region` with `state` (`RESUME` or `EXEC`) and wakes its handler if it
/// sleeps (see the handler's comment in `ptrace::stub` for the protocol). True if the handler
/// was still polling (it will see the state without a wake-up).
fn hand_over_slot(region: &SharedRegion, slot: u64, state: u32) -> Result<bool, Errno> {
    let base = slot * slot::SIZE;
    region.swap_u32(base + slot::STATE, state)?;
    if region.load_u32(base + slot::STUB_SLEEPING)? != 0 {
        region.futex_wake(base + slot::STATE)?;
        return Ok(false);
    }
    Ok(true)
}

/// A host syscall for the handler to make (`slot::EXEC`): its number and arguments, where
/// `slot::FD_ARG + k` stands for the k-th fd the same batch received.
#[derive(Clone, Copy)]
struct HostCall {
    nr: i64,
    args: [u64; 6],
}

impl HostCall {
    const fn new(nr: i64, args: [u64; 6]) -> HostCall {
        HostCall { nr, args }
    }

    /// close(2) of the k-th fd the same batch received.
    const fn close_received(k: u64) -> HostCall {
        HostCall::new(libc::SYS_close, [slot::FD_ARG + k, 0, 0, 0, 0, 0])
    }
}

/// What `receive_in_slot` gives: the fds' numbers in the stub (`u64::MAX` past those sent)
/// and the results of the calls that followed the receipt.
type Received<const N: usize> = ([u64; 2], [Result<u64, Errno>; N]);

/// What a call of a batch the handler did not make reads as (it stopped at an earlier one's
/// failure): its result word keeps this, written by the sentry.
const NOT_MADE: Errno = Errno::ECANCELED;

/// Asks the handler waiting in slot `slot` of `region` to make `calls` (at most
/// `slot::EXEC_MAX`) in order, up to the first that fails (`slot::EXEC`); it reports
/// `TRAPPED` again with their results in `slot::EXEC_CALLS`.
fn request_exec(region: &SharedRegion, slot: u64, calls: &[HostCall]) -> Result<(), Errno> {
    if calls.len() as u64 > slot::EXEC_MAX {
        return Err(Errno::E2BIG);
    }
    let base = slot * slot::SIZE;
    for (i, call) in calls.iter().enumerate() {
        let at = base + slot::EXEC_CALLS + i as u64 * slot::EXEC_CALL_SIZE;
        let mut words = [0u8; slot::EXEC_CALL_SIZE as usize];
        words[0..8].copy_from_slice(&call.nr.to_le_bytes());
        for (j, arg) in call.args.iter().enumerate() {
            words[8 + 8 * j..16 + 8 * j].copy_from_slice(&arg.to_le_bytes());
        }
        let not_made = -(NOT_MADE as i64);
        let result = slot::EXEC_RESULT as usize;
        words[result..result + 8].copy_from_slice(&not_made.to_le_bytes());
        region.write_words(at, &words)?;
    }
    region.store_u32(base + slot::EXEC_COUNT, calls.len() as u32)?;
    hand_over_slot(region, slot, slot::EXEC).map(drop)
}

/// The result of call `i` of the last batch of slot `slot` (`request_exec`), as a syscall's:
/// read from memory the application can write, so only a number to check.
fn exec_result(region: &SharedRegion, slot: u64, i: usize) -> Result<u64, Errno> {
    let at = slot * slot::SIZE + slot::EXEC_CALLS + i as u64 * slot::EXEC_CALL_SIZE;
    let raw = region.load_u64(at + slot::EXEC_RESULT)? as i64;
    if (-4095..0).contains(&raw) {
        Err(Errno::from_raw(-raw as i32))
    } else {
        Ok(raw as u64)
    }
}

/// Waits until slot `slot` of `region` reports `TRAPPED`: polls `polls` times, then sleeps on
/// the word, waking every `LIVENESS_PERIOD` to check that stub thread `tid` of process `pid`
/// still lives (`ESRCH` if not). True if a poll saw the trap.
fn wait_trapped(
    region: &SharedRegion,
    slot: u64,
    pid: i32,
    tid: i32,
    polls: u32,
) -> Result<bool, Errno> {
    let base = slot * slot::SIZE;
    let state = base + slot::STATE;
    for _ in 0..polls {
        if region.load_u32(state)? == slot::TRAPPED {
            return Ok(true);
        }
        std::hint::spin_loop();
    }
    region.swap_u32(base + slot::SENTRY_SLEEPING, 1)?;
    let result = loop {
        let now = region.load_u32(state)?;
        if now == slot::TRAPPED {
            break Ok(());
        }
        region.futex_wait(state, now, LIVENESS_PERIOD)?;
        if region.load_u32(state)? != slot::TRAPPED
            && crate::platform::ptrace::tgkill(pid, tid, 0).is_err()
        {
            break Err(Errno::ESRCH);
        }
    };
    region.store_u32(base + slot::SENTRY_SLEEPING, 0)?;
    result.map(|()| false)
}

impl SystrapAddressSpace {
    /// Wraps a stub process fresh from the master that the calling thread has just seized
    /// (stopped, single-threaded): makes sure it dies with the platform, maps a fresh slot
    /// region over `SLOTS_BASE`, gives it a fd-passing socket of its own in place of the shared
    /// one, and installs the signal handlers and the seccomp filter, which its forks inherit.
    pub(super) fn set_up(
        inner: Arc<PtraceAddressSpace>,
        spin: Spin,
        patch_after: usize,
        spares: Arc<Spares>,
    ) -> Result<SystrapAddressSpace, PlatformError> {
        let pid = inner.host_pid();
        let err = |op: &'static str| move |source| PlatformError::Ptrace { op, pid, source };
        let region = SharedRegion::new(SLOTS_LEN).map_err(err("memfd for the slot region"))?;
        let space = SystrapAddressSpace::new(inner, region, spin, patch_after, spares);
        let inject = |nr: i64, args: [u64; 6], op: &'static str| {
            space.inner.inject_caller(nr, args).map_err(err(op))
        };
        inject(
            libc::SYS_prctl,
            [
                libc::PR_SET_PDEATHSIG as u64,
                libc::SIGKILL as u64,
                0,
                0,
                0,
                0,
            ],
            "prctl(PR_SET_PDEATHSIG)",
        )?;
        space
            .inner
            .map_file(
                SLOTS_BASE,
                SLOTS_LEN,
                Prot::READ | Prot::WRITE,
                true,
                space.region.fd(),
                0,
            )
            .map_err(err("mapping the slot region"))?;
        // Its own socket, received through the shared one (which it keeps at
        // `STUB_SOCKET_FD`, out of the application's reach).
        let (own, stub_end) = OwnSocket::new().map_err(err("socketpair"))?;
        let received = space
            .inner
            .receive_fd(stub_end.as_fd())
            .map_err(err("passing the stub its socket"))?;
        let own = own.with_stub_fd(received);
        space.inner.set_own_socket(own);
        {
            let mut action = [0u8; 32];
            action[0..8].copy_from_slice(&(STUB_BASE + stub::HANDLER_OFFSET).to_le_bytes());
            let flags = (libc::SA_SIGINFO | libc::SA_ONSTACK) as u64 | SA_RESTORER;
            action[8..16].copy_from_slice(&flags.to_le_bytes());
            action[16..24].copy_from_slice(&(STUB_BASE + stub::RESTORER_OFFSET).to_le_bytes());
            // Every signal blocked while the handler runs.
            action[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
            space
                .region
                .write_words(SETUP_SIGACTION, &action)
                .map_err(err("writing sigaction"))?;
            for sig in HANDLED_SIGNALS {
                inject(
                    libc::SYS_rt_sigaction,
                    [sig as u64, SLOTS_BASE + SETUP_SIGACTION, 0, 8, 0, 0],
                    "rt_sigaction",
                )?;
            }
            let program = filter::stub_filter();
            let mut bytes = filter::to_bytes(&program);
            bytes.resize(bytes.len().next_multiple_of(8), 0);
            space
                .region
                .write_words(SETUP_FILTER, &bytes)
                .map_err(err("writing the filter"))?;
            // struct sock_fprog { unsigned short len; struct sock_filter *filter; }.
            let mut fprog = [0u8; 16];
            fprog[0..2].copy_from_slice(&(program.len() as u16).to_le_bytes());
            fprog[8..16].copy_from_slice(&(SLOTS_BASE + SETUP_FILTER).to_le_bytes());
            space
                .region
                .write_words(SETUP_FPROG, &fprog)
                .map_err(err("writing sock_fprog"))?;
            inject(
                libc::SYS_prctl,
                [libc::PR_SET_NO_NEW_PRIVS as u64, 1, 0, 0, 0, 0],
                "prctl(PR_SET_NO_NEW_PRIVS)",
            )?;
            inject(
                libc::SYS_seccomp,
                [
                    SECCOMP_SET_MODE_FILTER,
                    0,
                    SLOTS_BASE + SETUP_FPROG,
                    0,
                    0,
                    0,
                ],
                "seccomp(SECCOMP_SET_MODE_FILTER)",
            )?;
            if patch_after > 0 {
                patch::map_region(&space).map_err(err("mapping the patch region"))?;
            }
        }
        Ok(space)
    }

    fn new(
        inner: Arc<PtraceAddressSpace>,
        region: SharedRegion,
        spin: Spin,
        patch_after: usize,
        spares: Arc<Spares>,
    ) -> SystrapAddressSpace {
        SystrapAddressSpace {
            inner,
            region: Arc::new(region),
            slots: Mutex::new(vec![None; MAX_SLOTS as usize]),
            in_handler: (0..MAX_SLOTS).map(|_| AtomicBool::new(false)).collect(),
            spin,
            patches: Mutex::default(),
            patch_after,
            spares,
            first_reports: Mutex::new(Vec::new()),
            template: AtomicBool::new(false),
        }
    }

    /// Wraps a stub process the handler forked (`fork`), now driven by the calling thread
    /// (`inner`, which records its thread as detached): its thread holds `forked.slot`, and
    /// reports by itself.
    pub(super) fn adopt_forked(
        forked: &mut ForkedStub,
        adopt: impl FnOnce(i32, OwnedFd) -> Arc<PtraceAddressSpace>,
        spin: Spin,
        patch_after: usize,
        spares: Arc<Spares>,
    ) -> Result<SystrapAddressSpace, Errno> {
        let (region, socket) = forked.parts.take().ok_or(Errno::ESRCH)?;
        let pidfd = forked.pidfd.take().ok_or(Errno::ESRCH)?;
        let inner = adopt(forked.pid, pidfd);
        inner.set_own_socket(socket);
        let space = SystrapAddressSpace::new(inner, region, spin, patch_after, spares);
        {
            let mut slots = space.slots.lock().unwrap_or_else(PoisonError::into_inner);
            slots[forked.slot as usize] = Some(forked.pid);
        }
        space.expect_first_report(forked.slot, forked.fpstate.take());
        // It waits in its handler (at its first report): host calls can go through it.
        space.set_in_handler(forked.slot, true);
        Ok(space)
    }

    /// Makes this fresh address space (`set_up`, its thread stopped by the caller) the
    /// platform's template: its thread goes to wait in slot 0 at the fast path's entry, as a
    /// forked stub does at its start, and stays there; `fork_template` then makes new address
    /// spaces from it without ptrace. `initial` gives the segment registers and flags.
    pub(super) fn start_as_template(&self, initial: &crate::platform::Regs) -> Result<(), Errno> {
        let pid = self.host_pid();
        let slot = self.slot_of(pid)?;
        let base = SLOTS_BASE + slot * slot::SIZE;
        self.inner.set_caller_regs(&crate::platform::Regs {
            rip: STUB_BASE + stub::FAST_ENTRY_OFFSET,
            rax: u64::from(stub::FORK_CHILD_NR),
            rcx: STUB_BASE + stub::FAST_ENTRY_OFFSET,
            rsp: base + slot::FAST_STACK,
            gs_base: base,
            ..*initial
        })?;
        self.set_up_thread(slot, 0)?;
        self.inner.detach_caller()?;
        self.wait_for_trap(slot, pid)?;
        self.set_in_handler(slot, true);
        self.template.store(slot == 0, Ordering::Release);
        if slot != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// A fork of the template (`start_as_template`): a new address space with only the stub's
    /// pages, ready for `Platform::adopt_address_space`.
    pub(super) fn fork_template(&self) -> Result<PendingStub, Errno> {
        if !self.template.load(Ordering::Acquire) {
            return Err(Errno::EINVAL);
        }
        // Gone (killed from outside): fail at once rather than after a liveness period.
        let pid = self.host_pid();
        crate::platform::ptrace::tgkill(pid, pid, 0)?;
        let _serial = self.lock_patches();
        let own = self.inner.own_socket().ok_or(Errno::EBADF)?;
        self.fork_in_slot(0, own)
    }

    fn expect_first_report(&self, slot: u64, fpstate: Option<Vec<u8>>) {
        let mut first = self
            .first_reports
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        first.retain(|(s, _)| *s != slot);
        first.push((slot, fpstate));
    }

    /// Whether the thread of `slot` has yet to make its first report by itself (once), and
    /// if so the FP state it resumes with.
    pub(super) fn take_first_report(&self, slot: u64) -> Option<Option<Vec<u8>>> {
        let mut first = self
            .first_reports
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let index = first.iter().position(|(s, _)| *s == slot)?;
        Some(first.swap_remove(index).1)
    }

    pub(super) fn lock_patches(&self) -> std::sync::MutexGuard<'_, PatchState> {
        self.patches.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The slot of stub thread `tid`, given one if it has none; `EAGAIN` when all are taken.
    pub(super) fn slot_of(&self, tid: i32) -> Result<u64, Errno> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(index) = slots.iter().position(|s| *s == Some(tid)) {
            return Ok(index as u64);
        }
        let index = slots
            .iter()
            .position(Option::is_none)
            .ok_or(Errno::EAGAIN)?;
        slots[index] = Some(tid);
        self.in_handler[index].store(false, Ordering::Release);
        Ok(index as u64)
    }

    fn free_slot(&self, tid: i32) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        for (index, s) in slots.iter_mut().enumerate() {
            if *s == Some(tid) {
                *s = None;
                self.in_handler[index].store(false, Ordering::Release);
            }
        }
    }

    /// Records whether the thread of slot `index` waits in its handler (set by the context
    /// when it reports a trap, cleared before it resumes the thread).
    pub(super) fn set_in_handler(&self, index: u64, in_handler: bool) {
        if let Some(flag) = self.in_handler.get(index as usize) {
            flag.store(in_handler, Ordering::Release);
        }
    }

    /// The slot of the caller's stub thread if it waits in its handler.
    fn caller_handler_slot(&self) -> Option<u64> {
        if self.template.load(Ordering::Acquire) {
            return self.in_handler[0].load(Ordering::Acquire).then_some(0);
        }
        let tid = self.inner.caller_stub_tid().ok()?;
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let index = slots.iter().position(|s| *s == Some(tid))?;
        self.in_handler[index]
            .load(Ordering::Acquire)
            .then_some(index as u64)
    }

    /// `hand_over_slot` in this address space's region.
    pub(super) fn hand_over(&self, slot: u64, state: u32) -> Result<bool, Errno> {
        hand_over_slot(&self.region, slot, state)
    }

    /// `wait_for_trap_polling` for the handler's host calls (`exec_in_slot`): with the
    /// platform's fixed sentry limit; with adaptive limits (no fixed ones), as many polls as
    /// the handler makes now (`slot::SPIN_LIMIT`, which the application could write: capped).
    pub(super) fn wait_for_trap(&self, slot: u64, tid: i32) -> Result<(), Errno> {
        let polls = if self.spin == Spin::default() {
            let limit = self.region.load_u32(slot * slot::SIZE + slot::SPIN_LIMIT)?;
            limit.min(super::spin::MAX_POLLS)
        } else {
            self.spin.sentry
        };
        self.wait_for_trap_polling(slot, tid, polls).map(drop)
    }

    /// `wait_trapped` in this address space's region, for its stub thread `tid`.
    pub(super) fn wait_for_trap_polling(
        &self,
        slot: u64,
        tid: i32,
        polls: u32,
    ) -> Result<bool, Errno> {
        wait_trapped(&self.region, slot, self.host_pid(), tid, polls)
    }

    /// Has the caller's stub thread make host syscall `nr(args)` from its handler, without
    /// ptrace, when it waits there and `ranges` (address, length) lie within the bound the
    /// stub filter allows untraced; `None` otherwise (the caller injects with ptrace).
    fn exec_in_handler(
        &self,
        nr: i64,
        args: [u64; 6],
        ranges: &[(u64, u64)],
    ) -> Option<Result<u64, Errno>> {
        let slot = self.handler_slot_for(ranges)?;
        Some(self.exec_in_slot(slot, nr, args))
    }

    /// The slot of the caller's stub thread if it waits in its handler and `ranges`
    /// (address, length) lie within the bound the stub filter allows untraced.
    fn handler_slot_for(&self, ranges: &[(u64, u64)]) -> Option<u64> {
        let within = |&(addr, len): &(u64, u64)| {
            len < filter::EXEC_LEN_LIMIT
                && (addr >= filter::EXEC_ADDR_RESUME
                    || addr
                        .checked_add(len)
                        .is_some_and(|end| end <= filter::EXEC_ADDR_LIMIT))
        };
        if !ranges.iter().all(within) {
            return None;
        }
        self.caller_handler_slot()
    }

    /// Passes `fds` (one or two) to the stub over its own socket, `own`: SCM_RIGHTS, received
    /// by the thread of slot `slot` in its handler (recvmsg(2) on `own.stub_fd`), which then
    /// makes `then` (at most `slot::EXEC_MAX - 1` calls, which may name the fds received as
    /// `slot::FD_ARG + k`) in the same hand-off. Returns the fds' numbers in the stub and the
    /// results of `then`. Holds the socket's lock from send to receipt. Another thread of the
    /// application can take the fds first: only fds that give it nothing it could not already
    /// do may go this way (`map_file`, `fork_in_slot`).
    fn receive_in_slot<const N: usize>(
        &self,
        slot: u64,
        own: &OwnSocket,
        fds: &[BorrowedFd<'_>],
        then: [HostCall; N],
    ) -> Result<Received<N>, Errno> {
        let base = slot * slot::SIZE;
        let addr = SLOTS_BASE + base;
        // struct msghdr { name, namelen, iov, iovlen, control, controllen, flags }.
        let mut msghdr = [0u8; 56];
        msghdr[16..24].copy_from_slice(&(addr + FD_IOVEC).to_le_bytes());
        msghdr[24..32].copy_from_slice(&1u64.to_le_bytes());
        msghdr[32..40].copy_from_slice(&(addr + FD_CMSG).to_le_bytes());
        msghdr[40..48].copy_from_slice(&FD_CMSG_SPACE.to_le_bytes());
        let mut iovec = [0u8; 16];
        iovec[0..8].copy_from_slice(&(addr + FD_DATA).to_le_bytes());
        iovec[8..16].copy_from_slice(&8u64.to_le_bytes());
        self.region.write_words(base + FD_MSGHDR, &msghdr)?;
        self.region.write_words(base + FD_IOVEC, &iovec)?;
        // Until a message lands there, `FD_ARG` reads as fd -1 (EBADF), never as a real fd.
        self.region
            .write_words(base + FD_CMSG, &[0xff; FD_CMSG_SPACE as usize])?;
        let flags = (libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT) as u64;
        let mut calls = [HostCall::new(
            libc::SYS_recvmsg,
            [own.stub_fd, addr + FD_MSGHDR, flags, 0, 0, 0],
        ); slot::EXEC_MAX as usize];
        let count = N + 1;
        if count > calls.len() {
            return Err(Errno::E2BIG);
        }
        calls[1..count].copy_from_slice(&then);
        let _passing = own.lock();
        crate::platform::ptrace::send_fds(own.sentry.as_fd(), fds)?;
        let received = self
            .exec_calls_in_slot(slot, &calls[..count])
            .and_then(|()| exec_result(&self.region, slot, 0));
        if let Err(e) = received {
            crate::platform::ptrace::drain_fds(own.stub_copy.as_fd());
            return Err(e);
        }
        let results = std::array::from_fn(|i| exec_result(&self.region, slot, i + 1));
        // struct cmsghdr { len: u64, level: i32, type: i32 } followed by the fds.
        let mut cmsg = [0u8; FD_CMSG_SPACE as usize];
        self.region.read_words(base + FD_CMSG, &mut cmsg)?;
        let u32_at = |at: usize| {
            u32::from_le_bytes(cmsg[at..at + 4].try_into().expect("invariant: 4 bytes"))
        };
        let len = u64::from_le_bytes(cmsg[0..8].try_into().expect("invariant: 8 bytes"));
        let level = u32_at(8) as i32;
        let kind = u32_at(12) as i32;
        if len != 16 + 4 * fds.len() as u64 || level != libc::SOL_SOCKET || kind != libc::SCM_RIGHTS
        {
            return Err(Errno::EBADF);
        }
        let mut out = [u64::MAX; 2];
        for (i, slot_fd) in out.iter_mut().enumerate().take(fds.len()) {
            let fd = u32_at(16 + 4 * i) as i32;
            *slot_fd = u64::try_from(fd).map_err(|_| Errno::EBADF)?;
        }
        Ok((out, results))
    }

    /// `AddressSpace::fork` from the handler: the caller's stub thread, waiting in its handler
    /// in slot `slot`, receives a slot region and a socket made for the child, then forks
    /// (clone, `slot::EXEC`); the child starts at `stub::FORK_CHILD_OFFSET` with both and
    /// reports by itself. No ptrace.
    fn fork_in_slot(&self, slot: u64, own: &OwnSocket) -> Result<PendingStub, Errno> {
        let fpstate = super::context::handler_fpstate(self, slot).ok();
        let Spare {
            region,
            socket,
            stub_end,
        } = self.spares.take()?;
        init_slot(&region, slot, self.spin.stub)?;
        let mut nonce = [0u8; 16];
        super::sys::random_fill(&mut nonce)?;
        region.write_words(slot * slot::SIZE + NONCE, &nonce)?;
        // One hand-off: receive the region's fd and the child's socket, fork, and close the
        // parent's copies of both. The child closes the region's fd and its parent's socket
        // (clone ignores these arguments with a fork's flags) and keeps its own socket.
        let clone = [FORK_CLONE_FLAGS, 0, 0, slot::FD_ARG, own.stub_fd, 0];
        let fds = [region.fd(), stub_end.as_fd()];
        let then = [
            HostCall::new(libc::SYS_clone, clone),
            HostCall::close_received(0),
            HostCall::close_received(1),
        ];
        let ([region_fd, socket_fd], [child, closed_region, closed_socket]) =
            self.receive_in_slot(slot, own, &fds, then)?;
        drop(stub_end);
        // The closes the handler did not make (the clone failed).
        for (fd, closed) in [(region_fd, closed_region), (socket_fd, closed_socket)] {
            if closed == Err(NOT_MADE) {
                let _ = self.exec_in_slot(slot, libc::SYS_close, [fd, 0, 0, 0, 0, 0]);
            }
        }
        // The pid is read from memory the application can write: `ForkedStub::is_genuine`
        // checks it before the sentry uses it for anything but signal 0.
        let pid = i32::try_from(child?).map_err(|_| Errno::EINVAL)?;
        if pid <= 0 {
            return Err(Errno::EINVAL);
        }
        let pidfd = crate::platform::ptrace::pidfd_open(pid)?;
        Ok(PendingStub {
            host_tid: pid,
            inner: Box::new(ForkedStub {
                pid,
                pidfd: Some(pidfd),
                parts: Some((region, socket.with_stub_fd(socket_fd))),
                slot,
                nonce,
                fpstate,
            }),
        })
    }

    /// `AddressSpace::new_thread` from the handler: the caller's stub thread, waiting in its
    /// handler in slot `slot`, makes a thread (clone, `slot::EXEC`) whose stack is the fast
    /// path's in a slot reserved for it; the thread starts at `stub::FORK_CHILD_OFFSET`'s
    /// thread path and reports there by itself. No ptrace.
    fn thread_in_slot(&self, slot: u64) -> Result<PendingStub, Errno> {
        let index = self.reserve_slot()?;
        let made = self.clone_thread_into(slot, index);
        let (tid, fpstate) = match made {
            Ok(made) => made,
            Err(e) => {
                self.unreserve_slot(index);
                return Err(e);
            }
        };
        Ok(PendingStub {
            host_tid: tid,
            inner: Box::new(HandlerThread {
                tgid: self.host_pid(),
                tid,
                slot: index,
                region: self.region.clone(),
                fpstate,
                armed: true,
            }),
        })
    }

    fn clone_thread_into(&self, slot: u64, index: u64) -> Result<(i32, Option<Vec<u8>>), Errno> {
        init_slot(&self.region, index, self.spin.stub)?;
        let fpstate = super::context::handler_fpstate(self, slot).ok();
        let stack = SLOTS_BASE + index * slot::SIZE + slot::FAST_STACK;
        let args = [THREAD_CLONE_FLAGS, stack, 0, 0, 0, 0];
        let tid = self.exec_in_slot(slot, libc::SYS_clone, args)?;
        // The tid is read from memory the application can write: it must name a thread of
        // this stub process that has no slot yet.
        let tid = i32::try_from(tid).map_err(|_| Errno::EINVAL)?;
        let known = {
            let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            slots.contains(&Some(tid))
        };
        if tid <= 0 || known || crate::platform::ptrace::tgkill(self.host_pid(), tid, 0).is_err() {
            return Err(Errno::EAGAIN);
        }
        Ok((tid, fpstate))
    }

    /// A free slot, marked `RESERVED` until its thread is known; `EAGAIN` when all are taken.
    fn reserve_slot(&self) -> Result<u64, Errno> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let index = slots
            .iter()
            .position(Option::is_none)
            .ok_or(Errno::EAGAIN)?;
        slots[index] = Some(RESERVED);
        self.in_handler[index].store(false, Ordering::Release);
        Ok(index as u64)
    }

    fn unreserve_slot(&self, index: u64) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = slots.get_mut(index as usize) {
            if *s == Some(RESERVED) {
                *s = None;
            }
        }
    }

    /// `exit_thread` from the handler of slot `slot`, whose thread is `tid` (not the leader).
    fn exit_in_slot(&self, slot: u64, tid: i32) -> Result<(), Errno> {
        if self.inner.caller_attached()? {
            self.inner.detach_caller()?;
        }
        if self.inner.forget_caller()? {
            // The last thread: the whole stub goes.
            self.release();
            return Ok(());
        }
        self.set_in_handler(slot, false);
        request_exec(&self.region, slot, &[HostCall::new(libc::SYS_exit, [0; 6])])?;
        // Untraced, an exited thread other than the leader is gone at once (no zombie).
        let pid = self.host_pid();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while crate::platform::ptrace::tgkill(pid, tid, 0).is_ok() {
            if std::time::Instant::now() > deadline {
                // Its slot stays taken rather than be given while it might still wait there.
                return Ok(());
            }
            std::thread::yield_now();
        }
        self.free_slot(tid);
        Ok(())
    }

    /// Has the thread of slot `slot`, waiting in its handler, make host syscall `nr(args)`.
    fn exec_in_slot(&self, slot: u64, nr: i64, args: [u64; 6]) -> Result<u64, Errno> {
        self.exec_calls_in_slot(slot, &[HostCall::new(nr, args)])?;
        exec_result(&self.region, slot, 0)
    }

    /// Has the thread of slot `slot`, waiting in its handler, make `calls` in one hand-off,
    /// up to the first that fails; their results are then read with `exec_result`.
    fn exec_calls_in_slot(&self, slot: u64, calls: &[HostCall]) -> Result<(), Errno> {
        let tid = if self.template.load(Ordering::Acquire) {
            self.host_pid()
        } else {
            let tid = self.inner.caller_stub_tid()?;
            if self.inner.caller_attached()? {
                self.inner.detach_caller()?;
            }
            tid
        };
        request_exec(&self.region, slot, calls)?;
        if let Err(e) = self.wait_for_trap(slot, tid) {
            if e == Errno::ESRCH {
                self.release();
            }
            return Err(e);
        }
        Ok(())
    }

    /// Prepares the caller's (stopped) stub thread to run application code with slot `index`:
    /// its alternate stack is the slot's stack, every host signal unblocked (a new thread or
    /// process is made from a stub thread inside its handler, where all are blocked), the
    /// hand-off words reset, and the handler told to poll `spin` times before it sleeps.
    pub(super) fn set_up_thread(&self, index: u64, spin: u32) -> Result<(), Errno> {
        let offset = index * slot::SIZE;
        let base = SLOTS_BASE + offset;
        init_slot(&self.region, index, spin)?;
        // stack_t { void *ss_sp; int ss_flags; size_t ss_size; }.
        let mut stack = [0u8; 24];
        stack[0..8].copy_from_slice(&(base + PAGE_SIZE).to_le_bytes());
        stack[16..24].copy_from_slice(&(slot::ALTSTACK_END - PAGE_SIZE).to_le_bytes());
        self.region.write_words(offset + THREAD_STACK_T, &stack)?;
        self.inner.inject_caller(
            libc::SYS_sigaltstack,
            [base + THREAD_STACK_T, 0, 0, 0, 0, 0],
        )?;
        self.region.store_u64(offset + THREAD_SIGMASK, 0)?;
        self.inner.inject_caller(
            libc::SYS_rt_sigprocmask,
            [libc::SIG_SETMASK as u64, base + THREAD_SIGMASK, 0, 8, 0, 0],
        )?;
        Ok(())
    }
}

/// Writes the constant parts of slot `offset`'s fast frame (at address `base`): what the
/// fast path does not store itself but a kernel-made signal frame would hold, so that the
/// sentry reads both kinds alike (`struct rt_sigframe`, `arch/x86/include/asm/sigframe.h`;
/// `struct _fpx_sw_bytes`, `arch/x86/include/uapi/asm/sigcontext.h`).
fn prefill_fast_frame(
    region: &SharedRegion,
    offset: u64,
    base: u64,
    layout: (u64, u32),
) -> Result<(), Errno> {
    let (features, size) = layout;
    let siginfo = offset + slot::FAST_SIGINFO;
    region.store_u32(siginfo, libc::SIGSYS as u32)?;
    region.store_u32(siginfo + 8, SYS_SECCOMP)?;
    region.store_u32(siginfo + 28, filter::AUDIT_ARCH_X86_64)?;
    let ucontext = offset + slot::FAST_UCONTEXT;
    // cs, gs, fs, ss (u16 each) after the 18 general registers.
    region.store_u64(ucontext + 40 + 144, USER_CS | (USER_SS << 48))?;
    region.store_u64(ucontext + 40 + 184, base + slot::FAST_FPSTATE)?;
    let fp = offset + slot::FAST_FPSTATE;
    region.store_u32(fp + FX_SW_BYTES, FP_XSTATE_MAGIC1)?;
    region.store_u32(fp + FX_SW_BYTES + 4, size + 4)?;
    region.store_u64(fp + FX_SW_BYTES + 8, features)?;
    region.store_u32(fp + FX_SW_BYTES + 16, size)?;
    // The XSAVE header (XSTATE_BV, XCOMP_BV, reserved): standard format.
    region.write_words(fp + 512, &[0u8; 64])?;
    region.store_u32(fp + u64::from(size), FP_XSTATE_MAGIC2)?;
    region.store_u64(offset + slot::XMASK, features)?;
    region.store_u32(offset + slot::FP_LEN, size)?;
    Ok(())
}

/// Resets slot `index` of `region` for a thread about to run: hand-off words, the handler's
/// poll limit `spin`, and the constant parts of the fast frame.
fn init_slot(region: &SharedRegion, index: u64, spin: u32) -> Result<(), Errno> {
    let offset = index * slot::SIZE;
    region.store_u32(offset + slot::STATE, slot::RUNNING)?;
    region.store_u64(offset + slot::SET_FS, 0)?;
    region.store_u32(offset + slot::SENTRY_SLEEPING, 0)?;
    region.store_u32(offset + slot::STUB_SLEEPING, 0)?;
    region.store_u32(offset + slot::SPIN_LIMIT, spin)?;
    region.store_u32(offset + slot::PHASE, 0)?;
    if let Some(layout) = fast_layout() {
        prefill_fast_frame(region, offset, SLOTS_BASE + offset, layout)?;
    }
    Ok(())
}

/// Whether host fd `fd`, to be mapped with `prot` (`shared` or private), may go through the
/// address space's own socket, where the application can take it: only if that gives it
/// nothing more than the mapping does (a read-only fd, or a shared writable mapping, which
/// needs a read-write one).
fn may_pass_openly(fd: BorrowedFd<'_>, prot: Prot, shared: bool) -> bool {
    sys::fd_is_read_only(fd) || (shared && prot.contains(Prot::WRITE))
}

impl AddressSpace for SystrapAddressSpace {
    fn map_anon(&self, addr: u64, len: u64, prot: Prot, shared: bool) -> Result<(), Errno> {
        check_aligned(addr, len)?;
        let share = if shared {
            libc::MAP_SHARED
        } else {
            libc::MAP_PRIVATE
        };
        let flags = (libc::MAP_FIXED | libc::MAP_ANONYMOUS | share) as u64;
        let args = [addr, len, u64::from(prot.bits()), flags, u64::MAX, 0];
        match self.exec_in_handler(libc::SYS_mmap, args, &[(addr, len)]) {
            Some(Ok(got)) if got == addr => Ok(()),
            Some(Ok(_)) => Err(Errno::ENOMEM),
            Some(Err(e)) => Err(e),
            None => self.inner.map_anon(addr, len, prot, shared),
        }
    }

    fn map_file(
        &self,
        addr: u64,
        len: u64,
        prot: Prot,
        shared: bool,
        fd: BorrowedFd<'_>,
        offset: u64,
    ) -> Result<(), Errno> {
        check_aligned(addr, len)?;
        // Through the handler only if the application, which can take the fd on its way
        // there, gains nothing by it: a read-only fd (it may read what it maps), or a
        // writable shared mapping (it may write the file). Others (a read-write host fd
        // mapped privately or read-only, as tmpfs files' memfds are) go through the shared
        // socket, by injection.
        let (Some(own), Some(slot), true) = (
            self.inner.own_socket(),
            self.handler_slot_for(&[(addr, len)]),
            may_pass_openly(fd, prot, shared),
        ) else {
            return self.inner.map_file(addr, len, prot, shared, fd, offset);
        };
        if !offset.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        let share = if shared {
            libc::MAP_SHARED
        } else {
            libc::MAP_PRIVATE
        };
        let flags = (libc::MAP_FIXED | share) as u64;
        // One hand-off: receive the fd, map it, close it.
        let args = [
            addr,
            len,
            u64::from(prot.bits()),
            flags,
            slot::FD_ARG,
            offset,
        ];
        let then = [
            HostCall::new(libc::SYS_mmap, args),
            HostCall::close_received(0),
        ];
        let ([stub_fd, _], [mapped, mut closed]) = self.receive_in_slot(slot, own, &[fd], then)?;
        if closed == Err(NOT_MADE) {
            closed = self.exec_in_slot(slot, libc::SYS_close, [stub_fd, 0, 0, 0, 0, 0]);
        }
        match mapped {
            Ok(got) if got == addr => closed.map(drop),
            Ok(_) => Err(Errno::ENOMEM),
            Err(e) => Err(e),
        }
    }

    fn unmap(&self, addr: u64, len: u64) -> Result<(), Errno> {
        check_aligned(addr, len)?;
        let args = [addr, len, 0, 0, 0, 0];
        match self.exec_in_handler(libc::SYS_munmap, args, &[(addr, len)]) {
            Some(result) => result.map(drop),
            None => self.inner.unmap(addr, len),
        }
    }

    fn protect(&self, addr: u64, len: u64, prot: Prot) -> Result<(), Errno> {
        check_aligned(addr, len)?;
        let args = [addr, len, u64::from(prot.bits()), 0, 0, 0];
        match self.exec_in_handler(libc::SYS_mprotect, args, &[(addr, len)]) {
            Some(result) => result.map(drop),
            None => self.inner.protect(addr, len, prot),
        }
    }

    fn remap(&self, old_addr: u64, old_len: u64, new_addr: u64, new_len: u64) -> Result<(), Errno> {
        check_aligned(old_addr, old_len)?;
        check_aligned(new_addr, new_len)?;
        let flags = (libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED) as u64;
        let args = [old_addr, old_len, new_len, flags, new_addr, 0];
        let ranges = [(old_addr, old_len), (new_addr, new_len)];
        match self.exec_in_handler(libc::SYS_mremap, args, &ranges) {
            Some(Ok(got)) if got == new_addr => Ok(()),
            Some(Ok(_)) => Err(Errno::ENOMEM),
            Some(Err(e)) => Err(e),
            None => self.inner.remap(old_addr, old_len, new_addr, new_len),
        }
    }

    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        self.inner.read(addr, buf)
    }

    fn write(&self, addr: u64, buf: &[u8]) -> Result<usize, Errno> {
        self.inner.write(addr, buf)
    }

    fn host_pid(&self) -> i32 {
        self.inner.host_pid()
    }

    fn release(&self) {
        self.inner.release()
    }

    fn yield_reserved(&self, start: u64, end: u64) -> Result<(), Errno> {
        self.yield_patch_region(start, end)
    }

    /// Forks from the handler (`fork_in_slot`). A stub forked by injection would share this
    /// one's socket, so the caller's thread must wait in its handler (it does while the
    /// sentry serves its fork): `EAGAIN` otherwise. A child never inherits a half-patched
    /// site: patching holds the same lock.
    fn fork(&self) -> Result<PendingStub, Errno> {
        let _patches = self.lock_patches();
        let (Some(own), Some(slot)) = (self.inner.own_socket(), self.caller_handler_slot()) else {
            return Err(Errno::EAGAIN);
        };
        self.fork_in_slot(slot, own)
    }

    /// From the handler (`thread_in_slot`) when the caller's thread waits there, else by
    /// injection.
    fn new_thread(&self) -> Result<PendingStub, Errno> {
        match self.caller_handler_slot() {
            Some(slot) => self.thread_in_slot(slot),
            None => self.inner.new_thread(),
        }
    }

    fn adopt_thread(&self, stub: PendingStub) -> Result<(), PlatformError> {
        let pid = self.host_pid();
        let mut made = match stub.inner.downcast::<HandlerThread>() {
            Ok(made) => made,
            Err(other) => {
                return self.inner.adopt_thread(PendingStub {
                    host_tid: stub.host_tid,
                    inner: other,
                })
            }
        };
        let err = |op: &'static str| move |source| PlatformError::Ptrace { op, pid, source };
        if made.tgid != pid {
            return Err(PlatformError::Other(format!(
                "stub thread {} belongs to stub process {}, not {pid}",
                made.tid, made.tgid
            )));
        }
        self.wait_for_trap(made.slot, made.tid)
            .map_err(err("waiting for the new stub thread"))?;
        self.inner
            .adopt_running_thread(made.tid)
            .map_err(err("adopt_thread"))?;
        made.armed = false;
        {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            slots[made.slot as usize] = Some(made.tid);
        }
        self.expect_first_report(made.slot, made.fpstate.take());
        Ok(())
    }

    /// The slot is freed only once its thread has exited (or parked for good): a thread that
    /// still sleeps on the slot's futex word could otherwise take the wake-up meant for the
    /// slot's next thread, which would then sleep forever.
    /// A thread other than the leader that waits in its handler makes exit(0) there
    /// (`slot::EXEC`); the slot is freed once the host has the thread gone. Others are ended
    /// by injection (the leader parks: it cannot leave before the others).
    fn exit_thread(&self) -> Result<(), Errno> {
        let tid = self.inner.caller_stub_tid().ok();
        if let (Some(tid), Some(slot)) = (tid, self.caller_handler_slot()) {
            if tid != self.host_pid() {
                return self.exit_in_slot(slot, tid);
            }
        }
        let ended = self.inner.exit_thread();
        if let Some(tid) = tid {
            self.free_slot(tid);
        }
        ended
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn only_fds_that_give_nothing_more_pass_openly() {
        let region = SharedRegion::new(PAGE_SIZE).unwrap();
        let rw = region.fd();
        let read_only = std::fs::File::open("/proc/self/exe").unwrap();
        let ro = read_only.as_fd();
        // A read-write memfd (a tmpfs file's): only for a shared writable mapping.
        assert!(!may_pass_openly(rw, Prot::READ, false));
        assert!(!may_pass_openly(rw, Prot::READ | Prot::EXEC, false));
        assert!(!may_pass_openly(rw, Prot::READ | Prot::WRITE, false));
        assert!(!may_pass_openly(rw, Prot::READ, true));
        assert!(may_pass_openly(rw, Prot::READ | Prot::WRITE, true));
        // A read-only fd: for any mapping.
        assert!(may_pass_openly(ro, Prot::READ, false));
        assert!(may_pass_openly(ro, Prot::READ | Prot::EXEC, true));
    }
}
