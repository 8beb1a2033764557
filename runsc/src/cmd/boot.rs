//! `runsc boot` (hidden): the sentry process of one sandbox, after gVisor's `runsc/cmd/boot.go`
//! and `runsc/boot/loader.go`. It reads its boot spec, starts the platform and the kernel, locks
//! itself down with its seccomp filter and runs the init process; its exit status is the init
//! process's (128+N for a death by signal N).
//!
//! An OCI container's mounts are made in the order its spec lists them, after the sentry's own
//! defaults that the spec does not list (runc's `mountToRootfs` loop; `mount_in_spec_order`),
//! each with the spec's source, flags, tmpfs options and propagation (mountinfo shows them as
//! Linux does; a bind's root is its host path within the host filesystem), then its masked and
//! read-only paths go over them and `linux.rootfsPropagation` applies to the root. A tmpfs with
//! `tmpcopyup` starts with a copy of the directory it covers (`crate::boot::copyup`). The
//! descriptors of `create --preserve-fds` become the init process's fds 3, 4, ... as host files.
//!
//! Order matters: everything that needs a host path or a host `execve` (the platform's master
//! stub, the debug log, which the front end opened for us) happens before the filter.
//!
//! A terminal made for the container as our stdin (`console.rs`): the signals it raises are
//! blocked before any thread starts; once the platform's stubs exist (they stay out of it), the
//! sentry leads a new session with that terminal as its controlling terminal, and a thread
//! forwards the terminal's signals to the sandbox (`sentry::fs::host::tty`).

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use sentry::control::Control;
use sentry::kernel::thread_group::Rlimit;
use sentry::kernel::{
    CapSets, Credentials, InitError, InitProcess, Kernel, KernelConfig, SandboxSettings,
    StraceConfig,
};
use sentry::net::NetworkMode;
use sentry::platform::ptrace::PtracePlatform;
use sentry::platform::systrap::SystrapPlatform;
use sentry::platform::Platform;

use crate::boot::spec::BootSpec;
use crate::boot::{copyup, filter, isolate};
use crate::cli::BootArgs;
use crate::console;
use crate::sys::take_inherited_fd;
use crate::{log, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, EXIT_RUNSC_FAILURE};

/// Runs the sentry; returns the exit status of `runsc boot`.
pub fn run(args: &BootArgs) -> i32 {
    match boot(args) {
        Ok(code) => code,
        Err(msg) => {
            log::error(&msg);
            EXIT_RUNSC_FAILURE
        }
    }
}

