//! The sandbox's PID namespace as a process tree (after Linux `kernel/exit.c`, `kernel/sys.c`
//! and gVisor's `pkg/sentry/kernel/task_exit.go`, `sessions.go`): which tasks and processes are
//! alive, who is whose parent, process groups and sessions, zombies, reparenting to init (or a
//! child subreaper) and wait4/waitid's search for a child that changed state.
//!
//! Lock order: `Kernel::tree` (like Linux's `tasklist_lock`), then a `ThreadGroup::state`, then
//! wait-queue locks. Nothing here calls into the platform or the VFS with the tree locked.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::abi::signal::SigInfo;
use crate::kernel::task::ExitStatus;
use crate::kernel::thread_group::ThreadGroup;
use crate::kernel::wait::TaskWaker;
use crate::kernel::{Kernel, Task};
use crate::platform::Interrupter;
use crate::{Errno, SysResult};

/// How long the end of init waits for the other tasks to stop.
const TEARDOWN_GRACE: Duration = Duration::from_secs(3);

/// What other tasks may do to a running task: wake it, kick it out of application code, ask it
/// to exit.
pub struct TaskHandle {
    pub tid: i32,
    pub tg: Arc<ThreadGroup>,
    pub waker: Arc<TaskWaker>,
    pub interrupter: Arc<dyn Interrupter>,
    /// Set by exit_group, a fatal signal or a sibling's execve: the task exits at its next
    /// return to the task loop.
    killed: AtomicBool,
    /// prctl(PR_SET_PDEATHSIG).
    pub pdeath_signal: AtomicI32,
    /// sched_setaffinity(2)'s CPU mask, bytes of a `cpu_set_t` (empty: every CPU).
    affinity: Mutex<Vec<u8>>,
    /// set_robust_list(2)'s head, for get_robust_list(2) from another thread.
    robust_head: AtomicU64,
    /// The process's current parent pid (0 for init), a copy of its `ProcessEntry::parent`
    /// written only with the tree locked (`add_task`, reparenting, `take_over_leader`) so
    /// that getppid(2) reads it without the tree lock.
    parent: AtomicI32,
}

impl TaskHandle {
    pub fn new(
        tid: i32,
        tg: Arc<ThreadGroup>,
        waker: Arc<TaskWaker>,
        interrupter: Arc<dyn Interrupter>,
    ) -> TaskHandle {
        TaskHandle {
            tid,
            tg,
            waker,
            interrupter,
            killed: AtomicBool::new(false),
            pdeath_signal: AtomicI32::new(0),
            affinity: Mutex::new(Vec::new()),
            robust_head: AtomicU64::new(0),
            parent: AtomicI32::new(0),
        }
    }

    /// The current parent pid of the task's process, as getppid(2) returns it (0 for init,
    /// the reaper's pid once the parent has exited): one atomic load, no lock.
    pub fn parent_pid(&self) -> i32 {
        self.parent.load(Ordering::Acquire)
    }

    /// The robust list head set_robust_list(2) last stored (0: none).
    pub fn robust_head(&self) -> u64 {
        self.robust_head.load(Ordering::SeqCst)
    }

    pub fn set_robust_head(&self, head: u64) {
        self.robust_head.store(head, Ordering::SeqCst);
    }

    /// The thread's CPU affinity mask (empty: every CPU); clone and execve carry it over.
    pub fn affinity(&self) -> Vec<u8> {
        self.affinity
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_affinity(&self, mask: Vec<u8>) {
        *self.affinity.lock().unwrap_or_else(|p| p.into_inner()) = mask;
    }

    /// Wakes the task from a blocking wait (EINTR) and kicks it out of application code.
    pub fn kick(&self) {
        self.waker.interrupt();
        self.interrupter.interrupt();
    }

    /// Asks the task to exit and kicks it.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kick();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }
}

/// One process's place in the tree.
pub struct ProcessEntry {
    pub tg: Arc<ThreadGroup>,
    /// Current parent pid (0 for init).
    pub parent: i32,
    pub pgid: i32,
    pub sid: i32,
    pub children: BTreeSet<i32>,
    /// Live threads.
    pub threads: BTreeSet<i32>,
    /// The signal the parent gets when this process ends (SIGCHLD, or clone's CSIGNAL byte).
    pub exit_signal: i32,
    /// Set once every thread is gone: the status wait4 reports.
    pub zombie: Option<ExitStatus>,
    /// exit_group / fatal signal status, which wins over the leader's exit code.
    pub group_exit: Option<ExitStatus>,
    /// The leader's exit(2) code, the process status if no group exit happens.
    pub leader_exit_code: Option<i32>,
    /// Set by execve (setpgid on a child that exec'd is EACCES).
    pub did_exec: bool,
    /// A job-control change (stopped by a signal, continued) not yet reported by wait.
    pub job_report: Option<JobEvent>,
}

/// A job-control change of a process (Linux `do_notify_parent_cldstop`'s `why`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobEvent {
    /// Group-stopped by this signal (CLD_STOPPED).
    Stopped(i32),
    /// Resumed by SIGCONT (CLD_CONTINUED).
    Continued,
}

