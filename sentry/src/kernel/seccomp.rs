//! Seccomp for the application (Linux `kernel/seccomp.c`, seccomp(2),
//! `Documentation/userspace-api/seccomp_filter.rst`): strict mode, stacked classic-BPF filters
//! over `struct seccomp_data` checked like the kernel's `bpf_check_classic` +
//! `seccomp_check_filter`, run by an interpreter before every syscall the task makes, and the
//! actions they return (kill, trap with SIGSYS, errno, trace, log, allow, user notification).
//!
//! A task's state is a [`TaskSeccomp`]: a cell of its own (mode and newest filter) that the
//! task loop reads with one atomic load when nothing is installed, and a registry shared by the
//! threads of one process so that `SECCOMP_FILTER_FLAG_TSYNC` can reach its siblings.
//! Filters are immutable and shared (`Arc`), each pointing at the one it was stacked on, so
//! fork, clone and execve keep them by cloning a pointer.
//!
//! Lock order: a process's registry, then a thread's cell.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::abi::signal::SigInfo;
use crate::kernel::task::ExitStatus;
use crate::kernel::{SyscallArgs, Task};
use crate::{Errno, SysResult};

/// `AUDIT_ARCH_X86_64`: `seccomp_data.arch` of every syscall the sentry sees.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_KILL_THREAD: u32 = 0;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;
pub const RET_ACTION_FULL: u32 = 0xffff_0000;
pub const RET_DATA: u32 = 0x0000_ffff;

/// `SECCOMP_FILTER_FLAG_*`.
pub const FLAG_TSYNC: u32 = 1;
pub const FLAG_LOG: u32 = 2;
pub const FLAG_SPEC_ALLOW: u32 = 4;
pub const FLAG_NEW_LISTENER: u32 = 8;
pub const FLAG_TSYNC_ESRCH: u32 = 16;
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 32;

/// `BPF_MAXINSNS`: the longest program.
pub const MAX_INSNS: usize = 4096;
/// `MAX_INSNS_PER_PATH`: the total length of a stack of filters (each counts 4 extra).
const MAX_INSNS_PER_PATH: usize = (1 << 18) / 8;
/// `sizeof(struct seccomp_data)`.
pub const DATA_SIZE: u32 = 64;
/// `BPF_MEMWORDS`: scratch memory words.
const MEMWORDS: u32 = 16;
/// `SYS_SECCOMP`: si_code of a SECCOMP_RET_TRAP SIGSYS.
const SYS_SECCOMP: i32 = 1;
/// `MAX_ERRNO`: the largest errno a filter can return.
const MAX_ERRNO: u32 = 4095;

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
pub const BPF_LD: u16 = 0x00;
pub const BPF_LDX: u16 = 0x01;
pub const BPF_ST: u16 = 0x02;
pub const BPF_STX: u16 = 0x03;
pub const BPF_ALU: u16 = 0x04;
pub const BPF_JMP: u16 = 0x05;
pub const BPF_RET: u16 = 0x06;
pub const BPF_MISC: u16 = 0x07;
pub const BPF_W: u16 = 0x00;
pub const BPF_IMM: u16 = 0x00;
pub const BPF_ABS: u16 = 0x20;
pub const BPF_MEM: u16 = 0x60;
pub const BPF_LEN: u16 = 0x80;
pub const BPF_K: u16 = 0x00;
pub const BPF_X: u16 = 0x08;
pub const BPF_A: u16 = 0x10;
pub const BPF_ADD: u16 = 0x00;
pub const BPF_SUB: u16 = 0x10;
pub const BPF_MUL: u16 = 0x20;
pub const BPF_DIV: u16 = 0x30;
pub const BPF_OR: u16 = 0x40;
pub const BPF_AND: u16 = 0x50;
pub const BPF_LSH: u16 = 0x60;
pub const BPF_RSH: u16 = 0x70;
pub const BPF_NEG: u16 = 0x80;
pub const BPF_XOR: u16 = 0xa0;
pub const BPF_JA: u16 = 0x00;
pub const BPF_JEQ: u16 = 0x10;
pub const BPF_JGT: u16 = 0x20;
pub const BPF_JGE: u16 = 0x30;
pub const BPF_JSET: u16 = 0x40;
pub const BPF_TAX: u16 = 0x00;
pub const BPF_TXA: u16 = 0x80;

/// One `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

impl SockFilter {
    pub const SIZE: usize = 8;

