//! No heap allocation on the sentry side of the simple syscalls (issue 7, item 4): getpid,
//! getppid, gettid, clock_gettime/clock_getres/gettimeofday past the vDSO, 1-byte reads and
//! writes (to a pipe too: the page an emptying read frees is kept for the next write),
//! readv/writev of a few buffers, fcntl(F_GETFD), a getrandom seed, the application's seccomp
//! filter check. A real kernel (the ptrace platform, a gofer serving the host root read-only
//! on a thread of this process) and its init task are built here; each syscall goes through
//! `Task::syscall_trap`, the task loop's own dispatch (seccomp check, table lookup, `--strace`
//! check, handler, restart bookkeeping), while a counting global allocator (`sys.rs`) counts
//! what this thread allocates. The same harness checks that the paths made cheap answer as before (vectored
//! I/O's decoding, getppid's lock-free parent) and, ignored by default, measures their
//! sentry-side cost. (That notify on a pipe nobody waits on, a descriptor lookup and an
//! unchanged seccomp filter's check take no exclusive lock is checked by the unit tests of
//! `kernel::wait`, `vfs::fd_table` and `kernel::seccomp`, which can hold those locks.)

mod sys;

use std::fs::File;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use gofer::server::{Server, ServerConfig};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use sentry::kernel::{Credentials, Kernel, KernelConfig, Task};
use sentry::platform::ptrace::PtracePlatform;

#[global_allocator]
static ALLOC: sys::CountingAlloc = sys::CountingAlloc;

/// Rounds measured after the warm-up round.
const ROUNDS: u64 = 500;

/// Makes syscall `nr` as the application would and returns its `rax` as a signed value.
fn syscall(t: &mut Task, nr: i64, args: [u64; 6]) -> i64 {
    t.regs.orig_rax = nr as u64;
    t.regs.rdi = args[0];
    t.regs.rsi = args[1];
    t.regs.rdx = args[2];
    t.regs.r10 = args[3];
    t.regs.r8 = args[4];
    t.regs.r9 = args[5];
    t.syscall_trap();
    t.regs.rax as i64
}

fn args(a: &[u64]) -> [u64; 6] {
    let mut out = [0; 6];
    out[..a.len()].copy_from_slice(a);
    out
}

/// The init task of a fresh kernel, with one read-write page mapped; returns the page too.
fn boot() -> (Task, u64) {
    let (gofer_end, sentry_end) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .unwrap();
    let server = Server::new(&ServerConfig {
        root: "/".into(),
        read_only: true,
    })
    .unwrap();
    std::thread::spawn(move || server.serve(vec![gofer_end]));
    let null = || OwnedFd::from(File::open("/dev/null").unwrap());
    let creds = Credentials::new(0, 0, Vec::new());
    let kernel = Kernel::new(
        KernelConfig {
            gofer: gofer::GoferClient::new(sentry_end),
            stdio: [null(), null(), null()],
            hostname: "no-alloc".into(),
            creds: creds.clone(),
            strace: None,
            root_readonly: true,
            root_direct: false,
            mounts: Vec::new(),
            settings: Default::default(),
        },
        syscalls::table(),
        Arc::new(PtracePlatform::new().unwrap()),
    )
    .unwrap();
    let mut task = Task::new_init(&kernel, creds, [null(), null(), null()], b"/").unwrap();
    let rw = (libc::PROT_READ | libc::PROT_WRITE) as u64;
    let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
    let page = syscall(
        &mut task,
        libc::SYS_mmap,
        args(&[0, 4096, rw, flags, u64::MAX, 0]),
    );
    assert!(page > 0, "mmap: {page}");
    (task, page as u64)
}

/// Reads two ints the application's memory holds at `addr`.
fn two_ints(t: &Task, addr: u64) -> (u64, u64) {
    let mut b = [0u8; 8];
    t.mm.copy_in(addr, &mut b).unwrap();
    let a = i32::from_ne_bytes(b[..4].try_into().unwrap());
    let c = i32::from_ne_bytes(b[4..].try_into().unwrap());
    (a as u64, c as u64)
}

