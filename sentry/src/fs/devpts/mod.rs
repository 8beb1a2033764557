//! Pseudo-terminals made by the sentry (after Linux `drivers/tty/pty.c`, `fs/devpts/inode.c`
//! and gVisor's `pkg/sentry/fsimpl/devpts`): opening /dev/ptmx (or /dev/pts/ptmx) makes a new
//! pair, returns its master and shows the replica as /dev/pts/N (136:N, mode 0620, owned by the
//! opener), locked until TIOCSPTLCK 0 (unlockpt). Master writes are the replica's input through
//! the line discipline (`ldisc`); replica writes are the master's input. A replica opened
//! without O_NOCTTY by a session leader without a terminal becomes its controlling terminal;
//! job control is `fs::jobctl`'s, shared with host terminals.
//!
//! Closing the last master hangs the replica up (`tty_vhangup`): its reads return 0, writes
//! EIO, and the leader of the session it controlled gets SIGHUP and SIGCONT; the pair leaves
//! /dev/pts. Closing the last replica (after one was opened) makes master reads EIO once the
//! data is read (`TTY_OTHER_CLOSED`).
//!
//! /dev/pts also lists the host terminals the sentry holds (`fs::host::tty`) under their host
//! numbers and with their host stat, so that ttyname(3) finds a stdio terminal; new pairs take
//! the lowest number free of both. There is one devpts instance per sentry (one kernel).
//!
//! Lock order: `PTYS`, then a pair's `state`; a pair's `state` is released before its queue is
//! notified, signals are sent or the job lock is taken.
//!
//! TIOCPKT packet mode reports data and flushes (not TIOCPKT_STOP/START/DOSTOP).
//!
//! A devpts mounted with options (mount(2), an OCI spec's `newinstance,ptmxmode=0666,mode=0620,
//! gid=5`) keeps them per mount (`PtsOptions`, Linux `struct pts_mount_opts`): pairs made through
//! its ptmx get `mode=` as their permission bits and `uid=`/`gid=` (else the opener's fsuid and
//! fsgid) as owners, its ptmx node has `ptmxmode=`, `max=` bounds the pairs, and mountinfo
//! shows them as Linux's `devpts_show_options` does. The instances share one set of pairs
//! (`newinstance` does not make a separate numbering).
//!
//! Not modelled: TIOCSTI, SIGTTIN/SIGTTOU for a process that ignores (rather than blocks)
//! them, orphaned process groups.

pub mod ldisc;

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use crate::fs::host::tty as host_tty;
use crate::fs::jobctl::{self, int_arg, JobState, TtyJob};
use crate::kernel::wait::WaitQueue;
use crate::kernel::{Kernel, Task};
use crate::vfs::{
    Dentry, DirEntry, FileDescription, FileOps, Inode, NoDataOps, Positioning, SetAttr, Stat,
    StatFs, TaskRef, Timespec,
};
use crate::{Errno, SysResult};
use ldisc::{LineDiscipline, Termios, TERMIOS_SIZE, VMIN, VTIME};

/// `DEVPTS_SUPER_MAGIC`.
pub const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;

/// ioctl numbers (include/uapi/asm-generic/ioctls.h).
pub const TCGETS: u32 = 0x5401;
pub const TCSETS: u32 = 0x5402;
pub const TCSETSW: u32 = 0x5403;
pub const TCSETSF: u32 = 0x5404;
pub const TCSBRK: u32 = 0x5409;
pub const TCXONC: u32 = 0x540a;
pub const TCFLSH: u32 = 0x540b;
pub const TIOCEXCL: u32 = 0x540c;
pub const TIOCNXCL: u32 = 0x540d;
pub const TIOCOUTQ: u32 = 0x5411;
pub const TIOCGWINSZ: u32 = 0x5413;
pub const TIOCSWINSZ: u32 = 0x5414;
pub const FIONREAD: u32 = 0x541b;
pub const TCSBRKP: u32 = 0x5425;
pub const TIOCGPTN: u32 = 0x8004_5430;
pub const TIOCSPTLCK: u32 = 0x4004_5431;
pub const TIOCGPTLCK: u32 = 0x8004_5439;
pub const TIOCGPTPEER: u32 = 0x5441;
pub const TIOCPKT: u32 = 0x5420;
pub const TIOCGPKT: u32 = 0x8004_5438;
/// Packet-mode status bits (include/uapi/asm-generic/ioctls.h).
pub const TIOCPKT_DATA: u8 = 0;
pub const TIOCPKT_FLUSHREAD: u8 = 1;
pub const TIOCPKT_FLUSHWRITE: u8 = 2;

/// The ptmx device (5:2).
pub fn ptmx_rdev() -> u64 {
    libc::makedev(5, 2)
}

/// The replica device of pair `n` (Unix98: majors 136-143, 256 minors each).
pub fn replica_rdev(n: u32) -> u64 {
    libc::makedev(136 + n / 256, n % 256)
}

/// Pairs Unix98 numbering can name.
const MAX_PTYS: u32 = 8 * 256;

/// `NR_UNIX98_PTY_MAX`: the largest `max=` devpts accepts, and its default.
const NR_UNIX98_PTY_MAX: u32 = 1 << 20;

/// A devpts mount's options (Linux `struct pts_mount_opts`, `fs/devpts/inode.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PtsOptions {
    /// `uid=`: owner of new replicas (else the opener's fsuid).
    pub uid: Option<u32>,
    /// `gid=`: group of new replicas (else the opener's fsgid).
    pub gid: Option<u32>,
    /// `mode=`: permission bits of new replicas.
    pub mode: u32,
    /// `ptmxmode=`: permission bits of the instance's ptmx node.
    pub ptmxmode: u32,
    /// `max=`: how many pairs may exist.
    pub max: u32,
}

