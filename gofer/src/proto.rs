//! Gofer wire protocol: message types and their binary encoding over `SOCK_SEQPACKET`.
//!
//! Our own protocol, in the spirit of gVisor's lisafs (`pkg/lisafs/README.md`): one datagram per
//! request and one per response, host fds riding along as `SCM_RIGHTS` (unix(7)). Every frame is
//!
//! ```text
//! tag: u32 LE | kind: u16 LE | payload (fields in order, integers LE, byte strings u32-len-prefixed)
//! ```
//!
//! The `tag` is chosen by the client and echoed in the response, so several requests may be in
//! flight on several channels. `Close` is one-way (no response). A channel starts with a `Version`
//! exchange; the server answers `EPROTO` to anything else first. Decoding never panics: malformed
//! input is a [`ProtoError`].

use thiserror::Error;

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest datagram either side sends or accepts.
pub const MAX_MESSAGE: usize = 96 * 1024;
/// Longest file name component (NAME_MAX, `include/uapi/linux/limits.h`).
pub const MAX_NAME: usize = 255;
/// Longest symlink target (PATH_MAX, `include/uapi/linux/limits.h`).
pub const MAX_PATH: usize = 4096;
/// Largest extended attribute value (XATTR_SIZE_MAX, `include/uapi/linux/limits.h`).
pub const MAX_XATTR_VALUE: usize = 64 * 1024;
/// Bytes of frame header before the payload.
pub const HEADER_LEN: usize = 6;

/// A file known to the server: an id naming an `O_PATH` host fd there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId(pub u64);

/// `struct timespec`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

/// File attributes, as `struct stat` (stat(2)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: i64,
    pub blksize: i64,
    pub blocks: i64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

/// One directory entry (getdents64(2) without `d_off`/`d_reclen`); `kind` is a `DT_*` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: Vec<u8>,
    pub ino: u64,
    pub kind: u8,
}

/// Filesystem statistics, as `struct statfs` (statfs(2)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatFs {
    pub fs_type: i64,
    pub bsize: i64,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub namelen: i64,
    pub frsize: i64,
    pub flags: i64,
}

/// Attribute changes for `Setattr` (the `ATTR_*` idea of `include/linux/fs.h`): only the fields
/// whose bit is in `mask` are applied, in the order size, owner, mode, times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetAttr {
    pub mask: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: i64,
    pub atime: Timespec,
    pub mtime: Timespec,
}

impl SetAttr {
    pub const MODE: u32 = 1 << 0;
    pub const UID: u32 = 1 << 1;
    pub const GID: u32 = 1 << 2;
    pub const SIZE: u32 = 1 << 3;
    /// Set atime to `atime`.
    pub const ATIME: u32 = 1 << 4;
    /// Set mtime to `mtime`.
    pub const MTIME: u32 = 1 << 5;
    /// Set atime to the current time (overrides `ATIME`).
    pub const ATIME_NOW: u32 = 1 << 6;
    /// Set mtime to the current time (overrides `MTIME`).
    pub const MTIME_NOW: u32 = 1 << 7;
    /// Every bit the protocol knows; others are `EINVAL`.
    pub const ALL: u32 = (1 << 8) - 1;
}

/// What went wrong decoding a frame.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtoError {
    #[error("gofer protocol: message truncated")]
    Truncated,
    #[error("gofer protocol: unknown message kind {0:#x}")]
    UnknownKind(u16),
    #[error("gofer protocol: {0} trailing bytes")]
    TrailingBytes(usize),
    #[error("gofer protocol: invalid {0}")]
    Invalid(&'static str),
}

