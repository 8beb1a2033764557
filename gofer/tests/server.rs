//! Gofer client/server integration tests over a real socketpair against a temporary host tree:
//! walk/stat/open/readlink/getdents semantics (path_resolution(7), open(2), readlink(2),
//! getdents64(2)) and the server's escape-proofing (no symlink or ".." is ever followed).

mod common;

use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use common::{serve, walk_path, TempTree};
use gofer::proto::{Request, Response, SetAttr, PROTOCOL_VERSION};
use gofer::{GoferError, Stat};
use nix::errno::Errno;

fn remote(r: Result<impl std::fmt::Debug, GoferError>) -> Errno {
    match r {
        Err(GoferError::Remote(e)) => e,
        other => panic!("expected a remote errno, got {other:?}"),
    }
}

fn assert_stat_matches(st: &Stat, path: &std::path::Path) {
    let md = std::fs::symlink_metadata(path).unwrap();
    assert_eq!(st.dev, md.dev(), "dev of {path:?}");
    assert_eq!(st.ino, md.ino());
    assert_eq!(st.mode, md.mode());
    assert_eq!(st.nlink, md.nlink());
    assert_eq!(st.uid, md.uid());
    assert_eq!(st.gid, md.gid());
    assert_eq!(st.size, md.size() as i64);
    assert_eq!(st.blocks, md.blocks() as i64);
    assert_eq!((st.mtime.sec, st.mtime.nsec), (md.mtime(), md.mtime_nsec()));
    assert_eq!((st.ctime.sec, st.ctime.nsec), (md.ctime(), md.ctime_nsec()));
}

#[test]
fn attach_returns_the_root() {
    let t = TempTree::standard("attach");
    let s = serve(&t.path, true);
    let (_root, st) = s.client().attach().unwrap();
    assert_stat_matches(&st, &t.path);
}

#[test]
fn walk_nested_dirs_and_stat_match_host() {
    let t = TempTree::standard("walk");
    let s = serve(&t.path, true);
    let c = s.client();
    let (root, _) = c.attach().unwrap();
    let (a, a_st) = c.walk(root, b"a").unwrap();
    assert_stat_matches(&a_st, &t.join("a"));
    let (b, _) = c.walk(a, b"b").unwrap();
    let (cdir, c_st) = c.walk(b, b"c").unwrap();
    assert_stat_matches(&c_st, &t.join("a/b/c"));
    let (f, f_st) = c.walk(cdir, b"file.txt").unwrap();
    assert_stat_matches(&f_st, &t.join("a/b/c/file.txt"));
    assert_stat_matches(&c.stat(f).unwrap(), &t.join("a/b/c/file.txt"));
    assert_eq!(f_st.mode & libc::S_IFMT, libc::S_IFREG);
}

#[test]
fn open_and_read_through_donated_fd() {
    let t = TempTree::standard("read");
    let s = serve(&t.path, true);
    let c = s.client();
    let (root, _) = c.attach().unwrap();
    let (f, _) = walk_path(c, root, "a/b/c/file.txt").unwrap();
    let fd: OwnedFd = c.open(f, libc::O_RDONLY).unwrap();
    let mut file = std::fs::File::from(fd);
    let mut s = String::new();
    file.read_to_string(&mut s).unwrap();
    assert_eq!(s, "hello gofer");
    // The donated fd is close-on-exec.
    let fl = nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&file),
        nix::fcntl::FcntlArg::F_GETFD,
    )
    .unwrap();
    assert_ne!(fl & libc::FD_CLOEXEC, 0);
}

#[test]
fn open_directory_gives_a_directory_fd() {
    let t = TempTree::standard("opendir");
    let s = serve(&t.path, true);
    let c = s.client();
    let (root, _) = c.attach().unwrap();
    let (a, _) = c.walk(root, b"a").unwrap();
    let fd = c.open(a, libc::O_RDONLY | libc::O_DIRECTORY).unwrap();
    let st = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&fd)).unwrap();
    assert_eq!(st.st_mode & libc::S_IFMT, libc::S_IFDIR);
    assert_eq!(remote(c.open(a, libc::O_RDWR)), Errno::EISDIR);
    let (f, _) = walk_path(c, root, "top.txt").unwrap();
    assert_eq!(
        remote(c.open(f, libc::O_RDONLY | libc::O_DIRECTORY)),
        Errno::ENOTDIR
    );
}

