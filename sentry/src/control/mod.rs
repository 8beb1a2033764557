//! The sentry's control socket, after gVisor's `runsc/boot/controller.go`: how `runsc start`,
//! `runsc kill` and `runsc wait` reach the kernel of a container made by `runsc create`.
//!
//! The front end binds and listens on `<root>/<id>/sandbox.sock` and hands the sentry the
//! listening descriptor (the sentry never opens a host path). One request per connection, one
//! line each way:
//!
//! | request            | reply                                   |
//! |--------------------|-----------------------------------------|
//! | `start`            | `ok`, or `error: MSG`                   |
//! | `signal N one`     | `ok` once signal N is queued to init    |
//! | `signal N all`     | `ok` once N is queued to every process  |
//! | `wait`             | `exit STATUS` when init has ended       |
//! | `signal N pid P`   | `ok` once N is queued to process P      |
//! | `exec FIELDS`      | `pid P` once started, then `exit STATUS` |
//!
//! `exec` (`runsc exec`) starts a new process in the running kernel ([`ExecRequest`] is its
//! line); the request carries, with `SCM_RIGHTS`, the host descriptors that become the new
//! process's fds 0, 1, 2 (and more with `--preserve-fds`). The connection stays open while the
//! process runs: its second reply line is its exit status (128+N for a death by signal N).
//!
//! Pods (`containers`): `container-create ID ro|rw MOUNTS FIELDS` (the fields of `exec`) makes
//! an app container in this sandbox. MOUNTS is `-` or a comma-separated list of its bind mounts,
//! `HEXDEST:ro|rw`. Its descriptors are the gofer channel of the container's root, a listening
//! socket of its own (`<root>/<ID>/sandbox.sock`), one gofer channel per bind mount, and its
//! process's fds 0, 1, 2...
//! Its own process settings and its boot spec (`mounts=HEX`, from which [`containers`]'s tree
//! mounter makes its mounts as `runsc boot` makes the sandbox's) are words among the FIELDS
//! (`containers::OwnSpec`).
//! The reply is `ok`, then, once the container's init has ended, `exit STATUS` (the front end's
//! pid-file holder reads it). On the container's own socket `start`, `signal N one|all`,
//! `wait` and `exec` mean that container (its init, its processes, its root), and `delete`
//! kills what is left of it and unmounts its root.
//!
//! Before `start`, the init process exists (its program is loaded) but has not run an
//! instruction. SIGKILL then lets it go so that it dies at once, as a created runc container
//! does; other signals find default actions, which the init of a pid namespace ignores.

pub mod containers;
mod sys;

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::abi::signal::{SigInfo, SI_USER};
use crate::kernel::signal::{send_to_process, SIG_DFL};
use crate::kernel::{Credentials, ExecProcess, InitError, Kernel};
use containers::PodContainer;

/// The pid of the init process in the sandbox's pid namespace.
const INIT_PID: i32 = 1;

/// The longest request line read (an `exec` carries its argv and environment).
const MAX_REQUEST: usize = 1 << 20;

/// The most descriptors one request may carry (stdio and `--preserve-fds`).
pub use sys::MAX_FDS;

#[derive(Debug, Default)]
struct State {
    /// `start` arrived (or a fatal signal let init go).
    released: bool,
    /// `start` itself arrived: a second one is an error.
    started: bool,
    /// Init's exit status (shell convention: 128+N for signal N), once it has ended.
    exit: Option<i32>,
    /// `wait` requests whose reply is not written yet.
    waiting: usize,
}

/// How long `finish` gives `wait` replies to go out before the sentry exits.
const REPLY_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// The control server of one sandbox.
pub struct Control {
    kernel: Arc<Kernel>,
    state: Mutex<State>,
    cv: Condvar,
    /// The pod's app containers in this sandbox.
    containers: containers::Registry,
}

