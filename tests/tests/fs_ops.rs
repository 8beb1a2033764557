//! File operations on tmpfs: the `fs_ops` compat program (chmod/chown/utimes, links, FIFOs,
//! renameat2, locks, memfd seals, close_range, sendfile, xattrs) natively and sandboxed; and
//! the workloads they unblock: gcc compiling and linking into /tmp, Python multiprocessing
//! through /dev/shm semaphores.

use tests::{c_prog, Case};

#[test]
fn fs_ops_match_native() {
    let (native, _) = Case::new(c_prog("fs_ops"), Vec::<&str>::new()).assert_same();
    assert_eq!(native.status, 0, "{}", native.stderr_str());
    let out = native.stdout_str();
    assert!(out.contains("fifo read 16: through the fifo"), "{out}");
    assert!(out.contains("child SETLKW = OK"), "{out}");
}

#[test]
fn gcc_compiles_links_and_runs_in_tmp() {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/data/gcc_hello.c");
    let script = format!("o=/tmp/fs_ops_gcc.$$; gcc -o $o {src} && $o; r=$?; rm -f $o; exit $r");
    let (native, _) = Case::new("sh", ["-c", script.as_str()]).assert_same();
    assert_eq!(native.stdout_str(), "built inside: 42\n");
}

#[test]
fn python_multiprocessing_pool_uses_dev_shm() {
    let code = "import multiprocessing as mp\n\
                mp.set_start_method('fork')\n\
                with mp.Pool(2) as p:\n    print(p.map(abs, [-1, -2, 3, -4]))\n\
                l = mp.Lock()\n\
                with l:\n    print('lock ok')\n";
    let (native, _) = Case::new("python3", ["-c", code]).assert_same();
    assert_eq!(native.stdout_str(), "[1, 2, 3, 4]\nlock ok\n");
}

#[test]
fn dev_shm_is_a_sticky_world_writable_tmpfs() {
    let (native, _) = Case::new("stat", ["-c", "%a %F", "/dev/shm"]).assert_same();
    assert_eq!(native.stdout_str(), "1777 directory\n");
}

/// `runsc do --read-only` (OCI `root.readonly`): the root refuses every write.
#[test]
fn writes_to_the_read_only_root_are_erofs() {
    let code = "import os, errno\n\
                for f in (lambda: os.chmod('/etc/hostname', 0o600), \
                          lambda: os.chown('/etc/hostname', 1, 1), \
                          lambda: os.utime('/etc/hostname', (1, 1)), \
                          lambda: os.truncate('/etc/hostname', 0), \
                          lambda: os.link('/etc/hostname', '/etc/h2'), \
                          lambda: os.mkfifo('/etc/fifo'), \
                          lambda: os.setxattr('/etc/hostname', 'user.k', b'v')):\n    \
                try:\n        f(); print('ok')\n    \
                except OSError as e:\n        print(errno.errorcode[e.errno])\n";
    let out = Case::new("python3", ["-c", code]).run_sandboxed_do(&[], &["--read-only"]);
    assert_eq!(out.status, 0, "{}", out.stderr_str());
    assert_eq!(
        out.stdout_str(),
        "EROFS\nEROFS\nEROFS\nEROFS\nEROFS\nEROFS\nEROFS\n"
    );
}