/// A client-to-server message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Handshake: the client's protocol version. Answered by `Response::Version`.
    Version { version: u32 },
    /// A new node for the served root. Answered by `Response::Node`.
    Attach,
    /// One path component below `dir`, never following a symlink. `Response::Node`.
    Walk { dir: NodeId, name: Vec<u8> },
    /// `Response::Stat`.
    Stat { node: NodeId },
    /// Open the node's file with open(2) `flags`. `Response::Opened` plus one fd.
    Open { node: NodeId, flags: i32 },
    /// `Response::Target`.
    Readlink { node: NodeId },
    /// Directory entries from index `offset` on. `Response::Dirents`.
    Getdents { dir: NodeId, offset: u64 },
    /// `Response::StatFs`.
    StatFs { node: NodeId },
    /// Forget a node. One-way: no response.
    Close { node: NodeId },
    /// Create and open a regular file (`O_CREAT|O_EXCL` implied). `Response::Created` plus one fd.
    Create {
        dir: NodeId,
        name: Vec<u8>,
        flags: i32,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    /// `Response::Node`.
    Mkdir {
        dir: NodeId,
        name: Vec<u8>,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    /// `Response::Node`.
    Symlink {
        dir: NodeId,
        name: Vec<u8>,
        target: Vec<u8>,
        uid: u32,
        gid: u32,
    },
    /// Hard link `target` as `dir/name`. `Response::Node`.
    Link {
        dir: NodeId,
        name: Vec<u8>,
        target: NodeId,
    },
    /// Regular files and fifos only. `Response::Node`.
    Mknod {
        dir: NodeId,
        name: Vec<u8>,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    /// `flags` is 0 or `AT_REMOVEDIR`. `Response::Ok`.
    Unlink {
        dir: NodeId,
        name: Vec<u8>,
        flags: i32,
    },
    /// renameat2(2); `flags` may hold `RENAME_NOREPLACE`/`RENAME_EXCHANGE`. `Response::Ok`.
    Rename {
        old_dir: NodeId,
        old_name: Vec<u8>,
        new_dir: NodeId,
        new_name: Vec<u8>,
        flags: u32,
    },
    /// `Response::Stat` (the attributes after the change).
    Setattr { node: NodeId, attr: SetAttr },
    /// `Response::Xattr`.
    Getxattr { node: NodeId, name: Vec<u8> },
    /// `Response::XattrList`.
    Listxattr { node: NodeId },
    /// connect(2) to the host unix socket that `node` is, with a new host socket of
    /// `sock_type` (`SOCK_STREAM`, `SOCK_SEQPACKET` or `SOCK_DGRAM`): `Response::Opened` with
    /// the connected, non-blocking socket riding along. Refused (`ECONNREFUSED`) unless the
    /// server allows host sockets (`runsc --host-uds=open`).
    ConnectUnix { node: NodeId, sock_type: i32 },
}

/// A server-to-client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// The version the server will speak on this channel.
    Version {
        version: u32,
    },
    /// A (new) node and its attributes.
    Node {
        node: NodeId,
        stat: Stat,
    },
    Stat(Stat),
    /// An fd rides along.
    Opened,
    /// A new node, its attributes; an fd rides along.
    Created {
        node: NodeId,
        stat: Stat,
    },
    /// A symlink's target.
    Target(Vec<u8>),
    /// Entries from the requested index; `more` says a further request is needed.
    Dirents {
        entries: Vec<DirEntry>,
        more: bool,
    },
    StatFs(StatFs),
    Ok,
    Xattr(Vec<u8>),
    XattrList(Vec<Vec<u8>>),
    /// The host operation failed with this errno.
    Error {
        errno: i32,
    },
}

mod kind {
    pub const VERSION: u16 = 1;
    pub const ATTACH: u16 = 2;
    pub const WALK: u16 = 3;
    pub const STAT: u16 = 4;
    pub const OPEN: u16 = 5;
    pub const READLINK: u16 = 6;
    pub const GETDENTS: u16 = 7;
    pub const STATFS: u16 = 8;
    pub const CLOSE: u16 = 9;
    pub const CREATE: u16 = 10;
    pub const MKDIR: u16 = 11;
    pub const SYMLINK: u16 = 12;
    pub const LINK: u16 = 13;
    pub const MKNOD: u16 = 14;
    pub const UNLINK: u16 = 15;
    pub const RENAME: u16 = 16;
    pub const SETATTR: u16 = 17;
    pub const GETXATTR: u16 = 18;
    pub const LISTXATTR: u16 = 19;
    pub const CONNECT_UNIX: u16 = 20;

    pub const R_VERSION: u16 = 0x8001;
    pub const R_NODE: u16 = 0x8002;
    pub const R_STAT: u16 = 0x8003;
    pub const R_OPENED: u16 = 0x8004;
    pub const R_CREATED: u16 = 0x8005;
    pub const R_TARGET: u16 = 0x8006;
    pub const R_DIRENTS: u16 = 0x8007;
    pub const R_STATFS: u16 = 0x8008;
    pub const R_OK: u16 = 0x8009;
    pub const R_XATTR: u16 = 0x800a;
    pub const R_XATTR_LIST: u16 = 0x800b;
    pub const R_ERROR: u16 = 0x80ff;
}

/// Appends little-endian fields to a frame.
struct Writer(Vec<u8>);

impl Writer {
    fn new(tag: u32, kind: u16) -> Writer {
        let mut w = Writer(Vec::with_capacity(64));
        w.u32(tag);
        w.u16(kind);
        w
    }
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        // Lengths beyond u32 cannot be sent anyway (MAX_MESSAGE); saturate instead of wrapping so
        // the receiver sees a truncated frame rather than a misparsed one.
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(v);
    }
    fn node(&mut self, n: NodeId) {
        self.u64(n.0);
    }
    fn timespec(&mut self, t: &Timespec) {
        self.i64(t.sec);
        self.i64(t.nsec);
    }
    fn stat(&mut self, s: &Stat) {
        self.u64(s.dev);
        self.u64(s.ino);
        self.u32(s.mode);
        self.u64(s.nlink);
        self.u32(s.uid);
        self.u32(s.gid);
        self.u64(s.rdev);
        self.i64(s.size);
        self.i64(s.blksize);
        self.i64(s.blocks);
        self.timespec(&s.atime);
        self.timespec(&s.mtime);
        self.timespec(&s.ctime);
    }
    fn statfs(&mut self, s: &StatFs) {
        self.i64(s.fs_type);
        self.i64(s.bsize);
        self.u64(s.blocks);
        self.u64(s.bfree);
        self.u64(s.bavail);
        self.u64(s.files);
        self.u64(s.ffree);
        self.i64(s.namelen);
        self.i64(s.frsize);
        self.i64(s.flags);
    }
    fn setattr(&mut self, a: &SetAttr) {
        self.u32(a.mask);
        self.u32(a.mode);
        self.u32(a.uid);
        self.u32(a.gid);
        self.i64(a.size);
        self.timespec(&a.atime);
        self.timespec(&a.mtime);
    }
}