impl Control {
    /// Starts serving `listener` on a thread of its own.
    pub fn serve(listener: OwnedFd, kernel: Arc<Kernel>) -> Arc<Control> {
        let control = Arc::new(Control {
            kernel,
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            containers: containers::Registry::default(),
        });
        let listener = UnixListener::from(listener);
        let c = control.clone();
        std::thread::Builder::new()
            .name("control".into())
            .spawn(move || c.accept_loop(listener, None))
            .map(drop)
            .unwrap_or_else(|e| crate::warn!("control: no thread: {e}"));
        control
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("invariant: control state lock is never poisoned")
    }

    /// Blocks until init may run: `start` arrived, or a signal that kills it.
    pub fn wait_for_start(&self) {
        let mut st = self.state();
        while !st.released {
            st = self
                .cv
                .wait(st)
                .expect("invariant: control state lock is never poisoned");
        }
    }

    /// Records init's exit status and answers every `wait` (waiting, boundedly, for the
    /// replies to be written: the sentry exits next).
    pub fn finish(&self, status: i32) {
        let mut st = self.state();
        st.exit = Some(status);
        self.cv.notify_all();
        let deadline = std::time::Instant::now() + REPLY_GRACE;
        while st.waiting > 0 {
            let now = std::time::Instant::now();
            if now >= deadline {
                break;
            }
            st = self
                .cv
                .wait_timeout(st, deadline - now)
                .expect("invariant: control state lock is never poisoned")
                .0;
        }
    }

    /// Serves `listener`: the sandbox's socket (`scope` None) or an app container's.
    fn accept_loop(self: Arc<Self>, listener: UnixListener, scope: Option<Arc<PodContainer>>) {
        for conn in listener.incoming() {
            if scope.as_ref().is_some_and(|s| s.is_deleted()) {
                // The front end's `delete` knocks once more so that the socket goes.
                return;
            }
            let Ok(conn) = conn else { continue };
            let c = self.clone();
            let scope = scope.clone();
            // One thread per connection: a `wait` blocks until the container ends.
            let spawned = std::thread::Builder::new()
                .name("control-conn".into())
                .spawn(move || c.handle(conn, scope));
            if let Err(e) = spawned {
                crate::warn!("control: no thread for a request: {e}");
            }
        }
    }

    fn handle(self: &Arc<Self>, conn: UnixStream, scope: Option<Arc<PodContainer>>) {
        // Replies go out as a plain file: std writes sockets with send, which the sentry's
        // seccomp filter does not allow; write it does. Requests come with recvmsg (below).
        let conn = File::from(OwnedFd::from(conn));
        let Some((line, fds)) = read_request(&conn) else {
            return;
        };
        let line = line.trim_end();
        let is_wait =
            line == "wait" || line.starts_with("exec ") || line.starts_with("container-create ");
        if is_wait {
            self.state().waiting += 1;
        }
        let mut conn = conn;
        if let Some(fields) = line.strip_prefix("exec ") {
            let root = scope.as_ref().map(|c| c.root.clone());
            self.exec(fields, fds, root, &mut conn);
        } else if let Some(fields) = line.strip_prefix("container-create ") {
            self.container_create(fields, fds, &mut conn);
        } else {
            drop(fds);
            let reply = match &scope {
                Some(c) => self.container_request(c, line),
                None => self.request(line),
            };
            let _ = conn.write_all(format!("{reply}\n").as_bytes());
        }
        if is_wait {
            self.state().waiting -= 1;
            self.cv.notify_all();
        }
    }

