//! The sentry: a Linux kernel in user space (after gVisor's `pkg/sentry`). It owns tasks, memory
//! maps, the VFS, signals and files; application code runs on a `platform` and every syscall it
//! makes is handled here through the `SyscallTable` that `runsc boot` hands to the `Kernel`.

pub mod abi;
pub mod control;
pub mod fs;
pub mod kernel;
pub mod loader;
pub mod log;
pub mod mm;
pub mod net;
pub mod platform;
pub mod vfs;

/// A Linux error number as the application sees it.
pub use nix::errno::Errno;

/// What a syscall handler and every kernel operation returns.
pub type SysResult<T> = Result<T, Errno>;