impl PtsOptions {
    /// The sentry's own /dev/pts (mounted without options): 0620 replicas in the opener's
    /// group and a ptmx everyone may open, as a distribution's /dev/pts with /dev/ptmx.
    pub const SENTRY: PtsOptions = PtsOptions {
        uid: None,
        gid: None,
        mode: 0o620,
        ptmxmode: 0o666,
        max: NR_UNIX98_PTY_MAX,
    };

    /// Linux's defaults for a devpts mounted without options (`DEVPTS_DEFAULT_MODE`,
    /// `DEVPTS_DEFAULT_PTMX_MODE`).
    pub const LINUX: PtsOptions = PtsOptions {
        uid: None,
        gid: None,
        mode: 0o600,
        ptmxmode: 0,
        max: NR_UNIX98_PTY_MAX,
    };

    /// Parses mount(2) data as `devpts_parse_param` does: `uid=`, `gid=` (decimal), `mode=`,
    /// `ptmxmode=` (octal, masked to 07777), `max=` (at most `NR_UNIX98_PTY_MAX`) and
    /// `newinstance` (always so here); empty items are skipped, anything else is EINVAL.
    pub fn parse(data: &[u8]) -> SysResult<PtsOptions> {
        let mut o = Self::LINUX;
        let text = std::str::from_utf8(data).map_err(|_| Errno::EINVAL)?;
        for opt in text
            .trim_end_matches('\0')
            .split(',')
            .filter(|s| !s.is_empty())
        {
            let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
            let num = |radix| u32::from_str_radix(value, radix).map_err(|_| Errno::EINVAL);
            match (key, opt.contains('=')) {
                ("uid", true) => o.uid = Some(num(10)?),
                ("gid", true) => o.gid = Some(num(10)?),
                ("mode", true) => o.mode = num(8)? & 0o7777,
                ("ptmxmode", true) => o.ptmxmode = num(8)? & 0o7777,
                ("max", true) => {
                    o.max = num(10)?;
                    if o.max > NR_UNIX98_PTY_MAX {
                        return Err(Errno::EINVAL);
                    }
                }
                ("newinstance", false) => {}
                _ => return Err(Errno::EINVAL),
            }
        }
        Ok(o)
    }

    /// The options as mountinfo and /proc/mounts show them after `rw` (`devpts_show_options`).
    pub fn show(&self) -> String {
        let mut s = String::new();
        if let Some(uid) = self.uid {
            s.push_str(&format!(",uid={uid}"));
        }
        if let Some(gid) = self.gid {
            s.push_str(&format!(",gid={gid}"));
        }
        s.push_str(&format!(
            ",mode={:03o},ptmxmode={:03o}",
            self.mode, self.ptmxmode
        ));
        if self.max < NR_UNIX98_PTY_MAX {
            s.push_str(&format!(",max={}", self.max));
        }
        s
    }
}

/// The options of every devpts mount by device number.
static INSTANCES: Mutex<BTreeMap<u64, PtsOptions>> = Mutex::new(BTreeMap::new());

/// The options of the devpts on device `dev` (the sentry's defaults for one never mounted).
fn options_of(dev: u64) -> PtsOptions {
    INSTANCES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&dev)
        .copied()
        .unwrap_or(PtsOptions::SENTRY)
}

/// Every live pair by number (the master is open).
static PTYS: Mutex<BTreeMap<u32, Arc<Pty>>> = Mutex::new(BTreeMap::new());
/// The device number of the devpts mount (st_dev of /dev/pts/N).
static DEVPTS_DEV: AtomicU64 = AtomicU64::new(0);
/// When devpts came up (the times of /dev/pts and /dev/pts/ptmx).
static CREATED: OnceLock<Timespec> = OnceLock::new();

fn created() -> Timespec {
    *CREATED.get_or_init(Timespec::now)
}

fn ptys() -> MutexGuard<'static, BTreeMap<u32, Arc<Pty>>> {
    PTYS.lock().unwrap_or_else(|p| p.into_inner())
}

/// The numbers of the live pairs.
pub fn pair_numbers() -> Vec<u32> {
    ptys().keys().copied().collect()
}

/// The live pair /dev/pts/`n`.
pub fn pty(n: u32) -> Option<Arc<Pty>> {
    ptys().get(&n).cloned()
}

/// The pair whose replica is the controlling terminal of session `sid`. A pair whose session
/// leader is gone (reaped) controls no session any more (see `session_leader_exited`).
pub fn controlling_pty(sid: i32) -> Option<Arc<Pty>> {
    let p = ptys()
        .values()
        .find(|p| p.job.get().session == Some(sid))
        .cloned()?;
    if p.kernel
        .upgrade()
        .is_some_and(|k| k.thread_group(sid).is_none())
    {
        p.job.set(JobState::default());
        return None;
    }
    Some(p)
}

/// Linux `disassociate_ctty(1)` when session leader `sid` exits: the pair it controls (if
/// any) controls no session any more. For a pty Linux sends no SIGHUP here (the master's
/// close does). For the process-exit path to call.
pub fn session_leader_exited(sid: i32) {
    if let Some(p) = ptys().values().find(|p| p.job.get().session == Some(sid)) {
        p.job.set(JobState::default());
    }
}

struct PtyState {
    ld: LineDiscipline,
    /// `struct winsize` as the application set it.
    winsize: [u8; 8],
    locked: bool,
    masters: usize,
    replicas: usize,
    /// A replica was opened once (a master read is EIO once they are all closed).
    replica_opened: bool,
    /// The master is gone: the replica is hung up.
    hung_up: bool,
    /// Grows with every change, for edge-triggered epoll.
    generation: u64,
    /// TIOCPKT: master reads start with a status byte.
    packet: bool,
    /// Packet-mode status not yet read (TIOCPKT_FLUSHREAD, TIOCPKT_FLUSHWRITE).
    pkt_status: u8,
}

