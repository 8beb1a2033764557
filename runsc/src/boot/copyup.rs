//! The `tmpcopyup` mount option (a runc/crun extension that podman and CRI-O put on tmpfs
//! mounts): a new tmpfs starts with a copy of what the directory it is mounted over held, as
//! runc's `doTmpfsCopyUp` does with `fileutils.CopyDirectory` (regular files with their
//! contents, directories, symlinks and FIFOs, each with its mode and owner; times are not
//! kept). The copy goes through the sentry's VFS (`sentry::vfs::Inode`), never host paths:
//! the rootfs is reached through the gofer.

use std::sync::Arc;

use sentry::vfs::{Inode, SetAttr};
use sentry::{Errno, SysResult};

/// The mount option that asks for the copy.
pub const TMPCOPYUP: &str = "tmpcopyup";

/// How much of a file one read moves.
const CHUNK: usize = 64 * 1024;

/// How deep a tree is copied before giving up (ELOOP), against a filesystem that loops.
const MAX_DEPTH: usize = 256;

/// Whether the spec's `options` ask for the copy; and the options without `tmpcopyup` (it is
/// not a tmpfs option: tmpfs would refuse it with EINVAL).
pub fn take_option(options: &[String]) -> (bool, Vec<String>) {
    let copy = options.iter().any(|o| o == TMPCOPYUP);
    let rest = options
        .iter()
        .filter(|o| *o != TMPCOPYUP)
        .cloned()
        .collect();
    (copy, rest)
}

/// Copies the entries of the directory `src` into the empty directory `dst` (the new tmpfs's
/// root), recursively, and gives `dst` the mode of `src` (runc chmods the tmpfs to the mode
/// of the directory it covers). Entries of a kind tmpfs cannot hold here (devices, sockets)
/// are left out and named in the returned list.
pub fn copy_up(src: &Arc<dyn Inode>, dst: &Arc<dyn Inode>) -> SysResult<Vec<Vec<u8>>> {
    let st = src.stat(None)?;
    if !st.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let mut skipped = Vec::new();
    copy_dir(src, dst, b"", 0, &mut skipped)?;
    dst.setattr(&SetAttr {
        mode: Some(st.mode & 0o7777),
        ..SetAttr::default()
    })?;
    Ok(skipped)
}

fn copy_dir(
    src: &Arc<dyn Inode>,
    dst: &Arc<dyn Inode>,
    at: &[u8],
    depth: usize,
    skipped: &mut Vec<Vec<u8>>,
) -> SysResult<()> {
    if depth > MAX_DEPTH {
        return Err(Errno::ELOOP);
    }
    for entry in src.readdir(None)? {
        let name = entry.name;
        let child = src.lookup(None, &name)?;
        let st = child.stat(None)?;
        let perm = st.mode & 0o7777;
        let path = [at, b"/", &name[..]].concat();
        match st.file_type() {
            libc::S_IFDIR => {
                let d = dst.mkdir(&name, perm, st.uid, st.gid)?;
                copy_dir(&child, &d, &path, depth + 1, skipped)?;
                // The mode again, once the entries are in (a read-only directory).
                d.setattr(&SetAttr {
                    mode: Some(perm),
                    ..SetAttr::default()
                })?;
            }
            libc::S_IFREG => {
                let f = dst.create(&name, perm, st.uid, st.gid)?;
                copy_contents(&child, &f)?;
            }
            libc::S_IFLNK => {
                let target = child.readlink(None)?;
                dst.symlink(&name, &target, st.uid, st.gid)?;
            }
            libc::S_IFIFO => {
                dst.mknod(&name, libc::S_IFIFO | perm, st.uid, st.gid)?;
            }
            _ => skipped.push(path),
        }
    }
    Ok(())
}

