//! The app containers of a pod (after gVisor's multi-container sandbox, `runsc/boot/loader.go`
//! `startSubcontainer` and `runsc/container/container.go`): containers that Kubernetes' CRI puts
//! into the sandbox of their pause container run in the same kernel (one PID, IPC and network
//! namespace) with a root filesystem of their own.
//!
//! Each one is made by a `container-create` request on the sandbox's control socket. The root
//! is a mount tree of its own (`Vfs::new_detached_tree`, gVisor's per-container mount
//! namespace): the overlay over the container's gofer (read-only with `root.readonly`), then
//! what `runsc boot` mounts for a sandbox's own spec ([`set_tree_mounter`]): the sentry's
//! /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /tmp and /sys, then the container's spec's
//! mounts in their order (binds served by the container's gofer, each on a channel of its own;
//! tmpfs, proc...). No other container's root reaches it. Its process is kept until `start` and
//! then started as `runsc exec` starts one, but with its root and cwd in that tree (a chroot).

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::abi::signal::{SigInfo, SI_USER};
use crate::kernel::seccomp::{Program, SockFilter};
use crate::kernel::signal::send_to_process;
use crate::kernel::thread_group::Rlimit;
use crate::kernel::{CapSets, Credentials, ExecProcess, Kernel, OwnSettings};
use crate::vfs::{anon_dev, Dentry, Vfs};
use crate::{Errno, SysResult};

use super::ExecRequest;

/// Device minors of the containers' own filesystems (clear of the sandbox's and mount(2)'s).
static NEXT_MINOR: AtomicU64 = AtomicU64::new(0x800);

/// Mounts a container's filesystems on its tree from its boot spec's JSON, with its bind
/// mounts' gofer channels in the spec's order (`runsc boot` sets it: the code that makes the
/// sandbox's own spec mounts).
pub type TreeMounter =
    fn(&Vfs, &Arc<Dentry>, &[u8], Vec<crate::vfs::BindMount>) -> Result<(), String>;

static TREE_MOUNTER: OnceLock<TreeMounter> = OnceLock::new();

/// Sets how a container's tree is mounted when its `container-create` carries a spec (once).
pub fn set_tree_mounter(f: TreeMounter) {
    let _ = TREE_MOUNTER.set(f);
}

/// How long `delete` waits for a killed container's processes to end.
const DELETE_WAIT: Duration = Duration::from_secs(5);

/// Where a container is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Made; its process waits for `start`.
    Created,
    /// `start` arrived; the creating connection is starting the process.
    Starting,
    /// Its init process runs with this pid.
    Running(i32),
    /// Its init ended with this status (128+N for signal N), or never ran.
    Exited(i32),
}

/// One app container in this sandbox.
pub struct PodContainer {
    pub id: String,
    /// The root dentry of its mount tree.
    pub root: Arc<Dentry>,
    state: Mutex<PodState>,
    cv: Condvar,
}

struct PodState {
    phase: Phase,
    /// The process to start, until `start` takes it.
    pending: Option<(ExecRequest, Option<OwnSettings>, Vec<OwnedFd>)>,
    /// Why `start` failed, for the `start` request to report.
    start_error: Option<String>,
    /// `delete` arrived: the per-container socket stops serving.
    deleted: bool,
}

/// A bind mount of an app container: where, whether read-only, and its gofer channel.
pub struct PodMount {
    pub dest: Vec<u8>,
    pub readonly: bool,
    pub gofer: OwnedFd,
}

/// What `container-create` brings for a new app container.
pub struct NewContainer {
    pub id: String,
    /// `root.readonly`: the gofer's files without an overlay.
    pub readonly: bool,
    /// The channel of the gofer serving its root.
    pub gofer: OwnedFd,
    pub mounts: Vec<PodMount>,
    /// Its boot spec's JSON, from which the [`TreeMounter`] makes its tree (required).
    pub spec: Option<Vec<u8>>,
    pub request: ExecRequest,
    /// Its own process settings (None: the sandbox's).
    pub own: Option<OwnSettings>,
    /// The process's fds 0, 1, 2...
    pub fds: Vec<OwnedFd>,
}