impl PtyState {
    fn other_closed(&self) -> bool {
        self.replica_opened && self.replicas == 0
    }
    /// Whether a master read would return data or a packet status now.
    fn master_readable(&self) -> bool {
        self.ld.output_len() > 0 || (self.packet && self.pkt_status != 0)
    }
    /// Notes a flush for a packet-mode master.
    fn packet_flush(&mut self, bits: u8) {
        if self.packet {
            self.pkt_status |= bits;
        }
    }
}

/// The replica's inode attributes (grantpt's chown/chmod change them).
#[derive(Debug, Clone, Copy)]
struct PtyAttr {
    /// Permission bits.
    perm: u32,
    uid: u32,
    gid: u32,
    atime: Timespec,
    mtime: Timespec,
    ctime: Timespec,
}

/// One pseudo-terminal pair.
pub struct Pty {
    index: u32,
    /// The device of the devpts whose ptmx made it (st_dev of its replica node).
    dev: u64,
    attr: Mutex<PtyAttr>,
    kernel: Weak<Kernel>,
    state: Mutex<PtyState>,
    queue: WaitQueue,
    job: TtyJob,
}

impl Pty {
    fn lock(&self) -> MutexGuard<'_, PtyState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The N of /dev/pts/N.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The session the replica controls, if any.
    pub fn session(&self) -> Option<i32> {
        self.job.get().session
    }

    /// Changes the state and wakes every waiter.
    fn update<R>(&self, f: impl FnOnce(&mut PtyState) -> R) -> R {
        let r = {
            let mut st = self.lock();
            st.generation += 1;
            f(&mut st)
        };
        self.queue.notify();
        r
    }

    /// Waits until `ready` holds, `deadline` passes (Ok too) or the task is interrupted.
    fn block(
        &self,
        task: TaskRef,
        deadline: Option<Instant>,
        ready: impl Fn(&PtyState) -> bool,
    ) -> SysResult<()> {
        let waker = task.map(|t| t.waker.clone()).unwrap_or_default();
        let _reg = self.queue.register(&waker);
        match waker.wait_until(deadline, || ready(&self.lock())) {
            Err(Errno::ETIMEDOUT) => Ok(()),
            r => r,
        }
    }

    fn signal_foreground(&self, task: TaskRef, sig: i32) {
        let j = self.job.get();
        if j.session.is_none() || j.foreground == 0 {
            return;
        }
        let kernel = match task {
            Some(t) => Some(t.kernel.clone()),
            None => self.kernel.upgrade(),
        };
        if let Some(k) = kernel {
            jobctl::signal_pgrp(&k, j.foreground, sig);
        }
    }

    fn attr(&self) -> MutexGuard<'_, PtyAttr> {
        self.attr.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stat(&self) -> Stat {
        let a = *self.attr();
        Stat {
            dev: self.dev,
            ino: u64::from(self.index) + 3,
            mode: libc::S_IFCHR | a.perm,
            nlink: 1,
            uid: a.uid,
            gid: a.gid,
            rdev: replica_rdev(self.index),
            blksize: 1024,
            atime: a.atime,
            mtime: a.mtime,
            ctime: a.ctime,
            ..Default::default()
        }
    }

    /// chmod/chown/utimes of /dev/pts/N (the VFS checked permissions).
    fn setattr(&self, attr: &SetAttr) -> SysResult<()> {
        if attr.size.is_some() {
            return Err(Errno::EINVAL);
        }
        let mut a = self.attr();
        if let Some(mode) = attr.mode {
            a.perm = mode & 0o7777;
        }
        if let Some(uid) = attr.uid {
            a.uid = uid;
        }
        if let Some(gid) = attr.gid {
            a.gid = gid;
        }
        if let Some(t) = attr.atime {
            a.atime = t;
        }
        if let Some(t) = attr.mtime {
            a.mtime = t;
        }
        a.ctime = Timespec::now();
        Ok(())
    }

    // ---- master side ----

    fn master_read(&self, task: TaskRef, buf: &mut [u8], nonblock: bool) -> SysResult<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            {
                let mut st = self.lock();
                if st.master_readable() {
                    let n = if st.packet && st.pkt_status != 0 {
                        buf[0] = std::mem::take(&mut st.pkt_status);
                        1
                    } else if st.packet {
                        buf[0] = TIOCPKT_DATA;
                        1 + st.ld.read_output(&mut buf[1..])
                    } else {
                        st.ld.read_output(buf)
                    };
                    st.generation += 1;
                    drop(st);
                    self.queue.notify();
                    return Ok(n);
                }
                if st.other_closed() {
                    return Err(Errno::EIO);
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            self.block(task, None, |st| st.master_readable() || st.other_closed())?;
        }
    }

