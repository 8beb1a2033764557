/* POSIX per-process timers (timer_create(2), timer_settime(2), timer_gettime(2),
 * timer_getoverrun(2), timer_delete(2)): prints results, errors included, so native and
 * sandboxed runs can be compared. Kernel timer ids are used through raw syscalls, except for
 * the glibc SIGEV_THREAD case. No timing is asserted: waits are bounded by generous timeouts. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *err(long r) {
    if (r >= 0) return "ok";
    switch (errno) {
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EAGAIN: return "EAGAIN";
    default: return strerror(errno);
    }
}

static long k_create(clockid_t clock, struct sigevent *sev, int *id) {
    return syscall(SYS_timer_create, clock, sev, id);
}
static long k_settime(int id, int flags, const struct itimerspec *n, struct itimerspec *o) {
    return syscall(SYS_timer_settime, id, flags, n, o);
}
static long k_gettime(int id, struct itimerspec *cur) {
    return syscall(SYS_timer_gettime, id, cur);
}
static long k_overrun(int id) { return syscall(SYS_timer_getoverrun, id); }
static long k_delete(int id) { return syscall(SYS_timer_delete, id); }

static struct itimerspec ms(long value_ms, long interval_ms) {
    struct itimerspec its;
    its.it_value.tv_sec = value_ms / 1000;
    its.it_value.tv_nsec = (value_ms % 1000) * 1000000L;
    its.it_interval.tv_sec = interval_ms / 1000;
    its.it_interval.tv_nsec = (interval_ms % 1000) * 1000000L;
    return its;
}

static void block(int sig) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_BLOCK, &s, NULL);
}

/* Waits (at most 5 s) for `sig`, which the caller has blocked. */
static int wait_sig(int sig, siginfo_t *si) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    struct timespec to = {5, 0};
    memset(si, 0, sizeof *si);
    return sigtimedwait(&s, si, &to);
}

