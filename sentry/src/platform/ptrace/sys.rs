//! Host calls of the ptrace platform, each wrapped once behind a safe typed function (ptrace(2),
//! waitpid(2), process_vm_readv(2), memfd_create(2), execveat(2), fork(2), unix(7) SCM_RIGHTS).
//!
//! A traced stub thread is handled through two types: `StoppedTracee` (in a ptrace-stop, so
//! register requests are valid) and `RunningTracee` (resumed; only `wait` applies). Resuming
//! consumes the stopped handle, so no request can be aimed at a running tracee by construction.

use std::ffi::{c_char, c_int, c_long, CStr};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::sys::uio::{process_vm_readv, process_vm_writev, RemoteIoVec};
use nix::unistd::Pid;

use crate::platform::Regs;
use crate::Errno;

thread_local! {
    /// Bumped whenever this tracer thread may have changed a tracee's general registers
    /// (SETREGS, POKEUSER, or resuming it): a register image read before is stale once it
    /// moved. Each tracer thread drives only its own stub threads, so a thread-local suffices.
    static REGS_EPOCH: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn bump_regs_epoch() {
    REGS_EPOCH.with(|e| e.set(e.get().wrapping_add(1)));
}

/// The calling tracer thread's register epoch (see `REGS_EPOCH`).
pub fn regs_epoch() -> u64 {
    REGS_EPOCH.with(std::cell::Cell::get)
}

/// `status >> 8` of a syscall-stop when `PTRACE_O_TRACESYSGOOD` is set.
const SYSCALL_STOP_SIG: c_int = libc::SIGTRAP | 0x80;
/// Host page size.
const PAGE: u64 = 4096;
/// Remote iovecs per process_vm_* call (each covers at most one page).
const REMOTE_IOVS: usize = 64;

/// The host thread id of the caller (asked of the host once per thread: a fork of the
/// application asks for it some twenty times). A forked child would inherit a stale value;
/// the only fork here, `spawn_traced_stub`'s, never calls this before its exec.
pub fn gettid() -> i32 {
    thread_local! {
        static TID: i32 = nix::unistd::gettid().as_raw();
    }
    TID.with(|tid| *tid)
}

/// Options every stub tracee gets: die with its tracer, mark syscall stops, and stop at
/// `SECCOMP_RET_TRACE` (the seccomp-trap platform's filter answers that for the syscalls an
/// injection makes from the stub page; without this option they would fail with ENOSYS).
fn trace_options() -> ptrace::Options {
    ptrace::Options::PTRACE_O_EXITKILL
        | ptrace::Options::PTRACE_O_TRACESYSGOOD
        | ptrace::Options::PTRACE_O_TRACESECCOMP
}

/// What a synchronous fault signal reported (`siginfo_t` fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultInfo {
    pub signo: i32,
    pub code: i32,
    pub addr: u64,
}

/// A stub thread traced by the calling thread and in a ptrace-stop.
#[derive(Debug)]
pub struct StoppedTracee {
    tid: i32,
    /// The `PTRACE_EVENT_*` of an event stop (`status >> 16`), 0 otherwise or when unknown.
    event: i32,
}

/// A stub thread traced by the calling thread that has been resumed.
#[derive(Debug)]
#[must_use = "a resumed tracee must be waited for"]
pub struct RunningTracee {
    tid: i32,
}

/// Why `RunningTracee::wait` returned.
#[derive(Debug)]
pub enum Stop {
    /// Syscall-entry stop under PTRACE_SYSEMU (`SIGTRAP | 0x80`).
    Syscall(StoppedTracee),
    /// Signal-delivery stop: the signal is suppressed unless passed back on resume.
    Signal(StoppedTracee, i32),
    /// A `PTRACE_EVENT_*` stop (under SEIZE a group-stop is `PTRACE_EVENT_STOP`).
    Event(StoppedTracee),
    /// The tracee exited or was killed (and has been reaped), or is no longer our child.
    Exited,
}

impl StoppedTracee {
    /// Names a tracee known to be stopped. Invariant the caller upholds: the calling thread
    /// traces `tid`, and every resume in this platform is followed by a wait for the next stop
    /// before the operation returns, so between operations a stub thread is always stopped.
    pub fn assume_stopped(tid: i32) -> StoppedTracee {
        StoppedTracee { tid, event: 0 }
    }