    pub const fn stmt(code: u16, k: u32) -> SockFilter {
        SockFilter {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
        SockFilter { code, jt, jf, k }
    }

    /// Decodes the native layout (`u16 code; u8 jt; u8 jf; u32 k`).
    pub fn from_bytes(b: [u8; 8]) -> SockFilter {
        SockFilter {
            code: u16::from_ne_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    pub fn to_bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..2].copy_from_slice(&self.code.to_ne_bytes());
        b[2] = self.jt;
        b[3] = self.jf;
        b[4..].copy_from_slice(&self.k.to_ne_bytes());
        b
    }
}

/// Decodes a program from its bytes (`len * 8`); a trailing partial instruction is EINVAL.
pub fn program_from_bytes(bytes: &[u8]) -> SysResult<Vec<SockFilter>> {
    if !bytes.len().is_multiple_of(SockFilter::SIZE) {
        return Err(Errno::EINVAL);
    }
    Ok(bytes
        .chunks_exact(SockFilter::SIZE)
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            SockFilter::from_bytes(b)
        })
        .collect())
}

/// `struct seccomp_data`: what a filter sees of a syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeccompData {
    pub nr: i32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

impl SeccompData {
    /// The 32-bit word at byte offset `off` (4-aligned, below 64: checked at load time).
    fn word(&self, off: u32) -> u32 {
        match off {
            0 => self.nr as u32,
            4 => self.arch,
            8 => self.instruction_pointer as u32,
            12 => (self.instruction_pointer >> 32) as u32,
            _ => {
                let i = ((off - 16) / 8) as usize;
                let v = self.args.get(i).copied().unwrap_or(0);
                if (off - 16).is_multiple_of(8) {
                    v as u32
                } else {
                    (v >> 32) as u32
                }
            }
        }
    }
}

/// A program that passed the checker (loads of `seccomp_data` rewritten as the kernel does:
/// `LD|W|LEN` becomes an immediate 64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program(Vec<SockFilter>);

