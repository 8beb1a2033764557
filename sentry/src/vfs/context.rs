//! A task's filesystem context (after gVisor's `pkg/sentry/kernel/fs_context.go`; Linux
//! `struct fs_struct` in `include/linux/fs_struct.h`): root, working directory and umask.
//!
//! Lock order: one mutex over root and cwd; the umask is atomic.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::vfs::dentry::Dentry;
use crate::vfs::walk::Resolver;
use crate::vfs::Vfs;
use crate::{Errno, SysResult};

struct Dirs {
    root: Arc<Dentry>,
    cwd: Arc<Dentry>,
}

/// A task's root, working directory and umask.
pub struct FsContext {
    dirs: Mutex<Dirs>,
    umask: AtomicU32,
}

impl FsContext {
    /// Root at the sandbox root, working directory at `cwd` (ENOENT/ENOTDIR if it is not a
    /// directory), umask 022.
    pub fn new(vfs: &Arc<Vfs>, cwd: &[u8]) -> SysResult<FsContext> {
        let root = vfs.root();
        let r = Resolver {
            vfs,
            task: None,
            root: root.clone(),
        };
        let path: &[u8] = if cwd.is_empty() { b"/" } else { cwd };
        let d = r.resolve(root.clone(), path, true)?;
        if !d.inode.stat(None)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(FsContext {
            dirs: Mutex::new(Dirs { root, cwd: d }),
            umask: AtomicU32::new(0o022),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Dirs> {
        self.dirs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy for fork/clone without CLONE_FS.
    pub fn fork(&self) -> FsContext {
        let d = self.lock();
        FsContext {
            dirs: Mutex::new(Dirs {
                root: d.root.clone(),
                cwd: d.cwd.clone(),
            }),
            umask: AtomicU32::new(self.umask()),
        }
    }

    pub fn root(&self) -> Arc<Dentry> {
        self.lock().root.clone()
    }
    pub fn cwd(&self) -> Arc<Dentry> {
        self.lock().cwd.clone()
    }
    /// chdir: the caller has checked that `d` is a searchable directory.
    pub fn set_cwd(&self, d: Arc<Dentry>) {
        self.lock().cwd = d;
    }
    /// chroot: the caller has checked that `d` is a searchable directory. The working
    /// directory stays where it is, even outside the new root, as on Linux.
    pub fn set_root(&self, d: Arc<Dentry>) {
        self.lock().root = d;
    }
    /// Absolute sandbox path of the working directory.
    pub fn cwd_path(&self) -> Vec<u8> {
        self.cwd().path()
    }
    /// The working directory as getcwd(2) shows it: relative to the root (chroot), with
    /// "(unreachable)" in front when it lies outside.
    pub fn cwd_path_in_root(&self) -> Vec<u8> {
        let d = self.lock();
        d.cwd.path_from(&d.root)
    }
    pub fn umask(&self) -> u32 {
        self.umask.load(Ordering::Relaxed)
    }
    /// umask(2): sets the mask (low 9 bits), returns the old one.
    pub fn swap_umask(&self, mask: u32) -> u32 {
        self.umask.swap(mask & 0o777, Ordering::Relaxed)
    }
}