    /// Whether this is a `PTRACE_EVENT_SECCOMP` stop: the stub's seccomp filter asked the
    /// tracer about a syscall (`SECCOMP_RET_TRACE`).
    pub fn is_seccomp_event(&self) -> bool {
        self.event == libc::PTRACE_EVENT_SECCOMP
    }

    pub fn tid(&self) -> i32 {
        self.tid
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.tid)
    }

    pub fn getregs(&self) -> Result<Regs, Errno> {
        ptrace::getregs(self.pid())
    }

    pub fn setregs(&self, regs: &Regs) -> Result<(), Errno> {
        bump_regs_epoch();
        ptrace::setregs(self.pid(), *regs)
    }

    /// PTRACE_POKEUSER of `rax` alone: one word instead of the whole register set.
    pub fn set_rax(&self, rax: u64) -> Result<(), Errno> {
        bump_regs_epoch();
        let offset = std::mem::offset_of!(Regs, rax);
        ptrace::write_user(self.pid(), offset as ptrace::AddressType, rax as c_long)
    }

    /// PTRACE_PEEKDATA: the word at `addr` of the tracee's memory, readable or not.
    pub fn peek_data(&self, addr: u64) -> Result<u64, Errno> {
        ptrace::read(self.pid(), addr as ptrace::AddressType).map(|word| word as u64)
    }

    /// PTRACE_POKEDATA: writes the word at `addr` even into a read-only private mapping (the
    /// host copies the page, as for a debugger's breakpoint). A shared mapping the tracee
    /// cannot write refuses it.
    pub fn poke_data(&self, addr: u64, word: u64) -> Result<(), Errno> {
        ptrace::write(self.pid(), addr as ptrace::AddressType, word as c_long)
    }

    pub fn set_options(&self) -> Result<(), Errno> {
        ptrace::setoptions(self.pid(), trace_options())
    }

    /// The signal information of the current signal-delivery stop.
    pub fn fault_info(&self) -> Result<FaultInfo, Errno> {
        let info = ptrace::getsiginfo(self.pid())?;
        // SAFETY: reading the `si_addr` union member of a siginfo the kernel filled in; for
        // non-fault signals it is just another interpretation of the same initialized bytes.
        let addr = unsafe { info.si_addr() } as u64;
        Ok(FaultInfo {
            signo: info.si_signo,
            code: info.si_code,
            addr,
        })
    }

    /// PTRACE_CONT, suppressing any pending signal-delivery.
    pub fn cont(self) -> Result<RunningTracee, Errno> {
        bump_regs_epoch();
        ptrace::cont(self.pid(), None::<Signal>)?;
        Ok(RunningTracee { tid: self.tid })
    }

    /// PTRACE_SYSEMU, suppressing any pending signal-delivery.
    pub fn sysemu(self) -> Result<RunningTracee, Errno> {
        bump_regs_epoch();
        ptrace::sysemu(self.pid(), None::<Signal>)?;
        Ok(RunningTracee { tid: self.tid })
    }
}

impl RunningTracee {
    pub fn tid(&self) -> i32 {
        self.tid
    }

    /// Waits for the next stop or the exit of the tracee (`waitpid(tid, __WALL)`).
    pub fn wait(self) -> Result<Stop, Errno> {
        let tid = self.tid;
        loop {
            let mut status: c_int = 0;
            // SAFETY: waitpid writes only into the local `status`.
            let ret = unsafe { libc::waitpid(tid, &mut status, libc::__WALL) };
            if ret < 0 {
                match Errno::last() {
                    Errno::EINTR => continue,
                    Errno::ECHILD => return Ok(Stop::Exited),
                    e => return Err(e),
                }
            }
            if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                return Ok(Stop::Exited);
            }
            if !libc::WIFSTOPPED(status) {
                continue;
            }
            let stopped = StoppedTracee {
                tid,
                event: status >> 16,
            };
            let sig = libc::WSTOPSIG(status);
            return Ok(if status >> 16 != 0 {
                Stop::Event(stopped)
            } else if sig == SYSCALL_STOP_SIG {
                Stop::Syscall(stopped)
            } else {
                Stop::Signal(stopped, sig)
            });
        }
    }
}

impl StoppedTracee {
    /// PTRACE_DETACH, suppressing any pending signal: the thread runs on untraced.
    pub fn detach(self) -> Result<(), Errno> {
        bump_regs_epoch();
        ptrace::detach(self.pid(), None::<Signal>)
    }