fn boot(args: &BootArgs) -> Result<i32, String> {
    // Before any thread exists, so that every thread of ours has these signals blocked.
    let console = console::is_unowned_terminal(std::io::stdin().as_fd());
    if console {
        console::block_terminal_signals().map_err(|e| e.to_string())?;
    }
    let spec_fd = take_inherited_fd(args.spec_fd).map_err(|e| format!("boot spec fd: {e}"))?;
    let io_fd = take_inherited_fd(args.io_fd).map_err(|e| format!("gofer fd: {e}"))?;
    let log_fd = match args.log_fd {
        Some(n) => Some(take_inherited_fd(n).map_err(|e| format!("log fd: {e}"))?),
        None => None,
    };
    // A created container: the control socket and the pipe that tells `runsc create` we are ready.
    let control_fd = match args.control_fd {
        Some(n) => Some(take_inherited_fd(n).map_err(|e| format!("control fd: {e}"))?),
        None => None,
    };
    let mut ready_fd = match args.ready_fd {
        Some(n) => Some(take_inherited_fd(n).map_err(|e| format!("ready fd: {e}"))?),
        None => None,
    };
    let mount_fds = args
        .mount_fd
        .iter()
        .map(|&n| take_inherited_fd(n).map_err(|e| format!("bind mount fd: {e}")))
        .collect::<Result<Vec<OwnedFd>, String>>()?;
    let spec = read_spec(spec_fd)?;
    let preserved = spec
        .settings
        .preserved_fds
        .iter()
        .map(|&n| take_inherited_fd(n).map_err(|e| format!("preserved fd: {e}")))
        .collect::<Result<Vec<OwnedFd>, String>>()?;
    if mount_fds.len() != spec.mounts.len() {
        return Err(format!(
            "{} bind mount channels for {} bind mounts",
            mount_fds.len(),
            spec.mounts.len()
        ));
    }
    let mut mounts: Vec<sentry::vfs::BindMount> = spec
        .mounts
        .iter()
        .zip(mount_fds)
        .map(|(m, fd)| sentry::vfs::BindMount {
            dest: m.dest.clone(),
            gofer: Arc::new(gofer::GoferClient::new(fd)),
            readonly: m.readonly,
        })
        .collect();
    // An OCI spec's mounts are made below, in its order, after the sentry's defaults.
    let spec_binds = match spec.settings.fs_mounts {
        Some(_) => std::mem::take(&mut mounts),
        None => Vec::new(),
    };
    sentry::log::init(log_fd, spec.debug);
    sentry::debug!(
        "boot: argv {:?}",
        spec.argv
            .iter()
            .map(|a| String::from_utf8_lossy(a))
            .collect::<Vec<_>>()
    );

    let stdio = [
        dup_stdio(std::io::stdin().as_fd())?,
        dup_stdio(std::io::stdout().as_fd())?,
        dup_stdio(std::io::stderr().as_fd())?,
    ];
    // Nothing below needs a host path or a privilege: leave the host's file tree (the front
    // end started us in a mount namespace of our own) and every capability, before the master
    // stub is exec'd (from a memfd) so that the stubs have none either: a tracer must hold
    // every capability its tracees have.
    isolate::enter_empty_root(&isolate::staging_dir())?;
    isolate::drop_capabilities()?;
    sentry::debug!("boot: in an empty root, without capabilities");
    if control_fd.is_some() && !console {
        lead_own_process_group();
    }
    // The master stub is started by exec: before the filter.
    let platform = start_platform(spec.settings.systrap)?;
    let client = gofer::GoferClient::new(io_fd);
    let mut settings = sandbox_settings(&spec.settings);
    if spec.settings.fs_mounts.is_some() {
        // Masks and read-only paths go over the spec's mounts, once they are made.
        settings.masked_paths.clear();
        settings.readonly_paths.clear();
    }
    let kernel = Kernel::new(
        KernelConfig {
            gofer: client,
            stdio,
            hostname: spec.hostname.clone(),
            creds: init_creds(&spec),
            strace: spec.strace.clone().map(|only| StraceConfig { only }),
            root_readonly: spec.root_readonly,
            root_direct: spec.settings.root_direct,
            mounts,
            settings,
        },
        syscalls::table(),
        platform,
    )
    .map_err(|e| format!("starting the kernel: {e}"))?;
    if let Some(list) = &spec.settings.fs_mounts {
        let root = kernel.vfs.root();
        mount_in_spec_order(
            &kernel.vfs,
            &root,
            list,
            spec_binds,
            dev_options(&spec.settings),
        )?;
        kernel
            .vfs
            .apply_path_policy(&spec.settings.masked_paths, &spec.settings.readonly_paths)
            .map_err(|e| format!("masked and read-only paths: {e}"))?;
    }
    if let Some(p) = &spec.settings.root_propagation {
        let flags = sentry::vfs::mount::propagation_flags(p)
            .ok_or(format!("root propagation {p:?}: not a propagation type"))?;
        kernel
            .vfs
            .set_propagation(b"/", flags)
            .map_err(|e| format!("root propagation {p}: {}", e.desc()))?;
    }
    if console {
        take_terminal(&kernel);
    }

    sentry::debug!(
        "boot: network {}",
        if spec.settings.host_network {
            "host (inet sockets are host sockets)"
        } else {
            "none (loopback only, in the sentry)"
        }
    );
    // `--host-uds=open`: connect(2) may reach host unix sockets through the gofer, which
    // connects them (the sentry's filter needs nothing more: see sentry::net::hostuds).
    sentry::net::hostuds::set_enabled(spec.settings.host_uds);
    let prog = filter::build(spec.settings.host_network).map_err(|e| e.to_string())?;
    filter::install(&prog).map_err(|e| e.to_string())?;
    sentry::debug!("boot: seccomp filter installed");

    let program = String::from_utf8_lossy(&spec.argv[0]).into_owned();
    let init = kernel.create_init(InitProcess {
        argv: spec.argv,
        envv: spec.envv,
        cwd: spec.cwd,
    });
    if let Ok(task) = &init {
        if let Err(msg) = give_preserved_fds(task, preserved) {
            report_ready(&mut ready_fd, &format!("error: {msg}"));
            return Err(msg);
        }
    }
    let Some(control_fd) = control_fd else {
        return match init {
            Ok(task) => Ok(task.run().shell_code()),
            Err(InitError::Exec(errno)) => {
                log::error(&format!("{program}: {}", errno.desc()));
                Ok(exec_failure_code(errno))
            }
            Err(other) => Err(format!("starting {program}: {other}")),
        };
    };
    // A created container: report whether init is loaded, then run it only once started.
    let task = match init {
        Ok(task) => task,
        Err(e) => {
            let msg = match e {
                InitError::Exec(errno) => format!("{program}: {}", errno.desc()),
                other => format!("starting {program}: {other}"),
            };
            report_ready(&mut ready_fd, &format!("error: {msg}"));
            return Err(msg);
        }
    };
    // A pod's app containers get their mounts as the sandbox did.
    sentry::control::containers::set_tree_mounter(mount_pod_container);
    let control = Control::serve(control_fd, kernel.clone());
    report_ready(&mut ready_fd, "ok");
    control.wait_for_start();
    let code = task.run().shell_code();
    control.finish(code);
    Ok(code)
}

