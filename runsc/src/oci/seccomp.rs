//! OCI `linux.seccomp` (runtime-spec `config-linux.md#seccomp`, as runc applies it with
//! libseccomp) compiled to a classic-BPF program that the sentry installs on the container's
//! processes as if init had called seccomp(2) before its execve.
//!
//! The program: the architecture must be x86_64 (and the syscall number below the x32 bit),
//! else the thread is killed (libseccomp's bad-arch action); then one block per rule in spec
//! order, the first rule that matches (name and every argument condition) gives the action;
//! nothing matching gives `defaultAction`. As runc does, a rule with several conditions on
//! one argument becomes one rule per condition (any of them matches), and names this kernel
//! does not know are skipped.

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompOperator};
use sentry::kernel::seccomp::{
    self as sc, SockFilter, BPF_ABS, BPF_ALU, BPF_AND, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JMP, BPF_K,
    BPF_LD, BPF_RET, BPF_W,
};

/// `EPERM`: runc's errno for SCMP_ACT_ERRNO and SCMP_ACT_TRACE without `errnoRet`.
const DEFAULT_ERRNO: u32 = libc::EPERM as u32;
/// The x32 ABI bit of a syscall number.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// Offset of `seccomp_data.args[0]`.
const ARGS_OFFSET: u32 = 16;

/// A jump target inside a rule's block.
#[derive(Clone, Copy)]
enum To {
    /// The next instruction.
    Next,
    /// The start of the next condition (or the block's return).
    Pass,
    /// The end of the block: the rule does not match.
    Fail,
}

/// An instruction whose jump targets are not resolved yet.
struct Pending {
    code: u16,
    k: u32,
    jt: To,
    jf: To,
}

fn stmt(code: u16, k: u32) -> Pending {
    Pending {
        code,
        k,
        jt: To::Next,
        jf: To::Next,
    }
}

fn jump(op: u16, k: u32, jt: To, jf: To) -> Pending {
    Pending {
        code: BPF_JMP | op | BPF_K,
        k,
        jt,
        jf,
    }
}

/// `SECCOMP_RET_*` for an OCI action; `errno` is the rule's `errnoRet` (or the default's).
fn action_ret(action: LinuxSeccompAction, errno: Option<u32>) -> Result<u32, String> {
    let data = |e: Option<u32>| e.unwrap_or(DEFAULT_ERRNO).min(sc::RET_DATA);
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            sc::RET_KILL_THREAD
        }
        LinuxSeccompAction::ScmpActKillProcess => sc::RET_KILL_PROCESS,
        LinuxSeccompAction::ScmpActTrap => sc::RET_TRAP,
        LinuxSeccompAction::ScmpActErrno => sc::RET_ERRNO | data(errno),
        LinuxSeccompAction::ScmpActTrace => sc::RET_TRACE | data(errno),
        LinuxSeccompAction::ScmpActLog => sc::RET_LOG,
        LinuxSeccompAction::ScmpActAllow => sc::RET_ALLOW,
        LinuxSeccompAction::ScmpActNotify => {
            return Err("linux.seccomp: SCMP_ACT_NOTIFY is not supported (no listener)".into())
        }
    })
}

/// The instructions of one argument condition: on success they fall through to `Pass`, on
/// failure jump to `Fail`. Comparisons are of the full 64-bit value, high word first.
fn condition(arg: &LinuxSeccompArg) -> Result<Vec<Pending>, String> {
    let index = u32::try_from(arg.index())
        .ok()
        .filter(|&i| i < 6)
        .ok_or_else(|| format!("linux.seccomp: argument index {} is not 0-5", arg.index()))?;
    let lo_off = ARGS_OFFSET + index * 8;
    let hi_off = lo_off + 4;
    let ld = |off| stmt(BPF_LD | BPF_W | BPF_ABS, off);
    let v = arg.value();
    let (vhi, vlo) = ((v >> 32) as u32, v as u32);
    use LinuxSeccompOperator as Op;
    use To::{Fail, Next, Pass};
    Ok(match arg.op() {
        Op::ScmpCmpEq => vec![
            ld(hi_off),
            jump(BPF_JEQ, vhi, Next, Fail),
            ld(lo_off),
            jump(BPF_JEQ, vlo, Pass, Fail),
        ],
        Op::ScmpCmpNe => vec![
            ld(hi_off),
            jump(BPF_JEQ, vhi, Next, Pass),
            ld(lo_off),
            jump(BPF_JEQ, vlo, Fail, Pass),
        ],
        Op::ScmpCmpMaskedEq => {
            let want = arg.value_two().unwrap_or(0);
            vec![
                ld(hi_off),
                stmt(BPF_ALU | BPF_AND | BPF_K, vhi),
                jump(BPF_JEQ, (want >> 32) as u32, Next, Fail),
                ld(lo_off),
                stmt(BPF_ALU | BPF_AND | BPF_K, vlo),
                jump(BPF_JEQ, want as u32, Pass, Fail),
            ]
        }
        // High words decide unless equal; then the low words do.
        Op::ScmpCmpGt | Op::ScmpCmpGe => vec![
            ld(hi_off),
            jump(BPF_JGT, vhi, Pass, Next),
            jump(BPF_JEQ, vhi, Next, Fail),
            ld(lo_off),
            jump(
                if arg.op() == Op::ScmpCmpGt {
                    BPF_JGT
                } else {
                    BPF_JGE
                },
                vlo,
                Pass,
                Fail,
            ),
        ],
        Op::ScmpCmpLt | Op::ScmpCmpLe => vec![
            ld(hi_off),
            jump(BPF_JGT, vhi, Fail, Next),
            jump(BPF_JEQ, vhi, Next, Pass),
            ld(lo_off),
            jump(
                if arg.op() == Op::ScmpCmpLt {
                    BPF_JGE
                } else {
                    BPF_JGT
                },
                vlo,
                Fail,
                Pass,
            ),
        ],
    })
}