    /// The thread's extended FPU state (PTRACE_GETREGSET `NT_X86_XSTATE`): the full XSAVE
    /// area; the kernel shortens the iovec to the size it wrote.
    pub fn get_xstate(&self) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0u8; XSTATE_MAX];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: PTRACE_GETREGSET writes at most `iov_len` bytes into `buf` (alive and
        // exclusively borrowed for the call) and updates the local `iov`.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_ptrace,
                PTRACE_GETREGSET,
                c_long::from(self.tid),
                NT_X86_XSTATE,
                &mut iov as *mut libc::iovec,
            )
        };
        Errno::result(ret)?;
        buf.truncate(iov.iov_len.min(XSTATE_MAX));
        Ok(buf)
    }

    /// Sets the thread's extended FPU state (PTRACE_SETREGSET `NT_X86_XSTATE`); `state`
    /// must be exactly as long as what `get_xstate` returns.
    pub fn set_xstate(&self, state: &[u8]) -> Result<(), Errno> {
        let mut iov = libc::iovec {
            iov_base: state.as_ptr().cast_mut().cast(),
            iov_len: state.len(),
        };
        // SAFETY: PTRACE_SETREGSET only reads `iov_len` bytes from `state`, which is alive
        // for the call; the kernel never writes through this iovec's base.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_ptrace,
                PTRACE_SETREGSET,
                c_long::from(self.tid),
                NT_X86_XSTATE,
                &mut iov as *mut libc::iovec,
            )
        };
        Errno::result(ret).map(drop)
    }

    /// The legacy 512-byte FXSAVE area (PTRACE_GETFPREGS).
    pub fn get_fpregs(&self) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0u8; FXSAVE_LEN];
        // SAFETY: PTRACE_GETFPREGS writes one `struct user_fpregs_struct` (512 bytes) into
        // `buf`, which is exactly that long and alive for the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_ptrace,
                PTRACE_GETFPREGS,
                c_long::from(self.tid),
                0 as c_long,
                buf.as_mut_ptr(),
            )
        };
        Errno::result(ret)?;
        Ok(buf)
    }

    /// Sets the legacy FXSAVE area (PTRACE_SETFPREGS) from the first 512 bytes of `state`.
    pub fn set_fpregs(&self, state: &[u8]) -> Result<(), Errno> {
        let area = state.get(..FXSAVE_LEN).ok_or(Errno::EINVAL)?;
        // SAFETY: PTRACE_SETFPREGS reads 512 bytes from `area`, which is that long and alive.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_ptrace,
                PTRACE_SETFPREGS,
                c_long::from(self.tid),
                0 as c_long,
                area.as_ptr(),
            )
        };
        Errno::result(ret).map(drop)
    }
}

/// `PTRACE_GETREGSET`/`PTRACE_SETREGSET` (`include/uapi/linux/ptrace.h`).
const PTRACE_GETREGSET: c_long = 0x4204;
const PTRACE_SETREGSET: c_long = 0x4205;
/// `PTRACE_GETFPREGS`/`PTRACE_SETFPREGS` (`arch/x86/include/uapi/asm/ptrace-abi.h`).
const PTRACE_GETFPREGS: c_long = 14;
const PTRACE_SETFPREGS: c_long = 15;
/// The x86 extended state regset (`include/uapi/linux/elf.h`).
const NT_X86_XSTATE: c_long = 0x202;
/// Size of the legacy FXSAVE area.
pub const FXSAVE_LEN: usize = 512;
/// Upper bound for the XSAVE area (with AMX tiles it is about 11 KiB).
const XSTATE_MAX: usize = 16 * 1024;

/// PTRACE_INTERRUPT: stops seized tracee `tid` wherever it is (a `PTRACE_EVENT_STOP`).
pub fn interrupt(tid: i32) -> Result<(), Errno> {
    ptrace::interrupt(Pid::from_raw(tid))
}

/// Waits for traced thread `tid` to exit and reaps it (`waitpid(tid, __WALL)`), ignoring
/// stops. Returns at once if `tid` is not (or no longer) a child or tracee of this process.
pub fn reap_thread(tid: i32) {
    loop {
        let mut status: c_int = 0;
        // SAFETY: waitpid writes only into the local `status`.
        let ret = unsafe { libc::waitpid(tid, &mut status, libc::__WALL) };
        if ret < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            return;
        }
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            return;
        }
    }
}

/// PTRACE_SEIZE with `trace_options`: the calling thread becomes the tracer of `tid`.
pub fn seize(tid: i32) -> Result<RunningTracee, Errno> {
    bump_regs_epoch();
    ptrace::seize(Pid::from_raw(tid), trace_options())?;
    Ok(RunningTracee { tid })
}

