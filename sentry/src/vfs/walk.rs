//! Path resolution (after gVisor's `pkg/sentry/vfs/resolving_path.go`; Linux `fs/namei.c`,
//! path_resolution(7)): one component at a time from the root or a start directory, `..` never
//! above the task's root, symlinks followed by the sentry (at most 40, else ELOOP), magic links,
//! trailing slashes, and mount crossing.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::vfs::dentry::{same_inode, Dentry};
use crate::vfs::inode::TaskRef;
use crate::vfs::Vfs;
use crate::{Errno, SysResult};

/// Symlinks followed in one resolution before ELOOP (Linux `MAXSYMLINKS`).
pub const MAX_SYMLINKS: u32 = 40;
/// Longest path accepted (Linux `PATH_MAX`, with its NUL).
pub const PATH_MAX: usize = 4096;
/// Longest component (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// One resolution's context: who resolves, from which root.
pub struct Resolver<'a> {
    pub vfs: &'a Vfs,
    pub task: TaskRef<'a>,
    pub root: Arc<Dentry>,
}

/// The directory that holds a path's last component, and that component.
pub struct ParentAndName {
    pub parent: Arc<Dentry>,
    /// Empty for "/"; may be "." or "..".
    pub name: Vec<u8>,
    /// The path ended in '/'.
    pub trailing_slash: bool,
}

fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

impl<'a> Resolver<'a> {
    /// One step from directory `cur` to `name`: ".", ".." (clamped at the root) or a child,
    /// crossing onto a mount that sits on it.
    pub fn step(&self, cur: &Arc<Dentry>, name: &[u8]) -> SysResult<Arc<Dentry>> {
        let st = cur.inode.stat(self.task)?;
        if !st.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        crate::vfs::check_access(self.task, &st, libc::X_OK)?;
        if name == b"." {
            return Ok(cur.clone());
        }
        if name == b".." {
            if cur.same_file(&self.root) {
                return Ok(cur.clone());
            }
            return Ok(cur.parent.clone().unwrap_or_else(|| cur.clone()));
        }
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let synthetic = if cur.mount.submounts() {
            cur.mount.synthetic_child(st.dev, st.ino, name)
        } else {
            None
        };
        let inode = match synthetic {
            Some(i) => i,
            None => cur.inode.lookup(self.task, name)?,
        };
        if cur.mount.submounts() {
            let cst = inode.stat(self.task)?;
            if let Some(mut m) = self.vfs.mount_on(cur.mount.id, cst.dev, cst.ino) {
                // Mounts stacked on the same place: the last one made is the one seen.
                while m.submounts() {
                    let rst = m.root.stat(self.task)?;
                    match self.vfs.mount_on(m.id, rst.dev, rst.ino) {
                        Some(top) => m = top,
                        None => break,
                    }
                }
                let root = m.root.clone();
                return Ok(Dentry::child(cur, name, m, root));
            }
        }
        Ok(Dentry::child(cur, name, cur.mount.clone(), inode))
    }

    /// Resolves `path` from `start` (or the root when absolute). The last component is followed
    /// if it is a symlink only when `follow_final` (or the path ends in '/').
    pub fn resolve(
        &self,
        start: Arc<Dentry>,
        path: &[u8],
        follow_final: bool,
    ) -> SysResult<Arc<Dentry>> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut cur = if path[0] == b'/' {
            self.root.clone()
        } else {
            start
        };
        let mut comps: VecDeque<Vec<u8>> = components(path).map(<[u8]>::to_vec).collect();
        let mut must_be_dir = path.ends_with(b"/");
        let mut links = 0u32;
        while let Some(name) = comps.pop_front() {
            let is_final = comps.is_empty();
            let next = self.step(&cur, &name)?;
            let follow = !is_final || follow_final || must_be_dir;
            if follow && next.inode.stat(self.task)?.is_symlink() {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                if let Some(target) = next.inode.magic_link(self.task) {
                    cur = target?;
                    continue;
                }
                let target = next.inode.readlink(self.task)?;
                if target.is_empty() {
                    return Err(Errno::ENOENT);
                }
                if target[0] == b'/' {
                    cur = self.root.clone();
                }
                if is_final && target.ends_with(b"/") {
                    must_be_dir = true;
                }
                for c in components(&target).rev() {
                    comps.push_front(c.to_vec());
                }
                continue;
            }
            cur = next;
        }
        if must_be_dir && !cur.inode.stat(self.task)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(cur)
    }

    /// Resolves all but the last component of `path` (following every symlink on the way).
    pub fn resolve_parent(&self, start: Arc<Dentry>, path: &[u8]) -> SysResult<ParentAndName> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let trailing_slash = path.ends_with(b"/");
        let trimmed_len = path.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
        let trimmed = &path[..trimmed_len];
        let (dir, name) = match trimmed.iter().rposition(|&b| b == b'/') {
            Some(i) => (&trimmed[..=i], &trimmed[i + 1..]),
            None => (&b""[..], trimmed),
        };
        let parent = if dir.is_empty() {
            if path[0] == b'/' {
                self.root.clone()
            } else {
                start
            }
        } else {
            self.resolve(start, dir, true)?
        };
        if !parent.inode.stat(self.task)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        Ok(ParentAndName {
            parent,
            name: name.to_vec(),
            trailing_slash,
        })
    }

    /// Looks up `name` in `parent` the way the final step of a walk does (no following).
    pub fn lookup_child(&self, parent: &Arc<Dentry>, name: &[u8]) -> SysResult<Arc<Dentry>> {
        self.step(parent, name)
    }
}

