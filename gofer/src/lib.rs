//! The gofer: the sandbox's file server and its protocol, in the role of gVisor's lisafs
//! (`pkg/lisafs/README.md`). `runsc gofer` is the only process that opens host paths; the sentry
//! asks it for files over `SOCK_SEQPACKET` channels and receives donated host fds (unix(7)).
//!
//! - [`proto`]: wire types and their encoding.
//! - [`client`]: [`GoferClient`], used by the sentry.
//! - [`server`]: the server, its node table and its seccomp allowlist.

pub mod client;
pub mod proto;
pub mod server;
mod sys;

pub use client::{GoferClient, GoferError};
pub use proto::{DirEntry, NodeId, SetAttr, Stat, StatFs, Timespec};