/// What wait4/waitid report about a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildState {
    Exited(ExitStatus),
    Stopped(i32),
    Continued,
}

impl ChildState {
    /// The wait status word (`WIFEXITED`, `WIFSIGNALED`, `WIFSTOPPED`, `WIFCONTINUED`).
    pub fn wait_status(&self) -> i32 {
        match *self {
            ChildState::Exited(e) => e.wait_status(),
            ChildState::Stopped(sig) => (sig << 8) | 0x7f,
            ChildState::Continued => 0xffff,
        }
    }

    /// waitid's and SIGCHLD's (`si_code`, `si_status`).
    pub fn code_and_status(&self) -> (i32, i32) {
        match *self {
            ChildState::Exited(ExitStatus::Exited(c)) => (CLD_EXITED, c & 0xff),
            ChildState::Exited(ExitStatus::Signaled(s)) => (CLD_KILLED, s),
            ChildState::Stopped(sig) => (CLD_STOPPED, sig),
            ChildState::Continued => (CLD_CONTINUED, libc::SIGCONT),
        }
    }
}

/// Every task and process of the sandbox.
#[derive(Default)]
pub struct ProcessTree {
    pub procs: BTreeMap<i32, ProcessEntry>,
    pub tasks: BTreeMap<i32, Arc<TaskHandle>>,
}

/// Whom wait4/waitid waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitTarget {
    Any,
    Pid(i32),
    Pgid(i32),
}

/// wait options (`WNOHANG`, `WEXITED`, `WNOWAIT`, `__WCLONE`, `__WALL`...).
#[derive(Debug, Clone, Copy)]
pub struct WaitOptions {
    pub target: WaitTarget,
    pub flags: i32,
}

/// A child that changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitResult {
    pub pid: i32,
    pub status: ChildState,
    /// The child's real uid (waitid's `si_uid`).
    pub uid: u32,
}

pub const WCLONE: i32 = 0x8000_0000_u32 as i32;
pub const WALL: i32 = 0x4000_0000;
pub const WNOTHREAD: i32 = 0x2000_0000;

impl ExitStatus {
    /// The wait status word as Linux encodes it (`WIFEXITED`, `WIFSIGNALED`).
    pub fn wait_status(&self) -> i32 {
        match *self {
            ExitStatus::Exited(c) => (c & 0xff) << 8,
            ExitStatus::Signaled(s) => s & 0x7f,
        }
    }
}