/// An app container's own process settings on its `container-create` line, words among the
/// exec fields: `rlimit=RES:SOFT:HARD`, `umask=OCTAL`, `nnp=1`, `caps=E:P:I:B:A` (hex masks),
/// `oom=N`, `seccomp=HEX` (16 hex digits per `oci::seccomp::encode`d instruction), and
/// `mounts=HEX` (its boot spec's JSON, for [`TreeMounter`]). A line without any of them leaves
/// the container the sandbox's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnSpec {
    /// (resource, soft, hard).
    pub rlimits: Vec<(u32, u64, u64)>,
    pub umask: Option<u32>,
    pub no_new_privs: bool,
    /// effective, permitted, inheritable, bounding, ambient.
    pub caps: Option<[u64; 5]>,
    pub oom_score_adj: Option<i32>,
    pub seccomp: Option<Vec<u64>>,
    /// The container's boot spec (JSON) whose mounts make its tree.
    pub mounts: Option<Vec<u8>>,
}

/// The keys of [`OwnSpec`]'s words.
const OWN_KEYS: [&str; 7] = ["rlimit", "umask", "nnp", "caps", "oom", "seccomp", "mounts"];

impl OwnSpec {
    /// The words, each with a leading space (`umask` always, so that the line has one).
    pub fn encode(&self) -> String {
        let mut line = format!(" umask={:o}", self.umask.unwrap_or(0o022));
        for (res, soft, hard) in &self.rlimits {
            line.push_str(&format!(" rlimit={res}:{soft}:{hard}"));
        }
        if self.no_new_privs {
            line.push_str(" nnp=1");
        }
        if let Some(c) = &self.caps {
            let sets: Vec<String> = c.iter().map(|m| format!("{m:x}")).collect();
            line.push_str(&format!(" caps={}", sets.join(":")));
        }
        if let Some(oom) = self.oom_score_adj {
            line.push_str(&format!(" oom={oom}"));
        }
        if let Some(words) = &self.seccomp {
            line.push_str(" seccomp=");
            for w in words {
                line.push_str(&format!("{w:016x}"));
            }
        }
        if let Some(spec) = &self.mounts {
            line.push_str(" mounts=");
            line.push_str(&super::hex(spec));
        }
        line
    }

    /// Takes this struct's words out of `fields`: Some(spec) if there was any, and the rest.
    pub fn split(fields: &str) -> Result<(Option<OwnSpec>, String), String> {
        let mut own = OwnSpec::default();
        let mut any = false;
        let mut rest = Vec::new();
        for word in fields.split_whitespace() {
            let Some((key, value)) = word.split_once('=').filter(|(k, _)| OWN_KEYS.contains(k))
            else {
                rest.push(word);
                continue;
            };
            any = true;
            let bad = || format!("bad container field {word:?}");
            match key {
                "rlimit" => {
                    let mut p = value.split(':');
                    let (Some(r), Some(s), Some(h), None) =
                        (p.next(), p.next(), p.next(), p.next())
                    else {
                        return Err(bad());
                    };
                    own.rlimits.push((
                        r.parse().map_err(|_| bad())?,
                        s.parse().map_err(|_| bad())?,
                        h.parse().map_err(|_| bad())?,
                    ));
                }
                "umask" => own.umask = Some(u32::from_str_radix(value, 8).map_err(|_| bad())?),
                "nnp" => own.no_new_privs = value == "1",
                "caps" => {
                    let sets = value
                        .split(':')
                        .map(|m| u64::from_str_radix(m, 16).map_err(|_| bad()))
                        .collect::<Result<Vec<_>, _>>()?;
                    own.caps = Some(sets.try_into().map_err(|_| bad())?);
                }
                "oom" => own.oom_score_adj = Some(value.parse().map_err(|_| bad())?),
                "mounts" => own.mounts = Some(super::unhex(value).ok_or_else(bad)?),
                _ => {
                    if !value.len().is_multiple_of(16) || !value.is_ascii() {
                        return Err(bad());
                    }
                    let words = (0..value.len())
                        .step_by(16)
                        .map(|i| u64::from_str_radix(&value[i..i + 16], 16).map_err(|_| bad()))
                        .collect::<Result<_, _>>()?;
                    own.seccomp = Some(words);
                }
            }
        }
        Ok((any.then_some(own), rest.join(" ")))
    }