impl Program {
    /// Checks `insns` like Linux's `bpf_check_classic` and `seccomp_check_filter`: 1 to 4096
    /// instructions of the seccomp subset, loads of aligned words inside `seccomp_data`,
    /// scratch memory written before it is read on every path, forward jumps that land inside
    /// the program, no division by a zero constant, and a return as the last instruction.
    pub fn check(insns: &[SockFilter]) -> SysResult<Program> {
        let len = insns.len();
        if len == 0 || len > MAX_INSNS {
            return Err(Errno::EINVAL);
        }
        let mut out = Vec::with_capacity(len);
        for (pc, ins) in insns.iter().enumerate() {
            let mut ins = *ins;
            let class = ins.code & 0x07;
            let remaining = (len - pc - 1) as u64;
            match ins.code {
                c if c == BPF_LD | BPF_W | BPF_ABS => {
                    if ins.k >= DATA_SIZE || !ins.k.is_multiple_of(4) {
                        return Err(Errno::EINVAL);
                    }
                }
                c if c == BPF_LD | BPF_W | BPF_LEN => {
                    ins = SockFilter::stmt(BPF_LD | BPF_IMM, DATA_SIZE)
                }
                c if c == BPF_LDX | BPF_W | BPF_LEN => {
                    ins = SockFilter::stmt(BPF_LDX | BPF_IMM, DATA_SIZE)
                }
                c if c == BPF_LD | BPF_IMM || c == BPF_LDX | BPF_IMM => {}
                c if c == BPF_LD | BPF_MEM
                    || c == BPF_LDX | BPF_MEM
                    || c == BPF_ST
                    || c == BPF_STX =>
                {
                    if ins.k >= MEMWORDS {
                        return Err(Errno::EINVAL);
                    }
                }
                c if c == BPF_RET | BPF_K || c == BPF_RET | BPF_A => {}
                c if c == BPF_MISC | BPF_TAX || c == BPF_MISC | BPF_TXA => {}
                c if class == BPF_ALU => {
                    let op = c & 0xf0;
                    let src = c & 0x08;
                    let known = matches!(
                        op,
                        BPF_ADD
                            | BPF_SUB
                            | BPF_MUL
                            | BPF_DIV
                            | BPF_AND
                            | BPF_OR
                            | BPF_XOR
                            | BPF_LSH
                            | BPF_RSH
                    ) || (op == BPF_NEG && src == BPF_K);
                    if !known || c & !0xf8 != BPF_ALU {
                        return Err(Errno::EINVAL);
                    }
                    if src == BPF_K {
                        if op == BPF_DIV && ins.k == 0 {
                            return Err(Errno::EINVAL);
                        }
                        if (op == BPF_LSH || op == BPF_RSH) && ins.k >= 32 {
                            return Err(Errno::EINVAL);
                        }
                    }
                }
                c if c == BPF_JMP | BPF_JA => {
                    if u64::from(ins.k) >= remaining {
                        return Err(Errno::EINVAL);
                    }
                }
                c if class == BPF_JMP => {
                    let op = c & 0xf0;
                    if !matches!(op, BPF_JEQ | BPF_JGT | BPF_JGE | BPF_JSET) || c & !0xf8 != BPF_JMP
                    {
                        return Err(Errno::EINVAL);
                    }
                    if u64::from(ins.jt) >= remaining || u64::from(ins.jf) >= remaining {
                        return Err(Errno::EINVAL);
                    }
                }
                _ => return Err(Errno::EINVAL),
            }
            out.push(ins);
        }
        let last = out[len - 1].code;
        if last != BPF_RET | BPF_K && last != BPF_RET | BPF_A {
            return Err(Errno::EINVAL);
        }
        check_memory(&out)?;
        Ok(Program(out))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn insns(&self) -> &[SockFilter] {
        &self.0
    }

    /// Runs the program on `d` and returns its verdict (`SECCOMP_RET_*` with data).
    pub fn run(&self, d: &SeccompData) -> u32 {
        let (mut a, mut x) = (0u32, 0u32);
        let mut mem = [0u32; MEMWORDS as usize];
        let mut pc = 0usize;
        // The checker guarantees forward jumps inside the program and a final return, so
        // this loop ends; the bound is a second guard.
        while let Some(ins) = self.0.get(pc) {
            let k = ins.k;
            let class = ins.code & 0x07;
            pc += 1;
            match class {
                BPF_LD => match ins.code {
                    c if c == BPF_LD | BPF_W | BPF_ABS => a = d.word(k),
                    c if c == BPF_LD | BPF_MEM => a = mem[(k % MEMWORDS) as usize],
                    _ => a = k,
                },
                BPF_LDX => match ins.code {
                    c if c == BPF_LDX | BPF_MEM => x = mem[(k % MEMWORDS) as usize],
                    _ => x = k,
                },
                BPF_ST => mem[(k % MEMWORDS) as usize] = a,
                BPF_STX => mem[(k % MEMWORDS) as usize] = x,
                BPF_ALU => {
                    let v = if ins.code & BPF_X != 0 { x } else { k };
                    a = match ins.code & 0xf0 {
                        BPF_ADD => a.wrapping_add(v),
                        BPF_SUB => a.wrapping_sub(v),
                        BPF_MUL => a.wrapping_mul(v),
                        BPF_DIV => a.checked_div(v).unwrap_or(0),
                        BPF_AND => a & v,
                        BPF_OR => a | v,
                        BPF_XOR => a ^ v,
                        BPF_LSH => a.checked_shl(v).unwrap_or(0),
                        BPF_RSH => a.checked_shr(v).unwrap_or(0),
                        _ => a.wrapping_neg(),
                    };
                    if ins.code & 0xf0 == BPF_DIV && ins.code & BPF_X != 0 && x == 0 {
                        // Linux: a division by X == 0 ends the program with 0 (kill).
                        return 0;
                    }
                }
                BPF_JMP => {
                    if ins.code & 0xf0 == BPF_JA {
                        pc += k as usize;
                        continue;
                    }
                    let v = if ins.code & BPF_X != 0 { x } else { k };
                    let taken = match ins.code & 0xf0 {
                        BPF_JEQ => a == v,
                        BPF_JGT => a > v,
                        BPF_JGE => a >= v,
                        _ => a & v != 0,
                    };
                    pc += usize::from(if taken { ins.jt } else { ins.jf });
                }
                BPF_RET => return if ins.code & BPF_A != 0 { a } else { k },
                _ => {
                    if ins.code & 0xf8 == BPF_TXA {
                        a = x;
                    } else {
                        x = a;
                    }
                }
            }
        }
        RET_KILL_PROCESS
    }
}

/// Linux `check_load_and_stores`: every scratch word read is written first on every path.
fn check_memory(insns: &[SockFilter]) -> SysResult<()> {
    // valid[pc]: words certainly written on every path reaching pc (None: not reached yet).
    let mut valid: Vec<Option<u16>> = vec![None; insns.len()];
    valid[0] = Some(0);
    for (pc, ins) in insns.iter().enumerate() {
        let Some(mut m) = valid[pc] else {
            continue; // unreachable code, as Linux allows
        };
        let class = ins.code & 0x07;
        if ins.code == BPF_LD | BPF_MEM || ins.code == BPF_LDX | BPF_MEM {
            if m & (1 << ins.k) == 0 {
                return Err(Errno::EINVAL);
            }
        } else if class == BPF_ST || class == BPF_STX {
            m |= 1 << ins.k;
        }
        let mut flow = |to: usize| {
            if let Some(slot) = valid.get_mut(to) {
                *slot = Some(slot.map_or(m, |s| s & m));
            }
        };
        match class {
            BPF_RET => {}
            BPF_JMP if ins.code & 0xf0 == BPF_JA => flow(pc + 1 + ins.k as usize),
            BPF_JMP => {
                flow(pc + 1 + usize::from(ins.jt));
                flow(pc + 1 + usize::from(ins.jf));
            }
            _ => flow(pc + 1),
        }
    }
    Ok(())
}

/// One installed filter and the one it was stacked on.
#[derive(Debug)]
pub struct Filter {
    prog: Program,
    log: bool,
    prev: Option<Arc<Filter>>,
    /// Filters in the chain up to and including this one.
    depth: usize,
    /// Instructions of the chain, each filter counted with 4 more (Linux's path length).
    path_len: usize,
}

impl Filter {
    /// Runs every filter of the chain, newest first, and returns the most restrictive verdict
    /// (lowest action as a signed number; the newest wins a tie), with whether it asked to log.
    fn run_chain(self: &Arc<Filter>, d: &SeccompData) -> (u32, bool) {
        let mut best = RET_ALLOW;
        let mut log = false;
        let mut cur = Some(self);
        while let Some(f) = cur {
            let ret = f.prog.run(d);
            if ((ret & RET_ACTION_FULL) as i32) < ((best & RET_ACTION_FULL) as i32) {
                best = ret;
                log = f.log;
            }
            cur = f.prev.as_ref();
        }
        (best, log)
    }

