//! What `runsc boot` builds on: the boot spec the front end sends and the sentry's seccomp
//! filter (after gVisor's `runsc/boot`).

pub mod filter;
pub mod spec;