    /// `exec`: starts the process, replies with its pid, waits for it, replies with its status.
    fn exec(
        &self,
        fields: &str,
        fds: Vec<OwnedFd>,
        root: Option<Arc<crate::vfs::Dentry>>,
        conn: &mut File,
    ) {
        let started = ExecRequest::parse(fields).and_then(|req| {
            if fds.len() < 3 {
                return Err(format!(
                    "exec needs 3 descriptors for stdio, got {}",
                    fds.len()
                ));
            }
            self.kernel
                .start_process(ExecProcess {
                    argv: req.argv,
                    envv: req.envv,
                    cwd: req.cwd,
                    creds: Credentials::new(req.uid, req.gid, req.groups),
                    fds,
                    root,
                    own: None,
                })
                .map_err(|e| exec_error_reply(&e))
        });
        let pid = match started {
            Ok(pid) => pid,
            Err(msg) => {
                let _ = conn.write_all(format!("error: {msg}\n").as_bytes());
                return;
            }
        };
        let _ = conn.write_all(format!("pid {pid}\n").as_bytes());
        // Reaped whether or not the caller still listens: nobody else will.
        let code = self
            .kernel
            .wait_process(pid)
            .map(|s| s.shell_code())
            .unwrap_or(128 + libc::SIGKILL);
        let _ = conn.write_all(format!("exit {code}\n").as_bytes());
    }

    /// `container-create ID ro|rw FIELDS`: makes the container, serves its socket, replies
    /// `ok`; then runs it and replies `exit STATUS` once its init has ended.
    fn container_create(self: &Arc<Self>, fields: &str, fds: Vec<OwnedFd>, conn: &mut File) {
        let made = parse_container_create(fields).and_then(|(id, readonly, binds, own, req)| {
            let own_spec = own.clone();
            let own = own.map(|o| o.settings()).transpose()?;
            let want = 5 + binds.len();
            if fds.len() < want {
                return Err(format!(
                    "container-create needs {want} descriptors (gofer, socket, mounts, stdio), \
                     got {}",
                    fds.len()
                ));
            }
            let mut fds = fds.into_iter();
            let (Some(gofer), Some(listener)) = (fds.next(), fds.next()) else {
                return Err("container-create: missing descriptors".into());
            };
            let mounts = binds
                .into_iter()
                .zip(fds.by_ref())
                .map(|((dest, readonly), gofer)| containers::PodMount {
                    dest,
                    readonly,
                    gofer,
                })
                .collect();
            let spec = own_spec.and_then(|o| o.mounts);
            let c = self.containers.create(
                &self.kernel.vfs,
                containers::NewContainer {
                    id,
                    readonly,
                    gofer,
                    mounts,
                    spec,
                    request: req,
                    own,
                    fds: fds.collect(),
                },
            )?;
            Ok((c, listener))
        });
        let (c, listener) = match made {
            Ok(made) => made,
            Err(msg) => {
                let _ = conn.write_all(format!("error: {msg}\n").as_bytes());
                return;
            }
        };
        let me = self.clone();
        let scope = c.clone();
        let listener = UnixListener::from(listener);
        let served = std::thread::Builder::new()
            .name("control-ctr".into())
            .spawn(move || me.accept_loop(listener, Some(scope)));
        if let Err(e) = served {
            self.containers.delete(&self.kernel, &c);
            let _ = conn.write_all(format!("error: no thread for the container: {e}\n").as_bytes());
            return;
        }
        let _ = conn.write_all(b"ok\n");
        let code = c.run(&self.kernel);
        let _ = conn.write_all(format!("exit {code}\n").as_bytes());
    }

