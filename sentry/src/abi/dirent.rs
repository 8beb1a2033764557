//! `struct linux_dirent64` (include/linux/dirent.h; getdents64(2)).

/// The fixed part of a record; `d_name` (NUL-terminated) follows at `NAME_OFFSET`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct LinuxDirent64Header {
    pub d_ino: u64,
    pub d_off: i64,
    pub d_reclen: u16,
    pub d_type: u8,
}

const _: () = assert!(std::mem::size_of::<LinuxDirent64Header>() == 24);

/// Where `d_name` starts (`offsetof(struct linux_dirent64, d_name)`).
pub const NAME_OFFSET: usize = 19;

/// Length of a record with a name of `name_len` bytes: header, name, NUL, padded to 8.
pub fn reclen(name_len: usize) -> usize {
    (NAME_OFFSET + name_len + 1 + 7) & !7
}

/// Appends one record to `out`.
pub fn push(out: &mut Vec<u8>, ino: u64, off: i64, kind: u8, name: &[u8]) {
    let len = reclen(name.len());
    let start = out.len();
    out.resize(start + len, 0);
    let rec = &mut out[start..];
    rec[0..8].copy_from_slice(&ino.to_ne_bytes());
    rec[8..16].copy_from_slice(&off.to_ne_bytes());
    rec[16..18].copy_from_slice(&(len as u16).to_ne_bytes());
    rec[18] = kind;
    rec[NAME_OFFSET..NAME_OFFSET + name.len()].copy_from_slice(name);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_layout_matches_linux() {
        let mut v = Vec::new();
        push(&mut v, 42, 7, libc::DT_REG, b"hello");
        assert_eq!(v.len(), 32); // 19 + 5 + 1 = 25 -> 32
        assert_eq!(u64::from_ne_bytes(v[0..8].try_into().unwrap()), 42);
        assert_eq!(i64::from_ne_bytes(v[8..16].try_into().unwrap()), 7);
        assert_eq!(u16::from_ne_bytes(v[16..18].try_into().unwrap()), 32);
        assert_eq!(v[18], libc::DT_REG);
        assert_eq!(&v[19..24], b"hello");
        assert_eq!(v[24], 0);
        assert_eq!(reclen(4), 24);
        assert_eq!(reclen(5), 32);
    }
}
