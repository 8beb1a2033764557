//! The ptrace platform: application address spaces are stub processes driven with ptrace(2)
//! (after gVisor's `pkg/sentry/platform/ptrace`). A master stub is exec'd once from a memfd by a
//! dedicated "master thread"; every address space is an injected fork of it, seized by the
//! sentry thread that asked for it, which then runs application code there with PTRACE_SYSEMU.
//!
//! Threading rule (ptrace is per thread): the host thread that calls `new_address_space` is the
//! tracer of that address space's stub thread. Mapping changes (`map_anon`, `map_file`, `unmap`,
//! `protect`, `remap`) and `Context::switch` must run on that thread; elsewhere they fail with
//! `EPERM`. `read`, `write` and `release` work from any thread.
//!
//! Processes and threads: `AddressSpace::fork` injects clone(CLONE_PARENT|SIGCHLD) into the
//! caller's stub thread, so every stub process is a child of the master stub (which reaps it
//! and whose death kills it through PR_SET_PDEATHSIG); the child task's host thread seizes it in
//! `Platform::adopt_address_space`. `AddressSpace::new_thread` injects a thread clone; the new
//! stub thread parks in `pause()` until the new task's host thread seizes and interrupts it in
//! `adopt_thread`. Each tracer then drives only its own stub thread. A host thread that drives
//! a stub thread must call `exit_thread` (or `release`) before it ends: PTRACE_O_EXITKILL
//! SIGKILLs its tracee, which takes the whole stub process with it.
//!
//! Interrupts use the host signal `INTERRUPT_SIGNAL` (SIGCHLD); see `context.rs`.
//!
//! Host syscalls used after `PtracePlatform::new` (for the sentry's seccomp allowlist): ptrace,
//! wait4, waitid, process_vm_readv, process_vm_writev, sendmsg, recvmsg, tgkill, kill,
//! pidfd_open, pidfd_send_signal, gettid, close, futex (channels and locks).
//!
//! Lock order: `Shared::fd_passing` before `PtraceAddressSpace::tracers`; `Shared::registry`
//! is never held while taking another lock.

mod address_space;
mod context;
mod inject;
pub(crate) mod stub;
mod sys;

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::thread::JoinHandle;

use crossbeam::channel::{bounded, unbounded, Receiver, Sender};

use self::context::PtraceContext;
use self::inject::{inject_syscall, syscall_result, INITIAL_EFLAGS, USER_CS, USER_DS};
use self::stub::{PAGE_SIZE, STUB_BASE, STUB_END};
use self::sys::{Stop, StoppedTracee};
use crate::platform::{
    AddressSpace, Context, Layout, PendingStub, Platform, PlatformError, Regs, ReservedRange,
};
use crate::Errno;

pub(crate) use self::address_space::{
    OwnSocket, PtraceAddressSpace, FORK_CLONE_FLAGS, THREAD_CLONE_FLAGS,
};
pub(crate) use self::context::StubInterrupter;
pub use self::context::INTERRUPT_SIGNAL;
pub(crate) use self::sys::{
    drain_fds, pidfd_kill_and_reap, pidfd_open, read_memory, send_fds, tgkill,
};

/// One past the highest application address (x86_64 4-level paging `TASK_SIZE`).
pub const MAX_ADDR: u64 = 0x7fff_ffff_f000;
/// Lowest address the master's clean-up unmaps from (below it is `mmap_min_addr` territory).
const MIN_UNMAP_ADDR: u64 = 0x10000;
/// Pages kept below the vDSO for `[vvar]` and `[vvar_vclock]` (4 + 2 on 6.x kernels).
const VVAR_PAGES: u64 = 8;
/// `AT_SYSINFO_EHDR` in the auxiliary vector (`include/uapi/linux/auxvec.h`).
const AT_SYSINFO_EHDR: u64 = 33;

