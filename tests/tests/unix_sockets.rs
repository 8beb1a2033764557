//! Unix domain sockets (tests/c/unix_sockets.c, and python3 across two processes): the same
//! output and status natively and in the sandbox.

use tests::{c_prog, Case};

#[test]
fn unix_socket_compat() {
    let (native, _) = Case::new(c_prog("unix_sockets"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(out.contains("backlog accepted=2\n"), "{out}");
    assert!(
        out.contains("small ctl=5 nfds=1 ctrunc=1 controllen=20\n"),
        "{out}"
    );
    assert!(
        out.contains("peercred child=1 len=12 child sees parent=P\n"),
        "{out}"
    );
    assert!(out.ends_with("done\n"), "{out}");
}

/// A server process and a client process (os.fork) talk over a socket bound in /tmp.
#[test]
fn python_server_and_client() {
    let script = r#"
import os, socket, tempfile
d = tempfile.mkdtemp()
path = os.path.join(d, "srv.sock")
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
pid = os.fork()
if pid == 0:
    srv.close()
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    for i in range(3):
        c.sendall(("msg %d\n" % i).encode())
        print("client got", c.recv(100).decode().strip(), flush=True)
    c.shutdown(socket.SHUT_WR)
    print("client eof", c.recv(100) == b"", flush=True)
    os._exit(0)
conn, _ = srv.accept()
f = conn.makefile("rb")
for line in f:
    conn.sendall(line.upper())
f.close()
conn.close()
os.waitpid(pid, 0)
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
a.send(b"one"); a.send(b"two")
print("dgram", b.recv(10), b.recv(10))
os.unlink(path)
os.rmdir(d)
print("server done")
"#;
    let (native, _) = Case::new("/usr/bin/python3", ["-c", script]).assert_same();
    assert_eq!(
        native.stdout_str(),
        "client got MSG 0\nclient got MSG 1\nclient got MSG 2\nclient eof True\n\
         dgram b'one' b'two'\nserver done\n"
    );
}
