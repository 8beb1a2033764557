// PI futexes (futex(2) FUTEX_LOCK_PI, LOCK_PI2, TRYLOCK_PI, UNLOCK_PI) directly and through
// pthread mutexes of protocol PTHREAD_PRIO_INHERIT: the owner TID in the word, FUTEX_WAITERS
// set by the kernel for a blocked locker, the errors (EDEADLK, EPERM, ESRCH, EAGAIN,
// ETIMEDOUT), contention between threads, and robust PI mutexes whose owner dies (EOWNERDEAD),
// with and without a locker blocked at the time.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13
#endif

static const char *ename(long r) {
    if (r >= 0)
        return "OK";
    switch (errno) {
    case EDEADLK: return "EDEADLK";
    case EPERM: return "EPERM";
    case ESRCH: return "ESRCH";
    case EAGAIN: return "EAGAIN";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    default: return "E?";
    }
}

static long futex(uint32_t *w, int op, const struct timespec *ts) {
    return syscall(SYS_futex, w, op, 0, ts, NULL, 0);
}

static pid_t tid(void) {
    return (pid_t)syscall(SYS_gettid);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

// A thread that stays alive until `release` is set, so its TID owns things.
static volatile int release, helper_tid;
static void *helper(void *arg) {
    (void)arg;
    helper_tid = tid();
    while (!release)
        sleep_ms(5);
    return NULL;
}

static pthread_mutex_t pi;
static volatile int got_lock;
static void *blocker(void *arg) {
    (void)arg;
    pthread_mutex_lock(&pi);
    got_lock = 1;
    pthread_mutex_unlock(&pi);
    return NULL;
}

static long counter;
static void *adder(void *arg) {
    (void)arg;
    for (int i = 0; i < 3000; i++) {
        pthread_mutex_lock(&pi);
        counter++;
        pthread_mutex_unlock(&pi);
    }
    return NULL;
}

static pthread_mutex_t robust;
static void *die_holding(void *arg) {
    (void)arg;
    printf("owner lock=%d\n", pthread_mutex_lock(&robust));
    fflush(stdout);
    if (arg)
        sleep_ms(100);
    return NULL;
}

int main(void) {
    // The raw operations.
    uint32_t w = 0;
    long r0 = futex(&w, FUTEX_LOCK_PI, NULL);
    printf("lock free=%s owner_is_me=%d\n", ename(r0), w == (uint32_t)tid());
    printf("lock again=%s\n", ename(futex(&w, FUTEX_LOCK_PI, NULL)));
    printf("trylock own=%s\n", ename(futex(&w, FUTEX_TRYLOCK_PI, NULL)));
    r0 = futex(&w, FUTEX_UNLOCK_PI, NULL);
    printf("unlock=%s word=%u\n", ename(r0), w);
    printf("unlock unowned=%s\n", ename(futex(&w, FUTEX_UNLOCK_PI, NULL)));
    printf("trylock free=%s\n", ename(futex(&w, FUTEX_TRYLOCK_PI | FUTEX_PRIVATE_FLAG, NULL)));
    futex(&w, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG, NULL);
    w = 0x3ffffff0;
    printf("dead owner=%s\n", ename(futex(&w, FUTEX_LOCK_PI, NULL)));
    printf("realtime flag=%s\n", ename(futex(&w, FUTEX_LOCK_PI | FUTEX_CLOCK_REALTIME, NULL)));
    printf("requeue pi=%s\n", ename(syscall(SYS_futex, &w, FUTEX_CMP_REQUEUE_PI, 1, NULL, &w, 5)));

    pthread_t h;
    pthread_create(&h, NULL, helper, NULL);
    while (!helper_tid)
        sleep_ms(1);
    w = helper_tid;
    printf("trylock held=%s\n", ename(futex(&w, FUTEX_TRYLOCK_PI, NULL)));
    printf("unlock held by other=%s\n", ename(futex(&w, FUTEX_UNLOCK_PI, NULL)));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 30 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    r0 = futex(&w, FUTEX_LOCK_PI, &ts);
    printf("timed lock=%s waiters=%d\n", ename(r0), (w & FUTEX_WAITERS) != 0);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += 30 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    printf("timed lock2=%s\n", ename(futex(&w, FUTEX_LOCK_PI2, &ts)));
    struct timespec bad = {0, 1000000000L};
    printf("bad timeout=%s\n", ename(futex(&w, FUTEX_LOCK_PI, &bad)));
    w = FUTEX_OWNER_DIED;
    r0 = futex(&w, FUTEX_LOCK_PI, NULL);
    printf("lock owner died=%s died=%d mine=%d\n", ename(r0), (w & FUTEX_OWNER_DIED) != 0,
           (w & FUTEX_TID_MASK) == (uint32_t)tid());
    futex(&w, FUTEX_UNLOCK_PI, NULL);
    printf("after unlock word=%u\n", w);
    release = 1;
    pthread_join(h, NULL);

    // A PRIO_INHERIT mutex: a blocked locker sets FUTEX_WAITERS and gets the lock at unlock.
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    printf("protocol=%d\n", pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT));
    pthread_mutex_init(&pi, &a);
    pthread_mutex_lock(&pi);
    pthread_t b;
    pthread_create(&b, NULL, blocker, NULL);
    int waiters = 0;
    for (int i = 0; i < 400 && !waiters; i++) {
        sleep_ms(5);
        waiters = (pi.__data.__lock & FUTEX_WAITERS) != 0;
    }
    printf("waiters bit=%d owner ok=%d got=%d\n", waiters,
           (pi.__data.__lock & FUTEX_TID_MASK) == tid(), got_lock);
    pthread_mutex_unlock(&pi);
    pthread_join(b, NULL);
    printf("blocker got lock=%d word=%d\n", got_lock, pi.__data.__lock);
    printf("trylock=%d\n", pthread_mutex_trylock(&pi));
    printf("relock deadlock=%d\n", pthread_mutex_trylock(&pi) == EBUSY);
    pthread_mutex_unlock(&pi);

    pthread_t adders[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&adders[i], NULL, adder, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(adders[i], NULL);
    printf("counter=%ld\n", counter);

    // Robust + PI: the owner exits holding it.
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&robust, &a);
    pthread_t d;
    pthread_create(&d, NULL, die_holding, NULL);
    pthread_join(d, NULL);
    printf("lock after death=%s\n", pthread_mutex_lock(&robust) == EOWNERDEAD ? "EOWNERDEAD" : "other");
    printf("consistent=%d\n", pthread_mutex_consistent(&robust));
    pthread_mutex_unlock(&robust);
    printf("lock again=%d\n", pthread_mutex_lock(&robust));
    pthread_mutex_unlock(&robust);

    // Robust + PI with this thread blocked while the owner dies.
    pthread_create(&d, NULL, die_holding, (void *)1);
    sleep_ms(30);
    int r = pthread_mutex_lock(&robust);
    printf("blocked lock at death=%s\n", r == EOWNERDEAD ? "EOWNERDEAD" : strerror(r));
    pthread_join(d, NULL);
    pthread_mutex_consistent(&robust);
    pthread_mutex_unlock(&robust);
    printf("done\n");
    return 0;
}