/// State shared by the platform, its address spaces and its contexts.
struct Shared {
    /// The sentry's end of the fd-passing socket.
    sentry_sock: OwnedFd,
    /// The sentry's copy of the stubs' end (fd 3 in every stub), to drain stray datagrams.
    stub_sock: OwnedFd,
    /// Serializes fd passing: every stub receives from the same inherited socket.
    fd_passing: Mutex<()>,
    /// Live address spaces by stub host pid, so a `Context` can find the concrete object.
    registry: Mutex<HashMap<i32, Weak<PtraceAddressSpace>>>,
    /// The CPUs the sentry may use, read when the platform starts (before any pinning).
    allowed_cpus: Vec<usize>,
    /// Round-robin cursor over `allowed_cpus`, for `pair_on_one_cpu`.
    next_cpu: std::sync::atomic::AtomicUsize,
    /// Whether `pair_on_one_cpu` pins (false: the seccomp-trap platform polls across CPUs).
    pin_pairs: bool,
    /// Stubs serve the seccomp-trap platform (`platform::systrap`): new stubs park in
    /// `pause()` instead of stopping themselves, are seized with PTRACE_INTERRUPT, and stub
    /// threads may be detached between injections (see `PtraceAddressSpace::caller_stub`).
    systrap: bool,
}

impl Shared {
    /// Puts the calling tracer thread and its stub thread on the same CPU. Every syscall is a
    /// ping-pong between the two; across CPUs each hand-off costs a cross-CPU wake-up, which on
    /// this kind of VM made a trapped getppid ten times slower (54 µs against 5.6 µs, measured
    /// with `benches` side_by_side). CPUs are handed out round-robin from the allowed set so
    /// several tasks spread out. Best effort: on failure both keep their affinity.
    fn pair_on_one_cpu(&self, stub_tid: i32) {
        if !self.pin_pairs || self.allowed_cpus.is_empty() {
            return;
        }
        let turn = self
            .next_cpu
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cpu = self.allowed_cpus[turn % self.allowed_cpus.len()];
        let _ = pin_pair(stub_tid, cpu);
    }

    fn lookup(&self, host_pid: i32) -> Option<Arc<PtraceAddressSpace>> {
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        registry.get(&host_pid).and_then(Weak::upgrade)
    }

    fn register(&self, space: &Arc<PtraceAddressSpace>) {
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        registry.retain(|_, weak| weak.strong_count() > 0);
        registry.insert(space.host_pid(), Arc::downgrade(space));
    }

    fn unregister_dead(&self, host_pid: i32) {
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        if registry
            .get(&host_pid)
            .is_some_and(|weak| weak.strong_count() == 0)
        {
            registry.remove(&host_pid);
        }
    }
}

/// Puts the calling thread and stub thread `stub_tid` on CPU `cpu` (what
/// `Shared::pair_on_one_cpu` does for a new pair; the seccomp-trap platform pins a pair again
/// when it stops polling). The stub thread is moved only if the caller could be.
pub(crate) fn pin_pair(stub_tid: i32, cpu: usize) -> Result<(), Errno> {
    sys::pin_thread(0, cpu)?;
    sys::pin_thread(stub_tid, cpu)
}

/// Undoes `pin_pair` for the stub side: stub thread `stub_tid` may run on any of `cpus` (the
/// CPUs the sentry was allowed at start, `PtracePlatform::allowed_cpus`) but `home`, where
/// the calling thread stays, so that the seccomp-trap platform's pair polls from two CPUs.
/// Left free to run anywhere, the pair often stays on one CPU (a woken thread goes back to
/// its CPU when no other is idle), where each side's poll only delays the other.
pub(crate) fn unpin_pair(stub_tid: i32, home: usize, cpus: &[usize]) -> Result<(), Errno> {
    let mut set = nix::sched::CpuSet::new();
    for &cpu in cpus.iter().filter(|&&cpu| cpu != home) {
        set.set(cpu)?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(stub_tid), &set)
}

