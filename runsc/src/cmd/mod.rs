//! One module per `runsc` subcommand (after runc's and gVisor's `runsc/cmd`).

pub mod boot;
pub mod create;
pub mod delete;
pub mod r#do;
pub mod exec;
pub mod gofer;
pub mod kill;
pub mod pause;
pub mod spec;
pub mod start;
pub mod state;
pub mod wait;
