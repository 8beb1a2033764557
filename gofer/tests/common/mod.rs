//! Test fixture: a temporary host tree served by an in-process gofer over a socketpair.

#![allow(dead_code)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;

use gofer::server::{ServerConfig, ServerError};
use gofer::GoferClient;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

/// A uniquely named directory under the system temp dir, removed on drop.
pub struct TempTree {
    pub path: PathBuf,
}

impl TempTree {
    pub fn new(tag: &str) -> TempTree {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let path = std::env::temp_dir().join(format!(
            "gofer-test-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&path).unwrap();
        TempTree { path }
    }

    /// The standard tree used by most tests.
    pub fn standard(tag: &str) -> TempTree {
        let t = TempTree::new(tag);
        let p = &t.path;
        std::fs::create_dir_all(p.join("a/b/c")).unwrap();
        std::fs::write(p.join("a/b/c/file.txt"), b"hello gofer").unwrap();
        std::fs::write(p.join("top.txt"), b"top").unwrap();
        std::fs::create_dir(p.join("empty")).unwrap();
        symlink("b/c/file.txt", p.join("a/link_to_file")).unwrap();
        symlink("/etc/passwd", p.join("evil_abs")).unwrap();
        symlink("../..", p.join("evil_up")).unwrap();
        symlink("/", p.join("evil_root")).unwrap();
        t
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A client connected to a server thread serving `root`.
pub struct Served {
    pub client: Option<GoferClient>,
    server: Option<JoinHandle<Result<(), ServerError>>>,
}

impl Served {
    pub fn client(&self) -> &GoferClient {
        self.client.as_ref().unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        drop(self.client.take());
        if let Some(h) = self.server.take() {
            let r = h.join().unwrap();
            if !std::thread::panicking() {
                r.unwrap();
            }
        }
    }
}

pub fn serve(root: &Path, read_only: bool) -> Served {
    let (c, s) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .unwrap();
    let config = ServerConfig {
        root: root.to_path_buf(),
        read_only,
    };
    let server = std::thread::spawn(move || gofer::server::serve(&config, vec![s]));
    Served {
        client: Some(GoferClient::new(c)),
        server: Some(server),
    }
}

/// Walks a slash-separated relative path one component at a time.
pub fn walk_path(
    c: &GoferClient,
    root: gofer::NodeId,
    path: &str,
) -> Result<(gofer::NodeId, gofer::Stat), gofer::GoferError> {
    let mut cur = (root, c.stat(root)?);
    for comp in path.split('/').filter(|s| !s.is_empty()) {
        cur = c.walk(cur.0, comp.as_bytes())?;
    }
    Ok(cur)
}