/// Sends `sig` to host thread `tid` of process `tgid` (tgkill(2)).
pub fn tgkill(tgid: i32, tid: i32, sig: i32) -> Result<(), Errno> {
    // SAFETY: tgkill takes only integers.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_tgkill,
            c_long::from(tgid),
            c_long::from(tid),
            c_long::from(sig),
        )
    };
    Errno::result(ret).map(drop)
}

/// SIGKILLs host process `pid` and waits until it is gone (any thread of the tracer's thread
/// group may reap a traced child). Errors (already gone) are ignored. Only for a process that
/// this process parents or traces and has not reaped, so `pid` cannot have been reused;
/// otherwise use `pidfd_kill_and_reap`.
pub fn kill_and_reap(pid: i32) {
    let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    reap_thread(pid);
}

/// A pidfd for host process `pid` (pidfd_open(2)): names that process even after its pid is
/// reused.
pub fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes integers and returns a new fd or -1.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, c_long::from(pid), 0 as c_long) };
    let raw = Errno::result(ret)?;
    let raw = RawFd::try_from(raw).map_err(|_| Errno::EBADF)?;
    // SAFETY: `raw` is a fresh descriptor returned by pidfd_open, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// SIGKILLs the process behind `pidfd` and, if it was still there, waits until it has exited
/// (`waitid(P_PIDFD, WEXITED | __WALL)`; any thread of the tracer's thread group may reap a
/// traced child). A process that is already gone is left alone.
pub fn pidfd_kill_and_reap(pidfd: BorrowedFd<'_>) {
    if pidfd_send_sigkill(pidfd).is_err() {
        return;
    }
    use nix::sys::wait::{waitid, Id, WaitPidFlag};
    while let Err(Errno::EINTR) =
        waitid(Id::PIDFd(pidfd), WaitPidFlag::WEXITED | WaitPidFlag::__WALL)
    {}
}

/// SIGKILLs the process behind `pidfd` (pidfd_send_signal(2)); `ESRCH` if it is gone.
pub fn pidfd_send_sigkill(pidfd: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: pidfd_send_signal with a valid borrowed pidfd, a signal number and no siginfo.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            c_long::from(pidfd.as_raw_fd()),
            c_long::from(libc::SIGKILL),
            std::ptr::null::<libc::siginfo_t>(),
            0 as c_long,
        )
    };
    Errno::result(ret).map(drop)
}

/// Splits `[addr, addr + len)` into page-bounded remote iovecs; returns how many and the bytes.
fn remote_iovs(addr: u64, len: usize, iovs: &mut [RemoteIoVec; REMOTE_IOVS]) -> (usize, usize) {
    let mut count = 0;
    let mut total = 0usize;
    let mut cur = addr;
    while count < REMOTE_IOVS && total < len {
        let page_left = (PAGE - (cur % PAGE)) as usize;
        let n = page_left.min(len - total);
        iovs[count] = RemoteIoVec {
            base: cur as usize,
            len: n,
        };
        count += 1;
        total += n;
        cur += n as u64;
    }
    (count, total)
}

