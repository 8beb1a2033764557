//! The text of /proc files (proc(5) formats; Linux `fs/proc/array.c`, `fs/proc/base.c`,
//! `fs/proc/meminfo.c`, `fs/proc/stat.c`), as pure functions of kernel facts.

use std::fmt::Write as _;
use std::time::Duration;

use crate::kernel::thread_group::{Rlimit, RLIMIT_COUNT, RLIM_INFINITY};
use crate::kernel::HostSysinfo;
use crate::vfs::MountRecord;

/// Clock ticks per second for /proc/PID/stat (`USER_HZ`).
pub const USER_HZ: u128 = 100;

/// Page size in bytes.
const PAGE: u64 = 4096;

/// Clock ticks in `d`.
pub fn ticks(d: Duration) -> u64 {
    u64::try_from(d.as_millis() * USER_HZ / 1000).unwrap_or(u64::MAX)
}

/// Memory figures of one address space, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemInfo {
    pub vsize: u64,
    pub rss: u64,
    pub rss_file: u64,
    pub rss_shmem: u64,
    pub data: u64,
    pub stack: u64,
    pub exe: u64,
    pub lib: u64,
    pub start_brk: u64,
    pub brk: u64,
}

/// One mapping as the memory figures need it.
pub struct MapFacts {
    pub len: u64,
    pub accessible: bool,
    pub writable: bool,
    pub exec: bool,
    pub shared: bool,
    pub file: bool,
    pub stack: bool,
}

impl MemInfo {
    /// Sums the mappings. Resident size is every accessible page (the sentry does not track
    /// residency).
    pub fn from_maps(maps: &[MapFacts], brk: (u64, u64)) -> MemInfo {
        let mut m = MemInfo {
            start_brk: brk.0,
            brk: brk.1,
            ..Default::default()
        };
        for v in maps {
            m.vsize += v.len;
            if !v.accessible {
                continue;
            }
            m.rss += v.len;
            if v.file {
                m.rss_file += v.len;
            }
            if v.shared && !v.file {
                m.rss_shmem += v.len;
            }
            if v.stack {
                m.stack += v.len;
            } else if v.writable && !v.shared {
                m.data += v.len;
            }
            if v.exec && v.file {
                if m.exe == 0 {
                    m.exe = v.len;
                } else {
                    m.lib += v.len;
                }
            }
        }
        m
    }

    fn rss_anon(&self) -> u64 {
        self.rss - self.rss_file - self.rss_shmem
    }
}

/// What stat and status show about one thread (or a process through its leader).
#[derive(Debug, Clone, Default)]
pub struct TaskInfo {
    pub pid: i32,
    pub tid: i32,
    /// setpriority(2)'s nice value; sched_setscheduler(2)'s policy and real-time priority.
    pub nice: i32,
    pub sched_policy: i32,
    pub rt_priority: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub comm: Vec<u8>,
    /// 'R', 'S' or 'Z'.
    pub state: char,
    pub threads: usize,
    pub uid: [u32; 4],
    pub gid: [u32; 4],
    pub groups: Vec<u32>,
    pub umask: u32,
    pub fd_size: usize,
    pub start_ticks: u64,
    pub mem: MemInfo,
    pub sig_pending: u64,
    pub sig_shared_pending: u64,
    pub sig_blocked: u64,
    pub sig_ignored: u64,
    pub sig_caught: u64,
    pub sigq: (u64, u64),
    pub no_new_privs: bool,
    /// Seccomp mode (0, 1 strict, 2 filter) and the number of filters.
    pub seccomp: (u8, usize),
    pub ncpus: usize,
    /// The capability sets.
    pub caps: crate::kernel::creds::CapSets,
}

fn state_name(c: char) -> &'static str {
    match c {
        'R' => "R (running)",
        'Z' => "Z (zombie)",
        'D' => "D (disk sleep)",
        'T' => "T (stopped)",
        _ => "S (sleeping)",
    }
}

