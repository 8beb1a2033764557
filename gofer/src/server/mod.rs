//! The gofer server run by `runsc gofer`: serves one host directory tree over gofer channels, in
//! the role of gVisor's lisafs server (`pkg/lisafs/server.go`, `runsc/fsgofer/lisafs.go`).
//!
//! Security model: the root is opened once; every node is an `O_PATH` fd reached from it by
//! `openat(dir, name, O_PATH|O_NOFOLLOW)` one validated component at a time, so no host symlink
//! and no ".." is ever followed here (symlinks are resolved by the sentry). Files are opened by
//! reopening a node's inode (`/proc/self/fd/N` for regular files, "." for directories); symlink
//! nodes never open (`ELOOP`), device/fifo/socket nodes never open (`ENXIO`). A read-only server
//! answers `EROFS` to every write open and every mutating request.
//!
//! Host unix sockets (`runsc --host-uds=open`, gVisor's `--host-uds`): a server made with
//! [`Server::with_host_uds`] answers `ConnectUnix` on a socket node with a host socket it
//! connected to that inode (through the node's own fd, never a path; see
//! `sys::connect_unix`); any other server, and any other node type (a symlink included), is
//! `ECONNREFUSED`.
//!
//! Use (as `runsc gofer` does): `let s = Server::new(&config)?; confine(&ConfineOptions::default())?;
//! s.serve(channels)`. [`serve`] is `Server::new` + `Server::serve` in one call; it also works
//! after `confine` (opening the root only needs `openat`).
//!
//! Lock order: `Server::nodes` is the only lock; it is held only to look up, insert or remove a
//! node, never across a host call.

mod seccomp;
mod sys;

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use nix::errno::Errno;
use thiserror::Error;

pub use seccomp::{confine, confine_with, ConfineOptions};

use crate::proto::{
    dirent_wire_len, frame_tag, DirEntry, NodeId, Request, Response, SetAttr, Stat, StatFs,
    Timespec, HEADER_LEN, MAX_MESSAGE, MAX_NAME, PROTOCOL_VERSION,
};
use sys::TimeSet;

/// What to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The host directory served as the mount's root.
    pub root: PathBuf,
    /// Refuse every write open and mutating request with `EROFS`.
    pub read_only: bool,
}

/// Why the server could not start or a channel failed.
#[derive(Debug, Error)]
pub enum ServerError {
    #[error("gofer: open root {path:?}: {source}")]
    OpenRoot { path: PathBuf, source: Errno },
    #[error("gofer: open /proc/self/fd: {0}")]
    ProcSelfFd(Errno),
    #[error("gofer: channel {channel}: {source}")]
    Channel { channel: usize, source: Errno },
    #[error("gofer: channel {channel}: server thread panicked")]
    ChannelPanicked { channel: usize },
    #[error("gofer: start channel thread: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("gofer: seccomp filter: {0}")]
    Seccomp(#[source] seccompiler::Error),
}

/// Serves until every channel's peer hangs up (see [`Server::serve`]).
pub fn serve(config: &ServerConfig, channels: Vec<OwnedFd>) -> Result<(), ServerError> {
    Server::new(config)?.serve(channels)
}

/// Most live nodes across all channels; beyond it walks fail with `ENFILE`.
const MAX_NODES: usize = 1 << 20;

/// Open flags a client may pass to `Open`/`Create`; anything else (`O_CREAT`, `O_PATH`,
/// `O_TMPFILE`, ...) is `EINVAL`.
const OPEN_ALLOWED: i32 = libc::O_ACCMODE
    | libc::O_APPEND
    | libc::O_TRUNC
    | libc::O_DIRECTORY
    | libc::O_NONBLOCK
    | libc::O_DSYNC
    | libc::O_SYNC
    | libc::O_DIRECT
    | libc::O_NOATIME
    | libc::O_LARGEFILE
    | libc::O_NOCTTY
    | libc::O_CLOEXEC
    | libc::O_NOFOLLOW;

/// A file known to the server.
#[derive(Debug)]
struct Node {
    /// `O_PATH|O_NOFOLLOW` fd of the inode.
    fd: OwnedFd,
    /// `S_IFMT` bits; an inode's type never changes.
    file_type: u32,
}

#[derive(Debug, Default)]
struct NodeTable {
    map: HashMap<u64, Arc<Node>>,
    next: u64,
}

/// Per-channel state.
#[derive(Debug, Default)]
struct Session {
    versioned: bool,
    /// Snapshot of the directory being listed by `Getdents` pages.
    dirents: Option<(NodeId, Vec<DirEntry>)>,
}

/// An opened server: the root and `/proc/self/fd` are open, so it can be confined before serving.
#[derive(Debug)]
pub struct Server {
    root: OwnedFd,
    /// The root's file type (`S_IFDIR`, or `S_IFREG` for a bind mount of a single file).
    root_type: u32,
    proc_self_fd: OwnedFd,
    read_only: bool,
    /// `ConnectUnix` is served (`runsc --host-uds=open`); otherwise it is ECONNREFUSED.
    host_uds: bool,
    nodes: Mutex<NodeTable>,
}

/// A validated single path component.
fn component(name: &[u8]) -> Result<CString, Errno> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
        return Err(Errno::EINVAL);
    }
    if name.len() > MAX_NAME {
        return Err(Errno::ENAMETOOLONG);
    }
    CString::new(name).map_err(|_| Errno::EINVAL)
}

