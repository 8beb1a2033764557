//! Facts the sentry takes from the host: uname fields, memory totals, random bytes.

use crate::{Errno, SysResult};

/// The host's uname fields that the sandbox reports as its own (release, version, machine).
#[derive(Debug, Clone)]
pub struct HostUname {
    pub release: Vec<u8>,
    pub version: Vec<u8>,
    pub machine: Vec<u8>,
}

/// Reads the host's uname once per call (cheap; a plain host syscall).
pub fn host_uname() -> HostUname {
    match nix::sys::utsname::uname() {
        Ok(u) => HostUname {
            release: u.release().as_encoded_bytes().to_vec(),
            version: u.version().as_encoded_bytes().to_vec(),
            machine: u.machine().as_encoded_bytes().to_vec(),
        },
        Err(_) => HostUname {
            release: b"6.0.0".to_vec(),
            version: b"#1 SMP".to_vec(),
            machine: b"x86_64".to_vec(),
        },
    }
}

/// The host's memory figures for sysinfo(2).
#[derive(Debug, Clone, Default)]
pub struct HostSysinfo {
    pub loads: [u64; 3],
    pub totalram: u64,
    pub freeram: u64,
    pub sharedram: u64,
    pub bufferram: u64,
    pub totalswap: u64,
    pub freeswap: u64,
    pub totalhigh: u64,
    pub freehigh: u64,
    pub mem_unit: u32,
}

pub fn host_sysinfo() -> HostSysinfo {
    super::sys::sysinfo().unwrap_or_default()
}

/// Fills `buf` with random bytes from the host's generator.
pub fn random_fill(buf: &mut [u8]) -> SysResult<()> {
    let mut done = 0;
    while done < buf.len() {
        match super::sys::getrandom(&mut buf[done..]) {
            Ok(n) => done += n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
