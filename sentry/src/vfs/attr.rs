//! Path and attribute operations with Linux's permission rules (after Linux `fs/attr.c`
//! `setattr_prepare`, `fs/open.c` `chmod_common`/`chown_common`, `fs/utimes.c`, `fs/namei.c`
//! `vfs_link`/`vfs_mknod`/`vfs_rename`/`may_delete`, `fs/xattr.c`): chmod, chown, utimes,
//! truncate, link, mknod, renameat2 and the xattr family, each checked against the caller's
//! filesystem identity (`Ctx::uid`/`gid` and the task's groups).

use std::sync::Arc;

use crate::vfs::inode::SetAttr;
use crate::vfs::{check_access, is_dot_or_dotdot, Ctx, Dentry, Stat, TaskRef, Timespec, Vfs};
use crate::{Errno, SysResult};

/// One time argument of utimensat(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeArg {
    /// UTIME_NOW (or a NULL times pointer).
    Now,
    /// UTIME_OMIT: leave it.
    Omit,
    Set(Timespec),
}

/// The caller's filesystem identity: (fsuid, fsgid, supplementary groups); root without a task.
fn ident(task: TaskRef) -> (u32, u32, Vec<u32>) {
    match task {
        Some(t) => (t.creds.fsuid, t.creds.fsgid, t.creds.groups.clone()),
        None => (0, 0, Vec::new()),
    }
}

fn in_group(task: TaskRef, gid: u32) -> bool {
    let (_, fsgid, groups) = ident(task);
    fsgid == gid || groups.contains(&gid)
}

fn is_owner_or_root(task: TaskRef, st: &Stat) -> bool {
    let (uid, _, _) = ident(task);
    uid == 0 || uid == st.uid
}

/// Linux `may_delete`'s sticky rule: in a sticky directory only the file's owner, the
/// directory's owner or root may remove or rename an entry.
pub fn check_sticky(task: TaskRef, dir: &Stat, victim: &Stat) -> SysResult<()> {
    let (uid, _, _) = ident(task);
    if dir.mode & libc::S_ISVTX != 0 && uid != 0 && uid != dir.uid && uid != victim.uid {
        return Err(Errno::EPERM);
    }
    Ok(())
}

fn writable_mount(d: &Dentry) -> SysResult<()> {
    if d.mount.readonly() {
        return Err(Errno::EROFS);
    }
    Ok(())
}

impl Vfs {
    /// chmod(2) of `d`: the owner or root only; a caller outside the file's group loses
    /// S_ISGID (Linux `setattr_prepare`).
    pub fn chmod(&self, task: TaskRef, d: &Dentry, mode: u32) -> SysResult<()> {
        let st = d.inode.stat(task)?;
        if st.is_symlink() {
            return Err(Errno::EOPNOTSUPP);
        }
        writable_mount(d)?;
        if !is_owner_or_root(task, &st) {
            return Err(Errno::EPERM);
        }
        let mut mode = mode & 0o7777;
        let (uid, _, _) = ident(task);
        if uid != 0 && !in_group(task, st.gid) {
            mode &= !libc::S_ISGID;
        }
        d.inode.setattr(&SetAttr {
            mode: Some(mode),
            ..Default::default()
        })
    }