/// "0-N" for `n` CPUs.
pub fn cpu_list(n: usize) -> String {
    if n <= 1 {
        "0".to_string()
    } else {
        format!("0-{}", n - 1)
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
pub fn status(p: &TaskInfo) -> Vec<u8> {
    let ids = |v: &[u32; 4]| format!("{}\t{}\t{}\t{}", v[0], v[1], v[2], v[3]);
    let groups: Vec<String> = p.groups.iter().map(u32::to_string).collect();
    let kb = |b: u64| format!("{:>8} kB", b / 1024);
    let m = &p.mem;
    let mut out = b"Name:\t".to_vec();
    out.extend_from_slice(&p.comm);
    let mut s = String::new();
    let _ = write!(
        s,
        "\nUmask:\t{umask:04o}\nState:\t{state}\nTgid:\t{pid}\nNgid:\t0\nPid:\t{tid}\nPPid:\t{ppid}\n\
         TracerPid:\t0\nUid:\t{uid}\nGid:\t{gid}\nFDSize:\t{fdsize}\nGroups:\t{groups}\n\
         NStgid:\t{pid}\nNSpid:\t{tid}\nNSpgid:\t{pgid}\nNSsid:\t{sid}\n",
        umask = p.umask,
        state = state_name(p.state),
        pid = p.pid,
        tid = p.tid,
        ppid = p.ppid,
        pgid = p.pgid,
        sid = p.sid,
        uid = ids(&p.uid),
        gid = ids(&p.gid),
        fdsize = p.fd_size,
        groups = groups.join(" "),
    );
    if p.state != 'Z' {
        let _ = write!(
            s,
            "VmPeak:\t{}\nVmSize:\t{}\nVmLck:\t{}\nVmPin:\t{}\nVmHWM:\t{}\nVmRSS:\t{}\n\
             RssAnon:\t{}\nRssFile:\t{}\nRssShmem:\t{}\nVmData:\t{}\nVmStk:\t{}\nVmExe:\t{}\n\
             VmLib:\t{}\nVmPTE:\t{}\nVmSwap:\t{}\n",
            kb(m.vsize),
            kb(m.vsize),
            kb(0),
            kb(0),
            kb(m.rss),
            kb(m.rss),
            kb(m.rss_anon()),
            kb(m.rss_file),
            kb(m.rss_shmem),
            kb(m.data),
            kb(m.stack),
            kb(m.exe),
            kb(m.lib),
            kb((m.vsize / PAGE / 512 + 1) * 4096),
            kb(0),
        );
    }
    let _ = write!(
        s,
        "Threads:\t{threads}\nSigQ:\t{q0}/{q1}\nSigPnd:\t{pnd:016x}\nShdPnd:\t{shd:016x}\n\
         SigBlk:\t{blk:016x}\nSigIgn:\t{ign:016x}\nSigCgt:\t{cgt:016x}\n\
         CapInh:\t{inh:016x}\nCapPrm:\t{prm:016x}\nCapEff:\t{eff:016x}\nCapBnd:\t{bnd:016x}\n\
         CapAmb:\t{amb:016x}\nNoNewPrivs:\t{nnp}\nSeccomp:\t{sc}\nSeccomp_filters:\t{scf}\n\
         Speculation_Store_Bypass:\tthread vulnerable\n\
         Cpus_allowed:\t{mask:x}\nCpus_allowed_list:\t{cpus}\n\
         Mems_allowed:\t00000001\nMems_allowed_list:\t0\n\
         voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n",
        threads = p.threads,
        q0 = p.sigq.0,
        q1 = p.sigq.1,
        pnd = p.sig_pending,
        shd = p.sig_shared_pending,
        blk = p.sig_blocked,
        ign = p.sig_ignored,
        cgt = p.sig_caught,
        inh = p.caps.inheritable,
        prm = p.caps.permitted,
        eff = p.caps.effective,
        bnd = p.caps.bounding,
        amb = p.caps.ambient,
        nnp = u8::from(p.no_new_privs),
        sc = p.seccomp.0,
        scf = p.seccomp.1,
        mask = if p.ncpus >= 64 {
            u64::MAX
        } else {
            (1u64 << p.ncpus.max(1)) - 1
        },
        cpus = cpu_list(p.ncpus),
    );
    out.extend_from_slice(s.as_bytes());
    out
}

/// /proc/PID/stat: the 52 fields of Linux's `do_task_stat`; CPU times and fault counts the
/// sentry does not track are 0.
pub fn stat(p: &TaskInfo) -> Vec<u8> {
    let m = &p.mem;
    let mut out = format!("{} (", p.tid).into_bytes();
    out.extend_from_slice(&p.comm);
    let fields: [String; 50] = [
        p.state.to_string(),
        p.ppid.to_string(),
        p.pgid.to_string(),
        p.sid.to_string(),
        "0".into(),  // tty_nr
        "-1".into(), // tpgid
        "4194560".into(),
        "0".into(), // minflt
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(), // utime
        "0".into(),
        "0".into(),
        "0".into(),
        // priority: -1 - rt_priority for the real-time policies, 20 + nice otherwise.
        if matches!(p.sched_policy, 1 | 2) {
            (-1 - p.rt_priority).to_string()
        } else {
            (20 + p.nice).to_string()
        },
        p.nice.to_string(),
        p.threads.to_string(),
        "0".into(), // itrealvalue
        p.start_ticks.to_string(),
        m.vsize.to_string(),
        (m.rss / PAGE).to_string(),
        RLIM_INFINITY.to_string(), // rsslim
        "0".into(),                // startcode (hidden, as for an unprivileged reader)
        "0".into(),
        "0".into(), // startstack
        "0".into(),
        "0".into(),
        "0".into(), // signal (obsolete; see status)
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(), // wchan
        "0".into(),
        "0".into(),
        "17".into(), // exit_signal
        "0".into(),  // processor
        p.rt_priority.to_string(),
        p.sched_policy.to_string(),
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(), // start_data
        "0".into(),
        m.start_brk.to_string(),
        "0".into(), // arg_start
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(), // exit_code
    ];
    out.extend_from_slice(b")");
    for f in &fields {
        out.push(b' ');
        out.extend_from_slice(f.as_bytes());
    }
    out.push(b'\n');
    out
}

/// /proc/PID/statm: size resident shared text lib data dt, in pages.
pub fn statm(m: &MemInfo) -> Vec<u8> {
    format!(
        "{} {} {} {} 0 {} 0\n",
        m.vsize / PAGE,
        m.rss / PAGE,
        (m.rss_file + m.rss_shmem) / PAGE,
        m.exe / PAGE,
        (m.data + m.stack) / PAGE
    )
    .into_bytes()
}

/// /proc/PID/smaps from the maps text: each mapping followed by its (estimated) sizes.
pub fn smaps(maps: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in maps.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        out.extend_from_slice(line);
        out.push(b'\n');
        let text = String::from_utf8_lossy(line);
        let mut words = text.split_whitespace();
        let range = words.next().unwrap_or("");
        let perms = words.next().unwrap_or("----");
        let size = range
            .split_once('-')
            .and_then(|(a, b)| {
                let a = u64::from_str_radix(a, 16).ok()?;
                let b = u64::from_str_radix(b, 16).ok()?;
                b.checked_sub(a)
            })
            .unwrap_or(0)
            / 1024;
        let rss = if perms.starts_with("---") { 0 } else { size };
        let anon = if perms.as_bytes().get(1) == Some(&b'w') {
            rss
        } else {
            0
        };
        let mut flags = Vec::new();
        for (i, f) in ["rd", "wr", "ex"].iter().enumerate() {
            if perms.as_bytes().get(i).is_some_and(|&c| c != b'-') {
                flags.push(*f);
            }
        }
        flags.push(if perms.ends_with('s') { "sh" } else { "mr" });
        let text = format!(
            "Size:           {size:>8} kB\nKernelPageSize:        4 kB\nMMUPageSize:           4 kB\n\
             Rss:            {rss:>8} kB\nPss:            {rss:>8} kB\nPss_Dirty:      {anon:>8} kB\n\
             Shared_Clean:          0 kB\nShared_Dirty:          0 kB\n\
             Private_Clean:  {clean:>8} kB\nPrivate_Dirty:  {anon:>8} kB\n\
             Referenced:     {rss:>8} kB\nAnonymous:      {anon:>8} kB\nKSM:                   0 kB\n\
             LazyFree:              0 kB\nAnonHugePages:         0 kB\nShmemPmdMapped:        0 kB\n\
             FilePmdMapped:         0 kB\nShared_Hugetlb:        0 kB\nPrivate_Hugetlb:       0 kB\n\
             Swap:                  0 kB\nSwapPss:               0 kB\nLocked:                0 kB\n\
             THPeligible:           0\nVmFlags: {flags} \n",
            clean = rss - anon,
            flags = flags.join(" "),
        );
        out.extend_from_slice(text.as_bytes());
    }
    out
}

/// Names and units of the resource limits, in RLIMIT_* order (Linux `lnames`).
const LIMIT_NAMES: [(&str, &str); RLIMIT_COUNT] = [
    ("Max cpu time", "seconds"),
    ("Max file size", "bytes"),
    ("Max data size", "bytes"),
    ("Max stack size", "bytes"),
    ("Max core file size", "bytes"),
    ("Max resident set", "bytes"),
    ("Max processes", "processes"),
    ("Max open files", "files"),
    ("Max locked memory", "bytes"),
    ("Max address space", "bytes"),
    ("Max file locks", "locks"),
    ("Max pending signals", "signals"),
    ("Max msgqueue size", "bytes"),
    ("Max nice priority", ""),
    ("Max realtime priority", ""),
    ("Max realtime timeout", "us"),
];

/// /proc/PID/limits (Linux `proc_pid_limits`).
pub fn limits(r: &[Rlimit; RLIMIT_COUNT]) -> Vec<u8> {
    let mut s = format!(
        "{:<25} {:<20} {:<20} {:<10}\n",
        "Limit", "Soft Limit", "Hard Limit", "Units"
    );
    let v = |x: u64| {
        if x == RLIM_INFINITY {
            "unlimited".to_string()
        } else {
            x.to_string()
        }
    };
    for (lim, (name, unit)) in r.iter().zip(LIMIT_NAMES) {
        let _ = write!(s, "{:<25} {:<20} {:<20} ", name, v(lim.cur), v(lim.max));
        if unit.is_empty() {
            s.push('\n');
        } else {
            let _ = writeln!(s, "{unit:<10}");
        }
    }
    s.into_bytes()
}

/// /proc/PID/fdinfo/N.
pub fn fdinfo(pos: u64, flags: i32, mnt_id: u64, ino: u64) -> Vec<u8> {
    format!("pos:\t{pos}\nflags:\t0{flags:o}\nmnt_id:\t{mnt_id}\nino:\t{ino}\n").into_bytes()
}

/// A path as /proc/PID/mounts shows it: space, tab, newline and backslash in octal (Linux
/// `mangle`).
fn mangle(out: &mut Vec<u8>, path: &[u8]) {
    for &b in path {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\\') {
            out.extend_from_slice(format!("\\{b:03o}").as_bytes());
        } else {
            out.push(b);
        }
    }
}

