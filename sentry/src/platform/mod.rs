//! How application code runs and traps: the platform interface (after gVisor's
//! `pkg/sentry/platform/platform.go`). The kernel sees only these traits; `ptrace/` is the
//! reference implementation; `systrap/` runs application code untraced behind the same traits.

#[cfg(test)]
pub(crate) mod conformance;
pub mod ptrace;
pub mod systrap;

use std::os::fd::BorrowedFd;
use std::sync::Arc;

use crate::Errno;

/// Application register state as the sentry sees it (x86_64 general purpose registers).
/// Field names follow `struct user_regs_struct` (`arch/x86/include/asm/user_64.h`).
pub type Regs = libc::user_regs_struct;

/// Registers with every field zero (libc's struct has no `Default`).
pub fn zeroed_regs() -> Regs {
    Regs {
        r15: 0,
        r14: 0,
        r13: 0,
        r12: 0,
        rbp: 0,
        rbx: 0,
        r11: 0,
        r10: 0,
        r9: 0,
        r8: 0,
        rax: 0,
        rcx: 0,
        rdx: 0,
        rsi: 0,
        rdi: 0,
        orig_rax: 0,
        rip: 0,
        cs: 0,
        eflags: 0,
        rsp: 0,
        ss: 0,
        fs_base: 0,
        gs_base: 0,
        ds: 0,
        es: 0,
        fs: 0,
        gs: 0,
    }
}

bitflags::bitflags! {
    /// Page protections of a host mapping (`PROT_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Prot: u32 {
        const READ = libc::PROT_READ as u32;
        const WRITE = libc::PROT_WRITE as u32;
        const EXEC = libc::PROT_EXEC as u32;
    }
}

/// Why `Context::switch` returned to the sentry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The application made a syscall; `regs` hold it (`orig_rax` is the number, `rip` is past
    /// the instruction). The host did not execute it. The sentry writes the result into `rax`.
    Syscall,
    /// A synchronous fault: SIGSEGV/SIGBUS/SIGFPE/SIGILL/SIGTRAP with its `si_code` and address.
    Fault { signo: i32, code: i32, addr: u64 },
    /// An asynchronous host signal arrived for the stub thread (not a fault).
    Signal(i32),
    /// `Interrupter::interrupt` was called while the application ran; regs are consistent.
    Interrupted,
    /// The stub thread is gone (killed from outside, for example by the OOM killer).
    Exited,
}

/// A range of the application's address space that the platform itself uses (stub code, vDSO,
/// vvar) and that no application mapping may cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservedRange {
    pub start: u64,
    pub end: u64,
    /// What it is, as `/proc/PID/maps` names it: "[vdso]", "[vvar]", "[stub]".
    pub name: &'static str,
    /// The range is kept free of placements the kernel chooses, but a fixed mapping (an ELF
    /// segment, MAP_FIXED, brk) may take it if the address space agrees
    /// (`AddressSpace::yield_reserved`).
    pub yields: bool,
}

/// Facts about every address space this platform makes.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Ranges no application mapping may overlap.
    pub reserved: Vec<ReservedRange>,
    /// Base address of the vDSO ELF image (`AT_SYSINFO_EHDR`), if the address space has one.
    pub vdso_base: Option<u64>,
    /// One past the highest address an application mapping may use.
    pub max_addr: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("starting stub process: {0}")]
    StubStart(String),
    #[error("ptrace {op} on host pid {pid}: {source}")]
    Ptrace {
        op: &'static str,
        pid: i32,
        source: Errno,
    },
    #[error("stub process {pid} died unexpectedly")]
    StubDied { pid: i32 },
    #[error("{0}")]
    Other(String),
}

/// A stub made for a new task by `AddressSpace::fork` or `AddressSpace::new_thread`: stopped,
/// and not yet driven by any sentry thread. The new task's host thread adopts it (ptrace is per
/// thread, so only that thread may drive it afterwards). Dropping it unadopted kills it.
pub struct PendingStub {
    /// The host thread id of the stub thread (for logs).
    pub host_tid: i32,
    /// Platform-specific state; its `Drop` kills an unadopted stub.
    pub inner: Box<dyn std::any::Any + Send>,
}

/// A platform: makes address spaces and contexts.
pub trait Platform: Send + Sync {
    fn name(&self) -> &'static str;
    /// The layout every address space of this platform has.
    fn layout(&self) -> &Layout;
    /// A new, empty address space (only the reserved ranges are mapped). The calling host
    /// thread becomes the one that can run application code in it through a `Context`.
    fn new_address_space(&self) -> Result<Arc<dyn AddressSpace>, PlatformError>;
    /// A new execution context for the calling host thread.
    fn new_context(&self) -> Box<dyn Context>;
    /// On the child task's host thread: takes over the address space that `AddressSpace::fork`
    /// made. The calling thread becomes the one that runs it.
    fn adopt_address_space(
        &self,
        _stub: PendingStub,
    ) -> Result<Arc<dyn AddressSpace>, PlatformError> {
        Err(PlatformError::Other(
            "fork is not supported by this platform".into(),
        ))
    }
    /// The registers of a fresh application thread: valid segment selectors and flags, every
    /// other register zero. The loader then sets `rip` and `rsp`.
    fn initial_regs(&self) -> Regs;
}

