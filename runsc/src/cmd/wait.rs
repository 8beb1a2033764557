//! `runsc wait` (after gVisor's `runsc/cmd/wait.go`): block until a container's init ends and
//! print `{"id": ID, "exitStatus": N}`.

use serde_json::json;

use crate::cli::GlobalOpts;
use crate::cmd::create::EXIT_FAILURE;
use crate::container::{control, Container};
use crate::log;

/// `runsc wait ID`.
pub fn run(global: &GlobalOpts, id: &str) -> i32 {
    let result = Container::load(&global.root, id)
        .map_err(|e| e.to_string())
        .and_then(|c| control::call(&c.dir, "wait"))
        .and_then(|reply| {
            reply
                .strip_prefix("exit ")
                .and_then(|n| n.parse::<i32>().ok())
                .ok_or(format!("unexpected reply from the sandbox: {reply:?}"))
        });
    match result {
        Ok(status) => {
            crate::cmd::out(&format!("{}\n", json!({ "id": id, "exitStatus": status })));
            0
        }
        Err(msg) => {
            log::error(&msg);
            EXIT_FAILURE
        }
    }
}