static void ms_sleep(long n) {
    struct timespec ts = {n / 1000, (n % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void errors(void) {
    int id;
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    printf("create bad clock=%s\n", err(k_create(99, &sev, &id)));
    printf("create clock 10=%s\n", err(k_create(10, &sev, &id)));
    printf("create raw clock=%s\n", err(k_create(CLOCK_MONOTONIC_RAW, &sev, &id)));
    printf("create coarse clock=%s\n", err(k_create(CLOCK_MONOTONIC_COARSE, &sev, &id)));
    printf("create bad sevp=%s\n", err(k_create(CLOCK_MONOTONIC, (void *)8, &id)));
    printf("create bad idp=%s\n", err(k_create(CLOCK_MONOTONIC, &sev, (void *)8)));
    sev.sigev_signo = 0;
    printf("create signo 0=%s\n", err(k_create(CLOCK_MONOTONIC, &sev, &id)));
    sev.sigev_signo = 65;
    printf("create signo 65=%s\n", err(k_create(CLOCK_MONOTONIC, &sev, &id)));
    sev.sigev_signo = SIGUSR1;
    sev.sigev_notify = 99;
    printf("create bad notify=%s\n", err(k_create(CLOCK_MONOTONIC, &sev, &id)));
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev._sigev_un._tid = 999999;
    printf("create foreign tid=%s\n", err(k_create(CLOCK_MONOTONIC, &sev, &id)));
    sev.sigev_notify = SIGEV_NONE;
    sev.sigev_signo = 0;
    printf("create none signo 0=%s\n", err(k_create(CLOCK_MONOTONIC, &sev, &id)));

    struct itimerspec its = ms(10, 0), bad = ms(10, 0);
    bad.it_value.tv_nsec = 1000000000L;
    printf("settime null=%s\n", err(k_settime(id, 0, NULL, NULL)));
    printf("settime bad nsec=%s\n", err(k_settime(id, 0, &bad, NULL)));
    bad = ms(10, 0);
    bad.it_interval.tv_sec = -1;
    printf("settime negative interval=%s\n", err(k_settime(id, 0, &bad, NULL)));
    printf("settime bad ptr=%s\n", err(k_settime(id, 0, (void *)8, NULL)));
    printf("settime bad id=%s\n", err(k_settime(id + 1000, 0, &its, NULL)));
    printf("settime bad old=%s\n", err(k_settime(id, 0, &its, (void *)8)));
    printf("gettime bad id=%s\n", err(k_gettime(id + 1000, &its)));
    printf("gettime bad ptr=%s\n", err(k_gettime(id, (void *)8)));
    printf("getoverrun bad id=%s\n", err(k_overrun(-1)));
    printf("delete=%s\n", err(k_delete(id)));
    printf("delete again=%s\n", err(k_delete(id)));
    printf("gettime deleted=%s\n", err(k_gettime(id, &its)));
}

static void signal_timer(void) {
    int sig = SIGRTMIN + 1;
    block(sig);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = sig;
    sev.sigev_value.sival_int = 42;
    int id = -1;
    printf("create monotonic=%s\n", err(k_create(CLOCK_MONOTONIC, &sev, &id)));
    struct itimerspec its = ms(20, 0), old;
    printf("settime=%s\n", err(k_settime(id, 0, &its, &old)));
    printf("old disarmed=%d\n", old.it_value.tv_sec == 0 && old.it_value.tv_nsec == 0);
    siginfo_t si;
    int r = wait_sig(sig, &si);
    printf("wait=%d code_timer=%d timerid_ok=%d overrun=%d value=%d\n", r == sig,
           si.si_code == SI_TIMER, si.si_timerid == id, si.si_overrun, si.si_value.sival_int);
    struct itimerspec cur;
    k_gettime(id, &cur);
    printf("after one-shot gettime=%ld.%ld/%ld.%ld\n", (long)cur.it_value.tv_sec,
           cur.it_value.tv_nsec, (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);

    /* Armed far away: gettime shows time left, and settime returns it as old. */
    its = ms(10000, 250);
    k_settime(id, 0, &its, NULL);
    k_gettime(id, &cur);
    printf("armed left_in_range=%d interval=%ldms\n",
           cur.it_value.tv_sec == 9 || (cur.it_value.tv_sec == 10 && cur.it_value.tv_nsec == 0),
           cur.it_interval.tv_nsec / 1000000L);
    struct itimerspec zero = ms(0, 0);
    k_settime(id, 0, &zero, &old);
    printf("disarm old_armed=%d old_interval=%ldms\n", old.it_value.tv_sec >= 9,
           old.it_interval.tv_nsec / 1000000L);
    k_gettime(id, &cur);
    printf("disarmed gettime=%ld.%ld/%ld.%ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec,
           (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);
    k_delete(id);
}

static void default_sigevent(void) {
    block(SIGALRM);
    int id = -1;
    printf("create default=%s\n", err(k_create(CLOCK_REALTIME, NULL, &id)));
    struct itimerspec its = ms(10, 0);
    k_settime(id, 0, &its, NULL);
    siginfo_t si;
    int r = wait_sig(SIGALRM, &si);
    printf("default wait=%d code_timer=%d value_is_id=%d\n", r == SIGALRM,
           si.si_code == SI_TIMER, si.si_value.sival_int == id);
    k_delete(id);
}

static void overrun(void) {
    int sig = SIGRTMIN + 2;
    block(sig);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = sig;
    int id = -1;
    k_create(CLOCK_MONOTONIC, &sev, &id);
    struct itimerspec its = ms(2, 2);
    k_settime(id, 0, &its, NULL);
    ms_sleep(80);
    siginfo_t si;
    int r = wait_sig(sig, &si);
    long ov = k_overrun(id);
    printf("overrun wait=%d si_overrun>0=%d getoverrun_matches=%d\n", r == sig, si.si_overrun > 0,
           ov == si.si_overrun);
    k_delete(id);
}

static void abstime(void) {
    int sig = SIGRTMIN + 3;
    block(sig);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = sig;
    clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME};
    const char *names[] = {"realtime", "monotonic", "boottime"};
    for (int i = 0; i < 3; i++) {
        int id = -1;
        k_create(clocks[i], &sev, &id);
        struct itimerspec its = ms(0, 0);
        clock_gettime(clocks[i], &its.it_value);
        its.it_value.tv_nsec += 20000000L;
        if (its.it_value.tv_nsec >= 1000000000L) {
            its.it_value.tv_sec++;
            its.it_value.tv_nsec -= 1000000000L;
        }
        printf("%s abstime settime=%s", names[i], err(k_settime(id, TIMER_ABSTIME, &its, NULL)));
        siginfo_t si;
        int r = wait_sig(sig, &si);
        printf(" fired=%d\n", r == sig);
        /* An absolute time in the past fires at once. */
        its = ms(0, 0);
        its.it_value.tv_sec = 1;
        k_settime(id, TIMER_ABSTIME, &its, NULL);
        r = wait_sig(sig, &si);
        printf("%s past abstime fired=%d\n", names[i], r == sig);
        k_delete(id);
    }
}

static void sigev_none(void) {
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_NONE;
    int id = -1;
    printf("create none=%s\n", err(k_create(CLOCK_MONOTONIC, &sev, &id)));
    struct itimerspec its = ms(10, 0), cur;
    k_settime(id, 0, &its, NULL);
    ms_sleep(30);
    k_gettime(id, &cur);
    printf("none expired gettime=%ld.%ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
    its = ms(5000, 100);
    k_settime(id, 0, &its, NULL);
    k_gettime(id, &cur);
    printf("none armed left>0=%d interval=%ldms\n", cur.it_value.tv_sec > 0,
           cur.it_interval.tv_nsec / 1000000L);
    k_delete(id);
}

static int thread_tid;
static sem_t thread_ready;

static void *target_thread(void *arg) {
    int sig = *(int *)arg;
    thread_tid = (int)syscall(SYS_gettid);
    sem_post(&thread_ready);
    siginfo_t si;
    int r = wait_sig(sig, &si);
    printf("thread_id wait=%d code_timer=%d value=%d\n", r == sig, si.si_code == SI_TIMER,
           si.si_value.sival_int);
    return NULL;
}

static void thread_id(void) {
    static int sig;
    sig = SIGRTMIN + 4;
    block(sig); /* inherited by the thread; the main thread never takes it */
    sem_init(&thread_ready, 0, 0);
    pthread_t th;
    pthread_create(&th, NULL, target_thread, &sig);
    sem_wait(&thread_ready);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = sig;
    sev.sigev_value.sival_int = 7;
    sev._sigev_un._tid = thread_tid;
    int id = -1;
    printf("create thread_id=%s\n", err(k_create(CLOCK_MONOTONIC, &sev, &id)));
    struct itimerspec its = ms(10, 0);
    k_settime(id, 0, &its, NULL);
    pthread_join(th, NULL);
    sigset_t p;
    sigpending(&p);
    printf("main sees it pending=%d\n", sigismember(&p, sig));
    k_delete(id);
}

static sem_t notified;
static int notified_value;

static void on_expiry(union sigval v) {
    notified_value = v.sival_int;
    sem_post(&notified);
}

static void sigev_thread(void) {
    sem_init(&notified, 0, 0);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = on_expiry;
    sev.sigev_value.sival_int = 99;
    timer_t t;
    printf("glibc SIGEV_THREAD create=%s\n", err(timer_create(CLOCK_MONOTONIC, &sev, &t)));
    struct itimerspec its = ms(10, 0);
    printf("glibc settime=%s\n", err(timer_settime(t, 0, &its, NULL)));
    struct timespec to;
    clock_gettime(CLOCK_REALTIME, &to);
    to.tv_sec += 5;
    int r = sem_timedwait(&notified, &to);
    printf("SIGEV_THREAD callback=%d value=%d\n", r == 0, notified_value);
    printf("glibc delete=%s\n", err(timer_delete(t)));
}

static volatile sig_atomic_t handled_code, handled_value;

static void on_sig(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    handled_code = si->si_code;
    handled_value = si->si_value.sival_int;
}

static void handler(void) {
    int sig = SIGRTMIN + 5;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sig;
    sa.sa_flags = SA_SIGINFO;
    sigaction(sig, &sa, NULL);
    block(sig);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = sig;
    sev.sigev_value.sival_int = 5;
    int id = -1;
    k_create(CLOCK_MONOTONIC, &sev, &id);
    struct itimerspec its = ms(10, 0);
    k_settime(id, 0, &its, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigsuspend(&none);
    printf("handler code_timer=%d value=%d\n", handled_code == SI_TIMER, (int)handled_value);
    k_delete(id);
}

static void not_inherited(const char *self) {
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_NONE;
    int id = -1;
    k_create(CLOCK_MONOTONIC, &sev, &id);
    struct itimerspec its = ms(5000, 0), cur;
    k_settime(id, 0, &its, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        printf("fork child gettime=%s\n", err(k_gettime(id, &cur)));
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("parent gettime=%s\n", err(k_gettime(id, &cur)));
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        /* The child's own timer does not survive its exec. */
        int mine = -1;
        k_create(CLOCK_MONOTONIC, &sev, &mine);
        k_settime(mine, 0, &its, NULL);
        printf("child own timer gettime=%s\n", err(k_gettime(mine, &cur)));
        fflush(stdout);
        char idbuf[16];
        snprintf(idbuf, sizeof idbuf, "%d", mine);
        char *argv[] = {(char *)self, "after-exec", idbuf, NULL};
        execv(self, argv);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    k_delete(id);
}

/* A queued signal of a timer deleted or re-set since is still shown by sigpending(2) but
 * dropped when dequeued (Linux 6.13+): never delivered, never returned by sigtimedwait. */
static void stale_signals(void) {
    int sig = SIGRTMIN + 6;
    block(sig);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = sig;
    int id = -1;
    k_create(CLOCK_MONOTONIC, &sev, &id);
    struct itimerspec one = ms(1, 0);
    k_settime(id, 0, &one, NULL);
    ms_sleep(20);
    k_delete(id);
    sigset_t p, s;
    sigpending(&p);
    printf("stale after delete pending=%d\n", sigismember(&p, sig));
    sigemptyset(&s);
    sigaddset(&s, sig);
    siginfo_t si;
    struct timespec none = {0, 0};
    printf("stale after delete wait=%s\n", err(sigtimedwait(&s, &si, &none)));
    sigpending(&p);
    printf("stale dropped pending=%d\n", sigismember(&p, sig));
    k_create(CLOCK_MONOTONIC, &sev, &id);
    k_settime(id, 0, &one, NULL);
    ms_sleep(20);
    struct itimerspec zero = ms(0, 0);
    k_settime(id, 0, &zero, NULL);
    printf("stale after disarm wait=%s\n", err(sigtimedwait(&s, &si, &none)));
    k_settime(id, 0, &one, NULL);
    ms_sleep(20);
    k_settime(id, 0, &one, NULL);
    ms_sleep(20);
    printf("re-set timer wait=%d\n", sigtimedwait(&s, &si, &none) == sig);
    printf("only one=%s\n", err(sigtimedwait(&s, &si, &none)));
    k_delete(id);
    ms_sleep(20);
    /* Unblocking delivers nothing (the default action would end the process). */
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    printf("unblocked and alive\n");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "after-exec") == 0) {
        struct itimerspec cur;
        int id = atoi(argv[2]);
        int had = 0;
        /* Timers made by the parent before exec are gone: a new image has none. */
        for (int i = 0; i <= id; i++) {
            if (k_gettime(i, &cur) == 0) had = 1;
        }
        printf("after exec any timer=%d\n", had);
        return 0;
    }
    errors();
    signal_timer();
    default_sigevent();
    overrun();
    abstime();
    sigev_none();
    thread_id();
    sigev_thread();
    stale_signals();
    handler();
    not_inherited(argv[0]);
    printf("done\n");
    return 0;
}
