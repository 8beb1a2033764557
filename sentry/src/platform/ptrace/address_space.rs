//! One application address space on ptrace: a stub process whose host mappings are changed by
//! injected mmap(2)/munmap(2)/mprotect(2)/mremap(2), with file descriptors passed in by
//! `SCM_RIGHTS` (unix(7)) and received by an injected recvmsg(2); memory is accessed with
//! process_vm_readv(2)/process_vm_writev(2). After gVisor's `pkg/sentry/platform/ptrace/subprocess.go`.
//!
//! Lock order: `Shared::fd_passing`, then `tracers`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::inject::{inject_syscall, inject_thread_exit, syscall_result};
use super::stub::{self, scratch, PAGE_SIZE, STUB_BASE, STUB_END};
use super::sys::{self, Stop, StoppedTracee};
use super::{PendingProcess, Shared, MAX_ADDR};
use crate::platform::{AddressSpace, PendingStub, PlatformError, Prot};
use crate::Errno;

/// Flags of the injected clone(2) that makes a new stub thread: a host thread sharing
/// everything with the stub (no exit signal, no tid pointers, no TLS).
pub(crate) const THREAD_CLONE_FLAGS: u64 = (libc::CLONE_VM
    | libc::CLONE_THREAD
    | libc::CLONE_SIGHAND
    | libc::CLONE_FS
    | libc::CLONE_FILES
    | libc::CLONE_SYSVSEM) as u64;

/// Flags of the injected clone(2) for `fork`: a copy-on-write copy of the stub whose parent
/// is the master stub (`CLONE_PARENT`), like every other stub. Its PR_SET_PDEATHSIG then
/// follows the master (the platform), not the forking stub, which may exit first, and the
/// master (SIGCHLD ignored) reaps it. `SIGCHLD` is the exit signal fork(2) uses.
pub(crate) const FORK_CLONE_FLAGS: u64 = (libc::CLONE_PARENT | libc::SIGCHLD) as u64;

/// The platform half of a `PendingStub` from `new_thread`: a stub thread parked untraced in
/// the park loop. Dropped unadopted, it is ended by the dropping thread (seize, interrupt,
/// injected exit(0)): a single thread cannot be SIGKILLed without its whole process.
struct PendingThread {
    /// The stub process (thread group) it belongs to.
    tgid: i32,
    tid: i32,
    /// While the address space is alive and not released, the parked thread is alive too
    /// (untraced threads die only with their process), so `tid` names it, not a reused id.
    space: Weak<PtraceAddressSpace>,
    /// False once adopted.
    armed: bool,
}

impl Drop for PendingThread {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Some(space) = self.space.upgrade() else {
            return;
        };
        if space.is_released() {
            return;
        }
        let Ok(running) = sys::seize(self.tid) else {
            return;
        };
        if sys::interrupt(self.tid).is_err() {
            return;
        }
        if let Ok(Stop::Syscall(stopped) | Stop::Signal(stopped, _) | Stop::Event(stopped)) =
            running.wait()
        {
            let _ = inject_thread_exit(stopped, STUB_BASE + stub::INJECT_OFFSET);
        }
    }
}

/// An address space's own fd-passing socket (seccomp-trap platform), beside the shared one:
/// its stub's handler receives on it without a tracer (`systrap::filter` allows recvmsg on any
/// fd but the shared socket's), so only fds that give the application nothing it could not
/// already do go this way. The stub holds its end at `stub_fd`. The sentry keeps its own end,
/// a copy of the stub's end (to drain what the stub did not take), and the lock that keeps one
/// message in flight at a time (every thread of the stub receives from the same socket).
pub(crate) struct OwnSocket {
    pub(crate) sentry: OwnedFd,
    pub(crate) stub_copy: OwnedFd,
    pub(crate) stub_fd: u64,
    pub(crate) passing: Mutex<()>,
}

impl OwnSocket {
    /// A new pair: the sentry's side, and the stub's end, for the stub to receive; the stub's
    /// fd number is given to `with_stub_fd` once known.
    pub(crate) fn new() -> Result<(OwnSocket, OwnedFd), Errno> {
        let (sentry, stub_end) = sys::dgram_socketpair()?;
        let stub_copy = stub_end.try_clone().map_err(|_| Errno::EMFILE)?;
        let own = OwnSocket {
            sentry,
            stub_copy,
            stub_fd: u64::MAX,
            passing: Mutex::new(()),
        };
        Ok((own, stub_end))
    }

    /// The same, with the stub holding its end at `stub_fd`.
    pub(crate) fn with_stub_fd(self, stub_fd: u64) -> OwnSocket {
        OwnSocket { stub_fd, ..self }
    }

    /// Holds the lock while a message is in flight.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.passing.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A stub process. Dropping it (or `release`) kills the stub.
pub struct PtraceAddressSpace {
    host_pid: i32,
    /// Names the stub process even if it was reaped elsewhere and its pid reused.
    pidfd: OwnedFd,
    /// (tracer host tid, stub thread tid): which sentry thread drives which stub thread.
    tracers: Mutex<Vec<(i32, i32)>>,
    /// Set once the stub is killed or found dead.
    released: AtomicBool,
    /// Stub threads currently detached (seccomp-trap platform only: a detached thread runs
    /// application code or waits in its signal handler; `caller_stub` seizes it again).
    detached: Mutex<Vec<i32>>,
    /// How many times a detached stub thread was seized again: a context that saw the same
    /// count at its last switch knows its own thread is still detached without the locks.
    attaches: AtomicU64,
    /// Set once the stub holds a socket of its own (`OwnSocket`, seccomp-trap platform).
    own_socket: std::sync::OnceLock<OwnSocket>,
    shared: Arc<Shared>,
}

impl PtraceAddressSpace {
    pub(super) fn new(
        host_pid: i32,
        pidfd: OwnedFd,
        tracer_tid: i32,
        stub_tid: i32,
        shared: Arc<Shared>,
    ) -> PtraceAddressSpace {
        PtraceAddressSpace {
            host_pid,
            pidfd,
            tracers: Mutex::new(vec![(tracer_tid, stub_tid)]),
            released: AtomicBool::new(false),
            detached: Mutex::new(Vec::new()),
            attaches: AtomicU64::new(0),
            own_socket: std::sync::OnceLock::new(),
            shared,
        }
    }

