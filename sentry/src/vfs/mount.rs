//! mount(2) and umount2(2) from inside the sandbox (after Linux `fs/namespace.c`: `path_mount`,
//! `do_new_mount`, `do_loopback`, `do_remount`, `do_reconfigure_mnt`, `change_mnt_propagation`,
//! `do_umount`). The sandbox is one mount namespace, private to it: no mount ever reaches
//! the host, and propagation types have no peers to propagate to.
//!
//! Supported: new tmpfs (mode=, uid=, gid=; size= and nr_inodes= are accepted and not
//! enforced), proc and sysfs instances; bind mounts of a directory or file (MS_BIND, without
//! the mounts below the source even with MS_REC); MS_REMOUNT, with or without MS_BIND, to
//! switch MS_RDONLY; propagation changes (MS_SHARED, MS_PRIVATE, MS_SLAVE, MS_UNBINDABLE),
//! which check the target and change nothing; mounts stacked on one place. Not supported:
//! MS_MOVE and mounting over the root (EINVAL); MS_NOSUID, MS_NODEV and MS_NOEXEC are
//! accepted but not enforced. umount2 refuses a mount with mounts below it (EBUSY) unless
//! MNT_DETACH; open files and working directories below a mount do not make it busy.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::kernel::Task;
use crate::vfs::inode::{Inode, SetAttr};
use crate::vfs::{anon_dev, Dentry, Vfs};
use crate::{Errno, SysResult};

/// mount(2) flags (`include/uapi/linux/mount.h`).
pub const MS_RDONLY: u64 = 1;
pub const MS_NOSUID: u64 = 2;
pub const MS_NODEV: u64 = 4;
pub const MS_NOEXEC: u64 = 8;
pub const MS_REMOUNT: u64 = 32;
pub const MS_BIND: u64 = 4096;
pub const MS_MOVE: u64 = 8192;
pub const MS_REC: u64 = 16384;
pub const MS_UNBINDABLE: u64 = 1 << 17;
pub const MS_PRIVATE: u64 = 1 << 18;
pub const MS_SLAVE: u64 = 1 << 19;
pub const MS_SHARED: u64 = 1 << 20;
const PROPAGATION: u64 = MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED;
/// The magic number old callers put in the top half (`MS_MGC_VAL`), ignored as Linux does.
const MS_MGC_MSK: u64 = 0xffff_0000;
const MS_MGC_VAL: u64 = 0xc0ed_0000;

/// umount2(2) flags.
pub const MNT_FORCE: i32 = 1;
pub const MNT_DETACH: i32 = 2;
pub const MNT_EXPIRE: i32 = 4;
pub const UMOUNT_NOFOLLOW: i32 = 8;

/// CAP_SYS_ADMIN.
const CAP_SYS_ADMIN: u32 = 21;

/// Device minors of the filesystems mounted from inside the sandbox.
static NEXT_MINOR: AtomicU64 = AtomicU64::new(0x100);

/// What mount(2) was asked, its strings already read from the application.
pub struct MountRequest<'a> {
    pub source: Option<&'a [u8]>,
    pub target: &'a [u8],
    pub fs_type: Option<&'a [u8]>,
    pub flags: u64,
    pub data: Option<&'a [u8]>,
}

fn is_mount_root(d: &Dentry) -> bool {
    Arc::ptr_eq(&d.mount.root, &d.inode)
}

impl Vfs {
    /// mount(2).
    pub fn mount_request(&self, task: &Task, req: &MountRequest) -> SysResult<()> {
        let mut flags = req.flags;
        if flags & MS_MGC_MSK == MS_MGC_VAL {
            flags &= !MS_MGC_MSK;
        }
        // Linux looks the target up first, then checks the capability (`path_mount`).
        let target = self.lookup_at(task, libc::AT_FDCWD, req.target, true, false)?;
        if !task.creds.has_cap(CAP_SYS_ADMIN) {
            return Err(Errno::EPERM);
        }
        if flags & MS_REMOUNT != 0 {
            return self.remount(&target, flags);
        }
        if flags & MS_BIND != 0 {
            let source = req.source.ok_or(Errno::EFAULT)?;
            return self.bind(task, source, &target, flags);
        }
        if flags & PROPAGATION != 0 {
            // Exactly one propagation type, on a mount point.
            if (flags & PROPAGATION).count_ones() != 1 || !is_mount_root(&target) {
                return Err(Errno::EINVAL);
            }
            return Ok(());
        }
        if flags & MS_MOVE != 0 {
            return Err(Errno::EINVAL);
        }
        let fs_type = req.fs_type.ok_or(Errno::EINVAL)?;
        let (root, name) = new_filesystem(fs_type, req.data.unwrap_or_default())?;
        self.graft(&target, root, flags & MS_RDONLY != 0, name)
    }

    /// Mounts `root` on `target` after Linux's checks: not over the root, a directory only
    /// over a directory.
    fn graft(
        &self,
        target: &Arc<Dentry>,
        root: Arc<dyn Inode>,
        readonly: bool,
        fs_type: &'static str,
    ) -> SysResult<()> {
        if target.parent.is_none() {
            // Over the sandbox's root (pivot_root territory): not supported.
            return Err(Errno::EINVAL);
        }
        let root_is_dir = root.stat(None)?.is_dir();
        if target.inode.stat(None)?.is_dir() != root_is_dir {
            return Err(Errno::ENOTDIR);
        }
        self.mount_at(target, root, readonly, fs_type)
    }

