//! The sentry's /proc (after gVisor's `pkg/sentry/fsimpl/proc`; Linux `fs/proc/`, proc(5)),
//! synthesized from kernel state at lookup and open time. Files are snapshots taken at open.
//!
//! `/proc/self` and `/proc/thread-self` are symlinks to the caller's pid and thread.
//! `/proc/PID/{fd/N,cwd,root}` are magic links (following them reaches the open file's or
//! directory's dentry, see `vfs`); `exe` is a plain symlink to the executable's path. Another
//! process's memory map, fd table, working directory and credentials are reached through the
//! weak handles its leader publishes on its `ThreadGroup` (`ThreadGroup::publish_views`).
//! `/proc/PID/task/TID` shows the same files per thread. `/proc/sys` is a small fixed tree.

mod cpuinfo;
mod net;
mod sysvipc;
mod text;

use std::any::Any;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::kernel::{Credentials, Task, ThreadGroup};
use crate::mm::MemoryManager;
use crate::platform::Prot;
use crate::vfs::{
    Dentry, DirEntry, FdTable, FileOps, FsContext, Inode, NoDataOps, Stat, StatFs, TaskRef,
    Timespec,
};
use crate::{Errno, SysResult};

/// `PROC_SUPER_MAGIC`.
pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Files in /proc itself.
const ROOT_FILES: &[(&str, FileKind)] = &[
    ("cpuinfo", FileKind::Cpuinfo),
    ("filesystems", FileKind::Filesystems),
    ("loadavg", FileKind::Loadavg),
    ("meminfo", FileKind::Meminfo),
    ("stat", FileKind::GlobalStat),
    ("uptime", FileKind::Uptime),
    ("version", FileKind::Version),
];

/// Entries of /proc/PID (and, but for `task`, of /proc/PID/task/TID).
const PID_ENTRIES: &[(&str, Kind)] = &[
    ("auxv", Kind::File(FileKind::Auxv)),
    ("cgroup", Kind::File(FileKind::Cgroup)),
    ("cmdline", Kind::File(FileKind::Cmdline)),
    ("comm", Kind::File(FileKind::Comm)),
    ("cwd", Kind::Cwd),
    ("environ", Kind::File(FileKind::Environ)),
    ("exe", Kind::Exe),
    ("fd", Kind::FdDir),
    ("fdinfo", Kind::FdInfoDir),
    ("limits", Kind::File(FileKind::Limits)),
    ("loginuid", Kind::File(FileKind::Loginuid)),
    ("maps", Kind::File(FileKind::Maps)),
    ("mountinfo", Kind::File(FileKind::Mountinfo)),
    ("mounts", Kind::File(FileKind::Mounts)),
    ("net", Kind::NetDir),
    ("ns", Kind::NsDir),
    ("oom_score", Kind::File(FileKind::OomScore)),
    ("oom_score_adj", Kind::File(FileKind::OomScoreAdj)),
    ("root", Kind::Root),
    ("sessionid", Kind::File(FileKind::Sessionid)),
    ("smaps", Kind::File(FileKind::Smaps)),
    ("stat", Kind::File(FileKind::Stat)),
    ("statm", Kind::File(FileKind::Statm)),
    ("status", Kind::File(FileKind::Status)),
    ("task", Kind::TaskDir),
];

/// /proc/PID/ns: (name, type shown in the link, the initial namespace's inode number).
const NAMESPACES: &[(&str, &str, u64)] = &[
    ("cgroup", "cgroup", 4026531835),
    ("ipc", "ipc", 4026531839),
    ("mnt", "mnt", 4026531841),
    ("net", "net", 4026531840),
    ("pid", "pid", 4026531836),
    ("pid_for_children", "pid", 4026531836),
    ("time", "time", 4026531834),
    ("time_for_children", "time", 4026531834),
    ("user", "user", 4026531837),
    ("uts", "uts", 4026531838),
];

/// Directories of /proc/sys, as paths below it.
const SYSCTL_DIRS: &[&str] = &[
    "",
    "fs",
    "fs/mqueue",
    "kernel",
    "kernel/random",
    "net",
    "net/core",
    "net/ipv4",
    "vm",
];