    /// Whether `other` is this filter or one it was stacked on.
    fn has_ancestor(self: &Arc<Filter>, other: &Arc<Filter>) -> bool {
        let mut cur = Some(self);
        while let Some(f) = cur {
            if Arc::ptr_eq(f, other) {
                return true;
            }
            cur = f.prev.as_ref();
        }
        false
    }
}

/// What a verdict asks for (`SECCOMP_RET_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    KillProcess,
    KillThread,
    Trap(u16),
    Errno(u16),
    UserNotif,
    Trace(u16),
    Log,
    Allow,
}

impl Action {
    /// Decodes a verdict; an unknown action kills the process, as in Linux.
    pub fn from_ret(ret: u32) -> Action {
        let data = (ret & RET_DATA) as u16;
        match ret & RET_ACTION_FULL {
            RET_KILL_THREAD => Action::KillThread,
            RET_TRAP => Action::Trap(data),
            RET_ERRNO => Action::Errno(data),
            RET_USER_NOTIF => Action::UserNotif,
            RET_TRACE => Action::Trace(data),
            RET_LOG => Action::Log,
            RET_ALLOW => Action::Allow,
            _ => Action::KillProcess,
        }
    }

    /// SECCOMP_GET_ACTION_AVAIL: whether the action is known.
    pub fn is_available(ret: u32) -> bool {
        matches!(
            ret,
            RET_KILL_PROCESS
                | RET_KILL_THREAD
                | RET_TRAP
                | RET_ERRNO
                | RET_USER_NOTIF
                | RET_TRACE
                | RET_LOG
                | RET_ALLOW
        )
    }
}

/// `SECCOMP_MODE_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Disabled = 0,
    Strict = 1,
    Filter = 2,
}

#[derive(Debug, Default, Clone)]
struct CellState {
    mode: Mode,
    filter: Option<Arc<Filter>>,
}

/// One thread's seccomp state.
#[derive(Debug)]
struct Cell {
    tid: i32,
    /// Mode is not Disabled: the syscall path's only cost when nothing is installed.
    active: AtomicBool,
    /// Bumped (under the `state` lock, Release) by every change of `state`: the thread keeps
    /// a copy of the state it last saw (`TaskSeccomp::seen`) and re-reads only when this moved.
    generation: AtomicU64,
    state: Mutex<CellState>,
}