/// Reads little-endian fields from a frame; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtoError> {
        if self.0.len() < n {
            return Err(ProtoError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtoError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, ProtoError> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, ProtoError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, ProtoError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, ProtoError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn i32(&mut self) -> Result<i32, ProtoError> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    fn i64(&mut self) -> Result<i64, ProtoError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    fn bool(&mut self) -> Result<bool, ProtoError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(ProtoError::Invalid("bool")),
        }
    }
    /// A length-prefixed byte string of at most `max` bytes.
    fn bytes(&mut self, max: usize, what: &'static str) -> Result<Vec<u8>, ProtoError> {
        let len = usize::try_from(self.u32()?).map_err(|_| ProtoError::Invalid(what))?;
        if len > max {
            return Err(ProtoError::Invalid(what));
        }
        Ok(self.take(len)?.to_vec())
    }
    fn name(&mut self) -> Result<Vec<u8>, ProtoError> {
        self.bytes(MAX_NAME, "name length")
    }
    fn node(&mut self) -> Result<NodeId, ProtoError> {
        Ok(NodeId(self.u64()?))
    }
    fn timespec(&mut self) -> Result<Timespec, ProtoError> {
        Ok(Timespec {
            sec: self.i64()?,
            nsec: self.i64()?,
        })
    }
    fn stat(&mut self) -> Result<Stat, ProtoError> {
        Ok(Stat {
            dev: self.u64()?,
            ino: self.u64()?,
            mode: self.u32()?,
            nlink: self.u64()?,
            uid: self.u32()?,
            gid: self.u32()?,
            rdev: self.u64()?,
            size: self.i64()?,
            blksize: self.i64()?,
            blocks: self.i64()?,
            atime: self.timespec()?,
            mtime: self.timespec()?,
            ctime: self.timespec()?,
        })
    }
    fn statfs(&mut self) -> Result<StatFs, ProtoError> {
        Ok(StatFs {
            fs_type: self.i64()?,
            bsize: self.i64()?,
            blocks: self.u64()?,
            bfree: self.u64()?,
            bavail: self.u64()?,
            files: self.u64()?,
            ffree: self.u64()?,
            namelen: self.i64()?,
            frsize: self.i64()?,
            flags: self.i64()?,
        })
    }
    fn setattr(&mut self) -> Result<SetAttr, ProtoError> {
        Ok(SetAttr {
            mask: self.u32()?,
            mode: self.u32()?,
            uid: self.u32()?,
            gid: self.u32()?,
            size: self.i64()?,
            atime: self.timespec()?,
            mtime: self.timespec()?,
        })
    }
    fn header(&mut self) -> Result<(u32, u16), ProtoError> {
        Ok((self.u32()?, self.u16()?))
    }
    fn finish(self) -> Result<(), ProtoError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ProtoError::TrailingBytes(self.0.len()))
        }
    }
}

