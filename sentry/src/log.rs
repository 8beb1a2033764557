//! The sentry's log: one set of macros writing to a descriptor opened before the seccomp filter.
//! Messages the application can trigger repeatedly go through `warn_once!`-style guards.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static LOG_FD: OnceLock<OwnedFd> = OnceLock::new();
static DEBUG: AtomicBool = AtomicBool::new(false);

/// Sets where log lines go (a debug-log file or stderr, opened by `runsc` before the filter).
pub fn init(fd: Option<OwnedFd>, debug: bool) {
    if let Some(fd) = fd {
        let _ = LOG_FD.set(fd);
    }
    DEBUG.store(debug, Ordering::Relaxed);
}

/// Whether debug lines are written.
pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// Writes one line (used by the macros; callers format first). Best effort: a full disk must not
/// stop the sandbox.
pub fn write_line(level: &str, msg: std::fmt::Arguments<'_>) {
    let line = if level.is_empty() {
        format!("{msg}\n")
    } else {
        format!("{level} {msg}\n")
    };
    match LOG_FD.get() {
        Some(fd) => {
            let mut rest = line.as_bytes();
            while !rest.is_empty() {
                match nix::unistd::write(fd, rest) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => rest = &rest[n..],
                }
            }
        }
        // Without a debug log, only `--strace` lines and, with `--debug`, log lines reach the
        // sandbox's stderr: the application's own stderr stays clean.
        None if level.is_empty() || debug_enabled() => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        None => {}
    }
}

/// Logs a warning line.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::write_line("W", format_args!($($arg)*)) };
}

/// Logs a debug line when `--debug` is on.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { if $crate::log::debug_enabled() { $crate::log::write_line("D", format_args!($($arg)*)) } };
}
