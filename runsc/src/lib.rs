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
            let msg = first.join(" ");
            let msg = msg.trim_start_matches("error: ");
            // The log flags, if the command line names them, take the error too (containerd
            // shows its user the last error line of a json log).
            let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
            let (path, format) = log_flags_of(&argv);
            let format = format
                .as_deref()
                .map_or(Some(cli::LogFormat::Text), |f| match f {
                    "text" => Some(cli::LogFormat::Text),
                    "json" => Some(cli::LogFormat::Json),
                    _ => None,
                });
            if let (Some(path), Some(format)) = (path, format) {
                // Unopenable: stderr alone says it, as without --log.
                let _ = log::init(&path, format);
            }
            log::error(msg);
            std::process::exit(EXIT_USAGE);
        }
    };
    std::process::exit(run(cli))
}

/// `--log FILE` and `--log-format FORMAT` (or `--flag=value`) of a command line that did not
/// parse, read from the global flags before the subcommand with the top-level flag table (so
/// that a flag's value is never taken for the subcommand); nothing after the subcommand, which
/// may be a container's own arguments. An unknown flag is taken to have no value.
fn log_flags_of(argv: &[std::ffi::OsString]) -> (Option<std::path::PathBuf>, Option<String>) {
    use clap::CommandFactory;
    let top = Cli::command();
    let (mut path, mut format) = (None, None);
    let mut args = argv.iter().skip(1);
    while let Some(a) = args.next() {
        let a = a.to_string_lossy();
        if a == "--" || !a.starts_with('-') || a == "-" {
            break;
        }
        let Some(long) = a.strip_prefix("--") else {
            continue;
        };
        let (name, inline) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (long, None),
        };
        let takes_value = top
            .get_arguments()
            .find(|arg| arg.get_long() == Some(name))
            .is_some_and(|arg| arg.get_action().takes_values());
        let value = match (inline, takes_value) {
            (Some(v), _) => Some(v),
            (None, true) => args.next().map(|v| v.to_string_lossy().into_owned()),
            (None, false) => None,
        };
        match name {
            "log" => path = value.map(std::path::PathBuf::from),
            "log-format" => format = value,
            _ => {}
        }
    }
    (path, format)
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

#[cfg(test)]
mod tests {
    use super::log_flags_of;
    use std::path::PathBuf;

    fn flags(args: &[&str]) -> (Option<PathBuf>, Option<String>) {
        let argv: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        log_flags_of(&argv)
    }

    #[test]
    fn log_flags_are_read_before_the_subcommand_only() {
        assert_eq!(
            flags(&[
                "runsc",
                "--root",
                "/r",
                "--log",
                "/l",
                "--log-format",
                "json",
                "bogus"
            ]),
            (Some(PathBuf::from("/l")), Some("json".into()))
        );
        assert_eq!(
            flags(&["runsc", "--log=/l", "--nope", "--log-format=text", "create"]),
            (Some(PathBuf::from("/l")), Some("text".into()))
        );
        // A value that looks like a subcommand stays a value; nothing after the subcommand.
        assert_eq!(
            flags(&["runsc", "--root", "create", "exec", "id", "--log", "/x"]),
            (None, None)
        );
        assert_eq!(flags(&["runsc", "--debug", "--log"]), (None, None));
    }
}