/// The tag of a frame, if it has a whole header (used to answer a malformed request).
pub fn frame_tag(buf: &[u8]) -> Option<u32> {
    Reader(buf).u32().ok()
}

/// Encoded size of one directory entry in a `Dirents` response.
pub fn dirent_wire_len(e: &DirEntry) -> usize {
    4 + e.name.len() + 8 + 1
}

impl Request {
    /// The frame for this request under `tag`.
    pub fn encode(&self, tag: u32) -> Vec<u8> {
        let mut w;
        match self {
            Request::Version { version } => {
                w = Writer::new(tag, kind::VERSION);
                w.u32(*version);
            }
            Request::Attach => w = Writer::new(tag, kind::ATTACH),
            Request::Walk { dir, name } => {
                w = Writer::new(tag, kind::WALK);
                w.node(*dir);
                w.bytes(name);
            }
            Request::Stat { node } => {
                w = Writer::new(tag, kind::STAT);
                w.node(*node);
            }
            Request::Open { node, flags } => {
                w = Writer::new(tag, kind::OPEN);
                w.node(*node);
                w.i32(*flags);
            }
            Request::Readlink { node } => {
                w = Writer::new(tag, kind::READLINK);
                w.node(*node);
            }
            Request::Getdents { dir, offset } => {
                w = Writer::new(tag, kind::GETDENTS);
                w.node(*dir);
                w.u64(*offset);
            }
            Request::StatFs { node } => {
                w = Writer::new(tag, kind::STATFS);
                w.node(*node);
            }
            Request::Close { node } => {
                w = Writer::new(tag, kind::CLOSE);
                w.node(*node);
            }
            Request::Create {
                dir,
                name,
                flags,
                mode,
                uid,
                gid,
            } => {
                w = Writer::new(tag, kind::CREATE);
                w.node(*dir);
                w.bytes(name);
                w.i32(*flags);
                w.u32(*mode);
                w.u32(*uid);
                w.u32(*gid);
            }
            Request::Mkdir {
                dir,
                name,
                mode,
                uid,
                gid,
            } => {
                w = Writer::new(tag, kind::MKDIR);
                w.node(*dir);
                w.bytes(name);
                w.u32(*mode);
                w.u32(*uid);
                w.u32(*gid);
            }
            Request::Symlink {
                dir,
                name,
                target,
                uid,
                gid,
            } => {
                w = Writer::new(tag, kind::SYMLINK);
                w.node(*dir);
                w.bytes(name);
                w.bytes(target);
                w.u32(*uid);
                w.u32(*gid);
            }
            Request::Link { dir, name, target } => {
                w = Writer::new(tag, kind::LINK);
                w.node(*dir);
                w.bytes(name);
                w.node(*target);
            }
            Request::Mknod {
                dir,
                name,
                mode,
                uid,
                gid,
            } => {
                w = Writer::new(tag, kind::MKNOD);
                w.node(*dir);
                w.bytes(name);
                w.u32(*mode);
                w.u32(*uid);
                w.u32(*gid);
            }
            Request::Unlink { dir, name, flags } => {
                w = Writer::new(tag, kind::UNLINK);
                w.node(*dir);
                w.bytes(name);
                w.i32(*flags);
            }
            Request::Rename {
                old_dir,
                old_name,
                new_dir,
                new_name,
                flags,
            } => {
                w = Writer::new(tag, kind::RENAME);
                w.node(*old_dir);
                w.bytes(old_name);
                w.node(*new_dir);
                w.bytes(new_name);
                w.u32(*flags);
            }
            Request::Setattr { node, attr } => {
                w = Writer::new(tag, kind::SETATTR);
                w.node(*node);
                w.setattr(attr);
            }
            Request::Getxattr { node, name } => {
                w = Writer::new(tag, kind::GETXATTR);
                w.node(*node);
                w.bytes(name);
            }
            Request::Listxattr { node } => {
                w = Writer::new(tag, kind::LISTXATTR);
                w.node(*node);
            }
            Request::ConnectUnix { node, sock_type } => {
                w = Writer::new(tag, kind::CONNECT_UNIX);
                w.node(*node);
                w.i32(*sock_type);
            }
        }
        w.0
    }