/// The CPU thread `tid` is pinned to, if its affinity mask holds exactly one.
pub(crate) fn pinned_cpu(tid: i32) -> Option<usize> {
    let set = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(tid)).ok()?;
    let mut cpus = (0..nix::sched::CpuSet::count()).filter(|&cpu| set.is_set(cpu).unwrap_or(false));
    let cpu = cpus.next()?;
    cpus.next().is_none().then_some(cpu)
}

/// Requests served by the master thread (the tracer of the master stub).
enum MasterRequest {
    /// Fork the master stub; reply with the child's host pid.
    Fork(Sender<Result<i32, Errno>>),
}

/// The ptrace platform. `Send + Sync`; see the module docs for which thread may do what.
pub struct PtracePlatform {
    layout: Layout,
    shared: Arc<Shared>,
    master_pid: i32,
    requests: Option<Sender<MasterRequest>>,
    master_thread: Option<JoinHandle<()>>,
}

impl PtracePlatform {
    /// Starts the master stub. Called in `runsc boot` BEFORE the sentry's seccomp filter goes
    /// on (it needs fork, execveat and memfd_create).
    pub fn new() -> Result<PtracePlatform, PlatformError> {
        Self::start(false, true)
    }

    /// The stub machinery for the seccomp-trap platform (see `Shared::systrap`); `pin_pairs`
    /// as `pair_on_one_cpu` does for ptrace.
    pub(crate) fn new_for_systrap(pin_pairs: bool) -> Result<PtracePlatform, PlatformError> {
        Self::start(true, pin_pairs)
    }

    fn start(systrap: bool, pin_pairs: bool) -> Result<PtracePlatform, PlatformError> {
        let (sentry_sock, stub_sock) = sys::dgram_socketpair()
            .map_err(|e| PlatformError::StubStart(format!("socketpair: {e}")))?;
        let image = sys::sealed_memfd(c"runsc-stub", &stub::elf_image())
            .map_err(|e| PlatformError::StubStart(format!("stub memfd: {e}")))?;
        let master_sock = stub_sock
            .try_clone()
            .map_err(|e| PlatformError::StubStart(format!("dup stub socket: {e}")))?;
        let (ready_tx, ready_rx) = bounded(1);
        let (requests, request_rx) = unbounded();
        let fork_offset = if systrap {
            stub::FORK_PARK_OFFSET
        } else {
            stub::FORK_OFFSET
        };
        let master_thread = std::thread::Builder::new()
            .name("ptrace-master".into())
            .spawn(move || master_main(image, master_sock, fork_offset, ready_tx, request_rx))
            .map_err(|e| PlatformError::StubStart(format!("spawning master thread: {e}")))?;
        let started = ready_rx
            .recv()
            .map_err(|_| PlatformError::StubStart("master thread ended during start-up".into()))?;
        let MasterStarted {
            pid: master_pid,
            vdso_base,
            vdso_end,
        } = match started {
            Ok(started) => started,
            Err(e) => {
                let _ = master_thread.join();
                return Err(e);
            }
        };
        let layout = Layout {
            reserved: vec![
                ReservedRange {
                    start: vdso_base - VVAR_PAGES * PAGE_SIZE,
                    end: vdso_base,
                    name: "[vvar]",
                    yields: false,
                },
                ReservedRange {
                    start: vdso_base,
                    end: vdso_end,
                    name: "[vdso]",
                    yields: false,
                },
                ReservedRange {
                    start: STUB_BASE,
                    end: STUB_END,
                    name: "[stub]",
                    yields: false,
                },
            ],
            vdso_base: Some(vdso_base),
            max_addr: MAX_ADDR,
        };
        Ok(PtracePlatform {
            layout,
            shared: Arc::new(Shared {
                sentry_sock,
                stub_sock,
                fd_passing: Mutex::new(()),
                registry: Mutex::new(HashMap::new()),
                allowed_cpus: sys::allowed_cpus(),
                next_cpu: std::sync::atomic::AtomicUsize::new(0),
                pin_pairs,
                systrap,
            }),
            master_pid,
            requests: Some(requests),
            master_thread: Some(master_thread),
        })
    }

