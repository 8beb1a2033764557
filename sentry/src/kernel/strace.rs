//! `--strace`: one line per application syscall with decoded arguments, result and time, in the
//! form `[  1:  1] openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3 (12.1µs)`. Decoding
//! is driven by the argument kinds of the syscall's table row; nothing here knows a syscall.

use std::fmt::Write as _;
use std::time::Duration;

use crate::kernel::syscall::{ArgKind, SyscallArgs, SyscallEntry};
use crate::kernel::Task;
use crate::{Errno, SysResult};

/// Bytes of a buffer or string shown before "...".
const SHOW_BYTES: usize = 64;

/// Which syscalls to trace.
#[derive(Debug, Clone, Default)]
pub struct StraceConfig {
    /// Only these names (`--strace-syscalls=read,openat`); all when None.
    pub only: Option<Vec<String>>,
}

impl StraceConfig {
    pub fn wants(&self, name: Option<&str>) -> bool {
        match (&self.only, name) {
            (None, _) => true,
            (Some(list), Some(n)) => list.iter().any(|x| x == n),
            (Some(_), None) => false,
        }
    }
}

/// Formats the arguments before the call (strings must be read before execve replaces memory).
/// `OutBuf` arguments are left as a marker and filled by `emit` from the result.
pub fn format_enter(task: &Task, entry: Option<&SyscallEntry>, args: &SyscallArgs) -> Vec<String> {
    let Some(entry) = entry else {
        return args.raw.iter().map(|a| format!("{a:#x}")).collect();
    };
    entry
        .args
        .iter()
        .enumerate()
        .map(|(i, kind)| format_arg(task, *kind, args, i))
        .collect()
}

