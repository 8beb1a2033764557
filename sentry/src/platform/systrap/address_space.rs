//! One application address space on the seccomp-trap platform: a ptrace stub process (whose
//! mappings are still changed by injected syscalls, see `platform::ptrace`) plus the region of
//! slots it shares with the sentry, one slot per stub thread: a page of hand-off words
//! (`stub::slot`) followed by the thread's alternate signal stack, on which the kernel writes
//! the signal frame the sentry reads and rewrites (sigaltstack(2), rt_sigaction(2)).
//! After gVisor's `pkg/sentry/platform/systrap/subprocess.go`.

use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex, PoisonError};

use super::filter;
use super::sys::SharedRegion;
use crate::platform::ptrace::stub::{self, slot, PAGE_SIZE, STUB_BASE};
use crate::platform::ptrace::{PtraceAddressSpace, INTERRUPT_SIGNAL};
use crate::platform::{AddressSpace, PendingStub, PlatformError, Prot};
use crate::Errno;

/// Where the slot region sits in every stub: above the stub pages, aligned to a slot.
pub const SLOTS_BASE: u64 = STUB_BASE + 0x10_0000;
/// Stub threads per address space (application threads per process).
pub const MAX_SLOTS: u64 = 512;
/// Length of the slot region.
pub const SLOTS_LEN: u64 = MAX_SLOTS * slot::SIZE;

/// Scratch offsets in slot 0's first page, used while a new stub process is set up (it has a
/// single thread then, and the hand-off words stay below 0x100).
const SETUP_SIGACTION: u64 = 0x800;
const SETUP_FPROG: u64 = 0x900;
const SETUP_FILTER: u64 = 0xa00;
/// Per-slot scratch for the thread's own setup.
const THREAD_STACK_T: u64 = 0x100;
const THREAD_SIGMASK: u64 = 0x120;

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
    pub(super) region: SharedRegion,
    /// Which stub thread holds each slot.
    slots: Mutex<Vec<Option<i32>>>,
}

impl SystrapAddressSpace {
    /// Wraps a stub process the calling thread has just seized (stopped, single-threaded):
    /// makes sure it dies with the platform, maps a fresh slot region over `SLOTS_BASE` (a
    /// forked stub inherits its parent's, shared, mapping there), and, for a stub fresh from
    /// the master (`install`), installs the signal handlers and the seccomp filter, which
    /// forks inherit.
    pub(super) fn set_up(
        inner: Arc<PtraceAddressSpace>,
        install: bool,
    ) -> Result<SystrapAddressSpace, PlatformError> {
        let pid = inner.host_pid();
        let err = |op: &'static str| move |source| PlatformError::Ptrace { op, pid, source };
        let region = SharedRegion::new(SLOTS_LEN).map_err(err("memfd for the slot region"))?;
        let space = SystrapAddressSpace {
            inner,
            region,
            slots: Mutex::new(vec![None; MAX_SLOTS as usize]),
        };
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
        if install {
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
        }
        Ok(space)
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
        Ok(index as u64)
    }

    fn free_slot(&self, tid: i32) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        for s in slots.iter_mut().filter(|s| **s == Some(tid)) {
            *s = None;
        }
    }

    /// Prepares the caller's (stopped) stub thread to run application code with slot `index`:
    /// its alternate stack is the slot's stack, every host signal unblocked (a new thread or
    /// process is made from a stub thread inside its handler, where all are blocked), the
    /// hand-off words reset, and the handler told to poll `spin` times before it sleeps.
    pub(super) fn set_up_thread(&self, index: u64, spin: u32) -> Result<(), Errno> {
        let offset = index * slot::SIZE;
        let base = SLOTS_BASE + offset;
        self.region.store_u32(offset + slot::STATE, slot::RUNNING)?;
        self.region.store_u64(offset + slot::SET_FS, 0)?;
        self.region.store_u32(offset + slot::SENTRY_SLEEPING, 0)?;
        self.region.store_u32(offset + slot::STUB_SLEEPING, 0)?;
        self.region.store_u32(offset + slot::SPIN_LIMIT, spin)?;
        // stack_t { void *ss_sp; int ss_flags; size_t ss_size; }.
        let mut stack = [0u8; 24];
        stack[0..8].copy_from_slice(&(base + PAGE_SIZE).to_le_bytes());
        stack[16..24].copy_from_slice(&(slot::SIZE - PAGE_SIZE).to_le_bytes());
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

impl AddressSpace for SystrapAddressSpace {
    fn map_anon(&self, addr: u64, len: u64, prot: Prot, shared: bool) -> Result<(), Errno> {
        self.inner.map_anon(addr, len, prot, shared)
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
        self.inner.map_file(addr, len, prot, shared, fd, offset)
    }

    fn unmap(&self, addr: u64, len: u64) -> Result<(), Errno> {
        self.inner.unmap(addr, len)
    }

    fn protect(&self, addr: u64, len: u64, prot: Prot) -> Result<(), Errno> {
        self.inner.protect(addr, len, prot)
    }

    fn remap(&self, old_addr: u64, old_len: u64, new_addr: u64, new_len: u64) -> Result<(), Errno> {
        self.inner.remap(old_addr, old_len, new_addr, new_len)
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

    fn fork(&self) -> Result<PendingStub, Errno> {
        self.inner.fork()
    }

    fn new_thread(&self) -> Result<PendingStub, Errno> {
        self.inner.new_thread()
    }

    fn adopt_thread(&self, stub: PendingStub) -> Result<(), PlatformError> {
        self.inner.adopt_thread(stub)
    }

    fn exit_thread(&self) -> Result<(), Errno> {
        if let Ok(tid) = self.inner.caller_stub_tid() {
            self.free_slot(tid);
        }
        self.inner.exit_thread()
    }
}
