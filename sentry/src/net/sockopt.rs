//! Socket option values and the waits they time (socket(7); Linux `net/core/sock.c`:
//! `sock_setsockopt`, `sock_getsockopt`, `sock_set_timeout`): decoding and encoding of int,
//! `struct timeval` and `struct linger` options, SO_RCVBUF/SO_SNDBUF sizing, and the blocking
//! helper SO_RCVTIMEO/SO_SNDTIMEO bound. Shared by unix, inet and netlink sockets.

use std::time::{Duration, Instant};

use crate::kernel::wait::WaitQueue;
use crate::vfs::TaskRef;
use crate::{Errno, SysResult};

/// `net.core.rmem_max`/`wmem_max`: the largest SO_RCVBUF/SO_SNDBUF asked for (before doubling).
pub(crate) const BUF_MAX: usize = 212_992;
/// `SOCK_MIN_RCVBUF`.
pub(crate) const SOCK_MIN_RCVBUF: usize = 2304;
/// `SOCK_MIN_SNDBUF`.
pub(crate) const SOCK_MIN_SNDBUF: usize = 4608;

/// An int option (EINVAL when shorter than an int).
pub(crate) fn int_of(val: &[u8]) -> SysResult<i32> {
    let b = val.get(..4).ok_or(Errno::EINVAL)?;
    Ok(i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// A `struct timeval` option (SO_RCVTIMEO, SO_SNDTIMEO): EINVAL when short, EDOM for
/// microseconds out of range; zero or negative seconds mean no timeout (`None`).
pub(crate) fn timeval_of(val: &[u8]) -> SysResult<Option<Duration>> {
    let b = val.get(..16).ok_or(Errno::EINVAL)?;
    let mut s = [0u8; 8];
    s.copy_from_slice(&b[..8]);
    let mut u = [0u8; 8];
    u.copy_from_slice(&b[8..16]);
    let (s, u) = (i64::from_ne_bytes(s), i64::from_ne_bytes(u));
    if !(0..1_000_000).contains(&u) {
        return Err(Errno::EDOM);
    }
    if s < 0 || (s == 0 && u == 0) {
        return Ok(None);
    }
    Ok(Some(Duration::new(s as u64, (u * 1000) as u32)))
}

/// The `struct timeval` getsockopt reports for a timeout (zero for none).
pub(crate) fn timeval_bytes(t: Option<Duration>) -> Vec<u8> {
    let d = t.unwrap_or_default();
    let mut b = (d.as_secs() as i64).to_ne_bytes().to_vec();
    b.extend_from_slice(&i64::from(d.subsec_micros()).to_ne_bytes());
    b
}

/// A `struct linger` option as given: (l_onoff, l_linger); EINVAL when short.
pub(crate) fn linger_of(val: &[u8]) -> SysResult<(i32, i32)> {
    if val.len() < 8 {
        return Err(Errno::EINVAL);
    }
    Ok((int_of(val)?, int_of(&val[4..])?))
}

/// The `struct linger` getsockopt reports.
pub(crate) fn linger_bytes((on, secs): (i32, i32)) -> Vec<u8> {
    let mut b = on.to_ne_bytes().to_vec();
    b.extend_from_slice(&secs.to_ne_bytes());
    b
}

/// The buffer size SO_RCVBUF/SO_SNDBUF set from the value `v` asked for: doubled, at most
/// twice `BUF_MAX`, at least `min` (negative asks count as 0).
pub(crate) fn buf_size(v: i32, min: usize) -> usize {
    (usize::try_from(v).unwrap_or(0).min(BUF_MAX) * 2).max(min)
}

/// When a wait bounded by the timeout `t` ends (`None`: never). A timeout too far away to be
/// represented waits forever, as Linux's MAX_SCHEDULE_TIMEOUT.
pub(crate) fn deadline(t: Option<Duration>) -> Option<Instant> {
    t.filter(|d| !d.is_zero())
        .and_then(|d| Instant::now().checked_add(d))
}

/// Waits on `queues` until `ready` (EINTR on a signal; a passed `deadline` is EAGAIN, as
/// SO_RCVTIMEO/SO_SNDTIMEO).
pub(crate) fn block(
    task: TaskRef,
    queues: &[&WaitQueue],
    deadline: Option<Instant>,
    ready: impl FnMut() -> bool,
) -> SysResult<()> {
    let waker = task.map(|t| t.waker.clone()).unwrap_or_default();
    let _regs: Vec<_> = queues.iter().map(|q| q.register(&waker)).collect();
    match waker.wait_until(deadline, ready) {
        Err(Errno::ETIMEDOUT) => Err(Errno::EAGAIN),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tv(s: i64, u: i64) -> Vec<u8> {
        let mut b = s.to_ne_bytes().to_vec();
        b.extend_from_slice(&u.to_ne_bytes());
        b
    }

    #[test]
    fn ints_need_four_bytes() {
        assert_eq!(int_of(&7i32.to_ne_bytes()), Ok(7));
        assert_eq!(int_of(&[1, 0, 0, 0, 9]), Ok(1));
        assert_eq!(int_of(&[1, 0, 0]), Err(Errno::EINVAL));
    }

    #[test]
    fn timevals_decode_and_round_trip() {
        assert_eq!(
            timeval_of(&tv(2, 500_000)),
            Ok(Some(Duration::from_millis(2500)))
        );
        assert_eq!(timeval_of(&tv(0, 0)), Ok(None));
        assert_eq!(timeval_of(&tv(-1, 0)), Ok(None));
        assert_eq!(timeval_of(&tv(1, 1_000_000)), Err(Errno::EDOM));
        assert_eq!(timeval_of(&tv(1, -1)), Err(Errno::EDOM));
        assert_eq!(timeval_of(&tv(1, 0)[..15]), Err(Errno::EINVAL));
        assert_eq!(
            timeval_bytes(Some(Duration::from_millis(2500))),
            tv(2, 500_000)
        );
        assert_eq!(timeval_bytes(None), tv(0, 0));
    }

    #[test]
    fn linger_and_buffer_sizes() {
        assert_eq!(linger_of(&linger_bytes((1, 5))), Ok((1, 5)));
        assert_eq!(linger_of(&[0; 7]), Err(Errno::EINVAL));
        assert_eq!(buf_size(100_000, SOCK_MIN_RCVBUF), 200_000);
        assert_eq!(buf_size(1, SOCK_MIN_RCVBUF), SOCK_MIN_RCVBUF);
        assert_eq!(buf_size(-1, SOCK_MIN_SNDBUF), SOCK_MIN_SNDBUF);
        assert_eq!(buf_size(i32::MAX, SOCK_MIN_RCVBUF), 2 * BUF_MAX);
    }

    #[test]
    fn huge_timeouts_wait_forever() {
        assert_eq!(deadline(None), None);
        assert_eq!(deadline(Some(Duration::ZERO)), None);
        assert_eq!(deadline(Some(Duration::new(i64::MAX as u64, 0))), None);
        assert!(deadline(Some(Duration::from_secs(1))).is_some());
    }

    #[test]
    fn a_passed_deadline_is_eagain() {
        let q = WaitQueue::new();
        assert_eq!(
            block(None, &[&q], Some(Instant::now()), || false),
            Err(Errno::EAGAIN)
        );
        assert_eq!(block(None, &[&q], None, || true), Ok(()));
    }
}
