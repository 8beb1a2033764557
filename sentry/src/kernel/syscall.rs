//! The shape of a syscall table (after gVisor's `pkg/sentry/kernel/syscalls.go`). The kernel knows
//! no syscall numbers: `syscalls::table()` fills a `SyscallTable` and `runsc boot` hands it over.

use crate::kernel::Task;
use crate::{Errno, SysResult};

/// A syscall handler: decodes its arguments, does the work through kernel methods, returns the
/// value for `rax` or an errno.
pub type Handler = fn(&mut Task, &SyscallArgs) -> SysResult<u64>;

/// How completely a syscall is implemented.
#[derive(Debug, Clone, Copy)]
pub enum Support {
    Full(Handler),
    /// Implemented with the documented gaps.
    Partial(Handler, &'static str),
    /// Always fails with this errno, for the stated reason.
    Unsupported(Errno, &'static str),
}

/// How `--strace` prints one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// Signed decimal.
    Int,
    /// Unsigned hex (addresses, masks without a decoder).
    Hex,
    /// A file descriptor (AT_FDCWD printed by name).
    Fd,
    /// A NUL-terminated path or string read from application memory.
    Path,
    /// A buffer the application passes in, with its length in argument N.
    InBuf(usize),
    /// A buffer the sentry fills, length from the result.
    OutBuf,
    /// Open flags (O_RDONLY|O_CLOEXEC...).
    OpenFlags,
    /// File mode in octal.
    Mode,
    /// mmap/mprotect protection bits.
    Prot,
    /// mmap flags.
    MmapFlags,
    /// A signal number.
    Signal,
    /// A pointer to a NULL-terminated array of strings (argv, envp).
    StrArray,
    /// An ioctl(2) request number (TCGETS, FIONREAD, SIOCGIFFLAGS...).
    IoctlReq,
}

/// One row: everything about one syscall number.
#[derive(Debug, Clone, Copy)]
pub struct SyscallEntry {
    pub nr: usize,
    pub name: &'static str,
    pub support: Support,
    pub args: &'static [ArgKind],
}

/// The table, indexed by syscall number.
#[derive(Debug, Clone, Default)]
pub struct SyscallTable {
    rows: Vec<Option<SyscallEntry>>,
}

impl SyscallTable {
    pub fn new() -> SyscallTable {
        SyscallTable { rows: Vec::new() }
    }

    /// Adds a row; a number that is already present is refused (the table has no duplicates).
    pub fn add(&mut self, entry: SyscallEntry) -> Result<(), String> {
        if self.rows.len() <= entry.nr {
            self.rows.resize(entry.nr + 1, None);
        }
        if let Some(old) = &self.rows[entry.nr] {
            return Err(format!(
                "syscall {} registered twice ({} and {})",
                entry.nr, old.name, entry.name
            ));
        }
        self.rows[entry.nr] = Some(entry);
        Ok(())
    }

    pub fn lookup(&self, nr: u64) -> Option<&SyscallEntry> {
        usize::try_from(nr)
            .ok()
            .and_then(|i| self.rows.get(i))
            .and_then(|r| r.as_ref())
    }

    pub fn entries(&self) -> impl Iterator<Item = &SyscallEntry> {
        self.rows.iter().flatten()
    }
}

/// The six raw arguments of a syscall with typed accessors. Handlers decode through these,
/// never through bare `as` casts.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyscallArgs {
    pub nr: u64,
    pub raw: [u64; 6],
}

impl SyscallArgs {
    /// Argument `i` as a full 64-bit value.
    pub fn u64(&self, i: usize) -> u64 {
        self.raw[i]
    }
    /// Argument `i` as the kernel reads an `int`: the low 32 bits, sign-extended.
    pub fn i32(&self, i: usize) -> i32 {
        self.raw[i] as u32 as i32
    }
    /// Argument `i` as an `unsigned int`.
    pub fn u32(&self, i: usize) -> u32 {
        self.raw[i] as u32
    }
    /// Argument `i` as a file descriptor (an `int`).
    pub fn fd(&self, i: usize) -> i32 {
        self.i32(i)
    }
    /// Argument `i` as an application address.
    pub fn addr(&self, i: usize) -> u64 {
        self.raw[i]
    }
    /// Argument `i` as a `size_t` length, EINVAL if it cannot be a Rust `usize`.
    pub fn len(&self, i: usize) -> SysResult<usize> {
        usize::try_from(self.raw[i]).map_err(|_| Errno::EINVAL)
    }
    /// Argument `i` as a signed 64-bit value (`off_t`, `loff_t`, `long`).
    pub fn i64(&self, i: usize) -> i64 {
        self.raw[i] as i64
    }
}