    /// Parses one request frame into its tag and message.
    pub fn decode(buf: &[u8]) -> Result<(u32, Request), ProtoError> {
        let mut r = Reader(buf);
        let (tag, k) = r.header()?;
        let req = match k {
            kind::VERSION => Request::Version { version: r.u32()? },
            kind::ATTACH => Request::Attach,
            kind::WALK => Request::Walk {
                dir: r.node()?,
                name: r.name()?,
            },
            kind::STAT => Request::Stat { node: r.node()? },
            kind::OPEN => Request::Open {
                node: r.node()?,
                flags: r.i32()?,
            },
            kind::READLINK => Request::Readlink { node: r.node()? },
            kind::GETDENTS => Request::Getdents {
                dir: r.node()?,
                offset: r.u64()?,
            },
            kind::STATFS => Request::StatFs { node: r.node()? },
            kind::CLOSE => Request::Close { node: r.node()? },
            kind::CREATE => Request::Create {
                dir: r.node()?,
                name: r.name()?,
                flags: r.i32()?,
                mode: r.u32()?,
                uid: r.u32()?,
                gid: r.u32()?,
            },
            kind::MKDIR => Request::Mkdir {
                dir: r.node()?,
                name: r.name()?,
                mode: r.u32()?,
                uid: r.u32()?,
                gid: r.u32()?,
            },
            kind::SYMLINK => Request::Symlink {
                dir: r.node()?,
                name: r.name()?,
                target: r.bytes(MAX_PATH, "symlink target length")?,
                uid: r.u32()?,
                gid: r.u32()?,
            },
            kind::LINK => Request::Link {
                dir: r.node()?,
                name: r.name()?,
                target: r.node()?,
            },
            kind::MKNOD => Request::Mknod {
                dir: r.node()?,
                name: r.name()?,
                mode: r.u32()?,
                uid: r.u32()?,
                gid: r.u32()?,
            },
            kind::UNLINK => Request::Unlink {
                dir: r.node()?,
                name: r.name()?,
                flags: r.i32()?,
            },
            kind::RENAME => Request::Rename {
                old_dir: r.node()?,
                old_name: r.name()?,
                new_dir: r.node()?,
                new_name: r.name()?,
                flags: r.u32()?,
            },
            kind::SETATTR => Request::Setattr {
                node: r.node()?,
                attr: r.setattr()?,
            },
            kind::GETXATTR => Request::Getxattr {
                node: r.node()?,
                name: r.name()?,
            },
            kind::LISTXATTR => Request::Listxattr { node: r.node()? },
            kind::CONNECT_UNIX => Request::ConnectUnix {
                node: r.node()?,
                sock_type: r.i32()?,
            },
            other => return Err(ProtoError::UnknownKind(other)),
        };
        r.finish()?;
        Ok((tag, req))
    }

