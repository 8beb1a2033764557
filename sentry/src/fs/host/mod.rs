//! Host files given to the sandbox: its stdio (after gVisor's `pkg/sentry/fsimpl/host`). Reads
//! and writes go straight to the host fd, which keeps its own position; fstat is the host's;
//! only TCGETS, TIOCGWINSZ, TIOCGPGRP and FIONREAD reach the host, other ioctls are ENOTTY.
//! A host terminal is a [`tty::HostTty`] as well: see `tty.rs` for its ioctls and job control.

use std::any::Any;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use crate::fs::sys as fs_sys;
use crate::kernel::Task;
use crate::vfs::{Dentry, FileDescription, FileOps, Inode, Positioning, Stat, StatFs, TaskRef};
use crate::{Errno, SysResult};

mod sys;
pub mod tty;

pub use tty::HostTty;

/// ioctl numbers (include/uapi/asm-generic/ioctls.h) and their argument sizes.
pub const TCGETS: u32 = 0x5401;
pub const TIOCGPGRP: u32 = 0x540f;
pub const TIOCGWINSZ: u32 = 0x5413;
pub const FIONREAD: u32 = 0x541b;
/// `sizeof(struct termios)` as the kernel copies it for TCGETS.
pub const TERMIOS_SIZE: usize = 36;
/// `sizeof(struct winsize)`.
pub const WINSIZE_SIZE: usize = 8;

/// The argument size of an ioctl the host path passes through, or None if it does not.
pub fn ioctl_arg_size(req: u32) -> Option<usize> {
    match req {
        TCGETS => Some(TERMIOS_SIZE),
        TIOCGWINSZ => Some(WINSIZE_SIZE),
        TIOCGPGRP | FIONREAD => Some(4),
        _ => None,
    }
}

/// One host file.
pub struct HostFile {
    fd: Arc<OwnedFd>,
    /// Set when the host fd is a terminal.
    tty: Option<Arc<HostTty>>,
}

impl HostFile {
    /// The terminal this file is, if it is one.
    pub fn tty(&self) -> Option<&Arc<HostTty>> {
        self.tty.as_ref()
    }

    fn host_stat(&self) -> SysResult<Stat> {
        Ok(Stat::from_libc(&fs_sys::fstat(self.fd.as_fd())?))
    }

    /// Waits until the host fd is ready for `mask` (or hung up), in short host polls between
    /// which the task's signals are seen: a task blocked on a host pipe or terminal that the
    /// other side never feeds must still die of SIGKILL and be interrupted by a handled signal
    /// (EINTR, restarted per SA_RESTART by the syscall layer). Without a task, the host call
    /// simply blocks.
    fn wait_ready(&self, task: TaskRef, mask: u32) -> SysResult<()> {
        if task.is_none() {
            return Ok(());
        }
        crate::vfs::poll::wait_host_ready(self.fd.as_fd(), mask, task, None)
    }
}

