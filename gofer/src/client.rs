//! Gofer client used by the sentry: typed calls over one `SOCK_SEQPACKET` channel, in the role of
//! gVisor's lisafs client (`pkg/lisafs/client.go`).
//!
//! Lock order: a single `Mutex<Channel>` per client, held for one whole exchange (request and
//! response; the whole listing for `getdents`). Nothing else is locked while it is held.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Mutex, MutexGuard};

use nix::errno::Errno;
use thiserror::Error;

use crate::proto::{
    DirEntry, NodeId, ProtoError, Request, Response, SetAttr, Stat, StatFs, MAX_MESSAGE, MAX_NAME,
    MAX_PATH, PROTOCOL_VERSION,
};
use crate::sys;

/// Why a gofer call failed.
#[derive(Debug, Error)]
pub enum GoferError {
    /// The host operation in the gofer failed with this errno.
    #[error("gofer: {0}")]
    Remote(Errno),
    /// The channel to the gofer failed (hang-up, send or receive error).
    #[error("gofer transport: {0}")]
    Transport(#[source] std::io::Error),
    /// The gofer answered something this client does not understand.
    #[error("gofer protocol: {0}")]
    Protocol(String),
}

impl GoferError {
    /// The errno the application should see: the remote errno, or `EIO` for a broken channel.
    pub fn errno(&self) -> Errno {
        match self {
            GoferError::Remote(e) => *e,
            GoferError::Transport(_) | GoferError::Protocol(_) => Errno::EIO,
        }
    }
}

impl From<ProtoError> for GoferError {
    fn from(e: ProtoError) -> Self {
        GoferError::Protocol(e.to_string())
    }
}

fn transport(e: Errno) -> GoferError {
    GoferError::Transport(std::io::Error::from(e))
}

/// Stale responses (to requests whose caller gave up) skipped before declaring the channel broken.
const MAX_STALE_RESPONSES: usize = 64;

/// One channel's state.
struct Channel {
    sock: OwnedFd,
    next_tag: u32,
    versioned: bool,
    buf: sys::RecvBuf,
}

impl Channel {
    /// One request/response exchange. Performs the version handshake first if needed.
    fn call(&mut self, req: &Request) -> Result<(Response, Option<OwnedFd>), GoferError> {
        if !self.versioned {
            match self.exchange(&Request::Version {
                version: PROTOCOL_VERSION,
            })? {
                (Response::Version { version }, None) if version == PROTOCOL_VERSION => {}
                (Response::Version { version }, None) => {
                    return Err(GoferError::Protocol(format!(
                        "server speaks version {version}"
                    )))
                }
                (other, _) => return Err(unexpected(&other)),
            }
            self.versioned = true;
        }
        self.exchange(req)
    }

    fn exchange(&mut self, req: &Request) -> Result<(Response, Option<OwnedFd>), GoferError> {
        let tag = self.next_tag;
        self.next_tag = self.next_tag.wrapping_add(1);
        let frame = req.encode(tag);
        if frame.len() > MAX_MESSAGE {
            return Err(GoferError::Remote(Errno::ENAMETOOLONG));
        }
        sys::send_frame(self.sock.as_fd(), &frame, None).map_err(transport)?;
        if !req.expects_response() {
            return Ok((Response::Ok, None));
        }
        for _ in 0..MAX_STALE_RESPONSES {
            let rx = sys::recv_frame(self.sock.as_fd(), &mut self.buf).map_err(transport)?;
            if rx.len == 0 {
                return Err(GoferError::Transport(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "gofer hung up",
                )));
            }
            if rx.truncated {
                return Err(GoferError::Protocol("response truncated".into()));
            }
            let (rtag, resp) = Response::decode(&self.buf[..rx.len])?;
            if rtag != tag {
                // An answer to an earlier request (e.g. to a malformed one-way message); skip it.
                continue;
            }
            let mut fds = rx.fds;
            if let Response::Error { errno } = resp {
                return Err(GoferError::Remote(Errno::from_raw(errno)));
            }
            let fd = match (resp.carries_fd(), fds.len()) {
                (true, 1) => fds.pop(),
                (false, 0) => None,
                (want, got) => {
                    return Err(GoferError::Protocol(format!(
                        "{resp:?} came with {got} fds (expected {})",
                        usize::from(want)
                    )))
                }
            };
            return Ok((resp, fd));
        }
        Err(GoferError::Protocol("too many stale responses".into()))
    }
}

fn unexpected(resp: &Response) -> GoferError {
    GoferError::Protocol(format!("unexpected response {resp:?}"))
}

fn check_name(name: &[u8]) -> Result<(), GoferError> {
    if name.len() > MAX_NAME {
        return Err(GoferError::Remote(Errno::ENAMETOOLONG));
    }
    Ok(())
}

