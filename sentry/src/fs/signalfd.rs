//! signalfd objects (signalfd(2); Linux `fs/signalfd.c`, gVisor `pkg/sentry/fsimpl/signalfd`):
//! read(2) dequeues pending signals in the file's mask as 128-byte `struct signalfd_siginfo`
//! records. The program normally blocks those signals so they stay pending until read.
//!
//! Linux looks at `current`'s pending sets; here read uses the reading task's sets and
//! readiness (poll, epoll), which has no task, uses the sets of the thread that created the
//! file (the same for single-threaded programs). Pollers have no wait queue to sleep on: a
//! signal queued for a thread interrupts its waker, so a thread polling its own signals wakes
//! at once; others re-check in `vfs::poll::HOST_POLL_SLICE` (10 ms) slices.
//!
//! Lock order: `SignalFd::mask` is a leaf.

use std::any::Any;
use std::sync::{Arc, Mutex};

use crate::abi::signal::SigInfo;
use crate::fs::eventfd::{anon_stat, AnonInode};
use crate::kernel::signal::{block_until, PendingView, UNBLOCKABLE};
use crate::vfs::{Dentry, FileDescription, FileOps, Positioning, Stat, TaskRef};
use crate::{Errno, SysResult};

/// `sizeof(struct signalfd_siginfo)`.
pub const SIGNALFD_SIGINFO_SIZE: usize = 128;

/// One signalfd object.
pub struct SignalFd {
    mask: Mutex<u64>,
    /// The creator's pending sets, for readiness.
    view: PendingView,
}

fn get_i32(b: &[u8], off: usize) -> i32 {
    i32::from_ne_bytes(b[off..off + 4].try_into().expect("invariant: 4 bytes"))
}

fn get_u64(b: &[u8], off: usize) -> u64 {
    u64::from_ne_bytes(b[off..off + 8].try_into().expect("invariant: 8 bytes"))
}

/// Converts a siginfo to `struct signalfd_siginfo` (Linux `signalfd_copyinfo`, by
/// `siginfo_layout`).
pub fn signalfd_siginfo(info: &SigInfo) -> [u8; SIGNALFD_SIGINFO_SIZE] {
    let b = &info.bytes;
    let mut o = [0u8; SIGNALFD_SIGINFO_SIZE];
    let signo = info.signo();
    let code = info.code();
    o[0..4].copy_from_slice(&signo.to_ne_bytes());
    o[4..8].copy_from_slice(&b[4..8]);
    o[8..12].copy_from_slice(&code.to_ne_bytes());
    let put32 = |o: &mut [u8; SIGNALFD_SIGINFO_SIZE], off: usize, v: i32| {
        o[off..off + 4].copy_from_slice(&v.to_ne_bytes())
    };
    let put64 = |o: &mut [u8; SIGNALFD_SIGINFO_SIZE], off: usize, v: u64| {
        o[off..off + 8].copy_from_slice(&v.to_ne_bytes())
    };
    const SI_TIMER: i32 = -2;
    const SI_SIGIO: i32 = -5;
    let by_signal = signo < 32 && code > 0;
    if by_signal
        && matches!(
            signo,
            libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP
        )
    {
        put64(&mut o, 72, get_u64(b, 16)); // ssi_addr
    } else if by_signal && signo == libc::SIGCHLD {
        put32(&mut o, 12, get_i32(b, 16)); // ssi_pid
        put32(&mut o, 16, get_i32(b, 20)); // ssi_uid
        put32(&mut o, 40, get_i32(b, 24)); // ssi_status
        put64(&mut o, 56, get_u64(b, 32)); // ssi_utime
        put64(&mut o, 64, get_u64(b, 40)); // ssi_stime
    } else if (by_signal && signo == libc::SIGIO) || code == SI_SIGIO {
        put32(&mut o, 28, get_u64(b, 16) as i32); // ssi_band
        put32(&mut o, 20, get_i32(b, 24)); // ssi_fd
    } else if code == SI_TIMER {
        put32(&mut o, 24, get_i32(b, 16)); // ssi_tid
        put32(&mut o, 32, get_i32(b, 20)); // ssi_overrun
        put64(&mut o, 48, get_u64(b, 24)); // ssi_ptr
        put32(&mut o, 44, get_i32(b, 24)); // ssi_int
    } else {
        put32(&mut o, 12, get_i32(b, 16)); // ssi_pid
        put32(&mut o, 16, get_i32(b, 20)); // ssi_uid
        if code < 0 {
            put64(&mut o, 48, get_u64(b, 24)); // ssi_ptr
            put32(&mut o, 44, get_i32(b, 24)); // ssi_int
        }
    }
    o
}

