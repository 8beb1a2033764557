//! The `runsc` binary as a library (after gVisor's `runsc/`): the command line, the commands,
//! the launch of a sandbox's processes and the sentry's seccomp filter. `main.rs` only calls
//! [`main`]; tests call the modules directly.
//!
//! Exit statuses: a program's own status passes through (128+N for a death by signal N);
//! runsc's own failures are [`EXIT_RUNSC_FAILURE`]; usage errors are 2.

pub mod boot;
pub mod cli;
pub mod cmd;
pub mod console;
pub mod container;
pub mod log;
pub mod oci;
pub mod sandbox;
mod sys;

use clap::Parser;

use cli::{Cli, Command};

/// runsc itself failed (bad flag value, sandbox could not start): like Docker's 125.
pub const EXIT_RUNSC_FAILURE: i32 = 125;
/// The program exists but could not be executed (shell convention).
pub const EXIT_NOT_EXECUTABLE: i32 = 126;
/// The program was not found (shell convention).
pub const EXIT_NOT_FOUND: i32 = 127;
/// The command line did not parse.
pub const EXIT_USAGE: i32 = 2;

/// Parses the command line, runs the subcommand and exits with its status.
pub fn main() -> ! {
    // Before the sentry's or the gofer's seccomp filter: see `tame_malloc`.
    sys::tame_malloc(8);
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                e.exit();
            }
            // One line: clap's first paragraph ("error: ...") without the usage block.
            let rendered = e.render().to_string();
            let first: Vec<&str> = rendered
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            eprintln!("runsc: {}", first.join(" ").trim_start_matches("error: "));
            std::process::exit(EXIT_USAGE);
        }
    };
    std::process::exit(run(cli))
}

/// Runs a parsed command line; returns the exit status.
pub fn run(cli: Cli) -> i32 {
    let g = &cli.global;
    if let Some(path) = &g.log {
        // The format is checked below; open with text until then.
        let format = g.parsed_log_format().unwrap_or(cli::LogFormat::Text);
        if let Err(e) = log::init(path, format) {
            log::error(&format!("--log {}: {e}", path.display()));
            return EXIT_RUNSC_FAILURE;
        }
    }
    if let Err(msg) = g.validate() {
        log::error(&msg);
        return EXIT_RUNSC_FAILURE;
    }
    match &cli.command {
        Command::Do(args) => cmd::r#do::run(g, args),
        Command::Create(args) => cmd::create::create(g, args),
        Command::Run(args) => cmd::create::run(g, args),
        Command::Start(args) => cmd::start::run(g, &args.id),
        Command::State(args) => cmd::state::state(g, &args.id),
        Command::List(args) => cmd::state::list(g, args),
        Command::Ps(args) => cmd::state::ps(g, args),
        Command::Kill(args) => cmd::kill::run(g, args),
        Command::Delete(args) => cmd::delete::run(g, args),
        Command::Wait(args) => cmd::wait::run(g, &args.id),
        Command::Exec(args) => cmd::exec::run(g, args),
        Command::Spec(args) => cmd::spec::spec(args),
        Command::Features => cmd::spec::features(),
        Command::Pause(args) => cmd::pause::pause(g, &args.id, true),
        Command::Resume(args) => cmd::pause::pause(g, &args.id, false),
        Command::Update(args) => cmd::pause::update(g, args),
        Command::Events(args) => cmd::pause::events(g, args),
        Command::Boot(args) => cmd::boot::run(args),
        Command::Gofer(args) => cmd::gofer::run(args),
    }
}