    /// Whether the server sends a response to this request.
    pub fn expects_response(&self) -> bool {
        !matches!(self, Request::Close { .. })
    }
}

impl Response {
    /// The frame for this response under `tag`.
    pub fn encode(&self, tag: u32) -> Vec<u8> {
        let mut w;
        match self {
            Response::Version { version } => {
                w = Writer::new(tag, kind::R_VERSION);
                w.u32(*version);
            }
            Response::Node { node, stat } => {
                w = Writer::new(tag, kind::R_NODE);
                w.node(*node);
                w.stat(stat);
            }
            Response::Stat(stat) => {
                w = Writer::new(tag, kind::R_STAT);
                w.stat(stat);
            }
            Response::Opened => w = Writer::new(tag, kind::R_OPENED),
            Response::Created { node, stat } => {
                w = Writer::new(tag, kind::R_CREATED);
                w.node(*node);
                w.stat(stat);
            }
            Response::Target(t) => {
                w = Writer::new(tag, kind::R_TARGET);
                w.bytes(t);
            }
            Response::Dirents { entries, more } => {
                w = Writer::new(tag, kind::R_DIRENTS);
                w.u8(u8::from(*more));
                w.u32(u32::try_from(entries.len()).unwrap_or(u32::MAX));
                for e in entries {
                    w.bytes(&e.name);
                    w.u64(e.ino);
                    w.u8(e.kind);
                }
            }
            Response::StatFs(s) => {
                w = Writer::new(tag, kind::R_STATFS);
                w.statfs(s);
            }
            Response::Ok => w = Writer::new(tag, kind::R_OK),
            Response::Xattr(v) => {
                w = Writer::new(tag, kind::R_XATTR);
                w.bytes(v);
            }
            Response::XattrList(names) => {
                w = Writer::new(tag, kind::R_XATTR_LIST);
                w.u32(u32::try_from(names.len()).unwrap_or(u32::MAX));
                for n in names {
                    w.bytes(n);
                }
            }
            Response::Error { errno } => {
                w = Writer::new(tag, kind::R_ERROR);
                w.i32(*errno);
            }
        }
        w.0
    }

    /// Parses one response frame into its tag and message.
    pub fn decode(buf: &[u8]) -> Result<(u32, Response), ProtoError> {
        let mut r = Reader(buf);
        let (tag, k) = r.header()?;
        let resp = match k {
            kind::R_VERSION => Response::Version { version: r.u32()? },
            kind::R_NODE => Response::Node {
                node: r.node()?,
                stat: r.stat()?,
            },
            kind::R_STAT => Response::Stat(r.stat()?),
            kind::R_OPENED => Response::Opened,
            kind::R_CREATED => Response::Created {
                node: r.node()?,
                stat: r.stat()?,
            },
            kind::R_TARGET => Response::Target(r.bytes(MAX_PATH, "symlink target length")?),
            kind::R_DIRENTS => {
                let more = r.bool()?;
                let count = r.u32()?;
                // No preallocation from an untrusted count: each entry consumes input bytes.
                let mut entries = Vec::new();
                for _ in 0..count {
                    entries.push(DirEntry {
                        name: r.name()?,
                        ino: r.u64()?,
                        kind: r.u8()?,
                    });
                }
                Response::Dirents { entries, more }
            }
            kind::R_STATFS => Response::StatFs(r.statfs()?),
            kind::R_OK => Response::Ok,
            kind::R_XATTR => Response::Xattr(r.bytes(MAX_XATTR_VALUE, "xattr value length")?),
            kind::R_XATTR_LIST => {
                let count = r.u32()?;
                let mut names = Vec::new();
                for _ in 0..count {
                    names.push(r.name()?);
                }
                Response::XattrList(names)
            }
            kind::R_ERROR => Response::Error { errno: r.i32()? },
            other => return Err(ProtoError::UnknownKind(other)),
        };
        r.finish()?;
        Ok((tag, resp))
    }

