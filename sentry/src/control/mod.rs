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
//!
//! Before `start`, the init process exists (its program is loaded) but has not run an
//! instruction. SIGKILL then lets it go so that it dies at once, as a created runc container
//! does; other signals find default actions, which the init of a pid namespace ignores.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::abi::signal::{SigInfo, SI_USER};
use crate::kernel::signal::{send_to_process, SIG_DFL};
use crate::kernel::Kernel;

/// The pid of the init process in the sandbox's pid namespace.
const INIT_PID: i32 = 1;

/// The longest request line read (a request is a few words).
const MAX_REQUEST: u64 = 256;

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
}

impl Control {
    /// Starts serving `listener` on a thread of its own.
    pub fn serve(listener: OwnedFd, kernel: Arc<Kernel>) -> Arc<Control> {
        let control = Arc::new(Control {
            kernel,
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
        });
        let listener = UnixListener::from(listener);
        let c = control.clone();
        std::thread::Builder::new()
            .name("control".into())
            .spawn(move || c.accept_loop(listener))
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

    fn accept_loop(self: Arc<Self>, listener: UnixListener) {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let c = self.clone();
            // One thread per connection: a `wait` blocks until the container ends.
            let spawned = std::thread::Builder::new()
                .name("control-conn".into())
                .spawn(move || c.handle(conn));
            if let Err(e) = spawned {
                crate::warn!("control: no thread for a request: {e}");
            }
        }
    }

    fn handle(&self, conn: UnixStream) {
        // As a plain file: std reads sockets with recvfrom, which the sentry's seccomp filter
        // does not allow; read and write it does.
        let conn = File::from(OwnedFd::from(conn));
        let mut line = String::new();
        let Ok(read_half) = conn.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(std::io::Read::take(read_half, MAX_REQUEST));
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let is_wait = line.trim_end() == "wait";
        if is_wait {
            self.state().waiting += 1;
        }
        let reply = self.request(line.trim_end());
        let mut conn = conn;
        let _ = conn.write_all(format!("{reply}\n").as_bytes());
        if is_wait {
            self.state().waiting -= 1;
            self.cv.notify_all();
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
