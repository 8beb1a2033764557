//! Capability sets: capget(2) and capset(2) (`kernel/capability.c`, the checks of
//! `cap_capset` in `security/commoncap.c`), on the sets a task's credentials carry.

use sentry::kernel::{CapSets, SyscallArgs, Task};
use sentry::{Errno, SysResult};

/// `_LINUX_CAPABILITY_VERSION_1`: one 32-bit data element.
const VERSION_1: u32 = 0x1998_0330;
/// `_LINUX_CAPABILITY_VERSION_2` (deprecated) and `_3`: two elements.
const VERSION_2: u32 = 0x2007_1026;
const VERSION_3: u32 = 0x2008_0522;
/// CAP_SETPCAP: may raise inheritable capabilities up to the bounding set.
const CAP_SETPCAP: u32 = 8;

/// Reads the header; returns (data elements, pid). An unknown version is written back as the
/// kernel's preferred one, with EINVAL (how libcap probes).
fn header(t: &mut Task, a: &SyscallArgs) -> SysResult<(usize, i32)> {
    let mut h = [0u8; 8];
    t.mm.copy_in(a.addr(0), &mut h)?;
    let version = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]);
    let pid = i32::from_ne_bytes([h[4], h[5], h[6], h[7]]);
    let n = match version {
        VERSION_1 => 1,
        VERSION_2 | VERSION_3 => 2,
        _ => {
            t.mm.copy_out(a.addr(0), &VERSION_3.to_ne_bytes())?;
            return Err(Errno::EINVAL);
        }
    };
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    Ok((n, pid))
}

/// `struct __user_cap_data_struct` elements (effective, permitted, inheritable; 12 bytes
/// each), low 32 bits first.
fn encode(c: &CapSets, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 * n);
    for i in 0..n {
        for set in [c.effective, c.permitted, c.inheritable] {
            out.extend_from_slice(&((set >> (32 * i)) as u32).to_ne_bytes());
        }
    }
    out
}

/// (effective, permitted, inheritable) from `n` data elements.
fn decode(b: &[u8], n: usize) -> (u64, u64, u64) {
    let word = |i: usize| {
        let o = i * 4;
        u64::from(u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]))
    };
    let mut sets = [0u64; 3];
    for i in 0..n {
        for (k, s) in sets.iter_mut().enumerate() {
            *s |= word(i * 3 + k) << (32 * i);
        }
    }
    (sets[0], sets[1], sets[2])
}

/// capget(hdrp, datap): the caller's sets, or another thread's in the sandbox.
pub fn sys_capget(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (n, pid) = header(t, a)?;
    let caps = if pid == 0 || pid == t.tid {
        t.creds.caps
    } else {
        let tg = t.kernel.thread_group(pid).ok_or(Errno::ESRCH)?;
        tg.view_creds().ok_or(Errno::ESRCH)?.caps
    };
    if a.addr(1) != 0 {
        t.mm.copy_out(a.addr(1), &encode(&caps, n))?;
    }
    Ok(0)
}

/// capset(hdrp, datap): the caller's own sets only (EPERM for another task, as since Linux
/// 2.6.24), under Linux's rules: permitted may only shrink, effective stays within it,
/// inheritable within the old inheritable and permitted sets (with CAP_SETPCAP, the bounding
/// set); ambient capabilities no longer both permitted and inheritable are dropped.
pub fn sys_capset(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let (n, pid) = header(t, a)?;
    if pid != 0 && pid != t.tid {
        return Err(Errno::EPERM);
    }
    let mut b = vec![0u8; 12 * n];
    t.mm.copy_in(a.addr(1), &mut b)?;
    let (eff, prm, inh) = decode(&b, n);
    let mut c = (*t.creds).clone();
    let new = check_capset(&c.caps, c.has_cap(CAP_SETPCAP), eff, prm, inh)?;
    c.caps = new;
    t.set_creds(c);
    Ok(0)
}

fn check_capset(old: &CapSets, setpcap: bool, eff: u64, prm: u64, inh: u64) -> SysResult<CapSets> {
    let inh_limit = old.inheritable | if setpcap { old.bounding } else { old.permitted };
    if inh & !inh_limit != 0 || inh & !(old.inheritable | old.bounding) != 0 {
        return Err(Errno::EPERM);
    }
    if prm & !old.permitted != 0 || eff & !prm != 0 {
        return Err(Errno::EPERM);
    }
    Ok(CapSets {
        effective: eff,
        permitted: prm,
        inheritable: inh,
        bounding: old.bounding,
        ambient: old.ambient & prm & inh,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_elements_round_trip_both_halves() {
        let c = CapSets {
            effective: 0x1_0000_0001,
            permitted: 0x1_ffff_ffff,
            inheritable: 4,
            ..CapSets::default()
        };
        let b = encode(&c, 2);
        assert_eq!(b.len(), 24);
        assert_eq!(decode(&b, 2), (c.effective, c.permitted, c.inheritable));
        assert_eq!(decode(&encode(&c, 1), 1), (1, 0xffff_ffff, 4));
    }

    #[test]
    fn capset_only_shrinks_permitted_and_keeps_effective_inside() {
        let old = CapSets {
            effective: 0b111,
            permitted: 0b111,
            inheritable: 0,
            bounding: 0b1111,
            ambient: 0,
        };
        let new = check_capset(&old, false, 0b001, 0b011, 0b010).unwrap();
        assert_eq!((new.effective, new.permitted, new.inheritable), (1, 3, 2));
        assert_eq!(check_capset(&old, false, 0, 0b1111, 0), Err(Errno::EPERM));
        assert_eq!(
            check_capset(&old, false, 0b100, 0b011, 0),
            Err(Errno::EPERM)
        );
        assert_eq!(check_capset(&old, false, 0, 0, 0b1000), Err(Errno::EPERM));
        assert!(check_capset(&old, true, 0, 0, 0b1000).is_ok());
    }
}