    /// Records that the stub now holds `own`; ignored if it already had one.
    pub(crate) fn set_own_socket(&self, own: OwnSocket) {
        let _ = self.own_socket.set(own);
    }

    /// The stub's own fd-passing socket, if it has one.
    pub(crate) fn own_socket(&self) -> Option<&OwnSocket> {
        self.own_socket.get()
    }

    /// Puts the calling thread and stub thread `stub_tid` on one CPU, as every new pair is
    /// (round-robin over the sentry's CPUs). The seccomp-trap platform does it for a stub
    /// process or thread its handler made at the first switch into it, not when it is adopted:
    /// the task that made it waits for the adoption, and moving a thread to another CPU costs a
    /// migration (about 100 µs of a fork on this VM).
    pub(crate) fn pair_with_caller(&self, stub_tid: i32) {
        self.shared.pair_on_one_cpu(stub_tid);
    }

    /// Makes the calling thread the driver of stub thread `tid`, which the seccomp-trap
    /// handler made and which runs untraced (recorded as detached, seized only if the sentry
    /// injects into it later).
    pub(crate) fn adopt_running_thread(&self, tid: i32) -> Result<(), Errno> {
        let me = sys::gettid();
        if self.stub_tid_for(me).is_some() {
            return Err(Errno::EBUSY);
        }
        if self.is_released() {
            return Err(Errno::ESRCH);
        }
        // Not paired on a CPU here: see `pair_with_caller`.
        self.set_detached(tid, true);
        let mut tracers = self.tracers.lock().unwrap_or_else(PoisonError::into_inner);
        tracers.push((me, tid));
        Ok(())
    }

    /// Stops recording the calling thread as the driver of its stub thread, unless it is the
    /// last one (then nothing changes); returns whether it was. For the seccomp-trap platform,
    /// which ends the stub thread itself (`slot::EXEC` of exit).
    pub(crate) fn forget_caller(&self) -> Result<bool, Errno> {
        let me = sys::gettid();
        let stub_tid = {
            let mut tracers = self.tracers.lock().unwrap_or_else(PoisonError::into_inner);
            let index = tracers
                .iter()
                .position(|&(tracer, _)| tracer == me)
                .ok_or(Errno::EPERM)?;
            if tracers.len() == 1 {
                return Ok(true);
            }
            tracers.remove(index).1
        };
        self.set_detached(stub_tid, false);
        Ok(false)
    }

    /// Records stub thread `tid` as detached (running untraced), as a stub forked by the
    /// seccomp-trap handler starts.
    pub(crate) fn mark_detached(&self, tid: i32) {
        self.set_detached(tid, true);
    }

    /// The stub thread that host thread `tracer_tid` traces in this address space.
    pub(super) fn stub_tid_for(&self, tracer_tid: i32) -> Option<i32> {
        let tracers = self.tracers.lock().unwrap_or_else(PoisonError::into_inner);
        tracers
            .iter()
            .find(|(tracer, _)| *tracer == tracer_tid)
            .map(|&(_, stub)| stub)
    }

    /// The stub thread ids currently traced (one per application thread).
    fn stub_tids(&self) -> Vec<i32> {
        let tracers = self.tracers.lock().unwrap_or_else(PoisonError::into_inner);
        tracers.iter().map(|&(_, stub)| stub).collect()
    }

    /// Records that the stub is gone (seen by a `Context`).
    pub(super) fn mark_dead(&self) {
        self.released.store(true, Ordering::SeqCst);
    }

    /// Kills the stub and waits for it to exit; marks the address space released.
    pub(super) fn terminate(&self) {
        self.mark_dead();
        self.kill_all();
    }

    /// SIGKILLs the whole stub process and reaps it. Traced threads other than the leader
    /// are reaped one by one first (the leader's exit is not reported while traced threads
    /// of its group linger as zombies; any thread of the sentry may reap them).
    fn kill_all(&self) {
        if sys::pidfd_send_sigkill(self.pidfd.as_fd()).is_err() {
            return;
        }
        for tid in self.stub_tids() {
            // tgkill(0) checks that `tid` is still a (possibly zombie) thread of this stub,
            // not an id reused after someone else reaped it.
            if tid != self.host_pid && sys::tgkill(self.host_pid, tid, 0).is_ok() {
                sys::reap_thread(tid);
            }
        }
        sys::pidfd_kill_and_reap(self.pidfd.as_fd());
    }

    pub(super) fn is_released(&self) -> bool {
        self.released.load(Ordering::SeqCst)
    }

