//! The x86_64 syscall table (numbers from `arch/x86/entry/syscalls/syscall_64.tbl`). One row per
//! syscall: number, name (from the `libc::SYS_*` constant, which the tests check the number
//! against), support level with its handler, and the argument kinds `--strace` decodes.
//! A number with no row returns ENOSYS and is logged once per sandbox by the kernel.

use sentry::kernel::ArgKind::*;
use sentry::kernel::Support::{Full, Partial, Unsupported};
use sentry::kernel::{SyscallEntry, SyscallTable};
use sentry::Errno;

use crate::{
    caps, clone, cred, eventfd, exec, fs, mm, mqueue, pipe, poll, process, sched, signal, sys,
    time, wait,
};

macro_rules! syscall_table {
    ($($nr:literal $sys:ident => $support:expr, [$($arg:expr),*];)*) => {
        /// The syscall table `runsc boot` hands to the kernel.
        pub fn table() -> SyscallTable {
            let mut t = SyscallTable::new();
            $(
                t.add(SyscallEntry {
                    nr: $nr,
                    name: &stringify!($sys)[4..],
                    support: $support,
                    args: &[$($arg),*],
                })
                .expect("invariant: the table rows have distinct numbers");
            )*
            t
        }

        /// Each row's number beside libc's number for the same name.
        #[cfg(test)]
        fn row_numbers() -> Vec<(usize, i64, &'static str)> {
            vec![$(($nr, libc::$sys as i64, stringify!($sys))),*]
        }
    };
}