    /// A request on an app container's own socket; returns the reply line.
    fn container_request(&self, c: &Arc<PodContainer>, line: &str) -> String {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["start"] => match c.start() {
                Ok(()) => "ok".into(),
                Err(msg) => format!("error: {msg}"),
            },
            ["signal", n, scope @ ("one" | "all")] => match n.parse::<i32>() {
                Ok(sig) if (1..=64).contains(&sig) => {
                    match c.signal(&self.kernel, sig, *scope == "all") {
                        Ok(()) => "ok".into(),
                        Err(_) => "error: the container is not running".into(),
                    }
                }
                _ => format!("error: bad signal number {n:?}"),
            },
            ["wait"] => match c.wait_exit(None) {
                Some(code) => format!("exit {code}"),
                None => "error: the container did not end".into(),
            },
            ["delete"] => {
                self.containers.delete(&self.kernel, c);
                "ok".into()
            }
            ["pids"] => {
                let pids: Vec<String> = c.pids(&self.kernel).iter().map(i32::to_string).collect();
                format!("pids {}", pids.join(" ")).trim_end().to_string()
            }
            _ => self.request(line),
        }
    }

    /// Carries out one request; returns the reply line.
    pub fn request(&self, line: &str) -> String {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["start"] => {
                let mut st = self.state();
                if st.started {
                    return "error: the container was already started".into();
                }
                st.started = true;
                st.released = true;
                drop(st);
                self.cv.notify_all();
                "ok".into()
            }
            ["signal", n, scope @ ("one" | "all")] => match n.parse::<i32>() {
                Ok(sig) if (1..=64).contains(&sig) => self.signal(sig, *scope == "all"),
                _ => format!("error: bad signal number {n:?}"),
            },
            ["signal", n, "pid", p] => match (n.parse::<i32>(), p.parse::<i32>()) {
                (Ok(sig), Ok(pid)) if (1..=64).contains(&sig) && pid > 1 => {
                    match self.kernel.thread_group(pid) {
                        Some(tg) if !tg.has_exited() => {
                            send_to_process(&tg, SigInfo::from_sender(sig, SI_USER, 0, 0));
                            "ok".into()
                        }
                        _ => format!("error: no process {pid}"),
                    }
                }
                _ => format!("error: bad signal request {line:?}"),
            },
            ["wait"] => {
                let mut st = self.state();
                loop {
                    if let Some(code) = st.exit {
                        return format!("exit {code}");
                    }
                    st = self
                        .cv
                        .wait(st)
                        .expect("invariant: control state lock is never poisoned");
                }
            }
            _ => format!("error: unknown request {line:?}"),
        }
    }

    fn signal(&self, sig: i32, all: bool) -> String {
        let pids = if all {
            self.kernel.pids()
        } else {
            vec![INIT_PID]
        };
        let mut sent = false;
        for pid in pids {
            if let Some(tg) = self.kernel.thread_group(pid) {
                sent = true;
                // The init of a pid namespace gets, from outside it, only SIGKILL, SIGSTOP and
                // the signals it handles (pid_namespaces(7); Linux's SIGNAL_UNKILLABLE):
                // `docker stop` of a shell that does not trap TERM waits for the KILL.
                let handler = tg.with_state(|s| s.actions[sig as usize - 1].handler);
                if pid == INIT_PID
                    && handler == SIG_DFL
                    && sig != libc::SIGKILL
                    && sig != libc::SIGSTOP
                {
                    continue;
                }
                send_to_process(&tg, SigInfo::from_sender(sig, SI_USER, 0, 0));
            }
        }
        if !sent {
            return "error: the container is not running".into();
        }
        let mut st = self.state();
        if !st.released && sig == libc::SIGKILL {
            // Init has not run an instruction: let it go so that it dies of the SIGKILL at
            // once. (Any other signal finds only default actions, which init ignores.)
            st.released = true;
            drop(st);
            self.cv.notify_all();
        }
        "ok".into()
    }
}

/// Reads one request line (up to `MAX_REQUEST` bytes) and the descriptors that came with it.
/// None when the peer sent nothing usable.
fn read_request(conn: &File) -> Option<(String, Vec<OwnedFd>)> {
    let mut data = Vec::new();
    let mut fds = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let (n, received) = sys::recv_with_fds(conn.as_fd(), &mut buf).ok()?;
        fds.extend(received);
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        if data.contains(&b'\n') || data.len() >= MAX_REQUEST {
            break;
        }
    }
    let end = data.iter().position(|&b| b == b'\n')?;
    data.truncate(end);
    String::from_utf8(data).ok().map(|line| (line, fds))
}

/// A pod container's bind mounts: (destination, read-only).
type PodBinds = Vec<(Vec<u8>, bool)>;