#[test]
fn readlink_returns_target() {
    let t = TempTree::standard("readlink");
    let s = serve(&t.path, true);
    let c = s.client();
    let (root, _) = c.attach().unwrap();
    let (l, _) = walk_path(c, root, "a/link_to_file").unwrap();
    assert_eq!(c.readlink(l).unwrap(), b"b/c/file.txt");
    let (e, _) = c.walk(root, b"evil_abs").unwrap();
    assert_eq!(c.readlink(e).unwrap(), b"/etc/passwd");
    assert_eq!(remote(c.readlink(root)), Errno::EINVAL);
}

#[test]
fn walk_returns_the_symlink_itself() {
    let t = TempTree::standard("nofollow");
    let s = serve(&t.path, true);
    let c = s.client();
    let (root, _) = c.attach().unwrap();
    let (l, st) = walk_path(c, root, "a/link_to_file").unwrap();
    assert_eq!(st.mode & libc::S_IFMT, libc::S_IFLNK);
    assert_stat_matches(&st, &t.join("a/link_to_file"));
    assert_stat_matches(&c.stat(l).unwrap(), &t.join("a/link_to_file"));
    // A symlink to a directory is not a directory to walk through.
    let (up, _) = c.walk(root, b"evil_up").unwrap();
    assert_eq!(remote(c.walk(up, b"etc")), Errno::ENOTDIR);
    let (r, _) = c.walk(root, b"evil_root").unwrap();
    assert_eq!(remote(c.walk(r, b"etc")), Errno::ENOTDIR);
}

#[test]
fn escaping_symlinks_never_open() {
    let t = TempTree::standard("escape");
    let s = serve(&t.path, false);
    let c = s.client();
    let (root, _) = c.attach().unwrap();
    for name in ["evil_abs", "evil_up", "evil_root", "a/link_to_file"] {
        let (n, _) = walk_path(c, root, name).unwrap();
        for flags in [
            libc::O_RDONLY,
            libc::O_RDONLY | libc::O_DIRECTORY,
            libc::O_WRONLY,
            libc::O_RDWR | libc::O_TRUNC,
            libc::O_RDONLY | libc::O_NONBLOCK,
        ] {
            assert_eq!(remote(c.open(n, flags)), Errno::ELOOP, "{name} {flags:#x}");
        }
        assert_eq!(remote(c.getdents(n)), Errno::ENOTDIR, "{name}");
    }
    // O_PATH and O_CREAT smuggled through open are refused outright.
    let (f, _) = c.walk(root, b"top.txt").unwrap();
    assert_eq!(remote(c.open(f, libc::O_PATH)), Errno::EINVAL);
    assert_eq!(
        remote(c.open(f, libc::O_RDONLY | libc::O_CREAT)),
        Errno::EINVAL
    );
}

#[test]
fn getdents_lists_entries_with_inodes_and_types() {
    let t = TempTree::standard("getdents");
    let s = serve(&t.path, true);
    let c = s.client();
    let (root, _) = c.attach().unwrap();
    let mut ents = c.getdents(root).unwrap();
    ents.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<&[u8]> = ents.iter().map(|e| e.name.as_slice()).collect();
    assert_eq!(
        names,
        [
            &b"a"[..],
            b"empty",
            b"evil_abs",
            b"evil_root",
            b"evil_up",
            b"top.txt"
        ]
    );
    for e in &ents {
        let md =
            std::fs::symlink_metadata(t.path.join(std::str::from_utf8(&e.name).unwrap())).unwrap();
        assert_eq!(e.ino, md.ino());
        let want = if md.is_dir() {
            libc::DT_DIR
        } else if md.is_symlink() {
            libc::DT_LNK
        } else {
            libc::DT_REG
        };
        // Some filesystems report DT_UNKNOWN; tmpfs and ext4 do not.
        assert!(e.kind == want || e.kind == libc::DT_UNKNOWN, "{e:?}");
    }
    let (empty, _) = c.walk(root, b"empty").unwrap();
    assert!(c.getdents(empty).unwrap().is_empty());
}

