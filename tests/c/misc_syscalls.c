/* Assorted file and system syscalls: preadv2(2)/pwritev2(2) with their flags, readahead(2),
 * the old getdents(2), mlockall(2)/mlock2(2), chroot(2) with getcwd(2) after it, and the error
 * paths of sethostname(2)/setdomainname(2) (changing the name for real would change the
 * host's). Prints one line per case; the sandbox must print the same. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static char dir[64];

static void rw2(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/f", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    struct iovec iov[2] = {{"hello ", 6}, {"world", 5}};
    printf("pwritev2 at 0=%ld\n", syscall(SYS_pwritev2, fd, iov, 2, 0L, 0L, 0));
    printf("offset after positioned write=%ld\n", (long)lseek(fd, 0, SEEK_CUR));
    struct iovec one = {"!", 1};
    printf("pwritev2 append=%ld\n", syscall(SYS_pwritev2, fd, &one, 1, 0L, 0L, RWF_APPEND));
    printf("pwritev2 at -1 (file position)=%ld\n", syscall(SYS_pwritev2, fd, &one, 1, -1L, 0L, 0));
    printf("offset now=%ld\n", (long)lseek(fd, 0, SEEK_CUR));
    printf("pwritev2 dsync=%ld\n", syscall(SYS_pwritev2, fd, &one, 1, 20L, 0L, RWF_DSYNC));
    printf("pwritev2 bad flag=%s\n", err(syscall(SYS_pwritev2, fd, &one, 1, 0L, 0L, 0x100000)));
    printf("pwritev2 offset -2=%s\n", err(syscall(SYS_pwritev2, fd, &one, 1, -2L, 0L, 0)));
    char a[8] = {0}, b[16] = {0};
    struct iovec riov[2] = {{a, 5}, {b, 16}};
    long n = syscall(SYS_preadv2, fd, riov, 2, 0L, 0L, RWF_HIPRI);
    printf("preadv2=%ld a=%s b=%.*s\n", n, a, (int)(n > 5 ? n - 5 : 0), b);
    lseek(fd, 6, SEEK_SET);
    memset(a, 0, sizeof a);
    struct iovec r1 = {a, 5};
    printf("preadv2 at -1=%ld a=%s\n", syscall(SYS_preadv2, fd, &r1, 1, -1L, 0L, 0), a);
    printf("offset moved to=%ld\n", (long)lseek(fd, 0, SEEK_CUR));
    printf("preadv2 nowait on a file=%ld\n", syscall(SYS_preadv2, fd, &r1, 1, 0L, 0L, RWF_NOWAIT));
    int p[2];
    pipe(p);
    printf("preadv2 nowait empty pipe=%s\n",
           err(syscall(SYS_preadv2, p[0], &r1, 1, -1L, 0L, RWF_NOWAIT)));
    write(p[1], "xy", 2);
    printf("preadv2 nowait pipe with data=%ld\n",
           syscall(SYS_preadv2, p[0], &r1, 1, -1L, 0L, RWF_NOWAIT));
    printf("preadv2 bad fd=%s\n", err(syscall(SYS_preadv2, 999, &r1, 1, 0L, 0L, 0)));
    /* readahead */
    printf("readahead file=%s\n", err(readahead(fd, 0, 4096)));
    printf("readahead pipe=%s\n", err(readahead(p[0], 0, 4096)));
    printf("readahead bad fd=%s\n", err(readahead(999, 0, 4096)));
    int wo = open(path, O_WRONLY);
    printf("readahead write-only=%s\n", err(readahead(wo, 0, 4096)));
    close(wo);
    close(p[0]);
    close(p[1]);
    close(fd);
    unlink(path);
}

struct old_dirent {
    unsigned long d_ino;
    unsigned long d_off;
    unsigned short d_reclen;
    char d_name[];
};