impl SignalFd {
    fn mask(&self) -> u64 {
        *self.mask.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the mask (signalfd(2) on an existing signalfd); SIGKILL/SIGSTOP are dropped.
    pub fn set_mask(&self, mask: u64) {
        *self.mask.lock().unwrap_or_else(|p| p.into_inner()) = mask & !UNBLOCKABLE;
    }

    /// The signalfd behind `file`, if it is one.
    pub fn of(file: &FileDescription) -> Option<&SignalFd> {
        file.ops_as::<SignalFd>()
    }
}

impl FileOps for SignalFd {
    fn positioning(&self) -> Positioning {
        Positioning::Stream
    }
    fn read_stream(&self, task: TaskRef, buf: &mut [u8]) -> SysResult<usize> {
        self.read_with_flags(task, buf, 0)
    }
    fn write_stream(&self, _task: TaskRef, _buf: &[u8]) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    fn read_with_flags(&self, task: TaskRef, buf: &mut [u8], flags: i32) -> SysResult<usize> {
        if buf.len() < SIGNALFD_SIGINFO_SIZE {
            return Err(Errno::EINVAL);
        }
        let view = task.map_or_else(|| self.view.clone(), PendingView::of);
        loop {
            let mut n = 0;
            for rec in buf.chunks_exact_mut(SIGNALFD_SIGINFO_SIZE) {
                let Some(info) = view.take(self.mask()) else {
                    break;
                };
                rec.copy_from_slice(&signalfd_siginfo(&info));
                n += SIGNALFD_SIGINFO_SIZE;
            }
            if n > 0 {
                return Ok(n);
            }
            let Some(t) = task.filter(|_| flags & libc::O_NONBLOCK == 0) else {
                return Err(Errno::EAGAIN);
            };
            block_until(t, None, || view.pending() & self.mask() != 0)?;
        }
    }
    fn write_with_flags(&self, _task: TaskRef, _buf: &[u8], _flags: i32) -> SysResult<usize> {
        Err(Errno::EINVAL)
    }
    fn stat(&self) -> Option<SysResult<Stat>> {
        Some(Ok(anon_stat()))
    }
    fn supports_poll(&self) -> bool {
        true
    }
    fn readiness(&self, _mask: u32) -> u32 {
        if self.view.pending() & self.mask() != 0 {
            (libc::POLLIN | libc::POLLRDNORM) as u32
        } else {
            0
        }
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// signalfd4(2) with fd -1: a new signalfd for `mask` watching `view`'s pending sets; `flags`
/// may hold O_NONBLOCK and O_CLOEXEC (the caller's). EINVAL for other bits.
pub fn new_signalfd(view: PendingView, mask: u64, flags: i32) -> SysResult<Arc<FileDescription>> {
    if flags & !(libc::O_NONBLOCK | libc::O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let sfd = Arc::new(SignalFd {
        mask: Mutex::new(mask & !UNBLOCKABLE),
        view,
    });
    let dentry = Dentry::anonymous(b"anon_inode:[signalfd]".to_vec(), Arc::new(AnonInode));
    Ok(FileDescription::new(
        dentry,
        sfd,
        libc::O_RDWR | (flags & libc::O_NONBLOCK),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::signal::SI_TKILL;

    #[test]
    fn converts_kill_and_tkill_records() {
        let info = SigInfo::from_sender(libc::SIGUSR1, SI_TKILL, 42, 1000);
        let o = signalfd_siginfo(&info);
        assert_eq!(get_i32(&o, 0), libc::SIGUSR1);
        assert_eq!(get_i32(&o, 8), SI_TKILL);
        assert_eq!(get_i32(&o, 12), 42);
        assert_eq!(get_i32(&o, 16), 1000);
        let fault = SigInfo::fault(libc::SIGSEGV, 1, 0xdead);
        assert_eq!(get_u64(&signalfd_siginfo(&fault), 72), 0xdead);
    }

    #[test]
    fn mask_drops_unblockable_and_flags_are_checked() {
        let view = PendingView::detached();
        let f = new_signalfd(view.clone(), u64::MAX, libc::O_NONBLOCK).unwrap();
        let s = SignalFd::of(&f).unwrap();
        assert_eq!(s.mask() & UNBLOCKABLE, 0);
        s.set_mask(1 << (libc::SIGKILL - 1));
        assert_eq!(s.mask(), 0);
        assert_eq!(f.readiness(libc::POLLIN as u32), 0);
        let mut buf = [0u8; 128];
        assert_eq!(f.read_inner(None, &mut buf), Err(Errno::EAGAIN));
        assert_eq!(f.read_inner(None, &mut buf[..64]), Err(Errno::EINVAL));
        assert!(new_signalfd(view, 0, 0x4).is_err());
        assert_eq!(f.path(), b"anon_inode:[signalfd]".to_vec());
    }
}
