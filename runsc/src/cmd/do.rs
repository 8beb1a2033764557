//! `runsc do`: run one program in a new sandbox without an OCI bundle, after gVisor's
//! `runsc/cmd/do.go`. The root is the host's `/` (or `--rootfs`) served read-only by the gofer
//! under a writable overlay whose changes stay in the sandbox (`--read-only`: EROFS instead;
//! `--overlay=none`: written through to the host);
//! `--volume` binds host directories, written through unless `:ro`;
//! the program gets runsc's own environment plus `--env`, the caller's credentials and
//! hostname, and runsc exits with the program's status (128+N for a death by signal N).

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::boot::isolate::NetworkNamespace;
use crate::boot::spec::{BootSpec, MountSpec, SpecSettings};
use crate::cli::{DoArgs, GlobalOpts};
use crate::sandbox::{HostMount, Sandbox, SandboxConfig, SandboxExit};
use crate::{log, EXIT_NOT_FOUND, EXIT_RUNSC_FAILURE};

/// `PATH` used to find the program when the environment has none (glibc's execvp default
/// plus the sbin directories, as gVisor's `do` uses).
const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Runs `runsc do`; returns runsc's exit status.
pub fn run(global: &GlobalOpts, args: &DoArgs) -> i32 {
    match prepare(global, args) {
        Ok(Prepared::Start(config)) => start_and_wait(*config),
        Ok(Prepared::NotFound(program)) => {
            log::error(&format!("{program}: command not found"));
            EXIT_NOT_FOUND
        }
        Err(msg) => {
            log::error(&msg);
            EXIT_RUNSC_FAILURE
        }
    }
}

enum Prepared {
    Start(Box<SandboxConfig>),
    /// PROGRAM has no '/' and is nowhere on the `PATH`.
    NotFound(String),
}

fn prepare(global: &GlobalOpts, args: &DoArgs) -> Result<Prepared, String> {
    let host_network = match global.network.as_deref().unwrap_or("none") {
        "host" => true,
        "none" => false,
        other => {
            return Err(format!(
                "unsupported --network {other:?} (supported: none, host)"
            ))
        }
    };
    log::info(if host_network {
        "network: host (inet sockets are host sockets in this network namespace)"
    } else {
        "network: none (loopback only, in the sandbox)"
    });
    let root = std::fs::canonicalize(&args.rootfs)
        .map_err(|e| format!("--rootfs {}: {e}", args.rootfs.display()))?;
    if !root.is_dir() {
        return Err(format!(
            "--rootfs {}: not a directory",
            args.rootfs.display()
        ));
    }
    let envv = build_env(std::env::vars_os(), &args.env)?;
    let volumes = args
        .volumes
        .iter()
        .map(|v| parse_volume(v))
        .collect::<Result<Vec<Volume>, String>>()?;
    let cwd = match &args.cwd {
        Some(c) if c.is_absolute() => c.clone(),
        Some(c) => return Err(format!("--cwd {}: must be an absolute path", c.display())),
        None if root == Path::new("/") => {
            std::env::current_dir().map_err(|e| format!("current directory: {e}"))?
        }
        None => PathBuf::from("/"),
    };

    let program = args.command[0].as_bytes();
    let path_var = envv
        .iter()
        .find_map(|kv| kv.strip_prefix(b"PATH="))
        .unwrap_or(DEFAULT_PATH);
    let Some(resolved) = resolve_program(program, path_var, &root) else {
        return Ok(Prepared::NotFound(
            String::from_utf8_lossy(program).into_owned(),
        ));
    };
    let mut argv: Vec<Vec<u8>> = args.command.iter().map(|a| a.as_bytes().to_vec()).collect();
    // The sentry executes argv[0]; the resolved path replaces the bare name.
    argv[0] = resolved;

    let hostname = nix::unistd::gethostname()
        .map_err(|e| format!("gethostname: {e}"))?
        .to_string_lossy()
        .into_owned();
    let groups = nix::unistd::getgroups()
        .map_err(|e| format!("getgroups: {e}"))?
        .into_iter()
        .map(|g| g.as_raw())
        .collect();
    let spec = BootSpec {
        argv,
        envv,
        cwd: cwd.into_os_string().into_vec(),
        hostname,
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        groups,
        strace: global.strace_only(),
        debug: global.debug,
        root_readonly: args.read_only,
        mounts: volumes.iter().map(|v| v.spec.clone()).collect(),
        settings: SpecSettings {
            host_network,
            root_direct: global.overlay == "none",
            host_uds: global.host_uds == "open",
            systrap: global.platform == "systrap",
            ..Default::default()
        },
    };
    let debug_log = match &global.debug_log {
        Some(p) => Some(open_debug_log(p)?),
        None => None,
    };
    Ok(Prepared::Start(Box::new(SandboxConfig {
        root,
        spec,
        debug_log,
        mounts: volumes.into_iter().map(|v| v.host).collect(),
        network: if host_network {
            NetworkNamespace::Host
        } else {
            NetworkNamespace::New
        },
        namespaces: Default::default(),
        detached: None,
        preserved: Vec::new(),
    })))
}

