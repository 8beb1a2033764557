// Shared futexes between processes: FUTEX_WAIT/WAKE without FUTEX_PRIVATE_FLAG key on the
// memory object and offset (shared anonymous memory, a memfd mapped at different addresses),
// private memory keys per address space, and PTHREAD_PROCESS_SHARED mutex/condvar work across
// fork. Prints the same lines natively and in the sandbox.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 1000

static long futex(void *addr, int op, unsigned val, const struct timespec *ts) {
    return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

static const char *err(long r) {
    if (r >= 0) return "ok";
    return errno == ETIMEDOUT ? "ETIMEDOUT" : errno == EAGAIN ? "EAGAIN" : strerror(errno);
}

// Waits until *w == want (shared futex ops).
static void wait_for(atomic_uint *w, unsigned want) {
    for (;;) {
        unsigned v = atomic_load(w);
        if (v == want) return;
        futex(w, FUTEX_WAIT, v, NULL);
    }
}

static void post(atomic_uint *w, unsigned v) {
    atomic_store(w, v);
    futex(w, FUTEX_WAKE, 1, NULL);
}

// One side of the ping-pong: `first` posts odd values, the other even ones.
static void ping_pong(atomic_uint *w, int first) {
    for (unsigned i = 0; i < ROUNDS; i++) {
        if (first) {
            wait_for(w, 2 * i);
            post(w, 2 * i + 1);
        } else {
            wait_for(w, 2 * i + 1);
            post(w, 2 * i + 2);
        }
    }
}

static int reap(pid_t pid) {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void anon_ping_pong(void) {
    atomic_uint *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    atomic_store(w, 0);
    pid_t pid = fork();
    if (pid == 0) {
        ping_pong(w, 0);
        _exit(0);
    }
    ping_pong(w, 1);
    wait_for(w, 2 * ROUNDS);
    printf("anon shared ping-pong: child=%d word=%u\n", reap(pid), atomic_load(w));
}

static void memfd_ping_pong(void) {
    int fd = memfd_create("futex", 0);
    if (fd < 0 || ftruncate(fd, 8192) != 0) {
        printf("memfd: %s\n", strerror(errno));
        return;
    }
    char *a = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    atomic_uint *wa = (atomic_uint *)(a + 4096 + 64);
    atomic_store(wa, 0);
    pid_t pid = fork();
    if (pid == 0) {
        // A second mapping of the same memfd at another address, starting at offset 4096.
        char *b = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
        munmap(a, 8192);
        if (b == a + 4096) _exit(3);
        ping_pong((atomic_uint *)(b + 64), 0);
        _exit(0);
    }
    ping_pong(wa, 1);
    wait_for(wa, 2 * ROUNDS);
    printf("memfd ping-pong at another address: child=%d word=%u\n", reap(pid), atomic_load(wa));
    munmap(a, 8192);
    close(fd);
}

// Two futexes that only share an address must not meet: the parent waits (with a timeout)
// while the child wakes the same address in different memory.
static void unrelated_at_same_address(int shared_anon) {
    int flags = shared_anon ? MAP_SHARED | MAP_ANONYMOUS : MAP_PRIVATE | MAP_ANONYMOUS;
    atomic_uint *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, flags, -1, 0);
    atomic_uint *go = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    atomic_store(w, 0);
    atomic_store(go, 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (shared_anon) {
            // New shared memory at the same address: another object.
            void *n = mmap((void *)w, 4096, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
            if (n != (void *)w) _exit(3);
        }
        wait_for(go, 1);
        int woken = 0;
        for (int i = 0; i < 20; i++) {
            long r = futex(w, FUTEX_WAKE, 1, NULL);
            if (r > 0) woken += r;
            usleep(5000);
        }
        _exit(woken);
    }
    struct timespec ts = {0, 300 * 1000 * 1000};
    atomic_store(go, 1);
    futex(go, FUTEX_WAKE, 1, NULL);
    long r = futex(w, FUTEX_WAIT, 0, &ts);
    printf("%s at the same address: wait=%s child woke=%d\n",
           shared_anon ? "other shared anon object" : "private memory", err(r), reap(pid));
    munmap(w, 4096);
    munmap(go, 4096);
}

struct shared {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int turn;
    int count;
};

static void pshared_step(struct shared *s, int me) {
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&s->mu);
        while (s->turn != me) pthread_cond_wait(&s->cv, &s->mu);
        s->count++;
        s->turn = 1 - me;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
}

static void pshared_mutex_condvar(void) {
    struct shared *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_condattr_init(&ca);
    pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&s->mu, &ma);
    pthread_cond_init(&s->cv, &ca);
    s->turn = 0;
    s->count = 0;
    pid_t pid = fork();
    if (pid == 0) {
        pshared_step(s, 1);
        _exit(0);
    }
    pshared_step(s, 0);
    int child = reap(pid);
    printf("process-shared mutex/condvar: child=%d count=%d\n", child, s->count);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    anon_ping_pong();
    memfd_ping_pong();
    unrelated_at_same_address(1);
    unrelated_at_same_address(0);
    pshared_mutex_condvar();
    return 0;
}