/// `create --preserve-fds`: the host descriptors `fds` become the init process's fds 3, 4, ...
/// as host files (as `exec --preserve-fds` gives them to an exec'd process).
fn give_preserved_fds(task: &sentry::kernel::Task, fds: Vec<OwnedFd>) -> Result<(), String> {
    for (i, fd) in fds.into_iter().enumerate() {
        let n = i32::try_from(i + 3).map_err(|_| "too many preserved fds".to_string())?;
        task.fd_table
            .install_at(n, sentry::fs::host::stdio_file(fd, n), false)
            .map_err(|e| format!("preserved fd {n}: {}", e.desc()))?;
    }
    Ok(())
}

/// Makes our stdin (a terminal nobody controls) the sentry's controlling terminal and starts the
/// thread that forwards its signals; without it the terminal still works, minus its signals.
fn take_terminal(kernel: &Arc<Kernel>) {
    if let Err(e) = console::take_controlling_terminal(std::io::stdin().as_fd()) {
        sentry::warn!("boot: terminal signals will not reach the sandbox: {e}");
        console::unblock_terminal_signals();
        return;
    }
    let rdev = match nix::sys::stat::fstat(0) {
        Ok(st) => st.st_rdev,
        Err(e) => {
            sentry::warn!("boot: terminal signals will not reach the sandbox: fstat: {e}");
            return;
        }
    };
    let kernel = kernel.clone();
    let spawned = std::thread::Builder::new()
        .name("tty-signals".into())
        .spawn(move || loop {
            match console::wait_terminal_signal() {
                Ok(sig) => {
                    let n = sentry::fs::host::tty::deliver_terminal_signal(&kernel, rdev, sig);
                    sentry::debug!("boot: terminal signal {sig} forwarded to {n} processes");
                }
                Err(e) => {
                    sentry::debug!("boot: terminal signal thread: {e}");
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        sentry::warn!("boot: terminal signal thread: {e}");
    }
}

/// The init process's identity: the spec's user, with the spec's capability sets when it
/// has them (as runc applies them), else that user's usual ones.
fn init_creds(spec: &BootSpec) -> Credentials {
    let mut c = Credentials::new(spec.uid, spec.gid, spec.groups.clone());
    if let Some(caps) = spec.settings.caps {
        c.caps = CapSets {
            effective: caps.effective,
            permitted: caps.permitted,
            inheritable: caps.inheritable,
            bounding: caps.bounding,
            ambient: caps.ambient,
        };
    }
    c
}

/// The kernel's view of the spec's settings.
fn sandbox_settings(s: &crate::boot::spec::SpecSettings) -> SandboxSettings {
    let defaults = SandboxSettings::default();
    SandboxSettings {
        rlimits: s
            .rlimits
            .iter()
            .map(|r| {
                (
                    r.resource,
                    Rlimit {
                        cur: r.soft,
                        max: r.hard,
                    },
                )
            })
            .collect(),
        umask: s.umask.map_or(defaults.umask, |m| m & 0o777),
        no_new_privs: s.no_new_privs,
        oom_score_adj: s.oom_score_adj.unwrap_or(0),
        domainname: s.domainname.clone().unwrap_or(defaults.domainname),
        sysctl: s
            .sysctl
            .iter()
            .map(|(k, v)| (k.replace('.', "/"), v.clone()))
            .collect(),
        masked_paths: s.masked_paths.clone(),
        readonly_paths: s.readonly_paths.clone(),
        seccomp: crate::oci::seccomp::program(s.seccomp.as_deref()),
        network: if s.host_network {
            NetworkMode::Host
        } else {
            NetworkMode::None
        },
        own_pts_numbers: s.own_pts_numbers,
    }
}

/// The sentry's own mounts (`Vfs::new_sandbox_with`), in its order: path, device minor,
/// read-only, type.
const DEFAULT_MOUNTS: &[(&[u8], u64, bool, &str)] = &[
    (b"/tmp", 0x40, false, "tmpfs"),
    (b"/dev", 0x41, false, "devtmpfs"),
    (b"/dev/pts", 0x46, false, "devpts"),
    (b"/dev/shm", 0x43, false, "tmpfs"),
    (b"/dev/mqueue", 0x49, false, "mqueue"),
    (b"/proc", 0x42, false, "proc"),
    (b"/sys", 0x48, true, "sysfs"),
];

/// Device minors of the spec's other mounts.
static NEXT_SPEC_MINOR: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0x4000);

/// `b` lies strictly below the directory `a`.
fn is_below(b: &[u8], a: &[u8]) -> bool {
    b.len() > a.len() && b.starts_with(a) && (a == b"/" || b[a.len()] == b'/')
}

/// `path` without trailing slashes ("/" stays).
fn clean(path: &[u8]) -> &[u8] {
    let mut p = path;
    while p.len() > 1 && p.ends_with(b"/") {
        p = &p[..p.len() - 1];
    }
    p
}

/// The /dev of an OCI container: the spec's devices, /dev/ptmx a symlink into /dev/pts.
fn dev_options(s: &crate::boot::spec::SpecSettings) -> sentry::fs::dev::DevOptions {
    sentry::fs::dev::DevOptions {
        ptmx_symlink: true,
        devices: s
            .devices
            .iter()
            .map(|d| sentry::fs::dev::DeviceNode {
                name: d.name.clone(),
                kind: d.kind,
                major: d.major,
                minor: d.minor,
                perm: d.perm,
                uid: d.uid,
                gid: d.gid,
            })
            .collect(),
    }
}

/// The next device minor for a filesystem of its own.
fn next_spec_minor() -> u64 {
    NEXT_SPEC_MINOR.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A new instance of one of the sentry's default filesystems: root, read-only, type. `fresh`:
/// with a device number of its own (a pod container's), not the sandbox's for that path.
fn default_fs(
    path: &[u8],
    dev: &sentry::fs::dev::DevOptions,
    fresh: bool,
) -> Option<(Arc<dyn sentry::vfs::Inode>, bool, &'static str)> {
    use sentry::fs;
    use sentry::vfs::anon_dev;
    let &(_, minor, ro, ty) = DEFAULT_MOUNTS.iter().find(|m| m.0 == path)?;
    let minor = if fresh { next_spec_minor() } else { minor };
    let root: Arc<dyn sentry::vfs::Inode> = match path {
        b"/tmp" | b"/dev/shm" => fs::tmpfs::new_root(anon_dev(minor), 0o1777),
        b"/dev" => fs::dev::new_root_with(anon_dev(minor), dev.clone()),
        b"/dev/pts" => fs::devpts::new_root(anon_dev(minor)),
        b"/dev/mqueue" => fs::mqueue::new_root(),
        b"/proc" => fs::proc::new_root(anon_dev(minor)),
        _ => fs::sysfs::new_root(anon_dev(minor)),
    };
    Some((root, ro, ty))
}

/// The filesystem of the spec's mount `m` (binds take the next of `binds`), configured by the
/// data part of its options (`data`): root, type, options as mountinfo shows them.
fn spec_fs(
    m: &crate::boot::spec::FsMountSpec,
    binds: &mut std::vec::IntoIter<sentry::vfs::BindMount>,
    dev: &sentry::fs::dev::DevOptions,
    data: &[u8],
    fresh: bool,
) -> Result<(Arc<dyn sentry::vfs::Inode>, &'static str, String), String> {
    use crate::boot::spec::FsKind;
    use sentry::fs;
    use sentry::vfs::anon_dev;
    let dest = clean(&m.dest);
    let minor = DEFAULT_MOUNTS
        .iter()
        .find(|d| d.0 == dest && !fresh)
        .map(|d| d.1)
        .unwrap_or_else(next_spec_minor);
    let shown = String::from_utf8_lossy(dest);
    Ok(match m.kind {
        FsKind::Proc => (fs::proc::new_root(anon_dev(minor)), "proc", String::new()),
        FsKind::Sysfs => (fs::sysfs::new_root(anon_dev(minor)), "sysfs", String::new()),
        // A tmpfs at /dev is the sentry's /dev over a tmpfs of those options (as runc fills
        // the tmpfs with device nodes).
        FsKind::Tmpfs if dest == b"/dev" => {
            match fs::dev::new_root_on_tmpfs(anon_dev(minor), dev.clone(), data) {
                Ok((root, options)) => (root, "tmpfs", options),
                Err(e) => {
                    sentry::warn!(
                        "mount {shown}: tmpfs options {:?}: {}; a read-only /dev",
                        String::from_utf8_lossy(data),
                        e.desc()
                    );
                    (
                        fs::dev::new_root_with(anon_dev(minor), dev.clone()),
                        "tmpfs",
                        String::new(),
                    )
                }
            }
        }
        FsKind::Tmpfs => match sentry::vfs::mount::new_tmpfs(anon_dev(minor), data) {
            Ok((root, options)) => (root, "tmpfs", options),
            Err(e) => {
                // An option tmpfs does not know: the mode alone, as before options were read.
                sentry::warn!(
                    "mount {shown}: tmpfs options {:?}: {}; using the defaults",
                    String::from_utf8_lossy(data),
                    e.desc()
                );
                let mode = m.mode.unwrap_or(0o1777) & 0o7777;
                (
                    fs::tmpfs::new_root(anon_dev(minor), mode),
                    "tmpfs",
                    String::new(),
                )
            }
        },
        FsKind::Devpts => match fs::devpts::new_instance(anon_dev(minor), data) {
            Ok((root, options)) => (root, "devpts", options),
            Err(e) => {
                sentry::warn!(
                    "mount {shown}: devpts options {:?}: {}; using the defaults",
                    String::from_utf8_lossy(data),
                    e.desc()
                );
                (
                    fs::devpts::new_root(anon_dev(minor)),
                    "devpts",
                    String::new(),
                )
            }
        },
        FsKind::Mqueue => (fs::mqueue::new_root(), "mqueue", String::new()),
        FsKind::Bind => {
            let b = binds
                .next()
                .ok_or(format!("mount {shown}: no bind mount channel"))?;
            let root = fs::gofer::new_mount_root(b.gofer, b.readonly)
                .map_err(|e| format!("mount {shown}: {}", e.desc()))?;
            (root, "9p", String::new())
        }
    })
}

/// Takes the mount at `path` (and every mount below it) out of the tree whose root is `tree`,
/// if `path` is a mount's root other than the tree's root.
fn detach(vfs: &sentry::vfs::Vfs, tree: &Arc<sentry::vfs::Dentry>, path: &[u8]) {
    let mut ctx = vfs.root_ctx();
    ctx.root = tree.clone();
    ctx.start = tree.clone();
    let Ok(d) = vfs.lookup_in(&ctx, path, false) else {
        return;
    };
    let is_root_of_mount =
        Arc::as_ptr(&d.mount.root) as *const () == Arc::as_ptr(&d.inode) as *const ();
    if is_root_of_mount && d.mount.id != tree.mount.id {
        vfs.release_tree(&d);
    }
}

/// Makes the OCI spec's mounts in its order (runc's `mountToRootfs` loop), so that
/// /proc/self/mountinfo lists them as the spec does. The sentry's defaults that the spec also
/// mounts (and /dev, which holds the spec's devices) are taken away first with what lies below
/// them; those below that the spec does not list come back right after the spec's mount they
/// lie in, or first when none. `tree` is the sandbox's root, or a pod container's
/// (`mount_pod_container`).
fn mount_in_spec_order(
    vfs: &sentry::vfs::Vfs,
    tree: &Arc<sentry::vfs::Dentry>,
    list: &[crate::boot::spec::FsMountSpec],
    binds: Vec<sentry::vfs::BindMount>,
    dev: sentry::fs::dev::DevOptions,
) -> Result<(), String> {
    // A pod container's filesystems get device numbers of their own.
    let fresh = tree.mount.id != vfs.root().mount.id;
    let listed: Vec<&[u8]> = list.iter().map(|m| clean(&m.dest)).collect();
    let defaults: Vec<&[u8]> = DEFAULT_MOUNTS.iter().map(|m| m.0).collect();
    let rebuilt: Vec<&[u8]> = defaults
        .iter()
        .copied()
        .filter(|d| *d == b"/dev" || listed.contains(d))
        .collect();
    let gone: Vec<&[u8]> = defaults
        .iter()
        .copied()
        .filter(|d| rebuilt.iter().any(|r| r == d || is_below(d, r)))
        .collect();
    for r in &rebuilt {
        if !rebuilt.iter().any(|a| is_below(r, a)) {
            detach(vfs, tree, r);
        }
    }
    // The defaults to make again: each after the last spec mount it lies below (None: first).
    let readd: Vec<(&[u8], Option<usize>)> = gone
        .iter()
        .copied()
        .filter(|d| !listed.contains(d))
        .map(|d| (d, listed.iter().rposition(|l| is_below(d, l))))
        .collect();
    let mount_default = |path: &[u8]| -> Result<(), String> {
        let shown = String::from_utf8_lossy(path).into_owned();
        let (root, ro, ty) =
            default_fs(path, &dev, fresh).ok_or(format!("{shown}: not a default mount"))?;
        vfs.mount_in(tree, path, root, ro, ty)
            .map_err(|e| format!("mounting {shown}: {}", e.desc()))
    };
    for (d, _) in readd.iter().filter(|(_, at)| at.is_none()) {
        mount_default(d)?;
    }
    let mut binds = binds.into_iter();
    for (i, m) in list.iter().enumerate() {
        let dest = clean(&m.dest);
        let shown = String::from_utf8_lossy(dest).into_owned();
        let (copy_up, options) = copyup::take_option(&m.options);
        let (mut flags, data) = sentry::vfs::mount::split_mount_options(&options);
        if m.readonly {
            flags |= sentry::vfs::mount::MS_RDONLY;
        }
        let (root, ty, super_options) = spec_fs(m, &mut binds, &dev, &data, fresh)?;
        let bind = m.kind == crate::boot::spec::FsKind::Bind;
        if copy_up {
            copy_up_into(vfs, tree, m, &root)?;
        }
        // A new filesystem mounted read-only is itself read-only; a read-only bind is not
        // (Linux `do_new_mount` and `do_loopback`). Only a bind has a root other than "/".
        let how = sentry::vfs::mount::MountShown {
            source: &m.source,
            flags,
            super_readonly: !bind && flags & sentry::vfs::mount::MS_RDONLY != 0,
            super_options,
            root: if bind { m.root.clone() } else { b"/".to_vec() },
        };
        vfs.mount_shown_in(tree, dest, root, ty, how)
            .map_err(|e| format!("mounting {shown}: {}", e.desc()))?;
        // Propagation words apply after the mount, in order (runc's `mountPropagate`).
        for flags in m
            .options
            .iter()
            .filter_map(|o| sentry::vfs::mount::propagation_flags(o))
        {
            if let Err(e) = vfs.set_propagation_in(tree, dest, flags) {
                sentry::warn!("mount {shown}: propagation {flags:#x}: {}", e.desc());
            }
        }
        for (d, _) in readd.iter().filter(|(_, at)| *at == Some(i)) {
            mount_default(d)?;
        }
    }
    Ok(())
}

/// `tmpcopyup` on the spec's mount `m`: fills its new filesystem's root `root` with a copy of
/// the directory it is about to cover in `tree` (runc's `doTmpfsCopyUp`); nothing when that
/// path does not exist yet. Only a tmpfs is filled (the sentry's /dev on a tmpfs is not).
fn copy_up_into(
    vfs: &sentry::vfs::Vfs,
    tree: &Arc<sentry::vfs::Dentry>,
    m: &crate::boot::spec::FsMountSpec,
    root: &Arc<dyn sentry::vfs::Inode>,
) -> Result<(), String> {
    let dest = clean(&m.dest);
    let shown = String::from_utf8_lossy(dest);
    if m.kind != crate::boot::spec::FsKind::Tmpfs || dest == b"/dev" {
        sentry::warn!("mount {shown}: tmpcopyup applies to a tmpfs only; ignored");
        return Ok(());
    }
    let mut ctx = vfs.root_ctx();
    ctx.root = tree.clone();
    ctx.start = tree.clone();
    let below = match vfs.lookup_in(&ctx, dest, true) {
        Ok(d) => d,
        Err(sentry::Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(format!("mount {shown}: tmpcopyup: {}", e.desc())),
    };
    match below.inode.stat(None) {
        Ok(st) if st.is_dir() => {}
        _ => return Ok(()),
    }
    let skipped = copyup::copy_up(&below.inode, root)
        .map_err(|e| format!("mount {shown}: tmpcopyup: {}", e.desc()))?;
    for p in skipped {
        sentry::warn!(
            "mount {shown}: tmpcopyup: {} is a device or socket; not copied",
            String::from_utf8_lossy(&p)
        );
    }
    Ok(())
}

/// Mounts a pod's app container's filesystems on its tree `tree` (its root; see
/// `sentry::control::containers`) as a sandbox's own are made: the sentry's defaults with the
/// container's devices, then its spec's mounts in their order (`spec` is its boot spec's JSON,
/// `binds` its bind mounts' channels in the spec's order).
pub fn mount_pod_container(
    vfs: &sentry::vfs::Vfs,
    tree: &Arc<sentry::vfs::Dentry>,
    spec: &[u8],
    binds: Vec<sentry::vfs::BindMount>,
) -> Result<(), String> {
    let spec = BootSpec::from_json(spec).map_err(|e| e.to_string())?;
    let dev = dev_options(&spec.settings);
    for &(path, ..) in DEFAULT_MOUNTS {
        let shown = String::from_utf8_lossy(path);
        let (root, ro, ty) =
            default_fs(path, &dev, true).ok_or(format!("{shown}: not a default mount"))?;
        vfs.mount_in(tree, path, root, ro, ty)
            .map_err(|e| format!("mounting {shown}: {}", e.desc()))?;
    }
    let list = spec.settings.fs_mounts.clone().unwrap_or_default();
    mount_in_spec_order(vfs, tree, &list, binds, dev)?;
    vfs.apply_path_policy_in(
        tree,
        &spec.settings.masked_paths,
        &spec.settings.readonly_paths,
    )
    .map_err(|e| format!("masked and read-only paths: {e}"))?;
    if let Some(p) = &spec.settings.root_propagation {
        let flags = sentry::vfs::mount::propagation_flags(p)
            .ok_or(format!("root propagation {p:?}: not a propagation type"))?;
        vfs.set_propagation_in(tree, b"/", flags)
            .map_err(|e| format!("root propagation {p}: {}", e.desc()))?;
    }
    Ok(())
}

/// Tells `runsc create` how the start went, then closes the pipe.
fn report_ready(fd: &mut Option<OwnedFd>, line: &str) {
    if let Some(fd) = fd.take() {
        let _ = std::fs::File::from(fd).write_all(format!("{line}\n").as_bytes());
    }
}

/// The shell's status for a program that could not be executed: 127 when it does not exist,
/// 126 when it exists but cannot run (bash(1), "EXIT STATUS").
pub fn exec_failure_code(errno: nix::errno::Errno) -> i32 {
    use nix::errno::Errno;
    match errno {
        Errno::ENOENT | Errno::ENOTDIR => EXIT_NOT_FOUND,
        _ => EXIT_NOT_EXECUTABLE,
    }
}

fn read_spec(fd: OwnedFd) -> Result<BootSpec, String> {
    let mut data = Vec::new();
    std::fs::File::from(fd)
        .read_to_end(&mut data)
        .map_err(|e| format!("reading the boot spec: {e}"))?;
    BootSpec::from_json(&data).map_err(|e| e.to_string())
}

fn dup_stdio(fd: std::os::fd::BorrowedFd<'_>) -> Result<OwnedFd, String> {
    fd.try_clone_to_owned()
        .map_err(|e| format!("duplicating stdio: {e}"))
}

/// Makes a container's sentry (and so the platform's stubs, forked from it next) lead a
/// process group of its own. The stubs sit in ptrace stops; left in the group of `runsc
/// create`, that group becomes orphaned with stopped members when create's caller ends
/// (`timeout`, a job-control shell: setpgid(2) callers), and the kernel's SIGHUP to it
/// reaches the supervisor, which ends the container (runc's containers survive that).
/// Not when a terminal is on fds 0-2: a background group could not use it.
fn lead_own_process_group() {
    let tty = [0, 1, 2]
        .iter()
        .any(|&fd| nix::unistd::isatty(fd).unwrap_or(false));
    if tty {
        return;
    }
    let own = nix::unistd::Pid::from_raw(0);
    if let Err(e) = nix::unistd::setpgid(own, own) {
        sentry::warn!("boot: setpgid: {e}");
    }
}

/// The platform `--platform` asked for: systrap where this host can run it (the platform
/// probes itself), else ptrace with the reason logged.
fn start_platform(systrap: bool) -> Result<Arc<dyn Platform>, String> {
    if systrap {
        match SystrapPlatform::new() {
            Ok(platform) => {
                sentry::debug!("boot: platform systrap");
                return Ok(Arc::new(platform));
            }
            Err(e) => sentry::warn!("systrap platform unavailable ({e}); using ptrace"),
        }
    }
    let platform =
        PtracePlatform::new().map_err(|e| format!("starting the ptrace platform: {e}"))?;
    Ok(Arc::new(platform))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;

    #[test]
    fn paths_below_and_trailing_slashes() {
        assert!(is_below(b"/dev/pts", b"/dev"));
        assert!(is_below(b"/dev", b"/"));
        assert!(!is_below(b"/devices", b"/dev"));
        assert!(!is_below(b"/dev", b"/dev"));
        assert_eq!(clean(b"/dev/shm//"), b"/dev/shm");
        assert_eq!(clean(b"/"), b"/");
        // Every default the sentry makes is one `default_fs` can make again.
        let dev = sentry::fs::dev::DevOptions::default();
        for (path, _, ro, ty) in DEFAULT_MOUNTS {
            let (_, r, t) = default_fs(path, &dev, false).unwrap();
            assert_eq!((r, t), (*ro, *ty));
        }
        assert!(default_fs(b"/mnt", &dev, true).is_none());
    }

    #[test]
    fn exec_failures_map_like_a_shell() {
        assert_eq!(exec_failure_code(Errno::ENOENT), 127);
        assert_eq!(exec_failure_code(Errno::ENOTDIR), 127);
        assert_eq!(exec_failure_code(Errno::EACCES), 126);
        assert_eq!(exec_failure_code(Errno::ENOEXEC), 126);
        assert_eq!(exec_failure_code(Errno::ELOOP), 126);
    }
}