/// Opens `path` (written into the page at `at`) with `flags`.
fn open(t: &mut Task, at: u64, path: &[u8], flags: i32) -> u64 {
    t.mm.copy_out(at, path).unwrap();
    let fd = syscall(
        t,
        libc::SYS_openat,
        args(&[libc::AT_FDCWD as u64, at, flags as u64]),
    );
    assert!(fd >= 0, "open {path:?}: {fd}");
    fd as u64
}

#[test]
fn simple_syscalls_allocate_nothing_on_the_sentry_side() {
    let (mut t, page) = boot();
    let (byte, ts, tv) = (page + 64, page + 128, page + 160);
    let zero = open(&mut t, page + 256, b"/dev/zero\0", libc::O_RDONLY);
    let null = open(&mut t, page + 256, b"/dev/null\0", libc::O_WRONLY);
    // Two iovecs of 3 and 5 bytes, as a stdio flush makes them.
    let iov = page + 320;
    let mut two = [0u8; 32];
    two[..8].copy_from_slice(&(page + 384).to_ne_bytes());
    two[8..16].copy_from_slice(&3u64.to_ne_bytes());
    two[16..24].copy_from_slice(&(page + 400).to_ne_bytes());
    two[24..].copy_from_slice(&5u64.to_ne_bytes());
    t.mm.copy_out(iov, &two).unwrap();
    let round = |t: &mut Task| {
        assert_eq!(syscall(t, libc::SYS_getpid, args(&[])), 1);
        assert_eq!(syscall(t, libc::SYS_gettid, args(&[])), 1);
        assert_eq!(syscall(t, libc::SYS_getppid, args(&[])), 0);
        for clock in [
            libc::CLOCK_MONOTONIC,
            libc::CLOCK_REALTIME,
            libc::CLOCK_THREAD_CPUTIME_ID,
            libc::CLOCK_PROCESS_CPUTIME_ID,
        ] {
            let id = clock as u64;
            assert_eq!(syscall(t, libc::SYS_clock_gettime, args(&[id, ts])), 0);
            assert_eq!(syscall(t, libc::SYS_clock_getres, args(&[id, ts])), 0);
        }
        assert!(syscall(t, libc::SYS_time, args(&[ts])) > 0);
        assert_eq!(syscall(t, libc::SYS_gettimeofday, args(&[tv, tv + 16])), 0);
        assert_eq!(syscall(t, libc::SYS_read, args(&[zero, byte, 1])), 1);
        assert_eq!(syscall(t, libc::SYS_write, args(&[null, byte, 1])), 1);
        assert_eq!(syscall(t, libc::SYS_readv, args(&[zero, iov, 2])), 8);
        assert_eq!(syscall(t, libc::SYS_writev, args(&[null, iov, 2])), 8);
        assert_eq!(syscall(t, libc::SYS_getrandom, args(&[ts, 16, 0])), 16);
        let getfd = libc::F_GETFD as u64;
        assert_eq!(syscall(t, libc::SYS_fcntl, args(&[zero, getfd])), 0);
        // A failing one too: EBADF is decided before anything is staged.
        let ebadf = -(libc::EBADF as i64);
        assert_eq!(syscall(t, libc::SYS_read, args(&[999, byte, 1])), ebadf);
    };
    // The first round may set up what later ones reuse.
    round(&mut t);
    let n = sys::allocations_in(|| (0..ROUNDS).for_each(|_| round(&mut t)));
    assert_eq!(n, 0, "{n} allocations in {ROUNDS} rounds");
}