impl Kernel {
    /// The process tree, locked.
    pub fn tree(&self) -> MutexGuard<'_, ProcessTree> {
        self.tree
            .lock()
            .expect("invariant: process tree lock is never poisoned")
    }

    /// Adds a new process (no threads yet) under `parent`, inheriting its group and session.
    pub fn add_process(&self, tg: &Arc<ThreadGroup>, parent: i32, exit_signal: i32) {
        let mut tree = self.tree();
        let (pgid, sid) = match tree.procs.get_mut(&parent) {
            Some(p) => {
                p.children.insert(tg.pid);
                (p.pgid, p.sid)
            }
            None => (tg.pid, tg.pid),
        };
        tree.procs.insert(
            tg.pid,
            ProcessEntry {
                tg: tg.clone(),
                parent,
                pgid,
                sid,
                children: BTreeSet::new(),
                threads: BTreeSet::new(),
                exit_signal,
                zombie: None,
                group_exit: None,
                leader_exit_code: None,
                did_exec: false,
                job_report: None,
            },
        );
    }

    /// Adds a running task of an existing process.
    pub fn add_task(&self, handle: Arc<TaskHandle>) {
        let mut tree = self.tree();
        if let Some(p) = tree.procs.get_mut(&handle.tg.pid) {
            p.threads.insert(handle.tid);
            handle.parent.store(p.parent, Ordering::Release);
        }
        let killed = handle.tg.is_exiting();
        tree.tasks.insert(handle.tid, handle.clone());
        drop(tree);
        if killed {
            handle.kill();
        }
    }

    /// The task with this tid.
    pub fn task(&self, tid: i32) -> Option<Arc<TaskHandle>> {
        self.tree().tasks.get(&tid).cloned()
    }

    /// Live thread ids of process `pid`, ascending.
    pub fn threads_of(&self, pid: i32) -> Vec<i32> {
        self.tree()
            .procs
            .get(&pid)
            .map(|p| p.threads.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The current parent of `pid` (0 for init), None if there is no such process.
    pub fn parent_of(&self, pid: i32) -> Option<i32> {
        self.tree().procs.get(&pid).map(|p| p.parent)
    }

    /// Process group of `pid`.
    pub fn pgid_of(&self, pid: i32) -> SysResult<i32> {
        self.tree()
            .procs
            .get(&pid)
            .map(|p| p.pgid)
            .ok_or(Errno::ESRCH)
    }

    /// Session of `pid`.
    pub fn sid_of(&self, pid: i32) -> SysResult<i32> {
        self.tree()
            .procs
            .get(&pid)
            .map(|p| p.sid)
            .ok_or(Errno::ESRCH)
    }

    /// Pids of the live (not zombie) processes in process group `pgid`.
    pub fn process_group(&self, pgid: i32) -> Vec<i32> {
        self.tree()
            .procs
            .iter()
            .filter(|(_, p)| p.pgid == pgid && p.zombie.is_none())
            .map(|(pid, _)| *pid)
            .collect()
    }

    /// setpgid(2) by process `caller` (Linux `kernel/sys.c`).
    pub fn setpgid(&self, caller: i32, pid: i32, pgid: i32) -> SysResult<()> {
        if pgid < 0 {
            return Err(Errno::EINVAL);
        }
        let pid = if pid == 0 { caller } else { pid };
        let pgid = if pgid == 0 { pid } else { pgid };
        let mut tree = self.tree();
        let caller_sid = tree.procs.get(&caller).ok_or(Errno::ESRCH)?.sid;
        let target = tree.procs.get(&pid).ok_or(Errno::ESRCH)?;
        if pid != caller {
            if target.parent != caller {
                return Err(Errno::ESRCH);
            }
            if target.sid != caller_sid {
                return Err(Errno::EPERM);
            }
            if target.did_exec {
                return Err(Errno::EACCES);
            }
        }
        if target.sid == pid {
            return Err(Errno::EPERM);
        }
        if pgid != pid
            && !tree
                .procs
                .values()
                .any(|p| p.pgid == pgid && p.sid == caller_sid && p.zombie.is_none())
        {
            return Err(Errno::EPERM);
        }
        if let Some(t) = tree.procs.get_mut(&pid) {
            t.pgid = pgid;
        }
        Ok(())
    }

    /// setsid(2) by process `pid`: EPERM for a process group leader.
    pub fn setsid(&self, pid: i32) -> SysResult<i32> {
        let mut tree = self.tree();
        if tree.procs.values().any(|p| p.pgid == pid) {
            return Err(Errno::EPERM);
        }
        let p = tree.procs.get_mut(&pid).ok_or(Errno::ESRCH)?;
        p.pgid = pid;
        p.sid = pid;
        Ok(pid)
    }

    /// Records that process `pid` ran execve.
    pub fn note_exec(&self, pid: i32) {
        if let Some(p) = self.tree().procs.get_mut(&pid) {
            p.did_exec = true;
        }
    }

    /// exit_group(2) / fatal signal: the first status recorded wins; every thread of the process
    /// is asked to exit.
    pub fn exit_group(&self, pid: i32, status: ExitStatus) {
        let mut tree = self.tree();
        let Some(p) = tree.procs.get_mut(&pid) else {
            return;
        };
        p.tg.mark_exiting();
        p.group_exit.get_or_insert(status);
        let threads: Vec<i32> = p.threads.iter().copied().collect();
        let handles: Vec<Arc<TaskHandle>> = threads
            .iter()
            .filter_map(|t| tree.tasks.get(t).cloned())
            .collect();
        drop(tree);
        for h in handles {
            h.kill();
        }
    }

    /// Kills every thread of `pid` except `keep` (execve's de_thread) and waits until they are
    /// gone. EINTR if `keep` itself is killed meanwhile.
    pub fn kill_other_threads(&self, pid: i32, keep: i32) -> SysResult<()> {
        let others: Vec<Arc<TaskHandle>> = {
            let tree = self.tree();
            let Some(p) = tree.procs.get(&pid) else {
                return Ok(());
            };
            p.threads
                .iter()
                .filter(|&&t| t != keep)
                .filter_map(|t| tree.tasks.get(t).cloned())
                .collect()
        };
        for h in &others {
            h.kill();
        }
        let mut tree = self.tree();
        loop {
            let alone = tree
                .procs
                .get(&pid)
                .is_none_or(|p| p.threads.iter().all(|&t| t == keep));
            if alone {
                return Ok(());
            }
            if tree.tasks.get(&keep).is_some_and(|h| h.is_killed()) {
                return Err(Errno::EINTR);
            }
            tree = self
                .tree_cv
                .wait(tree)
                .expect("invariant: process tree lock is never poisoned");
        }
    }

    /// Makes the calling thread (`old_tid`, after every sibling is gone) the process's leader:
    /// execve by a non-leader thread takes over the pid as its tid.
    pub fn take_over_leader(&self, old_tid: i32, handle: Arc<TaskHandle>) {
        let mut tree = self.tree();
        tree.tasks.remove(&old_tid);
        if let Some(p) = tree.procs.get_mut(&handle.tg.pid) {
            p.threads.remove(&old_tid);
            p.threads.insert(handle.tid);
            handle.parent.store(p.parent, Ordering::Release);
        }
        tree.tasks.insert(handle.tid, handle);
    }

    /// A task is gone. Returns the process status when it was the process's last thread (the
    /// process is now a zombie, its children reparented and its parent notified).
    pub fn task_exited(&self, tid: i32, pid: i32, code: i32) -> Option<ExitStatus> {
        let mut tree = self.tree();
        tree.tasks.remove(&tid);
        let Some(p) = tree.procs.get_mut(&pid) else {
            self.tree_cv.notify_all();
            return None;
        };
        p.threads.remove(&tid);
        if tid == pid {
            p.leader_exit_code = Some(code);
        }
        if !p.threads.is_empty() {
            self.tree_cv.notify_all();
            return None;
        }
        let status = p.group_exit.unwrap_or(ExitStatus::Exited(
            p.leader_exit_code.unwrap_or(code) & 0xff,
        ));
        p.zombie = Some(status);
        p.tg.mark_exiting();
        let children = std::mem::take(&mut p.children);
        let parent = p.parent;
        let exit_signal = p.exit_signal;
        // Reparent the children to the nearest live subreaper ancestor, else init.
        if pid != 1 {
            let reaper = find_reaper(&tree, pid);
            let mut reaper_has_zombie = false;
            let mut orphan_threads = Vec::new();
            for c in &children {
                if let Some(ce) = tree.procs.get_mut(c) {
                    ce.parent = reaper;
                    reaper_has_zombie |= ce.zombie.is_some();
                    orphan_threads.extend(ce.threads.iter().copied());
                }
            }
            // Their threads' getppid sees the reaper from now on; PR_SET_PDEATHSIG: the
            // orphaned threads that asked get their signal.
            for t in orphan_threads {
                if let Some(h) = tree.tasks.get(&t) {
                    h.parent.store(reaper, Ordering::Release);
                    let sig = h.pdeath_signal.load(Ordering::SeqCst);
                    if sig > 0 {
                        let info = SigInfo::from_sender(sig, SI_USER, pid, 0);
                        let _ = crate::kernel::signal::send_to_thread(&h.tg, t, info);
                    }
                }
            }
            if let Some(r) = tree.procs.get_mut(&reaper) {
                r.children.extend(children.iter().copied());
                if reaper_has_zombie {
                    r.tg.notify_child_event();
                }
            }
        }
        // Tell the parent, or reap right away when it ignores SIGCHLD (or set SA_NOCLDWAIT).
        let autoreap = match tree.procs.get(&parent) {
            Some(pe) => {
                let action = pe.tg.with_state(|s| s.actions[libc::SIGCHLD as usize - 1]);
                exit_signal == libc::SIGCHLD
                    && (action.handler == libc::SIG_IGN as u64
                        || action.flags & libc::SA_NOCLDWAIT as u64 != 0)
            }
            None => false,
        };
        if autoreap {
            tree.procs.remove(&pid);
            if let Some(pe) = tree.procs.get_mut(&parent) {
                pe.children.remove(&pid);
                // A waiter blocked on this child must see ECHILD now.
                pe.tg.notify_child_event();
            }
        } else if let Some(pe) = tree.procs.get(&parent) {
            if exit_signal > 0 {
                crate::kernel::signal::send_to_process(
                    &pe.tg,
                    child_info(exit_signal, pid, ChildState::Exited(status)),
                );
            }
            pe.tg.notify_child_event();
        }
        self.tree_cv.notify_all();
        Some(status)
    }

    /// Process `pid` stopped or continued (job control): the change is kept for its parent's
    /// wait (WUNTRACED/WCONTINUED) and the parent gets SIGCHLD with CLD_STOPPED/CLD_CONTINUED
    /// unless its SIGCHLD action has SA_NOCLDSTOP (Linux `do_notify_parent_cldstop`).
    pub fn notify_job_control(&self, pid: i32, ev: JobEvent) {
        let mut tree = self.tree();
        let Some(p) = tree.procs.get_mut(&pid) else {
            return;
        };
        if p.zombie.is_some() {
            return;
        }
        p.job_report = Some(ev);
        let parent = p.parent;
        let Some(pe) = tree.procs.get(&parent) else {
            return;
        };
        let action = pe.tg.with_state(|s| s.actions[libc::SIGCHLD as usize - 1]);
        if action.flags & libc::SA_NOCLDSTOP as u64 == 0 {
            let state = match ev {
                JobEvent::Stopped(sig) => ChildState::Stopped(sig),
                JobEvent::Continued => ChildState::Continued,
            };
            crate::kernel::signal::send_to_process(&pe.tg, child_info(libc::SIGCHLD, pid, state));
        }
        pe.tg.notify_child_event();
    }

    /// Init is gone: kills every remaining task (as the end of a PID namespace does) and waits
    /// until all have exited.
    pub fn kill_all_and_wait(&self) {
        let mut tree = self.tree();
        for p in tree.procs.values_mut() {
            p.tg.mark_exiting();
            p.group_exit
                .get_or_insert(ExitStatus::Signaled(libc::SIGKILL));
        }
        for h in tree.tasks.values() {
            h.kill();
        }
        let deadline = Instant::now() + TEARDOWN_GRACE;
        while !tree.tasks.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                // A task stuck in an uninterruptible host call; its stub dies with the sentry.
                crate::warn!(
                    "init exited; {} task(s) did not stop in time",
                    tree.tasks.len()
                );
                return;
            }
            tree = self
                .tree_cv
                .wait_timeout(tree, deadline - now)
                .expect("invariant: process tree lock is never poisoned")
                .0;
        }
    }

    /// Blocks until process `pid` is a zombie (or gone); returns its status.
    pub fn wait_zombie(&self, pid: i32) -> Option<ExitStatus> {
        let mut tree = self.tree();
        loop {
            match tree.procs.get(&pid) {
                None => return None,
                Some(p) if p.zombie.is_some() => return p.zombie,
                Some(_) => {}
            }
            tree = self
                .tree_cv
                .wait(tree)
                .expect("invariant: process tree lock is never poisoned");
        }
    }

    /// wait4/waitid for `task`'s process: a child matching `opts` that has exited (reaped
    /// unless WNOWAIT), None for WNOHANG with nothing ready, ECHILD when no child matches,
    /// EINTR when interrupted.
    pub fn wait_child(&self, task: &Task, opts: WaitOptions) -> SysResult<Option<WaitResult>> {
        let tg = task.tg.clone();
        let _reg = tg.child_wait.register(&task.waker);
        loop {
            let seen = tg.child_event_count();
            if let Some(r) = self.try_wait_child(tg.pid, opts)? {
                return Ok(Some(r));
            }
            if opts.flags & libc::WNOHANG != 0 {
                return Ok(None);
            }
            task.waker
                .wait_until(None, || tg.child_event_count() != seen)?;
        }
    }

    fn try_wait_child(&self, pid: i32, opts: WaitOptions) -> SysResult<Option<WaitResult>> {
        let mut tree = self.tree();
        let children: Vec<i32> = tree
            .procs
            .get(&pid)
            .map(|p| p.children.iter().copied().collect())
            .unwrap_or_default();
        let mut any = false;
        for c in children {
            let Some(ce) = tree.procs.get(&c) else {
                continue;
            };
            let matches = match opts.target {
                WaitTarget::Any => true,
                WaitTarget::Pid(p) => p == c,
                WaitTarget::Pgid(g) => g == ce.pgid,
            };
            let is_clone = ce.exit_signal != libc::SIGCHLD;
            let kind_ok = opts.flags & WALL != 0 || (opts.flags & WCLONE != 0) == is_clone;
            if !matches || !kind_ok {
                continue;
            }
            any = true;
            let uid = 0;
            let consume = opts.flags & libc::WNOWAIT == 0;
            let Some(status) = ce.zombie else {
                let report = match ce.job_report {
                    Some(JobEvent::Stopped(sig)) if opts.flags & libc::WSTOPPED != 0 => {
                        ChildState::Stopped(sig)
                    }
                    Some(JobEvent::Continued) if opts.flags & libc::WCONTINUED != 0 => {
                        ChildState::Continued
                    }
                    _ => continue,
                };
                if consume {
                    if let Some(ce) = tree.procs.get_mut(&c) {
                        ce.job_report = None;
                    }
                }
                return Ok(Some(WaitResult {
                    pid: c,
                    status: report,
                    uid,
                }));
            };
            if opts.flags & libc::WEXITED == 0 {
                continue;
            }
            if consume {
                tree.procs.remove(&c);
                if let Some(p) = tree.procs.get_mut(&pid) {
                    p.children.remove(&c);
                }
            }
            return Ok(Some(WaitResult {
                pid: c,
                status: ChildState::Exited(status),
                uid,
            }));
        }
        if any {
            Ok(None)
        } else {
            Err(Errno::ECHILD)
        }
    }
}