fn format_arg(task: &Task, kind: ArgKind, args: &SyscallArgs, i: usize) -> String {
    let v = args.u64(i);
    match kind {
        ArgKind::Int => format!("{}", v as i64),
        ArgKind::Hex => format!("{v:#x}"),
        ArgKind::Fd => match args.i32(i) {
            libc::AT_FDCWD => "AT_FDCWD".to_string(),
            fd => fd.to_string(),
        },
        ArgKind::Path => match task.mm.copy_in_cstring(v, 4096) {
            Ok(s) => quote(&s, SHOW_BYTES * 4),
            Err(_) => format!("{v:#x}"),
        },
        ArgKind::InBuf(len_arg) => {
            let len = (args.u64(len_arg) as usize).min(SHOW_BYTES);
            let mut buf = vec![0u8; len];
            match task.mm.copy_in(v, &mut buf) {
                Ok(()) => quote_trunc(&buf, args.u64(len_arg) as usize),
                Err(_) => format!("{v:#x}"),
            }
        }
        ArgKind::OutBuf => String::new(),
        ArgKind::OpenFlags => open_flags(v as i32),
        ArgKind::Mode => format!("{:#o}", v as u32),
        ArgKind::Prot => bits(
            v,
            &[(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")],
            "PROT_NONE",
        ),
        ArgKind::MmapFlags => mmap_flags(v),
        ArgKind::Signal => signal_name(v as i32),
        ArgKind::StrArray => str_array(task, v),
        ArgKind::IoctlReq => ioctl_name(v as u32).map_or_else(|| format!("{v:#x}"), String::from),
    }
}

/// The names of the ioctl requests the sentry serves (asm-generic/ioctls.h, linux/sockios.h).
fn ioctl_name(req: u32) -> Option<&'static str> {
    Some(match req {
        0x5401 => "TCGETS",
        0x5402 => "TCSETS",
        0x5403 => "TCSETSW",
        0x5404 => "TCSETSF",
        0x540f => "TIOCGPGRP",
        0x5410 => "TIOCSPGRP",
        0x5411 => "TIOCOUTQ",
        0x5413 => "TIOCGWINSZ",
        0x5414 => "TIOCSWINSZ",
        0x541b => "FIONREAD",
        0x5421 => "FIONBIO",
        0x5450 => "FIONCLEX",
        0x5451 => "FIOCLEX",
        0x8910 => "SIOCGIFNAME",
        0x8912 => "SIOCGIFCONF",
        0x8913 => "SIOCGIFFLAGS",
        0x8915 => "SIOCGIFADDR",
        0x8917 => "SIOCGIFDSTADDR",
        0x8919 => "SIOCGIFBRDADDR",
        0x891b => "SIOCGIFNETMASK",
        0x891d => "SIOCGIFMETRIC",
        0x8921 => "SIOCGIFMTU",
        0x8927 => "SIOCGIFHWADDR",
        0x8933 => "SIOCGIFINDEX",
        0x8942 => "SIOCGIFTXQLEN",
        _ => return None,
    })
}

/// Prints the finished line to the log.
pub fn emit(
    task: &Task,
    entry: Option<&SyscallEntry>,
    args: &SyscallArgs,
    enter: &[String],
    result: &SysResult<u64>,
    elapsed: Duration,
) {
    let mut parts: Vec<String> = enter.to_vec();
    if let Some(entry) = entry {
        for (i, kind) in entry.args.iter().enumerate() {
            if *kind == ArgKind::OutBuf {
                parts[i] = match result {
                    Ok(n) if *n > 0 => {
                        let mut buf = vec![0u8; (*n as usize).min(SHOW_BYTES)];
                        match task.mm.copy_in(args.u64(i), &mut buf) {
                            Ok(()) => quote_trunc(&buf, *n as usize),
                            Err(_) => format!("{:#x}", args.u64(i)),
                        }
                    }
                    _ => format!("{:#x}", args.u64(i)),
                };
            }
        }
    }
    let name = entry
        .map(|e| e.name.to_string())
        .unwrap_or_else(|| format!("syscall_{}", args.nr));
    let ret = match result {
        Ok(v) if is_pointer_result(name.as_str()) => format!("{v:#x}"),
        Ok(v) => format!("{}", *v as i64),
        Err(e) => format!("-1 {} ({})", errno_name(*e), e.desc()),
    };
    crate::log::write_line(
        "",
        format_args!(
            "[{:>3}:{:>3}] {}({}) = {} ({:.1}µs)",
            task.tg.pid,
            task.tid,
            name,
            parts.join(", "),
            ret,
            elapsed.as_secs_f64() * 1e6
        ),
    );
}

fn is_pointer_result(name: &str) -> bool {
    matches!(name, "mmap" | "brk" | "mremap")
}

/// The symbolic name of an errno ("ENOENT").
pub fn errno_name(e: Errno) -> String {
    let dbg = format!("{e:?}");
    dbg.rsplit("::").next().unwrap_or(&dbg).to_string()
}

fn quote(s: &[u8], max: usize) -> String {
    quote_trunc(&s[..s.len().min(max)], s.len())
}

/// Quotes bytes like strace: printable ASCII as is, escapes otherwise; "..." when `full_len`
/// is longer than what is shown.
fn quote_trunc(shown: &[u8], full_len: usize) -> String {
    let mut out = String::from("\"");
    for &b in shown {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    if full_len > shown.len() {
        out.push_str("...");
    }
    out
}

fn bits(v: u64, names: &[(u64, &str)], zero: &str) -> String {
    if v == 0 {
        return zero.to_string();
    }
    let mut rest = v;
    let mut parts = Vec::new();
    for &(bit, name) in names {
        if v & bit == bit && bit != 0 {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    parts.join("|")
}

fn open_flags(f: i32) -> String {
    let acc = match f & libc::O_ACCMODE {
        libc::O_RDONLY => "O_RDONLY",
        libc::O_WRONLY => "O_WRONLY",
        libc::O_RDWR => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let rest = bits(
        (f & !libc::O_ACCMODE) as u32 as u64,
        &[
            (libc::O_CREAT as u64, "O_CREAT"),
            (libc::O_EXCL as u64, "O_EXCL"),
            (libc::O_NOCTTY as u64, "O_NOCTTY"),
            (libc::O_TRUNC as u64, "O_TRUNC"),
            (libc::O_APPEND as u64, "O_APPEND"),
            (libc::O_NONBLOCK as u64, "O_NONBLOCK"),
            (libc::O_DSYNC as u64, "O_DSYNC"),
            (libc::O_DIRECT as u64, "O_DIRECT"),
            (libc::O_LARGEFILE as u64, "O_LARGEFILE"),
            (libc::O_DIRECTORY as u64, "O_DIRECTORY"),
            (libc::O_NOFOLLOW as u64, "O_NOFOLLOW"),
            (libc::O_NOATIME as u64, "O_NOATIME"),
            (libc::O_CLOEXEC as u64, "O_CLOEXEC"),
            (libc::O_PATH as u64, "O_PATH"),
            (
                libc::O_TMPFILE as u64 & !(libc::O_DIRECTORY as u64),
                "O_TMPFILE",
            ),
        ],
        "",
    );
    if rest.is_empty() {
        acc.to_string()
    } else {
        format!("{acc}|{rest}")
    }
}

fn mmap_flags(v: u64) -> String {
    bits(
        v,
        &[
            (libc::MAP_SHARED as u64, "MAP_SHARED"),
            (libc::MAP_PRIVATE as u64, "MAP_PRIVATE"),
            (libc::MAP_FIXED as u64, "MAP_FIXED"),
            (libc::MAP_ANONYMOUS as u64, "MAP_ANONYMOUS"),
            (libc::MAP_GROWSDOWN as u64, "MAP_GROWSDOWN"),
            (libc::MAP_DENYWRITE as u64, "MAP_DENYWRITE"),
            (libc::MAP_NORESERVE as u64, "MAP_NORESERVE"),
            (libc::MAP_POPULATE as u64, "MAP_POPULATE"),
            (libc::MAP_STACK as u64, "MAP_STACK"),
            (libc::MAP_FIXED_NOREPLACE as u64, "MAP_FIXED_NOREPLACE"),
        ],
        "0",
    )
}

/// "SIGTERM" for 15.
pub fn signal_name(sig: i32) -> String {
    match nix::sys::signal::Signal::try_from(sig) {
        Ok(s) => s.as_str().to_string(),
        Err(_) if sig > 0 && sig <= 64 => format!("SIGRT_{sig}"),
        Err(_) => sig.to_string(),
    }
}

fn str_array(task: &Task, addr: u64) -> String {
    if addr == 0 {
        return "NULL".to_string();
    }
    let mut items = Vec::new();
    for i in 0..32u64 {
        let mut p = [0u8; 8];
        if task.mm.copy_in(addr + i * 8, &mut p).is_err() {
            return format!("{addr:#x}");
        }
        let ptr = u64::from_ne_bytes(p);
        if ptr == 0 {
            return format!("[{}]", items.join(", "));
        }
        match task.mm.copy_in_cstring(ptr, 4096) {
            Ok(s) => items.push(quote(&s, SHOW_BYTES)),
            Err(_) => items.push(format!("{ptr:#x}")),
        }
    }
    format!("[{}, ...]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_decode() {
        assert_eq!(
            open_flags(libc::O_RDONLY | libc::O_CLOEXEC),
            "O_RDONLY|O_CLOEXEC"
        );
        assert_eq!(
            open_flags(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC),
            "O_WRONLY|O_CREAT|O_TRUNC"
        );
    }

    #[test]
    fn quoting_escapes_and_truncates() {
        assert_eq!(quote_trunc(b"a\"b\n\x01", 5), "\"a\\\"b\\n\\x01\"");
        assert_eq!(quote_trunc(b"ab", 10), "\"ab\"...");
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(Errno::ENOENT), "ENOENT");
        assert_eq!(signal_name(15), "SIGTERM");
    }

    #[test]
    fn ioctl_names() {
        assert_eq!(ioctl_name(libc::FIONREAD as u32), Some("FIONREAD"));
        assert_eq!(ioctl_name(0x8913), Some("SIOCGIFFLAGS"));
        assert_eq!(ioctl_name(0x1234), None);
    }

    #[test]
    fn mmap_flag_bits() {
        assert_eq!(
            mmap_flags((libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64),
            "MAP_PRIVATE|MAP_ANONYMOUS"
        );
    }
}
