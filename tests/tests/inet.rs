//! Loopback TCP/UDP networking (tests/c/inet_loopback.c, and python3's http.server fetched
//! with urllib): the same output and status natively and in the sandbox.

use tests::{c_prog, Case};

#[test]
fn inet_loopback_compat() {
    let (native, _) = Case::new(c_prog("inet_loopback"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stdout_str());
    let out = native.stdout_str();
    assert!(out.contains("client sums equal=1\n"), "{out}");
    assert!(out.contains("server echoed=1048576 then eof\n"), "{out}");
    assert!(
        out.contains("connect closed port: Connection refused\n"),
        "{out}"
    );
    assert!(
        out.contains("client udp echo 3 'ccc' from server=1\n"),
        "{out}"
    );
    assert!(out.ends_with("done\n"), "{out}");
}

/// An HTTP server in a thread on 127.0.0.1:0 serves a file from a temp dir in /tmp.
#[test]
fn python_http_server_and_urllib() {
    let script = r#"
import http.server, os, shutil, tempfile, threading, urllib.request, functools
d = tempfile.mkdtemp(dir="/tmp")
with open(os.path.join(d, "hello.txt"), "w") as f:
    f.write("hello over loopback\n")
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=d))
t = threading.Thread(target=srv.serve_forever)
t.start()
port = srv.server_address[1]
with urllib.request.urlopen("http://127.0.0.1:%d/hello.txt" % port) as r:
    print(r.status, r.read().decode(), end="")
srv.shutdown()
srv.server_close()
t.join()
shutil.rmtree(d)
print("shut down")
"#;
    let (native, _) = Case::new("/usr/bin/python3", ["-c", script]).assert_same();
    assert_eq!(native.stdout_str(), "200 hello over loopback\nshut down\n");
}