impl FileOps for HostFile {
    fn positioning(&self) -> Positioning {
        Positioning::Host
    }
    fn read_at(&self, _task: TaskRef, buf: &mut [u8], offset: u64) -> SysResult<usize> {
        fs_sys::pread(self.fd.as_fd(), buf, offset)
    }
    fn write_at(&self, _task: TaskRef, buf: &[u8], offset: u64) -> SysResult<usize> {
        fs_sys::pwrite(self.fd.as_fd(), buf, offset)
    }
    fn read_stream(&self, task: TaskRef, buf: &mut [u8]) -> SysResult<usize> {
        self.wait_ready(task, libc::POLLIN as u32)?;
        fs_sys::read(self.fd.as_fd(), buf)
    }
    fn write_stream(&self, task: TaskRef, buf: &[u8]) -> SysResult<usize> {
        self.wait_ready(task, libc::POLLOUT as u32)?;
        fs_sys::write(self.fd.as_fd(), buf)
    }
    fn seek(&self, offset: i64, whence: i32) -> SysResult<u64> {
        fs_sys::lseek(self.fd.as_fd(), offset, whence)
    }
    fn size(&self) -> Option<SysResult<u64>> {
        Some(self.host_stat().map(|s| u64::try_from(s.size).unwrap_or(0)))
    }
    fn stat(&self) -> Option<SysResult<Stat>> {
        Some(self.host_stat())
    }
    fn ioctl(&self, req: u32, arg: &mut [u8]) -> SysResult<u64> {
        match ioctl_arg_size(req) {
            Some(n) if arg.len() >= n => {
                let r = fs_sys::ioctl_buf(self.fd.as_fd(), req, &mut arg[..n])?;
                Ok(u64::try_from(r).unwrap_or(0))
            }
            Some(_) => Err(Errno::EFAULT),
            None => Err(Errno::ENOTTY),
        }
    }
    fn truncate(&self, size: u64) -> SysResult<()> {
        fs_sys::ftruncate(self.fd.as_fd(), size)
    }
    fn sync(&self) -> SysResult<()> {
        fs_sys::fsync(self.fd.as_fd()).or(Ok(()))
    }
    fn supports_poll(&self) -> bool {
        // Regular host files have no poll operation on Linux either.
        self.host_stat().is_ok_and(|s| !s.is_reg() && !s.is_dir())
    }
    fn readiness(&self, mask: u32) -> u32 {
        // No wait queue: pollers re-check host fds in short slices (vfs::poll).
        fs_sys::poll_now(self.fd.as_fd(), mask).unwrap_or(libc::POLLERR as u32)
    }
    fn host_fd_for_mmap(&self) -> SysResult<Arc<OwnedFd>> {
        if self.host_stat()?.is_reg() {
            Ok(self.fd.clone())
        } else {
            Err(Errno::ENODEV)
        }
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// ioctl(2) `req` with application argument `arg` by `t` on `file`, when `file` is a host
/// terminal (None otherwise: the caller goes on with the generic path).
pub fn tty_ioctl(t: &Task, file: &FileDescription, req: u32, arg: u64) -> Option<SysResult<u64>> {
    let host = file.ops_as::<HostFile>()?;
    let tty = host.tty.as_ref()?;
    Some(tty.ioctl(t, &host.fd, req, arg))
}

/// The operations of a new open of terminal `tty` (/dev/tty, /dev/pts/N): its host fd.
pub fn tty_ops(tty: &Arc<HostTty>) -> Arc<dyn FileOps> {
    Arc::new(HostFile {
        fd: tty.host_fd(),
        tty: Some(tty.clone()),
    })
}

/// The host stat of terminal `tty` (what /dev/pts/N shows, so that ttyname(3) finds it).
pub fn tty_stat(tty: &HostTty) -> SysResult<Stat> {
    Ok(Stat::from_libc(&fs_sys::fstat(tty.host_fd().as_fd())?))
}

/// The inode of a host file (reopening it through /proc/self/fd/N shares the host fd).
pub struct HostInode {
    file: Arc<HostFile>,
}

impl Inode for HostInode {
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
        self.file.host_stat()
    }
    fn open(&self, _task: TaskRef, _flags: i32) -> SysResult<Arc<dyn FileOps>> {
        Ok(self.file.clone())
    }
    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(0x6165_676c)) // "anon_inode"-like: no host statfs is exposed.
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The name Linux shows for a file of this kind in /proc/PID/fd.
fn display_name(st: &Stat) -> Vec<u8> {
    match st.file_type() {
        libc::S_IFIFO => format!("pipe:[{}]", st.ino).into_bytes(),
        libc::S_IFSOCK => format!("socket:[{}]", st.ino).into_bytes(),
        libc::S_IFCHR => match (libc::major(st.rdev), libc::minor(st.rdev)) {
            (1, 3) => b"/dev/null".to_vec(),
            (5, 0) => b"/dev/tty".to_vec(),
            (136..=143, m) => {
                // The sandbox's number for a terminal it holds (its devpts instance's).
                let n = tty::sandbox_number(st.rdev).unwrap_or(m);
                format!("/dev/pts/{n}").into_bytes()
            }
            (ma, mi) => format!("/dev/char/{ma}:{mi}").into_bytes(),
        },
        _ => format!("host:[{}]", st.ino).into_bytes(),
    }
}

/// A file description for a host fd given to the sandbox as its fd `n` (0-2), opened read-write
/// (the host enforces the real access mode). A terminal becomes the controlling terminal of
/// init's session (1), as it is for a container's init.
pub fn stdio_file(fd: OwnedFd, n: i32) -> Arc<FileDescription> {
    stdio_file_in_session(fd, n, Some(1))
}

/// [`stdio_file`] for a process of sandbox session `session`: a terminal not yet known to the
/// sentry becomes that session's controlling terminal, with the session's leader group in the
/// foreground (`runsc exec --tty`: the new process leads its own session). None: no session.
pub fn stdio_file_in_session(fd: OwnedFd, _n: i32, session: Option<i32>) -> Arc<FileDescription> {
    let fd = Arc::new(fd);
    let tty = match fs_sys::fstat(fd.as_fd()) {
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFCHR && tty::host_isatty(fd.as_fd()) => {
            Some(tty::attach(&fd, st.st_rdev, session))
        }
        _ => None,
    };
    let file = Arc::new(HostFile { fd, tty });
    let name = file
        .host_stat()
        .map(|s| display_name(&s))
        .unwrap_or_else(|_| b"host:[0]".to_vec());
    let inode = Arc::new(HostInode { file: file.clone() });
    FileDescription::new(Dentry::anonymous(name, inode), file, libc::O_RDWR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_pipe_reads_and_writes_through() {
        let (r, w) = nix::unistd::pipe().unwrap();
        let rf = stdio_file(r, 0);
        let wf = stdio_file(w, 1);
        assert_eq!(wf.write_inner(None, b"abc").unwrap(), 3);
        let mut b = [0u8; 8];
        assert_eq!(rf.read_inner(None, &mut b).unwrap(), 3);
        assert_eq!(&b[..3], b"abc");
        assert!(rf.path().starts_with(b"pipe:["));
        assert_eq!(rf.stat_vfs(None).unwrap().file_type(), libc::S_IFIFO);
        let mut arg = [0u8; 8];
        assert_eq!(rf.ioctl(TIOCGWINSZ, &mut arg), Err(Errno::ENOTTY));
        assert_eq!(rf.ioctl(0x1234, &mut arg), Err(Errno::ENOTTY));
        let mut n = [0u8; 4];
        wf.write_inner(None, b"xy").unwrap();
        rf.ioctl(FIONREAD, &mut n).unwrap();
        assert_eq!(i32::from_ne_bytes(n), 2);
        assert!(rf.supports_poll());
        let pollin = libc::POLLIN as u32;
        assert_eq!(rf.readiness(pollin), pollin);
        let mut b = [0u8; 8];
        rf.read_inner(None, &mut b).unwrap();
        assert_eq!(rf.readiness(pollin), 0);
    }
}