#[test]
fn getdents_pages_large_directories() {
    let t = TempTree::new("bigdir");
    let n = 2500;
    for i in 0..n {
        std::fs::write(t.path.join(format!("{i:05}-{}", "x".repeat(40))), b"").unwrap();
    }
    let s = serve(&t.path, true);
    let c = s.client();
    let (root, _) = c.attach().unwrap();
    let ents = c.getdents(root).unwrap();
    assert_eq!(ents.len(), n);
    let mut names: Vec<_> = ents.into_iter().map(|e| e.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), n);
}

#[test]
fn read_only_blocks_writes_with_erofs() {
    let t = TempTree::standard("ro");
    let s = serve(&t.path, true);
    let c = s.client();
    let (root, _) = c.attach().unwrap();
    let (f, _) = c.walk(root, b"top.txt").unwrap();
    assert_eq!(remote(c.open(f, libc::O_WRONLY)), Errno::EROFS);
    assert_eq!(remote(c.open(f, libc::O_RDWR)), Errno::EROFS);
    assert_eq!(
        remote(c.open(f, libc::O_RDONLY | libc::O_TRUNC)),
        Errno::EROFS
    );
    assert_eq!(
        remote(c.open(f, libc::O_WRONLY | libc::O_APPEND)),
        Errno::EROFS
    );
    assert_eq!(
        remote(c.create(root, b"new", libc::O_RDWR, 0o644, 0, 0)),
        Errno::EROFS
    );
    assert_eq!(remote(c.mkdir(root, b"d", 0o755, 0, 0)), Errno::EROFS);
    assert_eq!(remote(c.symlink(root, b"s", b"x", 0, 0)), Errno::EROFS);
    assert_eq!(remote(c.link(root, b"h", f)), Errno::EROFS);
    assert_eq!(
        remote(c.mknod(root, b"p", libc::S_IFIFO | 0o644, 0, 0)),
        Errno::EROFS
    );
    assert_eq!(remote(c.unlink(root, b"top.txt", 0)), Errno::EROFS);
    assert_eq!(
        remote(c.rename(root, b"top.txt", root, b"x", 0)),
        Errno::EROFS
    );
    let attr = SetAttr {
        mask: SetAttr::SIZE,
        size: 0,
        ..SetAttr::default()
    };
    assert_eq!(remote(c.setattr(f, attr)), Errno::EROFS);
    assert_eq!(std::fs::read(t.join("top.txt")).unwrap(), b"top");
    // Reads still work.
    assert!(c.open(f, libc::O_RDONLY).is_ok());
}

#[test]
fn walk_of_missing_name_is_enoent() {
    let t = TempTree::standard("enoent");
    let s = serve(&t.path, true);
    let c = s.client();
    let (root, _) = c.attach().unwrap();
    assert!(matches!(
        c.walk(root, b"nope"),
        Err(GoferError::Remote(Errno::ENOENT))
    ));
}

#[test]
fn bad_names_are_einval() {
    let t = TempTree::standard("badnames");
    let s = serve(&t.path, true);
    let c = s.client();
    let (root, _) = c.attach().unwrap();
    let (a, _) = c.walk(root, b"a").unwrap();
    for bad in [&b""[..], b".", b"..", b"b/c", b"/etc", b"a\0b", b"../.."] {
        assert_eq!(remote(c.walk(a, bad)), Errno::EINVAL, "{bad:?}");
    }
}

#[test]
fn unknown_and_closed_nodes_are_ebadf() {
    let t = TempTree::standard("ebadf");
    let s = serve(&t.path, true);
    let c = s.client();
    let (root, _) = c.attach().unwrap();
    assert_eq!(remote(c.stat(gofer::NodeId(999_999))), Errno::EBADF);
    let (a, _) = c.walk(root, b"a").unwrap();
    c.close(a);
    assert_eq!(remote(c.stat(a)), Errno::EBADF);
    // Closing twice or an unknown id is harmless.
    c.close(a);
    c.close(gofer::NodeId(12345));
    assert!(c.stat(root).is_ok());
}