/// si_code of a signal sent by kill(2).
const SI_USER: i32 = 0;
const CLD_EXITED: i32 = 1;
const CLD_KILLED: i32 = 2;
const CLD_STOPPED: i32 = 5;
const CLD_CONTINUED: i32 = 6;

/// The siginfo of the signal a parent gets when its child changes state (`_sigchld`: pid,
/// uid, status).
fn child_info(signo: i32, pid: i32, state: ChildState) -> SigInfo {
    let (code, value) = state.code_and_status();
    let mut info = SigInfo::from_sender(signo, code, pid, 0);
    info.bytes[24..28].copy_from_slice(&value.to_ne_bytes());
    info
}

/// The process that adopts `pid`'s children: the nearest live ancestor marked child subreaper,
/// else init.
fn find_reaper(tree: &ProcessTree, pid: i32) -> i32 {
    let mut cur = tree.procs.get(&pid).map(|p| p.parent).unwrap_or(0);
    while cur > 1 {
        let Some(p) = tree.procs.get(&cur) else {
            break;
        };
        if p.zombie.is_none() && p.tg.with_state(|s| s.child_subreaper) {
            return cur;
        }
        cur = p.parent;
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_status_encoding_matches_linux() {
        assert_eq!(ExitStatus::Exited(3).wait_status(), 0x300);
        assert_eq!(ExitStatus::Signaled(9).wait_status(), 9);
        assert_eq!(ExitStatus::Exited(256 + 1).wait_status(), 0x100);
        // WIFSTOPPED / WSTOPSIG and WIFCONTINUED as glibc decodes them.
        let stopped = ChildState::Stopped(libc::SIGTSTP).wait_status();
        assert!(libc::WIFSTOPPED(stopped));
        assert_eq!(libc::WSTOPSIG(stopped), libc::SIGTSTP);
        assert!(libc::WIFCONTINUED(ChildState::Continued.wait_status()));
        assert_eq!(
            ChildState::Stopped(libc::SIGSTOP).code_and_status(),
            (CLD_STOPPED, libc::SIGSTOP)
        );
    }

    #[test]
    fn reaper_is_init_without_subreapers() {
        let mut tree = ProcessTree::default();
        for (pid, parent) in [(1, 0), (2, 1), (3, 2)] {
            tree.procs.insert(pid, entry(pid, parent));
        }
        assert_eq!(find_reaper(&tree, 3), 1);
        tree.procs[&2].tg.with_state(|s| s.child_subreaper = true);
        assert_eq!(find_reaper(&tree, 3), 2);
    }

    fn entry(pid: i32, parent: i32) -> ProcessEntry {
        ProcessEntry {
            tg: Arc::new(ThreadGroup::new(pid, parent)),
            parent,
            pgid: 1,
            sid: 1,
            children: BTreeSet::new(),
            threads: BTreeSet::new(),
            exit_signal: libc::SIGCHLD,
            zombie: None,
            group_exit: None,
            leader_exit_code: None,
            did_exec: false,
            job_report: None,
        }
    }
}
