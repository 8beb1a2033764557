//! Linux ABI that `libc` does not carry: auxv tags, statx, dirents, ioctl numbers, restart codes.
//! One file per area; each struct mirrors a uapi header named beside it.

pub mod auxv;
pub mod dirent;
pub mod signal;
pub mod stat;
pub mod statx;