/// The name of `fd` under `/proc/self/fd`.
fn fd_name(fd: BorrowedFd<'_>) -> CString {
    use std::os::fd::AsRawFd;
    CString::new(fd.as_raw_fd().to_string()).expect("invariant: decimal digits contain no NUL")
}

fn to_stat(st: &libc::stat) -> Stat {
    Stat {
        dev: st.st_dev,
        ino: st.st_ino,
        mode: st.st_mode,
        nlink: st.st_nlink,
        uid: st.st_uid,
        gid: st.st_gid,
        rdev: st.st_rdev,
        size: st.st_size,
        blksize: st.st_blksize,
        blocks: st.st_blocks,
        atime: Timespec {
            sec: st.st_atime,
            nsec: st.st_atime_nsec,
        },
        mtime: Timespec {
            sec: st.st_mtime,
            nsec: st.st_mtime_nsec,
        },
        ctime: Timespec {
            sec: st.st_ctime,
            nsec: st.st_ctime_nsec,
        },
    }
}

fn to_statfs(s: &libc::statfs64) -> StatFs {
    StatFs {
        fs_type: s.f_type,
        bsize: s.f_bsize,
        blocks: s.f_blocks,
        bfree: s.f_bfree,
        bavail: s.f_bavail,
        files: s.f_files,
        ffree: s.f_ffree,
        namelen: s.f_namelen,
        frsize: s.f_frsize,
        flags: s.f_flags,
    }
}

/// Checks client open flags against the node type and the read-only policy; returns the flags to
/// pass to the host (without `O_NOFOLLOW`, which the reopen must not carry).
fn open_flags(flags: i32, file_type: u32, read_only: bool) -> Result<i32, Errno> {
    if flags & !OPEN_ALLOWED != 0 || flags & libc::O_ACCMODE == libc::O_ACCMODE {
        return Err(Errno::EINVAL);
    }
    let acc = flags & libc::O_ACCMODE;
    match file_type {
        libc::S_IFLNK => return Err(Errno::ELOOP),
        libc::S_IFDIR if acc != libc::O_RDONLY => return Err(Errno::EISDIR),
        libc::S_IFDIR => {}
        _ if flags & libc::O_DIRECTORY != 0 => return Err(Errno::ENOTDIR),
        libc::S_IFREG => {}
        _ => return Err(Errno::ENXIO),
    }
    if read_only && (acc != libc::O_RDONLY || flags & libc::O_TRUNC != 0) {
        return Err(Errno::EROFS);
    }
    Ok((flags & !(libc::O_NOFOLLOW | libc::O_CLOEXEC)) | libc::O_NOCTTY)
}

impl Server {
    /// Opens `config.root` (a directory, or a single file: a bind mount of a file, whose
    /// walks are then `ENOTDIR`) and `/proc/self/fd`. Call before [`confine`].
    pub fn new(config: &ServerConfig) -> Result<Server, ServerError> {
        let path = CString::new(config.root.as_os_str().as_bytes()).map_err(|_| {
            ServerError::OpenRoot {
                path: config.root.clone(),
                source: Errno::EINVAL,
            }
        })?;
        let open_err = |source| ServerError::OpenRoot {
            path: config.root.clone(),
            source,
        };
        let root = sys::open_path(&path, libc::O_PATH).map_err(open_err)?;
        let root_type = sys::fstat(root.as_fd()).map_err(open_err)?.st_mode & libc::S_IFMT;
        let proc_self_fd = sys::open_path(c"/proc/self/fd", libc::O_PATH | libc::O_DIRECTORY)
            .map_err(ServerError::ProcSelfFd)?;
        Ok(Server {
            root,
            root_type,
            proc_self_fd,
            read_only: config.read_only,
            host_uds: false,
            nodes: Mutex::new(NodeTable::default()),
        })
    }