/// openat2(2) `RESOLVE_*` restrictions on a walk (include/uapi/linux/openat2.h; Linux
/// `LOOKUP_NO_XDEV`, `LOOKUP_NO_MAGICLINKS`, `LOOKUP_NO_SYMLINKS`, `LOOKUP_BENEATH` and the
/// scoping of `LOOKUP_IN_ROOT`, whose root the resolver itself carries).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restrict {
    /// No mount crossing, by a component, `..` or a symlink (EXDEV).
    pub no_xdev: bool,
    /// No magic link (/proc/PID/fd/N, exe, cwd...) is followed (ELOOP).
    pub no_magiclinks: bool,
    /// No symlink at all is followed (ELOOP).
    pub no_symlinks: bool,
    /// The walk stays below its start: an absolute path or symlink, or `..` at the start,
    /// is EXDEV.
    pub beneath: bool,
    /// The walk is scoped (BENEATH or IN_ROOT): magic links are EXDEV (Linux `nd_jump_link`).
    pub scoped: bool,
}

/// What a restricted walk found.
pub enum Restricted {
    Found(Arc<Dentry>),
    /// Every directory resolved but the last component (after any final symlink) is missing:
    /// an O_CREAT open creates it.
    MissingFinal,
}

impl Resolver<'_> {
    /// [`Resolver::resolve`] under openat2's restrictions: the same walk, refusing what `rs`
    /// forbids. A `..` at the resolver's root stays there (RESOLVE_IN_ROOT passes the dirfd as
    /// the root).
    pub fn resolve_restricted(
        &self,
        start: Arc<Dentry>,
        path: &[u8],
        follow_final: bool,
        rs: Restrict,
    ) -> SysResult<Restricted> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let top = start.clone();
        let mut cur = if path[0] == b'/' {
            if rs.beneath {
                return Err(Errno::EXDEV);
            }
            self.root.clone()
        } else {
            start
        };
        let mut comps: VecDeque<Vec<u8>> = components(path).map(<[u8]>::to_vec).collect();
        let mut must_be_dir = path.ends_with(b"/");
        let mut links = 0u32;
        while let Some(name) = comps.pop_front() {
            let is_final = comps.is_empty();
            if rs.beneath && name == b".." && cur.same_file(&top) {
                return Err(Errno::EXDEV);
            }
            let next = match self.step(&cur, &name) {
                Ok(n) => n,
                Err(Errno::ENOENT) if is_final => return Ok(Restricted::MissingFinal),
                Err(e) => return Err(e),
            };
            if rs.no_xdev && next.mount.id != cur.mount.id {
                return Err(Errno::EXDEV);
            }
            let follow = !is_final || follow_final || must_be_dir;
            if follow && next.inode.stat(self.task)?.is_symlink() {
                if rs.no_symlinks {
                    return Err(Errno::ELOOP);
                }
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                if let Some(target) = next.inode.magic_link(self.task) {
                    if rs.no_magiclinks {
                        return Err(Errno::ELOOP);
                    }
                    if rs.scoped {
                        return Err(Errno::EXDEV);
                    }
                    let target = target?;
                    if rs.no_xdev && target.mount.id != cur.mount.id {
                        return Err(Errno::EXDEV);
                    }
                    cur = target;
                    continue;
                }
                let target = next.inode.readlink(self.task)?;
                if target.is_empty() {
                    return Err(Errno::ENOENT);
                }
                if target[0] == b'/' {
                    if rs.beneath {
                        return Err(Errno::EXDEV);
                    }
                    if rs.no_xdev && self.root.mount.id != cur.mount.id {
                        return Err(Errno::EXDEV);
                    }
                    cur = self.root.clone();
                }
                if is_final && target.ends_with(b"/") {
                    must_be_dir = true;
                }
                for c in components(&target).rev() {
                    comps.push_front(c.to_vec());
                }
                continue;
            }
            cur = next;
        }
        if must_be_dir && !cur.inode.stat(self.task)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(Restricted::Found(cur))
    }
}