    /// The kernel's form; an invalid seccomp program is an error.
    pub fn settings(&self) -> Result<OwnSettings, String> {
        let seccomp = match &self.seccomp {
            None => None,
            Some(words) => {
                let insns: Vec<SockFilter> = words
                    .iter()
                    .map(|&w| SockFilter {
                        code: w as u16,
                        jt: (w >> 16) as u8,
                        jf: (w >> 24) as u8,
                        k: (w >> 32) as u32,
                    })
                    .collect();
                Some(
                    Program::check(&insns)
                        .map_err(|e| format!("the seccomp program is invalid: {}", e.desc()))?,
                )
            }
        };
        Ok(OwnSettings {
            rlimits: self
                .rlimits
                .iter()
                .map(|&(r, cur, max)| (r, Rlimit { cur, max }))
                .collect(),
            umask: self.umask.map_or(0o022, |m| m & 0o777),
            no_new_privs: self.no_new_privs,
            caps: self.caps.map(|[e, p, i, b, a]| CapSets {
                effective: e,
                permitted: p,
                inheritable: i,
                bounding: b,
                ambient: a,
            }),
            oom_score_adj: self.oom_score_adj.unwrap_or(0),
            seccomp,
        })
    }
}

/// The app containers of the sandbox, by id.
#[derive(Default)]
pub struct Registry {
    map: Mutex<HashMap<String, Arc<PodContainer>>>,
}

impl Registry {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Arc<PodContainer>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes container `id`: mounts its root over `gofer` and keeps its process for `start`.
    pub fn create(&self, vfs: &Vfs, new: NewContainer) -> Result<Arc<PodContainer>, String> {
        let NewContainer {
            id,
            readonly,
            gofer,
            mounts,
            spec,
            request,
            own,
            fds,
        } = new;
        let id = id.as_str();
        if self.map().contains_key(id) {
            return Err(format!("container {id:?} already exists in the sandbox"));
        }
        let spec = spec.ok_or("container-create: the container's spec (mounts=) is missing")?;
        let mounter = TREE_MOUNTER
            .get()
            .ok_or("this sandbox cannot mount a container's tree")?;
        let root = container_root(vfs, gofer, readonly)
            .map_err(|e| format!("mounting the root of container {id:?}: {}", e.desc()))?;
        let binds = mounts
            .into_iter()
            .map(|m| crate::vfs::BindMount {
                dest: m.dest,
                gofer: Arc::new(gofer::GoferClient::new(m.gofer)),
                readonly: m.readonly,
            })
            .collect();
        if let Err(msg) = mounter(vfs, &root, &spec, binds) {
            vfs.release_tree(&root);
            return Err(format!("container {id:?}: {msg}"));
        }
        let c = Arc::new(PodContainer {
            id: id.to_string(),
            root,
            state: Mutex::new(PodState {
                phase: Phase::Created,
                pending: Some((request, own, fds)),
                start_error: None,
                deleted: false,
            }),
            cv: Condvar::new(),
        });
        let mut map = self.map();
        if map.contains_key(id) {
            return Err(format!("container {id:?} already exists in the sandbox"));
        }
        map.insert(id.to_string(), c.clone());
        Ok(c)
    }

    /// Forgets container `id` (its processes killed first) and unmounts its root.
    pub fn delete(&self, kernel: &Kernel, c: &Arc<PodContainer>) {
        c.kill_all(kernel, libc::SIGKILL);
        c.wait_exit(Some(DELETE_WAIT));
        c.state().deleted = true;
        self.map().remove(&c.id);
        kernel.vfs.release_tree(&c.root);
    }
}