    /// chown(2) of `d` (`None` leaves an id): changing the owner is root's; the owner may
    /// change the group to one of its own groups. A non-directory loses S_ISUID, and S_ISGID
    /// when group-executable.
    pub fn chown(
        &self,
        task: TaskRef,
        d: &Dentry,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> SysResult<()> {
        let st = d.inode.stat(task)?;
        writable_mount(d)?;
        let (me, _, _) = ident(task);
        if me != 0 {
            if uid.is_some_and(|u| u != st.uid) {
                return Err(Errno::EPERM);
            }
            if let Some(g) = gid {
                if me != st.uid || (g != st.gid && !in_group(task, g)) {
                    return Err(Errno::EPERM);
                }
            }
            if uid.is_some() && me != st.uid {
                return Err(Errno::EPERM);
            }
        }
        let mut attr = SetAttr {
            uid,
            gid,
            ..Default::default()
        };
        if !st.is_dir() && !st.is_symlink() {
            let mut mode = st.mode & 0o7777;
            mode &= !libc::S_ISUID;
            if mode & (libc::S_ISGID | libc::S_IXGRP) == libc::S_ISGID | libc::S_IXGRP {
                mode &= !libc::S_ISGID;
            }
            if mode != st.mode & 0o7777 {
                attr.mode = Some(mode);
            }
        }
        d.inode.setattr(&attr)
    }

    /// utimensat(2) of `d`: setting both to now needs ownership or write permission;
    /// any explicit time needs ownership.
    pub fn utimes(
        &self,
        task: TaskRef,
        d: &Dentry,
        atime: TimeArg,
        mtime: TimeArg,
    ) -> SysResult<()> {
        if atime == TimeArg::Omit && mtime == TimeArg::Omit {
            return Ok(());
        }
        let st = d.inode.stat(task)?;
        writable_mount(d)?;
        let explicit = matches!(atime, TimeArg::Set(_)) || matches!(mtime, TimeArg::Set(_));
        if !is_owner_or_root(task, &st) {
            if explicit {
                return Err(Errno::EPERM);
            }
            check_access(task, &st, libc::W_OK)?;
        }
        let now = Timespec::now();
        let pick = |t: TimeArg| match t {
            TimeArg::Now => Some(now),
            TimeArg::Omit => None,
            TimeArg::Set(ts) => Some(ts),
        };
        d.inode.setattr(&SetAttr {
            atime: pick(atime),
            mtime: pick(mtime),
            ..Default::default()
        })
    }

    /// truncate(2) of `d` to `size`: needs write permission on a regular file.
    pub fn truncate(&self, task: TaskRef, d: &Dentry, size: u64) -> SysResult<()> {
        let st = d.inode.stat(task)?;
        if st.is_dir() {
            return Err(Errno::EISDIR);
        }
        if !st.is_reg() {
            return Err(Errno::EINVAL);
        }
        writable_mount(d)?;
        check_access(task, &st, libc::W_OK)?;
        d.inode.setattr(&SetAttr {
            size: Some(size),
            ..Default::default()
        })
    }

    /// linkat(2): a new name `new` (in `nc`) for the file `target`.
    pub fn link_in(&self, nc: &Ctx, target: &Arc<Dentry>, new: &[u8]) -> SysResult<()> {
        // Linux's order (do_linkat, then vfs_link): the new name's ENOENT/EEXIST, EXDEV, the
        // directory's permissions, and only then EPERM for linking a directory.
        let r = self.resolver(nc);
        let pn = r.resolve_parent(nc.start.clone(), new)?;
        if pn.name.is_empty() || is_dot_or_dotdot(&pn.name) {
            return Err(Errno::EEXIST);
        }
        match r.lookup_child(&pn.parent, &pn.name) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        if pn.trailing_slash {
            return Err(Errno::ENOENT);
        }
        if pn.parent.mount.id != target.mount.id {
            return Err(Errno::EXDEV);
        }
        writable_mount(&pn.parent)?;
        check_access(
            nc.task,
            &pn.parent.inode.stat(nc.task)?,
            libc::W_OK | libc::X_OK,
        )?;
        if target.inode.stat(nc.task)?.is_dir() {
            return Err(Errno::EPERM);
        }
        pn.parent.inode.link(&pn.name, target.inode.as_ref())
    }

    /// open(2) with O_TMPFILE: an unnamed regular file in the directory `path`; `flags`
    /// must ask for writing. O_EXCL makes it unlinkable for good.
    pub fn open_tmpfile_in(
        &self,
        c: &Ctx,
        path: &[u8],
        flags: i32,
        mode: u32,
    ) -> SysResult<Arc<crate::vfs::FileDescription>> {
        let acc = flags & libc::O_ACCMODE;
        if acc != libc::O_WRONLY && acc != libc::O_RDWR {
            return Err(Errno::EINVAL);
        }
        let dir = self.lookup_in(c, path, true)?;
        let st = dir.inode.stat(c.task)?;
        if !st.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        writable_mount(&dir)?;
        check_access(c.task, &st, libc::W_OK | libc::X_OK)?;
        let m = mode & 0o7777 & !c.umask;
        let inode = dir
            .inode
            .tmpfile(m, c.uid, c.gid, flags & libc::O_EXCL == 0)?;
        let ino = inode.stat(c.task)?.ino;
        let name = format!("#{ino} (deleted)").into_bytes();
        let dentry = Dentry::child(&dir, &name, dir.mount.clone(), inode.clone());
        let ops = inode.open(c.task, flags)?;
        Ok(crate::vfs::FileDescription::new(
            dentry,
            ops,
            flags & !libc::O_DIRECTORY,
        ))
    }

    /// mknodat(2): regular files and FIFOs (`mode` carries the type; 0 means regular).
    pub fn mknod_in(&self, c: &Ctx, path: &[u8], mode: u32) -> SysResult<()> {
        let kind = match mode & libc::S_IFMT {
            0 | libc::S_IFREG => libc::S_IFREG,
            libc::S_IFIFO => libc::S_IFIFO,
            libc::S_IFCHR | libc::S_IFBLK | libc::S_IFSOCK => mode & libc::S_IFMT,
            libc::S_IFDIR => return Err(Errno::EPERM),
            _ => return Err(Errno::EINVAL),
        };
        let r = self.resolver(c);
        let pn = r.resolve_parent(c.start.clone(), path)?;
        if pn.name.is_empty() || is_dot_or_dotdot(&pn.name) {
            return Err(Errno::EEXIST);
        }
        match r.lookup_child(&pn.parent, &pn.name) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        writable_mount(&pn.parent)?;
        check_access(
            c.task,
            &pn.parent.inode.stat(c.task)?,
            libc::W_OK | libc::X_OK,
        )?;
        if kind != libc::S_IFREG && kind != libc::S_IFIFO {
            // Device and socket nodes: only root may make devices, and this sandbox makes
            // neither.
            return Err(Errno::EPERM);
        }
        let m = (mode & 0o7777 & !c.umask) | kind;
        pn.parent.inode.mknod(&pn.name, m, c.uid, c.gid).map(|_| ())
    }

    /// getxattr(2) of `d`: needs read permission.
    pub fn getxattr(&self, task: TaskRef, d: &Dentry, name: &[u8]) -> SysResult<Vec<u8>> {
        let st = d.inode.stat(task)?;
        if name.starts_with(b"user.") {
            check_access(task, &st, libc::R_OK)?;
        }
        d.inode.getxattr(name)
    }

    /// setxattr(2) of `d`: needs write permission.
    pub fn setxattr(
        &self,
        task: TaskRef,
        d: &Dentry,
        name: &[u8],
        value: &[u8],
        flags: i32,
    ) -> SysResult<()> {
        if flags & !(libc::XATTR_CREATE | libc::XATTR_REPLACE) != 0 {
            return Err(Errno::EINVAL);
        }
        let st = d.inode.stat(task)?;
        writable_mount(d)?;
        if name.starts_with(b"user.") {
            check_access(task, &st, libc::W_OK)?;
        }
        d.inode.setxattr(name, value, flags)
    }

    /// listxattr(2) of `d`: the names (the `user.` ones here).
    pub fn listxattr(&self, task: TaskRef, d: &Dentry) -> SysResult<Vec<Vec<u8>>> {
        d.inode.stat(task)?;
        match d.inode.listxattr() {
            Err(Errno::EOPNOTSUPP) => Ok(Vec::new()),
            other => other,
        }
    }

    /// removexattr(2) of `d`: needs write permission.
    pub fn removexattr(&self, task: TaskRef, d: &Dentry, name: &[u8]) -> SysResult<()> {
        let st = d.inode.stat(task)?;
        writable_mount(d)?;
        if name.starts_with(b"user.") {
            check_access(task, &st, libc::W_OK)?;
        }
        d.inode.removexattr(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::tmpfs;

    fn vfs() -> (Vfs, Ctx<'static>) {
        let v = Vfs::with_root(tmpfs::new_root(9, 0o1777), false, "tmpfs");
        let c = v.root_ctx();
        (v, c)
    }

    #[test]
    fn chmod_chown_utimes_truncate_change_attributes() {
        let (v, c) = vfs();
        let f = v
            .open_in(&c, b"/f", libc::O_CREAT | libc::O_RDWR, 0o644)
            .unwrap();
        f.write_inner(None, b"hello").unwrap();
        let d = v.lookup_in(&c, b"/f", true).unwrap();
        v.chmod(None, &d, 0o6755).unwrap();
        assert_eq!(d.inode.stat(None).unwrap().mode, libc::S_IFREG | 0o6755);
        v.chown(None, &d, Some(5), None).unwrap();
        let st = d.inode.stat(None).unwrap();
        assert_eq!((st.uid, st.gid, st.mode & 0o7777), (5, 0, 0o0755));
        let t = Timespec { sec: 1000, nsec: 5 };
        v.utimes(None, &d, TimeArg::Set(t), TimeArg::Omit).unwrap();
        let st2 = d.inode.stat(None).unwrap();
        assert_eq!(st2.atime, t);
        assert_eq!(st2.mtime, st.mtime);
        v.truncate(None, &d, 2).unwrap();
        assert_eq!(d.inode.stat(None).unwrap().size, 2);
        let dir = v.lookup_in(&c, b"/", true).unwrap();
        assert_eq!(v.truncate(None, &dir, 0), Err(Errno::EISDIR));
    }

    #[test]
    fn link_mknod_and_rename_flags() {
        let (v, c) = vfs();
        v.open_in(&c, b"/a", libc::O_CREAT | libc::O_RDWR, 0o644)
            .unwrap();
        let a = v.lookup_in(&c, b"/a", true).unwrap();
        v.link_in(&c, &a, b"/b").unwrap();
        assert_eq!(a.inode.stat(None).unwrap().nlink, 2);
        assert_eq!(v.link_in(&c, &a, b"/b"), Err(Errno::EEXIST));
        let root = v.lookup_in(&c, b"/", true).unwrap();
        assert_eq!(v.link_in(&c, &root, b"/r"), Err(Errno::EPERM));
        v.mknod_in(&c, b"/p", libc::S_IFIFO | 0o666).unwrap();
        let p = v.lookup_in(&c, b"/p", true).unwrap();
        assert_eq!(p.inode.stat(None).unwrap().mode, libc::S_IFIFO | 0o644);
        assert_eq!(
            v.mknod_in(&c, b"/dv", libc::S_IFCHR | 0o666),
            Err(Errno::EPERM)
        );
        assert_eq!(
            v.rename2_in(&c, b"/a", &c, b"/b", libc::RENAME_NOREPLACE),
            Err(Errno::EEXIST)
        );
        v.rename2_in(&c, b"/a", &c, b"/p", libc::RENAME_EXCHANGE)
            .unwrap();
        assert!(
            v.lookup_in(&c, b"/a", true)
                .unwrap()
                .inode
                .stat(None)
                .unwrap()
                .mode
                & libc::S_IFIFO
                == libc::S_IFIFO
        );
        assert_eq!(
            v.rename2_in(&c, b"/a", &c, b"/zz", libc::RENAME_EXCHANGE),
            Err(Errno::ENOENT)
        );
        assert_eq!(
            v.rename2_in(&c, b"/a", &c, b"/zz", libc::RENAME_WHITEOUT),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn user_xattrs_on_tmpfs() {
        let (v, c) = vfs();
        v.open_in(&c, b"/f", libc::O_CREAT | libc::O_RDWR, 0o644)
            .unwrap();
        let d = v.lookup_in(&c, b"/f", true).unwrap();
        assert_eq!(v.getxattr(None, &d, b"user.k"), Err(Errno::ENODATA));
        v.setxattr(None, &d, b"user.k", b"v", 0).unwrap();
        assert_eq!(
            v.setxattr(None, &d, b"user.k", b"w", libc::XATTR_CREATE),
            Err(Errno::EEXIST)
        );
        assert_eq!(v.getxattr(None, &d, b"user.k").unwrap(), b"v");
        assert_eq!(v.listxattr(None, &d).unwrap(), vec![b"user.k".to_vec()]);
        assert_eq!(
            v.setxattr(None, &d, b"trusted.k", b"v", 0),
            Err(Errno::EOPNOTSUPP)
        );
        v.removexattr(None, &d, b"user.k").unwrap();
        assert_eq!(v.removexattr(None, &d, b"user.k"), Err(Errno::ENODATA));
    }
}