static int cmp(const void *x, const void *y) {
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static void old_getdents(void) {
    char path[128];
    const char *names[] = {"alpha", "b", "a-much-longer-name-for-padding", "sub"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        close(open(path, O_CREAT | O_WRONLY, 0644));
    }
    snprintf(path, sizeof path, "%s/sub", dir);
    mkdir(path, 0755);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    char buf[4096];
    char *seen[16];
    int count = 0, total = 0;
    long n;
    while ((n = syscall(SYS_getdents, fd, buf, sizeof buf)) > 0) {
        for (long at = 0; at < n;) {
            struct old_dirent *d = (struct old_dirent *)(buf + at);
            char type = buf[at + d->d_reclen - 1];
            char *line = malloc(128);
            snprintf(line, 128, "%s type=%d", d->d_name, type);
            if (count < 16) seen[count++] = line;
            total++;
            at += d->d_reclen;
        }
    }
    qsort(seen, count, sizeof seen[0], cmp);
    printf("getdents entries=%d:", total);
    for (int i = 0; i < count; i++) printf(" [%s]", seen[i]);
    printf("\n");
    printf("getdents at the end=%ld\n", syscall(SYS_getdents, fd, buf, sizeof buf));
    lseek(fd, 0, SEEK_SET);
    printf("getdents small buffer=%s\n", err(syscall(SYS_getdents, fd, buf, 8)));
    printf("getdents on a file=%s\n", err(syscall(SYS_getdents, 0, buf, sizeof buf)));
    close(fd);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/sub", dir);
    rmdir(path);
}

static void mlocks(void) {
    printf("mlockall 0=%s\n", err(mlockall(0)));
    printf("mlockall onfault alone=%s\n", err(mlockall(MCL_ONFAULT)));
    printf("mlockall bad=%s\n", err(mlockall(0x100)));
    printf("mlockall current|future=%s\n", err(mlockall(MCL_CURRENT | MCL_FUTURE)));
    printf("munlockall=%s\n", err(munlockall()));
    char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mlock2 onfault=%s\n", err(syscall(SYS_mlock2, page, 4096, 1)));
    printf("mlock2 bad flag=%s\n", err(syscall(SYS_mlock2, page, 4096, 2)));
    munmap(page, 4096);
    printf("mlock2 unmapped=%s\n", err(syscall(SYS_mlock2, page, 4096, 0)));
}

static void chroot_case(void) {
    char inner[128], path[160];
    snprintf(inner, sizeof inner, "%s/root", dir);
    mkdir(inner, 0755);
    snprintf(path, sizeof path, "%s/etc", inner);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/etc/marker", inner);
    int f = open(path, O_CREAT | O_WRONLY, 0644);
    write(f, "inside\n", 7);
    close(f);
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        printf("chroot to a file=%s\n", err(chroot(path)));
        printf("chroot missing=%s\n", err(chroot("/no/such/dir")));
        printf("chroot=%s\n", err(chroot(inner)));
        char cwd[256] = {0};
        long r = syscall(SYS_getcwd, cwd, sizeof cwd);
        printf("getcwd outside the root unreachable=%d (r>0=%d)\n",
               strncmp(cwd, "(unreachable)", 13) == 0, r > 0);
        printf("chdir /=%s\n", err(chdir("/")));
        r = syscall(SYS_getcwd, cwd, sizeof cwd);
        printf("getcwd=%s\n", cwd);
        char buf[32] = {0};
        int fd = open("/etc/marker", O_RDONLY);
        read(fd, buf, sizeof buf - 1);
        printf("absolute path inside=%s", buf);
        close(fd);
        printf("dotdot stays=%s\n", err(chdir("/../../..")));
        r = syscall(SYS_getcwd, cwd, sizeof cwd);
        printf("getcwd after ..=%s\n", cwd);
        printf("host /proc gone=%s\n", err(access("/proc/self", F_OK)));
        printf("relative chdir etc=%s\n", err(chdir("etc")));
        r = syscall(SYS_getcwd, cwd, sizeof cwd);
        printf("getcwd=%s\n", cwd);
        setresuid(1000, 1000, 1000);
        printf("unprivileged chroot=%s\n", err(chroot(".")));
        fflush(stdout);
        _exit(0);
    }
    waitpid(kid, NULL, 0);
    unlink(path);
    snprintf(path, sizeof path, "%s/etc", inner);
    rmdir(path);
    rmdir(inner);
}

static void uts_errors(void) {
    char big[100];
    memset(big, 'x', sizeof big);
    printf("sethostname too long=%s\n", err(sethostname(big, 65)));
    printf("sethostname negative=%s\n", err(syscall(SYS_sethostname, big, -1)));
    printf("setdomainname too long=%s\n", err(setdomainname(big, 65)));
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        setresuid(1000, 1000, 1000);
        printf("unprivileged sethostname=%s\n", err(sethostname("x", 1)));
        printf("unprivileged setdomainname=%s\n", err(setdomainname("x", 1)));
        fflush(stdout);
        _exit(0);
    }
    waitpid(kid, NULL, 0);
}