syscall_table! {
    0   SYS_read => Full(fs::sys_read), [Fd, OutBuf, Int];
    1   SYS_write => Full(fs::sys_write), [Fd, InBuf(2), Int];
    2   SYS_open => Full(fs::sys_open), [Path, OpenFlags, Mode];
    3   SYS_close => Full(fs::sys_close), [Fd];
    4   SYS_stat => Full(fs::sys_stat), [Path, Hex];
    5   SYS_fstat => Full(fs::sys_fstat), [Fd, Hex];
    6   SYS_lstat => Full(fs::sys_lstat), [Path, Hex];
    7   SYS_poll => Full(poll::sys_poll), [Hex, Int, Int];
    8   SYS_lseek => Full(fs::sys_lseek), [Fd, Int, Int];
    9   SYS_mmap => Full(mm::sys_mmap), [Hex, Int, Prot, MmapFlags, Fd, Hex];
    10  SYS_mprotect => Full(mm::sys_mprotect), [Hex, Int, Prot];
    11  SYS_munmap => Full(mm::sys_munmap), [Hex, Int];
    12  SYS_brk => Full(mm::sys_brk), [Hex];
    13  SYS_rt_sigaction => Full(signal::sys_rt_sigaction), [Signal, Hex, Hex, Int];
    14  SYS_rt_sigprocmask => Full(signal::sys_rt_sigprocmask), [Int, Hex, Hex, Int];
    15  SYS_rt_sigreturn => Full(signal::sys_rt_sigreturn), [];
    16  SYS_ioctl => Partial(fs::sys_ioctl, "terminal and FIONREAD requests on stdio; on sockets the SIOCGIF* interface requests, SIOCGIFCONF, SIOCINQ/SIOCOUTQ"), [Fd, IoctlReq, Hex];
    17  SYS_pread64 => Full(fs::sys_pread64), [Fd, OutBuf, Int, Int];
    18  SYS_pwrite64 => Full(fs::sys_pwrite64), [Fd, InBuf(2), Int, Int];
    19  SYS_readv => Full(fs::sys_readv), [Fd, Hex, Int];
    20  SYS_writev => Full(fs::sys_writev), [Fd, Hex, Int];
    21  SYS_access => Full(fs::sys_access), [Path, Int];
    22  SYS_pipe => Full(pipe::sys_pipe), [Hex];
    23  SYS_select => Full(poll::sys_select), [Int, Hex, Hex, Hex, Hex];
    24  SYS_sched_yield => Full(process::sys_sched_yield), [];
    25  SYS_mremap => Full(mm::sys_mremap), [Hex, Int, Int, Hex, Hex];
    26  SYS_msync => Full(mm::sys_msync), [Hex, Int, Hex];
    27  SYS_mincore => Full(mm::sys_mincore), [Hex, Int, Hex];
    28  SYS_madvise => Partial(mm::sys_madvise, "only MADV_DONTNEED changes memory; other advice is accepted as a hint"), [Hex, Int, Int];
    29  SYS_shmget => Full(crate::ipc::sys_shmget), [Hex, Int, Hex];
    30  SYS_shmat => Partial(crate::ipc::sys_shmat, "the attach count is the number of mappings of the segment; munmap of an attachment detaches without updating shm_dtime"), [Int, Hex, Hex];
    31  SYS_shmctl => Partial(crate::ipc::sys_shmctl, "SHM_LOCK/SHM_UNLOCK only set the mode bit (nothing is paged)"), [Int, Int, Hex];
    32  SYS_dup => Full(fs::sys_dup), [Fd];
    33  SYS_dup2 => Full(fs::sys_dup2), [Fd, Fd];
    34  SYS_pause => Full(signal::sys_pause), [];
    35  SYS_nanosleep => Full(time::sys_nanosleep), [Hex, Hex];
    36  SYS_getitimer => Full(signal::sys_getitimer), [Int, Hex];
    37  SYS_alarm => Full(signal::sys_alarm), [Int];
    38  SYS_setitimer => Partial(signal::sys_setitimer, "ITIMER_VIRTUAL/ITIMER_PROF poll the process's CPU time every 2 ms"), [Int, Hex, Hex];
    39  SYS_getpid => Full(process::sys_getpid), [];
    40  SYS_sendfile => Full(fs::sys_sendfile), [Fd, Fd, Hex, Int];
    41  SYS_socket => Partial(crate::net::sys_socket, "AF_UNIX; AF_INET/AF_INET6 TCP and UDP: with --network=none on a sandbox-internal loopback only (lo: 127.0.0.0/8, ::1), with --network=host host sockets (no control messages, options from a safe list); AF_NETLINK NETLINK_ROUTE answers link, address and route dumps (lo's, or relayed from the host namespace with --network=host; no changes, no multicast events); other netlink protocols and AF_INET SOCK_RAW are unsupported"), [Int, Hex, Int];
    42  SYS_connect => Full(crate::net::sys_connect), [Fd, Hex, Int];
    43  SYS_accept => Full(crate::net::sys_accept), [Fd, Hex, Hex];
    44  SYS_sendto => Partial(crate::net::sys_sendto, "MSG_OOB is EOPNOTSUPP"), [Fd, InBuf(2), Int, Hex, Hex, Int];
    45  SYS_recvfrom => Partial(crate::net::sys_recvfrom, "MSG_OOB is EOPNOTSUPP"), [Fd, OutBuf, Int, Hex, Hex, Hex];
    46  SYS_sendmsg => Partial(crate::net::sys_sendmsg, "MSG_OOB is EOPNOTSUPP"), [Fd, Hex, Hex];
    47  SYS_recvmsg => Partial(crate::net::sys_recvmsg, "MSG_OOB and MSG_ERRQUEUE are not served"), [Fd, Hex, Hex];
    48  SYS_shutdown => Full(crate::net::sys_shutdown), [Fd, Int];
    49  SYS_bind => Partial(crate::net::sys_bind, "unix socket paths bind on tmpfs only (EPERM on gofer-backed directories)"), [Fd, Hex, Int];
    50  SYS_listen => Full(crate::net::sys_listen), [Fd, Int];
    51  SYS_getsockname => Full(crate::net::sys_getsockname), [Fd, Hex, Hex];
    52  SYS_getpeername => Full(crate::net::sys_getpeername), [Fd, Hex, Hex];
    53  SYS_socketpair => Full(crate::net::sys_socketpair), [Int, Hex, Int, Hex];
    54  SYS_setsockopt => Partial(crate::net::sys_setsockopt, "SOL_SOCKET only; buffer sizes bound accounting only roughly"), [Fd, Int, Int, Hex, Int];
    55  SYS_getsockopt => Partial(crate::net::sys_getsockopt, "SOL_SOCKET only"), [Fd, Int, Int, Hex, Hex];
    56  SYS_clone => Partial(clone::sys_clone, "CLONE_NEWNS copies the mount namespace; other namespaces and CLONE_PIDFD|CLONE_THREAD are EINVAL"), [Hex, Hex, Hex, Hex, Hex];
    57  SYS_fork => Full(clone::sys_fork), [];
    58  SYS_vfork => Full(clone::sys_vfork), [];
    59  SYS_execve => Full(exec::sys_execve), [Path, StrArray, StrArray];
    60  SYS_exit => Full(process::sys_exit), [Int];
    61  SYS_wait4 => Partial(wait::sys_wait4, "stopped/continued children are not reported; rusage is zero"), [Int, Hex, Hex, Hex];
    62  SYS_kill => Full(signal::sys_kill), [Int, Signal];
    63  SYS_uname => Full(sys::sys_uname), [Hex];
    64  SYS_semget => Full(crate::ipc::sys_semget), [Hex, Int, Hex];
    65  SYS_semop => Full(crate::ipc::sys_semop), [Int, Hex, Int];
    66  SYS_semctl => Full(crate::ipc::sys_semctl), [Int, Int, Int, Hex];
    67  SYS_shmdt => Full(crate::ipc::sys_shmdt), [Hex];
    68  SYS_msgget => Full(crate::ipc::sys_msgget), [Hex, Hex];
    69  SYS_msgsnd => Full(crate::ipc::sys_msgsnd), [Int, Hex, Int, Hex];
    70  SYS_msgrcv => Full(crate::ipc::sys_msgrcv), [Int, Hex, Int, Int, Hex];
    71  SYS_msgctl => Full(crate::ipc::sys_msgctl), [Int, Int, Hex];
    72  SYS_fcntl => Partial(fs::sys_fcntl, "descriptor and status flags, record and OFD locks, seals, pipe sizes; leases and notifications are EINVAL"), [Fd, Int, Hex];
    73  SYS_flock => Full(fs::sys_flock), [Fd, Int];
    74  SYS_fsync => Full(fs::sys_fsync), [Fd];
    75  SYS_fdatasync => Full(fs::sys_fdatasync), [Fd];
    76  SYS_truncate => Full(fs::sys_truncate), [Path, Int];
    77  SYS_ftruncate => Full(fs::sys_ftruncate), [Fd, Int];
    78  SYS_getdents => Full(fs::sys_getdents), [Fd, Hex, Int];
    79  SYS_getcwd => Full(fs::sys_getcwd), [OutBuf, Int];
    80  SYS_chdir => Full(fs::sys_chdir), [Path];
    81  SYS_fchdir => Full(fs::sys_fchdir), [Fd];
    82  SYS_rename => Full(fs::sys_rename), [Path, Path];
    83  SYS_mkdir => Full(fs::sys_mkdir), [Path, Mode];
    84  SYS_rmdir => Full(fs::sys_rmdir), [Path];
    85  SYS_creat => Full(fs::sys_creat), [Path, Mode];
    86  SYS_link => Full(fs::sys_link), [Path, Path];
    87  SYS_unlink => Full(fs::sys_unlink), [Path];
    88  SYS_symlink => Full(fs::sys_symlink), [Path, Path];
    89  SYS_readlink => Full(fs::sys_readlink), [Path, OutBuf, Int];
    90  SYS_chmod => Full(fs::sys_chmod), [Path, Mode];
    91  SYS_fchmod => Full(fs::sys_fchmod), [Fd, Mode];
    92  SYS_chown => Full(fs::sys_chown), [Path, Int, Int];
    93  SYS_fchown => Full(fs::sys_fchown), [Fd, Int, Int];
    94  SYS_lchown => Full(fs::sys_lchown), [Path, Int, Int];
    95  SYS_umask => Full(fs::sys_umask), [Mode];
    96  SYS_gettimeofday => Full(time::sys_gettimeofday), [Hex, Hex];
    97  SYS_getrlimit => Full(process::sys_getrlimit), [Int, Hex];
    98  SYS_getrusage => Partial(time::sys_getrusage, "CPU times only (user from the host's accounting of the stub; RUSAGE_THREAD user time is time in application code); memory, fault and switch counts are zero"), [Int, Hex];
    99  SYS_sysinfo => Full(sys::sys_sysinfo), [Hex];
    100 SYS_times => Full(time::sys_times), [Hex];
    102 SYS_getuid => Full(process::sys_getuid), [];
    103 SYS_syslog => Unsupported(Errno::EPERM, "the sandbox has no kernel log to read"), [Int, Hex, Int];
    104 SYS_getgid => Full(process::sys_getgid), [];
    105 SYS_setuid => Full(cred::sys_setuid), [Int];
    106 SYS_setgid => Full(cred::sys_setgid), [Int];
    107 SYS_geteuid => Full(process::sys_geteuid), [];
    108 SYS_getegid => Full(process::sys_getegid), [];
    109 SYS_setpgid => Full(process::sys_setpgid), [Int, Int];
    110 SYS_getppid => Full(process::sys_getppid), [];
    111 SYS_getpgrp => Full(process::sys_getpgrp), [];
    112 SYS_setsid => Full(process::sys_setsid), [];
    113 SYS_setreuid => Full(cred::sys_setreuid), [Int, Int];
    114 SYS_setregid => Full(cred::sys_setregid), [Int, Int];
    115 SYS_getgroups => Full(process::sys_getgroups), [Int, Hex];
    116 SYS_setgroups => Full(cred::sys_setgroups), [Int, Hex];
    117 SYS_setresuid => Full(process::sys_setresuid), [Int, Int, Int];
    118 SYS_getresuid => Full(process::sys_getresuid), [Hex, Hex, Hex];
    119 SYS_setresgid => Full(process::sys_setresgid), [Int, Int, Int];
    120 SYS_getresgid => Full(process::sys_getresgid), [Hex, Hex, Hex];
    121 SYS_getpgid => Full(process::sys_getpgid), [Int];
    122 SYS_setfsuid => Full(cred::sys_setfsuid), [Int];
    123 SYS_setfsgid => Full(cred::sys_setfsgid), [Int];
    124 SYS_getsid => Full(process::sys_getsid), [Int];
    125 SYS_capget => Full(caps::sys_capget), [Hex, Hex];
    126 SYS_capset => Full(caps::sys_capset), [Hex, Hex];
    127 SYS_rt_sigpending => Full(signal::sys_rt_sigpending), [Hex, Int];
    128 SYS_rt_sigtimedwait => Full(signal::sys_rt_sigtimedwait), [Hex, Hex, Hex, Int];
    129 SYS_rt_sigqueueinfo => Full(signal::sys_rt_sigqueueinfo), [Int, Signal, Hex];
    130 SYS_rt_sigsuspend => Full(signal::sys_rt_sigsuspend), [Hex, Int];
    131 SYS_sigaltstack => Full(signal::sys_sigaltstack), [Hex, Hex];
    132 SYS_utime => Full(fs::sys_utime), [Path, Hex];
    133 SYS_mknod => Partial(fs::sys_mknod, "regular files and FIFOs; device and socket nodes are EPERM"), [Path, Mode, Hex];
    134 SYS_uselib => Unsupported(Errno::ENOSYS, "obsolete"), [Path];
    135 SYS_personality => Partial(sched::sys_personality, "the persona is kept and reported; its flags change nothing"), [Hex];
    137 SYS_statfs => Full(fs::sys_statfs), [Path, Hex];
    138 SYS_fstatfs => Full(fs::sys_fstatfs), [Fd, Hex];
    140 SYS_getpriority => Full(sched::sys_getpriority), [Int, Int];
    141 SYS_setpriority => Partial(sched::sys_setpriority, "kept per process and reported; host threads are not reprioritised"), [Int, Int, Int];
    142 SYS_sched_setparam => Partial(sched::sys_sched_setparam, "kept and reported; host threads are not rescheduled"), [Int, Hex];
    143 SYS_sched_getparam => Full(sched::sys_sched_getparam), [Int, Hex];
    144 SYS_sched_setscheduler => Partial(sched::sys_sched_setscheduler, "kept and reported; host threads are not rescheduled; SCHED_DEADLINE EINVAL"), [Int, Int, Hex];
    145 SYS_sched_getscheduler => Full(sched::sys_sched_getscheduler), [Int];
    146 SYS_sched_get_priority_max => Full(sched::sys_sched_get_priority_max), [Int];
    147 SYS_sched_get_priority_min => Full(sched::sys_sched_get_priority_min), [Int];
    148 SYS_sched_rr_get_interval => Full(sched::sys_sched_rr_get_interval), [Int, Hex];
    149 SYS_mlock => Full(mm::sys_mlock), [Hex, Int];
    150 SYS_munlock => Full(mm::sys_munlock), [Hex, Int];
    151 SYS_mlockall => Full(mm::sys_mlockall), [Hex];
    152 SYS_munlockall => Full(mm::sys_munlockall), [];
    153 SYS_vhangup => Unsupported(Errno::EPERM, "no virtual terminal to hang up"), [];
    155 SYS_pivot_root => Partial(fs::sys_pivot_root, "Linux's checks and move; roots and working directories follow in the caller's and each process leader's filesystem context (not in other threads' own)"), [Path, Path];
    157 SYS_prctl => Partial(process::sys_prctl, "name, pdeathsig, dumpable, child subreaper, no_new_privs, seccomp; other options EINVAL"), [Int, Hex, Hex, Hex, Hex];
    158 SYS_arch_prctl => Full(process::sys_arch_prctl), [Hex, Hex];
    160 SYS_setrlimit => Partial(process::sys_setrlimit, "RLIMIT_NOFILE, NPROC, AS, DATA, STACK (the main stack's size at exec), NICE and FSIZE (write, pwrite, writev, truncate, fallocate; not sendfile/splice/copy_file_range) are enforced; MEMLOCK, CORE, CPU, RTTIME, MSGQUEUE and SIGPENDING are only recorded"), [Int, Hex];
    161 SYS_chroot => Full(fs::sys_chroot), [Path];
    162 SYS_sync => Full(fs::sys_sync), [];
    163 SYS_acct => Unsupported(Errno::EPERM, "process accounting is the host's"), [Path];
    164 SYS_settimeofday => Unsupported(Errno::EPERM, "the sandbox cannot set the host's clock"), [Hex, Hex];
    165 SYS_mount => Partial(fs::sys_mount, "tmpfs (size=, nr_inodes= enforced), proc, sysfs, mqueue; bind mounts, MS_REC copying the mounts below; remounts of ro, nosuid, nodev, noexec, atime flags (enforced) and tmpfs limits; shared/private/slave/unbindable with propagation to peers and slaves; MS_MOVE; mounts over a namespace root are EINVAL"), [Path, Path, Path, Hex, Hex];
    166 SYS_umount2 => Partial(fs::sys_umount2, "EBUSY only for a mount with mounts below it; MNT_EXPIRE never expires"), [Path, Hex];
    167 SYS_swapon => Unsupported(Errno::EPERM, "swap is the host's"), [Path, Hex];
    168 SYS_swapoff => Unsupported(Errno::EPERM, "swap is the host's"), [Path];
    169 SYS_reboot => Unsupported(Errno::EPERM, "a container cannot reboot the machine; its init exits instead"), [Hex, Hex, Hex, Hex];
    170 SYS_sethostname => Full(sys::sys_sethostname), [Path, Int];
    171 SYS_setdomainname => Full(sys::sys_setdomainname), [Path, Int];
    172 SYS_iopl => Unsupported(Errno::EPERM, "no I/O port access"), [Int];
    173 SYS_ioperm => Unsupported(Errno::EPERM, "no I/O port access"), [Hex, Hex, Int];
    175 SYS_init_module => Unsupported(Errno::EPERM, "kernel modules are the host's"), [Hex, Int, Path];
    176 SYS_delete_module => Unsupported(Errno::EPERM, "kernel modules are the host's"), [Path, Hex];
    179 SYS_quotactl => Unsupported(Errno::EPERM, "disk quotas are the host's"), [Hex, Path, Int, Hex];
    186 SYS_gettid => Full(process::sys_gettid), [];
    187 SYS_readahead => Full(fs::sys_readahead), [Fd, Int, Int];
    188 SYS_setxattr => Partial(fs::sys_setxattr, "user.* on tmpfs only; EOPNOTSUPP elsewhere"), [Path, Path, Hex, Int, Hex];
    189 SYS_lsetxattr => Partial(fs::sys_lsetxattr, "user.* on tmpfs only; EOPNOTSUPP elsewhere"), [Path, Path, Hex, Int, Hex];
    190 SYS_fsetxattr => Partial(fs::sys_fsetxattr, "user.* on tmpfs only; EOPNOTSUPP elsewhere"), [Fd, Path, Hex, Int, Hex];
    191 SYS_getxattr => Partial(fs::sys_getxattr, "user.* on tmpfs only; EOPNOTSUPP elsewhere"), [Path, Path, Hex, Int];
    192 SYS_lgetxattr => Partial(fs::sys_lgetxattr, "user.* on tmpfs only; EOPNOTSUPP elsewhere"), [Path, Path, Hex, Int];
    193 SYS_fgetxattr => Partial(fs::sys_fgetxattr, "user.* on tmpfs only; EOPNOTSUPP elsewhere"), [Fd, Path, Hex, Int];
    194 SYS_listxattr => Partial(fs::sys_listxattr, "user.* on tmpfs only; empty elsewhere"), [Path, Hex, Int];
    195 SYS_llistxattr => Partial(fs::sys_llistxattr, "user.* on tmpfs only; empty elsewhere"), [Path, Hex, Int];
    196 SYS_flistxattr => Partial(fs::sys_flistxattr, "user.* on tmpfs only; empty elsewhere"), [Fd, Hex, Int];
    197 SYS_removexattr => Partial(fs::sys_removexattr, "user.* on tmpfs only; EOPNOTSUPP elsewhere"), [Path, Path];
    198 SYS_lremovexattr => Partial(fs::sys_lremovexattr, "user.* on tmpfs only; EOPNOTSUPP elsewhere"), [Path, Path];
    199 SYS_fremovexattr => Partial(fs::sys_fremovexattr, "user.* on tmpfs only; EOPNOTSUPP elsewhere"), [Fd, Path];
    200 SYS_tkill => Full(signal::sys_tkill), [Int, Signal];
    201 SYS_time => Full(time::sys_time), [Hex];
    202 SYS_futex => Partial(process::sys_futex, "PI locks follow the protocol without boosting priorities; WAIT_REQUEUE_PI and CMP_REQUEUE_PI are EINVAL"), [Hex, Int, Int, Hex, Hex, Int];
    203 SYS_sched_setaffinity => Partial(process::sys_sched_setaffinity, "kept per thread and reported by sched_getaffinity and getcpu; host threads are not pinned"), [Int, Int, Hex];
    204 SYS_sched_getaffinity => Full(process::sys_sched_getaffinity), [Int, Int, Hex];
    213 SYS_epoll_create => Full(poll::sys_epoll_create), [Int];
    217 SYS_getdents64 => Full(fs::sys_getdents64), [Fd, Hex, Int];
    218 SYS_set_tid_address => Full(process::sys_set_tid_address), [Hex];
    219 SYS_restart_syscall => Partial(time::sys_restart_syscall, "only interrupted relative sleeps leave a restart block; otherwise EINTR"), [];
    220 SYS_semtimedop => Full(crate::ipc::sys_semtimedop), [Int, Hex, Int, Hex];
    221 SYS_fadvise64 => Full(fs::sys_fadvise64), [Fd, Int, Int, Int];
    222 SYS_timer_create => Partial(crate::timer::sys_timer_create, "thread and other processes' CPU clocks are EINVAL; alarm clocks EOPNOTSUPP; CLOCK_PROCESS_CPUTIME_ID timers poll every 2 ms"), [Int, Hex, Hex];
    223 SYS_timer_settime => Full(crate::timer::sys_timer_settime), [Int, Int, Hex, Hex];
    224 SYS_timer_gettime => Full(crate::timer::sys_timer_gettime), [Int, Hex];
    225 SYS_timer_getoverrun => Full(crate::timer::sys_timer_getoverrun), [Int];
    226 SYS_timer_delete => Full(crate::timer::sys_timer_delete), [Int];
    227 SYS_clock_settime => Unsupported(Errno::EPERM, "the sandbox cannot set the host's clock"), [Int, Hex];
    228 SYS_clock_gettime => Full(time::sys_clock_gettime), [Int, Hex];
    229 SYS_clock_getres => Full(time::sys_clock_getres), [Int, Hex];
    230 SYS_clock_nanosleep => Full(time::sys_clock_nanosleep), [Int, Int, Hex, Hex];
    231 SYS_exit_group => Full(process::sys_exit_group), [Int];
    232 SYS_epoll_wait => Full(poll::sys_epoll_wait), [Fd, Hex, Int, Int];
    233 SYS_epoll_ctl => Full(poll::sys_epoll_ctl), [Fd, Int, Fd, Hex];
    234 SYS_tgkill => Full(signal::sys_tgkill), [Int, Int, Signal];
    235 SYS_utimes => Full(fs::sys_utimes), [Path, Hex];
    240 SYS_mq_open => Full(mqueue::sys_mq_open), [Path, OpenFlags, Mode, Hex];
    241 SYS_mq_unlink => Full(mqueue::sys_mq_unlink), [Path];
    242 SYS_mq_timedsend => Full(mqueue::sys_mq_timedsend), [Fd, InBuf(2), Int, Int, Hex];
    243 SYS_mq_timedreceive => Full(mqueue::sys_mq_timedreceive), [Fd, OutBuf, Int, Hex, Hex];
    244 SYS_mq_notify => Partial(mqueue::sys_mq_notify, "SIGEV_THREAD (glibc's netlink-based notification) is EINVAL"), [Fd, Hex];
    245 SYS_mq_getsetattr => Full(mqueue::sys_mq_getsetattr), [Fd, Hex, Hex];
    246 SYS_kexec_load => Unsupported(Errno::EPERM, "a container cannot load a kernel"), [Hex, Int, Hex, Hex];
    247 SYS_waitid => Partial(wait::sys_waitid, "stopped/continued children are not reported"), [Int, Int, Hex, Hex, Hex];
    251 SYS_ioprio_set => Partial(sched::sys_ioprio_set, "kept per process (Linux: per thread) and reported; the gofer's host I/O is not reprioritised"), [Int, Int, Hex];
    252 SYS_ioprio_get => Full(sched::sys_ioprio_get), [Int, Int];
    253 SYS_inotify_init => Partial(fs::sys_inotify_init, "events for changes made inside the sandbox only; IN_DELETE_SELF comes at the last unlink even while the file is open; IN_UNMOUNT is never sent"), [];
    254 SYS_inotify_add_watch => Partial(fs::sys_inotify_add_watch, "events for changes made inside the sandbox only"), [Fd, Path, Hex];
    255 SYS_inotify_rm_watch => Full(fs::sys_inotify_rm_watch), [Fd, Int];
    257 SYS_openat => Full(fs::sys_openat), [Fd, Path, OpenFlags, Mode];
    258 SYS_mkdirat => Full(fs::sys_mkdirat), [Fd, Path, Mode];
    259 SYS_mknodat => Partial(fs::sys_mknodat, "regular files and FIFOs; device and socket nodes are EPERM"), [Fd, Path, Mode, Hex];
    260 SYS_fchownat => Full(fs::sys_fchownat), [Fd, Path, Int, Int, Hex];
    261 SYS_futimesat => Full(fs::sys_futimesat), [Fd, Path, Hex];
    262 SYS_newfstatat => Full(fs::sys_newfstatat), [Fd, Path, Hex, Hex];
    263 SYS_unlinkat => Full(fs::sys_unlinkat), [Fd, Path, Hex];
    264 SYS_renameat => Full(fs::sys_renameat), [Fd, Path, Fd, Path];
    265 SYS_linkat => Full(fs::sys_linkat), [Fd, Path, Fd, Path, Hex];
    266 SYS_symlinkat => Full(fs::sys_symlinkat), [Path, Fd, Path];
    267 SYS_readlinkat => Full(fs::sys_readlinkat), [Fd, Path, OutBuf, Int];
    268 SYS_fchmodat => Full(fs::sys_fchmodat), [Fd, Path, Mode];
    269 SYS_faccessat => Full(fs::sys_faccessat), [Fd, Path, Int];
    270 SYS_pselect6 => Partial(poll::sys_pselect6, "the signal mask is swapped for the wait only: a signal it alone unblocked stays pending afterwards instead of being delivered"), [Int, Hex, Hex, Hex, Hex, Hex];
    271 SYS_ppoll => Partial(poll::sys_ppoll, "the signal mask is swapped for the wait only: a signal it alone unblocked stays pending afterwards instead of being delivered"), [Hex, Int, Hex, Hex, Int];
    272 SYS_unshare => Partial(clone::sys_unshare, "CLONE_FILES, CLONE_FS and CLONE_NEWNS (a copy of the mount tree, shared mounts staying peers); other new namespaces are EINVAL (the sandbox is one of each)"), [Hex];
    273 SYS_set_robust_list => Full(process::sys_set_robust_list), [Hex, Int];
    274 SYS_get_robust_list => Full(process::sys_get_robust_list), [Int, Hex, Hex];
    275 SYS_splice => Partial(fs::sys_splice, "bytes are copied through the sentry; SPLICE_F_MOVE and SPLICE_F_GIFT are hints"), [Fd, Hex, Fd, Hex, Int, Hex];
    276 SYS_tee => Full(fs::sys_tee), [Fd, Fd, Int, Hex];
    277 SYS_sync_file_range => Full(fs::sys_sync_file_range), [Fd, Int, Int, Hex];
    278 SYS_vmsplice => Partial(fs::sys_vmsplice, "user pages are copied, never gifted or mapped"), [Fd, Hex, Int, Hex];
    280 SYS_utimensat => Full(fs::sys_utimensat), [Fd, Path, Hex, Hex];
    281 SYS_epoll_pwait => Partial(poll::sys_epoll_pwait, "the signal mask is swapped for the wait only: a signal it alone unblocked stays pending afterwards instead of being delivered"), [Fd, Hex, Int, Int, Hex, Int];
    282 SYS_signalfd => Partial(crate::signalfd::sys_signalfd, "poll/epoll readiness looks at the creating thread's pending signals, not the poller's"), [Fd, Hex, Int];
    283 SYS_timerfd_create => Full(crate::timerfd::sys_timerfd_create), [Int, OpenFlags];
    284 SYS_eventfd => Full(eventfd::sys_eventfd), [Int];
    285 SYS_fallocate => Partial(fs::sys_fallocate, "modes 0 and FALLOC_FL_KEEP_SIZE; punching and collapsing are EOPNOTSUPP"), [Fd, Hex, Int, Int];
    286 SYS_timerfd_settime => Partial(crate::timerfd::sys_timerfd_settime, "TFD_TIMER_CANCEL_ON_SET is accepted but clock changes never cancel the read"), [Fd, Hex, Hex, Hex];
    287 SYS_timerfd_gettime => Full(crate::timerfd::sys_timerfd_gettime), [Fd, Hex];
    288 SYS_accept4 => Full(crate::net::sys_accept4), [Fd, Hex, Hex, OpenFlags];
    289 SYS_signalfd4 => Partial(crate::signalfd::sys_signalfd4, "poll/epoll readiness looks at the creating thread's pending signals, not the poller's"), [Fd, Hex, Int, OpenFlags];
    290 SYS_eventfd2 => Full(eventfd::sys_eventfd2), [Int, OpenFlags];
    291 SYS_epoll_create1 => Full(poll::sys_epoll_create1), [OpenFlags];
    292 SYS_dup3 => Full(fs::sys_dup3), [Fd, Fd, OpenFlags];
    293 SYS_pipe2 => Full(pipe::sys_pipe2), [Hex, OpenFlags];
    294 SYS_inotify_init1 => Partial(fs::sys_inotify_init1, "events for changes made inside the sandbox only; IN_DELETE_SELF comes at the last unlink even while the file is open; IN_UNMOUNT is never sent"), [OpenFlags];
    295 SYS_preadv => Full(fs::sys_preadv), [Fd, Hex, Int, Int];
    296 SYS_pwritev => Full(fs::sys_pwritev), [Fd, Hex, Int, Int];
    297 SYS_rt_tgsigqueueinfo => Full(signal::sys_rt_tgsigqueueinfo), [Int, Int, Signal, Hex];
    299 SYS_recvmmsg => Partial(crate::net::sys_recvmmsg, "the timeout is not applied"), [Fd, Hex, Int, Hex, Hex];
    302 SYS_prlimit64 => Partial(process::sys_prlimit64, "RLIMIT_NOFILE, NPROC, AS, DATA, STACK (the main stack's size at exec), NICE and FSIZE (write, pwrite, writev, truncate, fallocate; not sendfile/splice/copy_file_range) are enforced; MEMLOCK, CORE, CPU, RTTIME, MSGQUEUE and SIGPENDING are only recorded"), [Int, Int, Hex, Hex];
    306 SYS_syncfs => Full(fs::sys_syncfs), [Fd];
    307 SYS_sendmmsg => Full(crate::net::sys_sendmmsg), [Fd, Hex, Int, Hex];
    309 SYS_getcpu => Full(process::sys_getcpu), [Hex, Hex, Hex];
    310 SYS_process_vm_readv => Full(mm::sys_process_vm_readv), [Int, Hex, Int, Hex, Int, Hex];
    311 SYS_process_vm_writev => Full(mm::sys_process_vm_writev), [Int, Hex, Int, Hex, Int, Hex];
    313 SYS_finit_module => Unsupported(Errno::EPERM, "kernel modules are the host's"), [Fd, Path, Hex];
    314 SYS_sched_setattr => Partial(sched::sys_sched_setattr, "kept per process and reported; host threads are not rescheduled; SCHED_DEADLINE EINVAL, utilization clamps EOPNOTSUPP"), [Int, Hex, Hex];
    315 SYS_sched_getattr => Full(sched::sys_sched_getattr), [Int, Hex, Int, Hex];
    316 SYS_renameat2 => Partial(fs::sys_renameat2, "RENAME_WHITEOUT is EINVAL"), [Fd, Path, Fd, Path, Hex];
    317 SYS_seccomp => Partial(crate::seccomp::sys_seccomp, "SECCOMP_FILTER_FLAG_NEW_LISTENER is EINVAL; RET_TRACE and RET_USER_NOTIF act as with no tracer or listener (ENOSYS)"), [Int, Hex, Hex];
    318 SYS_getrandom => Full(sys::sys_getrandom), [OutBuf, Int, Hex];
    319 SYS_memfd_create => Partial(fs::sys_memfd_create, "MFD_HUGETLB is EINVAL; F_SEAL_WRITE does not check existing shared mappings"), [Path, Hex];
    320 SYS_kexec_file_load => Unsupported(Errno::EPERM, "a container cannot load a kernel"), [Fd, Fd, Int, Path, Hex];
    322 SYS_execveat => Partial(exec::sys_execveat, "a dirfd other than AT_FDCWD works only with absolute paths"), [Fd, Path, StrArray, StrArray, Hex];
    325 SYS_mlock2 => Full(mm::sys_mlock2), [Hex, Int, Hex];
    326 SYS_copy_file_range => Full(fs::sys_copy_file_range), [Fd, Hex, Fd, Hex, Int, Hex];
    327 SYS_preadv2 => Partial(fs::sys_preadv2, "RWF_NOWAIT checks readiness first"), [Fd, Hex, Int, Int, Int, Hex];
    328 SYS_pwritev2 => Partial(fs::sys_pwritev2, "RWF_NOWAIT checks readiness first; RWF_APPEND takes the size then writes"), [Fd, Hex, Int, Int, Int, Hex];
    332 SYS_statx => Full(fs::sys_statx), [Fd, Path, Hex, Hex, Hex];
    334 SYS_rseq => Unsupported(Errno::ENOSYS, "restartable sequences are not offered; glibc falls back"), [Hex, Int, Hex, Hex];
    424 SYS_pidfd_send_signal => Full(crate::pidfd::sys_pidfd_send_signal), [Fd, Signal, Hex, Hex];
    434 SYS_pidfd_open => Partial(crate::pidfd::sys_pidfd_open, "PIDFD_THREAD is EINVAL"), [Int, OpenFlags];
    435 SYS_clone3 => Partial(clone::sys_clone3, "CLONE_NEWNS copies the mount namespace; set_tid, cgroup, other namespaces and CLONE_PIDFD|CLONE_THREAD are EINVAL"), [Hex, Int];
    436 SYS_close_range => Full(fs::sys_close_range), [Int, Int, Hex];
    437 SYS_openat2 => Partial(fs::sys_openat2, "the restricted walk and the open are two walks (a concurrent rename between them is not caught); RESOLVE_CACHED never answers EAGAIN for a lookup"), [Fd, Path, Hex, Int];
    438 SYS_pidfd_getfd => Full(crate::pidfd::sys_pidfd_getfd), [Fd, Int, Hex];
    439 SYS_faccessat2 => Full(fs::sys_faccessat2), [Fd, Path, Int, Hex];
    441 SYS_epoll_pwait2 => Partial(poll::sys_epoll_pwait2, "the signal mask is swapped for the wait only: a signal it alone unblocked stays pending afterwards instead of being delivered"), [Fd, Hex, Int, Hex, Hex, Int];
    452 SYS_fchmodat2 => Full(fs::sys_fchmodat2), [Fd, Path, Mode, Hex];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_libc() {
        for (nr, libc_nr, name) in row_numbers() {
            assert_eq!(nr as i64, libc_nr, "{name}");
        }
    }

    #[test]
    fn no_number_repeats_and_names_are_stripped() {
        let t = table();
        let mut seen = std::collections::HashSet::new();
        for e in t.entries() {
            assert!(seen.insert(e.nr), "{} repeated", e.nr);
            assert!(!e.name.starts_with("SYS_"));
        }
        assert_eq!(t.lookup(0).map(|e| e.name), Some("read"));
        assert!(t.lookup(9999).is_none());
    }

    #[test]
    fn path_arguments_are_decoded() {
        let t = table();
        let openat = t.lookup(257).expect("openat row");
        assert_eq!(openat.args, &[Fd, Path, OpenFlags, Mode]);
    }
}
