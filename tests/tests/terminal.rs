//! Terminals (OCI runtime-spec `process.terminal`/`consoleSize`, runc's `--console-socket`;
//! pty(7), tty_ioctl(4)): `create --console-socket` hands the pty master to a listener over
//! SCM_RIGHTS, the container's fds 0-2 are the slave (`tty` prints a /dev/pts name, `stty size`
//! the consoleSize, a TIOCSWINSZ on the master shows up inside), and the pid-file process exits
//! with the container's status. Checked against `runc` too, the reference. `runsc do` with a
//! terminal as stdin prints the same `tty` name as the native run.
//!
//! The test binary is a child subreaper, as shims are (see oci_lifecycle.rs, whose helpers are
//! copied here).

use std::fs;
use std::io::{IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, Once};
use std::time::{Duration, Instant};

use serde_json::Value;
use tests::{runsc_bin, unique_tmp_path};

const RUNC: &str = "/usr/sbin/runc";
const BUSYBOX: &str = "/bin/busybox";
/// How long any one step may take before the test calls it hung.
const LIMIT: Duration = Duration::from_secs(30);

fn become_subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: PR_SET_CHILD_SUBREAPER only changes who adopts this process's orphans.
        let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(r, 0, "PR_SET_CHILD_SUBREAPER");
    });
}

struct Runtime {
    name: &'static str,
    bin: PathBuf,
    root: PathBuf,
}

