//! Reading the host's `/proc` for the idle-memory rows: a process's parent, CPU time and
//! resident memory (`/proc/PID/stat`, `/proc/PID/status` VmRSS, `/proc/PID/smaps_rollup` Pss;
//! proc(5)), the descendants of a process, and which part of a sandbox each one is.

use std::path::Path;

/// Clock ticks per second of `utime`/`stime` in `/proc/PID/stat`: USER_HZ, which the x86_64
/// ABI fixes at 100 whatever the kernel's HZ.
pub const USER_HZ: u64 = 100;

/// The fields of `/proc/PID/stat` the runner uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub ppid: i32,
    /// utime + stime, in `USER_HZ` ticks.
    pub cpu_ticks: u64,
}

/// Parses `/proc/PID/stat`. `comm` (field 2) may hold spaces and parentheses, so the fields
/// are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    // After comm: state(3) ppid(4) ... utime(14) stime(15).
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ppid = f.get(1)?.parse().ok()?;
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(Stat {
        ppid,
        cpu_ticks: utime + stime,
    })
}

/// The value in KiB of a `Name:   1234 kB` line (`/proc/PID/status`, `smaps_rollup`).
pub fn parse_kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let v = l.strip_prefix(name)?.strip_prefix(':')?;
        let mut it = v.split_whitespace();
        let n = it.next()?.parse().ok()?;
        match it.next() {
            Some("kB") | None => Some(n),
            Some(_) => None,
        }
    })
}

/// Memory of one process: VmRSS, and Pss when `smaps_rollup` is readable. Sums have a Pss
/// only when every part has one; the default (no process) is zero of both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mem {
    pub rss_kib: u64,
    pub pss_kib: Option<u64>,
}

impl Default for Mem {
    fn default() -> Self {
        Self {
            rss_kib: 0,
            pss_kib: Some(0),
        }
    }
}

impl std::ops::Add for Mem {
    type Output = Mem;
    fn add(self, o: Mem) -> Mem {
        Mem {
            rss_kib: self.rss_kib + o.rss_kib,
            pss_kib: match (self.pss_kib, o.pss_kib) {
                (Some(a), Some(b)) => Some(a + b),
                _ => None,
            },
        }
    }
}

/// Reads one process's memory; None when it is gone (or a zombie without VmRSS).
pub fn mem_of(pid: i32) -> Option<Mem> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = parse_kib_field(&status, "VmRSS")?;
    let pss_kib = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|t| parse_kib_field(&t, "Pss"));
    Some(Mem { rss_kib, pss_kib })
}

/// One process's `stat`, None when it is gone.
pub fn stat_of(pid: i32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Every live process's (pid, ppid).
pub fn all_parents() -> Vec<(i32, i32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        Some((pid, stat_of(pid)?.ppid))
    })
    .collect()
}

/// `root` and all its descendants in `parents` ((pid, ppid) pairs), root first.
pub fn descendants(root: i32, parents: &[(i32, i32)]) -> Vec<i32> {
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(
            parents
                .iter()
                .filter(|&&(c, pp)| pp == p && c != p)
                .map(|&(c, _)| c),
        );
        i += 1;
    }
    out
}

/// What a host process of a sandbox is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The `runsc do` process that started the sandbox and waits for it.
    Launcher,
    /// The sentry (`runsc boot`, gVisor's `runsc-sandbox ... boot`).
    Sentry,
    /// The gofer (`runsc gofer`).
    Gofer,
    /// Anything else below them: ptrace stubs that run the application's address spaces.
    Stub,
}

/// Classifies a process from its NUL-separated `/proc/PID/cmdline`.
pub fn role_of(cmdline: &[u8], is_root: bool) -> Role {
    if is_root {
        return Role::Launcher;
    }
    let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    if args.iter().any(|a| *a == b"boot") {
        Role::Sentry
    } else if args.iter().any(|a| *a == b"gofer") {
        Role::Gofer
    } else {
        Role::Stub
    }
}

/// The resident memory of a sandbox's host processes, by role, and their CPU time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SandboxUsage {
    pub launcher: Mem,
    pub sentry: Mem,
    pub gofer: Mem,
    pub stubs: Mem,
    pub stub_count: usize,
    pub processes: usize,
}

impl SandboxUsage {
    /// Sentry and gofer together.
    pub fn sentry_gofer(&self) -> Mem {
        self.sentry + self.gofer
    }

