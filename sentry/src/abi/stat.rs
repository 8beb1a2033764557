//! `struct stat` and `struct statfs` for x86_64 (arch/x86/include/uapi/asm/stat.h,
//! include/uapi/asm-generic/statfs.h), serialized field by field for copy-out.

use crate::vfs::{Stat, StatFs};

/// Size of x86_64 `struct stat`.
pub const STAT_SIZE: usize = 144;
/// Size of x86_64 `struct statfs`.
pub const STATFS_SIZE: usize = 120;

const _: () = assert!(std::mem::size_of::<libc::stat>() == STAT_SIZE);
const _: () = assert!(std::mem::size_of::<libc::statfs>() == STATFS_SIZE);

fn put(b: &mut [u8], off: usize, v: &[u8]) {
    b[off..off + v.len()].copy_from_slice(v);
}

/// The bytes of `struct stat` for `s`.
pub fn stat_bytes(s: &Stat) -> [u8; STAT_SIZE] {
    let mut b = [0u8; STAT_SIZE];
    put(&mut b, 0, &s.dev.to_ne_bytes());
    put(&mut b, 8, &s.ino.to_ne_bytes());
    put(&mut b, 16, &s.nlink.to_ne_bytes());
    put(&mut b, 24, &s.mode.to_ne_bytes());
    put(&mut b, 28, &s.uid.to_ne_bytes());
    put(&mut b, 32, &s.gid.to_ne_bytes());
    put(&mut b, 40, &s.rdev.to_ne_bytes());
    put(&mut b, 48, &s.size.to_ne_bytes());
    put(&mut b, 56, &s.blksize.to_ne_bytes());
    put(&mut b, 64, &s.blocks.to_ne_bytes());
    put(&mut b, 72, &s.atime.sec.to_ne_bytes());
    put(&mut b, 80, &s.atime.nsec.to_ne_bytes());
    put(&mut b, 88, &s.mtime.sec.to_ne_bytes());
    put(&mut b, 96, &s.mtime.nsec.to_ne_bytes());
    put(&mut b, 104, &s.ctime.sec.to_ne_bytes());
    put(&mut b, 112, &s.ctime.nsec.to_ne_bytes());
    b
}

/// The bytes of `struct statfs` for `s` (f_fsid zero).
pub fn statfs_bytes(s: &StatFs) -> [u8; STATFS_SIZE] {
    let mut b = [0u8; STATFS_SIZE];
    put(&mut b, 0, &s.fs_type.to_ne_bytes());
    put(&mut b, 8, &s.bsize.to_ne_bytes());
    put(&mut b, 16, &s.blocks.to_ne_bytes());
    put(&mut b, 24, &s.bfree.to_ne_bytes());
    put(&mut b, 32, &s.bavail.to_ne_bytes());
    put(&mut b, 40, &s.files.to_ne_bytes());
    put(&mut b, 48, &s.ffree.to_ne_bytes());
    put(&mut b, 64, &s.namelen.to_ne_bytes());
    put(&mut b, 72, &s.frsize.to_ne_bytes());
    put(&mut b, 80, &s.flags.to_ne_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn stat_offsets_match_libc() {
        assert_eq!(offset_of!(libc::stat, st_mode), 24);
        assert_eq!(offset_of!(libc::stat, st_rdev), 40);
        assert_eq!(offset_of!(libc::stat, st_blocks), 64);
        assert_eq!(offset_of!(libc::stat, st_ctime_nsec), 112);
        let s = Stat {
            mode: 0o100644,
            size: 99,
            ..Default::default()
        };
        let b = stat_bytes(&s);
        assert_eq!(u32::from_ne_bytes(b[24..28].try_into().unwrap()), 0o100644);
        assert_eq!(i64::from_ne_bytes(b[48..56].try_into().unwrap()), 99);
    }

    #[test]
    fn statfs_offsets_match_libc() {
        assert_eq!(offset_of!(libc::statfs, f_namelen), 64);
        assert_eq!(offset_of!(libc::statfs, f_frsize), 72);
    }
}