/// The root of an app container's tree: the overlay over its gofer (the gofer's files with
/// `readonly`), alone.
fn container_root(vfs: &Vfs, gofer: OwnedFd, readonly: bool) -> SysResult<Arc<Dentry>> {
    let minor = || anon_dev(NEXT_MINOR.fetch_add(1, Ordering::Relaxed));
    let client = Arc::new(gofer::GoferClient::new(gofer));
    let lower = crate::fs::gofer::new_root(client)?;
    Ok(if readonly {
        vfs.new_detached_tree(lower, true, "9p")
    } else {
        let root = crate::fs::overlay::new_root(lower, minor(), minor())?;
        vfs.new_detached_tree(root, false, "overlay")
    })
}

impl PodContainer {
    fn state(&self) -> MutexGuard<'_, PodState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn phase(&self) -> Phase {
        self.state().phase.clone()
    }

    pub fn is_deleted(&self) -> bool {
        self.state().deleted
    }

    /// The life of the creating connection after `ok`: waits for `start` (or a kill), starts
    /// the process, waits for it; returns the container's exit status.
    pub fn run(&self, kernel: &Arc<Kernel>) -> i32 {
        let mut st = self.state();
        while st.phase == Phase::Created {
            st = self.cv.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        if let Phase::Exited(code) = st.phase {
            return code;
        }
        let Some((req, own, fds)) = st.pending.take() else {
            st.phase = Phase::Exited(128 + libc::SIGKILL);
            self.cv.notify_all();
            return 128 + libc::SIGKILL;
        };
        drop(st);
        let started = kernel.start_process(ExecProcess {
            argv: req.argv,
            envv: req.envv,
            cwd: req.cwd,
            creds: Credentials::new(req.uid, req.gid, req.groups),
            fds,
            root: Some(self.root.clone()),
            own,
        });
        let pid = match started {
            Ok(pid) => pid,
            Err(e) => {
                let code = match &e {
                    crate::kernel::InitError::Exec(Errno::ENOENT) => 127,
                    crate::kernel::InitError::Exec(_) => 126,
                    _ => 127,
                };
                let mut st = self.state();
                st.start_error = Some(super::exec_error_reply(&e));
                st.phase = Phase::Exited(code);
                self.cv.notify_all();
                return code;
            }
        };
        {
            let mut st = self.state();
            st.phase = Phase::Running(pid);
            self.cv.notify_all();
        }
        let code = kernel
            .wait_process(pid)
            .map(|s| s.shell_code())
            .unwrap_or(128 + libc::SIGKILL);
        let mut st = self.state();
        st.phase = Phase::Exited(code);
        self.cv.notify_all();
        code
    }

    /// `start`: lets the process go and waits until it has started (Ok) or failed to.
    pub fn start(&self) -> Result<(), String> {
        let mut st = self.state();
        if st.phase != Phase::Created {
            return Err("the container was already started".into());
        }
        st.phase = Phase::Starting;
        self.cv.notify_all();
        while st.phase == Phase::Starting {
            st = self.cv.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        match st.start_error.take() {
            Some(msg) => Err(msg),
            None => Ok(()),
        }
    }

    /// Blocks until the container's init has ended (at most `limit`); its status if so.
    pub fn wait_exit(&self, limit: Option<Duration>) -> Option<i32> {
        let deadline = limit.map(|l| Instant::now() + l);
        let mut st = self.state();
        loop {
            if let Phase::Exited(code) = st.phase {
                return Some(code);
            }
            st = match deadline {
                None => self.cv.wait(st).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return None;
                    }
                    self.cv
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    /// The sandbox pids of the container: its init and its descendants (those that were
    /// reparented out of its subtree are no longer its own).
    pub fn pids(&self, kernel: &Kernel) -> Vec<i32> {
        let Phase::Running(init) = self.phase() else {
            return Vec::new();
        };
        let tree = kernel.tree();
        if !tree.procs.contains_key(&init) {
            return Vec::new();
        }
        let mut pids = vec![init];
        let mut i = 0;
        while i < pids.len() {
            if let Some(p) = tree.procs.get(&pids[i]) {
                pids.extend(p.children.iter().copied());
            }
            i += 1;
        }
        pids
    }

    /// `signal N one|all` for this container. Before `start`, a signal whose default action
    /// ends a process ends the container, as it would end a created runc container's init.
    pub fn signal(&self, kernel: &Kernel, sig: i32, all: bool) -> SysResult<()> {
        {
            let mut st = self.state();
            match st.phase {
                Phase::Created => {
                    if !ignored_by_default(sig) && !stops_by_default(sig) {
                        st.phase = Phase::Exited(128 + sig);
                        st.pending = None;
                        self.cv.notify_all();
                    }
                    return Ok(());
                }
                Phase::Exited(_) => return Err(Errno::ESRCH),
                _ => {}
            }
        }
        let pids = self.pids(kernel);
        let pids = if all {
            &pids[..]
        } else {
            &pids[..pids.len().min(1)]
        };
        if pids.is_empty() {
            return Err(Errno::ESRCH);
        }
        for &pid in pids {
            if let Some(tg) = kernel.thread_group(pid) {
                send_to_process(&tg, SigInfo::from_sender(sig, SI_USER, 0, 0));
            }
        }
        Ok(())
    }

    fn kill_all(&self, kernel: &Kernel, sig: i32) {
        // Exited or never started: nothing to kill.
        let _ = self.signal(kernel, sig, true);
    }
}

/// Signals whose default action is to do nothing (signal(7)).
fn ignored_by_default(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGCHLD | libc::SIGCONT | libc::SIGURG | libc::SIGWINCH
    )
}

/// Signals whose default action is to stop the process (signal(7)).
fn stops_by_default(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_detached_tree_mounts_apart_from_the_sandbox_and_is_released() {
        let vfs = Vfs::with_root(
            crate::fs::tmpfs::new_root(anon_dev(0x7f0), 0o755),
            false,
            "tmpfs",
        );
        let tree = vfs.new_detached_tree(
            crate::fs::tmpfs::new_root(anon_dev(0x7f1), 0o755),
            false,
            "tmpfs",
        );
        let records = vfs.mounts();
        vfs.mount_in(
            &tree,
            b"/x/y",
            crate::fs::tmpfs::new_root(anon_dev(0x7f2), 0o1777),
            false,
            "tmpfs",
        )
        .unwrap();
        let r = crate::vfs::Resolver {
            vfs: &vfs,
            task: None,
            root: tree.clone(),
        };
        let y = r.resolve(tree.clone(), b"/x/y", true).unwrap();
        assert_ne!(y.mount.id, tree.mount.id, "the tmpfs is mounted there");
        assert_eq!(y.path(), b"/x/y".to_vec());
        // `..` stops at the tree's root: the sandbox's root is not reachable from it.
        let up = r.resolve(tree.clone(), b"/x/../../..", true).unwrap();
        assert_eq!(up.mount.id, tree.mount.id);
        assert_eq!(vfs.mounts(), records, "not the sandbox's mounts");
        let main = vfs.root_ctx();
        assert_eq!(vfs.lookup_in(&main, b"/x", true).err(), Some(Errno::ENOENT));
        vfs.release_tree(&tree);
        let y = r.resolve(tree.clone(), b"/x/y", true).unwrap();
        assert_eq!(y.mount.id, tree.mount.id, "unmounted: the bare mount point");
    }

    #[test]
    fn default_actions_sort_signals() {
        assert!(ignored_by_default(libc::SIGCHLD));
        assert!(!ignored_by_default(libc::SIGTERM));
        assert!(stops_by_default(libc::SIGTSTP));
        assert!(!stops_by_default(libc::SIGKILL));
    }
}
