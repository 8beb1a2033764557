//! `runsc --host-uds=open`: connect(2) to a host unix socket in a bind mount goes through the
//! gofer, which hands the sandbox a connected host socket (gVisor's `--host-uds`). An echo
//! server listens on the host in a temp dir bound as a volume; the C client in the sandbox
//! connects, exchanges bytes, polls, shuts down and blocks interruptibly; a SOCK_SEQPACKET
//! server shows message boundaries kept. Without the flag the same connect is ECONNREFUSED, and
//! a symlink in the volume to a host socket outside it is never followed on the host.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use tests::{c_prog, unique_tmp_path, Case};

/// Accepts connections on `path` and echoes each until its client's EOF; returns how many
/// connections it served once `stop` (a file) exists and a last connection wakes it.
fn echo_server(path: &Path) -> (JoinHandle<usize>, PathBuf) {
    let listener = UnixListener::bind(path).unwrap();
    let stop = path.with_extension("stop");
    let stop2 = stop.clone();
    let h = std::thread::spawn(move || {
        let mut served = 0;
        for conn in listener.incoming() {
            if stop2.exists() {
                break;
            }
            let Ok(mut c) = conn else { break };
            served += 1;
            std::thread::spawn(move || {
                let mut buf = [0u8; 256];
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 || c.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
        served
    });
    (h, stop)
}

/// Stops the server (a marker file, then a connection to wake its accept) and returns how
/// many connections it served.
fn stop_server(sock: &Path, h: JoinHandle<usize>, stop: &Path) -> usize {
    fs::write(stop, "").unwrap();
    let _ = std::os::unix::net::UnixStream::connect(sock);
    h.join().unwrap()
}

fn run(global: &[&str], vol: &Path, args: &[&str]) -> tests::Outcome {
    let v = format!("{}:/sock", vol.display());
    Case::new(c_prog("host_uds"), args).run_sandboxed_do(global, &["--volume", &v])
}

#[test]
fn connect_through_the_gofer_exchanges_bytes_with_a_host_server() {
    let dir = unique_tmp_path("host-uds");
    fs::create_dir(&dir).unwrap();
    let sock = dir.join("s");
    let (h, stop) = echo_server(&sock);
    let out = run(&["--host-uds=open"], &dir, &["/sock/s"]);
    let blocked = run(&["--host-uds", "open"], &dir, &["/sock/s", "block"]);
    let served = stop_server(&sock, h, &stop);
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(out.status, 0, "{}", out.stderr_str());
    assert_eq!(
        out.stdout_str(),
        "connect: ok\nwrite: 5\npoll: 1 POLLIN=1\necho: hello\ngetpeername: ok /sock/s\n\
         sendmsg SCM_RIGHTS: EOPNOTSUPP\nshutdown: ok\nafter shutdown: 0\n"
    );
    assert_eq!(blocked.status, 0, "{}", blocked.stderr_str());
    assert_eq!(blocked.stdout_str(), "connect: ok\nblocked read: EINTR\n");
    assert_eq!(served, 2);
}

/// A SOCK_SEQPACKET server on `path` that echoes every message of one connection until EOF;
/// what it received arrives on the channel.
fn seqpacket_echo_server(path: &Path) -> std::sync::mpsc::Receiver<Vec<Vec<u8>>> {
    use nix::sys::socket::{
        accept, bind, listen, recv, send, socket, AddressFamily, Backlog, MsgFlags, SockFlag,
        SockType, UnixAddr,
    };
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let l = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    bind(l.as_raw_fd(), &UnixAddr::new(path).unwrap()).unwrap();
    listen(&l, Backlog::new(4).unwrap()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: accept just returned this new descriptor; nothing else owns it.
        let c = unsafe { OwnedFd::from_raw_fd(accept(l.as_raw_fd()).unwrap()) };
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = recv(c.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            if n == 0 {
                break;
            }
            got.push(buf[..n].to_vec());
            if send(c.as_raw_fd(), &buf[..n], MsgFlags::MSG_NOSIGNAL).is_err() {
                break;
            }
        }
        let _ = tx.send(got);
    });
    rx
}

#[test]
fn seqpacket_keeps_message_boundaries_through_the_host_socket() {
    let dir = unique_tmp_path("host-uds-seq");
    fs::create_dir(&dir).unwrap();
    let served = seqpacket_echo_server(&dir.join("s"));
    let out = run(&["--host-uds=open"], &dir, &["/sock/s", "seqpacket"]);
    // Bounded only so that a broken connect fails the test instead of hanging it.
    let got = served.recv_timeout(std::time::Duration::from_secs(60));
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(out.status, 0, "{}", out.stderr_str());
    assert_eq!(
        out.stdout_str(),
        "connect: ok\nsend: 3 4 5\nrecv: 3 one\nrecv: 4 two!\nshort recv: 2 th\n\
         after shutdown: 0\n"
    );
    assert_eq!(
        got.ok(),
        Some(vec![b"one".to_vec(), b"two!".to_vec(), b"three".to_vec()])
    );
}

#[test]
fn without_the_flag_connect_is_refused() {
    let dir = unique_tmp_path("host-uds-off");
    fs::create_dir(&dir).unwrap();
    let sock = dir.join("s");
    let (h, stop) = echo_server(&sock);
    let off = run(&[], &dir, &["/sock/s"]);
    let none = run(&["--host-uds=none"], &dir, &["/sock/s"]);
    let served = stop_server(&sock, h, &stop);
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(
        off.stdout_str(),
        "connect: ECONNREFUSED\n",
        "{}",
        off.stderr_str()
    );
    assert_eq!(none.stdout_str(), "connect: ECONNREFUSED\n");
    assert_eq!(served, 0);
}

#[test]
fn a_symlink_to_a_host_socket_outside_the_volume_is_not_followed() {
    let vol = unique_tmp_path("host-uds-vol");
    let outside = unique_tmp_path("host-uds-outside");
    fs::create_dir(&vol).unwrap();
    fs::create_dir(&outside).unwrap();
    let sock = outside.join("s");
    let (h, stop) = echo_server(&sock);
    std::os::unix::fs::symlink(&sock, vol.join("abs")).unwrap();
    let rel = Path::new("..").join(outside.file_name().unwrap()).join("s");
    std::os::unix::fs::symlink(&rel, vol.join("rel")).unwrap();
    let abs = run(&["--host-uds=open"], &vol, &["/sock/abs"]);
    let relative = run(&["--host-uds=open"], &vol, &["/sock/rel"]);
    let served = stop_server(&sock, h, &stop);
    let _ = fs::remove_dir_all(&vol);
    let _ = fs::remove_dir_all(&outside);
    // The sentry resolves the links inside the sandbox, where neither target exists.
    assert_eq!(
        abs.stdout_str(),
        "connect: ENOENT\n",
        "{}",
        abs.stderr_str()
    );
    assert_eq!(relative.stdout_str(), "connect: ENOENT\n");
    assert_eq!(
        served, 0,
        "a connection reached the host socket outside the volume"
    );
}

#[test]
fn a_bad_mode_is_one_clear_error() {
    let out = Case::new("true", Vec::<&str>::new()).run_sandboxed_with(&["--host-uds=all"]);
    assert_ne!(out.status, 0);
    assert!(
        out.stderr_str().contains("--host-uds"),
        "{}",
        out.stderr_str()
    );
}
