//! The gofer's seccomp allowlist (seccomp(2)) is enough to serve every request: a server thread
//! confines itself (and the channel threads it starts) and then answers a full workload. Any
//! syscall missing from the list kills this test process with SIGSYS. Its own test binary, so
//! the filter never touches other tests.

mod common;

use std::io::{Read, Write};

use common::{walk_path, TempTree};
use gofer::server::{confine, ConfineOptions, Server, ServerConfig};
use gofer::{GoferClient, SetAttr};
use nix::errno::Errno;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

#[test]
fn confined_server_serves_everything() {
    let t = TempTree::standard("confine");
    let (cs, ss) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .unwrap();
    let (cs2, ss2) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .unwrap();
    let config = ServerConfig {
        root: t.path.clone(),
        read_only: false,
    };
    let h = std::thread::spawn(move || {
        let server = Server::new(&config)?;
        confine(&ConfineOptions {
            all_threads: false,
            log_only: false,
        })?;
        server.serve(vec![ss, ss2])
    });
    let c = GoferClient::new(cs);
    let (root, _) = c.attach().unwrap();
    let (f, _) = walk_path(&c, root, "a/b/c/file.txt").unwrap();
    let mut s = String::new();
    std::fs::File::from(c.open(f, libc::O_RDONLY).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "hello gofer");
    assert_eq!(c.getdents(root).unwrap().len(), 6);
    assert!(c.statfs(root).is_ok());
    let (l, _) = c.walk(root, b"evil_abs").unwrap();
    assert_eq!(c.readlink(l).unwrap(), b"/etc/passwd");
    assert_eq!(c.open(l, libc::O_RDONLY).unwrap_err().errno(), Errno::ELOOP);
    let (n, _, fd) = c.create(root, b"n", libc::O_WRONLY, 0o644, 0, 0).unwrap();
    std::fs::File::from(fd).write_all(b"x").unwrap();
    let (d, _) = c.mkdir(root, b"d", 0o755, 0, 0).unwrap();
    c.symlink(d, b"s", b"t", 0, 0).unwrap();
    c.link(d, b"h", n).unwrap();
    c.mknod(d, b"p", libc::S_IFIFO | 0o600, 0, 0).unwrap();
    c.rename(d, b"h", root, b"h2", 0).unwrap();
    let attr = SetAttr {
        mask: SetAttr::SIZE
            | SetAttr::MODE
            | SetAttr::UID
            | SetAttr::ATIME_NOW
            | SetAttr::MTIME_NOW,
        size: 0,
        mode: 0o600,
        uid: 0,
        ..SetAttr::default()
    };
    assert_eq!(c.setattr(n, attr).unwrap().size, 0);
    assert!(c.listxattr(n).is_ok());
    assert_eq!(
        c.getxattr(n, b"user.none").unwrap_err().errno(),
        Errno::ENODATA
    );
    for name in [&b"h2"[..], b"n"] {
        c.unlink(root, name, 0).unwrap();
    }
    c.close(f);
    // A second channel, served on its own confined thread, sees the same nodes.
    let c2 = GoferClient::new(cs2);
    assert!(c2.stat(root).is_ok());
    drop(c);
    drop(c2);
    h.join().unwrap().unwrap();
}

/// Child half of `forbidden_syscall_kills_the_gofer`; does nothing unless started by it.
#[test]
fn forbidden_syscall_child() {
    // The parent owns the tree: this process dies before it could clean up.
    let Some(root) = std::env::var_os("GOFER_CONFINE_CHILD") else {
        return;
    };
    confine(&ConfineOptions::default()).unwrap();
    // What `runsc gofer` does: confine first, then open the root and serve.
    let server = Server::new(&ServerConfig {
        root: root.into(),
        read_only: true,
    });
    println!("server opened: {}", server.is_ok());
    // socket(2) is not on the list: the kernel kills the process here.
    let r = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    );
    println!("still alive: {r:?}");
}

#[test]
fn forbidden_syscall_kills_the_gofer() {
    use std::os::unix::process::ExitStatusExt;
    let t = TempTree::standard("confine-child");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "forbidden_syscall_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GOFER_CONFINE_CHILD", &t.path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("server opened: true"), "{stdout}");
    assert!(!stdout.contains("still alive"), "{stdout}");
    assert_eq!(out.status.signal(), Some(libc::SIGSYS), "{:?}", out.status);
}