/// `ID ro|rw MOUNTS FIELDS` of a `container-create` request.
type ContainerCreate = (
    String,
    bool,
    PodBinds,
    Option<containers::OwnSpec>,
    ExecRequest,
);

fn parse_container_create(fields: &str) -> Result<ContainerCreate, String> {
    let mut words = fields.splitn(4, ' ');
    let (Some(id), Some(mode), Some(binds), Some(rest)) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(format!("bad container-create request {fields:?}"));
    };
    let binds = if binds == "-" {
        Vec::new()
    } else {
        binds
            .split(',')
            .map(|m| {
                let bad = || format!("bad bind mount {m:?}");
                let (dest, mode) = m.split_once(':').ok_or_else(bad)?;
                let readonly = match mode {
                    "ro" => true,
                    "rw" => false,
                    _ => return Err(bad()),
                };
                Ok((unhex(dest).ok_or_else(bad)?, readonly))
            })
            .collect::<Result<_, String>>()?
    };
    let valid = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b));
    if !valid {
        return Err(format!("bad container id {id:?}"));
    }
    let readonly = match mode {
        "ro" => true,
        "rw" => false,
        _ => return Err(format!("bad root mode {mode:?}")),
    };
    let (own, rest) = containers::OwnSpec::split(rest)?;
    Ok((
        id.to_string(),
        readonly,
        binds,
        own,
        ExecRequest::parse(&rest)?,
    ))
}

/// The reply line for a process that could not start: `error: exec ERRNO: MSG`, so that
/// `runsc exec` can tell "not found" from other failures as runc words them.
pub(crate) fn exec_error_reply(e: &InitError) -> String {
    match e {
        InitError::Exec(errno) if *errno == crate::Errno::ESRCH => {
            "the container is not running".into()
        }
        InitError::Exec(errno) => format!("exec {}: {}", *errno as i32, errno.desc()),
        other => other.to_string(),
    }
}

/// The fields of an `exec` request, one line of words `key=value` with byte strings in hex
/// (so that any argument or variable, spaces and newlines included, fits on the line):
/// `uid=U gid=G groups=G1,G2 cwd=HEX arg=HEX... env=HEX...`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecRequest {
    pub argv: Vec<Vec<u8>>,
    pub envv: Vec<Vec<u8>>,
    pub cwd: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

impl ExecRequest {
    /// The request line, `exec ` included, without its newline.
    pub fn encode(&self) -> String {
        let mut line = format!(
            "exec uid={} gid={} groups={} cwd={}",
            self.uid,
            self.gid,
            self.groups
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(","),
            hex(&self.cwd)
        );
        for a in &self.argv {
            line.push_str(" arg=");
            line.push_str(&hex(a));
        }
        for e in &self.envv {
            line.push_str(" env=");
            line.push_str(&hex(e));
        }
        line
    }