/// One rule's block: load the number, compare, run the conditions, return `ret`.
fn rule_block(nr: u32, conds: &[&LinuxSeccompArg], ret: u32) -> Result<Vec<SockFilter>, String> {
    let mut parts: Vec<Vec<Pending>> = vec![vec![
        stmt(BPF_LD | BPF_W | BPF_ABS, 0),
        jump(BPF_JEQ, nr, To::Pass, To::Fail),
    ]];
    for c in conds {
        parts.push(condition(c)?);
    }
    let total: usize = parts.iter().map(Vec::len).sum::<usize>() + 1;
    let mut out = Vec::with_capacity(total);
    let mut start = 0usize;
    for part in &parts {
        let pass = start + part.len();
        for (i, p) in part.iter().enumerate() {
            let pc = start + i;
            let target = |to: To| -> Result<u8, String> {
                let dest = match to {
                    To::Next => pc + 1,
                    To::Pass => pass,
                    To::Fail => total,
                };
                u8::try_from(dest - pc - 1)
                    .map_err(|_| "linux.seccomp: a rule is too long to compile".to_string())
            };
            out.push(SockFilter::jump(p.code, p.k, target(p.jt)?, target(p.jf)?));
        }
        start = pass;
    }
    out.push(SockFilter::stmt(BPF_RET | BPF_K, ret));
    Ok(out)
}

/// Compiles the profile; `nr_of` maps a syscall name to its x86_64 number (None: unknown,
/// skipped). The result passes the sentry's checker.
pub fn compile(
    profile: &LinuxSeccomp,
    nr_of: impl Fn(&str) -> Option<u32>,
) -> Result<Vec<SockFilter>, String> {
    let default = action_ret(profile.default_action(), profile.default_errno_ret())?;
    let mut prog = vec![
        SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 4),
        SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, sc::AUDIT_ARCH_X86_64, 1, 0),
        SockFilter::stmt(BPF_RET | BPF_K, sc::RET_KILL_THREAD),
        SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 0),
        SockFilter::jump(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1),
        SockFilter::stmt(BPF_RET | BPF_K, sc::RET_KILL_THREAD),
    ];
    for rule in profile.syscalls().as_deref().unwrap_or_default() {
        let ret = action_ret(rule.action(), rule.errno_ret())?;
        let args: Vec<&LinuxSeccompArg> =
            rule.args().as_deref().unwrap_or_default().iter().collect();
        let mut per_index = [0usize; 6];
        for a in &args {
            if let Some(n) = per_index.get_mut(a.index()) {
                *n += 1;
            }
        }
        // runc: several conditions on one argument become separate rules.
        let groups: Vec<Vec<&LinuxSeccompArg>> = if per_index.iter().any(|&n| n > 1) {
            args.iter().map(|a| vec![*a]).collect()
        } else {
            vec![args]
        };
        for name in rule.names() {
            let Some(nr) = nr_of(name) else {
                continue;
            };
            for g in &groups {
                prog.extend(rule_block(nr, g, ret)?);
            }
        }
    }
    prog.push(SockFilter::stmt(BPF_RET | BPF_K, default));
    if prog.len() > sc::MAX_INSNS {
        return Err(format!(
            "linux.seccomp: the profile compiles to {} instructions (at most {})",
            prog.len(),
            sc::MAX_INSNS
        ));
    }
    sc::Program::check(&prog)
        .map_err(|e| format!("linux.seccomp: the compiled program is invalid ({e})"))?;
    Ok(prog)
}