/// Installs a one-instruction seccomp filter that allows everything (using the page's bytes
/// 512..592).
fn install_allow_filter(t: &mut Task, page: u64) {
    // One BPF instruction, `ret SECCOMP_RET_ALLOW` (BPF_RET|BPF_K), then its `sock_fprog`.
    let insn = page + 512;
    let mut ret_allow = [0u8; 8];
    ret_allow[..2].copy_from_slice(&0x06u16.to_ne_bytes());
    ret_allow[4..].copy_from_slice(&0x7fff_0000u32.to_ne_bytes());
    t.mm.copy_out(insn, &ret_allow).unwrap();
    let mut fprog = [0u8; 16];
    fprog[..2].copy_from_slice(&1u16.to_ne_bytes());
    fprog[8..].copy_from_slice(&insn.to_ne_bytes());
    t.mm.copy_out(page + 576, &fprog).unwrap();
    let nnp = libc::PR_SET_NO_NEW_PRIVS as u64;
    assert_eq!(syscall(t, libc::SYS_prctl, args(&[nnp, 1])), 0);
    let set_filter = 1; // SECCOMP_SET_MODE_FILTER
    let r = syscall(t, libc::SYS_seccomp, args(&[set_filter, 0, page + 576]));
    assert_eq!(r, 0);
}

#[test]
fn the_applications_seccomp_filter_check_allocates_nothing() {
    let (mut t, page) = boot();
    install_allow_filter(&mut t, page);
    assert!(
        t.seccomp.active(),
        "the filter is checked on every syscall now"
    );
    let round = |t: &mut Task| {
        assert_eq!(syscall(t, libc::SYS_getpid, args(&[])), 1);
        assert_eq!(syscall(t, libc::SYS_getppid, args(&[])), 0);
    };
    round(&mut t);
    let n = sys::allocations_in(|| (0..ROUNDS).for_each(|_| round(&mut t)));
    assert_eq!(n, 0, "{n} allocations in {ROUNDS} filtered rounds");
}

#[test]
fn a_one_byte_pipe_round_trip_allocates_nothing() {
    let (mut t, page) = boot();
    assert_eq!(syscall(&mut t, libc::SYS_pipe2, args(&[page])), 0);
    let (rfd, wfd) = two_ints(&t, page);
    let byte = page + 64;
    t.mm.copy_out(byte, b"x").unwrap();
    let round = |t: &mut Task| {
        assert_eq!(syscall(t, libc::SYS_write, args(&[wfd, byte, 1])), 1);
        assert_eq!(syscall(t, libc::SYS_read, args(&[rfd, byte + 1, 1])), 1);
    };
    round(&mut t);
    let n = sys::allocations_in(|| (0..ROUNDS).for_each(|_| round(&mut t)));
    // The dispatch and read(2)/write(2) allocate nothing (the test above), and a write into
    // an empty pipe reuses the page the last read emptied (fs/pipe).
    assert_eq!(n, 0, "{n} allocations in {ROUNDS} pipe round trips");
    let mut b = [0u8; 2];
    t.mm.copy_in(byte, &mut b).unwrap();
    assert_eq!(&b, b"xx");
    // Two small writes merge into one page and come out in order, the page reused again.
    t.mm.copy_out(byte, b"yz").unwrap();
    let n = sys::allocations_in(|| {
        assert_eq!(syscall(&mut t, libc::SYS_write, args(&[wfd, byte, 1])), 1);
        assert_eq!(
            syscall(&mut t, libc::SYS_write, args(&[wfd, byte + 1, 1])),
            1
        );
        assert_eq!(
            syscall(&mut t, libc::SYS_read, args(&[rfd, byte + 2, 2])),
            2
        );
    });
    assert_eq!(n, 0, "{n} allocations in merged writes");
    t.mm.copy_in(byte + 2, &mut b).unwrap();
    assert_eq!(&b, b"yz");
}

