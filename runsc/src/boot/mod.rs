//! What `runsc boot` builds on: the boot spec the front end sends, the namespaces, empty root
//! and capabilities the sentry is confined to, and its seccomp filter (after gVisor's
//! `runsc/boot`).

pub mod copyup;
pub mod filter;
pub mod isolate;
pub mod spec;
