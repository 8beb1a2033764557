//! Changing a thread's credentials the classic ways (after Linux `kernel/sys.c` and
//! `kernel/groups.c`; `security/commoncap.c` for the capability fix-ups): setuid(2), setgid(2),
//! setreuid(2), setregid(2), setfsuid(2), setfsgid(2) and setgroups(2). setresuid/setresgid live
//! in `process`. Each changes the calling thread only; glibc makes the other threads follow.

use sentry::kernel::creds::Credentials;
use sentry::kernel::{SyscallArgs, Task};
use sentry::{Errno, SysResult};

/// Capability numbers (`include/uapi/linux/capability.h`).
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;

/// Linux `NGROUPS_MAX`.
const NGROUPS_MAX: usize = 65536;

/// `(uid_t)-1`: "leave this id alone", and never a valid id.
const KEEP: u32 = u32::MAX;

/// Replaces the calling thread's credentials with `c`.
fn commit(t: &mut Task, c: Credentials) {
    t.set_creds(c);
}

/// setuid(uid): with CAP_SETUID sets all four ids; otherwise only the effective (and
/// filesystem) one, to the real or saved id.
pub fn sys_setuid(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let uid = a.u32(0);
    if uid == KEEP {
        return Err(Errno::EINVAL);
    }
    let mut c = (*t.creds).clone();
    let old = [c.uid, c.euid, c.suid];
    if c.has_cap(CAP_SETUID) {
        (c.uid, c.suid) = (uid, uid);
    } else if uid != c.uid && uid != c.suid {
        return Err(Errno::EPERM);
    }
    (c.euid, c.fsuid) = (uid, uid);
    c.fix_caps_after_setuid(old);
    commit(t, c);
    Ok(0)
}

/// setgid(gid): as setuid, with CAP_SETGID and no capability fix-up.
pub fn sys_setgid(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let gid = a.u32(0);
    if gid == KEEP {
        return Err(Errno::EINVAL);
    }
    let mut c = (*t.creds).clone();
    if c.has_cap(CAP_SETGID) {
        (c.gid, c.sgid) = (gid, gid);
    } else if gid != c.gid && gid != c.sgid {
        return Err(Errno::EPERM);
    }
    (c.egid, c.fsgid) = (gid, gid);
    commit(t, c);
    Ok(0)
}

/// The new (real, effective, saved) ids of setreuid/setregid from the current three: a real
/// id may become the real or effective one, an effective id any of the three (anything with
/// the capability); the saved id follows the effective one when the real id is set or the
/// effective one is set to something other than the old real id.
fn new_re_ids(cur: [u32; 3], r: u32, e: u32, privileged: bool) -> SysResult<[u32; 3]> {
    let [old_r, old_e, old_s] = cur;
    let mut out = cur;
    if r != KEEP {
        if !privileged && r != old_r && r != old_e {
            return Err(Errno::EPERM);
        }
        out[0] = r;
    }
    if e != KEEP {
        if !privileged && e != old_r && e != old_e && e != old_s {
            return Err(Errno::EPERM);
        }
        out[1] = e;
    }
    if r != KEEP || (e != KEEP && e != old_r) {
        out[2] = out[1];
    }
    Ok(out)
}

/// setreuid(ruid, euid).
pub fn sys_setreuid(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let mut c = (*t.creds).clone();
    let old = [c.uid, c.euid, c.suid];
    let [uid, euid, suid] = new_re_ids(old, a.u32(0), a.u32(1), c.has_cap(CAP_SETUID))?;
    (c.uid, c.euid, c.suid, c.fsuid) = (uid, euid, suid, euid);
    c.fix_caps_after_setuid(old);
    commit(t, c);
    Ok(0)
}

/// setregid(rgid, egid).
pub fn sys_setregid(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let mut c = (*t.creds).clone();
    let old = [c.gid, c.egid, c.sgid];
    let [gid, egid, sgid] = new_re_ids(old, a.u32(0), a.u32(1), c.has_cap(CAP_SETGID))?;
    (c.gid, c.egid, c.sgid, c.fsgid) = (gid, egid, sgid, egid);
    commit(t, c);
    Ok(0)
}

/// setfsuid(fsuid): always returns the previous filesystem uid; changes it to one of the
/// other ids (any id with CAP_SETUID). Leaving uid 0 drops the filesystem capabilities from
/// the effective set, returning to it raises them again from the permitted set.
pub fn sys_setfsuid(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let uid = a.u32(0);
    let c = t.creds.clone();
    let old = c.fsuid;
    let allowed = [c.uid, c.euid, c.suid, c.fsuid].contains(&uid) || c.has_cap(CAP_SETUID);
    if uid != KEEP && allowed && uid != old {
        let mut c = (*c).clone();
        c.fsuid = uid;
        c.fix_caps_after_setfsuid(old);
        commit(t, c);
    }
    Ok(old.into())
}

/// setfsgid(fsgid): as setfsuid, with CAP_SETGID.
pub fn sys_setfsgid(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let gid = a.u32(0);
    let c = t.creds.clone();
    let old = c.fsgid;
    let allowed = [c.gid, c.egid, c.sgid, c.fsgid].contains(&gid) || c.has_cap(CAP_SETGID);
    if gid != KEEP && allowed && gid != old {
        let mut c = (*c).clone();
        c.fsgid = gid;
        commit(t, c);
    }
    Ok(old.into())
}

/// setgroups(size, list): needs CAP_SETGID; the list is kept sorted, as Linux keeps it (and
/// getgroups returns it).
pub fn sys_setgroups(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let size = a.i32(0);
    let n = usize::try_from(size).map_err(|_| Errno::EINVAL)?;
    if n > NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    if !t.creds.has_cap(CAP_SETGID) {
        return Err(Errno::EPERM);
    }
    let mut bytes = vec![0u8; n * 4];
    t.mm.copy_in(a.addr(1), &mut bytes)?;
    let mut groups: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if groups.contains(&KEEP) {
        return Err(Errno::EINVAL);
    }
    groups.sort_unstable();
    let mut c = (*t.creds).clone();
    c.groups = groups;
    commit(t, c);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setreuid_rules_follow_linux() {
        // Unprivileged (1000, 1001, 1002).
        let cur = [1000, 1001, 1002];
        // Swap real and effective: allowed; saved follows the new effective.
        assert_eq!(new_re_ids(cur, 1001, 1000, false), Ok([1001, 1000, 1000]));
        // Effective to the saved id, real kept: saved becomes it too (differs from old real).
        assert_eq!(new_re_ids(cur, KEEP, 1002, false), Ok([1000, 1002, 1002]));
        // Effective back to the real id: saved unchanged.
        assert_eq!(new_re_ids(cur, KEEP, 1000, false), Ok([1000, 1000, 1002]));
        // Real id to the saved id is not allowed; any id with privilege is.
        assert_eq!(new_re_ids(cur, 1002, KEEP, false), Err(Errno::EPERM));
        assert_eq!(new_re_ids(cur, 5, 6, true), Ok([5, 6, 6]));
        assert_eq!(new_re_ids(cur, KEEP, KEEP, false), Ok(cur));
    }
}