impl Cell {
    fn new(tid: i32, state: CellState) -> Arc<Cell> {
        Arc::new(Cell {
            tid,
            active: AtomicBool::new(state.mode != Mode::Disabled),
            generation: AtomicU64::new(0),
            state: Mutex::new(state),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CellState> {
        self.state
            .lock()
            .expect("invariant: seccomp cell lock is never poisoned")
    }

    fn set(&self, st: CellState) {
        let active = st.mode != Mode::Disabled;
        let mut cur = self.lock();
        *cur = st;
        self.changed(&cur);
        drop(cur);
        self.active.store(active, Ordering::Release);
    }

    /// Marks a change of the state; called with the lock held (its guard is the proof).
    fn changed(&self, _held: &std::sync::MutexGuard<'_, CellState>) {
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// The threads of one process (for TSYNC).
#[derive(Debug, Default)]
struct Group {
    members: Mutex<Vec<Weak<Cell>>>,
}

impl Group {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Weak<Cell>>> {
        self.members
            .lock()
            .expect("invariant: seccomp group lock is never poisoned")
    }
}

/// A task's seccomp state (`task->seccomp`).
#[derive(Debug)]
pub struct TaskSeccomp {
    cell: Arc<Cell>,
    group: Arc<Group>,
    /// The cell's state as of the generation given, for the syscall path: a filter check
    /// takes no lock and clones nothing while the state is unchanged. A change by another
    /// thread (TSYNC) is seen from the next syscall after its generation bump, as Linux's
    /// `__seccomp_filter` sees a new `task->seccomp.filter` from its next read.
    seen: (u64, CellState),
}

impl TaskSeccomp {
    /// No filter, for a new process's first thread `tid`.
    pub fn new(tid: i32) -> TaskSeccomp {
        Self::with_state(tid, CellState::default(), Arc::default())
    }

    fn with_state(tid: i32, st: CellState, group: Arc<Group>) -> TaskSeccomp {
        let seen = (0, st.clone());
        let cell = Cell::new(tid, st);
        let mut members = group.lock();
        members.retain(|w| w.strong_count() > 0);
        members.push(Arc::downgrade(&cell));
        drop(members);
        TaskSeccomp { cell, group, seen }
    }

    /// The first thread `tid` of a process the kernel starts, with the container's filter
    /// (OCI `linux.seccomp`) installed when there is one.
    pub fn with_program(tid: i32, prog: Option<Program>) -> TaskSeccomp {
        let st = match prog {
            None => CellState::default(),
            Some(prog) => CellState {
                mode: Mode::Filter,
                filter: Some(Arc::new(Filter {
                    path_len: prog.len() + 4,
                    prog,
                    log: false,
                    prev: None,
                    depth: 1,
                })),
            },
        };
        Self::with_state(tid, st, Arc::default())
    }

    /// The state of a child made by clone: the same mode and filters; a thread of the same
    /// process when `thread` (CLONE_THREAD), else the first thread of a new one.
    pub fn for_child(&self, tid: i32, thread: bool) -> TaskSeccomp {
        let st = self.cell.lock().clone();
        let group = if thread {
            self.group.clone()
        } else {
            Arc::default()
        };
        Self::with_state(tid, st, group)
    }

    /// Whether any mode is on (one atomic load: the syscall path's test).
    #[inline]
    pub fn active(&self) -> bool {
        self.cell.active.load(Ordering::Acquire)
    }

    pub fn mode(&self) -> Mode {
        self.cell.lock().mode
    }

    /// Filters installed (`Seccomp_filters:` in /proc/PID/status).
    pub fn filter_count(&self) -> usize {
        self.cell.lock().filter.as_ref().map_or(0, |f| f.depth)
    }

    /// SECCOMP_SET_MODE_STRICT: EINVAL once filters are installed.
    pub fn set_strict(&self) -> SysResult<()> {
        let mut st = self.cell.lock();
        if st.mode == Mode::Filter {
            return Err(Errno::EINVAL);
        }
        st.mode = Mode::Strict;
        self.cell.changed(&st);
        drop(st);
        self.cell.active.store(true, Ordering::Release);
        Ok(())
    }

    /// SECCOMP_SET_MODE_FILTER with a checked program: stacks it on this thread's filters
    /// (on every thread of the process with TSYNC, which needs each sibling's filters to be
    /// an ancestor of the caller's; otherwise it returns the first sibling's tid, or ESRCH
    /// with TSYNC_ESRCH). The caller checked privileges and the flags.
    pub fn add_filter(&self, prog: Program, flags: u32) -> SysResult<u64> {
        let members = (flags & FLAG_TSYNC != 0).then(|| self.group.lock());
        let mut st = self.cell.lock();
        if st.mode == Mode::Strict {
            return Err(Errno::EINVAL);
        }
        let prev = st.filter.clone();
        let path_len = prev.as_ref().map_or(0, |p| p.path_len) + prog.len() + 4;
        if path_len > MAX_INSNS_PER_PATH {
            return Err(Errno::ENOMEM);
        }
        let new = Arc::new(Filter {
            prog,
            log: flags & FLAG_LOG != 0,
            depth: prev.as_ref().map_or(0, |p| p.depth) + 1,
            path_len,
            prev,
        });
        if let Some(members) = &members {
            let siblings: Vec<Arc<Cell>> = members
                .iter()
                .filter_map(Weak::upgrade)
                .filter(|c| !Arc::ptr_eq(c, &self.cell))
                .collect();
            for s in &siblings {
                let sst = s.lock();
                let ok = sst.mode != Mode::Strict
                    && sst.filter.as_ref().is_none_or(|f| new.has_ancestor(f));
                if !ok {
                    if flags & FLAG_TSYNC_ESRCH != 0 {
                        return Err(Errno::ESRCH);
                    }
                    return Ok(s.tid as u64);
                }
            }
            for s in &siblings {
                s.set(CellState {
                    mode: Mode::Filter,
                    filter: Some(new.clone()),
                });
            }
        }
        st.mode = Mode::Filter;
        st.filter = Some(new);
        self.cell.changed(&st);
        drop(st);
        self.cell.active.store(true, Ordering::Release);
        Ok(0)
    }

    /// The verdict for `d`: strict mode allows read, write, exit and rt_sigreturn only
    /// (anything else: `None`, the thread dies of SIGKILL).
    fn verdict(&mut self, d: &SeccompData) -> Option<(u32, bool)> {
        // Acquire pairs with `Cell::changed`'s Release: a generation seen here comes with the
        // state written before it (re-read under the lock anyway when it moved).
        if self.cell.generation.load(Ordering::Acquire) != self.seen.0 {
            let cur = self.cell.lock();
            self.seen = (self.cell.generation.load(Ordering::Relaxed), cur.clone());
        }
        let st = &self.seen.1;
        match st.mode {
            Mode::Disabled => Some((RET_ALLOW, false)),
            Mode::Strict => {
                let allowed = [
                    libc::SYS_read,
                    libc::SYS_write,
                    libc::SYS_exit,
                    libc::SYS_rt_sigreturn,
                ];
                allowed
                    .contains(&i64::from(d.nr))
                    .then_some((RET_ALLOW, false))
            }
            Mode::Filter => Some(
                st.filter
                    .as_ref()
                    .map_or((RET_ALLOW, false), |f| f.run_chain(d)),
            ),
        }
    }
}

/// The task loop's hook, run before a syscall is dispatched when [`TaskSeccomp::active`]:
/// applies the verdict. Returns true when the syscall must not run (its result, if any, is
/// already in the registers, or the task is dying).
pub fn enforce(t: &mut Task, a: &SyscallArgs) -> bool {
    let d = SeccompData {
        nr: a.nr as i32,
        arch: AUDIT_ARCH_X86_64,
        instruction_pointer: t.regs.rip,
        args: a.raw,
    };
    let Some((ret, log)) = t.seccomp.verdict(&d) else {
        crate::debug!(
            "task {}: seccomp strict mode killed syscall {}",
            t.tid,
            d.nr
        );
        kill_thread(t, libc::SIGKILL);
        return true;
    };
    let action = Action::from_ret(ret);
    if log || action == Action::Log {
        crate::debug!(
            "seccomp: task {} syscall {} action {:?}",
            t.tid,
            d.nr,
            action
        );
    }
    match action {
        Action::Allow | Action::Log => false,
        Action::Errno(n) => {
            let n = u32::from(n).min(MAX_ERRNO);
            t.regs.rax = (-i64::from(n)) as u64;
            true
        }
        Action::Trace(_) | Action::UserNotif => {
            // No tracer and no listener can exist: the syscall fails as Linux's does then.
            t.regs.rax = (-(Errno::ENOSYS as i64)) as u64;
            true
        }
        Action::Trap(data) => {
            // Linux `syscall_rollback`: the handler sees rax as the syscall number.
            t.regs.rax = t.regs.orig_rax;
            force_sigsys(t, &d, data);
            true
        }
        Action::KillThread => {
            kill_thread(t, libc::SIGSYS);
            true
        }
        Action::KillProcess => {
            t.exit_status = Some(ExitStatus::Signaled(libc::SIGSYS));
            true
        }
    }
}

/// `do_exit(sig)` for this thread: the process dies of `sig` when it is its last thread.
fn kill_thread(t: &mut Task, sig: i32) {
    if t.tg.signals.thread_ids().len() <= 1 {
        t.exit_status = Some(ExitStatus::Signaled(sig));
    } else {
        t.thread_exit = Some(0);
    }
}

/// Linux `force_sig_seccomp`: a SIGSYS for this thread with the syscall's facts, unblocked
/// and, if ignored, reset to its default action.
fn force_sigsys(t: &mut Task, d: &SeccompData, data: u16) {
    let mut info = SigInfo::new(libc::SIGSYS, SYS_SECCOMP);
    info.bytes[4..8].copy_from_slice(&i32::from(data).to_ne_bytes());
    info.bytes[16..24].copy_from_slice(&d.instruction_pointer.to_ne_bytes());
    info.bytes[24..28].copy_from_slice(&d.nr.to_ne_bytes());
    info.bytes[28..32].copy_from_slice(&d.arch.to_ne_bytes());
    let idx = libc::SIGSYS as usize - 1;
    let blocked = t.signal_mask & crate::kernel::signal::bit(libc::SIGSYS) != 0;
    t.tg.with_state(|s| {
        if blocked || s.actions[idx].handler == crate::kernel::signal::SIG_IGN {
            s.actions[idx].handler = crate::kernel::signal::SIG_DFL;
        }
    });
    t.signal_mask &= !crate::kernel::signal::bit(libc::SIGSYS);
    crate::kernel::signal::raise_self(t, info);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(nr: i32, arg0: u64) -> SeccompData {
        SeccompData {
            nr,
            arch: AUDIT_ARCH_X86_64,
            instruction_pointer: 0x1234_5678_9abc,
            args: [arg0, 0, 0, 0, 0, 0],
        }
    }

    /// ERRNO(1) for syscall `nr`, ALLOW otherwise.
    fn errno_on(nr: u32) -> Vec<SockFilter> {
        vec![
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 0),
            SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
            SockFilter::stmt(BPF_RET | BPF_K, RET_ERRNO | 1),
            SockFilter::stmt(BPF_RET | BPF_K, RET_ALLOW),
        ]
    }

    #[test]
    fn runs_a_syscall_match() {
        let p = Program::check(&errno_on(39)).unwrap();
        assert_eq!(p.run(&data(39, 0)), RET_ERRNO | 1);
        assert_eq!(p.run(&data(40, 0)), RET_ALLOW);
    }

    #[test]
    fn loads_arguments_halves_ip_and_len() {
        let prog = [
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 20), // args[0] high
            SockFilter::stmt(BPF_MISC | BPF_TAX, 0),
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 16), // args[0] low
            SockFilter::stmt(BPF_ALU | BPF_ADD | BPF_X, 0),
            SockFilter::stmt(BPF_ST, 3),
            SockFilter::stmt(BPF_LD | BPF_W | BPF_LEN, 0),
            SockFilter::stmt(BPF_LDX | BPF_MEM, 3),
            SockFilter::stmt(BPF_ALU | BPF_ADD | BPF_X, 0),
            SockFilter::stmt(BPF_RET | BPF_A, 0),
        ];
        let p = Program::check(&prog).unwrap();
        assert_eq!(p.run(&data(0, (5 << 32) | 7)), 5 + 7 + 64);
        let ip = [
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 12),
            SockFilter::stmt(BPF_RET | BPF_A, 0),
        ];
        assert_eq!(Program::check(&ip).unwrap().run(&data(0, 0)), 0x1234);
    }

    #[test]
    fn checker_rejects_what_linux_rejects() {
        let ret = SockFilter::stmt(BPF_RET | BPF_K, RET_ALLOW);
        assert_eq!(Program::check(&[]), Err(Errno::EINVAL));
        assert_eq!(
            Program::check(&vec![ret; MAX_INSNS + 1]),
            Err(Errno::EINVAL)
        );
        assert!(Program::check(&vec![ret; MAX_INSNS]).is_ok());
        // Unaligned, out-of-range and byte loads.
        for bad in [
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 2),
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 64),
            SockFilter::stmt(0x30, 0), // LD|B|ABS
            SockFilter::stmt(0x40, 0), // LD|W|IND
            SockFilter::stmt(BPF_ALU | BPF_DIV | BPF_K, 0),
            SockFilter::stmt(BPF_ALU | BPF_LSH | BPF_K, 32),
            SockFilter::stmt(BPF_ALU | 0x90, 1), // MOD is not in seccomp's set
            SockFilter::stmt(BPF_LD | BPF_MEM, 16),
        ] {
            assert_eq!(Program::check(&[bad, ret]), Err(Errno::EINVAL), "{bad:?}");
        }
        // Jumps past the end, and no return at the end.
        let jeq = SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
        assert_eq!(Program::check(&[jeq, ret]), Err(Errno::EINVAL));
        let ja = SockFilter::stmt(BPF_JMP | BPF_JA, 1);
        assert_eq!(Program::check(&[ja, ret]), Err(Errno::EINVAL));
        let ld = SockFilter::stmt(BPF_LD | BPF_IMM, 0);
        assert_eq!(Program::check(&[ret, ld]), Err(Errno::EINVAL));
        // Scratch memory read before it is written on one path.
        let prog = [
            SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
            SockFilter::stmt(BPF_ST, 0),
            SockFilter::stmt(BPF_LD | BPF_MEM, 0),
            ret,
        ];
        assert_eq!(Program::check(&prog), Err(Errno::EINVAL));
    }

    #[test]
    fn stacked_filters_most_restrictive_wins() {
        let allow = Program::check(&[SockFilter::stmt(BPF_RET | BPF_K, RET_ALLOW)]).unwrap();
        let mut s = TaskSeccomp::new(1);
        assert!(!s.active());
        s.add_filter(Program::check(&errno_on(39)).unwrap(), 0)
            .unwrap();
        // The copy the syscall path keeps follows each new filter.
        assert_eq!(s.verdict(&data(39, 0)), Some((RET_ERRNO | 1, false)));
        s.add_filter(allow, 0).unwrap();
        assert_eq!(s.verdict(&data(39, 0)), Some((RET_ERRNO | 1, false)));
        assert_eq!(s.verdict(&data(1, 0)), Some((RET_ALLOW, false)));
        let trap = [
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 0),
            SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, 39, 0, 1),
            SockFilter::stmt(BPF_RET | BPF_K, RET_TRAP | 7),
            SockFilter::stmt(BPF_RET | BPF_K, RET_LOG),
        ];
        s.add_filter(Program::check(&trap).unwrap(), 0).unwrap();
        assert!(s.active());
        assert_eq!(s.mode(), Mode::Filter);
        assert_eq!(s.filter_count(), 3);
        assert_eq!(s.verdict(&data(39, 0)), Some((RET_TRAP | 7, false)));
        assert_eq!(s.verdict(&data(1, 0)), Some((RET_LOG, false)));
        assert_eq!(s.set_strict(), Err(Errno::EINVAL));
    }

    #[test]
    fn an_unchanged_filter_is_checked_without_the_lock() {
        let mut s = TaskSeccomp::new(1);
        s.add_filter(Program::check(&errno_on(39)).unwrap(), 0)
            .unwrap();
        assert_eq!(s.verdict(&data(39, 0)), Some((RET_ERRNO | 1, false)));
        let cell = s.cell.clone();
        let held = cell.lock();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            tx.send(s.verdict(&data(39, 0))).unwrap();
        });
        // Were the cell locked by the check, it would wait for `held` and never answer.
        let v = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(v, Some((RET_ERRNO | 1, false)));
        drop(held);
        t.join().unwrap();
    }

    #[test]
    fn children_inherit_and_tsync_reaches_siblings() {
        let parent = TaskSeccomp::new(1);
        let mut sibling = parent.for_child(2, true);
        let mut forked = parent.for_child(3, false);
        assert_eq!(sibling.verdict(&data(39, 0)), Some((RET_ALLOW, false)));
        parent
            .add_filter(Program::check(&errno_on(39)).unwrap(), FLAG_TSYNC)
            .unwrap();
        assert_eq!(sibling.filter_count(), 1);
        assert_eq!(forked.filter_count(), 0);
        // The sibling's next syscall sees the filter TSYNC gave it.
        assert_eq!(sibling.verdict(&data(39, 0)), Some((RET_ERRNO | 1, false)));
        assert_eq!(forked.verdict(&data(39, 0)), Some((RET_ALLOW, false)));
        let mut child = parent.for_child(4, false);
        assert_eq!(child.verdict(&data(39, 0)), Some((RET_ERRNO | 1, false)));
        // A sibling with a filter of its own blocks TSYNC.
        sibling
            .add_filter(Program::check(&errno_on(40)).unwrap(), 0)
            .unwrap();
        assert_eq!(
            parent.add_filter(Program::check(&errno_on(41)).unwrap(), FLAG_TSYNC),
            Ok(2)
        );
        assert_eq!(
            parent.add_filter(
                Program::check(&errno_on(41)).unwrap(),
                FLAG_TSYNC | FLAG_TSYNC_ESRCH
            ),
            Err(Errno::ESRCH)
        );
    }

    #[test]
    fn strict_mode_allows_four_syscalls() {
        let mut s = TaskSeccomp::new(1);
        assert_eq!(
            s.verdict(&data(libc::SYS_getpid as i32, 0)),
            Some((RET_ALLOW, false))
        );
        s.set_strict().unwrap();
        assert_eq!(s.mode(), Mode::Strict);
        assert!(s.verdict(&data(libc::SYS_write as i32, 0)).is_some());
        assert!(s.verdict(&data(libc::SYS_getpid as i32, 0)).is_none());
        assert_eq!(
            s.add_filter(Program::check(&errno_on(39)).unwrap(), 0),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn actions_decode_with_unknown_as_kill_process() {
        assert_eq!(Action::from_ret(RET_ERRNO | 13), Action::Errno(13));
        assert_eq!(Action::from_ret(RET_KILL_THREAD), Action::KillThread);
        assert_eq!(Action::from_ret(0x0001_0000), Action::KillProcess);
        assert!(Action::is_available(RET_LOG));
        assert!(!Action::is_available(0x0001_0000));
    }

    #[test]
    fn bytes_round_trip() {
        let f = SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, 0xdead, 3, 4);
        assert_eq!(program_from_bytes(&f.to_bytes()).unwrap(), vec![f]);
        assert_eq!(program_from_bytes(&[0; 7]), Err(Errno::EINVAL));
    }
}