/// One application address space (a stub process on ptrace). Mapping changes are made on the
/// host by the platform (injected syscalls on ptrace); the sentry's `MemoryManager` keeps the
/// truth and calls these to update the host side. Every address/length is page aligned.
pub trait AddressSpace: Send + Sync {
    /// Maps fresh anonymous memory at exactly `addr` (replacing what was there).
    fn map_anon(&self, addr: u64, len: u64, prot: Prot, shared: bool) -> Result<(), Errno>;
    /// Maps `len` bytes of the host file `fd` from `offset` at exactly `addr`.
    fn map_file(
        &self,
        addr: u64,
        len: u64,
        prot: Prot,
        shared: bool,
        fd: BorrowedFd<'_>,
        offset: u64,
    ) -> Result<(), Errno>;
    fn unmap(&self, addr: u64, len: u64) -> Result<(), Errno>;
    fn protect(&self, addr: u64, len: u64, prot: Prot) -> Result<(), Errno>;
    /// Moves a host mapping (mremap MREMAP_MAYMOVE|MREMAP_FIXED semantics), keeping contents.
    fn remap(&self, old_addr: u64, old_len: u64, new_addr: u64, new_len: u64) -> Result<(), Errno>;
    /// Reads application memory (process_vm_readv on ptrace). Returns the bytes read, which is
    /// short only at an unmapped or unreadable page; `EFAULT` if not even the first byte is.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<usize, Errno>;
    /// Writes application memory (process_vm_writev on ptrace). Like the kernel's copy_to_user
    /// it stops short at a page the application cannot write; `EFAULT` if not even the first byte.
    fn write(&self, addr: u64, buf: &[u8]) -> Result<usize, Errno>;
    /// The host process id of the stub (for logs and `ps`); not an application-visible pid.
    fn host_pid(&self) -> i32;
    /// Kills the stub processes of this address space (when its last user is gone).
    fn release(&self);
    /// A fixed mapping wants `[start, end)`, which overlaps a reserved range that `yields`:
    /// `Ok` if this address space gives the range up (it stops using it), `ENOMEM` if not.
    fn yield_reserved(&self, start: u64, end: u64) -> Result<(), Errno> {
        let _ = (start, end);
        Err(Errno::ENOMEM)
    }
    /// fork(2): the host copies this address space copy-on-write (on ptrace, a fork injected
    /// into the calling thread's stub). Called on the parent task's host thread; the child
    /// task's host thread then calls `Platform::adopt_address_space`.
    fn fork(&self) -> Result<PendingStub, Errno> {
        Err(Errno::ENOSYS)
    }
    /// A new stub thread in this address space, for a task cloned with CLONE_VM. Called on the
    /// parent task's host thread; the new task's host thread then calls `adopt_thread`.
    fn new_thread(&self) -> Result<PendingStub, Errno> {
        Err(Errno::ENOSYS)
    }
    /// On the new task's host thread: becomes the driver of a stub thread from `new_thread`.
    fn adopt_thread(&self, _stub: PendingStub) -> Result<(), PlatformError> {
        Err(PlatformError::Other(
            "threads are not supported by this platform".into(),
        ))
    }
    /// On an exiting task's host thread: ends the stub thread that this host thread drives
    /// and forgets it. When it is the last one, the whole address space is released. On
    /// ptrace a host thread that drove a stub thread must call this (or `release`) before it
    /// ends: otherwise PTRACE_O_EXITKILL kills the whole stub process.
    fn exit_thread(&self) -> Result<(), Errno> {
        Err(Errno::ENOSYS)
    }
}

/// Lets another thread kick a running context back into the sentry.
pub trait Interrupter: Send + Sync {
    fn interrupt(&self);
}

/// The running state of one application thread on one sentry host thread.
pub trait Context: Send {
    /// Runs the application thread in `address_space` with `regs` until the next event, then
    /// stores the new register state back into `regs`.
    fn switch(
        &mut self,
        address_space: &dyn AddressSpace,
        regs: &mut Regs,
    ) -> Result<Event, PlatformError>;
    /// A handle that makes the current or next `switch` return `Event::Interrupted` promptly.
    fn interrupter(&self) -> Arc<dyn Interrupter>;
    /// The stub thread's FPU/SSE/AVX state in the XSAVE layout (`struct _fpstate` followed by
    /// the extended area), as a signal frame stores it. Only between switches.
    fn fpstate(&mut self, _address_space: &dyn AddressSpace) -> Result<Vec<u8>, PlatformError> {
        Err(PlatformError::Other(
            "FP state is not available on this platform".into(),
        ))
    }
    /// Restores state read by `fpstate` (rt_sigreturn). Only between switches.
    fn set_fpstate(
        &mut self,
        _address_space: &dyn AddressSpace,
        _state: &[u8],
    ) -> Result<(), PlatformError> {
        Err(PlatformError::Other(
            "FP state is not available on this platform".into(),
        ))
    }
}