/// A connection to a gofer. `Send + Sync`: sentry threads share it; calls are serialized on the
/// channel.
pub struct GoferClient {
    chan: Mutex<Channel>,
}

impl GoferClient {
    /// Wraps a connected `SOCK_SEQPACKET` socket. The version handshake happens on first use.
    pub fn new(sock: OwnedFd) -> GoferClient {
        GoferClient {
            chan: Mutex::new(Channel {
                sock,
                next_tag: 1,
                versioned: false,
                buf: sys::RecvBuf::new(MAX_MESSAGE),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Channel> {
        // A panic while holding the lock leaves at worst a stale response in the socket, which
        // the tag check skips; the channel stays usable.
        self.chan.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn call(&self, req: &Request) -> Result<(Response, Option<OwnedFd>), GoferError> {
        self.lock().call(req)
    }

    fn call_node(&self, req: &Request) -> Result<(NodeId, Stat), GoferError> {
        match self.call(req)? {
            (Response::Node { node, stat }, None) => Ok((node, stat)),
            (other, _) => Err(unexpected(&other)),
        }
    }

    fn call_ok(&self, req: &Request) -> Result<(), GoferError> {
        match self.call(req)? {
            (Response::Ok, None) => Ok(()),
            (other, _) => Err(unexpected(&other)),
        }
    }

    /// A new node for the served root, with its attributes.
    pub fn attach(&self) -> Result<(NodeId, Stat), GoferError> {
        self.call_node(&Request::Attach)
    }

    /// The child `name` (one component) of directory `dir`. A symlink is returned as itself.
    pub fn walk(&self, dir: NodeId, name: &[u8]) -> Result<(NodeId, Stat), GoferError> {
        check_name(name)?;
        self.call_node(&Request::Walk {
            dir,
            name: name.to_vec(),
        })
    }

    pub fn stat(&self, node: NodeId) -> Result<Stat, GoferError> {
        match self.call(&Request::Stat { node })? {
            (Response::Stat(s), None) => Ok(s),
            (other, _) => Err(unexpected(&other)),
        }
    }

    /// Opens the node's file with open(2) `flags` (no `O_CREAT`); returns the donated host fd.
    /// A symlink node is `ELOOP`.
    pub fn open(&self, node: NodeId, flags: i32) -> Result<OwnedFd, GoferError> {
        match self.call(&Request::Open { node, flags })? {
            (Response::Opened, Some(fd)) => Ok(fd),
            (other, _) => Err(unexpected(&other)),
        }
    }

    pub fn readlink(&self, node: NodeId) -> Result<Vec<u8>, GoferError> {
        match self.call(&Request::Readlink { node })? {
            (Response::Target(t), None) => Ok(t),
            (other, _) => Err(unexpected(&other)),
        }
    }

    /// The whole directory, without "." and "..".
    pub fn getdents(&self, dir: NodeId) -> Result<Vec<DirEntry>, GoferError> {
        // Hold the channel for the whole listing so the server's per-channel snapshot is ours.
        let mut chan = self.lock();
        let mut all = Vec::new();
        loop {
            let offset =
                u64::try_from(all.len()).map_err(|_| GoferError::Remote(Errno::EOVERFLOW))?;
            match chan.call(&Request::Getdents { dir, offset })? {
                (Response::Dirents { entries, more }, None) => {
                    let progressed = !entries.is_empty();
                    all.extend(entries);
                    if !more {
                        return Ok(all);
                    }
                    if !progressed {
                        return Err(GoferError::Protocol("getdents made no progress".into()));
                    }
                }
                (other, _) => return Err(unexpected(&other)),
            }
        }
    }

    pub fn statfs(&self, node: NodeId) -> Result<StatFs, GoferError> {
        match self.call(&Request::StatFs { node })? {
            (Response::StatFs(s), None) => Ok(s),
            (other, _) => Err(unexpected(&other)),
        }
    }

    /// Forgets a node id (one-way; errors are ignored).
    pub fn close(&self, node: NodeId) {
        // Best effort by contract: if the channel is broken the next real call reports it.
        let _ = self.call(&Request::Close { node });
    }

    /// Creates `dir/name` (`O_CREAT|O_EXCL`), opens it with `flags`, and chowns it to
    /// `uid`/`gid` where the gofer may. Returns the new node, its attributes and the donated fd.
    pub fn create(
        &self,
        dir: NodeId,
        name: &[u8],
        flags: i32,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<(NodeId, Stat, OwnedFd), GoferError> {
        check_name(name)?;
        match self.call(&Request::Create {
            dir,
            name: name.to_vec(),
            flags,
            mode,
            uid,
            gid,
        })? {
            (Response::Created { node, stat }, Some(fd)) => Ok((node, stat, fd)),
            (other, _) => Err(unexpected(&other)),
        }
    }

    pub fn mkdir(
        &self,
        dir: NodeId,
        name: &[u8],
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<(NodeId, Stat), GoferError> {
        check_name(name)?;
        self.call_node(&Request::Mkdir {
            dir,
            name: name.to_vec(),
            mode,
            uid,
            gid,
        })
    }

    pub fn symlink(
        &self,
        dir: NodeId,
        name: &[u8],
        target: &[u8],
        uid: u32,
        gid: u32,
    ) -> Result<(NodeId, Stat), GoferError> {
        check_name(name)?;
        if target.len() > MAX_PATH {
            return Err(GoferError::Remote(Errno::ENAMETOOLONG));
        }
        self.call_node(&Request::Symlink {
            dir,
            name: name.to_vec(),
            target: target.to_vec(),
            uid,
            gid,
        })
    }

    /// Hard-links `target` as `dir/name`.
    pub fn link(
        &self,
        dir: NodeId,
        name: &[u8],
        target: NodeId,
    ) -> Result<(NodeId, Stat), GoferError> {
        check_name(name)?;
        self.call_node(&Request::Link {
            dir,
            name: name.to_vec(),
            target,
        })
    }

    /// Regular files and fifos only (`mode` carries `S_IFREG`/`S_IFIFO`); others are `EPERM`.
    pub fn mknod(
        &self,
        dir: NodeId,
        name: &[u8],
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<(NodeId, Stat), GoferError> {
        check_name(name)?;
        self.call_node(&Request::Mknod {
            dir,
            name: name.to_vec(),
            mode,
            uid,
            gid,
        })
    }

    /// `flags` is 0 or `AT_REMOVEDIR`.
    pub fn unlink(&self, dir: NodeId, name: &[u8], flags: i32) -> Result<(), GoferError> {
        check_name(name)?;
        self.call_ok(&Request::Unlink {
            dir,
            name: name.to_vec(),
            flags,
        })
    }

    /// renameat2(2); `flags` may hold `RENAME_NOREPLACE` or `RENAME_EXCHANGE`.
    pub fn rename(
        &self,
        old_dir: NodeId,
        old_name: &[u8],
        new_dir: NodeId,
        new_name: &[u8],
        flags: u32,
    ) -> Result<(), GoferError> {
        check_name(old_name)?;
        check_name(new_name)?;
        self.call_ok(&Request::Rename {
            old_dir,
            old_name: old_name.to_vec(),
            new_dir,
            new_name: new_name.to_vec(),
            flags,
        })
    }

    /// Applies `attr` (fields selected by `attr.mask`); returns the attributes after.
    pub fn setattr(&self, node: NodeId, attr: SetAttr) -> Result<Stat, GoferError> {
        match self.call(&Request::Setattr { node, attr })? {
            (Response::Stat(s), None) => Ok(s),
            (other, _) => Err(unexpected(&other)),
        }
    }

    pub fn getxattr(&self, node: NodeId, name: &[u8]) -> Result<Vec<u8>, GoferError> {
        check_name(name)?;
        match self.call(&Request::Getxattr {
            node,
            name: name.to_vec(),
        })? {
            (Response::Xattr(v), None) => Ok(v),
            (other, _) => Err(unexpected(&other)),
        }
    }

    pub fn listxattr(&self, node: NodeId) -> Result<Vec<Vec<u8>>, GoferError> {
        match self.call(&Request::Listxattr { node })? {
            (Response::XattrList(v), None) => Ok(v),
            (other, _) => Err(unexpected(&other)),
        }
    }

    /// A new host socket of `sock_type`, connected by the gofer to the host unix socket that
    /// `node` is (`runsc --host-uds=open`); non-blocking and close-on-exec.
    pub fn connect_unix(&self, node: NodeId, sock_type: i32) -> Result<OwnedFd, GoferError> {
        match self.call(&Request::ConnectUnix { node, sock_type })? {
            (Response::Opened, Some(fd)) => Ok(fd),
            (other, _) => Err(unexpected(&other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn client_is_send_and_sync() {
        assert_send_sync::<GoferClient>();
    }

    #[test]
    fn errno_maps_transport_to_eio() {
        assert_eq!(GoferError::Remote(Errno::ENOENT).errno(), Errno::ENOENT);
        assert_eq!(GoferError::Protocol("x".into()).errno(), Errno::EIO);
        assert_eq!(transport(Errno::EPIPE).errno(), Errno::EIO);
    }

    #[test]
    fn hung_up_server_is_a_transport_error() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        drop(b);
        let c = GoferClient::new(a);
        assert!(matches!(c.attach(), Err(GoferError::Transport(_))));
    }

    #[test]
    fn overlong_name_fails_locally() {
        let (a, _b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let c = GoferClient::new(a);
        let e = c.walk(NodeId(1), &[b'a'; MAX_NAME + 1]).unwrap_err();
        assert_eq!(e.errno(), Errno::ENAMETOOLONG);
    }
}