    /// Every process of the sandbox, the launcher included.
    pub fn total(&self) -> Mem {
        self.launcher + self.sentry + self.gofer + self.stubs
    }
}

/// The memory of `pids` (`pids[0]` is the launcher), read now.
pub fn usage_of(pids: &[i32]) -> SandboxUsage {
    let mut u = SandboxUsage::default();
    for (i, &pid) in pids.iter().enumerate() {
        let Some(m) = mem_of(pid) else { continue };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        u.processes += 1;
        match role_of(&cmdline, i == 0) {
            Role::Launcher => u.launcher = u.launcher + m,
            Role::Sentry => u.sentry = u.sentry + m,
            Role::Gofer => u.gofer = u.gofer + m,
            Role::Stub => {
                u.stubs = u.stubs + m;
                u.stub_count += 1;
            }
        }
    }
    u
}

/// utime + stime of `pids` (ticks), the processes still alive.
pub fn cpu_ticks_of(pids: &[i32]) -> u64 {
    pids.iter()
        .filter_map(|&p| stat_of(p))
        .map(|s| s.cpu_ticks)
        .sum()
}

/// Whether `/proc` is there to read.
pub fn available() -> bool {
    Path::new("/proc/self/stat").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        let line = "1234 (a (b) c) S 77 1234 1234 0 -1 4194560 100 0 0 0 15 7 0 0 20 0 1 0 \
                    5000 1000000 200 18446744073709551615";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                ppid: 77,
                cpu_ticks: 22
            })
        );
        assert_eq!(parse_stat("12 (x) S"), None);
        assert_eq!(parse_stat("no parens"), None);
        let me = stat_of(std::process::id() as i32);
        assert!(me.is_some_and(|s| s.ppid > 0));
    }

    #[test]
    fn kib_fields_parse_status_and_smaps_rollup() {
        let status = "Name:\tsleep\nVmPeak:\t    8000 kB\nVmRSS:\t    1536 kB\nRssAnon:\t 100 kB\n";
        assert_eq!(parse_kib_field(status, "VmRSS"), Some(1536));
        assert_eq!(parse_kib_field(status, "VmSwap"), None);
        // "Rss" must not match "RssAnon", nor "Pss" "Pss_Anon".
        let rollup = "00400000-7ffd r--p 00000000 00:00 0 [rollup]\nRss:  900 kB\n\
                      Pss:   412 kB\nPss_Anon:  300 kB\n";
        assert_eq!(parse_kib_field(rollup, "Pss"), Some(412));
        assert_eq!(parse_kib_field(rollup, "Pss_Anon"), Some(300));
        assert_eq!(parse_kib_field("VmRSS:\t12 MB\n", "VmRSS"), None);
        let me = mem_of(std::process::id() as i32);
        assert!(me.is_some_and(|m| m.rss_kib > 0));
        if Path::new("/proc/self/smaps_rollup").is_file() {
            assert!(me.is_some_and(|m| m.pss_kib.is_some_and(|p| p > 0)));
        }
    }

    #[test]
    fn descendants_walk_the_tree_and_roles_come_from_argv() {
        let parents = [(10, 1), (11, 10), (12, 10), (13, 12), (20, 1), (14, 13)];
        assert_eq!(descendants(10, &parents), vec![10, 11, 12, 13, 14]);
        assert_eq!(descendants(99, &parents), vec![99]);
        assert_eq!(role_of(b"runsc\0do\0--\0sleep", true), Role::Launcher);
        assert_eq!(role_of(b"runsc\0boot\0--io-fd\x004", false), Role::Sentry);
        assert_eq!(
            role_of(b"runsc-sandbox\0--root=/x\0boot\0--attached", false),
            Role::Sentry
        );
        assert_eq!(role_of(b"runsc\0gofer\0--root\0/", false), Role::Gofer);
        assert_eq!(role_of(b"", false), Role::Stub);
        // A pathname argument that merely contains the word is not a role.
        assert_eq!(role_of(b"x\0/tmp/boot", false), Role::Stub);
        let m = |r, p| Mem {
            rss_kib: r,
            pss_kib: p,
        };
        assert_eq!(m(1, Some(2)) + m(3, Some(4)), m(4, Some(6)));
        assert_eq!(m(1, Some(2)) + m(3, None), m(4, None));
        assert_eq!(Mem::default() + m(3, Some(4)), m(3, Some(4)));
    }
}