    /// Serves `ConnectUnix` (connects to host unix sockets in the tree) when `allow`; the
    /// process must then be confined with [`confine_with`]`(.., true)`.
    pub fn with_host_uds(mut self, allow: bool) -> Server {
        self.host_uds = allow;
        self
    }

    /// Serves every channel until all peers hang up: the last one on the calling thread, every
    /// other one on a thread of its own (an idle gofer of one channel then has no extra thread,
    /// stack or malloc arena). Returns the first channel failure (after all channels have
    /// ended).
    pub fn serve(&self, channels: Vec<OwnedFd>) -> Result<(), ServerError> {
        let serve_one = |channel: usize, sock: OwnedFd| {
            self.serve_channel(sock.as_fd())
                .map_err(|source| ServerError::Channel { channel, source })
        };
        run_last_inline(
            channels.into_iter().enumerate().collect(),
            |(channel, sock)| serve_one(channel, sock),
            |(channel, _)| ServerError::ChannelPanicked { channel: *channel },
        )
    }

    /// Serves several mounts at once (the root and each bind mount, every one a `Server` with
    /// its own channels) until all peers hang up, the last mount on the calling thread.
    /// Returns the first failure.
    pub fn serve_all(mounts: Vec<(Server, Vec<OwnedFd>)>) -> Result<(), ServerError> {
        let (servers, channels): (Vec<Server>, Vec<Vec<OwnedFd>>) = mounts.into_iter().unzip();
        // Set-up is over (roots open, process confined): its garbage goes back to the host.
        sys::trim_heap();
        run_last_inline(
            servers.iter().zip(channels).collect(),
            |(server, channels)| server.serve(channels),
            |_| ServerError::ChannelPanicked { channel: 0 },
        )
    }

