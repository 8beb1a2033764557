//! System information: uname(2), sethostname(2), setdomainname(2), sysinfo(2), getrandom(2).

use sentry::kernel::{SyscallArgs, Task};
use sentry::{Errno, SysResult};

const UTS_LEN: usize = 65;

/// uname(2): the host's kernel release, version and machine (the sandbox implements that ABI),
/// with the sandbox's own host and NIS domain names (the OCI spec's, "(none)" without one).
pub fn sys_uname(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let host = sentry::kernel::host_uname();
    let uts = t.kernel.uts_names();
    let fields: [&[u8]; 6] = [
        b"Linux",
        uts.hostname.as_bytes(),
        &host.release,
        &host.version,
        &host.machine,
        uts.domainname.as_bytes(),
    ];
    let mut out = vec![0u8; UTS_LEN * 6];
    for (i, f) in fields.iter().enumerate() {
        let n = f.len().min(UTS_LEN - 1);
        out[i * UTS_LEN..i * UTS_LEN + n].copy_from_slice(&f[..n]);
    }
    t.mm.copy_out(a.addr(0), &out)?;
    Ok(0)
}

/// CAP_SYS_ADMIN (`include/uapi/linux/capability.h`).
const CAP_SYS_ADMIN: u32 = 21;

/// sethostname(2) (`domain` false) and setdomainname(2): CAP_SYS_ADMIN in the sandbox's UTS
/// namespace; at most 64 bytes (EINVAL), taken as given (a NUL inside is kept, as Linux
/// keeps it; uname then shows the name up to it).
fn set_uts(t: &mut Task, a: &SyscallArgs, domain: bool) -> SysResult<u64> {
    let len = usize::try_from(a.i32(1)).map_err(|_| Errno::EINVAL)?;
    if len > UTS_LEN - 1 {
        return Err(Errno::EINVAL);
    }
    if !t.creds.has_cap(CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    let mut name = vec![0u8; len];
    t.mm.copy_in(a.addr(0), &mut name)?;
    let end = name.iter().position(|&b| b == 0).unwrap_or(len);
    let name = String::from_utf8_lossy(&name[..end]).into_owned();
    t.kernel.set_uts_name(domain, name);
    Ok(0)
}

/// sethostname(2).
pub fn sys_sethostname(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    set_uts(t, a, false)
}

/// setdomainname(2).
pub fn sys_setdomainname(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    set_uts(t, a, true)
}

/// sysinfo(2): uptime since the sandbox booted, the host's memory totals, the sandbox's
/// process count. Layout: `struct sysinfo` from `include/uapi/linux/sysinfo.h` (112 bytes).
pub fn sys_sysinfo(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let host = sentry::kernel::host_sysinfo();
    let mut b = Vec::with_capacity(112);
    b.extend_from_slice(&(t.kernel.boot_instant.elapsed().as_secs() as i64).to_ne_bytes());
    for l in host.loads {
        b.extend_from_slice(&l.to_ne_bytes());
    }
    for v in [
        host.totalram,
        host.freeram,
        host.sharedram,
        host.bufferram,
        host.totalswap,
        host.freeswap,
    ] {
        b.extend_from_slice(&v.to_ne_bytes());
    }
    b.extend_from_slice(&(t.kernel.pids().len() as u16).to_ne_bytes());
    b.extend_from_slice(&[0u8; 6]); // pad to 8
    b.extend_from_slice(&host.totalhigh.to_ne_bytes());
    b.extend_from_slice(&host.freehigh.to_ne_bytes());
    b.extend_from_slice(&host.mem_unit.to_ne_bytes());
    b.resize(112, 0);
    t.mm.copy_out(a.addr(0), &b)?;
    Ok(0)
}

const GRND_NONBLOCK: u32 = 1;
const GRND_RANDOM: u32 = 2;
const GRND_INSECURE: u32 = 4;

/// getrandom(2): bytes from the host's generator, at most 32 MiB - 1 per call like Linux.
pub fn sys_getrandom(t: &mut Task, a: &SyscallArgs) -> SysResult<u64> {
    let flags = a.u32(2);
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & (GRND_RANDOM | GRND_INSECURE) == (GRND_RANDOM | GRND_INSECURE)
    {
        return Err(Errno::EINVAL);
    }
    let len = a.len(1)?.min((32 << 20) - 1);
    // A seed (libc's 8 or 16 bytes at start-up) is made on the stack, without allocating.
    let (mut small, mut big) = ([0u8; 256], Vec::new());
    let buf: &mut [u8] = match small.get_mut(..len) {
        Some(front) => front,
        None => {
            big.resize(len, 0);
            big.as_mut_slice()
        }
    };
    sentry::kernel::random_fill(buf)?;
    t.mm.copy_out(a.addr(0), buf)?;
    Ok(len as u64)
}