#[test]
fn statfs_matches_host() {
    let t = TempTree::standard("statfs");
    let s = serve(&t.path, true);
    let c = s.client();
    let (root, _) = c.attach().unwrap();
    let got = c.statfs(root).unwrap();
    let host = nix::sys::statfs::statfs(&t.path).unwrap();
    assert_eq!(got.fs_type, host.filesystem_type().0);
    assert_eq!(got.bsize, host.block_size());
    assert_eq!(got.blocks, host.blocks());
    assert!(got.namelen > 0);
}

#[test]
fn many_threads_share_one_client() {
    let t = TempTree::standard("threads");
    let s = serve(&t.path, true);
    let c = s.client();
    let (root, _) = c.attach().unwrap();
    std::thread::scope(|sc| {
        for _ in 0..4 {
            sc.spawn(|| {
                for _ in 0..100 {
                    let (f, st) = walk_path(c, root, "a/b/c/file.txt").unwrap();
                    assert_eq!(st.size, 11);
                    assert_eq!(c.getdents(root).unwrap().len(), 6);
                    c.close(f);
                }
            });
        }
    });
}

/// Speaks the wire protocol by hand to check the handshake rules.
#[test]
fn requests_before_version_are_eproto() {
    let t = TempTree::standard("handshake");
    let (cs, ss) = nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::SeqPacket,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .unwrap();
    let config = gofer::server::ServerConfig {
        root: t.path.clone(),
        read_only: true,
    };
    let h = std::thread::spawn(move || gofer::server::serve(&config, vec![ss]));
    let exchange = |frame: &[u8]| {
        nix::sys::socket::send(
            std::os::fd::AsRawFd::as_raw_fd(&cs),
            frame,
            nix::sys::socket::MsgFlags::empty(),
        )
        .unwrap();
        let mut buf = vec![0u8; 4096];
        let n = nix::sys::socket::recv(
            std::os::fd::AsRawFd::as_raw_fd(&cs),
            &mut buf,
            nix::sys::socket::MsgFlags::empty(),
        )
        .unwrap();
        Response::decode(&buf[..n]).unwrap()
    };
    assert_eq!(
        exchange(&Request::Attach.encode(1)),
        (
            1,
            Response::Error {
                errno: libc::EPROTO
            }
        )
    );
    assert_eq!(
        exchange(
            &Request::Version {
                version: PROTOCOL_VERSION
            }
            .encode(2)
        ),
        (
            2,
            Response::Version {
                version: PROTOCOL_VERSION
            }
        )
    );
    // Garbage with a readable tag gets an EPROTO answer under that tag; the channel survives.
    assert_eq!(
        exchange(&[9, 0, 0, 0, 0xff, 0x7f, 1, 2]),
        (
            9,
            Response::Error {
                errno: libc::EPROTO
            }
        )
    );
    assert!(matches!(
        exchange(&Request::Attach.encode(3)),
        (3, Response::Node { .. })
    ));
    drop(cs);
    h.join().unwrap().unwrap();
}