static volatile sig_atomic_t xfsz;
static void on_xfsz(int sig) {
    (void)sig;
    xfsz++;
}

/* RLIMIT_FSIZE (setrlimit(2)): writes are cut at the limit, then EFBIG with SIGXFSZ;
 * truncate and fallocate past it too; pipes are not bound; the default action kills. */
static void fsize(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/big", dir);
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        signal(SIGXFSZ, on_xfsz);
        struct rlimit rl = {10000, 10000};
        printf("setrlimit fsize=%s\n", err(setrlimit(RLIMIT_FSIZE, &rl)));
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        static char buf[20000];
        printf("write 8000=%ld\n", (long)write(fd, buf, 8000));
        printf("write 8000 more=%ld (cut at the limit)\n", (long)write(fd, buf, 8000));
        printf("write at the limit=%s\n", err(write(fd, buf, 10)));
        printf("xfsz=%d\n", (int)xfsz);
        printf("pwrite past=%s\n", err(pwrite(fd, buf, 10, 20000)));
        printf("xfsz=%d\n", (int)xfsz);
        printf("pwrite inside=%ld\n", (long)pwrite(fd, buf, 10, 100));
        struct iovec iov[2] = {{buf, 50}, {buf, 50}};
        printf("pwritev crossing=%ld\n", (long)pwritev(fd, iov, 2, 9950));
        printf("ftruncate past=%s\n", err(ftruncate(fd, 20000)));
        printf("ftruncate inside=%s\n", err(ftruncate(fd, 5000)));
        printf("truncate past=%s\n", err(truncate(path, 10001)));
        printf("fallocate past=%s\n", err(fallocate(fd, 0, 9000, 2000)));
        printf("fallocate keep size=%s\n", err(fallocate(fd, FALLOC_FL_KEEP_SIZE, 9000, 2000)));
        printf("signals=%d\n", (int)xfsz);
        int p[2];
        pipe(p);
        printf("pipe not bound=%ld\n", (long)write(p[1], buf, 20000));
        close(fd);
        fflush(stdout);
        _exit(0);
    }
    waitpid(kid, NULL, 0);
    kid = fork();
    if (kid == 0) {
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none);
        struct rlimit rl = {100, 100};
        setrlimit(RLIMIT_FSIZE, &rl);
        int fd = open(path, O_WRONLY | O_TRUNC);
        char b[200] = {0};
        write(fd, b, 100);
        write(fd, b, 1);
        _exit(0);
    }
    int st;
    waitpid(kid, &st, 0);
    printf("default action: signaled=%d sig=%d\n", WIFSIGNALED(st), WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    unlink(path);
}

/* sched_setaffinity(2): the mask is kept per thread, read back, inherited, and getcpu(2)
 * reports a CPU inside it. */
static void affinity(void) {
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        cpu_set_t set, got;
        int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
        CPU_ZERO(&set);
        CPU_SET(0, &set);
        printf("set cpu0=%s\n", err(sched_setaffinity(0, sizeof set, &set)));
        CPU_ZERO(&got);
        sched_getaffinity(0, sizeof got, &got);
        printf("count=%d cpu0=%d\n", CPU_COUNT(&got), CPU_ISSET(0, &got));
        unsigned cpu = 99;
        syscall(SYS_getcpu, &cpu, NULL, NULL);
        printf("getcpu=%u\n", cpu);
        CPU_ZERO(&set);
        CPU_SET(ncpu - 1, &set);
        printf("set last cpu=%s\n", err(sched_setaffinity(0, sizeof set, &set)));
        syscall(SYS_getcpu, &cpu, NULL, NULL);
        printf("getcpu is the last=%d\n", cpu == (unsigned)(ncpu - 1));
        pid_t g = fork();
        if (g == 0) {
            CPU_ZERO(&got);
            sched_getaffinity(0, sizeof got, &got);
            printf("child inherits=%d\n", CPU_COUNT(&got) == 1 && CPU_ISSET(ncpu - 1, &got));
            fflush(stdout);
            _exit(0);
        }
        waitpid(g, NULL, 0);
        CPU_ZERO(&set);
        printf("empty=%s\n", err(sched_setaffinity(0, sizeof set, &set)));
        CPU_SET(1000, &set);
        printf("only a cpu that does not exist=%s\n", err(sched_setaffinity(0, sizeof set, &set)));
        printf("no such thread=%s\n", err(sched_setaffinity(999999, sizeof set, &set)));
        printf("getaffinity short buffer=%s\n", err(syscall(SYS_sched_getaffinity, 0, 4, &got)));
        fflush(stdout);
        _exit(0);
    }
    waitpid(kid, NULL, 0);
}

