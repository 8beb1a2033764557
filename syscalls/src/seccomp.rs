//! seccomp(2) and prctl(PR_SET_SECCOMP / PR_GET_SECCOMP) (Linux `kernel/seccomp.c`
//! `do_seccomp`, `prctl_set_seccomp`, `prctl_get_seccomp`): decoding and privilege rules; the
//! filters and their evaluation live in `sentry::kernel::seccomp`.

use sentry::kernel::seccomp::{
    self, Action, Mode, Program, FLAG_LOG, FLAG_NEW_LISTENER, FLAG_SPEC_ALLOW, FLAG_TSYNC,
    FLAG_TSYNC_ESRCH, FLAG_WAIT_KILLABLE_RECV, MAX_INSNS,
};
use sentry::kernel::{SyscallArgs, Task};
use sentry::{Errno, SysResult};

/// `CAP_SYS_ADMIN` (`include/uapi/linux/capability.h`).
const CAP_SYS_ADMIN: u32 = 21;

const SECCOMP_SET_MODE_STRICT: u32 = 0;
const SECCOMP_SET_MODE_FILTER: u32 = 1;
const SECCOMP_GET_ACTION_AVAIL: u32 = 2;
const SECCOMP_GET_NOTIF_SIZES: u32 = 3;

/// `struct seccomp_notif_sizes` of Linux 5.0+: seccomp_notif, seccomp_notif_resp, seccomp_data.
const NOTIF_SIZES: [u16; 3] = [80, 24, 64];

/// seccomp(operation, flags, args).
pub fn sys_seccomp(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    do_seccomp(t, a.u32(0), a.u32(1), a.addr(2))
}

fn do_seccomp(t: &mut Task, op: u32, flags: u32, uargs: u64) -> SysResult<u64> {
    match op {
        SECCOMP_SET_MODE_STRICT => {
            if flags != 0 || uargs != 0 {
                return Err(Errno::EINVAL);
            }
            t.seccomp.set_strict()?;
            Ok(0)
        }
        SECCOMP_SET_MODE_FILTER => set_mode_filter(t, flags, uargs),
        SECCOMP_GET_ACTION_AVAIL => {
            if flags != 0 {
                return Err(Errno::EINVAL);
            }
            let mut b = [0u8; 4];
            t.mm.copy_in(uargs, &mut b)?;
            if Action::is_available(u32::from_ne_bytes(b)) {
                Ok(0)
            } else {
                Err(Errno::EOPNOTSUPP)
            }
        }
        SECCOMP_GET_NOTIF_SIZES => {
            if flags != 0 {
                return Err(Errno::EINVAL);
            }
            let mut b = [0u8; 6];
            for (i, v) in NOTIF_SIZES.iter().enumerate() {
                b[i * 2..i * 2 + 2].copy_from_slice(&v.to_ne_bytes());
            }
            t.mm.copy_out(uargs, &b)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// SECCOMP_SET_MODE_FILTER: needs no_new_privs or CAP_SYS_ADMIN, else EACCES;
/// the program is a `struct sock_fprog` (u16 len, pointer). NEW_LISTENER is EINVAL: no
/// user-notification listener exists in the sentry.
fn set_mode_filter(t: &mut Task, flags: u32, uargs: u64) -> SysResult<u64> {
    let known = FLAG_TSYNC
        | FLAG_LOG
        | FLAG_SPEC_ALLOW
        | FLAG_NEW_LISTENER
        | FLAG_TSYNC_ESRCH
        | FLAG_WAIT_KILLABLE_RECV;
    if flags & !known != 0 || flags & FLAG_NEW_LISTENER != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & FLAG_WAIT_KILLABLE_RECV != 0 && flags & FLAG_NEW_LISTENER == 0 {
        return Err(Errno::EINVAL);
    }
    if !t.no_new_privs && !t.creds.has_cap(CAP_SYS_ADMIN) {
        return Err(Errno::EACCES);
    }
    let mut fprog = [0u8; 16];
    t.mm.copy_in(uargs, &mut fprog)?;
    let len = usize::from(u16::from_ne_bytes([fprog[0], fprog[1]]));
    let mut ptr = [0u8; 8];
    ptr.copy_from_slice(&fprog[8..16]);
    let ptr = u64::from_ne_bytes(ptr);
    if len == 0 || len > MAX_INSNS {
        return Err(Errno::EINVAL);
    }
    let mut bytes = vec![0u8; len * seccomp::SockFilter::SIZE];
    t.mm.copy_in(ptr, &mut bytes)?;
    let prog = Program::check(&seccomp::program_from_bytes(&bytes)?)?;
    t.seccomp.add_filter(prog, flags)
}

/// prctl(PR_SET_SECCOMP, mode, filter): strict ignores `filter`; filter mode takes no flags.
pub fn prctl_set_seccomp(t: &mut Task, mode: u64, filter: u64) -> SysResult<u64> {
    match mode {
        1 => do_seccomp(t, SECCOMP_SET_MODE_STRICT, 0, 0),
        2 => do_seccomp(t, SECCOMP_SET_MODE_FILTER, 0, filter),
        _ => Err(Errno::EINVAL),
    }
}

/// prctl(PR_GET_SECCOMP): the mode (strict mode never gets here: prctl kills it).
pub fn prctl_get_seccomp(t: &mut Task) -> SysResult<u64> {
    Ok(match t.seccomp.mode() {
        Mode::Disabled => 0,
        Mode::Strict => 1,
        Mode::Filter => 2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notif_sizes_are_linux_5_layout() {
        assert_eq!(NOTIF_SIZES, [80, 24, 64]);
    }
}