/// Whether two dentries are the same directory entry point (used for `..` at a root).
pub fn is_same(a: &Dentry, b: &Dentry) -> bool {
    a.mount.id == b.mount.id && same_inode(&a.inode, &b.inode)
}

#[cfg(test)]
mod tests {
    use crate::fs::tmpfs;
    use crate::vfs::{Ctx, Vfs};
    use crate::Errno;

    fn vfs() -> Vfs {
        let v = Vfs::with_root(tmpfs::new_root(1, 0o755), false, "tmpfs");
        let c = v.root_ctx();
        v.mkdir_in(&c, b"/a", 0o755).unwrap();
        v.mkdir_in(&c, b"/a/b", 0o755).unwrap();
        v.open_in(&c, b"/a/b/f", libc::O_CREAT | libc::O_WRONLY, 0o644)
            .unwrap();
        v.symlink_in(&c, b"b/f", b"/a/rel").unwrap();
        v.symlink_in(&c, b"/a/b", b"/abs").unwrap();
        v.symlink_in(&c, b"/loop2", b"/loop1").unwrap();
        v.symlink_in(&c, b"/loop1", b"/loop2").unwrap();
        v
    }

    fn path_of(v: &Vfs, c: &Ctx, p: &[u8]) -> Result<Vec<u8>, Errno> {
        v.lookup_in(c, p, true).map(|d| d.path())
    }

    #[test]
    fn dotdot_never_goes_above_root() {
        let v = vfs();
        let c = v.root_ctx();
        assert_eq!(path_of(&v, &c, b"/../../a/./b/..").unwrap(), b"/a".to_vec());
        assert_eq!(path_of(&v, &c, b"..").unwrap(), b"/".to_vec());
    }

    #[test]
    fn relative_and_absolute_symlinks_are_followed() {
        let v = vfs();
        let c = v.root_ctx();
        assert_eq!(path_of(&v, &c, b"/a/rel").unwrap(), b"/a/b/f".to_vec());
        assert_eq!(path_of(&v, &c, b"/abs/f").unwrap(), b"/a/b/f".to_vec());
        // Not following the final component returns the link itself.
        let d = v.lookup_in(&c, b"/a/rel", false).unwrap();
        assert!(d.inode.stat(None).unwrap().is_symlink());
        assert_eq!(v.readlink_in(&c, b"/a/rel").unwrap(), b"b/f".to_vec());
        assert_eq!(v.readlink_in(&c, b"/a"), Err(Errno::EINVAL));
    }

    #[test]
    fn symlink_loops_are_eloop() {
        let v = vfs();
        let c = v.root_ctx();
        assert_eq!(path_of(&v, &c, b"/loop1").err(), Some(Errno::ELOOP));
        assert_eq!(path_of(&v, &c, b"/loop1/x").err(), Some(Errno::ELOOP));
    }

    #[test]
    fn trailing_slash_requires_a_directory() {
        let v = vfs();
        let c = v.root_ctx();
        assert_eq!(path_of(&v, &c, b"/a/b/f/").err(), Some(Errno::ENOTDIR));
        assert_eq!(path_of(&v, &c, b"/a/b/").unwrap(), b"/a/b".to_vec());
        // A trailing slash follows a final symlink to a directory.
        assert_eq!(path_of(&v, &c, b"/abs/").unwrap(), b"/a/b".to_vec());
        assert_eq!(
            v.lookup_in(&c, b"/abs/", false).unwrap().path(),
            b"/a/b".to_vec()
        );
    }

    #[test]
    fn missing_and_non_directory_components() {
        let v = vfs();
        let c = v.root_ctx();
        assert_eq!(path_of(&v, &c, b"/nope").err(), Some(Errno::ENOENT));
        assert_eq!(path_of(&v, &c, b"/a/b/f/x").err(), Some(Errno::ENOTDIR));
        assert_eq!(path_of(&v, &c, b"").err(), Some(Errno::ENOENT));
        let long = vec![b'x'; 256];
        assert_eq!(path_of(&v, &c, &long).err(), Some(Errno::ENAMETOOLONG));
    }

