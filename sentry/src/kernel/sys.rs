//! Raw host calls of the kernel module, each wrapped once behind a safe function.

use super::host::HostSysinfo;
use crate::Errno;

/// getrandom(2) on the host into `buf`; returns the bytes written.
pub fn getrandom(buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: the pointer and length describe `buf`, which is valid for writes for its whole
    // length; flags 0 asks for the urandom pool.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        Err(Errno::last())
    } else {
        Ok(n as usize)
    }
}

/// sysinfo(2) on the host.
pub fn sysinfo() -> Result<HostSysinfo, Errno> {
    // SAFETY: `struct sysinfo` is plain data; all-zero is a valid value.
    let mut si: libc::sysinfo = unsafe { std::mem::zeroed() };
    // SAFETY: `si` is a valid, writable `struct sysinfo`.
    let r = unsafe { libc::sysinfo(&mut si) };
    if r < 0 {
        return Err(Errno::last());
    }
    Ok(HostSysinfo {
        loads: [si.loads[0], si.loads[1], si.loads[2]],
        totalram: si.totalram,
        freeram: si.freeram,
        sharedram: si.sharedram,
        bufferram: si.bufferram,
        totalswap: si.totalswap,
        freeswap: si.freeswap,
        totalhigh: si.totalhigh,
        freehigh: si.freehigh,
        mem_unit: si.mem_unit,
    })
}