/// The per-mount options after "rw"/"ro" (Linux `show_mnt_opts`).
fn mount_opts(r: &MountRecord) -> String {
    let mut s = String::new();
    for (bit, name) in [
        (libc::MS_NOSUID, ",nosuid"),
        (libc::MS_NODEV, ",nodev"),
        (libc::MS_NOEXEC, ",noexec"),
        (libc::MS_NOATIME, ",noatime"),
        (libc::MS_NODIRATIME, ",nodiratime"),
        (libc::MS_RELATIME, ",relatime"),
    ] {
        if r.flags & bit != 0 {
            s.push_str(name);
        }
    }
    s
}

/// /proc/mounts: source, mount point, type, options (the mount's and its filesystem's).
pub fn mounts(records: &[MountRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        mangle(&mut out, r.source.as_bytes());
        out.push(b' ');
        mangle(&mut out, &r.path);
        let ro = r.readonly || r.super_readonly;
        out.extend_from_slice(
            format!(
                " {} {}{}{} 0 0\n",
                r.fs_type,
                if ro { "ro" } else { "rw" },
                mount_opts(r),
                r.super_options
            )
            .as_bytes(),
        );
    }
    out
}

/// /proc/PID/mountinfo (Linux `show_mountinfo`): id, parent id, device, root, mount point,
/// mount options, propagation fields, "-", type, source, filesystem options.
pub fn mountinfo(records: &[MountRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        let (major, minor) = (libc::major(r.dev), libc::minor(r.dev));
        out.extend_from_slice(format!("{} {} {major}:{minor} ", r.id, r.parent).as_bytes());
        mangle(&mut out, &r.root);
        out.push(b' ');
        mangle(&mut out, &r.path);
        let mut fields = String::new();
        if r.propagation.shared != 0 {
            fields.push_str(&format!(" shared:{}", r.propagation.shared));
        }
        if r.propagation.master != 0 {
            fields.push_str(&format!(" master:{}", r.propagation.master));
        }
        if r.propagation.unbindable {
            fields.push_str(" unbindable");
        }
        out.extend_from_slice(
            format!(
                " {}{}{fields} - {} ",
                if r.readonly { "ro" } else { "rw" },
                mount_opts(r),
                r.fs_type
            )
            .as_bytes(),
        );
        mangle(&mut out, r.source.as_bytes());
        out.extend_from_slice(
            format!(
                " {}{}\n",
                if r.super_readonly { "ro" } else { "rw" },
                r.super_options
            )
            .as_bytes(),
        );
    }
    out
}