fn start_and_wait(config: SandboxConfig) -> i32 {
    let sandbox = match Sandbox::start(config) {
        Ok(s) => s,
        Err(e) => {
            log::error(&e.to_string());
            return EXIT_RUNSC_FAILURE;
        }
    };
    log::info(&format!(
        "sandbox started: sentry pid {}, gofer pid {}",
        sandbox.boot_pid(),
        sandbox.gofer_pid()
    ));
    match sandbox.wait() {
        Ok(SandboxExit::Exited(code)) => code,
        Ok(SandboxExit::Killed(sig)) => {
            let name = nix::sys::signal::Signal::try_from(sig)
                .map(|s| s.as_str())
                .unwrap_or("?");
            log::error(&format!(
                "the sentry (runsc boot) was killed by signal {sig} ({name})"
            ));
            128 + sig
        }
        Err(e) => {
            log::error(&e.to_string());
            EXIT_RUNSC_FAILURE
        }
    }
}

/// A `--volume`: the host side for the gofer, the sandbox side for the sentry.
pub struct Volume {
    pub host: HostMount,
    pub spec: MountSpec,
}

/// `HOST:SANDBOX` or `HOST:SANDBOX:ro` (or `:rw`); HOST must be a directory.
pub fn parse_volume(arg: &str) -> Result<Volume, String> {
    let parts: Vec<&str> = arg.split(':').collect();
    let (host, dest, readonly) = match parts.as_slice() {
        [h, d] => (*h, *d, false),
        [h, d, "ro"] => (*h, *d, true),
        [h, d, "rw"] => (*h, *d, false),
        _ => return Err(format!("--volume {arg:?}: expected HOST:SANDBOX[:ro|rw]")),
    };
    if !dest.starts_with('/') {
        return Err(format!(
            "--volume {arg:?}: {dest:?} is not an absolute path"
        ));
    }
    let source =
        std::fs::canonicalize(host).map_err(|e| format!("--volume {arg:?}: {host}: {e}"))?;
    if !source.is_dir() && !source.is_file() {
        return Err(format!(
            "--volume {arg:?}: {host} is neither a directory nor a regular file"
        ));
    }
    Ok(Volume {
        host: HostMount { source, readonly },
        spec: MountSpec {
            dest: dest.as_bytes().to_vec(),
            readonly,
        },
    })
}

/// The program's environment: runsc's own, then each `K=V` of `--env` replacing or adding `K`.
pub fn build_env(
    own: impl Iterator<Item = (OsString, OsString)>,
    overrides: &[String],
) -> Result<Vec<Vec<u8>>, String> {
    let mut env: Vec<Vec<u8>> = own
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            kv
        })
        .collect();
    for o in overrides {
        let Some((key, _)) = o.split_once('=') else {
            return Err(format!("--env {o:?}: expected KEY=VALUE"));
        };
        if key.is_empty() {
            return Err(format!("--env {o:?}: empty variable name"));
        }
        let prefix_len = key.len() + 1;
        match env
            .iter_mut()
            .find(|kv| kv.len() >= prefix_len && kv[..prefix_len] == o.as_bytes()[..prefix_len])
        {
            Some(kv) => *kv = o.as_bytes().to_vec(),
            None => env.push(o.as_bytes().to_vec()),
        }
    }
    Ok(env)
}

