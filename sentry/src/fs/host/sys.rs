//! Raw ioctl(2) calls on host terminal fds given to the sandbox (tty_ioctl(4)): the termios and
//! window-size requests whose argument is a pointer, and the ones that take an int by value.

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::{Errno, SysResult};

fn result(r: libc::c_int) -> SysResult<i32> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// ioctl(2) that reads its argument from `arg` (TCSETS*, TIOCSWINSZ).
pub fn ioctl_in(fd: BorrowedFd<'_>, req: u32, arg: &[u8]) -> SysResult<i32> {
    // SAFETY: the kernel only reads from `arg`, a live buffer that the caller sized to what
    // `req` reads (struct termios or struct winsize); `fd` is valid for the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::c_ulong::from(req), arg.as_ptr()) };
    result(r)
}

/// ioctl(2) that writes its result into `arg` (TCGETS, TIOCGWINSZ, FIONREAD).
pub fn ioctl_out(fd: BorrowedFd<'_>, req: u32, arg: &mut [u8]) -> SysResult<i32> {
    // SAFETY: `arg` is a live, exclusively borrowed buffer that the caller sized to what `req`
    // writes; the kernel writes only inside it. `fd` is valid for the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::c_ulong::from(req), arg.as_mut_ptr()) };
    result(r)
}

/// ioctl(2) whose argument is an int passed by value (TCSBRK, TCFLSH, TCXONC).
pub fn ioctl_int(fd: BorrowedFd<'_>, req: u32, arg: libc::c_int) -> SysResult<i32> {
    // SAFETY: for these requests the kernel uses the argument as a plain integer and touches no
    // memory of ours; `fd` is valid for the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::c_ulong::from(req), arg) };
    result(r)
}