/// readv/writev decode their iovec array on the stack up to 8 entries and on the heap past
/// that, with Linux's answers either way (`lib/iov_iter.c` `iovec_from_user` and
/// `import_iovec`).
#[test]
fn vectored_io_answers_alike_on_both_sides_of_the_stack_limit() {
    let (mut t, page) = boot();
    let zero = open(&mut t, page + 256, b"/dev/zero\0", libc::O_RDONLY);
    let null = open(&mut t, page + 256, b"/dev/null\0", libc::O_WRONLY);
    let (iov, data) = (page + 1024, page + 2048);
    // Twelve iovecs of 1..=12 bytes: 78 bytes in all.
    let mut raw = Vec::new();
    for i in 0..12u64 {
        raw.extend_from_slice(&(data + i * 16).to_ne_bytes());
        raw.extend_from_slice(&(i + 1).to_ne_bytes());
    }
    t.mm.copy_out(iov, &raw).unwrap();
    t.mm.copy_out(data, &[0xaa; 192]).unwrap();
    for cnt in [1u64, 8, 9, 12] {
        let want = (cnt * (cnt + 1) / 2) as i64;
        assert_eq!(
            syscall(&mut t, libc::SYS_readv, args(&[zero, iov, cnt])),
            want
        );
        assert_eq!(
            syscall(&mut t, libc::SYS_writev, args(&[null, iov, cnt])),
            want
        );
    }
    // readv filled each iovec's bytes and nothing past them.
    let mut back = [0u8; 32];
    t.mm.copy_in(data + 10 * 16, &mut back).unwrap();
    assert_eq!(&back[..11], &[0; 11]);
    assert_eq!(&back[11..16], &[0xaa; 5]);
    assert_eq!(&back[16..28], &[0; 12]);
    let einval = -(libc::EINVAL as i64);
    let efault = -(libc::EFAULT as i64);
    for cnt in [u64::MAX, 1025] {
        assert_eq!(
            syscall(&mut t, libc::SYS_readv, args(&[zero, iov, cnt])),
            einval
        );
    }
    assert_eq!(
        syscall(&mut t, libc::SYS_readv, args(&[zero, 8, 2])),
        efault
    );
    assert_eq!(
        syscall(&mut t, libc::SYS_writev, args(&[null, 8, 9])),
        efault
    );
    // An iovec longer than SSIZE_MAX, in the stack-decoded and the heap-decoded array.
    t.mm.copy_out(iov + 8, &(1u64 << 63).to_ne_bytes()).unwrap();
    for cnt in [2u64, 10] {
        assert_eq!(
            syscall(&mut t, libc::SYS_writev, args(&[null, iov, cnt])),
            einval
        );
    }
}

/// getppid reads a copy of the parent kept in each thread's handle: it follows reparenting
/// to the reaper (init here) in every thread of the orphan, and a new leader (execve by a
/// non-leader thread) starts with it.
#[test]
fn the_parent_copy_follows_reparenting_in_every_thread() {
    use sentry::kernel::wait::TaskWaker;
    use sentry::kernel::{TaskHandle, ThreadGroup};
    let (t, _) = boot();
    let k = t.kernel.clone();
    let handle = |tid: i32, tg: &Arc<ThreadGroup>| {
        let h = Arc::new(TaskHandle::new(
            tid,
            tg.clone(),
            TaskWaker::new(),
            t.interrupter(),
        ));
        k.add_task(h.clone());
        h
    };
    let (mid, orphan) = (k.allocate_pid(), k.allocate_pid());
    let mid_tg = Arc::new(ThreadGroup::new(mid, 1));
    k.add_process(&mid_tg, 1, libc::SIGCHLD);
    let mid_leader = handle(mid, &mid_tg);
    let orphan_tg = Arc::new(ThreadGroup::new(orphan, mid));
    k.add_process(&orphan_tg, mid, libc::SIGCHLD);
    let leader = handle(orphan, &orphan_tg);
    let second = k.allocate_pid();
    let thread = handle(second, &orphan_tg);
    assert_eq!(mid_leader.parent_pid(), 1);
    assert_eq!((leader.parent_pid(), thread.parent_pid()), (mid, mid));
    // The middle process exits: its child goes to init, in both threads.
    assert!(k.task_exited(mid, mid, 0).is_some());
    assert_eq!((leader.parent_pid(), thread.parent_pid()), (1, 1));
    assert_eq!(k.parent_of(orphan), Some(1));
    // The second thread execs: it takes over the leader's pid with a new handle.
    assert!(k.task_exited(orphan, orphan, 0).is_none());
    let new_leader = Arc::new(TaskHandle::new(
        orphan,
        orphan_tg.clone(),
        TaskWaker::new(),
        t.interrupter(),
    ));
    k.take_over_leader(second, new_leader.clone());
    assert_eq!(new_leader.parent_pid(), 1);
}