/// Copies the bytes of the regular file `src` into the empty regular file `dst`.
fn copy_contents(src: &Arc<dyn Inode>, dst: &Arc<dyn Inode>) -> SysResult<()> {
    let from = src.open(None, libc::O_RDONLY)?;
    let to = dst.open(None, libc::O_WRONLY)?;
    let mut buf = vec![0u8; CHUNK];
    let mut offset = 0u64;
    loop {
        let n = from.read_at(None, &mut buf, offset)?;
        if n == 0 {
            return Ok(());
        }
        let mut done = 0;
        while done < n {
            let w = to.write_at(None, &buf[done..n], offset + done as u64)?;
            if w == 0 {
                return Err(Errno::EIO);
            }
            done += w;
        }
        offset += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry::fs::tmpfs;
    use sentry::vfs::anon_dev;

    fn read_all(inode: &Arc<dyn Inode>) -> Vec<u8> {
        let f = inode.open(None, libc::O_RDONLY).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = f.read_at(None, &mut buf, out.len() as u64).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn the_option_is_taken_out_of_the_tmpfs_options() {
        let opts: Vec<String> = ["nosuid", "tmpcopyup", "size=1m"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (copy, rest) = take_option(&opts);
        assert!(copy);
        assert_eq!(rest, ["nosuid", "size=1m"]);
        assert!(!take_option(&rest).0);
    }

    #[test]
    fn a_tree_is_copied_with_contents_modes_owners_and_links() {
        let src: Arc<dyn Inode> = tmpfs::new_root(anon_dev(200), 0o750);
        let big: Vec<u8> = (0..CHUNK * 2 + 5).map(|i| (i % 251) as u8).collect();
        let f = src.create(b"passwd", 0o640, 0, 42).unwrap();
        f.open(None, libc::O_WRONLY)
            .unwrap()
            .write_at(None, &big, 0)
            .unwrap();
        src.symlink(b"link", b"passwd", 7, 8).unwrap();
        let sub = src.mkdir(b"sub", 0o500, 5, 6).unwrap();
        sub.create(b"empty", 0o600, 5, 6).unwrap();
        src.mknod(b"fifo", libc::S_IFIFO | 0o620, 0, 0).unwrap();

        let dst: Arc<dyn Inode> = tmpfs::new_root(anon_dev(201), 0o1777);
        let skipped = copy_up(&src, &dst).unwrap();
        assert!(skipped.is_empty());
        assert_eq!(dst.stat(None).unwrap().mode, libc::S_IFDIR | 0o750);
        let mut names: Vec<Vec<u8>> = dst
            .readdir(None)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        names.sort();
        assert_eq!(names, [&b"fifo"[..], b"link", b"passwd", b"sub"]);

        let p = dst.lookup(None, b"passwd").unwrap();
        let st = p.stat(None).unwrap();
        assert_eq!((st.mode, st.uid, st.gid), (libc::S_IFREG | 0o640, 0, 42));
        assert_eq!(read_all(&p), big);
        let l = dst.lookup(None, b"link").unwrap();
        assert_eq!(l.readlink(None).unwrap(), b"passwd");
        assert_eq!(
            (l.stat(None).unwrap().uid, l.stat(None).unwrap().gid),
            (7, 8)
        );
        let s = dst.lookup(None, b"sub").unwrap();
        let st = s.stat(None).unwrap();
        assert_eq!((st.mode, st.uid, st.gid), (libc::S_IFDIR | 0o500, 5, 6));
        assert_eq!(read_all(&s.lookup(None, b"empty").unwrap()), b"");
        let st = dst.lookup(None, b"fifo").unwrap().stat(None).unwrap();
        assert_eq!(st.mode, libc::S_IFIFO | 0o620);

        // The copy is its own: writing it leaves the source alone.
        dst.create(b"new", 0o644, 0, 0).unwrap();
        assert_eq!(src.lookup(None, b"new").err(), Some(Errno::ENOENT));
    }

    #[test]
    fn a_file_is_not_a_directory_to_copy() {
        let src: Arc<dyn Inode> = tmpfs::new_root(anon_dev(202), 0o755);
        let f = src.create(b"f", 0o644, 0, 0).unwrap();
        let dst: Arc<dyn Inode> = tmpfs::new_root(anon_dev(203), 0o1777);
        assert_eq!(copy_up(&f, &dst).err(), Some(Errno::ENOTDIR));
    }
}