/// Finds `program` the way execvp(3) and a shell do, looking at the sandbox's root from the
/// host: a name with a '/' is used as is; otherwise the first `PATH` entry holding an executable
/// regular file (or a symlink, which only the sandbox can resolve) wins, else the first holding
/// a non-executable file (so that the sandbox reports EACCES, status 126). None if nothing
/// matches (status 127).
pub fn resolve_program(program: &[u8], path_var: &[u8], root: &Path) -> Option<Vec<u8>> {
    if program.contains(&b'/') {
        return Some(program.to_vec());
    }
    if program.is_empty() {
        return None;
    }
    let mut not_executable = None;
    for dir in path_var.split(|&b| b == b':') {
        // Relative entries (including the empty one, meaning ".") are not searched.
        if dir.first() != Some(&b'/') {
            continue;
        }
        let mut candidate = dir.to_vec();
        if candidate.last() != Some(&b'/') {
            candidate.push(b'/');
        }
        candidate.extend_from_slice(program);
        let host = root.join(Path::new(std::ffi::OsStr::from_bytes(&candidate[1..])));
        let Ok(meta) = std::fs::symlink_metadata(&host) else {
            continue;
        };
        let ft = meta.file_type();
        if ft.is_symlink() {
            // Follow it on the host only when the root is the host's own `/`.
            match std::fs::metadata(&host) {
                Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => {
                    return Some(candidate)
                }
                Ok(m) if m.is_file() => {
                    not_executable.get_or_insert(candidate);
                }
                Ok(_) => {}
                Err(_) if root != Path::new("/") => return Some(candidate),
                Err(_) => {}
            }
        } else if ft.is_file() {
            if meta.permissions().mode() & 0o111 != 0 {
                return Some(candidate);
            }
            not_executable.get_or_insert(candidate);
        }
    }
    not_executable
}

/// Opens the debug log: `DIR/runsc.PID.log` when the path is a directory or ends with '/'
/// (created if needed), else the file itself. Appends.
pub fn open_debug_log(path: &Path) -> Result<File, String> {
    let is_dir = path.as_os_str().as_bytes().ends_with(b"/") || path.is_dir();
    let file = if is_dir {
        std::fs::create_dir_all(path)
            .map_err(|e| format!("--debug-log {}: {e}", path.display()))?;
        path.join(format!("runsc.{}.log", std::process::id()))
    } else {
        path.to_path_buf()
    };
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .map_err(|e| format!("--debug-log {}: {e}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("runsc-do-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn write_file(p: &Path, mode: u32) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn env_overrides_replace_or_append() {
        let own = vec![
            (OsString::from("PATH"), OsString::from("/bin")),
            (OsString::from("PATHX"), OsString::from("1")),
        ];
        let env = build_env(own.into_iter(), &["PATH=/x".into(), "NEW=a=b".into()]).unwrap();
        assert_eq!(
            env,
            vec![
                b"PATH=/x".to_vec(),
                b"PATHX=1".to_vec(),
                b"NEW=a=b".to_vec()
            ]
        );
        assert!(build_env(std::iter::empty(), &["NOEQUALS".into()]).is_err());
        assert!(build_env(std::iter::empty(), &["=v".into()]).is_err());
    }

    #[test]
    fn program_with_slash_is_used_as_is() {
        assert_eq!(
            resolve_program(b"./x", b"/bin", Path::new("/")),
            Some(b"./x".to_vec())
        );
        assert_eq!(
            resolve_program(b"/nonexistent", b"/bin", Path::new("/")),
            Some(b"/nonexistent".to_vec())
        );
    }

    #[test]
    fn path_search_in_a_rootfs_prefers_executables() {
        let root = tmpdir("path");
        write_file(&root.join("a/prog"), 0o644);
        write_file(&root.join("b/prog"), 0o755);
        write_file(&root.join("a/only_plain"), 0o600);
        std::fs::create_dir_all(root.join("c")).unwrap();
        symlink("/opt/elsewhere/prog", root.join("c/linked")).unwrap();
        assert_eq!(
            resolve_program(b"prog", b"/a:/b", &root),
            Some(b"/b/prog".to_vec())
        );
        assert_eq!(
            resolve_program(b"only_plain", b"/a:/b", &root),
            Some(b"/a/only_plain".to_vec())
        );
        // A dangling absolute symlink may resolve inside the sandbox: let the sandbox decide.
        assert_eq!(
            resolve_program(b"linked", b"/c", &root),
            Some(b"/c/linked".to_vec())
        );
        assert_eq!(resolve_program(b"missing", b"/a:/b:relative:", &root), None);
        assert_eq!(resolve_program(b"", b"/a", &root), None);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn path_search_on_the_host_root_finds_sh() {
        let found = resolve_program(b"sh", b"/usr/bin:/bin", Path::new("/")).unwrap();
        assert!(
            found.ends_with(b"/sh"),
            "{}",
            String::from_utf8_lossy(&found)
        );
    }

    #[test]
    fn debug_log_directory_gets_a_file_per_sandbox() {
        let dir = tmpdir("dlog");
        let mut p = dir.clone().into_os_string();
        p.push("/sub/");
        let _f = open_debug_log(Path::new(&p)).unwrap();
        let expected = dir
            .join("sub")
            .join(format!("runsc.{}.log", std::process::id()));
        assert!(expected.is_file());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