    /// The CPUs the sentry could use when the platform started (before any pinning).
    pub(crate) fn allowed_cpus(&self) -> &[usize] {
        &self.shared.allowed_cpus
    }

    /// Asks the master thread for a fork of the master stub; returns the child's host pid.
    fn fork_master(&self) -> Result<i32, PlatformError> {
        let died = PlatformError::StubDied {
            pid: self.master_pid,
        };
        let Some(requests) = &self.requests else {
            return Err(died);
        };
        let (reply_tx, reply_rx) = bounded(1);
        requests
            .send(MasterRequest::Fork(reply_tx))
            .map_err(|_| PlatformError::StubDied {
                pid: self.master_pid,
            })?;
        match reply_rx.recv() {
            Ok(Ok(pid)) => Ok(pid),
            Ok(Err(Errno::ESRCH)) | Err(_) => Err(died),
            Ok(Err(source)) => Err(PlatformError::Ptrace {
                op: "inject fork",
                pid: self.master_pid,
                source,
            }),
        }
    }

    /// Makes the calling thread the tracer of `pid`, a freshly forked stub process (child of
    /// the master stub) that is stopping itself in the fork entry's SIGSTOP loop, and wraps it
    /// as an address space. On failure the stub is killed.
    fn seize_new_stub(
        &self,
        pid: i32,
        pidfd: OwnedFd,
    ) -> Result<Arc<PtraceAddressSpace>, PlatformError> {
        let fail = |op: &'static str, source: Errno| {
            // Traced by us: we reap it; otherwise its parent (SIGCHLD ignored) does.
            sys::pidfd_kill_and_reap(pidfd.as_fd());
            PlatformError::Ptrace { op, pid, source }
        };
        let running = match sys::seize(pid) {
            Ok(running) => running,
            Err(source) => return Err(fail("PTRACE_SEIZE", source)),
        };
        // No PTRACE_INTERRUPT: the child must get past its prctl(PR_SET_PDEATHSIG) first. If
        // it already stopped itself, the seize re-traps that group-stop (PTRACE_EVENT_STOP);
        // otherwise its own kill(SIGSTOP) soon gives a signal-delivery stop (suppressed when
        // it is next resumed). Later stray stops are resumed by `inject_syscall`/`switch`.
        // A systrap child parks in pause() instead and is interrupted; the systrap platform
        // then makes its prctl itself in case the interrupt came first.
        if self.shared.systrap {
            if let Err(source) = sys::interrupt(pid) {
                return Err(fail("PTRACE_INTERRUPT", source));
            }
        }
        let stopped = match running.wait() {
            Ok(Stop::Syscall(s) | Stop::Signal(s, _) | Stop::Event(s)) => s,
            Ok(Stop::Exited) => return Err(PlatformError::StubDied { pid }),
            Err(source) => return Err(fail("waitpid", source)),
        };
        self.shared.pair_on_one_cpu(stopped.tid());
        let space = Arc::new(PtraceAddressSpace::new(
            pid,
            pidfd,
            sys::gettid(),
            stopped.tid(),
            self.shared.clone(),
        ));
        self.shared.register(&space);
        Ok(space)
    }
}

/// The platform half of a `PendingStub` from `AddressSpace::fork`: a stopped, untraced stub
/// process. Dropped unadopted, it is killed (its parent, the master stub, reaps it).
pub(super) struct PendingProcess {
    pid: i32,
    /// `None` once adopted.
    pidfd: Option<OwnedFd>,
}

impl PendingProcess {
    pub(super) fn new(pid: i32, pidfd: OwnedFd) -> PendingProcess {
        PendingProcess {
            pid,
            pidfd: Some(pidfd),
        }
    }
}