    /// MS_BIND: the files at `source` mounted again at `target`.
    fn bind(&self, task: &Task, source: &[u8], target: &Arc<Dentry>, flags: u64) -> SysResult<()> {
        let src = self.lookup_at(task, libc::AT_FDCWD, source, true, false)?;
        // Linux ignores MS_RDONLY on the bind itself: read-only takes a remount.
        let _ = flags;
        self.graft(target, src.inode.clone(), false, src.mount.fs_type)
    }

    /// MS_REMOUNT (with MS_BIND: the mount's own flags; without: the filesystem's, which for
    /// the sandbox is the same read-only switch), on a mount point only.
    fn remount(&self, target: &Arc<Dentry>, flags: u64) -> SysResult<()> {
        if !is_mount_root(target) {
            return Err(Errno::EINVAL);
        }
        let readonly = flags & MS_RDONLY != 0;
        target.mount.set_readonly(readonly);
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = records.iter_mut().rev().find(|r| r.id == target.mount.id) {
            r.readonly = readonly;
        }
        Ok(())
    }

    /// umount2(2).
    pub fn umount(&self, task: &Task, target: &[u8], flags: i32) -> SysResult<()> {
        if flags & !(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW) != 0
            || (flags & MNT_EXPIRE != 0 && flags & (MNT_FORCE | MNT_DETACH) != 0)
        {
            return Err(Errno::EINVAL);
        }
        let follow = flags & UMOUNT_NOFOLLOW == 0;
        let d = self.lookup_at(task, libc::AT_FDCWD, target, follow, false)?;
        if !task.creds.has_cap(CAP_SYS_ADMIN) {
            return Err(Errno::EPERM);
        }
        if !is_mount_root(&d) || d.mount.id <= 1 {
            return Err(Errno::EINVAL);
        }
        if flags & MNT_EXPIRE != 0 {
            // Expiry marks a mount on the first call and takes it on a later one if unused;
            // the sandbox cannot tell use, so it never expires one (Linux's answer for a busy
            // mount).
            return Err(Errno::EAGAIN);
        }
        let id = d.mount.id;
        let has_children = self
            .submounts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .any(|k| k.0 == id);
        if has_children && flags & MNT_DETACH == 0 {
            return Err(Errno::EBUSY);
        }
        // This mount goes, and with MNT_DETACH the whole subtree under it.
        let gone = self.detach_subtree(id);
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|r| !gone.contains(&r.id));
        Ok(())
    }
}

/// A new filesystem instance of type `name` configured by `data` (comma-separated options).
fn new_filesystem(name: &[u8], data: &[u8]) -> SysResult<(Arc<dyn Inode>, &'static str)> {
    let minor = NEXT_MINOR.fetch_add(1, Ordering::Relaxed);
    match name {
        b"tmpfs" => {
            let opts = TmpfsOptions::parse(data)?;
            let root = crate::fs::tmpfs::new_root(anon_dev(minor), opts.mode);
            if opts.uid.is_some() || opts.gid.is_some() {
                root.setattr(&SetAttr {
                    uid: opts.uid,
                    gid: opts.gid,
                    ..SetAttr::default()
                })?;
            }
            Ok((root, "tmpfs"))
        }
        b"proc" => Ok((crate::fs::proc::new_root(anon_dev(minor)), "proc")),
        b"sysfs" => Ok((crate::fs::sysfs::new_root(anon_dev(minor)), "sysfs")),
        b"mqueue" => Ok((crate::fs::mqueue::new_root(), "mqueue")),
        _ => Err(Errno::ENODEV),
    }
}

/// tmpfs's mount options that the sandbox honours.
#[derive(Debug, PartialEq, Eq)]
struct TmpfsOptions {
    mode: u32,
    uid: Option<u32>,
    gid: Option<u32>,
}

impl TmpfsOptions {
    /// Parses `mode=`, `uid=`, `gid=` (and accepts `size=`, `nr_blocks=`, `nr_inodes=`,
    /// `huge=`, `noswap`); anything else is EINVAL, as tmpfs says.
    fn parse(data: &[u8]) -> SysResult<TmpfsOptions> {
        let mut o = TmpfsOptions {
            mode: 0o1777,
            uid: None,
            gid: None,
        };
        let text = std::str::from_utf8(data).map_err(|_| Errno::EINVAL)?;
        for opt in text
            .trim_end_matches('\0')
            .split(',')
            .filter(|s| !s.is_empty())
        {
            let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
            let num = |radix| u32::from_str_radix(value, radix).map_err(|_| Errno::EINVAL);
            match key {
                "mode" => o.mode = num(8)? & 0o7777,
                "uid" => o.uid = Some(num(10)?),
                "gid" => o.gid = Some(num(10)?),
                "size" | "nr_blocks" | "nr_inodes" | "huge" | "noswap" | "mpol" => {}
                _ => return Err(Errno::EINVAL),
            }
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_options() {
        assert_eq!(
            TmpfsOptions::parse(b"size=1m,mode=755,uid=5,gid=6").unwrap(),
            TmpfsOptions {
                mode: 0o755,
                uid: Some(5),
                gid: Some(6)
            }
        );
        assert_eq!(TmpfsOptions::parse(b"").unwrap().mode, 0o1777);
        assert_eq!(TmpfsOptions::parse(b"bogus=1"), Err(Errno::EINVAL));
        assert_eq!(TmpfsOptions::parse(b"mode=9"), Err(Errno::EINVAL));
    }

    #[test]
    fn unknown_filesystems_are_enodev() {
        assert_eq!(new_filesystem(b"ext4", b"").err(), Some(Errno::ENODEV));
        assert_eq!(new_filesystem(b"tmpfs", b"").unwrap().1, "tmpfs");
    }
}