#[test]
fn serve_fails_cleanly_on_a_missing_root() {
    let t = TempTree::new("missing");
    let config = gofer::server::ServerConfig {
        root: t.join("nope"),
        read_only: true,
    };
    let err = gofer::server::serve(&config, vec![]).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn writable_server_mutations() {
    let t = TempTree::standard("rw");
    let s = serve(&t.path, false);
    let c = s.client();
    let (root, _) = c.attach().unwrap();

    // create + write through the donated fd.
    let (n, st, fd) = c
        .create(root, b"new.txt", libc::O_RDWR, 0o640, u32::MAX, u32::MAX)
        .unwrap();
    assert_eq!(st.mode, libc::S_IFREG | 0o640 & !current_umask());
    let mut f = std::fs::File::from(fd);
    f.write_all(b"written").unwrap();
    assert_eq!(std::fs::read(t.join("new.txt")).unwrap(), b"written");
    assert_eq!(
        remote(c.create(root, b"new.txt", libc::O_RDWR, 0o640, 0, 0)),
        Errno::EEXIST
    );
    // create never follows a symlink at the final component.
    assert_eq!(
        remote(c.create(root, b"evil_abs", libc::O_RDWR, 0o640, 0, 0)),
        Errno::EEXIST
    );

    // open for write, O_TRUNC and O_APPEND.
    let mut w = std::fs::File::from(c.open(n, libc::O_WRONLY | libc::O_TRUNC).unwrap());
    w.write_all(b"abc").unwrap();
    let mut ap = std::fs::File::from(c.open(n, libc::O_WRONLY | libc::O_APPEND).unwrap());
    ap.write_all(b"def").unwrap();
    assert_eq!(std::fs::read(t.join("new.txt")).unwrap(), b"abcdef");

    // setattr: size, mode, times.
    let attr = SetAttr {
        mask: SetAttr::SIZE | SetAttr::MODE | SetAttr::ATIME | SetAttr::MTIME,
        size: 2,
        mode: 0o600,
        atime: gofer::Timespec { sec: 1000, nsec: 5 },
        mtime: gofer::Timespec { sec: 2000, nsec: 7 },
        ..SetAttr::default()
    };
    let st = c.setattr(n, attr).unwrap();
    assert_eq!(st.size, 2);
    assert_eq!(st.mode, libc::S_IFREG | 0o600);
    assert_eq!((st.mtime.sec, st.mtime.nsec), (2000, 7));
    assert_eq!((st.atime.sec, st.atime.nsec), (1000, 5));
    assert_stat_matches(&st, &t.join("new.txt"));
    assert_eq!(
        remote(c.setattr(
            n,
            SetAttr {
                mask: 1 << 20,
                ..SetAttr::default()
            }
        )),
        Errno::EINVAL
    );

    // mkdir, symlink, link, mknod.
    let (d, dst) = c.mkdir(root, b"dir", 0o750, u32::MAX, u32::MAX).unwrap();
    assert_eq!(dst.mode & libc::S_IFMT, libc::S_IFDIR);
    let (l, lst) = c
        .symlink(d, b"sl", b"../new.txt", u32::MAX, u32::MAX)
        .unwrap();
    assert_eq!(lst.mode & libc::S_IFMT, libc::S_IFLNK);
    assert_eq!(c.readlink(l).unwrap(), b"../new.txt");
    assert_eq!(remote(c.open(l, libc::O_RDONLY)), Errno::ELOOP);
    let (_h, hst) = c.link(d, b"hard", n).unwrap();
    assert_eq!(hst.ino, st.ino);
    assert_eq!(hst.nlink, 2);
    let (_p, pst) = c
        .mknod(d, b"fifo", libc::S_IFIFO | 0o600, u32::MAX, u32::MAX)
        .unwrap();
    assert_eq!(pst.mode & libc::S_IFMT, libc::S_IFIFO);
    assert_eq!(
        remote(c.mknod(d, b"dev", libc::S_IFCHR | 0o600, 0, 0)),
        Errno::EPERM
    );
    // A fifo node does not open through the gofer (it would block the server).
    let (p, _) = c.walk(d, b"fifo").unwrap();
    assert_eq!(
        remote(c.open(p, libc::O_RDONLY | libc::O_NONBLOCK)),
        Errno::ENXIO
    );

    // rename and unlink.
    c.rename(d, b"hard", root, b"moved", 0).unwrap();
    assert!(t.join("moved").exists());
    assert_eq!(
        remote(c.rename(root, b"moved", root, b"top.txt", libc::RENAME_NOREPLACE)),
        Errno::EEXIST
    );
    c.unlink(root, b"moved", 0).unwrap();
    assert!(!t.join("moved").exists());
    assert_eq!(remote(c.unlink(root, b"dir", 0)), Errno::EISDIR);
    assert_eq!(
        remote(c.unlink(root, b"dir", libc::AT_REMOVEDIR)),
        Errno::ENOTEMPTY
    );
    c.unlink(d, b"sl", 0).unwrap();
    c.unlink(d, b"fifo", 0).unwrap();
    c.unlink(root, b"dir", libc::AT_REMOVEDIR).unwrap();
    assert!(!t.join("dir").exists());

    // xattrs: listing works; a missing attribute is ENODATA; symlinks have none.
    assert!(c.listxattr(n).is_ok());
    assert_eq!(remote(c.getxattr(n, b"user.nope")), Errno::ENODATA);
    let (e, _) = c.walk(root, b"evil_abs").unwrap();
    assert_eq!(c.listxattr(e).unwrap(), Vec::<Vec<u8>>::new());

    // The open file kept working throughout.
    f.rewind().unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "ab");
    let _ = w.as_fd();
}