impl Drop for PendingProcess {
    fn drop(&mut self) {
        if let Some(pidfd) = self.pidfd.take() {
            sys::pidfd_kill_and_reap(pidfd.as_fd());
        }
    }
}

impl Drop for PtracePlatform {
    fn drop(&mut self) {
        // Closing the request channel ends the master thread, which kills the master stub.
        self.requests = None;
        if let Some(thread) = self.master_thread.take() {
            let _ = thread.join();
        }
    }
}

impl Platform for PtracePlatform {
    fn name(&self) -> &'static str {
        "ptrace"
    }

    fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Forks the master stub and makes the calling thread the tracer of the child.
    fn new_address_space(&self) -> Result<Arc<dyn AddressSpace>, PlatformError> {
        Ok(self.new_stub()?)
    }

    /// Seizes the stub process that `AddressSpace::fork` made; see `seize_new_stub`.
    fn adopt_address_space(
        &self,
        stub: PendingStub,
    ) -> Result<Arc<dyn AddressSpace>, PlatformError> {
        Ok(self.adopt_stub(stub)?)
    }

    fn new_context(&self) -> Box<dyn Context> {
        Box::new(PtraceContext::new(self.shared.clone()))
    }

    fn initial_regs(&self) -> Regs {
        Regs {
            cs: USER_CS,
            ss: USER_DS,
            eflags: INITIAL_EFLAGS,
            ..crate::platform::zeroed_regs()
        }
    }
}

impl PtracePlatform {
    /// `Platform::new_address_space` with the concrete type.
    pub(crate) fn new_stub(&self) -> Result<Arc<PtraceAddressSpace>, PlatformError> {
        let pid = self.fork_master()?;
        let pidfd = match sys::pidfd_open(pid) {
            Ok(pidfd) => pidfd,
            Err(source) => {
                // Not traced by us, so its parent (the master stub, SIGCHLD ignored) reaps it.
                let _ = sys::tgkill(pid, pid, libc::SIGKILL);
                return Err(PlatformError::Ptrace {
                    op: "pidfd_open",
                    pid,
                    source,
                });
            }
        };
        self.seize_new_stub(pid, pidfd)
    }

    /// `Platform::adopt_address_space` with the concrete type.
    pub(crate) fn adopt_stub(
        &self,
        stub: PendingStub,
    ) -> Result<Arc<PtraceAddressSpace>, PlatformError> {
        let pid = stub.host_tid;
        let mut pending = stub
            .inner
            .downcast::<PendingProcess>()
            .map_err(|_| PlatformError::Other("not a pending ptrace stub process".into()))?;
        let pidfd = pending
            .pidfd
            .take()
            .ok_or(PlatformError::StubDied { pid })?;
        self.seize_new_stub(pending.pid, pidfd)
    }
}

impl PtracePlatform {
    /// An address space for stub process `pid`, made by the seccomp-trap handler (not by
    /// injection), that runs untraced: the calling thread becomes the driver of its thread,
    /// recorded as detached (seized only if the sentry injects into it later).
    pub(crate) fn adopt_running_stub(&self, pid: i32, pidfd: OwnedFd) -> Arc<PtraceAddressSpace> {
        // Not paired on a CPU here: the caller's creator waits for this (see
        // `PtraceAddressSpace::pair_with_caller`).
        let space = Arc::new(PtraceAddressSpace::new(
            pid,
            pidfd,
            sys::gettid(),
            pid,
            self.shared.clone(),
        ));
        space.mark_detached(pid);
        self.shared.register(&space);
        space
    }
}

/// What the master thread reports once the master stub is ready.
struct MasterStarted {
    pid: i32,
    vdso_base: u64,
    vdso_end: u64,
}

