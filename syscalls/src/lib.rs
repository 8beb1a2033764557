//! The Linux personality (after gVisor's `pkg/sentry/syscalls/linux`): the x86_64 syscall table
//! and one handler per syscall, grouped by area. Handlers are thin: they decode arguments and
//! call into `sentry`, where the work lives.

#![forbid(unsafe_code)]

pub mod caps;
pub mod clone;
pub mod cred;
pub mod eventfd;
pub mod exec;
pub mod fs;
pub mod ipc;
pub mod mm;
pub mod mqueue;
pub mod net;
pub mod pidfd;
pub mod pipe;
pub mod poll;
pub mod process;
pub mod sched;
pub mod seccomp;
pub mod signal;
pub mod signalfd;
pub mod sys;
pub mod table;
pub mod time;
pub mod timer;
pub mod timerfd;
pub mod wait;

pub use table::table;