    /// The stub thread the calling thread traces, stopped; `EPERM` if none (wrong thread).
    /// A detached stub thread (seccomp-trap platform) is seized and interrupted first; it
    /// stays attached until `detach_caller`.
    fn caller_stub(&self) -> Result<StoppedTracee, Errno> {
        if self.is_released() {
            return Err(Errno::ESRCH);
        }
        let tid = self.stub_tid_for(sys::gettid()).ok_or(Errno::EPERM)?;
        if self.shared.systrap && self.is_detached(tid) {
            self.attach(tid)?;
        }
        Ok(StoppedTracee::assume_stopped(tid))
    }

    fn is_detached(&self, tid: i32) -> bool {
        let detached = self.detached.lock().unwrap_or_else(PoisonError::into_inner);
        detached.contains(&tid)
    }

    fn set_detached(&self, tid: i32, detached: bool) {
        let mut set = self.detached.lock().unwrap_or_else(PoisonError::into_inner);
        set.retain(|&t| t != tid);
        if detached {
            set.push(tid);
        }
    }

    /// Seizes detached stub thread `tid` again and stops it where it is (in the systrap
    /// handler's futex wait, normally: the wait is restarted when it is detached again).
    fn attach(&self, tid: i32) -> Result<(), Errno> {
        self.attaches.fetch_add(1, Ordering::SeqCst);
        let running = sys::seize(tid).inspect_err(|_| self.mark_dead())?;
        sys::interrupt(tid)?;
        match running.wait()? {
            Stop::Syscall(_) | Stop::Signal(..) | Stop::Event(_) => {}
            Stop::Exited => {
                self.mark_dead();
                return Err(Errno::ESRCH);
            }
        }
        self.set_detached(tid, false);
        Ok(())
    }

    /// The stub thread the calling thread drives (seccomp-trap platform).
    pub(crate) fn caller_stub_tid(&self) -> Result<i32, Errno> {
        if self.is_released() {
            return Err(Errno::ESRCH);
        }
        self.stub_tid_for(sys::gettid()).ok_or(Errno::EPERM)
    }

    /// How many re-attaches of detached stub threads there have been (`attaches`).
    pub(crate) fn attach_count(&self) -> u64 {
        self.attaches.load(Ordering::SeqCst)
    }

    /// Whether the caller's stub thread is attached (stopped) rather than detached.
    pub(crate) fn caller_attached(&self) -> Result<bool, Errno> {
        let tid = self.caller_stub_tid()?;
        Ok(!self.is_detached(tid))
    }

    /// Detaches the caller's stub thread where it stopped (seccomp-trap platform): it goes on
    /// with the registers it has. No-op if already detached.
    pub(crate) fn detach_caller(&self) -> Result<(), Errno> {
        let tid = self.caller_stub_tid()?;
        if self.is_detached(tid) {
            return Ok(());
        }
        StoppedTracee::assume_stopped(tid).detach()?;
        self.set_detached(tid, true);
        Ok(())
    }

    /// Loads `regs` into the caller's stub thread (stopping it first if detached), for it to
    /// run application code once detached (seccomp-trap platform). `orig_rax` is set to -1
    /// so the host never restarts a syscall the stub was in.
    pub(crate) fn set_caller_regs(&self, regs: &crate::platform::Regs) -> Result<(), Errno> {
        let stub = self.caller_stub()?;
        stub.setregs(&crate::platform::Regs {
            orig_rax: u64::MAX,
            ..*regs
        })
    }

    /// Writes `bytes` at `addr` of the stub's memory through the caller's stub thread (stopping
    /// it first if detached) with PTRACE_POKEDATA, one aligned word at a time in ascending
    /// order, so that code pages the application cannot write are written too (seccomp-trap
    /// platform, syscall patching). A word whose bytes do not change is not written.
    pub(crate) fn poke_caller(&self, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
        let stub = self.caller_stub()?;
        let end = addr.checked_add(bytes.len() as u64).ok_or(Errno::EFAULT)?;
        let mut word_addr = addr & !7;
        while word_addr < end {
            let old = stub.peek_data(word_addr)?.to_le_bytes();
            let mut new = old;
            for (i, byte) in new.iter_mut().enumerate() {
                let at = word_addr + i as u64;
                if at >= addr && at < end {
                    *byte = bytes[(at - addr) as usize];
                }
            }
            if new != old {
                stub.poke_data(word_addr, u64::from_le_bytes(new))?;
            }
            word_addr += 8;
        }
        Ok(())
    }

    /// Runs host syscall `nr(args)` in the caller's stub thread (seccomp-trap platform setup).
    pub(crate) fn inject_caller(&self, nr: i64, args: [u64; 6]) -> Result<u64, Errno> {
        self.inject(nr, args)
    }

    /// Runs host syscall `nr(args)` in the caller's stub thread and returns its result.
    fn inject(&self, nr: i64, args: [u64; 6]) -> Result<u64, Errno> {
        self.inject_into(self.caller_stub()?, nr, args)
    }

    fn inject_into(&self, stub: StoppedTracee, nr: i64, args: [u64; 6]) -> Result<u64, Errno> {
        self.inject_into_at(stub, stub::INJECT_OFFSET, nr, args)
    }

    /// Like `inject_into`, at the stub code entry `offset`.
    fn inject_into_at(
        &self,
        stub: StoppedTracee,
        offset: u64,
        nr: i64,
        args: [u64; 6],
    ) -> Result<u64, Errno> {
        match inject_syscall(stub, STUB_BASE + offset, nr as u64, args) {
            Ok((_, raw)) => syscall_result(raw),
            Err(Errno::ESRCH) => {
                self.mark_dead();
                Err(Errno::ESRCH)
            }
            Err(e) => Err(e),
        }
    }

