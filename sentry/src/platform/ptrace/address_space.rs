//! One application address space on ptrace: a stub process whose host mappings are changed by
//! injected mmap(2)/munmap(2)/mprotect(2)/mremap(2), with file descriptors passed in by
//! `SCM_RIGHTS` (unix(7)) and received by an injected recvmsg(2); memory is accessed with
//! process_vm_readv(2)/process_vm_writev(2). After gVisor's `pkg/sentry/platform/ptrace/subprocess.go`.
//!
//! Lock order: `Shared::fd_passing`, then `tracers`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::inject::{inject_syscall, syscall_result};
use super::stub::{self, scratch, PAGE_SIZE, STUB_BASE, STUB_END};
use super::sys::{self, StoppedTracee};
use super::{Shared, MAX_ADDR};
use crate::platform::{AddressSpace, Prot};
use crate::Errno;

/// A stub process. Dropping it (or `release`) kills the stub.
pub struct PtraceAddressSpace {
    host_pid: i32,
    /// Names the stub process even if it was reaped elsewhere and its pid reused.
    pidfd: OwnedFd,
    /// (tracer host tid, stub thread tid): which sentry thread drives which stub thread.
    tracers: Mutex<Vec<(i32, i32)>>,
    /// Set once the stub is killed or found dead.
    released: AtomicBool,
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
            shared,
        }
    }

    /// The stub thread that host thread `tracer_tid` traces in this address space.
    pub(super) fn stub_tid_for(&self, tracer_tid: i32) -> Option<i32> {
        let tracers = self.tracers.lock().unwrap_or_else(PoisonError::into_inner);
        tracers
            .iter()
            .find(|(tracer, _)| *tracer == tracer_tid)
            .map(|&(_, stub)| stub)
    }

    /// Records that the stub is gone (seen by a `Context`).
    pub(super) fn mark_dead(&self) {
        self.released.store(true, Ordering::SeqCst);
    }

    /// Kills the stub and waits for it to exit; marks the address space released.
    pub(super) fn terminate(&self) {
        self.mark_dead();
        sys::pidfd_kill_and_reap(self.pidfd.as_fd());
    }

    pub(super) fn is_released(&self) -> bool {
        self.released.load(Ordering::SeqCst)
    }

    /// The stub thread the calling thread traces; `EPERM` if none (wrong thread).
    fn caller_stub(&self) -> Result<StoppedTracee, Errno> {
        if self.is_released() {
            return Err(Errno::ESRCH);
        }
        let tid = self.stub_tid_for(sys::gettid()).ok_or(Errno::EPERM)?;
        Ok(StoppedTracee::assume_stopped(tid))
    }

    /// Runs host syscall `nr(args)` in the caller's stub thread and returns its result.
    fn inject(&self, nr: i64, args: [u64; 6]) -> Result<u64, Errno> {
        self.inject_into(self.caller_stub()?, nr, args)
    }

    fn inject_into(&self, stub: StoppedTracee, nr: i64, args: [u64; 6]) -> Result<u64, Errno> {
        match inject_syscall(stub, STUB_BASE + stub::INJECT_OFFSET, nr as u64, args) {
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
    /// stub's fd number. Caller holds `fd_passing`.
    fn receive_fd(&self, fd: BorrowedFd<'_>) -> Result<u64, Errno> {
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
        let stub_fd = {
            let _passing = self
                .shared
                .fd_passing
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.receive_fd(fd)?
        };
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
            sys::pidfd_kill_and_reap(self.pidfd.as_fd());
        }
    }
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
