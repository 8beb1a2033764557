//! The `runsc` command line (after gVisor's `runsc/cmd` and runc's CLI): global flags come
//! before the subcommand, as containerd, Docker and podman pass them (see OCI-CONTRACT.md).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The whole command line.
#[derive(Debug, Parser)]
#[command(
    name = "runsc",
    version,
    about = "A user-space kernel sandbox: runs Linux programs and OCI containers without letting \
             them talk to the host kernel",
    // Usage errors exit 2 (clap's default); failures of a command exit 125 (see `crate::EXIT_*`).
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags that apply to every subcommand (given before it).
#[derive(Debug, Clone, Args)]
pub struct GlobalOpts {
    /// Print one line per application syscall (to the debug log if one is set, else stderr).
    #[arg(long)]
    pub strace: bool,
    /// Trace only these syscalls (comma-separated names, e.g. read,openat); implies --strace.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub strace_syscalls: Option<Vec<String>>,
    /// Write debug messages.
    #[arg(long)]
    pub debug: bool,
    /// Where debug messages (and --strace lines) go: a directory (a file named
    /// runsc.PID.log is created in it) or a file path.
    #[arg(long, value_name = "DIR")]
    pub debug_log: Option<PathBuf>,
    /// Append runsc's own errors and warnings to this file.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Format of --log lines: text or json.
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    pub log_format: String,
    /// Directory holding container state.
    #[arg(long, value_name = "DIR", default_value = "/run/runsc")]
    pub root: PathBuf,
    /// How application code runs and traps: systrap (seccomp traps handled in the stub; falls
    /// back to ptrace with a logged reason where the host lacks it), or ptrace. The
    /// environment variable RUNSC_PLATFORM sets it where an engine builds the command line.
    #[arg(
        long,
        value_name = "PLATFORM",
        env = "RUNSC_PLATFORM",
        default_value = "systrap"
    )]
    pub platform: String,
    /// Networking: none (loopback only, inside the sandbox) or host (host sockets in the
    /// sandbox's network namespace). Default: none for `do`, host for containers.
    #[arg(long, value_name = "MODE")]
    pub network: Option<String>,
    /// Host unix sockets in bind mounts: none (connect(2) to one is refused) or open (the
    /// sandbox's file server connects and hands over the connected socket).
    #[arg(long, value_name = "MODE", default_value = "none")]
    pub host_uds: String,
    /// The writable root: memory (an overlay whose changes stay in the sandbox) or none
    /// (writes go through to the host's root directory).
    #[arg(long, value_name = "MEDIUM", default_value = "memory")]
    pub overlay: String,
    /// Use systemd cgroup paths (accepted for runc compatibility; cgroupfs paths are used).
    #[arg(long)]
    pub systemd_cgroup: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a program in a new sandbox whose root is the host's `/` or --rootfs (writes stay in
    /// the sandbox).
    Do(DoArgs),
    /// Create a container from an OCI bundle; its process waits for `start`.
    Create(CreateArgs),
    /// Start the process of a created container.
    Start(IdArg),
    /// Print a container's OCI state as JSON.
    State(IdArg),
    /// Send a signal (name or number, default SIGTERM) to a container's init (or all, --all).
    Kill(KillArgs),
    /// Delete a stopped container (--force: any container, killing it first).
    Delete(DeleteArgs),
    /// Create and start a container; without --detach, wait for it and exit with its status.
    Run(RunArgs),
    /// List containers.
    List(ListArgs),
    /// List the host processes of a container.
    Ps(PsArgs),
    /// Wait for a container to stop and print its exit status as JSON.
    Wait(IdArg),
    /// Run a new process in a running container (--process FILE, or ID COMMAND ARGS...).
    Exec(ExecArgs),
    /// Write a starter config.json in the bundle directory.
    Spec(SpecArgs),
    /// Freeze every process of a running container.
    Pause(IdArg),
    /// Thaw a paused container.
    Resume(IdArg),
    /// Change a container's resource limits (LinuxResources JSON from a file or `-`).
    Update(UpdateArgs),
    /// Print a container's resource usage (JSON; once with --stats, else every --interval).
    Events(EventsArgs),
    /// Print the features this runtime supports (JSON).
    Features,
    /// (internal) The sentry: the sandbox's kernel. Started by runsc itself.
    #[command(hide = true)]
    Boot(BootArgs),
    /// (internal) The file server of a sandbox. Started by runsc itself.
    #[command(hide = true)]
    Gofer(GoferArgs),
}

