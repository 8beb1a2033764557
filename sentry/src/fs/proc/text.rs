//! The text of /proc files (proc(5) formats), as pure functions of kernel facts.

use std::time::Duration;

use crate::kernel::{Task, ThreadGroup};
use crate::vfs::MountRecord;

/// Clock ticks per second for /proc/PID/stat (`USER_HZ`).
const USER_HZ: u128 = 100;

/// What status and stat show about a process.
pub struct ProcessInfo {
    pub pid: i32,
    pub ppid: i32,
    pub comm: Vec<u8>,
    pub uid: [u32; 4],
    pub gid: [u32; 4],
    pub groups: Vec<u32>,
}

impl ProcessInfo {
    /// Ids are the caller's (a process's credentials are not kept per thread group).
    pub fn of(tg: &ThreadGroup, comm: &[u8], t: &Task) -> ProcessInfo {
        let c = &t.creds;
        ProcessInfo {
            pid: tg.pid,
            // The current parent: orphans are reparented to init or a subreaper.
            ppid: t.kernel.parent_of(tg.pid).unwrap_or(0),
            comm: comm.to_vec(),
            uid: [c.uid, c.euid, c.suid, c.fsuid],
            gid: [c.gid, c.egid, c.sgid, c.fsgid],
            groups: c.groups.clone(),
        }
    }
}

/// Strings each followed by a NUL (cmdline, environ).
pub fn nul_joined(v: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in v {
        out.extend_from_slice(s);
        out.push(0);
    }
    out
}

/// /proc/PID/status.
pub fn status(p: &ProcessInfo, umask: u32) -> Vec<u8> {
    let ids = |v: &[u32; 4]| format!("{}\t{}\t{}\t{}", v[0], v[1], v[2], v[3]);
    let groups: Vec<String> = p.groups.iter().map(u32::to_string).collect();
    let mut out = b"Name:\t".to_vec();
    out.extend_from_slice(&p.comm);
    out.extend_from_slice(
        format!(
            "\nUmask:\t{umask:04o}\nState:\tR (running)\nTgid:\t{pid}\nNgid:\t0\nPid:\t{pid}\nPPid:\t{ppid}\n\
             TracerPid:\t0\nUid:\t{uid}\nGid:\t{gid}\nFDSize:\t64\nGroups:\t{groups}\nThreads:\t1\n",
            pid = p.pid,
            ppid = p.ppid,
            uid = ids(&p.uid),
            gid = ids(&p.gid),
            groups = groups.join(" "),
        )
        .as_bytes(),
    );
    out
}

/// /proc/PID/stat (52 fields; times and sizes the sentry does not track are 0).
pub fn stat(p: &ProcessInfo, start: Duration) -> Vec<u8> {
    let starttime = start.as_millis() * USER_HZ / 1000;
    let mut out = format!("{} (", p.pid).into_bytes();
    out.extend_from_slice(&p.comm);
    out.extend_from_slice(
        format!(
            ") R {ppid} {pid} {pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 {starttime} 0 0 \
             18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
            ppid = p.ppid,
            pid = p.pid,
        )
        .as_bytes(),
    );
    out
}

/// /proc/mounts.
pub fn mounts(records: &[MountRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        out.extend_from_slice(b"none ");
        out.extend_from_slice(&r.path);
        out.extend_from_slice(
            format!(
                " {} {},relatime 0 0\n",
                r.fs_type,
                if r.readonly { "ro" } else { "rw" }
            )
            .as_bytes(),
        );
    }
    out
}

/// /proc/uptime.
pub fn uptime(up: Duration) -> Vec<u8> {
    let s = up.as_secs_f64();
    format!("{s:.2} {s:.2}\n").into_bytes()
}

/// /proc/version.
pub fn version() -> Vec<u8> {
    b"Linux version 4.4.0 (runsc@sandbox) (gcc version 12.2.0) #1 SMP Sun Jan 10 15:06:54 PST 2016\n".to_vec()
}

/// /proc/filesystems.
pub fn filesystems() -> Vec<u8> {
    b"nodev\tproc\nnodev\ttmpfs\nnodev\tdevtmpfs\nnodev\t9p\n".to_vec()
}

/// /proc/meminfo (a fixed 2 GiB machine: the sentry does not account memory yet).
pub fn meminfo() -> Vec<u8> {
    let total_kb = 2u64 << 20;
    format!(
        "MemTotal:       {total_kb:>8} kB\nMemFree:        {free:>8} kB\nMemAvailable:   {free:>8} kB\n\
         Buffers:               0 kB\nCached:                0 kB\nSwapCached:            0 kB\n\
         SwapTotal:             0 kB\nSwapFree:              0 kB\n",
        free = total_kb / 2
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ProcessInfo {
        ProcessInfo {
            pid: 7,
            ppid: 1,
            comm: b"cat".to_vec(),
            uid: [0; 4],
            gid: [0; 4],
            groups: vec![],
        }
    }

    #[test]
    fn stat_has_52_fields_and_comm_in_parens() {
        let s = String::from_utf8(stat(&info(), Duration::from_secs(2))).unwrap();
        assert!(s.starts_with("7 (cat) R 1 7 7 "));
        assert_eq!(s.split_whitespace().count(), 52);
        assert_eq!(s.split_whitespace().nth(21), Some("200"));
    }

    #[test]
    fn status_names_the_ids() {
        let s = String::from_utf8(status(&info(), 0o022)).unwrap();
        assert!(s.starts_with("Name:\tcat\n"));
        assert!(s.contains("\nPid:\t7\n"));
        assert!(s.contains("\nPPid:\t1\n"));
        assert!(s.contains("\nUmask:\t0022\n"));
    }

    #[test]
    fn cmdline_is_nul_terminated() {
        assert_eq!(
            nul_joined(&[b"ls".to_vec(), b"-l".to_vec()]),
            b"ls\0-l\0".to_vec()
        );
    }

    #[test]
    fn mounts_lines() {
        let r = vec![MountRecord {
            path: b"/tmp".to_vec(),
            fs_type: "tmpfs",
            readonly: false,
        }];
        assert_eq!(mounts(&r), b"none /tmp tmpfs rw,relatime 0 0\n".to_vec());
    }
}