/// /proc/uptime: seconds up and idle (summed over CPUs).
pub fn uptime(up: Duration, ncpus: usize) -> Vec<u8> {
    let s = up.as_secs_f64();
    format!("{s:.2} {:.2}\n", s * ncpus as f64).into_bytes()
}

/// /proc/loadavg.
pub fn loadavg(running: usize, total: usize, last_pid: i32) -> Vec<u8> {
    format!("0.00 0.00 0.00 {running}/{total} {last_pid}\n").into_bytes()
}

/// /proc/stat: all time idle.
pub fn stat_global(
    up: Duration,
    ncpus: usize,
    btime: u64,
    processes: u64,
    running: usize,
) -> Vec<u8> {
    let idle = ticks(up);
    let mut s = format!("cpu  0 0 0 {} 0 0 0 0 0 0\n", idle * ncpus as u64);
    for i in 0..ncpus {
        let _ = writeln!(s, "cpu{i} 0 0 0 {idle} 0 0 0 0 0 0");
    }
    let _ = write!(
        s,
        "intr 0\nctxt 0\nbtime {btime}\nprocesses {processes}\nprocs_running {running}\n\
         procs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n"
    );
    s.into_bytes()
}

/// /proc/version from the host's uname.
pub fn version(release: &[u8], version: &[u8]) -> Vec<u8> {
    let mut out = b"Linux version ".to_vec();
    out.extend_from_slice(release);
    out.extend_from_slice(b" (runsc@sandbox) (gcc version 12.2.0) ");
    out.extend_from_slice(version);
    out.push(b'\n');
    out
}

