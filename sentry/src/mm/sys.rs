//! The one place the memory manager turns typed values into bytes and back (the kernel's
//! `copy_{to,from}_user` of a struct): the `Pod` marker trait and its audited implementations.

use std::mem::size_of;

/// Plain old data that may be copied to and from application memory byte for byte.
///
/// # Safety
/// Implementors must be `#[repr(C)]` (or primitive) types with no implicit padding bytes (every
/// byte of a value is initialized), valid for every bit pattern, and without pointers or
/// references. `libc::sysinfo` is deliberately absent: it has implicit padding after `pad` and at
/// its end, so reading it as bytes would read uninitialized memory.
pub unsafe trait Pod: Copy + 'static {}

macro_rules! impl_pod {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: integers and arrays of them have no padding and every bit pattern is valid.
        unsafe impl Pod for $t {}
    )*};
}
impl_pod!(u8, i8, u16, i16, u32, i32, u64, i64, usize, isize, u128, i128);

// SAFETY: an array of bytes has no padding and accepts every bit pattern.
unsafe impl<const N: usize> Pod for [u8; N] {}
// SAFETY: `struct timespec` is two 64-bit integers on x86_64 (`include/uapi/linux/time.h`).
unsafe impl Pod for libc::timespec {}
// SAFETY: `struct timeval` is two 64-bit integers on x86_64.
unsafe impl Pod for libc::timeval {}
// SAFETY: `struct new_utsname` is six `char[65]` arrays: alignment 1, no padding.
unsafe impl Pod for libc::utsname {}
// SAFETY: x86_64 `struct stat` (`arch/x86/include/uapi/asm/stat.h`) spells out its padding as
// `__pad0` and `__unused`; all fields are integers.
unsafe impl Pod for libc::stat {}
// SAFETY: `struct rlimit` is two 64-bit integers.
unsafe impl Pod for libc::rlimit {}
// SAFETY: `struct tms` is four `clock_t` (64-bit integers).
unsafe impl Pod for libc::tms {}
// SAFETY: `struct rusage` is two timevals and fourteen `long`s: all 8-byte integers, no padding.
unsafe impl Pod for libc::rusage {}

/// The bytes of a `Pod` value.
pub fn pod_bytes<T: Pod>(val: &T) -> &[u8] {
    // SAFETY: `T: Pod` has no padding, so all `size_of::<T>()` bytes behind `val` are
    // initialized; the slice borrows `val` and lives no longer than it.
    unsafe { std::slice::from_raw_parts((val as *const T).cast::<u8>(), size_of::<T>()) }
}

/// A `Pod` value from its bytes; `None` if `bytes` is not exactly `size_of::<T>()` long.
pub fn pod_from_bytes<T: Pod>(bytes: &[u8]) -> Option<T> {
    if bytes.len() != size_of::<T>() {
        return None;
    }
    // SAFETY: the source holds exactly `size_of::<T>()` initialized bytes, `read_unaligned`
    // has no alignment requirement, and `T: Pod` is valid for every bit pattern.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_integers_and_structs() {
        let v: u64 = 0x1122_3344_5566_7788;
        assert_eq!(pod_bytes(&v), &v.to_ne_bytes());
        assert_eq!(pod_from_bytes::<u64>(pod_bytes(&v)), Some(v));
        let ts = libc::timespec {
            tv_sec: 5,
            tv_nsec: 7,
        };
        let back: libc::timespec = pod_from_bytes(pod_bytes(&ts)).unwrap();
        assert_eq!((back.tv_sec, back.tv_nsec), (5, 7));
        assert_eq!(pod_from_bytes::<u32>(&[1, 2, 3]), None);
    }
}
