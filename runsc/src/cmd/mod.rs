//! One module per `runsc` subcommand (after runc's and gVisor's `runsc/cmd`).

pub mod boot;
pub mod r#do;
pub mod gofer;
