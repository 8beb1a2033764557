//! Host calls of System V shared memory: the host memfd that backs a segment (as tmpfs and
//! memfd files are backed, see `fs::tmpfs`).

use std::os::fd::OwnedFd;

use nix::sys::memfd::{memfd_create, MemFdCreateFlag};

use crate::{Errno, SysResult};

/// A host memfd of `size` bytes (zero-filled), close-on-exec. ENOMEM if the host refuses.
pub fn segment_memfd(size: u64) -> SysResult<OwnedFd> {
    let fd = memfd_create(c"sysv-shm", MemFdCreateFlag::MFD_CLOEXEC).map_err(|_| Errno::ENOMEM)?;
    let len = i64::try_from(size).map_err(|_| Errno::EINVAL)?;
    nix::unistd::ftruncate(&fd, len).map_err(|_| Errno::ENOMEM)?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memfd_has_the_size() {
        let fd = segment_memfd(8192).unwrap();
        let st = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&fd)).unwrap();
        assert_eq!(st.st_size, 8192);
    }
}