impl Runtime {
    fn new(name: &'static str, bin: PathBuf) -> Runtime {
        Runtime {
            name,
            bin,
            root: unique_tmp_path(&format!("tty-{name}-root")),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root")
            .arg(&self.root)
            .args(args)
            .env_clear()
            .envs(tests::FIXED_ENV.iter().copied())
            .stdin(Stdio::null());
        cmd
    }

    /// A short command whose output goes to a file (nothing may hang on a pipe).
    fn short(&self, args: &[&str], bundle: &Path) -> (i32, String) {
        let out_path = bundle.join(format!("{}.out", args[0]));
        let out = fs::File::create(&out_path).unwrap();
        let status = self
            .command(args)
            .current_dir(bundle)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .status()
            .unwrap();
        (
            tests::shell_status(status),
            fs::read_to_string(&out_path).unwrap_or_default(),
        )
    }

    fn cleanup(&self, id: &str, bundle: &Path) {
        let _ = self.short(&["delete", "--force", id], bundle);
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// A bundle whose rootfs holds busybox, running `sh` (interactive) on a terminal of
/// `rows` x `cols`.
fn terminal_bundle(rt: &Runtime, rows: u64, cols: u64) -> PathBuf {
    assert!(Path::new(BUSYBOX).is_file(), "{BUSYBOX} is missing");
    let dir = unique_tmp_path(&format!("tty-{}-bundle", rt.name));
    let bin = dir.join("rootfs/bin");
    fs::create_dir_all(&bin).unwrap();
    fs::copy(BUSYBOX, bin.join("busybox")).unwrap();
    for applet in ["sh", "tty", "stty", "echo"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    let o = Command::new(runsc_bin())
        .args(["spec", "--bundle"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "runsc spec: {o:?}");
    let path = dir.join("config.json");
    let mut config: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    config["process"]["args"] = serde_json::json!(["sh"]);
    config["process"]["terminal"] = Value::Bool(true);
    config["process"]["consoleSize"] = serde_json::json!({"height": rows, "width": cols});
    fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    dir
}

/// Receives one fd sent with SCM_RIGHTS on `conn`, and the message's bytes.
fn recv_fd(conn: RawFd) -> (OwnedFd, Vec<u8>) {
    let mut data = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut data)];
    let mut cbuf = [0u64; 8];
    // SAFETY: msghdr is plain data; zeroed is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr().cast();
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    // SAFETY: every pointer in `msg` points at live buffers of the sizes given.
    let n = unsafe { libc::recvmsg(conn, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    assert!(n >= 0, "recvmsg: {}", std::io::Error::last_os_error());
    // SAFETY: the control buffer was filled by recvmsg; CMSG_* walk within msg_controllen.
    let fd = unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        assert!(!c.is_null(), "no control message");
        assert_eq!(
            ((*c).cmsg_level, (*c).cmsg_type),
            (libc::SOL_SOCKET, libc::SCM_RIGHTS)
        );
        std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<RawFd>())
    };
    let len = usize::try_from(n).unwrap();
    // SAFETY: the fd just arrived by SCM_RIGHTS and nothing else owns it.
    (unsafe { OwnedFd::from_raw_fd(fd) }, data[..len].to_vec())
}

fn set_winsize(fd: RawFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one struct winsize from `ws`.
    let r = unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
    assert_eq!(r, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
}

/// Everything read from the master so far, filled by a reader thread until EIO/EOF.
struct Output {
    text: Arc<Mutex<Vec<u8>>>,
}

impl Output {
    fn start(master: std::fs::File) -> Output {
        let text = Arc::new(Mutex::new(Vec::new()));
        let t = text.clone();
        std::thread::spawn(move || {
            let mut m = master;
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = m.read(&mut buf) {
                t.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Output { text }
    }
    fn now(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().unwrap()).into_owned()
    }
    /// Waits until the output holds `what`; panics with the output after LIMIT.
    fn wait_for(&self, what: &str, rt: &str) {
        let deadline = Instant::now() + LIMIT;
        while !self.now().contains(what) {
            assert!(
                Instant::now() < deadline,
                "{rt}: {what:?} never appeared on the terminal; got {:?}",
                self.now()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reaps `pid` (re-parented to us when `create` exited) and returns its shell status.
fn reap(pid: i32) -> i32 {
    let mut status = 0;
    // SAFETY: waitpid writes only to `status`.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(
        r,
        pid,
        "waitpid({pid}): {}",
        std::io::Error::last_os_error()
    );
    tests::shell_status(std::process::ExitStatus::from_raw(status))
}

/// The /dev/pts/N names in `text`.
fn pts_names(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace())
        .filter(|w| {
            w.strip_prefix("/dev/pts/")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_string)
        .collect()
}

/// A console socket at `bundle/name`, and where the master (and the message sent with it)
/// arrives once a runtime connects.
fn console_socket(bundle: &Path, name: &str) -> (PathBuf, mpsc::Receiver<(OwnedFd, Vec<u8>)>) {
    let path = bundle.join(name);
    let listener = UnixListener::bind(&path).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((conn, _)) = listener.accept() {
            let _ = tx.send(recv_fd(conn.as_raw_fd()));
        }
    });
    (path, rx)
}

/// `create --console-socket SOCK --pid-file` of container `id`; returns init's pid.
fn create_on_console(rt: &Runtime, bundle: &Path, sock: &Path, id: &str) -> i32 {
    let pid_file = bundle.join("init.pid");
    let (status, out) = rt.short(
        &[
            "create",
            "--bundle",
            bundle.to_str().unwrap(),
            "--console-socket",
            sock.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            id,
        ],
        bundle,
    );
    assert_eq!(status, 0, "{} create: {out}", rt.name);
    fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn console_scenario(rt: &Runtime) {
    let bundle = terminal_bundle(rt, 33, 101);
    let (sock_path, rx) = console_socket(&bundle, "console.sock");
    let id = tests::unique_id(&format!("tty-{}-", rt.name));
    let pid = create_on_console(rt, &bundle, &sock_path, &id);
    let (master, name) = rx
        .recv_timeout(LIMIT)
        .expect("no master on the console socket");
    assert!(
        !name.is_empty(),
        "{}: empty message with the master",
        rt.name
    );
    let master = std::fs::File::from(master);
    let mut writer = master.try_clone().unwrap();
    let output = Output::start(master.try_clone().unwrap());
    let (status, out) = rt.short(&["start", &id], &bundle);
    assert_eq!(status, 0, "{} start: {out}", rt.name);

    writer.write_all(b"tty; stty size\n").unwrap();
    output.wait_for("33 101", rt.name);
    set_winsize(master.as_raw_fd(), 40, 120);
    writer.write_all(b"stty size; exit 3\n").unwrap();
    output.wait_for("40 120", rt.name);
    let code = reap(pid);
    let text = output.now();
    assert_eq!(code, 3, "{}: exit status; terminal: {text:?}", rt.name);
    assert!(
        !pts_names(&text).is_empty(),
        "{}: tty printed no /dev/pts name: {text:?}",
        rt.name
    );
    rt.cleanup(&id, &bundle);
    let _ = fs::remove_dir_all(&bundle);
}

#[test]
fn console_socket_gets_the_master_and_the_container_a_terminal() {
    become_subreaper();
    console_scenario(&Runtime::new("runsc", runsc_bin()));
}

#[test]
fn console_socket_scenario_holds_for_runc() {
    assert!(Path::new(RUNC).is_file(), "{RUNC} is missing");
    become_subreaper();
    console_scenario(&Runtime::new("runc", PathBuf::from(RUNC)));
}

/// `exec --tty` of a short command (detached, with its own console socket, as containerd's
/// shim and conmon run it): the master shows its output, then reads end-of-file/EIO once the
/// command has ended, which is how the engine learns that the exec's terminal is done.
fn exec_tty_scenario(rt: &Runtime) {
    let bundle = terminal_bundle(rt, 24, 80);
    let (init_sock, init_rx) = console_socket(&bundle, "console.sock");
    let id = tests::unique_id(&format!("tty-exec-{}-", rt.name));
    let pid = create_on_console(rt, &bundle, &init_sock, &id);
    // Init (an interactive shell) waits on its terminal, which we keep open.
    let init_master = init_rx.recv_timeout(LIMIT).expect("no init master").0;
    let (status, out) = rt.short(&["start", &id], &bundle);
    assert_eq!(status, 0, "{} start: {out}", rt.name);

    let (exec_sock, exec_rx) = console_socket(&bundle, "exec.sock");
    let exec_pid_file = bundle.join("exec.pid");
    let (status, out) = rt.short(
        &[
            "exec",
            "--tty",
            "--detach",
            "--console-socket",
            exec_sock.to_str().unwrap(),
            "--pid-file",
            exec_pid_file.to_str().unwrap(),
            &id,
            "echo",
            "hi-from-exec",
        ],
        &bundle,
    );
    assert_eq!(status, 0, "{} exec: {out}", rt.name);
    let master = exec_rx.recv_timeout(LIMIT).expect("no exec master").0;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut m = std::fs::File::from(master);
        let mut text = Vec::new();
        let mut buf = [0u8; 4096];
        let end = loop {
            match m.read(&mut buf) {
                Ok(0) => break "eof".to_string(),
                Ok(n) => text.extend_from_slice(&buf[..n]),
                Err(e) => break format!("{:?}", e.raw_os_error().map(nix::errno::Errno::from_raw)),
            }
        };
        let _ = tx.send((String::from_utf8_lossy(&text).into_owned(), end));
    });
    let (text, end) = rx.recv_timeout(LIMIT).unwrap_or_else(|_| {
        panic!(
            "{}: the exec's master never saw end-of-file or EIO after the command ended",
            rt.name
        )
    });
    assert!(text.contains("hi-from-exec"), "{}: {text:?}", rt.name);
    assert!(
        end == "eof" || end == "Some(EIO)",
        "{}: the master ended with {end}",
        rt.name
    );
    // The exec's pid-file process (runc's: the command itself) is ours to reap once re-parented;
    // under runc init's PID namespace cannot end before it is.
    let exec_pid: i32 = fs::read_to_string(&exec_pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    reap(exec_pid);
    // Init ends as a shell does when told to (its status is not what this test is about).
    std::fs::File::from(init_master)
        .write_all(b"exit 0\n")
        .unwrap();
    reap(pid);
    rt.cleanup(&id, &bundle);
    let _ = fs::remove_dir_all(&bundle);
}

#[test]
fn exec_tty_master_sees_the_end_of_a_short_command() {
    become_subreaper();
    exec_tty_scenario(&Runtime::new("runsc", runsc_bin()));
}

#[test]
fn exec_tty_master_sees_the_end_of_a_short_command_under_runc() {
    assert!(Path::new(RUNC).is_file(), "{RUNC} is missing");
    become_subreaper();
    exec_tty_scenario(&Runtime::new("runc", PathBuf::from(RUNC)));
}

#[test]
fn create_with_terminal_but_no_console_socket_fails() {
    become_subreaper();
    let rt = Runtime::new("runsc", runsc_bin());
    let bundle = terminal_bundle(&rt, 24, 80);
    let id = tests::unique_id("tty-nosock-");
    let (status, out) = rt.short(
        &["create", "--bundle", bundle.to_str().unwrap(), &id],
        &bundle,
    );
    assert_ne!(
        status, 0,
        "create without --console-socket succeeded: {out}"
    );
    assert!(out.contains("console-socket"), "{out}");
    let (status, _) = rt.short(&["state", &id], &bundle);
    assert_ne!(status, 0, "a failed create left a container behind");
    rt.cleanup(&id, &bundle);
    let _ = fs::remove_dir_all(&bundle);
}

/// A pty pair made by the test: (master, slave), both close-on-exec from the start (openpty's
/// are not): the tests of this file run in parallel threads, and a child another thread spawns
/// meanwhile (a container, a sandbox) must not inherit the pair and hold it open.
fn open_pty() -> (OwnedFd, OwnedFd) {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: posix_openpt takes only flags and returns a new descriptor or -1.
    let m = unsafe { libc::posix_openpt(flags) };
    assert!(m >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
    // SAFETY: `m` was just made by posix_openpt and is owned by nobody else.
    let master = unsafe { OwnedFd::from_raw_fd(m) };
    let mut name = [0 as libc::c_char; 64];
    // SAFETY: grantpt and unlockpt take the master fd; ptsname_r writes at most `name.len()`
    // bytes (NUL included) into `name`.
    let r = unsafe {
        if libc::grantpt(m) != 0 || libc::unlockpt(m) != 0 {
            -1
        } else {
            libc::ptsname_r(m, name.as_mut_ptr(), name.len())
        }
    };
    assert_eq!(
        r,
        0,
        "grantpt/unlockpt/ptsname_r: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: `name` is NUL-terminated by ptsname_r; open returns a new descriptor or -1.
    let s = unsafe { libc::open(name.as_ptr(), flags) };
    assert!(
        s >= 0,
        "open the pty slave: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: `s` was just opened and is owned by nobody else.
    (master, unsafe { OwnedFd::from_raw_fd(s) })
}

/// Runs `prog args` with `slave` (a pty's) as stdin and a pipe as stdout.
fn with_pty_stdin(slave: &OwnedFd, prog: &Path, args: &[&str]) -> (String, String) {
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .env_clear()
        .envs(tests::FIXED_ENV.iter().copied())
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let o = tests::run(cmd, LIMIT, &format!("{} {args:?}", prog.display()));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status, 0, "{} {args:?}: {err}", prog.display());
    (String::from_utf8_lossy(&o.stdout).trim().to_string(), err)
}

#[test]
fn runsc_do_tty_names_the_terminal_on_stdin_as_native_does() {
    let (_master, slave) = open_pty();
    let (native, _) = with_pty_stdin(&slave, Path::new("/usr/bin/tty"), &[]);
    assert_eq!(pts_names(&native).len(), 1, "native tty: {native:?}");
    let (sandboxed, err) = with_pty_stdin(&slave, &runsc_bin(), &["do", "--", "/usr/bin/tty"]);
    assert_eq!(sandboxed, native, "sandboxed tty ({err})");
}

#[test]
fn runsc_do_under_script_sees_a_terminal() {
    let script = |cmd: &str| {
        let mut c = Command::new("/usr/bin/script");
        c.args(["-qc", cmd, "/dev/null"])
            .env_clear()
            .envs(tests::FIXED_ENV.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let o = tests::run(c, LIMIT, cmd);
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let shell = "/usr/bin/tty && test -t 0 && test -t 1 && echo both-ttys";
    let native = script(&format!("/bin/sh -c '{shell}'"));
    assert_eq!(pts_names(&native).len(), 1, "native: {native:?}");
    assert!(native.contains("both-ttys"), "native: {native:?}");
    let runsc = runsc_bin();
    let sandboxed = script(&format!("{} do -- /bin/sh -c '{shell}'", runsc.display()));
    assert_eq!(pts_names(&sandboxed).len(), 1, "sandboxed: {sandboxed:?}");
    assert!(sandboxed.contains("both-ttys"), "sandboxed: {sandboxed:?}");
}

#[test]
fn tty_ioctls_and_job_control_match_native() {
    let prog = tests::c_prog("tty_ioctl");
    let (_master, slave) = open_pty();
    let (native, _) = with_pty_stdin(&slave, &prog, &[]);
    assert!(!native.contains("FAIL"), "native: {native}");
    let (_master, slave) = open_pty();
    let prog_str = prog.to_str().unwrap();
    let (sandboxed, err) = with_pty_stdin(&slave, &runsc_bin(), &["do", "--", prog_str]);
    assert_eq!(sandboxed, native, "sandboxed ({err})");
}

/// Runs `prog args` on a fresh pty (stdin, stdout, stderr), waits for "ready", resizes the
/// terminal, then types ^C; returns what the terminal showed and the exit status.
fn resize_then_interrupt(prog: &Path, args: &[&str]) -> (String, i32) {
    let (master, slave) = open_pty();
    let mut command = Command::new(prog);
    command
        .args(args)
        .env_clear()
        .envs(tests::FIXED_ENV.iter().copied())
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    // A test run started in the background by a non-interactive shell inherits SIGINT and
    // SIGQUIT ignored, and a shell cannot trap a signal ignored on entry: the native side
    // would never see its ^C. Both sides start with the default dispositions.
    // SAFETY: signal(2) is async-signal-safe, and the closure touches nothing else.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGQUIT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    let master = std::fs::File::from(master);
    let mut writer = master.try_clone().unwrap();
    let output = Output::start(master.try_clone().unwrap());
    output.wait_for("ready", "resize_then_interrupt");
    set_winsize(master.as_raw_fd(), 45, 132);
    output.wait_for("got-winch 45 132", "resize_then_interrupt");
    writer.write_all(b"\x03").unwrap();
    output.wait_for("got-int", "resize_then_interrupt");
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break tests::shell_status(st);
        }
        assert!(
            Instant::now() < deadline,
            "no exit after ^C: {}",
            output.now()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    (output.now(), status)
}

#[test]
fn terminal_signals_reach_the_foreground_group_as_natively() {
    let script = "trap 'echo got-winch $(stty size)' WINCH; trap 'echo got-int; exit 5' INT; \
                  echo ready; while :; do sleep 0.1; done";
    // Natively the shell leads a session whose controlling terminal is the pty (setsid -c).
    let (native, status) = resize_then_interrupt(
        Path::new("/usr/bin/setsid"),
        &["-c", "/bin/sh", "-c", script],
    );
    assert_eq!(status, 5, "native: {native:?}");
    let (sandboxed, status) =
        resize_then_interrupt(&runsc_bin(), &["do", "--", "/bin/sh", "-c", script]);
    assert_eq!(status, 5, "sandboxed: {sandboxed:?}");
}
