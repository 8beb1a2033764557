//! pidfds (pidfd_open(2), clone(2)'s CLONE_PIDFD; Linux `kernel/pid.c` and `kernel/fork.c`'s
//! `pidfd_fops`): a file that names one process for its whole life, so a reused pid can never
//! be confused with it. It polls readable once the process has exited (all its threads gone);
//! read and write are EINVAL.

use std::any::Any;
use std::sync::Arc;

use crate::fs::eventfd::{anon_stat, AnonInode};
use crate::kernel::wait::WaitQueue;
use crate::kernel::ThreadGroup;
use crate::vfs::{Dentry, FileDescription, FileOps, Positioning, Stat};
use crate::SysResult;

/// One pidfd's target.
pub struct PidFd {
    tg: Arc<ThreadGroup>,
}

impl PidFd {
    /// The pidfd behind `file`, if it is one.
    pub fn of(file: &FileDescription) -> Option<&PidFd> {
        file.ops_as::<PidFd>()
    }

    /// The process this pidfd names (a zombie or a reaped one included).
    pub fn thread_group(&self) -> &Arc<ThreadGroup> {
        &self.tg
    }
}

impl FileOps for PidFd {
    fn positioning(&self) -> Positioning {
        Positioning::Stream
    }
    // read and write: the defaults' EINVAL.
    fn stat(&self) -> Option<SysResult<Stat>> {
        Some(Ok(anon_stat()))
    }
    fn supports_poll(&self) -> bool {
        true
    }
    fn readiness(&self, _mask: u32) -> u32 {
        if self.tg.has_exited() {
            (libc::POLLIN | libc::POLLRDNORM) as u32
        } else {
            0
        }
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.tg.exit_wait)
    }
    fn generation(&self, _mask: u32) -> u64 {
        u64::from(self.tg.has_exited())
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// A new pidfd for process `tg`; `flags` may hold O_NONBLOCK (PIDFD_NONBLOCK). The caller
/// installs it close-on-exec, as Linux always does.
pub fn new_pidfd(tg: Arc<ThreadGroup>, flags: i32) -> Arc<FileDescription> {
    let dentry = Dentry::anonymous(b"anon_inode:[pidfd]".to_vec(), Arc::new(AnonInode));
    FileDescription::new(
        dentry,
        Arc::new(PidFd { tg }),
        libc::O_RDWR | (flags & libc::O_NONBLOCK),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;

    #[test]
    fn readable_once_the_process_has_exited() {
        let tg = Arc::new(ThreadGroup::new(7, 1));
        let f = new_pidfd(tg.clone(), libc::O_NONBLOCK);
        assert_eq!(f.readiness(libc::POLLIN as u32), 0);
        let mut b = [0u8; 8];
        assert_eq!(f.read_inner(None, &mut b), Err(Errno::EINVAL));
        tg.mark_exited();
        assert_ne!(f.readiness(libc::POLLIN as u32) & libc::POLLIN as u32, 0);
        assert_eq!(PidFd::of(&f).map(|p| p.thread_group().pid), Some(7));
        assert_eq!(f.path(), b"anon_inode:[pidfd]".to_vec());
    }
}
