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

/// Writes `text` to stdout as `print!` does, but without panicking when the reader has gone
/// (EPIPE: `runsc list | head -1`). False then, so that a loop (`events`) ends.
pub fn out(text: &str) -> bool {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes())
        .and_then(|()| o.flush())
        .is_ok()
}