    fn master_write(&self, task: TaskRef, buf: &[u8], nonblock: bool) -> SysResult<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let (n, sigs) = {
                let mut st = self.lock();
                if st.ld.input_room() {
                    st.generation += 1;
                    let (n, sigs) = st.ld.receive(buf);
                    if !sigs.is_empty() && st.ld.termios.lflag & libc::NOFLSH == 0 {
                        st.packet_flush(TIOCPKT_FLUSHREAD | TIOCPKT_FLUSHWRITE);
                    }
                    (n, sigs)
                } else {
                    (0, Vec::new())
                }
            };
            if n > 0 {
                self.queue.notify();
                for sig in sigs {
                    self.signal_foreground(task, sig);
                }
                return Ok(n);
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            self.block(task, None, |st| st.ld.input_room())?;
        }
    }

    fn master_readiness(&self) -> u32 {
        let st = self.lock();
        let mut ev = 0;
        if st.master_readable() {
            ev |= (libc::POLLIN | libc::POLLRDNORM) as u32;
        }
        if st.packet && st.pkt_status != 0 {
            ev |= libc::POLLPRI as u32;
        }
        if st.ld.input_room() {
            ev |= (libc::POLLOUT | libc::POLLWRNORM) as u32;
        }
        if st.other_closed() {
            ev |= libc::POLLHUP as u32;
        }
        ev
    }

    // ---- replica side ----

    fn replica_read(&self, task: TaskRef, buf: &mut [u8], nonblock: bool) -> SysResult<usize> {
        if let Some(t) = task {
            self.job.check_change(t, libc::SIGTTIN)?;
        }
        let (canon, vmin, vtime) = {
            let st = self.lock();
            let t = st.ld.termios;
            (
                t.canonical(),
                usize::from(t.cc[VMIN]),
                u64::from(t.cc[VTIME]),
            )
        };
        // How many bytes a raw read waits for, and for how long once one is there.
        let want = if canon || vmin == 0 {
            1
        } else {
            vmin.min(buf.len().max(1))
        };
        let timer = (!canon && vtime > 0).then(|| Duration::from_millis(vtime * 100));
        let mut deadline = if !canon && vmin == 0 {
            timer.map(|d| Instant::now() + d)
        } else {
            None
        };
        loop {
            {
                let mut st = self.lock();
                if st.hung_up {
                    return Ok(0);
                }
                let avail = st.ld.input_len();
                let timed_out = deadline.is_some_and(|d| Instant::now() >= d);
                let enough = if canon {
                    st.ld.input_ready()
                } else {
                    avail >= want
                        || (vmin == 0 && (vtime == 0 || timed_out))
                        || (avail > 0 && (nonblock || timed_out))
                };
                if enough {
                    let n = st.ld.read(buf);
                    st.generation += 1;
                    drop(st);
                    self.queue.notify();
                    return Ok(n);
                }
                if !canon && vmin > 0 && avail > 0 && deadline.is_none() {
                    // VMIN and VTIME: the inter-byte timer starts with the first byte.
                    deadline = timer.map(|d| Instant::now() + d);
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            self.block(task, deadline, |st| {
                st.hung_up
                    || if canon {
                        st.ld.input_ready()
                    } else {
                        st.ld.input_len() >= want || (vmin > 0 && st.ld.input_len() > 0)
                    }
            })?;
        }
    }

    fn replica_write(&self, task: TaskRef, buf: &[u8], nonblock: bool) -> SysResult<usize> {
        if let Some(t) = task {
            let tostop = self.lock().ld.termios.lflag & libc::TOSTOP != 0;
            if tostop {
                self.job.check_change(t, libc::SIGTTOU)?;
            }
        }
        let mut done = 0;
        loop {
            {
                let mut st = self.lock();
                if st.hung_up {
                    return if done > 0 { Ok(done) } else { Err(Errno::EIO) };
                }
                let n = st.ld.write(&buf[done..]);
                if n > 0 {
                    st.generation += 1;
                }
                done += n;
            }
            self.queue.notify();
            if done == buf.len() {
                return Ok(done);
            }
            if nonblock {
                return if done > 0 {
                    Ok(done)
                } else {
                    Err(Errno::EAGAIN)
                };
            }
            if let Err(e) = self.block(task, None, |st| st.hung_up || st.ld.output_room()) {
                return if done > 0 { Ok(done) } else { Err(e) };
            }
        }
    }

    fn replica_readiness(&self) -> u32 {
        let st = self.lock();
        if st.hung_up {
            return (libc::POLLIN
                | libc::POLLOUT
                | libc::POLLERR
                | libc::POLLHUP
                | libc::POLLRDNORM
                | libc::POLLWRNORM) as u32;
        }
        let mut ev = 0;
        if st.ld.input_ready() {
            ev |= (libc::POLLIN | libc::POLLRDNORM) as u32;
        }
        if st.ld.output_room() {
            ev |= (libc::POLLOUT | libc::POLLWRNORM) as u32;
        }
        ev
    }

    // ---- ioctls ----

    /// One terminal ioctl(2) by `t` on the master (`master`) or a replica.
    fn ioctl(self: &Arc<Self>, t: &Task, req: u32, arg: u64, master: bool) -> SysResult<u64> {
        if !master && self.lock().hung_up {
            return Err(if req == jobctl::TIOCSPGRP {
                Errno::ENOTTY
            } else {
                Errno::EIO
            });
        }
        match req {
            TIOCGPTN if master => {
                t.mm.copy_out(arg, &self.index.to_ne_bytes())?;
                Ok(0)
            }
            TIOCSPTLCK if master => {
                let mut b = [0u8; 4];
                t.mm.copy_in(arg, &mut b)?;
                self.update(|st| st.locked = i32::from_ne_bytes(b) != 0);
                Ok(0)
            }
            TIOCGPTLCK if master => {
                let locked = i32::from(self.lock().locked);
                t.mm.copy_out(arg, &locked.to_ne_bytes())?;
                Ok(0)
            }
            TIOCGPTPEER if master => self.open_peer(t, int_arg(arg)),
            TCGETS => {
                let b = self.lock().ld.termios.to_bytes();
                t.mm.copy_out(arg, &b)?;
                Ok(0)
            }
            TCSETS | TCSETSW | TCSETSF => {
                if !master {
                    self.job.check_change(t, libc::SIGTTOU)?;
                }
                let mut b = [0u8; TERMIOS_SIZE];
                t.mm.copy_in(arg, &mut b)?;
                let termios = Termios::from_bytes(&b);
                self.update(|st| {
                    if req == TCSETSF {
                        st.ld.flush_input();
                    }
                    st.ld.set_termios(termios);
                });
                Ok(0)
            }
            TIOCGWINSZ => {
                let b = self.lock().winsize;
                t.mm.copy_out(arg, &b)?;
                Ok(0)
            }
            TIOCSWINSZ => {
                let mut b = [0u8; 8];
                t.mm.copy_in(arg, &mut b)?;
                let changed = {
                    let mut st = self.lock();
                    let changed = st.winsize != b;
                    st.winsize = b;
                    changed
                };
                if changed {
                    self.signal_foreground(Some(t), libc::SIGWINCH);
                }
                Ok(0)
            }
            FIONREAD => {
                let st = self.lock();
                let n = if master {
                    st.ld.output_len()
                } else {
                    st.ld.input_len()
                };
                drop(st);
                let n = i32::try_from(n).unwrap_or(i32::MAX);
                t.mm.copy_out(arg, &n.to_ne_bytes())?;
                Ok(0)
            }
            TIOCOUTQ => {
                // Output reaches the master's queue at once: nothing waits in a driver.
                t.mm.copy_out(arg, &0i32.to_ne_bytes())?;
                Ok(0)
            }
            TCFLSH => {
                let how = int_arg(arg);
                if !(0..=2).contains(&how) {
                    return Err(Errno::EINVAL);
                }
                let (input, output) = (how != libc::TCOFLUSH, how != libc::TCIFLUSH);
                self.update(|st| {
                    if master {
                        // The master's input is what the replica wrote.
                        if input {
                            st.ld.flush_output();
                        }
                    } else {
                        if input {
                            st.ld.flush_input();
                            st.packet_flush(TIOCPKT_FLUSHREAD);
                        }
                        if output {
                            st.ld.flush_output();
                            st.packet_flush(TIOCPKT_FLUSHWRITE);
                        }
                    }
                });
                Ok(0)
            }
            TCXONC => {
                if !(0..=3).contains(&int_arg(arg)) {
                    return Err(Errno::EINVAL);
                }
                Ok(0)
            }
            TCSBRK | TCSBRKP | TIOCEXCL | TIOCNXCL => Ok(0),
            TIOCPKT if master => {
                let mut b = [0u8; 4];
                t.mm.copy_in(arg, &mut b)?;
                let on = i32::from_ne_bytes(b) != 0;
                self.update(|st| {
                    if on && !st.packet {
                        st.pkt_status = 0;
                    }
                    st.packet = on;
                });
                Ok(0)
            }
            TIOCGPKT if master => {
                let on = i32::from(self.lock().packet);
                t.mm.copy_out(arg, &on.to_ne_bytes())?;
                Ok(0)
            }
            jobctl::TIOCSPGRP if !master => {
                self.job.check_change(t, libc::SIGTTOU).map_err(|e| {
                    if e == Errno::EIO {
                        Errno::ENOTTY
                    } else {
                        e
                    }
                })?;
                self.job
                    .ioctl(t, req, arg, false)
                    .unwrap_or(Err(Errno::ENOTTY))
            }
            _ => self
                .job
                .ioctl(t, req, arg, master)
                .unwrap_or(Err(Errno::ENOTTY)),
        }
    }

    /// TIOCGPTPEER (`ptm_open_peer`): a new descriptor on the replica, opened with `flags`.
    fn open_peer(self: &Arc<Self>, t: &Task, flags: i32) -> SysResult<u64> {
        let allowed = libc::O_ACCMODE | libc::O_NOCTTY | libc::O_CLOEXEC | libc::O_NONBLOCK;
        if flags & !allowed != 0 {
            return Err(Errno::EINVAL);
        }
        let ops = open_replica(self, Some(t), flags)?;
        let name = format!("/dev/pts/{}", self.index).into_bytes();
        let inode: Arc<dyn Inode> = Arc::new(PtyInode { pty: self.clone() });
        let file = FileDescription::new(Dentry::anonymous(name, inode), ops, flags);
        let fd = t.fd_table.install(file, flags & libc::O_CLOEXEC != 0, 0)?;
        u64::try_from(fd).map_err(|_| Errno::EMFILE)
    }
}

/// The master of a pair: one per open of /dev/ptmx.
pub struct PtyMaster {
    pty: Arc<Pty>,
}

impl Drop for PtyMaster {
    fn drop(&mut self) {
        let last = {
            let mut st = self.pty.lock();
            st.masters -= 1;
            st.masters == 0
        };
        if !last {
            return;
        }
        ptys().remove(&self.pty.index);
        // As `__tty_hangup`: the session leader is signalled before the readers wake up.
        let j = self.pty.job.get();
        self.pty.job.set(JobState::default());
        if let (Some(leader), Some(k)) = (j.session, self.pty.kernel.upgrade()) {
            jobctl::hangup_leader(&k, leader);
        }
        self.pty.update(|st| st.hung_up = true);
    }
}

impl PtyMaster {
    /// The pair.
    pub fn pty(&self) -> &Arc<Pty> {
        &self.pty
    }
}

impl FileOps for PtyMaster {
    fn positioning(&self) -> Positioning {
        Positioning::Stream
    }
    fn read_stream(&self, task: TaskRef, buf: &mut [u8]) -> SysResult<usize> {
        self.pty.master_read(task, buf, false)
    }
    fn write_stream(&self, task: TaskRef, buf: &[u8]) -> SysResult<usize> {
        self.pty.master_write(task, buf, false)
    }
    fn read_with_flags(&self, task: TaskRef, buf: &mut [u8], flags: i32) -> SysResult<usize> {
        self.pty
            .master_read(task, buf, flags & libc::O_NONBLOCK != 0)
    }
    fn write_with_flags(&self, task: TaskRef, buf: &[u8], flags: i32) -> SysResult<usize> {
        self.pty
            .master_write(task, buf, flags & libc::O_NONBLOCK != 0)
    }
    fn supports_poll(&self) -> bool {
        true
    }
    fn readiness(&self, _mask: u32) -> u32 {
        self.pty.master_readiness()
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pty.queue)
    }
    fn generation(&self, _mask: u32) -> u64 {
        self.pty.lock().generation
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// An open replica (/dev/pts/N, /dev/tty on it, TIOCGPTPEER).
pub struct PtyReplica {
    pty: Arc<Pty>,
}

impl Drop for PtyReplica {
    fn drop(&mut self) {
        self.pty.update(|st| st.replicas -= 1);
    }
}

impl FileOps for PtyReplica {
    fn positioning(&self) -> Positioning {
        Positioning::Stream
    }
    fn read_stream(&self, task: TaskRef, buf: &mut [u8]) -> SysResult<usize> {
        self.pty.replica_read(task, buf, false)
    }
    fn write_stream(&self, task: TaskRef, buf: &[u8]) -> SysResult<usize> {
        self.pty.replica_write(task, buf, false)
    }
    fn read_with_flags(&self, task: TaskRef, buf: &mut [u8], flags: i32) -> SysResult<usize> {
        self.pty
            .replica_read(task, buf, flags & libc::O_NONBLOCK != 0)
    }
    fn write_with_flags(&self, task: TaskRef, buf: &[u8], flags: i32) -> SysResult<usize> {
        self.pty
            .replica_write(task, buf, flags & libc::O_NONBLOCK != 0)
    }
    fn supports_poll(&self) -> bool {
        true
    }
    fn readiness(&self, _mask: u32) -> u32 {
        self.pty.replica_readiness()
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pty.queue)
    }
    fn generation(&self, _mask: u32) -> u64 {
        self.pty.lock().generation
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// ioctl(2) `req` with application argument `arg` by `t` on `file`, when `file` is a pty
/// master or replica (None otherwise: the caller goes on with other kinds of files).
pub fn pty_ioctl(t: &Task, file: &FileDescription, req: u32, arg: u64) -> Option<SysResult<u64>> {
    if let Some(m) = file.ops_as::<PtyMaster>() {
        return Some(m.pty.ioctl(t, req, arg, true));
    }
    let r = file.ops_as::<PtyReplica>()?;
    Some(r.pty.ioctl(t, req, arg, false))
}

/// Opens /dev/ptmx: a new pair (locked) of the sentry's own devpts (the last [`new_root`]),
/// owned by the opener; its master.
pub fn open_master(task: TaskRef) -> SysResult<Arc<dyn FileOps>> {
    open_master_in(task, DEVPTS_DEV.load(Ordering::Relaxed))
}

/// Opens the ptmx of the devpts on device `dev`: a new pair (locked) with that mount's mode and
/// owners (`PtsOptions`); its master.
pub fn open_master_in(task: TaskRef, dev: u64) -> SysResult<Arc<dyn FileOps>> {
    let opts = options_of(dev);
    let (fsuid, fsgid) = task.map_or((0, 0), |t| (t.creds.fsuid, t.creds.fsgid));
    let host = host_tty::pts_numbers();
    let mut reg = ptys();
    if reg.len() >= opts.max as usize {
        return Err(Errno::ENOSPC);
    }
    let index = (0..MAX_PTYS)
        .find(|n| !reg.contains_key(n) && !host.contains(n))
        .ok_or(Errno::ENOSPC)?;
    let now = Timespec::now();
    let pty = Arc::new(Pty {
        index,
        dev,
        attr: Mutex::new(PtyAttr {
            perm: opts.mode,
            uid: opts.uid.unwrap_or(fsuid),
            gid: opts.gid.unwrap_or(fsgid),
            atime: now,
            mtime: now,
            ctime: now,
        }),
        kernel: task.map_or_else(Weak::new, |t| Arc::downgrade(&t.kernel)),
        state: Mutex::new(PtyState {
            ld: LineDiscipline::new(),
            winsize: [0; 8],
            locked: true,
            masters: 1,
            replicas: 0,
            replica_opened: false,
            hung_up: false,
            generation: 0,
            packet: false,
            pkt_status: 0,
        }),
        queue: WaitQueue::new(),
        job: TtyJob::default(),
    });
    reg.insert(index, pty.clone());
    Ok(Arc::new(PtyMaster { pty }))
}

/// Opens the replica of `pty` with open(2) `flags`: EIO while locked or hung up; it becomes
/// the opener's controlling terminal as `jobctl::TtyJob::set_on_open` says, unless O_NOCTTY.
pub fn open_replica(pty: &Arc<Pty>, task: TaskRef, flags: i32) -> SysResult<Arc<dyn FileOps>> {
    {
        let st = pty.lock();
        if st.locked || st.hung_up {
            return Err(Errno::EIO);
        }
    }
    pty.update(|st| {
        st.replicas += 1;
        st.replica_opened = true;
    });
    let ops = Arc::new(PtyReplica { pty: pty.clone() });
    if let Some(t) = task {
        if flags & libc::O_NOCTTY == 0 {
            pty.job.set_on_open(t);
        }
    }
    Ok(ops)
}

/// The devpts root (/dev/pts) on device `dev`, with the sentry's own options
/// ([`PtsOptions::SENTRY`]).
pub fn new_root(dev: u64) -> Arc<dyn Inode> {
    DEVPTS_DEV.store(dev, Ordering::Relaxed);
    root_with(dev, PtsOptions::SENTRY)
}

/// A devpts mounted with mount(2) data `data` (an OCI spec's options, a sandboxed mount(2)) on
/// device `dev`: its root and its options as mountinfo shows them. EINVAL for an option devpts
/// does not know.
///
/// Its ptmx is its own (`/dev/ptmx` is the `pts/ptmx` symlink in an OCI container); the
/// sentry's /dev/ptmx device keeps making pairs of the sentry's own devpts ([`open_master`]).
pub fn new_instance(dev: u64, data: &[u8]) -> SysResult<(Arc<dyn Inode>, String)> {
    let opts = PtsOptions::parse(data)?;
    Ok((root_with(dev, opts), opts.show()))
}

fn root_with(dev: u64, opts: PtsOptions) -> Arc<dyn Inode> {
    INSTANCES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(dev, opts);
    Arc::new(DevptsRoot {
        dev,
        created: created(),
    })
}

/// The /dev/pts directory.
pub struct DevptsRoot {
    dev: u64,
    created: Timespec,
}

/// A /dev/pts entry by name: ptmx, a sandbox pair, or a host terminal the sentry holds.
pub fn lookup(dev: u64, name: &[u8]) -> SysResult<Arc<dyn Inode>> {
    if name == b"ptmx" {
        return Ok(Arc::new(PtmxInode { dev }));
    }
    let n: u32 = std::str::from_utf8(name)
        .ok()
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or(Errno::ENOENT)?;
    // A host terminal registered after a pair took its number (`runsc exec --tty`) wins:
    // ttyname(3) of the stdio terminal must find it.
    if host_tty::pts(n).is_some() {
        return Ok(Arc::new(HostPtsInode { n }));
    }
    if let Some(pty) = pty(n) {
        return Ok(Arc::new(PtyInode { pty }));
    }
    Err(Errno::ENOENT)
}

/// The /dev/pts listing: ptmx, then every pair and host terminal by number.
pub fn readdir() -> Vec<DirEntry> {
    let mut nums: Vec<u32> = ptys().keys().copied().collect();
    nums.extend(host_tty::pts_numbers());
    nums.sort_unstable();
    nums.dedup();
    let mut v = vec![DirEntry {
        name: b"ptmx".to_vec(),
        ino: 2,
        kind: libc::DT_CHR,
    }];
    v.extend(nums.into_iter().map(|n| DirEntry {
        name: n.to_string().into_bytes(),
        ino: u64::from(n) + 3,
        kind: libc::DT_CHR,
    }));
    v
}

impl Inode for DevptsRoot {
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
        Ok(Stat {
            dev: self.dev,
            ino: 1,
            mode: libc::S_IFDIR | 0o755,
            nlink: 2,
            blksize: 1024,
            atime: self.created,
            mtime: self.created,
            ctime: self.created,
            ..Default::default()
        })
    }
    fn lookup(&self, _task: TaskRef, name: &[u8]) -> SysResult<Arc<dyn Inode>> {
        lookup(self.dev, name)
    }
    fn readdir(&self, _task: TaskRef) -> SysResult<Vec<DirEntry>> {
        Ok(readdir())
    }
    fn open(&self, _task: TaskRef, _flags: i32) -> SysResult<Arc<dyn FileOps>> {
        Ok(Arc::new(NoDataOps))
    }
    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(DEVPTS_SUPER_MAGIC))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// /dev/pts/ptmx.
struct PtmxInode {
    dev: u64,
}

impl Inode for PtmxInode {
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
        Ok(Stat {
            dev: self.dev,
            ino: 2,
            mode: libc::S_IFCHR | options_of(self.dev).ptmxmode,
            nlink: 1,
            rdev: ptmx_rdev(),
            blksize: 1024,
            atime: created(),
            mtime: created(),
            ctime: created(),
            ..Default::default()
        })
    }
    fn open(&self, task: TaskRef, _flags: i32) -> SysResult<Arc<dyn FileOps>> {
        open_master_in(task, self.dev)
    }
    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(DEVPTS_SUPER_MAGIC))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// /dev/pts/N of a sandbox pair (it stays the inode of that pair after the master closes).
struct PtyInode {
    pty: Arc<Pty>,
}

impl Inode for PtyInode {
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
        Ok(self.pty.stat())
    }
    fn open(&self, task: TaskRef, flags: i32) -> SysResult<Arc<dyn FileOps>> {
        open_replica(&self.pty, task, flags)
    }
    fn setattr(&self, attr: &SetAttr) -> SysResult<()> {
        self.pty.setattr(attr)
    }
    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(DEVPTS_SUPER_MAGIC))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// /dev/pts/N of a host terminal the sentry holds, shown with its host stat.