/// `runsc do [--rootfs DIR] [--cwd DIR] [--env K=V]... -- PROGRAM ARGS...`
#[derive(Debug, Clone, Args)]
pub struct DoArgs {
    /// Root filesystem of the sandbox (writes stay in the sandbox's memory).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub rootfs: PathBuf,
    /// Working directory in the sandbox (default: the current directory when the root is `/`,
    /// else `/`).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable for the program (repeatable); runsc's own environment is
    /// passed too.
    #[arg(long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Bind a host directory into the sandbox (repeatable): writes reach the host unless `:ro`.
    #[arg(long = "volume", short = 'v', value_name = "HOST:SANDBOX[:ro]")]
    pub volumes: Vec<String>,
    /// Serve the root read-only (writes fail with EROFS) instead of as a writable overlay
    /// whose changes stay in the sandbox.
    #[arg(long)]
    pub read_only: bool,
    /// The program and its arguments: everything after `--`, or from the first argument that
    /// is not a flag of `do` on. No `allow_hyphen_values`: an unknown `--flag` before the program
    /// is a usage error, not a program name.
    #[arg(
        value_name = "PROGRAM",
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    pub command: Vec<OsString>,
}

/// A container id.
#[derive(Debug, Clone, Args)]
pub struct IdArg {
    /// The container id.
    #[arg(value_name = "ID")]
    pub id: String,
}

/// `runsc create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] ID`
#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// The bundle directory (holding config.json); default the current directory.
    #[arg(long, short = 'b', value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// Write the host pid of the container's process (it exits with the container's status).
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// A unix socket to send the terminal's master to (process.terminal).
    #[arg(long, value_name = "SOCK")]
    pub console_socket: Option<PathBuf>,
    /// Pass this many descriptors after stdio (3, 4, ...) to the container as the same numbers.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Accepted for runc compatibility (ignored).
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted for runc compatibility (ignored).
    #[arg(long)]
    pub no_new_keyring: bool,
    #[arg(value_name = "ID")]
    pub id: String,
}

/// `runsc run [--detach] [create flags] ID`
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Return once the container has started instead of waiting for it.
    #[arg(long, short = 'd')]
    pub detach: bool,
    #[command(flatten)]
    pub create: CreateArgs,
}