    fn serve_channel(&self, sock: BorrowedFd<'_>) -> Result<(), Errno> {
        let mut session = Session::default();
        let mut buf = crate::sys::RecvBuf::new(MAX_MESSAGE);
        loop {
            let rx = match crate::sys::recv_frame(sock, &mut buf) {
                Ok(rx) => rx,
                Err(Errno::ECONNRESET) => return Ok(()),
                Err(e) => return Err(e),
            };
            // Fds sent to the server are never used; dropping them closes them.
            drop(rx.fds);
            if rx.len == 0 {
                return Ok(());
            }
            let frame = buf.get(..rx.len).ok_or(Errno::EIO)?;
            let decoded = if rx.truncated {
                None
            } else {
                Request::decode(frame).ok()
            };
            let (tag, reply) = match decoded {
                Some((tag, req)) => {
                    if !req.expects_response() {
                        let _ = self.handle(&mut session, req);
                        continue;
                    }
                    (tag, self.handle(&mut session, req))
                }
                None => match frame_tag(frame) {
                    Some(tag) => (tag, Err(Errno::EPROTO)),
                    None => continue,
                },
            };
            let (resp, fd) = reply.unwrap_or_else(|e| (Response::Error { errno: e as i32 }, None));
            let mut out = resp.encode(tag);
            let mut fd = fd;
            if out.len() > MAX_MESSAGE {
                out = Response::Error {
                    errno: Errno::E2BIG as i32,
                }
                .encode(tag);
                fd = None;
            }
            match crate::sys::send_frame(sock, &out, fd.as_ref().map(|f| f.as_fd())) {
                Ok(()) => {}
                Err(Errno::EPIPE | Errno::ECONNRESET) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    fn lock_nodes(&self) -> MutexGuard<'_, NodeTable> {
        // The table is consistent after every operation, so a poisoned lock is still usable.
        self.nodes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn node(&self, id: NodeId) -> Result<Arc<Node>, Errno> {
        self.lock_nodes()
            .map
            .get(&id.0)
            .cloned()
            .ok_or(Errno::EBADF)
    }

    /// Registers an `O_PATH` fd as a new node; returns its id and attributes.
    fn insert(&self, fd: OwnedFd) -> Result<(NodeId, Stat), Errno> {
        let st = sys::fstat(fd.as_fd())?;
        let mut t = self.lock_nodes();
        if t.map.len() >= MAX_NODES {
            return Err(Errno::ENFILE);
        }
        t.next += 1;
        let id = t.next;
        t.map.insert(
            id,
            Arc::new(Node {
                fd,
                file_type: st.st_mode & libc::S_IFMT,
            }),
        );
        Ok((NodeId(id), to_stat(&st)))
    }

    /// `dir/name` as a new node, never following a symlink.
    fn walk(&self, dir: &Node, name: &CString) -> Result<(NodeId, Stat), Errno> {
        let fd = sys::openat(dir.fd.as_fd(), name, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        self.insert(fd)
    }

    /// Opens the node's inode with host `flags` (already checked by [`open_flags`]).
    fn reopen(&self, node: &Node, flags: i32) -> Result<OwnedFd, Errno> {
        match node.file_type {
            libc::S_IFDIR => sys::openat(node.fd.as_fd(), c".", flags | libc::O_DIRECTORY, 0),
            libc::S_IFREG => sys::openat(
                self.proc_self_fd.as_fd(),
                &fd_name(node.fd.as_fd()),
                flags,
                0,
            ),
            libc::S_IFLNK => Err(Errno::ELOOP),
            _ => Err(Errno::ENXIO),
        }
    }

    fn writable(&self) -> Result<(), Errno> {
        if self.read_only {
            Err(Errno::EROFS)
        } else {
            Ok(())
        }
    }

    /// Chowns a new file to the caller's ids where the gofer is allowed to (`EPERM` is ignored:
    /// an unprivileged gofer keeps its own ids).
    fn chown_new(&self, fd: BorrowedFd<'_>, uid: u32, gid: u32) -> Result<(), Errno> {
        if uid == u32::MAX && gid == u32::MAX {
            return Ok(());
        }
        match sys::fchown(fd, uid, gid) {
            Ok(()) | Err(Errno::EPERM) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Handles one request for the channel `session`.
    fn handle(
        &self,
        session: &mut Session,
        req: Request,
    ) -> Result<(Response, Option<OwnedFd>), Errno> {
        if !session.versioned {
            return match req {
                Request::Version { version } if version >= 1 => {
                    session.versioned = true;
                    Ok((
                        Response::Version {
                            version: version.min(PROTOCOL_VERSION),
                        },
                        None,
                    ))
                }
                Request::Version { .. } => Err(Errno::EPROTONOSUPPORT),
                _ => Err(Errno::EPROTO),
            };
        }
        let done = |r: Response| Ok((r, None));
        match req {
            Request::Version { .. } => Err(Errno::EPROTO),
            Request::Attach => {
                let fd = if self.root_type == libc::S_IFDIR {
                    sys::openat(self.root.as_fd(), c".", libc::O_PATH | libc::O_DIRECTORY, 0)?
                } else {
                    // A file root: a fresh O_PATH fd on the same inode, through /proc.
                    sys::openat(
                        self.proc_self_fd.as_fd(),
                        &fd_name(self.root.as_fd()),
                        libc::O_PATH,
                        0,
                    )?
                };
                let (node, stat) = self.insert(fd)?;
                done(Response::Node { node, stat })
            }
            Request::Walk { dir, name } => {
                let name = component(&name)?;
                let (node, stat) = self.walk(&*self.node(dir)?, &name)?;
                done(Response::Node { node, stat })
            }
            Request::Stat { node } => done(Response::Stat(to_stat(&sys::fstat(
                self.node(node)?.fd.as_fd(),
            )?))),
            Request::Open { node, flags } => {
                let n = self.node(node)?;
                let host_flags = open_flags(flags, n.file_type, self.read_only)?;
                Ok((Response::Opened, Some(self.reopen(&n, host_flags)?)))
            }
            Request::Readlink { node } => {
                let n = self.node(node)?;
                if n.file_type != libc::S_IFLNK {
                    return Err(Errno::EINVAL);
                }
                done(Response::Target(sys::readlink(n.fd.as_fd())?))
            }
            Request::Getdents { dir, offset } => done(self.getdents(session, dir, offset)?),
            Request::StatFs { node } => done(Response::StatFs(to_statfs(&sys::fstatfs(
                self.node(node)?.fd.as_fd(),
            )?))),
            Request::Close { node } => {
                if session.dirents.as_ref().is_some_and(|(d, _)| *d == node) {
                    session.dirents = None;
                }
                self.lock_nodes().map.remove(&node.0);
                done(Response::Ok)
            }
            Request::Create {
                dir,
                name,
                flags,
                mode,
                uid,
                gid,
            } => {
                self.writable()?;
                let name = component(&name)?;
                if flags & !OPEN_ALLOWED != 0
                    || flags & libc::O_ACCMODE == libc::O_ACCMODE
                    || flags & libc::O_DIRECTORY != 0
                {
                    return Err(Errno::EINVAL);
                }
                let d = self.node(dir)?;
                let host_flags = (flags & !libc::O_CLOEXEC)
                    | libc::O_CREAT
                    | libc::O_EXCL
                    | libc::O_NOFOLLOW
                    | libc::O_NOCTTY;
                let file = sys::openat(d.fd.as_fd(), &name, host_flags, mode & 0o7777)?;
                // The node is the very inode just created, reached through our own fd.
                let path_fd = sys::openat(
                    self.proc_self_fd.as_fd(),
                    &fd_name(file.as_fd()),
                    libc::O_PATH,
                    0,
                )?;
                self.chown_new(path_fd.as_fd(), uid, gid)?;
                let (node, stat) = self.insert(path_fd)?;
                Ok((Response::Created { node, stat }, Some(file)))
            }
            Request::Mkdir {
                dir,
                name,
                mode,
                uid,
                gid,
            } => {
                self.writable()?;
                let name = component(&name)?;
                let d = self.node(dir)?;
                sys::mkdirat(d.fd.as_fd(), &name, mode & 0o7777)?;
                self.new_child(&d, &name, uid, gid)
            }
            Request::Symlink {
                dir,
                name,
                target,
                uid,
                gid,
            } => {
                self.writable()?;
                let name = component(&name)?;
                let target = CString::new(target).map_err(|_| Errno::EINVAL)?;
                let d = self.node(dir)?;
                sys::symlinkat(&target, d.fd.as_fd(), &name)?;
                self.new_child(&d, &name, uid, gid)
            }
            Request::Link { dir, name, target } => {
                self.writable()?;
                let name = component(&name)?;
                let d = self.node(dir)?;
                let t = self.node(target)?;
                if t.file_type == libc::S_IFDIR {
                    return Err(Errno::EPERM);
                }
                match sys::linkat(t.fd.as_fd(), c"", d.fd.as_fd(), &name, libc::AT_EMPTY_PATH) {
                    // Without CAP_DAC_READ_SEARCH, AT_EMPTY_PATH is ENOENT; link through the
                    // /proc magic link instead (linkat(2)). A symlink cannot take that path, as
                    // following it would link the symlink's target.
                    Err(Errno::ENOENT) if t.file_type != libc::S_IFLNK => sys::linkat(
                        self.proc_self_fd.as_fd(),
                        &fd_name(t.fd.as_fd()),
                        d.fd.as_fd(),
                        &name,
                        libc::AT_SYMLINK_FOLLOW,
                    )?,
                    r => r?,
                }
                self.new_child(&d, &name, u32::MAX, u32::MAX)
            }
            Request::Mknod {
                dir,
                name,
                mode,
                uid,
                gid,
            } => {
                self.writable()?;
                let name = component(&name)?;
                let kind = match mode & libc::S_IFMT {
                    0 | libc::S_IFREG => libc::S_IFREG,
                    libc::S_IFIFO => libc::S_IFIFO,
                    _ => return Err(Errno::EPERM),
                };
                let d = self.node(dir)?;
                sys::mknodat(d.fd.as_fd(), &name, kind | (mode & 0o7777))?;
                self.new_child(&d, &name, uid, gid)
            }
            Request::Unlink { dir, name, flags } => {
                self.writable()?;
                let name = component(&name)?;
                if flags & !libc::AT_REMOVEDIR != 0 {
                    return Err(Errno::EINVAL);
                }
                sys::unlinkat(self.node(dir)?.fd.as_fd(), &name, flags)?;
                done(Response::Ok)
            }
            Request::Rename {
                old_dir,
                old_name,
                new_dir,
                new_name,
                flags,
            } => {
                self.writable()?;
                let old_name = component(&old_name)?;
                let new_name = component(&new_name)?;
                if flags & !(libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE) != 0 {
                    return Err(Errno::EINVAL);
                }
                let (od, nd) = (self.node(old_dir)?, self.node(new_dir)?);
                sys::renameat2(od.fd.as_fd(), &old_name, nd.fd.as_fd(), &new_name, flags)?;
                done(Response::Ok)
            }
            Request::Setattr { node, attr } => {
                self.writable()?;
                let n = self.node(node)?;
                self.setattr(&n, &attr)?;
                done(Response::Stat(to_stat(&sys::fstat(n.fd.as_fd())?)))
            }
            Request::Getxattr { node, name } => {
                let name = CString::new(name).map_err(|_| Errno::EINVAL)?;
                let n = self.node(node)?;
                match self.xattr_fd(&n)? {
                    Some(fd) => done(Response::Xattr(sys::fgetxattr(fd.as_fd(), &name)?)),
                    None => Err(Errno::ENODATA),
                }
            }
            Request::Listxattr { node } => {
                let n = self.node(node)?;
                match self.xattr_fd(&n)? {
                    Some(fd) => done(Response::XattrList(sys::flistxattr(fd.as_fd())?)),
                    None => done(Response::XattrList(Vec::new())),
                }
            }
            Request::ConnectUnix { node, sock_type } => {
                if ![libc::SOCK_STREAM, libc::SOCK_SEQPACKET, libc::SOCK_DGRAM].contains(&sock_type)
                {
                    return Err(Errno::EINVAL);
                }
                let n = self.node(node)?;
                if !self.host_uds || n.file_type != libc::S_IFSOCK {
                    return Err(Errno::ECONNREFUSED);
                }
                let sock = sys::connect_unix(self.proc_self_fd.as_fd(), n.fd.as_fd(), sock_type)?;
                Ok((Response::Opened, Some(sock)))
            }
        }
    }

    /// After creating `dir/name`: its node (walked with `O_NOFOLLOW`), chowned to `uid`/`gid`.
    fn new_child(
        &self,
        dir: &Node,
        name: &CString,
        uid: u32,
        gid: u32,
    ) -> Result<(Response, Option<OwnedFd>), Errno> {
        let fd = sys::openat(dir.fd.as_fd(), name, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        self.chown_new(fd.as_fd(), uid, gid)?;
        let (node, stat) = self.insert(fd)?;
        Ok((Response::Node { node, stat }, None))
    }

    fn getdents(&self, session: &mut Session, dir: NodeId, offset: u64) -> Result<Response, Errno> {
        let fresh = offset == 0 || !session.dirents.as_ref().is_some_and(|(d, _)| *d == dir);
        if fresh {
            let n = self.node(dir)?;
            if n.file_type != libc::S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            let dirfd = sys::openat(n.fd.as_fd(), c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
            let mut all = Vec::new();
            sys::getdents(dirfd.as_fd(), &mut all)?;
            session.dirents = Some((dir, all));
        }
        let all = match &session.dirents {
            Some((_, all)) => all,
            None => return Err(Errno::EIO),
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(all.len());
        // Header, `more` flag and count, with slack.
        let budget = MAX_MESSAGE - HEADER_LEN - 64;
        let mut used = 0;
        let mut end = start;
        while let Some(e) = all.get(end) {
            used += dirent_wire_len(e);
            if used > budget {
                break;
            }
            end += 1;
        }
        let entries = all[start..end].to_vec();
        let more = end < all.len();
        if !more {
            session.dirents = None;
        }
        Ok(Response::Dirents { entries, more })
    }

    fn setattr(&self, n: &Node, attr: &SetAttr) -> Result<(), Errno> {
        if attr.mask & !SetAttr::ALL != 0 {
            return Err(Errno::EINVAL);
        }
        if attr.mask & SetAttr::SIZE != 0 {
            match n.file_type {
                libc::S_IFREG => {}
                libc::S_IFDIR => return Err(Errno::EISDIR),
                _ => return Err(Errno::EINVAL),
            }
            let file = self.reopen(n, libc::O_WRONLY | libc::O_NOCTTY)?;
            sys::ftruncate(file.as_fd(), attr.size)?;
        }
        if attr.mask & (SetAttr::UID | SetAttr::GID) != 0 {
            let uid = if attr.mask & SetAttr::UID != 0 {
                attr.uid
            } else {
                u32::MAX
            };
            let gid = if attr.mask & SetAttr::GID != 0 {
                attr.gid
            } else {
                u32::MAX
            };
            sys::fchown(n.fd.as_fd(), uid, gid)?;
        }
        if attr.mask & SetAttr::MODE != 0 {
            if n.file_type == libc::S_IFLNK {
                return Err(Errno::EOPNOTSUPP);
            }
            sys::fchmodat(
                self.proc_self_fd.as_fd(),
                &fd_name(n.fd.as_fd()),
                attr.mode & 0o7777,
            )?;
        }
        let time = |now: u32, set: u32, t: Timespec| {
            if attr.mask & now != 0 {
                TimeSet::Now
            } else if attr.mask & set != 0 {
                TimeSet::At(t)
            } else {
                TimeSet::Omit
            }
        };
        let atime = time(SetAttr::ATIME_NOW, SetAttr::ATIME, attr.atime);
        let mtime = time(SetAttr::MTIME_NOW, SetAttr::MTIME, attr.mtime);
        if !matches!((atime, mtime), (TimeSet::Omit, TimeSet::Omit)) {
            sys::utimensat(
                n.fd.as_fd(),
                c"",
                atime,
                mtime,
                libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            )?;
        }
        Ok(())
    }

    /// A readable fd for xattr calls (which refuse O_PATH fds), or `None` for a symlink.
    fn xattr_fd(&self, n: &Node) -> Result<Option<OwnedFd>, Errno> {
        match n.file_type {
            libc::S_IFLNK => Ok(None),
            libc::S_IFREG | libc::S_IFDIR => self
                .reopen(n, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY)
                .map(Some),
            _ => Err(Errno::EOPNOTSUPP),
        }
    }
}

/// Runs `work` on every item, all but the last on scoped threads of their own and the last on
/// the calling thread, then joins them. Returns the first failure in item order; a panicking
/// item fails with `panicked(item)`.
fn run_last_inline<T: Send>(
    mut items: Vec<T>,
    work: impl Fn(T) -> Result<(), ServerError> + Sync,
    panicked: impl Fn(&T) -> ServerError,
) -> Result<(), ServerError> {
    let Some(last) = items.pop() else {
        return Ok(());
    };
    let last_panicked = panicked(&last);
    let work = &work;
    std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(items.len());
        for item in items {
            let failed = panicked(&item);
            let h = std::thread::Builder::new()
                .spawn_scoped(s, move || work(item))
                .map_err(ServerError::Spawn)?;
            handles.push((h, failed));
        }
        let inline = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(last)))
            .unwrap_or(Err(last_panicked));
        let mut result = Ok(());
        for (h, failed) in handles {
            let r = h.join().unwrap_or(Err(failed));
            if result.is_ok() {
                result = r;
            }
        }
        result.and(inline)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_last_inline_runs_the_last_item_on_the_caller_and_reports_in_order() {
        let caller = std::thread::current().id();
        let ran = Mutex::new(Vec::new());
        let r = run_last_inline(
            vec![0usize, 1, 2],
            |i| {
                ran.lock()
                    .unwrap()
                    .push((i, std::thread::current().id() == caller));
                match i {
                    0 => Ok(()),
                    _ => Err(ServerError::Channel {
                        channel: i,
                        source: Errno::EIO,
                    }),
                }
            },
            |&i| ServerError::ChannelPanicked { channel: i },
        );
        // The first failure in item order, not the first to finish.
        assert!(
            matches!(r, Err(ServerError::Channel { channel: 1, .. })),
            "{r:?}"
        );
        let mut ran = ran.into_inner().unwrap();
        ran.sort();
        assert_eq!(ran, vec![(0, false), (1, false), (2, true)]);
        assert!(
            run_last_inline(Vec::<usize>::new(), |_| unreachable!(), |_| unreachable!()).is_ok()
        );
    }

    #[test]
    fn run_last_inline_turns_a_panic_into_an_error() {
        for items in [vec![7usize], vec![1, 7]] {
            let r = run_last_inline(
                items,
                |i| if i == 7 { panic!("boom") } else { Ok(()) },
                |&i| ServerError::ChannelPanicked { channel: i },
            );
            assert!(
                matches!(r, Err(ServerError::ChannelPanicked { channel: 7 })),
                "{r:?}"
            );
        }
    }

    #[test]
    fn component_rejects_bad_names() {
        for bad in [&b""[..], b".", b"..", b"a/b", b"/", b"a\0b"] {
            assert_eq!(component(bad), Err(Errno::EINVAL), "{bad:?}");
        }
        assert_eq!(component(&[b'x'; MAX_NAME + 1]), Err(Errno::ENAMETOOLONG));
        assert_eq!(component(b"...").unwrap().as_bytes(), b"...");
    }

    /// A fresh server over `root` whose channel session has done its `Version` exchange.
    fn versioned(root: &std::path::Path, host_uds: bool) -> (Server, Session) {
        let server = Server::new(&ServerConfig {
            root: root.to_path_buf(),
            read_only: true,
        })
        .unwrap()
        .with_host_uds(host_uds);
        let mut session = Session::default();
        server
            .handle(&mut session, Request::Version { version: 1 })
            .unwrap();
        (server, session)
    }

    fn walk_to(server: &Server, session: &mut Session, name: &[u8]) -> NodeId {
        let root = match server.handle(session, Request::Attach).unwrap().0 {
            Response::Node { node, .. } => node,
            other => panic!("{other:?}"),
        };
        let req = Request::Walk {
            dir: root,
            name: name.to_vec(),
        };
        match server.handle(session, req).unwrap().0 {
            Response::Node { node, .. } => node,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn connect_unix_reaches_a_host_socket_only_when_allowed_and_never_by_symlink() {
        use std::io::{Read, Write};
        let dir = std::env::temp_dir().join(format!("gofer-uds-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let listener = std::os::unix::net::UnixListener::bind(dir.join("s")).unwrap();
        std::os::unix::fs::symlink(dir.join("s"), dir.join("link")).unwrap();
        std::fs::write(dir.join("file"), b"x").unwrap();
        let connect = |host_uds: bool, name: &[u8], ty: i32| {
            let (server, mut session) = versioned(&dir, host_uds);
            let node = walk_to(&server, &mut session, name);
            let req = Request::ConnectUnix {
                node,
                sock_type: ty,
            };
            server
                .handle(&mut session, req)
                .map(|(r, fd)| (r, fd.unwrap()))
        };
        assert_eq!(
            connect(false, b"s", libc::SOCK_STREAM).err(),
            Some(Errno::ECONNREFUSED)
        );
        assert_eq!(
            connect(true, b"link", libc::SOCK_STREAM).err(),
            Some(Errno::ECONNREFUSED)
        );
        assert_eq!(
            connect(true, b"file", libc::SOCK_STREAM).err(),
            Some(Errno::ECONNREFUSED)
        );
        assert_eq!(connect(true, b"s", 99).err(), Some(Errno::EINVAL));
        assert_eq!(
            connect(true, b"s", libc::SOCK_DGRAM).err(),
            Some(Errno::EPROTOTYPE)
        );
        let (resp, fd) = connect(true, b"s", libc::SOCK_STREAM).unwrap();
        assert_eq!(resp, Response::Opened);
        let (mut peer, _) = listener.accept().unwrap();
        let mut ours = std::os::unix::net::UnixStream::from(fd);
        ours.set_nonblocking(false).unwrap();
        ours.write_all(b"ping").unwrap();
        let mut b = [0u8; 4];
        peer.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ping");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn open_flags_policy() {
        let reg = libc::S_IFREG;
        assert_eq!(
            open_flags(libc::O_RDONLY, libc::S_IFLNK, false),
            Err(Errno::ELOOP)
        );
        assert_eq!(open_flags(libc::O_WRONLY, reg, true), Err(Errno::EROFS));
        assert_eq!(
            open_flags(libc::O_RDONLY | libc::O_TRUNC, reg, true),
            Err(Errno::EROFS)
        );
        assert_eq!(
            open_flags(libc::O_RDONLY | libc::O_CREAT, reg, false),
            Err(Errno::EINVAL)
        );
        assert_eq!(open_flags(libc::O_PATH, reg, false), Err(Errno::EINVAL));
        assert_eq!(open_flags(libc::O_ACCMODE, reg, false), Err(Errno::EINVAL));
        assert_eq!(
            open_flags(libc::O_RDWR, libc::S_IFDIR, false),
            Err(Errno::EISDIR)
        );
        assert_eq!(
            open_flags(libc::O_RDONLY | libc::O_DIRECTORY, reg, false),
            Err(Errno::ENOTDIR)
        );
        assert_eq!(
            open_flags(libc::O_RDONLY, libc::S_IFCHR, false),
            Err(Errno::ENXIO)
        );
        assert_eq!(
            open_flags(
                libc::O_RDWR | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                reg,
                false
            ),
            Ok(libc::O_RDWR | libc::O_NOCTTY)
        );
    }
}
