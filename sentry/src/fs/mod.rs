//! Filesystem implementations behind the VFS: gofer (host files through the gofer), tmpfs,
//! overlay (the writable root over the gofer), dev, devpts (pseudo-terminals), proc, host (the sandbox's stdio), pipe, eventfd and epoll. Raw host calls are in `sys`.

pub mod dev;
pub mod devpts;
pub mod epoll;
pub mod eventfd;
pub mod gofer;
pub mod host;
pub mod inotify;
pub mod jobctl;
pub mod mqueue;
pub mod overlay;
pub mod pidfd;
pub mod pipe;
pub mod proc;
pub mod signalfd;
pub mod sys;
pub mod sysfs;
pub mod timerfd;
pub mod tmpfs;