/// Files of /proc/sys.
const SYSCTL_FILES: &[&str] = &[
    "fs/file-max",
    "fs/mqueue/msg_max",
    "fs/mqueue/msgsize_max",
    "fs/mqueue/queues_max",
    "fs/nr_open",
    "kernel/cap_last_cap",
    "kernel/domainname",
    "kernel/hostname",
    "kernel/msgmax",
    "kernel/msgmnb",
    "kernel/msgmni",
    "kernel/ngroups_max",
    "kernel/osrelease",
    "kernel/ostype",
    "kernel/pid_max",
    "kernel/random/boot_id",
    "kernel/random/uuid",
    "kernel/sem",
    "kernel/shmall",
    "kernel/shmmax",
    "kernel/shmmni",
    "net/core/somaxconn",
    "net/ipv4/ip_forward",
    "net/ipv4/ip_local_port_range",
    "net/ipv4/ip_unprivileged_port_start",
    "net/ipv4/ping_group_range",
    "net/ipv4/tcp_fin_timeout",
    "net/ipv4/tcp_keepalive_intvl",
    "net/ipv4/tcp_keepalive_probes",
    "net/ipv4/tcp_keepalive_time",
    "net/ipv4/tcp_syncookies",
    "vm/max_map_count",
    "vm/overcommit_memory",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum FileKind {
    Auxv,
    Cgroup,
    Cmdline,
    Comm,
    Environ,
    Limits,
    Loginuid,
    Maps,
    Mountinfo,
    Mounts,
    OomScore,
    OomScoreAdj,
    Sessionid,
    Smaps,
    Stat,
    Statm,
    Status,
    Cpuinfo,
    Filesystems,
    GlobalStat,
    Loadavg,
    Meminfo,
    Uptime,
    Version,
    Sysctl(&'static str),
    /// A file of /proc/PID/net (`net::FILES`).
    Net(&'static str),
    /// A file of /proc/sysvipc (`sysvipc::FILES`).
    Sysvipc(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    ProcRoot,
    SelfLink,
    ThreadSelfLink,
    MountsLink,
    /// /proc/PID, or /proc/PID/task/TID when the node's `tid` is set.
    PidDir,
    TaskDir,
    Exe,
    Cwd,
    Root,
    FdDir,
    FdLink(i32),
    FdInfoDir,
    FdInfo(i32),
    NsDir,
    Ns(usize),
    SysDir(&'static str),
    /// /proc/sysvipc.
    SysvipcDir,
    /// /proc/PID/net, and the /proc/net symlink to self/net.
    NetDir,
    NetLink,
    File(FileKind),
}

/// What every node of one /proc shares.
struct ProcShared {
    dev: u64,
    boot: Timespec,
    boot_id: String,
}

/// One /proc node; `pid` is 0 outside /proc/PID, `tid` is 0 outside /proc/PID/task/TID.
pub struct ProcInode {
    shared: Arc<ProcShared>,
    pid: i32,
    tid: i32,
    kind: Kind,
}

/// A random version-4 UUID in its text form.
fn random_uuid() -> String {
    let mut b = [0u8; 16];
    if crate::kernel::random_fill(&mut b).is_err() {
        b = [0x42; 16];
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    )
}

/// The /proc directory.
pub fn new_root(dev: u64) -> Arc<dyn Inode> {
    Arc::new(ProcInode {
        shared: Arc::new(ProcShared {
            dev,
            boot: Timespec::now(),
            boot_id: random_uuid(),
        }),
        pid: 0,
        tid: 0,
        kind: Kind::ProcRoot,
    })
}

fn need_task<'a>(task: TaskRef<'a>) -> SysResult<&'a Task> {
    task.ok_or(Errno::ENOENT)
}

/// The thread group of `pid` if it is live.
fn thread_group(task: &Task, pid: i32) -> SysResult<Arc<ThreadGroup>> {
    if task.tg.pid == pid {
        return Ok(task.tg.clone());
    }
    task.kernel.thread_group(pid).ok_or(Errno::ENOENT)
}

fn parse_num(name: &[u8]) -> SysResult<i32> {
    let n: i32 = std::str::from_utf8(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(Errno::ENOENT)?;
    if n < 0 || n.to_string().as_bytes() != name {
        return Err(Errno::ENOENT);
    }
    Ok(n)
}

/// The memory manager of process `pid` as seen by `t`.
fn mm_of(t: &Task, pid: i32) -> SysResult<Arc<MemoryManager>> {
    if t.tg.pid == pid {
        return Ok(t.mm.clone());
    }
    thread_group(t, pid)?.view_mm().ok_or(Errno::ENOENT)
}

fn fd_table_of(t: &Task, pid: i32) -> SysResult<Arc<FdTable>> {
    if t.tg.pid == pid {
        return Ok(t.fd_table.clone());
    }
    thread_group(t, pid)?.view_fd_table().ok_or(Errno::ENOENT)
}

/// First inode number of the mount namespaces made inside the sandbox (unshare(2),
/// clone(2), a pod container's own tree): past the initial namespaces' numbers, as Linux's
/// `proc_alloc_inum` numbers new namespaces after them.
const NEW_MNT_NS_INO: u64 = 4026532000;

/// The inode number /proc/PID/ns/mnt shows: the initial namespace's for the sandbox's own
/// mount namespace, a number of its own for each other (so that processes in one namespace
/// agree and those in different ones differ, as setns(2)-based tools compare them).
fn mnt_ns_ino(t: &Task, pid: i32) -> SysResult<u64> {
    let ns = crate::vfs::namespace_of(&fs_of(t, pid)?.root());
    let initial = crate::vfs::namespace_of(&t.kernel.vfs.root());
    Ok(if ns == initial {
        NAMESPACES
            .iter()
            .find(|(n, _, _)| *n == "mnt")
            .map_or(NEW_MNT_NS_INO, |n| n.2)
    } else {
        NEW_MNT_NS_INO + ns
    })
}

fn fs_of(t: &Task, pid: i32) -> SysResult<Arc<FsContext>> {
    if t.tg.pid == pid {
        return Ok(t.fs.clone());
    }
    thread_group(t, pid)?.view_fs().ok_or(Errno::ENOENT)
}

fn creds_of(t: &Task, pid: i32) -> Arc<Credentials> {
    if t.tg.pid == pid {
        return t.creds.clone();
    }
    thread_group(t, pid)
        .ok()
        .and_then(|tg| tg.view_creds())
        .unwrap_or_else(|| t.creds.clone())
}

fn mem_info(mm: &MemoryManager) -> text::MemInfo {
    let maps: Vec<text::MapFacts> = mm
        .vmas()
        .iter()
        .map(|v| text::MapFacts {
            len: v.end - v.start,
            accessible: !v.prot.is_empty(),
            writable: v.prot.contains(Prot::WRITE),
            exec: v.prot.contains(Prot::EXEC),
            shared: v.shared,
            file: v.file.is_some(),
            stack: v.grows_down,
        })
        .collect();
    text::MemInfo::from_maps(&maps, mm.brk_range())
}

/// Everything status and stat show about thread `tid` of process `pid` (`tid` 0: the process).
fn task_info(t: &Task, tg: &ThreadGroup, tid: i32) -> text::TaskInfo {
    let k = &t.kernel;
    let pid = tg.pid;
    let tid = if tid == 0 { pid } else { tid };
    let st = tg.with_state(|s| (s.comm.clone(), s.actions, s.rlimits));
    let sched = tg.with_state(|s| (s.nice, s.sched_policy, s.sched_priority));
    let c = creds_of(t, pid);
    let zombie = k.tree().procs.get(&pid).is_some_and(|p| p.zombie.is_some());
    let own_thread = tid == t.tid;
    let (mut ign, mut cgt) = (0u64, 0u64);
    for (i, a) in st.1.iter().enumerate() {
        match a.handler {
            0 => {}
            1 => ign |= 1 << i,
            _ => cgt |= 1 << i,
        }
    }
    let fd_size = fd_table_of(t, pid).map_or(64, |f| f.size());
    text::TaskInfo {
        pid,
        tid,
        nice: sched.0,
        sched_policy: sched.1,
        rt_priority: sched.2,
        ppid: k.parent_of(pid).unwrap_or(0),
        pgid: k.pgid_of(pid).unwrap_or(pid),
        sid: k.sid_of(pid).unwrap_or(pid),
        comm: st.0,
        state: if zombie {
            'Z'
        } else if own_thread {
            'R'
        } else {
            'S'
        },
        threads: k.threads_of(pid).len().max(1),
        uid: [c.uid, c.euid, c.suid, c.fsuid],
        gid: [c.gid, c.egid, c.sgid, c.fsgid],
        groups: c.groups.clone(),
        umask: fs_of(t, pid).map_or(0o022, |f| f.umask()),
        fd_size,
        start_ticks: text::ticks(tg.start.saturating_duration_since(k.boot_instant)),
        mem: mm_of(t, pid)
            .ok()
            .filter(|_| !zombie)
            .map(|mm| mem_info(&mm))
            .unwrap_or_default(),
        sig_pending: if own_thread {
            crate::kernel::signal::pending(t)
        } else {
            0
        },
        sig_shared_pending: 0,
        sig_blocked: if own_thread { t.signal_mask } else { 0 },
        sig_ignored: ign,
        sig_caught: cgt,
        sigq: (0, st.2[libc::RLIMIT_SIGPENDING as usize].cur),
        no_new_privs: own_thread && t.no_new_privs,
        seccomp: if own_thread {
            (t.seccomp.mode() as u8, t.seccomp.filter_count())
        } else {
            (0, 0)
        },
        ncpus: k.ncpus,
        caps: c.caps,
    }
}

fn stable_ino(pid: i32, tid: i32, kind: Kind) -> u64 {
    if kind == Kind::ProcRoot {
        return 1;
    }
    let mut h = DefaultHasher::new();
    (pid, tid, kind).hash(&mut h);
    h.finish() | 2
}

/// The mode bits of a node of `kind`.
fn mode_of(kind: Kind) -> u32 {
    match kind {
        Kind::ProcRoot
        | Kind::PidDir
        | Kind::TaskDir
        | Kind::SysDir(_)
        | Kind::SysvipcDir
        | Kind::NsDir
        | Kind::NetDir => libc::S_IFDIR | 0o555,
        Kind::FdDir => libc::S_IFDIR | 0o500,
        Kind::FdInfoDir => libc::S_IFDIR | 0o500,
        Kind::SelfLink | Kind::ThreadSelfLink | Kind::MountsLink | Kind::NetLink => {
            libc::S_IFLNK | 0o777
        }
        Kind::Exe | Kind::Cwd | Kind::Root | Kind::Ns(_) => libc::S_IFLNK | 0o777,
        Kind::FdLink(_) => libc::S_IFLNK | 0o700,
        Kind::FdInfo(_) => libc::S_IFREG | 0o400,
        Kind::File(FileKind::Environ | FileKind::Auxv) => libc::S_IFREG | 0o400,
        Kind::File(FileKind::OomScoreAdj | FileKind::Comm) => libc::S_IFREG | 0o644,
        Kind::File(FileKind::Sysctl(_)) => libc::S_IFREG | 0o644,
        Kind::File(_) => libc::S_IFREG | 0o444,
    }
}

fn dirent_type(kind: Kind) -> u8 {
    match mode_of(kind) & libc::S_IFMT {
        libc::S_IFDIR => libc::DT_DIR,
        libc::S_IFLNK => libc::DT_LNK,
        _ => libc::DT_REG,
    }
}

impl ProcInode {
    fn child(&self, pid: i32, tid: i32, kind: Kind) -> Arc<dyn Inode> {
        Arc::new(ProcInode {
            shared: self.shared.clone(),
            pid,
            tid,
            kind,
        })
    }

    fn ino(&self) -> u64 {
        stable_ino(self.pid, self.tid, self.kind)
    }

    fn entry(&self, name: String, pid: i32, tid: i32, kind: Kind) -> DirEntry {
        DirEntry {
            name: name.into_bytes(),
            ino: stable_ino(pid, tid, kind),
            kind: dirent_type(kind),
        }
    }

    /// The entries of /proc/PID (`thread` false) or /proc/PID/task/TID.
    fn pid_entries(&self, thread: bool) -> impl Iterator<Item = &'static (&'static str, Kind)> {
        PID_ENTRIES
            .iter()
            .filter(move |(n, _)| !(thread && *n == "task"))
    }

    fn lookup_root(&self, task: TaskRef, name: &[u8]) -> SysResult<Arc<dyn Inode>> {
        let special = match name {
            b"self" => Some(Kind::SelfLink),
            b"thread-self" => Some(Kind::ThreadSelfLink),
            b"mounts" => Some(Kind::MountsLink),
            b"net" => Some(Kind::NetLink),
            b"sys" => Some(Kind::SysDir("")),
            b"sysvipc" => Some(Kind::SysvipcDir),
            _ => None,
        };
        if let Some(k) = special {
            return Ok(self.child(0, 0, k));
        }
        if let Some((_, k)) = ROOT_FILES.iter().find(|(n, _)| n.as_bytes() == name) {
            return Ok(self.child(0, 0, Kind::File(*k)));
        }
        let pid = parse_num(name)?;
        if pid == 0 {
            return Err(Errno::ENOENT);
        }
        thread_group(need_task(task)?, pid)?;
        Ok(self.child(pid, 0, Kind::PidDir))
    }

    fn lookup_sys(&self, dir: &str, name: &[u8]) -> SysResult<Arc<dyn Inode>> {
        let name = std::str::from_utf8(name).map_err(|_| Errno::ENOENT)?;
        let full = if dir.is_empty() {
            name.to_string()
        } else {
            format!("{dir}/{name}")
        };
        if let Some(d) = SYSCTL_DIRS.iter().find(|d| **d == full && !d.is_empty()) {
            return Ok(self.child(0, 0, Kind::SysDir(d)));
        }
        if let Some(f) = SYSCTL_FILES.iter().find(|f| **f == full) {
            return Ok(self.child(0, 0, Kind::File(FileKind::Sysctl(f))));
        }
        Err(Errno::ENOENT)
    }

    fn readdir_sys(&self, dir: &str) -> Vec<DirEntry> {
        let parent_of = |p: &str| p.rsplit_once('/').map_or("", |(a, _)| a).to_string();
        let base = |p: &'static str| p.rsplit('/').next().unwrap_or(p).to_string();
        let mut v = Vec::new();
        for d in SYSCTL_DIRS.iter().filter(|d| !d.is_empty()) {
            if parent_of(d) == dir {
                v.push(self.entry(base(d), 0, 0, Kind::SysDir(d)));
            }
        }
        for f in SYSCTL_FILES {
            if parent_of(f) == dir {
                v.push(self.entry(base(f), 0, 0, Kind::File(FileKind::Sysctl(f))));
            }
        }
        v
    }
}

impl Inode for ProcInode {
    fn stat(&self, task: TaskRef) -> SysResult<Stat> {
        let mode = mode_of(self.kind);
        let (uid, gid) = match (task, self.pid) {
            (Some(t), p) if p != 0 => {
                let c = creds_of(t, p);
                (c.euid, c.egid)
            }
            _ => (0, 0),
        };
        let boot = self.shared.boot;
        Ok(Stat {
            dev: self.shared.dev,
            ino: self.ino(),
            mode,
            nlink: if mode & libc::S_IFMT == libc::S_IFDIR {
                2
            } else {
                1
            },
            uid,
            gid,
            blksize: 4096,
            atime: boot,
            mtime: boot,
            ctime: boot,
            ..Default::default()
        })
    }

    fn lookup(&self, task: TaskRef, name: &[u8]) -> SysResult<Arc<dyn Inode>> {
        match self.kind {
            Kind::ProcRoot => self.lookup_root(task, name),
            Kind::SysDir(d) => self.lookup_sys(d, name),
            Kind::SysvipcDir => {
                let n = sysvipc::FILES
                    .iter()
                    .find(|n| n.as_bytes() == name)
                    .ok_or(Errno::ENOENT)?;
                Ok(self.child(0, 0, Kind::File(FileKind::Sysvipc(n))))
            }
            Kind::PidDir => {
                let (_, k) = self
                    .pid_entries(self.tid != 0)
                    .find(|(n, _)| n.as_bytes() == name)
                    .ok_or(Errno::ENOENT)?;
                Ok(self.child(self.pid, self.tid, *k))
            }
            Kind::TaskDir => {
                let tid = parse_num(name)?;
                let t = need_task(task)?;
                if !t.kernel.threads_of(self.pid).contains(&tid) {
                    return Err(Errno::ENOENT);
                }
                Ok(self.child(self.pid, tid, Kind::PidDir))
            }
            Kind::FdDir | Kind::FdInfoDir => {
                let fd = parse_num(name)?;
                fd_table_of(need_task(task)?, self.pid)?
                    .get(fd)
                    .map_err(|_| Errno::ENOENT)?;
                let k = if self.kind == Kind::FdDir {
                    Kind::FdLink(fd)
                } else {
                    Kind::FdInfo(fd)
                };
                Ok(self.child(self.pid, self.tid, k))
            }
            Kind::NsDir => {
                let i = NAMESPACES
                    .iter()
                    .position(|(n, _, _)| n.as_bytes() == name)
                    .ok_or(Errno::ENOENT)?;
                Ok(self.child(self.pid, self.tid, Kind::Ns(i)))
            }
            Kind::NetDir => {
                let n = net::FILES
                    .iter()
                    .find(|n| n.as_bytes() == name)
                    .ok_or(Errno::ENOENT)?;
                Ok(self.child(self.pid, self.tid, Kind::File(FileKind::Net(n))))
            }
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn readdir(&self, task: TaskRef) -> SysResult<Vec<DirEntry>> {
        match self.kind {
            Kind::ProcRoot => {
                let mut v: Vec<DirEntry> = ROOT_FILES
                    .iter()
                    .map(|(n, k)| self.entry(n.to_string(), 0, 0, Kind::File(*k)))
                    .collect();
                for (n, k) in [
                    ("self", Kind::SelfLink),
                    ("thread-self", Kind::ThreadSelfLink),
                    ("mounts", Kind::MountsLink),
                    ("net", Kind::NetLink),
                    ("sys", Kind::SysDir("")),
                    ("sysvipc", Kind::SysvipcDir),
                ] {
                    v.push(self.entry(n.to_string(), 0, 0, k));
                }
                if let Some(t) = task {
                    for pid in t.kernel.pids() {
                        v.push(self.entry(pid.to_string(), pid, 0, Kind::PidDir));
                    }
                }
                Ok(v)
            }
            Kind::SysDir(d) => Ok(self.readdir_sys(d)),
            Kind::SysvipcDir => Ok(sysvipc::FILES
                .iter()
                .map(|n| self.entry(n.to_string(), 0, 0, Kind::File(FileKind::Sysvipc(n))))
                .collect()),
            Kind::PidDir => Ok(self
                .pid_entries(self.tid != 0)
                .map(|(n, k)| self.entry(n.to_string(), self.pid, self.tid, *k))
                .collect()),
            Kind::TaskDir => {
                let t = need_task(task)?;
                Ok(t.kernel
                    .threads_of(self.pid)
                    .into_iter()
                    .map(|tid| self.entry(tid.to_string(), self.pid, tid, Kind::PidDir))
                    .collect())
            }
            Kind::FdDir | Kind::FdInfoDir => {
                let Ok(table) = fd_table_of(need_task(task)?, self.pid) else {
                    return Ok(Vec::new());
                };
                Ok(table
                    .fds()
                    .into_iter()
                    .map(|fd| {
                        let k = if self.kind == Kind::FdDir {
                            Kind::FdLink(fd)
                        } else {
                            Kind::FdInfo(fd)
                        };
                        self.entry(fd.to_string(), self.pid, self.tid, k)
                    })
                    .collect())
            }
            Kind::NsDir => Ok(NAMESPACES
                .iter()
                .enumerate()
                .map(|(i, (n, _, _))| self.entry(n.to_string(), self.pid, self.tid, Kind::Ns(i)))
                .collect()),
            Kind::NetDir => Ok(net::FILES
                .iter()
                .map(|n| {
                    let k = Kind::File(FileKind::Net(n));
                    self.entry(n.to_string(), self.pid, self.tid, k)
                })
                .collect()),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn readlink(&self, task: TaskRef) -> SysResult<Vec<u8>> {
        let t = need_task(task)?;
        match self.kind {
            Kind::SelfLink => Ok(t.tg.pid.to_string().into_bytes()),
            Kind::ThreadSelfLink => Ok(format!("{}/task/{}", t.tg.pid, t.tid).into_bytes()),
            Kind::MountsLink => Ok(b"self/mounts".to_vec()),
            Kind::NetLink => Ok(b"self/net".to_vec()),
            Kind::Exe => {
                let p = thread_group(t, self.pid)?.with_state(|s| s.exe_path.clone());
                if p.is_empty() {
                    return Err(Errno::ENOENT);
                }
                Ok(p)
            }
            Kind::Cwd => Ok(fs_of(t, self.pid)?.cwd_path()),
            Kind::Root => Ok(fs_of(t, self.pid)?.root().path()),
            Kind::FdLink(fd) => Ok(fd_table_of(t, self.pid)?
                .get(fd)
                .map_err(|_| Errno::ENOENT)?
                .path()),
            Kind::Ns(i) => {
                let (name, ty, ino) = NAMESPACES.get(i).ok_or(Errno::ENOENT)?;
                let ino = if *name == "mnt" {
                    mnt_ns_ino(t, self.pid)?
                } else {
                    *ino
                };
                Ok(format!("{ty}:[{ino}]").into_bytes())
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn magic_link(&self, task: TaskRef) -> Option<SysResult<Arc<Dentry>>> {
        let pid = self.pid;
        match self.kind {
            Kind::Cwd => Some(need_task(task).and_then(|t| Ok(fs_of(t, pid)?.cwd()))),
            Kind::Root => Some(need_task(task).and_then(|t| Ok(fs_of(t, pid)?.root()))),
            Kind::FdLink(fd) => Some(need_task(task).and_then(|t| {
                fd_table_of(t, pid)?
                    .get(fd)
                    .map(|f| f.dentry().clone())
                    .map_err(|_| Errno::ENOENT)
            })),
            _ => None,
        }
    }

    fn open(&self, task: TaskRef, flags: i32) -> SysResult<Arc<dyn FileOps>> {
        let writing = flags & libc::O_ACCMODE != libc::O_RDONLY;
        match self.kind {
            Kind::ProcRoot
            | Kind::PidDir
            | Kind::TaskDir
            | Kind::FdDir
            | Kind::FdInfoDir
            | Kind::NsDir
            | Kind::NetDir
            | Kind::SysvipcDir
            | Kind::SysDir(_) => {
                if writing {
                    return Err(Errno::EISDIR);
                }
                Ok(Arc::new(NoDataOps))
            }
            Kind::File(k) => {
                let t = need_task(task)?;
                let write = match k {
                    FileKind::OomScoreAdj => {
                        let (kernel, pid) = (t.kernel.clone(), self.pid);
                        WriteTarget::OomScoreAdj(Box::new(move |v| {
                            kernel.set_oom_score_adj(pid, v)
                        }))
                    }
                    FileKind::Comm if self.pid == t.tg.pid => WriteTarget::Comm(t.tg.clone()),
                    _ if writing => return Err(Errno::EACCES),
                    _ => WriteTarget::None,
                };
                Ok(Arc::new(ProcFile {
                    data: self.generate(t, k)?,
                    write,
                }))
            }
            Kind::FdInfo(fd) => {
                if writing {
                    return Err(Errno::EACCES);
                }
                let t = need_task(task)?;
                let (f, cloexec) = fd_table_of(t, self.pid)?
                    .get_with_flags(fd)
                    .map_err(|_| Errno::ENOENT)?;
                let pos = f.seek(None, 0, libc::SEEK_CUR).unwrap_or(0);
                let ino = f.stat_vfs(None).map_or(0, |s| s.ino);
                let flags = f.flags() | if cloexec { libc::O_CLOEXEC } else { 0 };
                Ok(Arc::new(ProcFile {
                    data: text::fdinfo(pos, flags, f.dentry().mount.id, ino),
                    write: WriteTarget::None,
                }))
            }
            _ => Err(Errno::ELOOP),
        }
    }

    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(PROC_SUPER_MAGIC))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl ProcInode {
    fn generate_global(&self, t: &Task, k: FileKind) -> SysResult<Vec<u8>> {
        let kernel = &t.kernel;
        let up = kernel.boot_instant.elapsed();
        let last_pid = kernel.pids().last().copied().unwrap_or(1);
        let ntasks = kernel.tree().tasks.len();
        Ok(match k {
            FileKind::Cpuinfo => cpuinfo::cpuinfo(kernel.ncpus),
            FileKind::Meminfo => text::meminfo(&crate::kernel::host_sysinfo()),
            FileKind::Uptime => text::uptime(up, kernel.ncpus),
            FileKind::Loadavg => text::loadavg(1, ntasks.max(1), last_pid),
            FileKind::GlobalStat => {
                let btime = kernel
                    .boot_time
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                text::stat_global(
                    up,
                    kernel.ncpus,
                    btime,
                    u64::try_from(last_pid).unwrap_or(0),
                    1,
                )
            }
            FileKind::Version => {
                let u = crate::kernel::host_uname();
                text::version(&u.release, &u.version)
            }
            FileKind::Filesystems => text::filesystems(),
            FileKind::Sysctl(path) => self.sysctl(t, path),
            FileKind::Sysvipc(name) => sysvipc::generate(&kernel.ipc, &t.creds, name),
            _ => return Err(Errno::ENOENT),
        })
    }

    /// A /proc/sys file: the spec's `linux.sysctl` value if it set one, else the sentry's.
    fn sysctl(&self, t: &Task, path: &str) -> Vec<u8> {
        if let Some(v) = t.kernel.settings.sysctl.get(path) {
            let mut v = v.clone().into_bytes();
            v.push(b'\n');
            return v;
        }
        let mut v = match path {
            "kernel/hostname" => t.kernel.uts_names().hostname.into_bytes(),
            "kernel/domainname" => t.kernel.uts_names().domainname.into_bytes(),
            "kernel/ostype" => b"Linux".to_vec(),
            "kernel/osrelease" => crate::kernel::host_uname().release,
            "kernel/pid_max" => b"4194304".to_vec(),
            "kernel/random/boot_id" => self.shared.boot_id.clone().into_bytes(),
            "kernel/random/uuid" => random_uuid().into_bytes(),
            "kernel/ngroups_max" => b"65536".to_vec(),
            "kernel/cap_last_cap" => b"40".to_vec(),
            "vm/overcommit_memory" => b"0".to_vec(),
            "vm/max_map_count" => b"65530".to_vec(),
            "fs/file-max" => b"9223372036854775807".to_vec(),
            "fs/nr_open" => b"1048576".to_vec(),
            "net/core/somaxconn" => b"4096".to_vec(),
            "fs/mqueue/msg_max" => crate::fs::mqueue::MSG_MAX.to_string().into_bytes(),
            "fs/mqueue/msgsize_max" => crate::fs::mqueue::MSGSIZE_MAX.to_string().into_bytes(),
            "fs/mqueue/queues_max" => crate::fs::mqueue::QUEUES_MAX.to_string().into_bytes(),
            "kernel/msgmax" | "kernel/msgmnb" | "kernel/msgmni" | "kernel/sem"
            | "kernel/shmall" | "kernel/shmmax" | "kernel/shmmni" => {
                sysvipc::limit(path).unwrap_or_default().into_bytes()
            }
            "net/ipv4/ip_forward" => b"0".to_vec(),
            "net/ipv4/ip_local_port_range" => b"32768\t60999".to_vec(),
            "net/ipv4/ip_unprivileged_port_start" => b"1024".to_vec(),
            "net/ipv4/ping_group_range" => b"1\t0".to_vec(),
            "net/ipv4/tcp_fin_timeout" => b"60".to_vec(),
            "net/ipv4/tcp_keepalive_intvl" => b"75".to_vec(),
            "net/ipv4/tcp_keepalive_probes" => b"9".to_vec(),
            "net/ipv4/tcp_keepalive_time" => b"7200".to_vec(),
            "net/ipv4/tcp_syncookies" => b"1".to_vec(),
            _ => Vec::new(),
        };
        v.push(b'\n');
        v
    }

    fn generate(&self, t: &Task, k: FileKind) -> SysResult<Vec<u8>> {
        if let FileKind::Net(n) = k {
            return net::generate(n).ok_or(Errno::ENOENT);
        }
        if self.pid == 0 {
            return self.generate_global(t, k);
        }
        let tg = thread_group(t, self.pid)?;
        // The mounts of the namespace the task's root lies in.
        let records = || match fs_of(t, self.pid) {
            Ok(fs) => t.kernel.vfs.mounts_for(&fs.root()),
            Err(_) => t.kernel.vfs.mounts(),
        };
        Ok(match k {
            FileKind::Cmdline => text::nul_joined(&tg.with_state(|s| s.argv.clone())),
            FileKind::Environ => text::nul_joined(&tg.with_state(|s| s.envv.clone())),
            FileKind::Comm => {
                let mut c = tg.with_state(|s| s.comm.clone());
                c.push(b'\n');
                c
            }
            FileKind::Maps => mm_of(t, self.pid).map_or_else(|_| Vec::new(), |m| m.maps_text()),
            FileKind::Smaps => {
                mm_of(t, self.pid).map_or_else(|_| Vec::new(), |m| text::smaps(&m.maps_text()))
            }
            FileKind::Status => text::status(&task_info(t, &tg, self.tid)),
            FileKind::Stat => text::stat(&task_info(t, &tg, self.tid)),
            FileKind::Statm => {
                let mem = mm_of(t, self.pid).map_or_else(|_| Default::default(), |m| mem_info(&m));
                text::statm(&mem)
            }
            FileKind::Mounts => text::mounts(&records()),
            FileKind::Mountinfo => text::mountinfo(&records()),
            FileKind::Cgroup => b"0::/\n".to_vec(),
            FileKind::Limits => text::limits(&tg.with_state(|s| s.rlimits)),
            FileKind::Auxv => tg.with_state(|s| s.auxv.clone()),
            FileKind::OomScore => b"0\n".to_vec(),
            FileKind::OomScoreAdj => format!("{}\n", t.kernel.oom_score_adj(self.pid)).into_bytes(),
            FileKind::Loginuid | FileKind::Sessionid => b"4294967295".to_vec(),
            _ => return Err(Errno::ENOENT),
        })
    }
}

/// Where writes to an open /proc file go.
enum WriteTarget {
    None,
    /// Checked and remembered for process PID, not enforced (the sentry has no OOM killer).
    OomScoreAdj(Box<dyn Fn(i32) + Send + Sync>),
    /// The process's own name (prctl(PR_SET_NAME) through a file).
    Comm(Arc<ThreadGroup>),
}

/// An open /proc file: the snapshot taken at open.
struct ProcFile {
    data: Vec<u8>,
    write: WriteTarget,
}

impl FileOps for ProcFile {
    fn read_at(&self, _task: TaskRef, buf: &mut [u8], offset: u64) -> SysResult<usize> {
        let off = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        let n = buf.len().min(self.data.len() - off);
        buf[..n].copy_from_slice(&self.data[off..off + n]);
        Ok(n)
    }
    fn write_at(&self, _task: TaskRef, buf: &[u8], _offset: u64) -> SysResult<usize> {
        match &self.write {
            WriteTarget::None => Err(Errno::EACCES),
            WriteTarget::OomScoreAdj(record) => {
                let v: i32 = std::str::from_utf8(buf)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or(Errno::EINVAL)?;
                if !(-1000..=1000).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                record(v);
                Ok(buf.len())
            }
            WriteTarget::Comm(tg) => {
                let name = buf.strip_suffix(b"\n").unwrap_or(buf);
                let name = &name[..name.len().min(15)];
                tg.with_state(|s| s.comm = name.to_vec());
                Ok(buf.len())
            }
        }
    }
    fn size(&self) -> Option<SysResult<u64>> {
        Some(Ok(self.data.len() as u64))
    }
    /// O_TRUNC on a writable /proc file is ignored, as on Linux (`echo 5 > oom_score_adj`).
    fn truncate(&self, _size: u64) -> SysResult<()> {
        match self.write {
            WriteTarget::None => Err(Errno::EINVAL),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_tree_is_consistent() {
        for f in SYSCTL_FILES {
            let parent = f.rsplit_once('/').map_or("", |(a, _)| a);
            assert!(SYSCTL_DIRS.contains(&parent), "{f}");
        }
        let root = new_root(1);
        let sys = root.lookup(None, b"sys").unwrap();
        let kernel = sys.lookup(None, b"kernel").unwrap();
        let names: Vec<Vec<u8>> = kernel
            .readdir(None)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert!(names.contains(&b"random".to_vec()));
        assert!(names.contains(&b"hostname".to_vec()));
        assert!(kernel
            .lookup(None, b"random")
            .unwrap()
            .lookup(None, b"boot_id")
            .is_ok());
        assert_eq!(sys.lookup(None, b"nope").err(), Some(Errno::ENOENT));
    }

    #[test]
    fn uuid_is_version_4_text() {
        let u = random_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
        assert_eq!(u.matches('-').count(), 4);
    }

    #[test]
    fn inos_are_stable_and_distinct() {
        assert_eq!(
            stable_ino(3, 0, Kind::PidDir),
            stable_ino(3, 0, Kind::PidDir)
        );
        assert_ne!(
            stable_ino(3, 0, Kind::PidDir),
            stable_ino(4, 0, Kind::PidDir)
        );
        assert_ne!(
            stable_ino(3, 0, Kind::PidDir),
            stable_ino(3, 3, Kind::PidDir)
        );
        assert_eq!(stable_ino(0, 0, Kind::ProcRoot), 1);
    }

    #[test]
    fn oom_score_adj_write_is_checked() {
        let seen = Arc::new(std::sync::atomic::AtomicI32::new(0));
        let s2 = seen.clone();
        let f = ProcFile {
            data: b"0\n".to_vec(),
            write: WriteTarget::OomScoreAdj(Box::new(move |v| {
                s2.store(v, std::sync::atomic::Ordering::Relaxed)
            })),
        };
        assert_eq!(f.write_at(None, b"500\n", 0), Ok(4));
        assert_eq!(f.write_at(None, b"5000\n", 0), Err(Errno::EINVAL));
        assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 500);
        let ro = ProcFile {
            data: Vec::new(),
            write: WriteTarget::None,
        };
        assert_eq!(ro.write_at(None, b"1", 0), Err(Errno::EACCES));
    }
}