struct HostPtsInode {
    n: u32,
}

impl HostPtsInode {
    fn tty(&self) -> SysResult<Arc<host_tty::HostTty>> {
        host_tty::pts(self.n).ok_or(Errno::ENOENT)
    }
}

impl Inode for HostPtsInode {
    fn stat(&self, _task: TaskRef) -> SysResult<Stat> {
        crate::fs::host::tty_stat(&*self.tty()?)
    }
    fn open(&self, _task: TaskRef, _flags: i32) -> SysResult<Arc<dyn FileOps>> {
        Ok(crate::fs::host::tty_ops(&self.tty()?))
    }
    fn statfs(&self) -> SysResult<StatFs> {
        Ok(StatFs::synthetic(DEVPTS_SUPER_MAGIC))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_options_give_new_pairs_and_ptmx_their_mode_and_owners() {
        let o = PtsOptions::parse(b"newinstance,ptmxmode=0666,mode=0620,gid=5\0").unwrap();
        assert_eq!(
            (o.gid, o.uid, o.mode, o.ptmxmode),
            (Some(5), None, 0o620, 0o666)
        );
        assert_eq!(o.show(), ",gid=5,mode=620,ptmxmode=666");
        assert_eq!(
            PtsOptions::parse(b"").unwrap().show(),
            ",mode=600,ptmxmode=000"
        );
        assert_eq!(
            PtsOptions::parse(b"uid=7,max=3,,mode=1777").unwrap().show(),
            ",uid=7,mode=1777,ptmxmode=000,max=3"
        );
        for bad in [
            &b"bogus"[..],
            b"mode=9",
            b"gid=",
            b"max=2000000",
            b"newinstance=1",
        ] {
            assert_eq!(PtsOptions::parse(bad), Err(Errno::EINVAL), "{bad:?}");
        }
        // An instance of its own: its ptmx and the pairs made through it follow its options.
        let dev = 0xdead_0001;
        let (root, shown) = new_instance(dev, b"ptmxmode=0600,mode=0640,gid=5,uid=9").unwrap();
        assert_eq!(shown, ",uid=9,gid=5,mode=640,ptmxmode=600");
        let ptmx = root.lookup(None, b"ptmx").unwrap();
        assert_eq!(ptmx.stat(None).unwrap().mode, libc::S_IFCHR | 0o600);
        let m = ptmx.open(None, libc::O_RDWR).unwrap();
        let pty = m
            .as_any()
            .unwrap()
            .downcast_ref::<PtyMaster>()
            .unwrap()
            .pty()
            .clone();
        let st = pty.stat();
        assert_eq!(
            (st.mode, st.uid, st.gid, st.dev),
            (libc::S_IFCHR | 0o640, 9, 5, dev)
        );
    }

    fn master() -> (Arc<dyn FileOps>, Arc<Pty>) {
        let m = open_master(None).unwrap();
        let any = m.as_any().unwrap().downcast_ref::<PtyMaster>().unwrap();
        let p = any.pty().clone();
        (m, p)
    }

    #[test]
    fn a_new_pair_is_locked_listed_and_echoes_through_the_line_discipline() {
        let (m, p) = master();
        let name = p.index().to_string().into_bytes();
        assert!(readdir().iter().any(|e| e.name == name));
        let node = lookup(1, &name).unwrap();
        assert!(matches!(node.open(None, libc::O_RDWR), Err(Errno::EIO)));
        p.update(|st| st.locked = false);
        let st = node.stat(None).unwrap();
        assert_eq!(st.rdev, replica_rdev(p.index()));
        assert_eq!(st.mode, libc::S_IFCHR | 0o620);
        let r = node.open(None, libc::O_RDWR).unwrap();
        assert_eq!(r.readiness(0) & libc::POLLIN as u32, 0);
        assert_eq!(m.write_stream(None, b"hello\n").unwrap(), 6);
        let mut b = [0u8; 64];
        let n = m.read_with_flags(None, &mut b, libc::O_NONBLOCK).unwrap();
        assert_eq!(&b[..n], b"hello\r\n");
        assert_ne!(r.readiness(0) & libc::POLLIN as u32, 0);
        let n = r.read_stream(None, &mut b).unwrap();
        assert_eq!(&b[..n], b"hello\n");
        assert_eq!(r.write_stream(None, b"hi\n").unwrap(), 3);
        let n = m.read_stream(None, &mut b).unwrap();
        assert_eq!(&b[..n], b"hi\r\n");
        assert_eq!(
            m.read_with_flags(None, &mut b, libc::O_NONBLOCK),
            Err(Errno::EAGAIN)
        );
        drop(r);
        assert_eq!(m.read_stream(None, &mut b), Err(Errno::EIO));
        assert_ne!(m.readiness(0) & libc::POLLHUP as u32, 0);
    }

    #[test]
    fn closing_the_master_hangs_the_replica_up_and_frees_the_number() {
        let (m, p) = master();
        let n = p.index();
        p.update(|st| st.locked = false);
        let r = open_replica(&p, None, libc::O_RDWR).unwrap();
        drop(m);
        // The number is free again (another test's pair may have taken it meanwhile).
        assert!(pty(n).is_none_or(|q| !Arc::ptr_eq(&q, &p)));
        let mut b = [0u8; 8];
        assert_eq!(r.read_stream(None, &mut b).unwrap(), 0);
        assert_eq!(r.write_stream(None, b"x"), Err(Errno::EIO));
        assert_ne!(r.readiness(0) & libc::POLLHUP as u32, 0);
    }

    #[test]
    fn packet_mode_prefixes_data_and_reports_flushes() {
        let (m, p) = master();
        p.update(|st| {
            st.locked = false;
            st.packet = true;
        });
        let r = open_replica(&p, None, libc::O_RDWR).unwrap();
        r.write_stream(None, b"ab").unwrap();
        let mut b = [9u8; 8];
        let n = m.read_stream(None, &mut b).unwrap();
        assert_eq!(&b[..n], b"\0ab");
        m.write_stream(None, b"\x03").unwrap();
        assert_ne!(m.readiness(0) & libc::POLLPRI as u32, 0);
        let n = m.read_stream(None, &mut b).unwrap();
        assert_eq!(&b[..n], &[TIOCPKT_FLUSHREAD | TIOCPKT_FLUSHWRITE]);
        let n = m.read_stream(None, &mut b).unwrap();
        assert_eq!(&b[..n], b"\0^C");
    }

    #[test]
    fn a_session_leaders_exit_frees_its_controlling_pty() {
        let (_m, p) = master();
        p.job.set(JobState {
            session: Some(777_777),
            foreground: 777_777,
        });
        assert!(controlling_pty(777_777).is_some_and(|q| Arc::ptr_eq(&q, &p)));
        session_leader_exited(777_777);
        assert!(controlling_pty(777_777).is_none());
        assert_eq!(p.session(), None);
    }

    #[test]
    fn blocked_replica_read_wakes_on_master_write() {
        let (m, p) = master();
        p.update(|st| st.locked = false);
        let r = open_replica(&p, None, libc::O_RDWR).unwrap();
        let reader = std::thread::spawn(move || {
            let mut b = [0u8; 16];
            let n = r.read_stream(None, &mut b).unwrap();
            b[..n].to_vec()
        });
        std::thread::sleep(Duration::from_millis(20));
        m.write_stream(None, b"line\r").unwrap();
        assert_eq!(reader.join().unwrap(), b"line\n");
    }
}