/// The master thread: starts the master stub, then serves fork requests until the platform
/// is dropped, then kills the master stub.
fn master_main(
    image: OwnedFd,
    stub_sock: OwnedFd,
    fork_offset: u64,
    ready: Sender<Result<MasterStarted, PlatformError>>,
    requests: Receiver<MasterRequest>,
) {
    let started = start_master(&image, &stub_sock);
    drop(image);
    drop(stub_sock);
    let pid = match started {
        Ok(started) => {
            let pid = started.pid;
            if ready.send(Ok(started)).is_err() {
                sys::kill_and_reap(pid);
                return;
            }
            pid
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    for request in requests.iter() {
        match request {
            MasterRequest::Fork(reply) => {
                let forked = inject_syscall(
                    StoppedTracee::assume_stopped(pid),
                    STUB_BASE + fork_offset,
                    libc::SYS_fork as u64,
                    [0; 6],
                )
                .and_then(|(_, raw)| syscall_result(raw))
                .map(|child| child as i32);
                let _ = reply.send(forked);
            }
        }
    }
    sys::kill_and_reap(pid);
}

/// Spawns the master stub, waits for its exec stop and empties its address space.
fn start_master(image: &OwnedFd, stub_sock: &OwnedFd) -> Result<MasterStarted, PlatformError> {
    let running = sys::spawn_traced_stub(image.as_fd(), stub_sock.as_fd(), stub::STUB_SOCKET_FD)
        .map_err(|e| PlatformError::StubStart(format!("fork: {e}")))?;
    let pid = running.tid();
    let stopped = match running.wait() {
        Ok(Stop::Signal(stopped, libc::SIGTRAP)) => stopped,
        Ok(Stop::Exited) => {
            return Err(PlatformError::StubStart(
                "stub exited before its exec stop (execveat failed?)".into(),
            ))
        }
        Ok(other) => {
            sys::kill_and_reap(pid);
            return Err(PlatformError::StubStart(format!(
                "unexpected first stop of the stub: {other:?}"
            )));
        }
        Err(e) => {
            sys::kill_and_reap(pid);
            return Err(PlatformError::StubStart(format!("waitpid: {e}")));
        }
    };
    match setup_master(stopped) {
        Ok((vdso_base, vdso_end)) => Ok(MasterStarted {
            pid,
            vdso_base,
            vdso_end,
        }),
        Err(e) => {
            sys::kill_and_reap(pid);
            Err(e)
        }
    }
}

/// Finds the vDSO through the auxv, unmaps everything but the stub, vvar and vDSO pages, and
/// makes the stub ignore SIGCHLD (so forked stubs never linger as zombies).
fn setup_master(stopped: StoppedTracee) -> Result<(u64, u64), PlatformError> {
    let pid = stopped.tid();
    let ptrace_err = |op: &'static str| move |source| PlatformError::Ptrace { op, pid, source };
    stopped
        .set_options()
        .map_err(ptrace_err("PTRACE_SETOPTIONS"))?;
    let regs = stopped.getregs().map_err(ptrace_err("PTRACE_GETREGS"))?;
    let vdso_base = find_vdso(pid, regs.rsp)?;
    let vdso_len = stub::elf_load_extent(|offset, buf| {
        sys::read_memory(pid, vdso_base + offset, buf) == Ok(buf.len())
    })
    .ok_or_else(|| PlatformError::StubStart("vDSO has no readable ELF header".into()))?;
    let vvar_start = vdso_base.saturating_sub(VVAR_PAGES * PAGE_SIZE);
    let vdso_end = vdso_base + vdso_len;
    if vvar_start < MIN_UNMAP_ADDR || vdso_end > MAX_ADDR || !vdso_base.is_multiple_of(PAGE_SIZE) {
        return Err(PlatformError::StubStart(format!(
            "vDSO at {vdso_base:#x} is outside the application range"
        )));
    }
    if vvar_start < STUB_END && vdso_end > STUB_BASE {
        return Err(PlatformError::StubStart(format!(
            "vDSO at {vdso_base:#x} overlaps the stub pages"
        )));
    }
    let mut kept = [(vvar_start, vdso_end), (STUB_BASE, STUB_END)];
    kept.sort_unstable();
    let mut stopped = stopped;
    let mut cursor = MIN_UNMAP_ADDR;
    let mut holes = Vec::new();
    for (start, end) in kept {
        if start > cursor {
            holes.push((cursor, start));
        }
        cursor = cursor.max(end);
    }
    if cursor < MAX_ADDR {
        holes.push((cursor, MAX_ADDR));
    }
    for (start, end) in holes {
        let (back, raw) = inject_syscall(
            stopped,
            STUB_BASE + stub::INJECT_OFFSET,
            libc::SYS_munmap as u64,
            [start, end - start, 0, 0, 0, 0],
        )
        .map_err(ptrace_err("inject munmap"))?;
        syscall_result(raw).map_err(ptrace_err("munmap in stub"))?;
        stopped = back;
    }
    // struct kernel_sigaction { handler = SIG_IGN, flags = 0, restorer = 0, mask = 0 }.
    let mut action = [0u8; 32];
    action[0..8].copy_from_slice(&(libc::SIG_IGN as u64).to_le_bytes());
    sys::write_memory(pid, stub::scratch::SIGACTION, &action)
        .map_err(ptrace_err("process_vm_writev"))?;
    let (_, raw) = inject_syscall(
        stopped,
        STUB_BASE + stub::INJECT_OFFSET,
        libc::SYS_rt_sigaction as u64,
        [libc::SIGCHLD as u64, stub::scratch::SIGACTION, 0, 8, 0, 0],
    )
    .map_err(ptrace_err("inject rt_sigaction"))?;
    syscall_result(raw).map_err(ptrace_err("rt_sigaction in stub"))?;
    Ok((vdso_base, vdso_end))
}

/// Reads `AT_SYSINFO_EHDR` from the initial stack at `rsp` (argc, argv, envp, auxv).
fn find_vdso(pid: i32, rsp: u64) -> Result<u64, PlatformError> {
    let mut buf = [0u8; 4096];
    let n = sys::read_memory(pid, rsp, &mut buf).map_err(|source| PlatformError::Ptrace {
        op: "process_vm_readv",
        pid,
        source,
    })?;
    let words: Vec<u64> = buf[..n - n % 8]
        .chunks_exact(8)
        .map(|w| u64::from_le_bytes(w.try_into().expect("invariant: chunks of 8 bytes")))
        .collect();
    let missing = || PlatformError::StubStart("no AT_SYSINFO_EHDR in the stub's auxv".into());
    let argc = usize::try_from(*words.first().ok_or_else(missing)?).map_err(|_| missing())?;
    // Skip argc, argv[argc] and its NULL, then envp up to its NULL.
    let mut i = argc.checked_add(2).ok_or_else(missing)?;
    while *words.get(i).ok_or_else(missing)? != 0 {
        i += 1;
    }
    i += 1;
    while let (Some(&key), Some(&value)) = (words.get(i), words.get(i + 1)) {
        match key {
            0 => break,
            AT_SYSINFO_EHDR => return Ok(value),
            _ => i += 2,
        }
    }
    Err(missing())
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::platform::{Event, Prot};

    pub(super) use crate::platform::conformance::CODE;

    pub(super) fn platform() -> &'static PtracePlatform {
        static PLATFORM: OnceLock<PtracePlatform> = OnceLock::new();
        PLATFORM.get_or_init(|| PtracePlatform::new().expect("ptrace platform starts"))
    }

    fn dyn_platform() -> &'static dyn Platform {
        platform()
    }

    crate::platform_conformance_tests!(super::dyn_platform);

    pub(super) fn space_with_code(code: &[u8]) -> Arc<dyn AddressSpace> {
        crate::platform::conformance::space_with_code(platform(), code)
    }

    pub(super) fn regs_at(rip: u64) -> Regs {
        crate::platform::conformance::regs_at(platform(), rip)
    }

    #[test]
    fn reserved_ranges_hold_the_vdso_and_the_stub() {
        let layout = platform().layout();
        let vdso = layout.vdso_base.expect("a vDSO");
        let named = |name| {
            layout
                .reserved
                .iter()
                .find(|r| r.name == name)
                .copied()
                .unwrap()
        };
        assert_eq!(named("[vdso]").start, vdso);
        assert_eq!(named("[vvar]").end, vdso);
        assert_eq!(
            (named("[stub]").start, named("[stub]").end),
            (STUB_BASE, STUB_END)
        );
        let space = platform().new_address_space().unwrap();
        let mut magic = [0u8; 4];
        assert_eq!(space.read(vdso, &mut magic), Ok(4));
        assert_eq!(&magic, b"\x7fELF");
        let mut code = [0u8; 3];
        assert_eq!(space.read(STUB_BASE, &mut code), Ok(3));
        assert_eq!(code, [0x0f, 0x05, 0xcc]);
        // Mapping over the stub is refused.
        assert_eq!(
            space.map_anon(STUB_BASE, PAGE_SIZE, Prot::READ, false),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn other_threads_cannot_drive_the_address_space() {
        let space = space_with_code(&[0xeb, 0xfe]);
        let other = space.clone();
        std::thread::spawn(move || {
            assert_eq!(
                other.map_anon(0x70_0000, PAGE_SIZE, Prot::READ, false),
                Err(Errno::EPERM)
            );
            let mut ctx = platform().new_context();
            let mut regs = regs_at(CODE);
            assert!(matches!(
                ctx.switch(&*other, &mut regs),
                Err(PlatformError::Ptrace {
                    source: Errno::EPERM,
                    ..
                })
            ));
            // Reads work from any thread.
            let mut buf = [0u8; 2];
            assert_eq!(other.read(CODE, &mut buf), Ok(2));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn release_from_another_thread_kills_the_stub() {
        let space = platform().new_address_space().unwrap();
        let pid = nix::unistd::Pid::from_raw(space.host_pid());
        std::thread::spawn(move || drop(space)).join().unwrap();
        assert_eq!(nix::sys::signal::kill(pid, None), Err(Errno::ESRCH));
    }

    #[test]
    fn new_address_space_holds_only_the_reserved_ranges() {
        let space = platform().new_address_space().unwrap();
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", space.host_pid())).unwrap();
        let reserved = &platform().layout().reserved;
        for line in maps.lines() {
            let range = line.split_whitespace().next().unwrap();
            let (start, end) = range.split_once('-').unwrap();
            let start = u64::from_str_radix(start, 16).unwrap();
            let end = u64::from_str_radix(end, 16).unwrap();
            if start >= MAX_ADDR {
                continue; // [vsyscall], above TASK_SIZE
            }
            assert!(
                reserved.iter().any(|r| r.start <= start && end <= r.end),
                "unexpected stub mapping: {line}"
            );
        }
        let fds: Vec<_> = std::fs::read_dir(format!("/proc/{}/fd", space.host_pid()))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(fds, ["3"]);
    }

    #[test]
    fn dropping_the_platform_kills_its_stubs() {
        let own = PtracePlatform::new().unwrap();
        let master = nix::unistd::Pid::from_raw(own.master_pid);
        let space = own.new_address_space().unwrap();
        let mut ctx = own.new_context();
        let mut regs = own.initial_regs();
        drop(own);
        assert_eq!(nix::sys::signal::kill(master, None), Err(Errno::ESRCH));
        // The forked stub dies with the master (PR_SET_PDEATHSIG).
        let event = ctx.switch(&*space, &mut regs);
        assert!(matches!(event, Ok(Event::Exited)), "{event:?}");
    }

    #[test]
    fn release_kills_the_stub() {
        let space = platform().new_address_space().unwrap();
        let pid = nix::unistd::Pid::from_raw(space.host_pid());
        space.release();
        assert_eq!(nix::sys::signal::kill(pid, None), Err(Errno::ESRCH));
    }
}