/// `runsc exec [--process FILE] [--detach] [--pid-file FILE] [--cwd DIR] [--env K=V]...
/// [--user UID[:GID]] [--tty] [--console-socket SOCK] [--preserve-fds N] ID [COMMAND ARGS...]`
#[derive(Debug, Clone, Args)]
pub struct ExecArgs {
    /// An OCI `process` JSON (args, env, cwd, user) describing the process; no COMMAND then.
    #[arg(long, short = 'p', value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Return once the process has started (with --pid-file, the pid's process lives as long
    /// as it and exits with its status).
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// Write the host pid of a process that lives as long as the new one and exits with its
    /// status.
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Working directory in the container (default: the container's).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (repeatable), over the container's environment.
    #[arg(long = "env", short = 'e', value_name = "K=V")]
    pub env: Vec<String>,
    /// Run as UID[:GID] (default: the container's user).
    #[arg(long, short = 'u', value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Additional group ids (repeatable).
    #[arg(long = "additional-gids", short = 'g', value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Give the process a terminal.
    #[arg(long, short = 't')]
    pub tty: bool,
    /// A unix socket to send the terminal's master to (with --tty).
    #[arg(long, value_name = "SOCK")]
    pub console_socket: Option<PathBuf>,
    /// Pass this many descriptors after stdio (3, 4, ...) to the process.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Accepted for runc compatibility (capabilities are the sandbox's).
    #[arg(long = "cap", short = 'c', value_name = "CAP")]
    pub cap: Vec<String>,
    /// Accepted for runc compatibility (the sandbox always has no_new_privs).
    #[arg(long)]
    pub no_new_privs: bool,
    /// Accepted for runc compatibility (ignored).
    #[arg(long, value_name = "LABEL")]
    pub process_label: Option<String>,
    /// Accepted for runc compatibility (ignored).
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// (internal) Wait for the exit status on stdin, an exec connection, and exit with it.
    #[arg(long, hide = true)]
    pub wait_on_stdin: bool,
    #[arg(value_name = "ID")]
    pub id: String,
    /// The program and its arguments (without --process).
    #[arg(value_name = "COMMAND", num_args = 0.., trailing_var_arg = true)]
    pub command: Vec<OsString>,
}

/// `runsc kill [--all] ID [SIGNAL]`
#[derive(Debug, Clone, Args)]
pub struct KillArgs {
    /// Signal every process of the container, not only its init.
    #[arg(long, short = 'a')]
    pub all: bool,
    #[arg(value_name = "ID")]
    pub id: String,
    /// Name (TERM, SIGTERM) or number (15).
    #[arg(value_name = "SIGNAL", default_value = "SIGTERM")]
    pub signal: String,
}

/// `runsc delete [--force] ID`
#[derive(Debug, Clone, Args)]
pub struct DeleteArgs {
    /// Kill the container first if it still runs.
    #[arg(long, short = 'f')]
    pub force: bool,
    #[arg(value_name = "ID")]
    pub id: String,
}

/// `runsc list [--format table|json] [-q]`
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// table or json.
    #[arg(long, short = 'f', value_name = "FORMAT", default_value = "table")]
    pub format: String,
    /// Print the ids only.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `runsc ps [--format table|json] ID`
#[derive(Debug, Clone, Args)]
pub struct PsArgs {
    /// table or json (an array of host pids).
    #[arg(long, short = 'f', value_name = "FORMAT", default_value = "table")]
    pub format: String,
    #[arg(value_name = "ID")]
    pub id: String,
}

/// `runsc update --resources FILE|- ID`
#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    /// OCI LinuxResources JSON: a file, or `-` for stdin.
    #[arg(long, short = 'r', value_name = "FILE")]
    pub resources: PathBuf,
    #[arg(value_name = "ID")]
    pub id: String,
}

/// `runsc events [--stats] [--interval DURATION] ID`
#[derive(Debug, Clone, Args)]
pub struct EventsArgs {
    /// Print the stats once and exit.
    #[arg(long)]
    pub stats: bool,
    /// Seconds between stats events (e.g. 5 or 5s).
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub interval: String,
    #[arg(value_name = "ID")]
    pub id: String,
}

/// `runsc spec [--bundle DIR]`
#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// Where to write config.json.
    #[arg(long, short = 'b', value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
}

/// `runsc boot --io-fd N --spec-fd N [--log-fd N]` (hidden).
#[derive(Debug, Clone, Args)]
pub struct BootArgs {
    /// The sentry's end of the gofer socket pair.
    #[arg(long, value_name = "FD")]
    pub io_fd: i32,
    /// A pipe carrying the boot spec (JSON) up to end-of-file.
    #[arg(long, value_name = "FD")]
    pub spec_fd: i32,
    /// The debug log (strace and debug lines); stderr when absent.
    #[arg(long, value_name = "FD")]
    pub log_fd: Option<i32>,
    /// The gofer channel of each bind mount of the boot spec, in its order (repeatable).
    #[arg(long, value_name = "FD")]
    pub mount_fd: Vec<i32>,
    /// A listening unix socket for `runsc start/kill/wait` (created containers): the init
    /// process runs only once `start` arrives on it.
    #[arg(long, value_name = "FD", requires = "ready_fd")]
    pub control_fd: Option<i32>,
    /// A pipe on which the sentry writes `ok` once the init process is loaded, or `error: MSG`.
    #[arg(long, value_name = "FD", requires = "control_fd")]
    pub ready_fd: Option<i32>,
}