    #[test]
    fn o_nofollow_on_a_symlink_is_eloop() {
        let v = vfs();
        let c = v.root_ctx();
        assert_eq!(
            v.open_in(&c, b"/a/rel", libc::O_RDONLY | libc::O_NOFOLLOW, 0)
                .err(),
            Some(Errno::ELOOP)
        );
        assert!(v.open_in(&c, b"/a/rel", libc::O_RDONLY, 0).is_ok());
        assert!(v
            .open_in(&c, b"/a/rel", libc::O_PATH | libc::O_NOFOLLOW, 0)
            .is_ok());
    }

    #[test]
    fn relative_walk_starts_at_ctx_start() {
        let v = vfs();
        let mut c = v.root_ctx();
        c.start = v.lookup_in(&c, b"/a/b", true).unwrap();
        assert_eq!(path_of(&v, &c, b"f").unwrap(), b"/a/b/f".to_vec());
        assert_eq!(path_of(&v, &c, b"../rel").unwrap(), b"/a/b/f".to_vec());
        // A chroot-like root clamps "..".
        c.root = c.start.clone();
        assert_eq!(path_of(&v, &c, b"../../..").unwrap(), b"/a/b".to_vec());
    }

    #[test]
    fn restricted_walks_refuse_what_openat2_forbids() {
        use super::{Resolver, Restrict, Restricted};
        let v = vfs();
        let c = v.root_ctx();
        let a = v.lookup_in(&c, b"/a", true).unwrap();
        let r = Resolver {
            vfs: &v,
            task: None,
            root: c.root.clone(),
        };
        let found = |p: &[u8], rs: Restrict| match r.resolve_restricted(a.clone(), p, true, rs) {
            Ok(Restricted::Found(d)) => Ok(d.path()),
            Ok(Restricted::MissingFinal) => Ok(b"<missing>".to_vec()),
            Err(e) => Err(e),
        };
        let none = Restrict::default();
        assert_eq!(found(b"rel", none).unwrap(), b"/a/b/f".to_vec());
        let nosym = Restrict {
            no_symlinks: true,
            ..none
        };
        assert_eq!(found(b"rel", nosym), Err(Errno::ELOOP));
        let beneath = Restrict {
            beneath: true,
            scoped: true,
            ..none
        };
        assert_eq!(found(b"b/../b/f", beneath).unwrap(), b"/a/b/f".to_vec());
        assert_eq!(found(b"..", beneath), Err(Errno::EXDEV));
        assert_eq!(found(b"/a", beneath), Err(Errno::EXDEV));
        assert_eq!(found(b"../abs", beneath), Err(Errno::EXDEV));
        assert_eq!(found(b"b/new", beneath).unwrap(), b"<missing>".to_vec());
        assert_eq!(found(b"nope/new", beneath), Err(Errno::ENOENT));
        v.mount(b"/a/b", tmpfs::new_root(3, 0o755), false, "tmpfs")
            .unwrap();
        let xdev = Restrict {
            no_xdev: true,
            ..none
        };
        assert_eq!(found(b"b", xdev), Err(Errno::EXDEV));
        assert_eq!(found(b"b", none).unwrap(), b"/a/b".to_vec());
    }

    #[test]
    fn mounts_are_crossed_both_ways() {
        let v = vfs();
        v.mount(b"/a", tmpfs::new_root(2, 0o1777), false, "tmpfs")
            .unwrap();
        let c = v.root_ctx();
        // The mount hides /a/b.
        assert_eq!(path_of(&v, &c, b"/a/b").err(), Some(Errno::ENOENT));
        v.mkdir_in(&c, b"/a/m", 0o700).unwrap();
        let d = v.lookup_in(&c, b"/a/m/..", true).unwrap();
        assert_eq!(d.inode.stat(None).unwrap().mode & 0o7777, 0o1777);
        assert_eq!(path_of(&v, &c, b"/a/m/../..").unwrap(), b"/".to_vec());
        // Renames across mounts are EXDEV; removing the mount point is EBUSY.
        v.open_in(&c, b"/top", libc::O_CREAT | libc::O_WRONLY, 0o644)
            .unwrap();
        assert_eq!(v.rename_in(&c, b"/top", &c, b"/a/top"), Err(Errno::EXDEV));
        assert_eq!(v.unlink_in(&c, b"/a", true), Err(Errno::EBUSY));
    }
}
