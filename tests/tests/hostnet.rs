//! `--network=host` (tests/c/hostnet.c, tests/c/hostnet_block.c and the loopback compat
//! programs): the sandbox's inet sockets are host sockets, so a client in the sandbox reaches
//! a server on the host's 127.0.0.1, the host reaches a server in the sandbox, blocking calls
//! wait and are interrupted as natively, the interface views are the host's, and programs
//! print what they print natively.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tests::{c_prog, runsc_bin, Case, Outcome};

const HOST: &str = "--network=host";
/// How long a peer on the host waits for the sandbox (generous: CI is a loaded 2-core box).
const PATIENCE: Duration = Duration::from_secs(60);

/// A TCP server on the host's 127.0.0.1 for one connection: it reads to EOF and answers
/// "pong: " and what it read. Returns the port and what it read.
fn tcp_server_once() -> (u16, JoinHandle<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    let h = std::thread::spawn(move || {
        let deadline = Instant::now() + PATIENCE;
        let mut c = loop {
            match l.accept() {
                Ok((c, _)) => break c,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return format!("no connection: {e}"),
            }
        };
        c.set_nonblocking(false).unwrap();
        c.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).unwrap();
        c.write_all(format!("pong: {got}").as_bytes()).unwrap();
        got
    });
    (port, h)
}

fn hostnet(args: &[&str]) -> Case {
    Case::new(c_prog("hostnet"), args)
}

#[test]
fn sandbox_client_reaches_a_host_server() {
    let (port, server) = tcp_server_once();
    let o = hostnet(&["tcp_client", &port.to_string()]).run_sandboxed_with(&[HOST]);
    assert_eq!(
        o.stdout_str(),
        "connected to port as asked\nTCP_NODELAY set: 0\nfstat is a socket: 1\n\
         reply: pong: ping from the sandbox\n",
        "{}",
        o.stderr_str()
    );
    assert_eq!(o.status, 0);
    assert_eq!(server.join().unwrap(), "ping from the sandbox\n");
}

/// Starts `runsc --network=host do -- hostnet MODE` and reads the "port N" line it prints.
fn start_sandboxed_server(
    mode: &str,
) -> (
    std::process::Child,
    BufReader<std::process::ChildStdout>,
    u16,
) {
    let mut child = Command::new(runsc_bin())
        .args([HOST, "do", "--"])
        .arg(c_prog("hostnet"))
        .arg(mode)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port = line
        .strip_prefix("port ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port line: {line:?}"));
    (child, out, port)
}

fn finish(
    mut child: std::process::Child,
    mut out: BufReader<std::process::ChildStdout>,
) -> Outcome {
    let mut rest = Vec::new();
    out.read_to_end(&mut rest).unwrap();
    let status = child.wait().unwrap();
    Outcome {
        stdout: rest,
        stderr: Vec::new(),
        status: tests::shell_status(status),
    }
}

#[test]
fn host_reaches_a_sandbox_server() {
    let (child, out, port) = start_sandboxed_server("tcp_server");
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(PATIENCE)).unwrap();
    c.write_all(b"hello from the host\n").unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "echo: hello from the host\n");
    let o = finish(child, out);
    assert_eq!(
        o.stdout_str(),
        "server got: hello from the host\npeer is loopback: 1\nserved\n"
    );
    assert_eq!(o.status, 0);
}

#[test]
fn udp_both_ways() {
    // Sandbox to host.
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    u.set_read_timeout(Some(PATIENCE)).unwrap();
    let port = u.local_addr().unwrap().port();
    let echo = std::thread::spawn(move || {
        let mut b = [0u8; 256];
        let (n, from) = u.recv_from(&mut b).unwrap();
        u.send_to(b"pong", from).unwrap();
        String::from_utf8_lossy(&b[..n]).into_owned()
    });
    let o = hostnet(&["udp_client", &port.to_string()]).run_sandboxed_with(&[HOST]);
    assert_eq!(
        o.stdout_str(),
        "udp reply: pong from the server: 1\n",
        "{}",
        o.stderr_str()
    );
    assert_eq!(echo.join().unwrap(), "datagram from the sandbox");

    // Host to sandbox.
    let (child, out, port) = start_sandboxed_server("udp_server");
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    u.set_read_timeout(Some(PATIENCE)).unwrap();
    u.send_to(b"hi sandbox", ("127.0.0.1", port)).unwrap();
    let mut b = [0u8; 16];
    let (n, from) = u.recv_from(&mut b).unwrap();
    assert_eq!((&b[..n], from.port()), (&b"pong"[..], port));
    let o = finish(child, out);
    assert_eq!(
        o.stdout_str(),
        "udp server got: hi sandbox (then 0 queued)\nserved\n"
    );
    assert_eq!(o.status, 0);
}

/// Runs `case` natively and with `--network=host` and asserts the same stdout and status.
fn assert_same_in_host_mode(case: &Case) -> Outcome {
    let native = case.run_native();
    let sandboxed = case.run_sandboxed_with(&[HOST]);
    assert_eq!(
        (native.status, native.stdout_str()),
        (sandboxed.status, sandboxed.stdout_str()),
        "`{}` differs (left: native, right: --network=host)\nsandboxed stderr:\n{}",
        case.describe(),
        sandboxed.stderr_str()
    );
    native
}

#[test]
fn inet_compat_programs_give_the_native_output_in_host_mode() {
    for prog in [
        "inet_loopback",
        "inet_more",
        "ifioctl",
        "netlink",
        "procnet",
    ] {
        let native = assert_same_in_host_mode(&Case::new(c_prog(prog), Vec::<&str>::new()));
        assert_eq!(native.status, 0, "{prog}: {}", native.stdout_str());
    }
}