/// `runsc gofer --root DIR --io-fd N` (hidden).
#[derive(Debug, Clone, Args)]
pub struct GoferArgs {
    /// The host directory served as the sandbox's root.
    #[arg(long, value_name = "DIR")]
    pub root: PathBuf,
    /// Serve the root read-write (`--overlay=none`); read-only otherwise.
    #[arg(long)]
    pub root_rw: bool,
    /// The gofer's end of the socket pair (repeatable: one per channel).
    #[arg(long, value_name = "FD", required = true)]
    pub io_fd: Vec<i32>,
    /// A bind mount to serve as well, `FD:ro:PATH` or `FD:rw:PATH` (repeatable): its channel
    /// descriptor, whether writes are refused, and the host directory.
    #[arg(long, value_name = "FD:ro|rw:PATH")]
    pub mount: Vec<String>,
    /// Connect to host unix sockets in the bind mounts on request (`--host-uds=open`).
    #[arg(long)]
    pub host_uds: bool,
}

/// Platforms `--platform` accepts.
pub const PLATFORMS: &[&str] = &["ptrace", "systrap"];
/// Media `--overlay` accepts.
pub const OVERLAYS: &[&str] = &["memory", "none"];
/// Modes `--network` accepts.
pub const NETWORKS: &[&str] = &["none", "host"];
/// Modes `--host-uds` accepts.
pub const HOST_UDS_MODES: &[&str] = &["none", "open"];

