//! Pseudo-terminals made inside the sandbox through /dev/ptmx and devpts (pty(7), Linux
//! `drivers/tty/pty.c` and `n_tty.c`): tests/c/pty.c drives a pair from both ends (echo,
//! canonical editing, ^C, VEOF, SIGWINCH, raw mode, hangup, TIOCGPTPEER); python3's
//! `pty.fork`/`os.openpty` and util-linux `script` run a shell command on one. Each gives the
//! same output natively and sandboxed.

use std::path::Path;

use tests::{c_prog, Case};

#[test]
fn pty_pair_line_discipline_job_control_and_hangup() {
    let (native, _) = Case::new(c_prog("pty"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    for want in [
        "ptsname matches /dev/pts/[0-9]+: 1, agrees with TIOCGPTN: 1\n",
        "open while locked: EIO\n",
        "chmod=0 chown=0 mode now=600\n",
        "start: ready sid=1 pgrp=1 ttyname=1 devtty=1!\\r\\n\n",
        "hello: hello\\r\\ngot:hello\\n!\\r\\n\n",
        "erase: helx\\x08 \\x08lo\\r\\ngot:hello\\n!\\r\\n\n",
        "veof-empty: eof!\\r\\n\n",
        "sigint: intr int=1 winch=0 size=0x0!\\r\\n\n",
        "sigwinch: intr int=0 winch=1 size=24x80!\\r\\n\n",
        "raw-bytes: raw got:\\x03\\r\\x7fz cooked!\\r\\n\n",
        "background: bg\\r\\nbg read stopped by SIGTTIN=1!\\r\\n\n",
        "child: after hangup read=eof-or-eio hup=1 write=EIO\n",
        "epoll_wait=1 in=1\n",
        "TIOCPKT=0 packet read=\\x00pkt\\r\\n\n",
        "packet status after replica TCIFLUSH=\\x01\n",
        "master read after replica close=-1 EIO\n",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

/// python3's pty module: `pty.fork` (forkpty: openpty + login_tty) running a shell that
/// reads a line from its terminal, then `os.openpty`.
const PY_SPAWN: &str = r#"
import os, pty
pid, fd = pty.fork()
if pid == 0:
    os.execv("/bin/sh", ["sh", "-c", "tty | sed 's/[0-9][0-9]*$/N/'; stty size; read x; echo got $x"])
out = b""
while b"0 0\r\n" not in out:
    out += os.read(fd, 1024)
os.write(fd, b"abc\n")
while True:
    try:
        d = os.read(fd, 1024)
    except OSError as e:
        out += b"<%s>" % os.strerror(e.errno).encode()
        break
    if not d:
        out += b"<eof>"
        break
    out += d
_, st = os.waitpid(pid, 0)
print(repr(out), os.waitstatus_to_exitcode(st))
m, s = os.openpty()
print(os.isatty(s), os.ttyname(s).startswith("/dev/pts/"))
os.write(s, b"x\n")
print(os.read(m, 10))
"#;

#[test]
fn python_pty_fork_and_openpty() {
    let python = "/usr/bin/python3";
    assert!(
        Path::new(python).exists(),
        "{python} missing (apt-get install python3)"
    );
    let (native, _) = Case::new(python, ["-c", PY_SPAWN]).assert_same();
    assert_eq!(
        native.stdout_str(),
        "b'/dev/pts/N\\r\\n0 0\\r\\nabc\\r\\ngot abc\\r\\n<Input/output error>' 0\n\
         True True\nb'x\\r\\n'\n"
    );
}

#[test]
fn script_runs_a_command_on_a_new_pty() {
    let script = "/usr/bin/script";
    assert!(
        Path::new(script).exists(),
        "{script} missing (apt-get install bsdutils)"
    );
    let cmd = "tty | sed 's/[0-9][0-9]*$/N/'; echo hi";
    let (native, _) = Case::new(script, ["-qc", cmd, "/dev/null"]).assert_same();
    assert_eq!(native.stdout_str(), "/dev/pts/N\r\nhi\r\n");
    assert_eq!(native.status, 0);
}