/// The program carried by the boot spec (`encode`d), checked; None without one. A program
/// that fails the check (a tampered boot spec: `compile` checked it) is logged and dropped.
pub fn program(words: Option<&[u64]>) -> Option<sc::Program> {
    let words = words?;
    match sc::Program::check(&decode(words)) {
        Ok(p) => Some(p),
        Err(e) => {
            sentry::warn!("boot spec: the seccomp program is invalid ({e}); not installed");
            None
        }
    }
}

/// The x86_64 number of a syscall name, from the sandbox's syscall table.
pub fn syscall_nr(name: &str) -> Option<u32> {
    syscalls::table()
        .entries()
        .find(|e| e.name == name)
        .and_then(|e| u32::try_from(e.nr).ok())
}

/// Instructions as JSON-friendly numbers (code | jt << 16 | jf << 24 | k << 32) and back.
pub fn encode(prog: &[SockFilter]) -> Vec<u64> {
    prog.iter()
        .map(|f| {
            u64::from(f.code) | u64::from(f.jt) << 16 | u64::from(f.jf) << 24 | u64::from(f.k) << 32
        })
        .collect()
}

pub fn decode(words: &[u64]) -> Vec<SockFilter> {
    words
        .iter()
        .map(|&w| SockFilter::jump(w as u16, (w >> 32) as u32, (w >> 16) as u8, (w >> 24) as u8))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry::kernel::seccomp::{Program, SeccompData};

    fn profile(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).unwrap()
    }

    fn nr(name: &str) -> Option<u32> {
        match name {
            "mkdir" => Some(83),
            "getpid" => Some(39),
            "personality" => Some(135),
            _ => None,
        }
    }

    fn run(p: &Program, nr: i32, arg0: u64) -> u32 {
        p.run(&SeccompData {
            nr,
            arch: sc::AUDIT_ARCH_X86_64,
            instruction_pointer: 0,
            args: [arg0, 0, 0, 0, 0, 0],
        })
    }

    #[test]
    fn errno_rule_and_default() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["mkdir","nosuch"],"action":"SCMP_ACT_ERRNO"},
                {"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
        );
        let prog = Program::check(&compile(&p, nr).unwrap()).unwrap();
        assert_eq!(run(&prog, 83, 0), sc::RET_ERRNO | 1);
        assert_eq!(run(&prog, 39, 0), sc::RET_ERRNO | 38);
        assert_eq!(run(&prog, 0, 0), sc::RET_ALLOW);
        assert_eq!(run(&prog, 0x4000_0000, 0), sc::RET_KILL_THREAD);
    }

    #[test]
    fn argument_comparisons_are_64_bit() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"syscalls":[
                {"names":["personality"],"action":"SCMP_ACT_ALLOW",
                 "args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]},
                {"names":["personality"],"action":"SCMP_ACT_ALLOW",
                 "args":[{"index":0,"value":8589934592,"op":"SCMP_CMP_GE"},
                         {"index":0,"value":4,"op":"SCMP_CMP_LT"}]},
                {"names":["mkdir"],"action":"SCMP_ACT_ALLOW",
                 "args":[{"index":0,"value":255,"valueTwo":16,"op":"SCMP_CMP_MASKED_EQ"},
                         {"index":1,"value":0,"op":"SCMP_CMP_NE"}]}]}"#,
        );
        let prog = Program::check(&compile(&p, nr).unwrap()).unwrap();
        let deny = sc::RET_ERRNO | 1;
        assert_eq!(run(&prog, 135, 8), sc::RET_ALLOW);
        assert_eq!(run(&prog, 135, (1 << 32) | 8), deny); // the high word differs
                                                          // Two conditions on one argument: either matches (runc's rule splitting).
        assert_eq!(run(&prog, 135, 1 << 33), sc::RET_ALLOW);
        assert_eq!(run(&prog, 135, 3), sc::RET_ALLOW);
        assert_eq!(run(&prog, 135, 9), deny);
        assert_eq!(run(&prog, 135, (1 << 33) - 1), deny);
        // args[1] is 0 in `run`: NE 0 fails.
        assert_eq!(run(&prog, 83, 0x1f10), deny);
        assert_eq!(run(&prog, 39, 0), deny);
    }

    #[test]
    fn notify_is_refused_and_encoding_round_trips() {
        let p = profile(r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#);
        assert!(compile(&p, nr).is_err());
        let p = profile(r#"{"defaultAction":"SCMP_ACT_KILL_PROCESS"}"#);
        let prog = compile(&p, nr).unwrap();
        assert_eq!(decode(&encode(&prog)), prog);
        assert_eq!(prog.last().unwrap().k, sc::RET_KILL_PROCESS);
    }
}