    /// Parses the words after `exec `.
    pub fn parse(fields: &str) -> Result<ExecRequest, String> {
        let mut r = ExecRequest::default();
        let mut cwd = None;
        for word in fields.split_whitespace() {
            let (key, value) = word
                .split_once('=')
                .ok_or_else(|| format!("bad exec field {word:?}"))?;
            let bad = || format!("bad exec field {word:?}");
            match key {
                "uid" => r.uid = value.parse().map_err(|_| bad())?,
                "gid" => r.gid = value.parse().map_err(|_| bad())?,
                "groups" if value.is_empty() => {}
                "groups" => {
                    r.groups = value
                        .split(',')
                        .map(|g| g.parse().map_err(|_| bad()))
                        .collect::<Result<_, _>>()?
                }
                "cwd" => cwd = Some(unhex(value).ok_or_else(bad)?),
                "arg" => r.argv.push(unhex(value).ok_or_else(bad)?),
                "env" => r.envv.push(unhex(value).ok_or_else(bad)?),
                _ => return Err(format!("unknown exec field {key:?}")),
            }
        }
        r.cwd = cwd.ok_or("exec without cwd")?;
        if r.cwd.first() != Some(&b'/') {
            return Err(format!(
                "exec cwd {:?} is not absolute",
                String::from_utf8_lossy(&r.cwd)
            ));
        }
        if r.argv.is_empty() {
            return Err("exec without a program".into());
        }
        Ok(r)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_requests_round_trip_any_bytes() {
        let req = ExecRequest {
            argv: vec![
                b"sh".to_vec(),
                b"-c".to_vec(),
                b"echo a b\nexit 3".to_vec(),
                Vec::new(),
            ],
            envv: vec![b"PATH=/bin".to_vec(), b"X=\xff \x00".to_vec()],
            cwd: b"/tmp/with space".to_vec(),
            uid: 5,
            gid: 6,
            groups: vec![7, 8],
        };
        let line = req.encode();
        assert!(!line.contains('\n'));
        let fields = line.strip_prefix("exec ").unwrap();
        assert_eq!(ExecRequest::parse(fields), Ok(req));
        let no_groups = ExecRequest {
            argv: vec![b"true".to_vec()],
            cwd: b"/".to_vec(),
            ..Default::default()
        };
        let line = no_groups.encode();
        assert_eq!(ExecRequest::parse(&line["exec ".len()..]), Ok(no_groups));
    }

    #[test]
    fn container_create_requests_parse() {
        let req = ExecRequest {
            argv: vec![b"sh".to_vec()],
            cwd: b"/".to_vec(),
            ..Default::default()
        };
        let fields = format!("app-1 ro - {}", &req.encode()["exec ".len()..]);
        assert_eq!(
            parse_container_create(&fields),
            Ok(("app-1".to_string(), true, Vec::new(), None, req.clone()))
        );
        let own = containers::OwnSpec {
            rlimits: vec![(7, 64, 128)],
            umask: Some(0o077),
            no_new_privs: true,
            caps: Some([1, 2, 3, 0xff, 0]),
            oom_score_adj: Some(-5),
            seccomp: Some(vec![0x7fff_0000_0000_0006, u64::MAX]),
            mounts: Some(b"{\"fsMounts\": [\"/a b\"]}".to_vec()),
        };
        let with_own = format!(
            "app-2 rw - {}{}",
            &req.encode()["exec ".len()..],
            own.encode()
        );
        assert_eq!(
            parse_container_create(&with_own),
            Ok((
                "app-2".to_string(),
                false,
                Vec::new(),
                Some(own),
                req.clone()
            ))
        );
        let rw = format!(
            "a rw 2f6574632f686f737473:ro,2f76:rw {}",
            &req.encode()["exec ".len()..]
        );
        let parsed = parse_container_create(&rw).unwrap();
        assert!(!parsed.1);
        assert_eq!(
            parsed.2,
            vec![(b"/etc/hosts".to_vec(), true), (b"/v".to_vec(), false)]
        );
        for bad in [
            "a rw 2f:xx uid=0 gid=0 groups= cwd=2f arg=73",
            "a rw zz:ro uid=0 gid=0 groups= cwd=2f arg=73",
            "a ro",
            "a xx uid=0 gid=0 groups= cwd=2f arg=73",
            "../a ro uid=0 gid=0 groups= cwd=2f arg=73",
        ] {
            assert!(parse_container_create(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_exec_requests_are_refused() {
        for bad in [
            "uid=0 gid=0 groups= arg=7368",          // no cwd
            "uid=0 gid=0 groups= cwd=2f",            // no program
            "uid=0 gid=0 groups= cwd=746d70 arg=73", // relative cwd
            "uid=x gid=0 groups= cwd=2f arg=73",
            "uid=0 gid=0 groups= cwd=2f arg=7", // odd hex
            "uid=0 gid=0 groups= cwd=2f arg=zz",
            "uid=0 gid=0 groups=a cwd=2f arg=73",
            "uid=0 gid=0 cwd=2f arg=73 what=1",
            "uid",
        ] {
            assert!(ExecRequest::parse(bad).is_err(), "{bad}");
        }
    }
}
