// Resource limits honoured where Linux honours them: RLIMIT_NPROC on fork (per real uid,
// uid 0 exempt) and RLIMIT_AS on mmap/mremap/brk. Must run as root natively (it switches to
// uid 65534). Prints the same lines natively and in the sandbox.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534

static const char *name(int e) {
    switch (e) {
    case 0: return "ok";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EPERM: return "EPERM";
    default: return strerror(e);
    }
}

// Threads of every process whose real uid is `uid`, from /proc.
static int tasks_of(unsigned uid) {
    DIR *d = opendir("/proc");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300], line[256];
        snprintf(path, sizeof(path), "/proc/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        unsigned ruid = ~0u;
        int threads = 0;
        while (fgets(line, sizeof(line), f)) {
            sscanf(line, "Uid:\t%u", &ruid);
            sscanf(line, "Threads:\t%d", &threads);
        }
        fclose(f);
        if (ruid == uid) n += threads;
    }
    closedir(d);
    return n;
}

// Forks children that wait on `hold` until a fork fails; returns how many were made.
static int fork_until_fail(int hold, int max, int *err) {
    int made = 0;
    *err = 0;
    while (made < max) {
        pid_t p = fork();
        if (p < 0) {
            *err = errno;
            break;
        }
        if (p == 0) {
            char c;
            (void)!read(hold, &c, 1);
            _exit(0);
        }
        made++;
    }
    return made;
}

static void nproc(void) {
    int hold[2];
    if (pipe(hold) != 0) return;
    pid_t pid = fork();
    if (pid == 0) {
        close(hold[1]);
        int pre = tasks_of(NOBODY);
        struct rlimit rl = {pre + 3, pre + 3};
        setrlimit(RLIMIT_NPROC, &rl);
        // uid 0 is exempt: with a limit of 1 it still forks.
        struct rlimit one = {1, pre + 3};
        setrlimit(RLIMIT_NPROC, &one);
        int err;
        int made = fork_until_fail(hold[0], 2, &err);
        printf("nproc root limit=1: made=%d %s\n", made, name(err));
        setrlimit(RLIMIT_NPROC, &rl);
        if (setresuid(NOBODY, NOBODY, NOBODY) != 0) {
            printf("setresuid: %s\n", strerror(errno));
            _exit(1);
        }
        // This process counts, so pre + 1 tasks exist: two more reach the limit.
        made = fork_until_fail(hold[0], 10, &err);
        printf("nproc uid %d limit=existing+3: made=%d %s\n", NOBODY, made, name(err));
        _exit(0);
    }
    close(hold[0]);
    int st;
    waitpid(pid, &st, 0);
    close(hold[1]);
    while (wait(NULL) > 0) {
    }
}

static void address_space(void) {
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl;
        getrlimit(RLIMIT_AS, &rl);
        // Current size, roughly: a limit 64 MiB above what is mapped now.
        void *probe = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        munmap(probe, 4096);
        FILE *f = fopen("/proc/self/maps", "r");
        unsigned long total = 0, s, e;
        char line[512];
        while (f && fgets(line, sizeof(line), f))
            if (sscanf(line, "%lx-%lx", &s, &e) == 2 && !strstr(line, "[vsyscall]")) total += e - s;
        if (f) fclose(f);
        rl.rlim_cur = total + (64 << 20);
        if (setrlimit(RLIMIT_AS, &rl) != 0) printf("setrlimit AS: %s\n", strerror(errno));
        void *big = mmap(NULL, 128 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        printf("as: mmap 128MiB over the limit: %s\n", big == MAP_FAILED ? name(errno) : "mapped");
        void *small = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        printf("as: mmap 16MiB under the limit: %s\n", small == MAP_FAILED ? name(errno) : "ok");
        void *grown = mremap(small, 16 << 20, 112 << 20, MREMAP_MAYMOVE);
        printf("as: mremap to 112MiB: %s\n", grown == MAP_FAILED ? name(errno) : "grown");
        void *cur = sbrk(0);
        void *r = (void *)syscall(SYS_brk, (char *)cur + (96 << 20));
        printf("as: brk +96MiB: %s\n", r == cur ? "unchanged" : "moved");
        r = (void *)syscall(SYS_brk, (char *)cur + (1 << 20));
        printf("as: brk +1MiB: %s\n", r == (char *)cur + (1 << 20) ? "moved" : "unchanged");
        // Mapping over existing memory (MAP_FIXED) replaces it: no growth.
        void *again = mmap(small, 16 << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        printf("as: MAP_FIXED over own 16MiB: %s\n", again == MAP_FAILED ? name(errno) : "ok");
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getuid() != 0) {
        printf("needs root\n");
        return 0;
    }
    nproc();
    address_space();
    return 0;
}