    /// Whether an fd rides along with this response.
    pub fn carries_fd(&self) -> bool {
        matches!(self, Response::Opened | Response::Created { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_stat() -> Stat {
        Stat {
            dev: 1,
            ino: 2,
            mode: 0o100644,
            nlink: 3,
            uid: 4,
            gid: 5,
            rdev: 6,
            size: -7,
            blksize: 4096,
            blocks: 8,
            atime: Timespec { sec: 9, nsec: 10 },
            mtime: Timespec { sec: 11, nsec: 12 },
            ctime: Timespec { sec: -13, nsec: 14 },
        }
    }

    fn all_requests() -> Vec<Request> {
        let d = NodeId(7);
        vec![
            Request::Version {
                version: PROTOCOL_VERSION,
            },
            Request::Attach,
            Request::Walk {
                dir: d,
                name: b"etc".to_vec(),
            },
            Request::Stat { node: d },
            Request::Open {
                node: d,
                flags: libc::O_RDWR | libc::O_TRUNC,
            },
            Request::Readlink { node: d },
            Request::Getdents { dir: d, offset: 42 },
            Request::StatFs { node: d },
            Request::Close {
                node: NodeId(u64::MAX),
            },
            Request::Create {
                dir: d,
                name: b"f".to_vec(),
                flags: 2,
                mode: 0o644,
                uid: 1,
                gid: 2,
            },
            Request::Mkdir {
                dir: d,
                name: b"d".to_vec(),
                mode: 0o755,
                uid: 3,
                gid: 4,
            },
            Request::Symlink {
                dir: d,
                name: b"l".to_vec(),
                target: b"../x".to_vec(),
                uid: 0,
                gid: 0,
            },
            Request::Link {
                dir: d,
                name: b"h".to_vec(),
                target: NodeId(9),
            },
            Request::Mknod {
                dir: d,
                name: b"p".to_vec(),
                mode: 0o10644,
                uid: 0,
                gid: 0,
            },
            Request::Unlink {
                dir: d,
                name: b"u".to_vec(),
                flags: libc::AT_REMOVEDIR,
            },
            Request::Rename {
                old_dir: d,
                old_name: b"a".to_vec(),
                new_dir: NodeId(8),
                new_name: b"b".to_vec(),
                flags: 1,
            },
            Request::Setattr {
                node: d,
                attr: SetAttr {
                    mask: SetAttr::ALL,
                    mode: 0o600,
                    uid: 1,
                    gid: 2,
                    size: 3,
                    atime: Timespec { sec: 4, nsec: 5 },
                    mtime: Timespec { sec: 6, nsec: 7 },
                },
            },
            Request::Getxattr {
                node: d,
                name: b"user.x".to_vec(),
            },
            Request::Listxattr { node: d },
            Request::ConnectUnix {
                node: d,
                sock_type: libc::SOCK_STREAM,
            },
        ]
    }

    fn all_responses() -> Vec<Response> {
        vec![
            Response::Version {
                version: PROTOCOL_VERSION,
            },
            Response::Node {
                node: NodeId(3),
                stat: sample_stat(),
            },
            Response::Stat(sample_stat()),
            Response::Opened,
            Response::Created {
                node: NodeId(4),
                stat: sample_stat(),
            },
            Response::Target(b"/etc/passwd".to_vec()),
            Response::Dirents {
                entries: vec![
                    DirEntry {
                        name: b"a".to_vec(),
                        ino: 1,
                        kind: libc::DT_REG,
                    },
                    DirEntry {
                        name: b"bb".to_vec(),
                        ino: 2,
                        kind: libc::DT_DIR,
                    },
                ],
                more: true,
            },
            Response::Dirents {
                entries: vec![],
                more: false,
            },
            Response::StatFs(StatFs {
                fs_type: 0xef53,
                bsize: 4096,
                blocks: 1,
                bfree: 2,
                bavail: 3,
                files: 4,
                ffree: 5,
                namelen: 255,
                frsize: 4096,
                flags: 32,
            }),
            Response::Ok,
            Response::Xattr(vec![0, 1, 2]),
            Response::XattrList(vec![b"user.a".to_vec(), b"user.b".to_vec()]),
            Response::Error {
                errno: libc::ENOENT,
            },
        ]
    }

    #[test]
    fn every_request_round_trips() {
        for (i, req) in all_requests().into_iter().enumerate() {
            let tag = 1000 + u32::try_from(i).unwrap();
            let buf = req.encode(tag);
            assert_eq!(Request::decode(&buf), Ok((tag, req.clone())), "{req:?}");
        }
    }

    #[test]
    fn every_response_round_trips() {
        for (i, resp) in all_responses().into_iter().enumerate() {
            let tag = u32::try_from(i).unwrap();
            let buf = resp.encode(tag);
            assert_eq!(Response::decode(&buf), Ok((tag, resp.clone())), "{resp:?}");
        }
    }

    #[test]
    fn truncated_requests_are_errors_not_panics() {
        for req in all_requests() {
            let buf = req.encode(5);
            for len in 0..buf.len() {
                assert!(Request::decode(&buf[..len]).is_err(), "{req:?} at {len}");
            }
        }
    }

    #[test]
    fn truncated_responses_are_errors_not_panics() {
        for resp in all_responses() {
            let buf = resp.encode(5);
            for len in 0..buf.len() {
                assert!(Response::decode(&buf[..len]).is_err(), "{resp:?} at {len}");
            }
        }
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut buf = Request::Attach.encode(1);
        buf.push(0);
        assert_eq!(Request::decode(&buf), Err(ProtoError::TrailingBytes(1)));
    }

    #[test]
    fn unknown_kind_is_rejected() {
        let buf = [0, 0, 0, 0, 0xee, 0x7e];
        assert_eq!(Request::decode(&buf), Err(ProtoError::UnknownKind(0x7eee)));
        assert_eq!(Response::decode(&buf), Err(ProtoError::UnknownKind(0x7eee)));
    }

    #[test]
    fn oversized_name_is_rejected() {
        let req = Request::Walk {
            dir: NodeId(1),
            name: vec![b'a'; MAX_NAME + 1],
        };
        assert_eq!(
            Request::decode(&req.encode(1)),
            Err(ProtoError::Invalid("name length"))
        );
    }

    #[test]
    fn huge_counts_do_not_allocate_or_panic() {
        let mut buf = Writer::new(1, kind::R_DIRENTS);
        buf.u8(0);
        buf.u32(u32::MAX);
        assert_eq!(Response::decode(&buf.0), Err(ProtoError::Truncated));
        let mut buf = Writer::new(1, kind::R_XATTR_LIST);
        buf.u32(u32::MAX);
        assert_eq!(Response::decode(&buf.0), Err(ProtoError::Truncated));
    }

    #[test]
    fn pseudo_random_garbage_never_panics() {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = usize::try_from(x % 64).unwrap();
            let mut buf: Vec<u8> = (0..len).map(|i| (x >> (i % 8 * 8)) as u8).collect();
            // Steer the kind into the known range so payload parsing is exercised.
            if buf.len() >= HEADER_LEN {
                buf[4] = (x % 20) as u8;
                buf[5] = if x & 1 == 0 { 0 } else { 0x80 };
            }
            let _ = Request::decode(&buf);
            let _ = Response::decode(&buf);
        }
    }

    #[test]
    fn frame_tag_reads_the_tag() {
        assert_eq!(frame_tag(&Request::Attach.encode(77)), Some(77));
        assert_eq!(frame_tag(&[1, 2]), None);
    }

    #[test]
    fn close_is_one_way_and_open_carries_fd() {
        assert!(!Request::Close { node: NodeId(1) }.expects_response());
        assert!(Request::Attach.expects_response());
        assert!(Response::Opened.carries_fd());
        assert!(!Response::Ok.carries_fd());
    }
}