    /// mmap(2) at exactly `addr`; the host must not pick another address.
    fn inject_mmap(&self, stub: StoppedTracee, args: [u64; 6]) -> Result<(), Errno> {
        let addr = args[0];
        let got = self.inject_into(stub, libc::SYS_mmap, args)?;
        if got != addr {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// Passes `fd` to the caller's stub (SCM_RIGHTS + injected recvmsg) and returns the
    /// stub's fd number. Always through the shared socket, at `stub::STUB_SOCKET_FD` in every
    /// stub, which only a traced stub thread can receive from.
    pub(crate) fn receive_fd(&self, fd: BorrowedFd<'_>) -> Result<u64, Errno> {
        let _passing = self
            .shared
            .fd_passing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let stub_tid = self.caller_stub()?.tid();
        // struct msghdr { name, namelen, iov, iovlen, control, controllen, flags }.
        let mut msghdr = [0u8; 56];
        msghdr[16..24].copy_from_slice(&scratch::IOVEC.to_le_bytes());
        msghdr[24..32].copy_from_slice(&1u64.to_le_bytes());
        msghdr[32..40].copy_from_slice(&scratch::CMSG.to_le_bytes());
        msghdr[40..48].copy_from_slice(&scratch::CMSG_LEN.to_le_bytes());
        let mut iovec = [0u8; 16];
        iovec[0..8].copy_from_slice(&scratch::DATA.to_le_bytes());
        iovec[8..16].copy_from_slice(&scratch::DATA_LEN.to_le_bytes());
        let pid = self.host_pid;
        sys::write_memory(pid, scratch::MSGHDR, &msghdr)?;
        sys::write_memory(pid, scratch::IOVEC, &iovec)?;
        sys::write_memory(pid, scratch::CMSG, &[0u8; scratch::CMSG_LEN as usize])?;
        sys::send_fd(self.shared.sentry_sock.as_fd(), fd)?;
        let received = self.inject_into(
            StoppedTracee::assume_stopped(stub_tid),
            libc::SYS_recvmsg,
            [
                stub::STUB_SOCKET_FD as u64,
                scratch::MSGHDR,
                libc::MSG_CMSG_CLOEXEC as u64 | libc::MSG_DONTWAIT as u64,
                0,
                0,
                0,
            ],
        );
        if let Err(e) = received {
            sys::drain_fds(self.shared.stub_sock.as_fd());
            return Err(e);
        }
        // struct cmsghdr { len: u64, level: i32, type: i32 } followed by the fd.
        let mut cmsg = [0u8; 20];
        sys::read_memory(pid, scratch::CMSG, &mut cmsg)?;
        let len = u64::from_le_bytes(cmsg[0..8].try_into().expect("invariant: 8 bytes"));
        let level = i32::from_le_bytes(cmsg[8..12].try_into().expect("invariant: 4 bytes"));
        let kind = i32::from_le_bytes(cmsg[12..16].try_into().expect("invariant: 4 bytes"));
        let stub_fd = i32::from_le_bytes(cmsg[16..20].try_into().expect("invariant: 4 bytes"));
        if len != 20 || level != libc::SOL_SOCKET || kind != libc::SCM_RIGHTS || stub_fd < 0 {
            return Err(Errno::EBADF);
        }
        Ok(stub_fd as u64)
    }
}

/// Checks a page-aligned, non-empty range below `MAX_ADDR` that spares the stub pages.
fn check_range(addr: u64, len: u64) -> Result<(), Errno> {
    if len == 0 || !addr.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
    if end > MAX_ADDR || (addr < STUB_END && end > STUB_BASE) {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

fn share_flag(shared: bool) -> u64 {
    if shared {
        libc::MAP_SHARED as u64
    } else {
        libc::MAP_PRIVATE as u64
    }
}

impl AddressSpace for PtraceAddressSpace {
    fn map_anon(&self, addr: u64, len: u64, prot: Prot, shared: bool) -> Result<(), Errno> {
        check_range(addr, len)?;
        let flags = libc::MAP_FIXED as u64 | libc::MAP_ANONYMOUS as u64 | share_flag(shared);
        let stub = self.caller_stub()?;
        self.inject_mmap(
            stub,
            [addr, len, u64::from(prot.bits()), flags, u64::MAX, 0],
        )
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
        check_range(addr, len)?;
        if !offset.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        let stub_tid = self.caller_stub()?.tid();
        let stub_fd = self.receive_fd(fd)?;
        let flags = libc::MAP_FIXED as u64 | share_flag(shared);
        let mapped = self.inject_mmap(
            StoppedTracee::assume_stopped(stub_tid),
            [addr, len, u64::from(prot.bits()), flags, stub_fd, offset],
        );
        let closed = self.inject(libc::SYS_close, [stub_fd, 0, 0, 0, 0, 0]);
        mapped?;
        closed.map(drop)
    }

    fn unmap(&self, addr: u64, len: u64) -> Result<(), Errno> {
        check_range(addr, len)?;
        self.inject(libc::SYS_munmap, [addr, len, 0, 0, 0, 0])
            .map(drop)
    }

    fn protect(&self, addr: u64, len: u64, prot: Prot) -> Result<(), Errno> {
        check_range(addr, len)?;
        self.inject(
            libc::SYS_mprotect,
            [addr, len, u64::from(prot.bits()), 0, 0, 0],
        )
        .map(drop)
    }

    fn remap(&self, old_addr: u64, old_len: u64, new_addr: u64, new_len: u64) -> Result<(), Errno> {
        check_range(old_addr, old_len)?;
        check_range(new_addr, new_len)?;
        let flags = libc::MREMAP_MAYMOVE as u64 | libc::MREMAP_FIXED as u64;
        let got = self.inject(
            libc::SYS_mremap,
            [old_addr, old_len, new_len, flags, new_addr, 0],
        )?;
        if got != new_addr {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        sys::read_memory(self.host_pid, addr, buf)
    }

    fn write(&self, addr: u64, buf: &[u8]) -> Result<usize, Errno> {
        sys::write_memory(self.host_pid, addr, buf)
    }

    fn host_pid(&self) -> i32 {
        self.host_pid
    }

    fn release(&self) {
        if !self.released.swap(true, Ordering::SeqCst) {
            self.kill_all();
        }
    }

    /// Injects clone(`FORK_CLONE_FLAGS`) at the stub's fork entry into the caller's stub
    /// thread. The child runs the fork entry's child path: PR_SET_PDEATHSIG(SIGKILL), then
    /// stops itself until `Platform::adopt_address_space` seizes it.
    fn fork(&self) -> Result<PendingStub, Errno> {
        let stub = self.caller_stub()?;
        let entry = if self.shared.systrap {
            stub::FORK_PARK_OFFSET
        } else {
            stub::FORK_OFFSET
        };
        let child = self.inject_into_at(
            stub,
            entry,
            libc::SYS_clone,
            [FORK_CLONE_FLAGS, 0, 0, 0, 0, 0],
        )?;
        let pid = i32::try_from(child).map_err(|_| Errno::EINVAL)?;
        let pidfd = match sys::pidfd_open(pid) {
            Ok(pidfd) => pidfd,
            Err(e) => {
                // Not ours to reap: the master stub (SIGCHLD ignored) does.
                let _ = sys::tgkill(pid, pid, libc::SIGKILL);
                return Err(e);
            }
        };
        Ok(PendingStub {
            host_tid: pid,
            inner: Box::new(PendingProcess::new(pid, pidfd)),
        })
    }

    /// Injects clone(`THREAD_CLONE_FLAGS`) at the stub's thread entry into the caller's stub
    /// thread; the new thread parks in `pause()` until `adopt_thread` seizes it.
    fn new_thread(&self) -> Result<PendingStub, Errno> {
        let stub = self.caller_stub()?;
        let tid = self.inject_into_at(
            stub,
            stub::CLONE_OFFSET,
            libc::SYS_clone,
            // The parked thread makes no calls, so its stack is never touched.
            [THREAD_CLONE_FLAGS, scratch::THREAD_STACK, 0, 0, 0, 0],
        )?;
        let tid = i32::try_from(tid).map_err(|_| Errno::EINVAL)?;
        Ok(PendingStub {
            host_tid: tid,
            inner: Box::new(PendingThread {
                tgid: self.host_pid,
                tid,
                space: self
                    .shared
                    .lookup(self.host_pid)
                    .as_ref()
                    .map(Arc::downgrade)
                    .unwrap_or_default(),
                armed: true,
            }),
        })
    }

    /// Seizes the parked thread, stops it with PTRACE_INTERRUPT and records the calling
    /// thread as its tracer.
    fn adopt_thread(&self, stub: PendingStub) -> Result<(), PlatformError> {
        let mut pending = stub
            .inner
            .downcast::<PendingThread>()
            .map_err(|_| PlatformError::Other("not a pending ptrace stub thread".into()))?;
        let tid = pending.tid;
        let err = |op: &'static str| {
            move |source| PlatformError::Ptrace {
                op,
                pid: tid,
                source,
            }
        };
        if pending.tgid != self.host_pid {
            return Err(PlatformError::Other(format!(
                "stub thread {tid} belongs to stub process {}, not {}",
                pending.tgid, self.host_pid
            )));
        }
        if self.is_released() {
            return Err(PlatformError::StubDied { pid: self.host_pid });
        }
        let me = sys::gettid();
        if self.stub_tid_for(me).is_some() {
            return Err(err("adopt_thread")(Errno::EBUSY));
        }
        let running = sys::seize(tid).map_err(err("PTRACE_SEIZE"))?;
        pending.armed = false;
        sys::interrupt(tid).map_err(err("PTRACE_INTERRUPT"))?;
        // Any stop will do: `switch` sets every register before the thread runs again, and
        // a later trap from the interrupt is resumed like any stray stop.
        match running.wait().map_err(err("waitpid"))? {
            Stop::Syscall(_) | Stop::Signal(..) | Stop::Event(_) => {}
            Stop::Exited => return Err(PlatformError::StubDied { pid: tid }),
        }
        self.shared.pair_on_one_cpu(tid);
        let mut tracers = self.tracers.lock().unwrap_or_else(PoisonError::into_inner);
        tracers.push((me, tid));
        Ok(())
    }

    /// Ends the caller's stub thread. The last one takes the whole stub process with it
    /// (`release`); a thread group leader cannot exit while traced threads remain without
    /// becoming a zombie that its tracer could not reap, so it is detached and parked in
    /// `pause()` instead, to die with its process.
    fn exit_thread(&self) -> Result<(), Errno> {
        let me = sys::gettid();
        let (stub_tid, last) = {
            let mut tracers = self.tracers.lock().unwrap_or_else(PoisonError::into_inner);
            let index = tracers
                .iter()
                .position(|&(tracer, _)| tracer == me)
                .ok_or(Errno::EPERM)?;
            let last = tracers.len() == 1;
            let (_, stub_tid) = if last {
                tracers[index]
            } else {
                tracers.remove(index)
            };
            (stub_tid, last)
        };
        if last {
            self.release();
            return Ok(());
        }
        if self.is_released() {
            return Ok(());
        }
        if self.shared.systrap && self.is_detached(stub_tid) {
            match self.attach(stub_tid) {
                Ok(()) => {}
                Err(Errno::ESRCH) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        let stub = StoppedTracee::assume_stopped(stub_tid);
        let ended = if stub_tid == self.host_pid {
            park_and_detach(stub)
        } else {
            inject_thread_exit(stub, STUB_BASE + stub::INJECT_OFFSET)
        };
        match ended {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Points a stopped stub thread at the park loop and detaches from it.
fn park_and_detach(stub: StoppedTracee) -> Result<(), Errno> {
    let regs = stub.getregs()?;
    stub.setregs(&libc::user_regs_struct {
        rip: STUB_BASE + stub::PARK_OFFSET,
        orig_rax: u64::MAX,
        ..regs
    })?;
    stub.detach()
}

impl Drop for PtraceAddressSpace {
    fn drop(&mut self) {
        self.release();
        self.shared.unregister_dead(self.host_pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::ptrace::tests::{platform, regs_at, space_with_code, CODE};
    use crate::platform::{Event, Platform};
    use std::sync::Arc;

    #[test]
    fn ranges_must_be_aligned_and_spare_the_stub() {
        assert_eq!(check_range(0x1000, 0x1000), Ok(()));
        assert_eq!(check_range(0x1001, 0x1000), Err(Errno::EINVAL));
        assert_eq!(check_range(0x1000, 0), Err(Errno::EINVAL));
        assert_eq!(check_range(STUB_BASE, PAGE_SIZE), Err(Errno::EINVAL));
        assert_eq!(
            check_range(STUB_BASE - PAGE_SIZE, 2 * PAGE_SIZE),
            Err(Errno::EINVAL)
        );
        assert_eq!(check_range(MAX_ADDR, PAGE_SIZE), Err(Errno::EINVAL));
        assert_eq!(check_range(u64::MAX - 0xfff, 0x2000), Err(Errno::EINVAL));
    }

    #[test]
    fn map_file_is_visible_to_read_and_to_code() {
        let contents: Vec<u8> = (0..PAGE_SIZE).map(|i| (i * 7 + 1) as u8).collect();
        let file = sys::sealed_memfd(c"test-file", &contents).unwrap();
        let space = space_with_code(&[
            0x48, 0x8b, 0x3c, 0x25, 0x00, 0x00, 0x50, 0x00, // mov rdi, [0x500000]
            0xb8, 0x3c, 0x00, 0x00, 0x00, //                   mov eax, 60
            0x0f, 0x05, //                                     syscall
        ]);
        space
            .map_file(0x50_0000, PAGE_SIZE, Prot::READ, false, file.as_fd(), 0)
            .unwrap();
        let mut back = vec![0u8; PAGE_SIZE as usize];
        assert_eq!(space.read(0x50_0000, &mut back), Ok(back.len()));
        assert_eq!(back, contents);
        let mut ctx = platform().new_context();
        let mut regs = regs_at(CODE);
        assert_eq!(ctx.switch(&*space, &mut regs).unwrap(), Event::Syscall);
        assert_eq!(
            regs.rdi,
            u64::from_le_bytes(contents[..8].try_into().unwrap())
        );
    }

    #[test]
    fn shared_file_mapping_writes_reach_the_file() {
        let file = nix::sys::memfd::memfd_create(
            c"test-shared",
            nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
        )
        .unwrap();
        nix::unistd::ftruncate(&file, PAGE_SIZE as i64).unwrap();
        let space = platform().new_address_space().unwrap();
        let rw = Prot::READ | Prot::WRITE;
        space
            .map_file(0x50_0000, PAGE_SIZE, rw, true, file.as_fd(), 0)
            .unwrap();
        assert_eq!(space.write(0x50_0010, b"shared"), Ok(6));
        let mut buf = [0u8; 6];
        assert_eq!(nix::sys::uio::pread(&file, &mut buf, 0x10), Ok(6));
        assert_eq!(&buf, b"shared");
    }

    #[test]
    fn protect_read_only_rejects_writes() {
        let space = platform().new_address_space().unwrap();
        let rw = Prot::READ | Prot::WRITE;
        space.map_anon(0x60_0000, PAGE_SIZE, rw, false).unwrap();
        assert_eq!(space.write(0x60_0000, b"abc"), Ok(3));
        space.protect(0x60_0000, PAGE_SIZE, Prot::READ).unwrap();
        assert_eq!(space.write(0x60_0000, b"xyz"), Err(Errno::EFAULT));
        let mut buf = [0u8; 3];
        assert_eq!(space.read(0x60_0000, &mut buf), Ok(3));
        assert_eq!(&buf, b"abc");
    }

    #[test]
    fn read_of_unmapped_memory_is_efault_or_short() {
        let space = platform().new_address_space().unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(space.read(0x70_0000, &mut buf), Err(Errno::EFAULT));
        space
            .map_anon(0x70_0000, PAGE_SIZE, Prot::READ, false)
            .unwrap();
        assert_eq!(space.read(0x70_0000 + PAGE_SIZE - 4, &mut buf), Ok(4));
        space.unmap(0x70_0000, PAGE_SIZE).unwrap();
        assert_eq!(space.read(0x70_0000, &mut buf), Err(Errno::EFAULT));
    }

    #[test]
    fn remap_moves_contents() {
        let space = platform().new_address_space().unwrap();
        let rw = Prot::READ | Prot::WRITE;
        space.map_anon(0x80_0000, PAGE_SIZE, rw, false).unwrap();
        assert_eq!(space.write(0x80_0000, b"moved"), Ok(5));
        space
            .remap(0x80_0000, PAGE_SIZE, 0x90_0000, 2 * PAGE_SIZE)
            .unwrap();
        let mut buf = [0u8; 5];
        assert_eq!(space.read(0x90_0000, &mut buf), Ok(5));
        assert_eq!(&buf, b"moved");
        assert_eq!(space.read(0x80_0000, &mut buf), Err(Errno::EFAULT));
    }

    /// `mov rdi, [0x500000]; mov eax, 60; syscall`: reports a word of memory in `rdi`.
    const READ_WORD: [u8; 15] = [
        0x48, 0x8b, 0x3c, 0x25, 0x00, 0x00, 0x50, 0x00, // mov rdi, [0x500000]
        0xb8, 0x3c, 0x00, 0x00, 0x00, //                   mov eax, 60
        0x0f, 0x05, //                                     syscall
    ];
    const WORD: u64 = 0x50_0000;
    const RW: Prot = Prot::READ.union(Prot::WRITE);

    /// A space running `READ_WORD` at `CODE` with `value` at `WORD`.
    fn space_with_word(value: u64) -> Arc<dyn AddressSpace> {
        let space = space_with_code(&READ_WORD);
        space.map_anon(WORD, PAGE_SIZE, RW, false).unwrap();
        assert_eq!(space.write(WORD, &value.to_le_bytes()), Ok(8));
        space
    }

    /// Runs `READ_WORD` on the calling thread and returns what it read.
    fn run_read_word(space: &dyn AddressSpace) -> u64 {
        let mut ctx = platform().new_context();
        let mut regs = regs_at(CODE);
        assert_eq!(ctx.switch(space, &mut regs).unwrap(), Event::Syscall);
        assert_eq!(regs.orig_rax, 60);
        regs.rdi
    }

    fn word(space: &dyn AddressSpace, addr: u64) -> u64 {
        let mut buf = [0u8; 8];
        assert_eq!(space.read(addr, &mut buf), Ok(8));
        u64::from_le_bytes(buf)
    }

    /// Polls until host process `pid` is gone (reaped by whoever parents it).
    fn wait_gone(pid: i32) {
        for _ in 0..200 {
            if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) == Err(Errno::ESRCH) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("host process {pid} is still there");
    }

    fn task_count(pid: i32) -> usize {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .count()
    }

    #[test]
    fn fork_copies_memory_copy_on_write() {
        let parent = space_with_word(1);
        let pending = parent.fork().unwrap();
        let child_pid = pending.host_tid;
        assert_ne!(child_pid, parent.host_pid());
        assert_eq!(parent.write(WORD, &2u64.to_le_bytes()), Ok(8));
        let (to_main, from_child) = crossbeam::channel::bounded(0);
        let (to_child, from_main) = crossbeam::channel::bounded(0);
        let child_thread = std::thread::spawn(move || {
            let child = platform().adopt_address_space(pending).unwrap();
            assert_eq!(child.host_pid(), child_pid);
            // The child sees the memory as it was at the fork, and runs on its own.
            assert_eq!(run_read_word(&*child), 1);
            assert_eq!(child.write(WORD, &3u64.to_le_bytes()), Ok(8));
            child.map_anon(0x60_0000, PAGE_SIZE, RW, false).unwrap();
            to_main.send(()).unwrap();
            from_main.recv().unwrap();
            assert_eq!(run_read_word(&*child), 3);
            child.release();
        });
        from_child.recv().unwrap();
        assert_eq!(run_read_word(&*parent), 2);
        assert_eq!(word(&*parent, WORD), 2);
        let mut buf = [0u8; 8];
        assert_eq!(parent.read(0x60_0000, &mut buf), Err(Errno::EFAULT));
        to_child.send(()).unwrap();
        child_thread.join().unwrap();
        wait_gone(child_pid);
        assert_eq!(run_read_word(&*parent), 2);
    }

    #[test]
    fn forked_stub_outlives_its_parent_stub() {
        let parent = space_with_word(5);
        let pending = parent.fork().unwrap();
        let parent_pid = parent.host_pid();
        parent.release();
        drop(parent);
        wait_gone(parent_pid);
        std::thread::spawn(move || {
            let child = platform().adopt_address_space(pending).unwrap();
            assert_eq!(run_read_word(&*child), 5);
            child.release();
        })
        .join()
        .unwrap();
    }

    #[test]
    fn unadopted_fork_is_killed_on_drop() {
        let parent = space_with_word(0);
        let pending = parent.fork().unwrap();
        let pid = pending.host_tid;
        assert!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok());
        drop(pending);
        wait_gone(pid);
        // The parent stub is unaffected.
        assert_eq!(run_read_word(&*parent), 0);
    }

    #[test]
    fn threads_share_memory_and_are_traced_separately() {
        let space = space_with_word(7);
        let pending = space.new_thread().unwrap();
        let tid = pending.host_tid;
        assert_ne!(tid, space.host_pid());
        assert_eq!(task_count(space.host_pid()), 2);
        let (to_main, from_thread) = crossbeam::channel::bounded(0);
        let (to_thread, from_main) = crossbeam::channel::bounded(0);
        let other = space.clone();
        let thread = std::thread::spawn(move || {
            other.adopt_thread(pending).unwrap();
            assert_eq!(run_read_word(&*other), 7);
            // Injection from the second tracer goes into its own stub thread.
            other.map_anon(0x60_0000, PAGE_SIZE, RW, false).unwrap();
            assert_eq!(other.write(0x60_0000, &9u64.to_le_bytes()), Ok(8));
            assert_eq!(other.write(WORD, &8u64.to_le_bytes()), Ok(8));
            to_main.send(()).unwrap();
            from_main.recv().unwrap();
            other.exit_thread().unwrap();
        });
        from_thread.recv().unwrap();
        assert_eq!(run_read_word(&*space), 8);
        assert_eq!(word(&*space, 0x60_0000), 9);
        // The first tracer unmaps what the second mapped.
        space.unmap(0x60_0000, PAGE_SIZE).unwrap();
        to_thread.send(()).unwrap();
        thread.join().unwrap();
        // The second stub thread is gone, the first still runs.
        assert_eq!(task_count(space.host_pid()), 1);
        assert_eq!(run_read_word(&*space), 8);
    }

    #[test]
    fn fork_from_a_second_thread_and_of_a_forked_stub() {
        let space = space_with_word(11);
        let pending = space.new_thread().unwrap();
        let other = space.clone();
        std::thread::spawn(move || {
            other.adopt_thread(pending).unwrap();
            let child = other.fork().unwrap();
            other.exit_thread().unwrap();
            let child = platform().adopt_address_space(child).unwrap();
            // Only the forking thread is copied.
            assert_eq!(task_count(child.host_pid()), 1);
            assert_eq!(run_read_word(&*child), 11);
            assert_eq!(child.write(WORD, &12u64.to_le_bytes()), Ok(8));
            let grandchild = child.fork().unwrap();
            child.release();
            let grandchild = platform().adopt_address_space(grandchild).unwrap();
            assert_eq!(run_read_word(&*grandchild), 12);
            grandchild.release();
        })
        .join()
        .unwrap();
        assert_eq!(run_read_word(&*space), 11);
    }

    #[test]
    fn unadopted_thread_is_ended_on_drop() {
        let space = space_with_word(6);
        let pending = space.new_thread().unwrap();
        assert_eq!(task_count(space.host_pid()), 2);
        // Dropped on another host thread, which never traced this stub.
        std::thread::spawn(move || drop(pending)).join().unwrap();
        assert_eq!(task_count(space.host_pid()), 1);
        assert_eq!(run_read_word(&*space), 6);
    }

    #[test]
    fn leader_exit_leaves_the_other_thread_running() {
        let space = space_with_word(4);
        let pid = space.host_pid();
        let pending = space.new_thread().unwrap();
        let other = space.clone();
        let (to_main, from_thread) = crossbeam::channel::bounded(0);
        let (to_thread, from_main) = crossbeam::channel::bounded(0);
        let thread = std::thread::spawn(move || {
            other.adopt_thread(pending).unwrap();
            to_main.send(()).unwrap();
            from_main.recv().unwrap();
            assert_eq!(run_read_word(&*other), 4);
            other.map_anon(0x60_0000, PAGE_SIZE, RW, false).unwrap();
            // The last thread's exit ends the stub process.
            other.exit_thread().unwrap();
        });
        from_thread.recv().unwrap();
        space.exit_thread().unwrap();
        assert_eq!(
            space.map_anon(0x70_0000, PAGE_SIZE, RW, false),
            Err(Errno::EPERM)
        );
        to_thread.send(()).unwrap();
        thread.join().unwrap();
        wait_gone(pid);
    }

    #[test]
    fn release_kills_every_stub_thread() {
        let space = space_with_word(0);
        let pid = space.host_pid();
        let pending = space.new_thread().unwrap();
        let other = space.clone();
        let (to_main, from_thread) = crossbeam::channel::bounded(0);
        let (to_thread, from_main) = crossbeam::channel::bounded(0);
        let thread = std::thread::spawn(move || {
            other.adopt_thread(pending).unwrap();
            to_main.send(()).unwrap();
            from_main.recv().unwrap();
            let mut ctx = platform().new_context();
            let mut regs = regs_at(CODE);
            assert_eq!(ctx.switch(&*other, &mut regs).unwrap(), Event::Exited);
        });
        from_thread.recv().unwrap();
        // Both stub threads are traced (by different host threads) when the process is killed.
        space.release();
        assert_eq!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Err(Errno::ESRCH)
        );
        to_thread.send(()).unwrap();
        thread.join().unwrap();
    }

    #[test]
    fn two_address_spaces_are_independent() {
        let a = platform().new_address_space().unwrap();
        let b = platform().new_address_space().unwrap();
        assert_ne!(a.host_pid(), b.host_pid());
        let rw = Prot::READ | Prot::WRITE;
        a.map_anon(0x70_0000, PAGE_SIZE, rw, false).unwrap();
        b.map_anon(0x70_0000, PAGE_SIZE, rw, false).unwrap();
        assert_eq!(a.write(0x70_0000, b"A"), Ok(1));
        assert_eq!(b.write(0x70_0000, b"B"), Ok(1));
        let mut buf = [0u8; 1];
        assert_eq!(a.read(0x70_0000, &mut buf), Ok(1));
        assert_eq!(&buf, b"A");
        assert_eq!(b.read(0x70_0000, &mut buf), Ok(1));
        assert_eq!(&buf, b"B");
        a.unmap(0x70_0000, PAGE_SIZE).unwrap();
        assert_eq!(a.read(0x70_0000, &mut buf), Err(Errno::EFAULT));
        assert_eq!(b.read(0x70_0000, &mut buf), Ok(1));
    }
}