fn current_umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
}

#[test]
fn serve_all_serves_each_mount_on_its_own_channels() {
    use gofer::server::{Server, ServerConfig};
    use gofer::GoferClient;
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

    let ro = TempTree::standard("all-ro");
    let rw = TempTree::standard("all-rw");
    let mut mounts = Vec::new();
    let mut clients = Vec::new();
    for (t, read_only) in [(&ro, true), (&rw, false)] {
        let (c, s) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let server = Server::new(&ServerConfig {
            root: t.path.clone(),
            read_only,
        })
        .unwrap();
        mounts.push((server, vec![s]));
        clients.push(GoferClient::new(c));
    }
    let h = std::thread::spawn(move || Server::serve_all(mounts));
    let (ro_root, _) = clients[0].attach().unwrap();
    let (rw_root, _) = clients[1].attach().unwrap();
    assert_eq!(
        remote(clients[0].mkdir(ro_root, b"d", 0o755, 0, 0)),
        Errno::EROFS
    );
    clients[1].mkdir(rw_root, b"d", 0o755, 0, 0).unwrap();
    assert!(rw.join("d").is_dir() && !ro.join("d").exists());
    drop(clients);
    h.join().unwrap().unwrap();
}

#[test]
fn a_single_file_served_as_the_root() {
    let t = TempTree::standard("fileroot");
    let path = t.join("top.txt");
    // Read-write: the root node itself is read, written, stat'ed and changed.
    let s = serve(&path, false);
    let c = s.client();
    let (root, st) = c.attach().unwrap();
    assert_stat_matches(&st, &path);
    assert_eq!(st.mode & libc::S_IFMT, libc::S_IFREG);
    assert_eq!(remote(c.walk(root, b"x")), Errno::ENOTDIR);
    assert_eq!(remote(c.getdents(root)), Errno::ENOTDIR);
    assert_eq!(
        remote(c.create(root, b"new", libc::O_RDWR, 0o644, u32::MAX, u32::MAX)),
        Errno::ENOTDIR
    );
    let mut r = std::fs::File::from(c.open(root, libc::O_RDONLY).unwrap());
    let mut text = String::new();
    r.read_to_string(&mut text).unwrap();
    assert_eq!(text, "top");
    let mut w = std::fs::File::from(c.open(root, libc::O_WRONLY | libc::O_APPEND).unwrap());
    w.write_all(b" more").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"top more");
    let attr = SetAttr {
        mask: SetAttr::SIZE | SetAttr::MODE,
        size: 3,
        mode: 0o600,
        ..SetAttr::default()
    };
    let st = c.setattr(root, attr).unwrap();
    assert_eq!((st.size, st.mode & 0o7777), (3, 0o600));
    assert_stat_matches(&c.stat(root).unwrap(), &path);
    drop(s);
    // Read-only: refused with EROFS, the file untouched.
    let s = serve(&path, true);
    let c = s.client();
    let (root, _) = c.attach().unwrap();
    assert_eq!(remote(c.open(root, libc::O_WRONLY)), Errno::EROFS);
    let attr = SetAttr {
        mask: SetAttr::SIZE,
        size: 0,
        ..SetAttr::default()
    };
    assert_eq!(remote(c.setattr(root, attr)), Errno::EROFS);
    assert_eq!(std::fs::read(&path).unwrap(), b"top");
}