#[test]
fn blocking_calls_wait_on_the_host_and_signals_interrupt_them() {
    let native = assert_same_in_host_mode(&Case::new(c_prog("hostnet_block"), Vec::<&str>::new()));
    let out = native.stdout_str();
    assert!(
        out.starts_with(
            "recv, signal without SA_RESTART: Interrupted system call\n\
             recv, signal with SA_RESTART (handler sends): 4\n\
             recv with SO_RCVTIMEO, signal with SA_RESTART: Interrupted system call\n"
        ),
        "{out}"
    );
    assert!(out.ends_with("read at EOF: 0\ndone\n"), "{out}");
}

/// The interface names `ip -o addr` prints.
fn interface_names(out: &str) -> Vec<String> {
    let mut names: Vec<String> = out
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(str::to_string)
        .collect();
    names.dedup();
    names
}

#[test]
fn ip_addr_lists_the_host_interfaces() {
    let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let ip = ip.expect("ip(8) missing (apt-get install iproute2; .ci/run does)");
    let case = Case::new(ip, ["-o", "addr"]);
    let native = case.run_native();
    let sandboxed = case.run_sandboxed_with(&[HOST]);
    assert_eq!(native.status, 0);
    assert_eq!(sandboxed.status, 0, "{}", sandboxed.stderr_str());
    let names = interface_names(&native.stdout_str());
    assert!(names.iter().any(|n| n == "lo"), "{names:?}");
    assert_eq!(interface_names(&sandboxed.stdout_str()), names);
    // Loopback only without it.
    let none = case.run_sandboxed();
    assert_eq!(interface_names(&none.stdout_str()), ["lo"]);
}

/// The first field of every line after the header lines of a /proc/net file, sorted.
fn first_fields(text: &str, header_lines: usize) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .skip(header_lines)
        .map(|l| l.split([':', '\t']).next().unwrap_or("").trim().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn proc_net_describes_the_host_interfaces() {
    let cat = |f: &str| Case::new("/bin/cat", [format!("/proc/net/{f}")]);
    let dev = cat("dev");
    let (native, sandboxed) = (dev.run_native(), dev.run_sandboxed_with(&[HOST]));
    assert_eq!(sandboxed.status, 0, "{}", sandboxed.stderr_str());
    assert_eq!(
        first_fields(&sandboxed.stdout_str(), 2),
        first_fields(&native.stdout_str(), 2)
    );
    // Routes and IPv6 addresses do not move while the test runs (if_inet6 is in hash order).
    let route = cat("route");
    assert_eq!(
        route.run_sandboxed_with(&[HOST]).stdout_str(),
        route.run_native().stdout_str()
    );
    let sorted = |o: Outcome| {
        let mut l: Vec<String> = o.stdout_str().lines().map(str::to_string).collect();
        l.sort();
        l
    };
    let inet6 = cat("if_inet6");
    assert_eq!(
        sorted(inet6.run_sandboxed_with(&[HOST])),
        sorted(inet6.run_native())
    );
}

#[test]
fn strace_decodes_host_socket_calls() {
    let (port, server) = tcp_server_once();
    let o = hostnet(&["tcp_client", &port.to_string()]).run_sandboxed_with(&[HOST, "--strace"]);
    assert_eq!(o.status, 0, "{}", o.stderr_str());
    server.join().unwrap();
    let err = o.stderr_str();
    let line = |name: &str| {
        err.lines()
            .find(|l| l.contains(&format!("] {name}(")))
            .unwrap_or_else(|| panic!("no {name} line in:\n{err}"))
            .to_string()
    };
    assert!(line("socket").contains("= 3"), "{err}");
    let connect = line("connect");
    assert!(
        connect.contains(&port.to_string()) || connect.contains("= 0"),
        "{connect}"
    );
    assert!(connect.contains("= 0"), "{connect}");
    assert!(line("getpeername").contains("= 0"), "{err}");
}

/// Runs `script` in a new network namespace holding `lo` and 16 veth pairs (more interface
/// data than one page-sized netlink datagram), with `$PROG` the given program.
fn in_busy_namespace(script: &str, prog: &str) -> Outcome {
    let setup = "ip link set lo up && for i in $(seq 1 16); do ip link add va$i type veth \
                 peer name vb$i || exit 9; done && ";
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", &format!("{setup}{script}")])
        .env("PROG", prog)
        .env("RUNSC", runsc_bin())
        .output()
        .expect("unshare");
    Outcome {
        status: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

#[test]
fn many_host_interfaces_fit_the_readers_buffer() {
    // glibc's getifaddrs reads with a page-sized buffer: the relayed dump must come in
    // datagrams that fit it, as the kernel's do.
    let prog = c_prog("netlink");
    let prog = prog.to_str().unwrap();
    let native = in_busy_namespace("\"$PROG\"", prog);
    let sandboxed = in_busy_namespace("\"$RUNSC\" --network=host do -- \"$PROG\"", prog);
    assert_eq!(native.status, 0, "{}", native.stderr_str());
    assert_eq!(
        (sandboxed.status, sandboxed.stdout_str()),
        (native.status, native.stdout_str()),
        "sandboxed stderr: {}",
        sandboxed.stderr_str()
    );
    let names = in_busy_namespace(
        "\"$RUNSC\" --network=host do -- python3 -c \
         'import socket; print(len(socket.if_nameindex()))'",
        prog,
    );
    assert_eq!(names.stdout_str(), "33\n", "{}", names.stderr_str());
}
