//! `struct statx` (include/uapi/linux/stat.h; statx(2)).

use crate::vfs::{Stat, Timespec};

/// `struct statx_timestamp`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatxTimestamp {
    pub tv_sec: i64,
    pub tv_nsec: u32,
    pub reserved: i32,
}

/// `struct statx`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Statx {
    pub stx_mask: u32,
    pub stx_blksize: u32,
    pub stx_attributes: u64,
    pub stx_nlink: u32,
    pub stx_uid: u32,
    pub stx_gid: u32,
    pub stx_mode: u16,
    pub spare0: u16,
    pub stx_ino: u64,
    pub stx_size: u64,
    pub stx_blocks: u64,
    pub stx_attributes_mask: u64,
    pub stx_atime: StatxTimestamp,
    pub stx_btime: StatxTimestamp,
    pub stx_ctime: StatxTimestamp,
    pub stx_mtime: StatxTimestamp,
    pub stx_rdev_major: u32,
    pub stx_rdev_minor: u32,
    pub stx_dev_major: u32,
    pub stx_dev_minor: u32,
    pub stx_mnt_id: u64,
    pub stx_dio_mem_align: u32,
    pub stx_dio_offset_align: u32,
    pub spare: [u64; 12],
}

const _: () = assert!(std::mem::size_of::<Statx>() == 256);

/// `STATX_BASIC_STATS`: every field of `struct stat`.
pub const STATX_BASIC_STATS: u32 = 0x7ff;
/// `STATX_MNT_ID`.
pub const STATX_MNT_ID: u32 = 0x1000;

fn ts(t: Timespec) -> StatxTimestamp {
    StatxTimestamp {
        tv_sec: t.sec,
        tv_nsec: u32::try_from(t.nsec).unwrap_or(0),
        reserved: 0,
    }
}

impl Statx {
    /// From the VFS's attributes (no birth time).
    pub fn from_stat(s: &Stat, mnt_id: u64) -> Statx {
        Statx {
            stx_mask: STATX_BASIC_STATS | STATX_MNT_ID,
            stx_blksize: u32::try_from(s.blksize).unwrap_or(4096),
            stx_nlink: u32::try_from(s.nlink).unwrap_or(u32::MAX),
            stx_uid: s.uid,
            stx_gid: s.gid,
            stx_mode: (s.mode & 0xffff) as u16,
            stx_ino: s.ino,
            stx_size: u64::try_from(s.size).unwrap_or(0),
            stx_blocks: u64::try_from(s.blocks).unwrap_or(0),
            stx_atime: ts(s.atime),
            stx_ctime: ts(s.ctime),
            stx_mtime: ts(s.mtime),
            stx_rdev_major: libc::major(s.rdev),
            stx_rdev_minor: libc::minor(s.rdev),
            stx_dev_major: libc::major(s.dev),
            stx_dev_minor: libc::minor(s.dev),
            stx_mnt_id: mnt_id,
            ..Default::default()
        }
    }

    /// The 256 bytes the application sees.
    pub fn to_bytes(&self) -> [u8; 256] {
        let mut b = [0u8; 256];
        let mut put = |off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
        put(0, &self.stx_mask.to_ne_bytes());
        put(4, &self.stx_blksize.to_ne_bytes());
        put(8, &self.stx_attributes.to_ne_bytes());
        put(16, &self.stx_nlink.to_ne_bytes());
        put(20, &self.stx_uid.to_ne_bytes());
        put(24, &self.stx_gid.to_ne_bytes());
        put(28, &self.stx_mode.to_ne_bytes());
        put(32, &self.stx_ino.to_ne_bytes());
        put(40, &self.stx_size.to_ne_bytes());
        put(48, &self.stx_blocks.to_ne_bytes());
        put(56, &self.stx_attributes_mask.to_ne_bytes());
        for (i, t) in [
            self.stx_atime,
            self.stx_btime,
            self.stx_ctime,
            self.stx_mtime,
        ]
        .iter()
        .enumerate()
        {
            put(64 + 16 * i, &t.tv_sec.to_ne_bytes());
            put(72 + 16 * i, &t.tv_nsec.to_ne_bytes());
        }
        put(128, &self.stx_rdev_major.to_ne_bytes());
        put(132, &self.stx_rdev_minor.to_ne_bytes());
        put(136, &self.stx_dev_major.to_ne_bytes());
        put(140, &self.stx_dev_minor.to_ne_bytes());
        put(144, &self.stx_mnt_id.to_ne_bytes());
        put(152, &self.stx_dio_mem_align.to_ne_bytes());
        put(156, &self.stx_dio_offset_align.to_ne_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn offsets_match_uapi() {
        assert_eq!(offset_of!(Statx, stx_mode), 28);
        assert_eq!(offset_of!(Statx, stx_ino), 32);
        assert_eq!(offset_of!(Statx, stx_atime), 64);
        assert_eq!(offset_of!(Statx, stx_mtime), 112);
        assert_eq!(offset_of!(Statx, stx_rdev_major), 128);
        assert_eq!(offset_of!(Statx, stx_mnt_id), 144);
    }

    #[test]
    fn bytes_carry_fields() {
        let s = Stat {
            mode: 0o40755,
            ino: 7,
            size: 10,
            mtime: Timespec { sec: 5, nsec: 6 },
            ..Default::default()
        };
        let b = Statx::from_stat(&s, 3).to_bytes();
        assert_eq!(u16::from_ne_bytes(b[28..30].try_into().unwrap()), 0o40755);
        assert_eq!(u64::from_ne_bytes(b[32..40].try_into().unwrap()), 7);
        assert_eq!(i64::from_ne_bytes(b[112..120].try_into().unwrap()), 5);
        assert_eq!(u32::from_ne_bytes(b[120..124].try_into().unwrap()), 6);
        assert_eq!(u64::from_ne_bytes(b[144..152].try_into().unwrap()), 3);
    }
}