#[test]
fn the_counter_sees_this_threads_allocations() {
    let n = sys::allocations_in(|| drop(std::hint::black_box(Box::new(7u64))));
    assert_eq!(n, 1);
}

/// One measured step: some syscalls made on the task.
type Step<'a> = dyn Fn(&mut Task) + 'a;

/// The sentry-side cost of one simple syscall: `Task::syscall_trap` alone, with no switch into
/// application code (the host's context switches dominate a real round trip). A measurement,
/// not a check: `cargo test --release -p syscalls --test no_alloc -- --ignored --nocapture`.
#[test]
#[ignore]
fn sentry_side_cost_of_simple_syscalls() {
    let (mut t, page) = boot();
    assert_eq!(syscall(&mut t, libc::SYS_pipe2, args(&[page])), 0);
    let (rfd, wfd) = two_ints(&t, page);
    let (byte, ts) = (page + 64, page + 128);
    let mono = libc::CLOCK_MONOTONIC as u64;
    // The pipe's own work and the descriptor lookup, without the copies to and from the
    // application's memory (process_vm_readv/writev on ptrace, most of a 1-byte read's cost).
    let (rfile, wfile) = (
        t.fd_table.get(rfd as i32).unwrap(),
        t.fd_table.get(wfd as i32).unwrap(),
    );
    let getfd = libc::F_GETFD as u64;
    let kinds: [(&str, &Step<'_>); 7] = [
        ("getpid", &|t| {
            std::hint::black_box(syscall(t, libc::SYS_getpid, args(&[])));
        }),
        ("getppid", &|t| {
            std::hint::black_box(syscall(t, libc::SYS_getppid, args(&[])));
        }),
        ("clock_gettime", &|t| {
            std::hint::black_box(syscall(t, libc::SYS_clock_gettime, args(&[mono, ts])));
        }),
        ("pipe write+read", &|t| {
            assert_eq!(syscall(t, libc::SYS_write, args(&[wfd, byte, 1])), 1);
            assert_eq!(syscall(t, libc::SYS_read, args(&[rfd, byte, 1])), 1);
        }),
        ("pipe file w+r", &|t| {
            let mut b = [0u8; 1];
            assert_eq!(wfile.write(t, b"x"), Ok(1));
            assert_eq!(rfile.read(t, &mut b), Ok(1));
        }),
        ("fcntl F_GETFD", &|t| {
            assert_eq!(syscall(t, libc::SYS_fcntl, args(&[rfd, getfd])), 0);
        }),
        ("fd_table.get", &|t| {
            std::hint::black_box(t.fd_table.get(std::hint::black_box(rfd as i32)).is_ok());
        }),
    ];
    for (name, f) in &kinds {
        measure(name, f, &mut t);
    }
    // Lookups by two threads of one process at once (CLONE_FILES), per lookup pair.
    let table = t.fd_table.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let other = {
        let (table, stop) = (table.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::hint::black_box(table.get(std::hint::black_box(wfd as i32)).is_ok());
            }
        })
    };
    measure("fd get, 2 threads", kinds[6].1, &mut t);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    other.join().unwrap();
    // getpid again with a one-instruction "allow" filter, checked on every syscall.
    install_allow_filter(&mut t, page);
    measure("getpid, filtered", kinds[0].1, &mut t);
}

/// Prints the median, min and max of 7 runs of 200,000 calls of `f`, in ns per call.
fn measure(name: &str, f: &Step<'_>, t: &mut Task) {
    const N: u32 = 200_000;
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let t0 = std::time::Instant::now();
            (0..N).for_each(|_| f(t));
            t0.elapsed().as_nanos() as f64 / f64::from(N)
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    eprintln!(
        "{name:>16}: median {:6.1} ns (min {:6.1}, max {:6.1})",
        runs[3], runs[0], runs[6]
    );
}
