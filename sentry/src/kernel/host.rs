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

/// How many CPUs the sandbox offers: the sentry's own CPU affinity when it boots, counted
/// through sched_getaffinity(2) (std's `available_parallelism` reads cgroup files, which the
/// sentry may not open). Read before the platform pins any thread.
pub fn host_cpu_count() -> usize {
    match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..nix::sched::CpuSet::count())
            .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
            .count()
            .max(1),
        Err(_) => 1,
    }
}