/// Reads memory of host process `pid` at `addr`; short at the first unreadable page; `EFAULT`
/// (or the host error) when nothing could be read.
pub fn read_memory(pid: i32, addr: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    if buf.is_empty() {
        return Ok(0);
    }
    if addr.checked_add(buf.len() as u64).is_none() {
        return Err(Errno::EFAULT);
    }
    let mut done = 0usize;
    let mut iovs = [RemoteIoVec { base: 0, len: 0 }; REMOTE_IOVS];
    while done < buf.len() {
        let (count, total) = remote_iovs(addr + done as u64, buf.len() - done, &mut iovs);
        let mut local = [IoSliceMut::new(&mut buf[done..done + total])];
        match process_vm_readv(Pid::from_raw(pid), &mut local, &iovs[..count]) {
            Ok(n) => {
                done += n;
                if n < total {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    if done == 0 {
        return Err(Errno::EFAULT);
    }
    Ok(done)
}

/// Writes memory of host process `pid` at `addr`; short at the first unwritable page; `EFAULT`
/// (or the host error) when nothing could be written.
pub fn write_memory(pid: i32, addr: u64, buf: &[u8]) -> Result<usize, Errno> {
    if buf.is_empty() {
        return Ok(0);
    }
    if addr.checked_add(buf.len() as u64).is_none() {
        return Err(Errno::EFAULT);
    }
    let mut done = 0usize;
    let mut iovs = [RemoteIoVec { base: 0, len: 0 }; REMOTE_IOVS];
    while done < buf.len() {
        let (count, total) = remote_iovs(addr + done as u64, buf.len() - done, &mut iovs);
        let local = [IoSlice::new(&buf[done..done + total])];
        match process_vm_writev(Pid::from_raw(pid), &local, &iovs[..count]) {
            Ok(n) => {
                done += n;
                if n < total {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    if done == 0 {
        return Err(Errno::EFAULT);
    }
    Ok(done)
}

/// A sealed, close-on-exec memfd holding `contents`.
pub fn sealed_memfd(name: &CStr, contents: &[u8]) -> Result<OwnedFd, Errno> {
    use nix::fcntl::{fcntl, FcntlArg, SealFlag};
    use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
    let fd = memfd_create(
        name,
        MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
    )?;
    let mut written = 0;
    while written < contents.len() {
        match nix::unistd::write(&fd, &contents[written..]) {
            Ok(0) => return Err(Errno::EIO),
            Ok(n) => written += n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    fcntl(
        fd.as_raw_fd(),
        FcntlArg::F_ADD_SEALS(
            SealFlag::F_SEAL_SHRINK
                | SealFlag::F_SEAL_GROW
                | SealFlag::F_SEAL_WRITE
                | SealFlag::F_SEAL_SEAL,
        ),
    )?;
    Ok(fd)
}

/// A close-on-exec `SOCK_DGRAM` unix socket pair.
pub fn dgram_socketpair() -> Result<(OwnedFd, OwnedFd), Errno> {
    socket::socketpair(
        socket::AddressFamily::Unix,
        socket::SockType::Datagram,
        None,
        socket::SockFlag::SOCK_CLOEXEC,
    )
}

/// Sends `fd` as a one-byte datagram with `SCM_RIGHTS` on `sock`.
pub fn send_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> Result<(), Errno> {
    send_fds(sock, &[fd])
}

/// Sends `fds` together as one one-byte datagram with `SCM_RIGHTS` on `sock`.
pub fn send_fds(sock: BorrowedFd<'_>, fds: &[BorrowedFd<'_>]) -> Result<(), Errno> {
    let mut raw = [0 as RawFd; 4];
    let raw = raw.get_mut(..fds.len()).ok_or(Errno::EINVAL)?;
    for (slot, fd) in raw.iter_mut().zip(fds) {
        *slot = fd.as_raw_fd();
    }
    let cmsgs = [ControlMessage::ScmRights(raw)];
    let data = [0u8];
    let iov = [IoSlice::new(&data)];
    socket::sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsgs, MsgFlags::MSG_DONTWAIT, None)?;
    Ok(())
}

/// Receives and closes every datagram (and passed fd) queued on `sock`, without blocking.
pub fn drain_fds(sock: BorrowedFd<'_>) {
    loop {
        let mut data = [0u8; 8];
        let mut iov = [IoSliceMut::new(&mut data)];
        let mut space = nix::cmsg_space!([RawFd; 4]);
        let msg = match socket::recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) => msg,
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        };
        let Ok(cmsgs) = msg.cmsgs() else { return };
        for cmsg in cmsgs {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                for raw in fds {
                    // SAFETY: the kernel just installed `raw` in our fd table for this message;
                    // nothing else owns it, so taking ownership (and closing it) is sound.
                    drop(unsafe { OwnedFd::from_raw_fd(raw) });
                }
            }
        }
    }
}

/// Duplicates `fd` to a close-on-exec descriptor numbered at least `min`.
fn dup_cloexec_above(fd: BorrowedFd<'_>, min: c_int) -> Result<OwnedFd, Errno> {
    // SAFETY: F_DUPFD_CLOEXEC on a valid borrowed fd; the result is a fresh fd we own.
    let ret = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    let raw = Errno::result(ret)?;
    // SAFETY: `raw` is a new descriptor returned by fcntl and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Forks a child that becomes the traced stub: it calls PTRACE_TRACEME, sets
/// PR_SET_PDEATHSIG(SIGKILL), unblocks all signals, keeps only `stub_sock` (as fd
/// `stub_fd`) and execs the executable in `image` with `execveat(AT_EMPTY_PATH)`. The
/// returned tracee's first stop is the exec SIGTRAP.
pub fn spawn_traced_stub(
    image: BorrowedFd<'_>,
    stub_sock: BorrowedFd<'_>,
    stub_fd: c_int,
) -> Result<RunningTracee, Errno> {
    // Numbers far from `stub_fd` so the child's dup2 clobbers neither.
    let image_hi = dup_cloexec_above(image, stub_fd + 16)?;
    let sock_hi = dup_cloexec_above(stub_sock, stub_fd + 16)?;
    let argv: [*const c_char; 2] = [c"runsc-stub".as_ptr(), std::ptr::null()];
    let envp: [*const c_char; 1] = [std::ptr::null()];
    let empty_path = c"";
    // SAFETY: fork itself is sound; in the child (of a possibly multithreaded process) we only
    // run `stub_child`, which makes raw async-signal-safe syscalls on memory prepared before
    // the fork and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Errno::last());
    }
    if pid == 0 {
        stub_child(
            image_hi.as_raw_fd(),
            sock_hi.as_raw_fd(),
            stub_fd,
            empty_path.as_ptr(),
            &argv,
            &envp,
        );
    }
    Ok(RunningTracee { tid: pid })
}

/// The child half of `spawn_traced_stub`. Runs after fork: no allocation, no locks.
fn stub_child(
    image_fd: c_int,
    sock_fd: c_int,
    stub_fd: c_int,
    empty_path: *const c_char,
    argv: &[*const c_char; 2],
    envp: &[*const c_char; 1],
) -> ! {
    let empty_mask: u64 = 0;
    // SAFETY: raw syscalls with integer arguments or pointers to live locals/statics; each is
    // async-signal-safe, as required between fork and exec in a multithreaded process. On any
    // failure the child exits immediately with a distinct status.
    unsafe {
        if libc::syscall(
            libc::SYS_ptrace,
            c_long::from(libc::PTRACE_TRACEME),
            0,
            0,
            0,
        ) != 0
        {
            libc::_exit(120);
        }
        libc::syscall(
            libc::SYS_prctl,
            c_long::from(libc::PR_SET_PDEATHSIG),
            c_long::from(libc::SIGKILL),
            0,
            0,
            0,
        );
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            c_long::from(libc::SIG_SETMASK),
            &empty_mask as *const u64,
            0usize,
            8usize,
        );
        // Everything becomes close-on-exec; dup2 then makes a non-cloexec copy at `stub_fd`.
        if libc::syscall(
            libc::SYS_close_range,
            0 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        ) != 0
        {
            libc::_exit(121);
        }
        if libc::dup2(sock_fd, stub_fd) != stub_fd {
            libc::_exit(122);
        }
        libc::syscall(
            libc::SYS_execveat,
            c_long::from(image_fd),
            empty_path,
            argv.as_ptr(),
            envp.as_ptr(),
            c_long::from(libc::AT_EMPTY_PATH),
        );
        libc::_exit(123)
    }
}

/// The CPUs the calling thread may run on (empty if the mask cannot be read).
pub fn allowed_cpus() -> Vec<usize> {
    match nix::sched::sched_getaffinity(Pid::from_raw(0)) {
        Ok(set) => (0..nix::sched::CpuSet::count())
            .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Restricts thread `tid` (0 = the calling thread) to one CPU.
pub fn pin_thread(tid: i32, cpu: usize) -> Result<(), Errno> {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu)?;
    nix::sched::sched_setaffinity(Pid::from_raw(tid), &set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_iovs_split_at_pages() {
        let mut iovs = [RemoteIoVec { base: 0, len: 0 }; REMOTE_IOVS];
        let (count, total) = remote_iovs(0x1ff0, 0x30, &mut iovs);
        assert_eq!((count, total), (2, 0x30));
        assert_eq!((iovs[0].base, iovs[0].len), (0x1ff0, 0x10));
        assert_eq!((iovs[1].base, iovs[1].len), (0x2000, 0x20));
    }

    #[test]
    fn read_of_own_memory_and_of_unmapped_memory() {
        let pid = std::process::id() as i32;
        let src = [7u8; 100];
        let mut dst = [0u8; 100];
        assert_eq!(read_memory(pid, src.as_ptr() as u64, &mut dst), Ok(100));
        assert_eq!(dst, src);
        assert_eq!(read_memory(pid, 0x1000, &mut dst), Err(Errno::EFAULT));
    }

    #[test]
    fn memfd_holds_contents() {
        let fd = sealed_memfd(c"t", b"abc").unwrap();
        let mut buf = [0u8; 3];
        assert_eq!(nix::sys::uio::pread(&fd, &mut buf, 0), Ok(3));
        assert_eq!(&buf, b"abc");
    }
}
