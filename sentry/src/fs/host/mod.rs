//! Host files given to the sandbox: its stdio (after gVisor's `pkg/sentry/fsimpl/host`). Reads
//! and writes go straight to the host fd, which keeps its own position; fstat is the host's;
//! only TCGETS, TIOCGWINSZ, TIOCGPGRP and FIONREAD reach the host, other ioctls are ENOTTY.

use std::any::Any;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use crate::fs::sys;
use crate::vfs::{Dentry, FileDescription, FileOps, Inode, Positioning, Stat, StatFs, TaskRef};
use crate::{Errno, SysResult};

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
}

impl HostFile {
    fn host_stat(&self) -> SysResult<Stat> {
        Ok(Stat::from_libc(&sys::fstat(self.fd.as_fd())?))
    }
}

impl FileOps for HostFile {
    fn positioning(&self) -> Positioning {
        Positioning::Host
    }
    fn read_at(&self, _task: TaskRef, buf: &mut [u8], offset: u64) -> SysResult<usize> {
        sys::pread(self.fd.as_fd(), buf, offset)
    }
    fn write_at(&self, _task: TaskRef, buf: &[u8], offset: u64) -> SysResult<usize> {
        sys::pwrite(self.fd.as_fd(), buf, offset)
    }
    fn read_stream(&self, _task: TaskRef, buf: &mut [u8]) -> SysResult<usize> {
        sys::read(self.fd.as_fd(), buf)
    }
    fn write_stream(&self, _task: TaskRef, buf: &[u8]) -> SysResult<usize> {
        sys::write(self.fd.as_fd(), buf)
    }
    fn seek(&self, offset: i64, whence: i32) -> SysResult<u64> {
        sys::lseek(self.fd.as_fd(), offset, whence)
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
                let r = sys::ioctl_buf(self.fd.as_fd(), req, &mut arg[..n])?;
                Ok(u64::try_from(r).unwrap_or(0))
            }
            Some(_) => Err(Errno::EFAULT),
            None => Err(Errno::ENOTTY),
        }
    }
    fn truncate(&self, size: u64) -> SysResult<()> {
        sys::ftruncate(self.fd.as_fd(), size)
    }
    fn sync(&self) -> SysResult<()> {
        sys::fsync(self.fd.as_fd()).or(Ok(()))
    }
    fn supports_poll(&self) -> bool {
        // Regular host files have no poll operation on Linux either.
        self.host_stat().is_ok_and(|s| !s.is_reg() && !s.is_dir())
    }
    fn readiness(&self, mask: u32) -> u32 {
        // No wait queue: pollers re-check host fds in short slices (vfs::poll).
        sys::poll_now(self.fd.as_fd(), mask).unwrap_or(libc::POLLERR as u32)
    }
    fn host_fd_for_mmap(&self) -> SysResult<Arc<OwnedFd>> {
        if self.host_stat()?.is_reg() {
            Ok(self.fd.clone())
        } else {
            Err(Errno::ENODEV)
        }
    }
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
            (136..=143, m) => format!("/dev/pts/{m}").into_bytes(),
            (ma, mi) => format!("/dev/char/{ma}:{mi}").into_bytes(),
        },
        _ => format!("host:[{}]", st.ino).into_bytes(),
    }
}

/// A file description for a host fd given to the sandbox as its fd `n` (0-2), opened read-write
/// (the host enforces the real access mode).
pub fn stdio_file(fd: OwnedFd, _n: i32) -> Arc<FileDescription> {
    let file = Arc::new(HostFile { fd: Arc::new(fd) });
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