static int shared_fd;

static void *unsharer(void *arg) {
    (void)arg;
    printf("thread unshare files=%s\n", err(unshare(CLONE_FILES)));
    close(shared_fd);
    printf("thread unshare fs=%s\n", err(unshare(CLONE_FS)));
    printf("thread chdir=%s\n", err(chdir("/tmp")));
    printf("unshare thread while threaded=%s\n", err(unshare(CLONE_THREAD)));
    return NULL;
}

/* unshare(2) of the descriptor table and the filesystem context; bad flags. (New namespaces
 * are not compared: natively root gets them, the sandbox is one of each.) */
static void unsharing(void) {
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        printf("unshare 0=%s\n", err(unshare(0)));
        printf("unshare bad flag=%s\n", err(unshare(0x1)));
        printf("unshare thread single-threaded=%s\n", err(unshare(CLONE_THREAD | CLONE_VM)));
        chdir("/");
        shared_fd = open("/dev/null", O_RDONLY);
        pthread_t th;
        pthread_create(&th, NULL, unsharer, NULL);
        pthread_join(th, NULL);
        printf("fd kept in the main thread=%d\n", fcntl(shared_fd, F_GETFD) >= 0);
        char cwd[64] = {0};
        printf("cwd kept=%s\n", getcwd(cwd, sizeof cwd));
        fflush(stdout);
        _exit(0);
    }
    waitpid(kid, NULL, 0);
}

static char vm_buf[64] = "secret in the child";

/* process_vm_readv(2)/process_vm_writev(2) between a parent and its forked child. */
static void process_vm(void) {
    int go[2], done[2];
    pipe(go);
    pipe(done);
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        char c;
        strcpy(vm_buf, "secret in the child");
        write(done[1], "r", 1);
        read(go[0], &c, 1);
        printf("child sees=%s\n", vm_buf);
        fflush(stdout);
        _exit(0);
    }
    char c;
    read(done[0], &c, 1);
    char got[64] = {0};
    struct iovec local = {got, 19}, remote = {vm_buf, 19};
    printf("readv=%ld got=%s\n", (long)process_vm_readv(kid, &local, 1, &remote, 1, 0), got);
    struct iovec src = {"PATCHED", 7};
    printf("writev=%ld\n", (long)process_vm_writev(kid, &src, 1, &remote, 1, 0));
    /* A remote range running into an unmapped page: a partial count. */
    char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(two + 4096, 4096);
    static char big[8192];
    struct iovec lbig = {big, 8192}, rtwo = {two, 8192}, rgone = {two + 4096, 100};
    printf("partial=%ld\n", (long)process_vm_readv(getpid(), &lbig, 1, &rtwo, 1, 0));
    printf("unmapped=%s\n", err(process_vm_readv(getpid(), &lbig, 1, &rgone, 1, 0)));
    printf("flags=%s\n", err(process_vm_readv(kid, &local, 1, &remote, 1, 1)));
    printf("no such pid=%s\n", err(process_vm_readv(999999, &local, 1, &remote, 1, 0)));
    fflush(stdout);
    pid_t other = fork();
    if (other == 0) {
        setresuid(1000, 1000, 1000);
        printf("another user's=%s\n", err(process_vm_readv(kid, &local, 1, &remote, 1, 0)));
        fflush(stdout);
        _exit(0);
    }
    waitpid(other, NULL, 0);
    write(go[1], "g", 1);
    waitpid(kid, NULL, 0);
    munmap(two, 4096);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    strcpy(dir, "/tmp/misc-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    rw2();
    old_getdents();
    mlocks();
    chroot_case();
    uts_errors();
    fsize();
    affinity();
    unsharing();
    process_vm();
    rmdir(dir);
    printf("done\n");
    return 0;
}
