//! `runsc gofer` (hidden): the file server of one sandbox, after gVisor's `runsc/cmd/gofer.go`.
//! It opens the root it serves, confines itself with its own seccomp allowlist and serves the
//! sentry until the sentry hangs up.

use std::os::fd::OwnedFd;

use gofer::server::{confine, ConfineOptions, Server, ServerConfig};

use crate::cli::GoferArgs;
use crate::sys::take_inherited_fd;
use crate::{log, EXIT_RUNSC_FAILURE};

/// Runs the gofer; returns its exit status (0 once every channel is closed).
pub fn run(args: &GoferArgs) -> i32 {
    match serve(args) {
        Ok(()) => 0,
        Err(msg) => {
            log::error(&msg);
            EXIT_RUNSC_FAILURE
        }
    }
}

fn serve(args: &GoferArgs) -> Result<(), String> {
    let channels = args
        .io_fd
        .iter()
        .map(|&n| take_inherited_fd(n).map_err(|e| format!("gofer channel fd: {e}")))
        .collect::<Result<Vec<OwnedFd>, String>>()?;
    // The served tree is always read-only for now: writes go to the sentry's overlay.
    let server = Server::new(&ServerConfig {
        root: args.root.clone(),
        read_only: true,
    })
    .map_err(|e| e.to_string())?;
    confine(&ConfineOptions::default()).map_err(|e| e.to_string())?;
    server.serve(channels).map_err(|e| e.to_string())
}