/// Format of the `--log` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl GlobalOpts {
    /// Checks the values clap takes as free strings (so that a bad one is reported as one line,
    /// and in the --log file).
    pub fn validate(&self) -> Result<(), String> {
        if !PLATFORMS.contains(&self.platform.as_str()) {
            return Err(format!(
                "unsupported --platform {:?} (supported: {})",
                self.platform,
                PLATFORMS.join(", ")
            ));
        }
        if !OVERLAYS.contains(&self.overlay.as_str()) {
            return Err(format!(
                "unsupported --overlay {:?} (supported: {})",
                self.overlay,
                OVERLAYS.join(", ")
            ));
        }
        if let Some(n) = self.network.as_deref().filter(|n| !NETWORKS.contains(n)) {
            return Err(format!(
                "unsupported --network {:?} (supported: {})",
                n,
                NETWORKS.join(", ")
            ));
        }
        if !HOST_UDS_MODES.contains(&self.host_uds.as_str()) {
            return Err(format!(
                "unsupported --host-uds {:?} (supported: {})",
                self.host_uds,
                HOST_UDS_MODES.join(", ")
            ));
        }
        self.parsed_log_format().map(|_| ())
    }

    /// The `--log-format` value.
    pub fn parsed_log_format(&self) -> Result<LogFormat, String> {
        match self.log_format.as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unsupported --log-format {other:?} (supported: text, json)"
            )),
        }
    }

    /// The strace settings for the sentry: `Some(None)` traces everything.
    pub fn strace_only(&self) -> Option<Option<Vec<String>>> {
        match (&self.strace_syscalls, self.strace) {
            (Some(list), _) => Some(Some(list.clone())),
            (None, true) => Some(None),
            (None, false) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(args).unwrap()
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn do_takes_program_after_double_dash_with_its_own_flags() {
        let cli = parse(&["runsc", "do", "--", "ls", "-la", "--env", "/etc"]);
        let Command::Do(d) = cli.command else {
            panic!("not do")
        };
        assert_eq!(d.command, vec!["ls", "-la", "--env", "/etc"]);
        assert!(d.env.is_empty());
        assert_eq!(d.rootfs, PathBuf::from("/"));
    }

    #[test]
    fn do_flags_and_program_without_double_dash() {
        let cli = parse(&[
            "runsc", "do", "--rootfs", "/r", "--cwd", "/w", "--env", "A=1", "--env", "B=2", "echo",
            "-n", "x",
        ]);
        let Command::Do(d) = cli.command else {
            panic!("not do")
        };
        assert_eq!(d.rootfs, PathBuf::from("/r"));
        assert_eq!(d.cwd, Some(PathBuf::from("/w")));
        assert_eq!(d.env, vec!["A=1", "B=2"]);
        assert_eq!(d.command, vec!["echo", "-n", "x"]);
    }

    #[test]
    fn unknown_do_flag_is_a_usage_error_not_a_program() {
        let e = Cli::try_parse_from(["runsc", "do", "--frob", "--", "/bin/true"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument);
        let e = Cli::try_parse_from(["runsc", "do", "-x", "true"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument);
        // After `--`, or after the program, hyphens belong to the program.
        let cli = parse(&["runsc", "do", "--", "--frob"]);
        let Command::Do(d) = cli.command else {
            panic!("not do")
        };
        assert_eq!(d.command, vec!["--frob"]);
        let cli = parse(&["runsc", "do", "ls", "--frob", "-"]);
        let Command::Do(d) = cli.command else {
            panic!("not do")
        };
        assert_eq!(d.command, vec!["ls", "--frob", "-"]);
    }

    #[test]
    fn do_requires_a_program() {
        assert!(Cli::try_parse_from(["runsc", "do"]).is_err());
        assert!(Cli::try_parse_from(["runsc", "do", "--"]).is_err());
    }

    #[test]
    fn global_flags_before_subcommand() {
        let cli = parse(&[
            "runsc",
            "--strace-syscalls=read,openat",
            "--debug",
            "--debug-log",
            "/tmp/d/",
            "--log",
            "/tmp/l.json",
            "--log-format",
            "json",
            "--root",
            "/run/x",
            "--platform",
            "ptrace",
            "--network",
            "host",
            "do",
            "true",
        ]);
        let g = &cli.global;
        assert_eq!(
            g.strace_only(),
            Some(Some(vec!["read".into(), "openat".into()]))
        );
        assert!(g.debug);
        assert_eq!(g.debug_log, Some(PathBuf::from("/tmp/d/")));
        assert_eq!(g.parsed_log_format(), Ok(LogFormat::Json));
        assert_eq!(g.root, PathBuf::from("/run/x"));
        assert_eq!(g.validate(), Ok(()));
    }

    #[test]
    fn strace_alone_traces_everything_and_default_is_off() {
        assert_eq!(
            parse(&["runsc", "--strace", "do", "x"])
                .global
                .strace_only(),
            Some(None)
        );
        assert_eq!(parse(&["runsc", "do", "x"]).global.strace_only(), None);
    }

    #[test]
    fn unknown_platform_network_or_format_is_one_clear_error() {
        let e = parse(&["runsc", "--platform", "kvm", "do", "x"])
            .global
            .validate();
        assert!(e.unwrap_err().contains("--platform \"kvm\""));
        let e = parse(&["runsc", "--network", "sandbox", "do", "x"])
            .global
            .validate();
        assert!(e.unwrap_err().contains("--network"));
        let e = parse(&["runsc", "--host-uds", "all", "do", "x"])
            .global
            .validate();
        assert!(e.unwrap_err().contains("--host-uds"));
        let ok = parse(&["runsc", "--host-uds", "open", "do", "x"]).global;
        assert_eq!(ok.host_uds, "open");
        assert!(ok.validate().is_ok());
        let e = parse(&["runsc", "--log-format", "xml", "do", "x"])
            .global
            .validate();
        assert!(e.unwrap_err().contains("--log-format"));
    }

    #[test]
    fn hidden_boot_and_gofer_parse_fd_numbers() {
        let cli = parse(&[
            "runsc",
            "boot",
            "--io-fd",
            "5",
            "--spec-fd",
            "6",
            "--log-fd",
            "7",
        ]);
        let Command::Boot(b) = cli.command else {
            panic!("not boot")
        };
        assert_eq!((b.io_fd, b.spec_fd, b.log_fd), (5, 6, Some(7)));
        let cli = parse(&["runsc", "gofer", "--root", "/", "--io-fd", "4"]);
        let Command::Gofer(g) = cli.command else {
            panic!("not gofer")
        };
        assert_eq!((g.root, g.io_fd), (PathBuf::from("/"), vec![4]));
    }
}