/// /proc/filesystems.
pub fn filesystems() -> Vec<u8> {
    b"nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\nnodev\tcgroup2\nnodev\t9p\n"
        .to_vec()
}

/// /proc/meminfo from the host's sysinfo(2).
pub fn meminfo(h: &HostSysinfo) -> Vec<u8> {
    let unit = u64::from(h.mem_unit.max(1));
    let kb = |v: u64| v.saturating_mul(unit) / 1024;
    let total = kb(h.totalram);
    let free = kb(h.freeram);
    let buffers = kb(h.bufferram);
    let shmem = kb(h.sharedram);
    let rows: [(&str, u64); 22] = [
        ("MemTotal", total),
        ("MemFree", free),
        ("MemAvailable", (free + buffers).min(total)),
        ("Buffers", buffers),
        ("Cached", shmem),
        ("SwapCached", 0),
        ("Active", total.saturating_sub(free) / 2),
        ("Inactive", total.saturating_sub(free) / 2),
        ("Unevictable", 0),
        ("Mlocked", 0),
        ("SwapTotal", kb(h.totalswap)),
        ("SwapFree", kb(h.freeswap)),
        ("Dirty", 0),
        ("Writeback", 0),
        ("AnonPages", 0),
        ("Mapped", 0),
        ("Shmem", shmem),
        ("KReclaimable", 0),
        ("Slab", 0),
        ("SReclaimable", 0),
        ("SUnreclaim", 0),
        ("CommitLimit", total / 2 + kb(h.totalswap)),
    ];
    let mut s = String::new();
    for (name, v) in rows {
        let _ = writeln!(s, "{:<16}{v:>8} kB", format!("{name}:"));
    }
    s.push_str(
        "HugePages_Total:       0\nHugePages_Free:        0\nHugePages_Rsvd:        0\n\
         HugePages_Surp:        0\nHugepagesize:       2048 kB\n",
    );
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::thread_group::default_rlimits;

    fn info() -> TaskInfo {
        TaskInfo {
            nice: 0,
            sched_policy: 0,
            rt_priority: 0,
            pid: 7,
            tid: 7,
            ppid: 1,
            pgid: 7,
            sid: 1,
            comm: b"cat".to_vec(),
            state: 'R',
            threads: 1,
            start_ticks: 200,
            ncpus: 4,
            ..Default::default()
        }
    }

    #[test]
    fn stat_has_52_fields_and_comm_in_parens() {
        let s = String::from_utf8(stat(&info())).unwrap();
        assert!(s.starts_with("7 (cat) R 1 7 1 0 -1 "));
        assert_eq!(s.split_whitespace().count(), 52);
        assert_eq!(s.split_whitespace().nth(21), Some("200"));
        assert_eq!(s.split_whitespace().nth(19), Some("1"));
    }

    #[test]
    fn status_names_the_ids() {
        let mut i = info();
        i.umask = 0o022;
        i.sig_ignored = 1 << 12;
        let s = String::from_utf8(status(&i)).unwrap();
        assert!(s.starts_with("Name:\tcat\n"));
        assert!(s.contains("\nPid:\t7\n"));
        assert!(s.contains("\nPPid:\t1\n"));
        assert!(s.contains("\nUmask:\t0022\n"));
        assert!(s.contains("\nVmRSS:\t       0 kB\n"));
        assert!(s.contains("\nSigIgn:\t0000000000001000\n"));
        assert!(s.contains("\nCpus_allowed_list:\t0-3\n"));
    }

    #[test]
    fn limits_matches_linux_layout() {
        let s = String::from_utf8(limits(&default_rlimits())).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 17);
        assert_eq!(
            lines[0],
            "Limit                     Soft Limit           Hard Limit           Units     "
        );
        assert_eq!(
            lines[8],
            "Max open files            1024                 1048576              files     "
        );
        assert_eq!(
            lines[14],
            "Max nice priority         0                    0                    "
        );
    }

    #[test]
    fn memory_from_maps() {
        let maps = [
            MapFacts {
                len: 8192,
                accessible: true,
                writable: false,
                exec: true,
                shared: false,
                file: true,
                stack: false,
            },
            MapFacts {
                len: 4096,
                accessible: false,
                writable: false,
                exec: false,
                shared: false,
                file: false,
                stack: false,
            },
            MapFacts {
                len: 4096,
                accessible: true,
                writable: true,
                exec: false,
                shared: false,
                file: false,
                stack: true,
            },
        ];
        let m = MemInfo::from_maps(&maps, (0, 0));
        assert_eq!(m.vsize, 16384);
        assert_eq!(m.rss, 12288);
        assert_eq!(m.exe, 8192);
        assert_eq!(m.stack, 4096);
        assert_eq!(statm(&m), b"4 3 2 2 0 1 0\n".to_vec());
    }

    #[test]
    fn smaps_sizes_each_mapping() {
        let s =
            String::from_utf8(smaps(b"00400000-00402000 r-xp 00000000 00:00 0 /bin/x\n")).unwrap();
        assert!(s.starts_with("00400000-00402000 r-xp"));
        assert!(s.contains("\nSize:                  8 kB\n"));
        assert!(s.contains("\nRss:                   8 kB\n"));
        assert!(s.contains("VmFlags: rd ex mr \n"));
    }

    #[test]
    fn cmdline_is_nul_terminated() {
        assert_eq!(
            nul_joined(&[b"ls".to_vec(), b"-l".to_vec()]),
            b"ls\0-l\0".to_vec()
        );
    }

    #[test]
    fn mounts_and_mountinfo_lines() {
        let rec = |id, parent, path: &[u8], fs_type, readonly| MountRecord {
            id,
            parent,
            dev: libc::makedev(0, 33),
            root: b"/".to_vec(),
            path: path.to_vec(),
            fs_type,
            source: fs_type.to_string(),
            readonly,
            flags: libc::MS_RELATIME,
            propagation: Default::default(),
            super_readonly: readonly,
            super_options: String::new(),
        };
        let mut r = vec![
            rec(1, 0, b"/", "9p", true),
            rec(7, 1, b"/tmp", "tmpfs", false),
        ];
        assert_eq!(
            mounts(&r[1..]),
            b"tmpfs /tmp tmpfs rw,relatime 0 0\n".to_vec()
        );
        let mi = String::from_utf8(mountinfo(&r)).unwrap();
        assert_eq!(
            mi.lines().nth(1),
            Some("7 1 0:33 / /tmp rw,relatime - tmpfs tmpfs rw")
        );
        let t = &mut r[1];
        t.flags |= libc::MS_NOSUID | libc::MS_NOEXEC;
        t.propagation.shared = 3;
        t.propagation.master = 2;
        t.super_options = ",size=64k".to_string();
        t.path = b"/a b".to_vec();
        let mi = String::from_utf8(mountinfo(&r[1..])).unwrap();
        assert_eq!(
            mi,
            "7 1 0:33 / /a\\040b rw,nosuid,noexec,relatime shared:3 master:2 - tmpfs tmpfs rw,size=64k\n"
        );
        assert_eq!(
            mounts(&r[1..]),
            b"tmpfs /a\\040b tmpfs rw,nosuid,noexec,relatime,size=64k 0 0\n".to_vec()
        );
    }

    #[test]
    fn meminfo_from_sysinfo() {
        let h = HostSysinfo {
            totalram: 4 << 30,
            freeram: 1 << 30,
            mem_unit: 1,
            ..Default::default()
        };
        let s = String::from_utf8(meminfo(&h)).unwrap();
        assert!(s.starts_with("MemTotal:        4194304 kB\nMemFree:         1048576 kB\n"));
        assert!(s.contains("\nSwapTotal:             0 kB\n"));
    }

    #[test]
    fn global_stat_and_loadavg() {
        let s = String::from_utf8(stat_global(Duration::from_secs(1), 2, 1000, 5, 1)).unwrap();
        assert!(s.starts_with("cpu  0 0 0 200 0 0 0 0 0 0\ncpu0 0 0 0 100 "));
        assert!(s.contains("\nbtime 1000\nprocesses 5\nprocs_running 1\n"));
        assert_eq!(loadavg(1, 3, 9), b"0.00 0.00 0.00 1/3 9\n".to_vec());
    }
}
