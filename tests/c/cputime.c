/* CPU time accounting (getrusage(2), times(2), wait4(2)'s rusage, clock_gettime(2) on CPU
 * clocks): burns CPU for about 200 ms and prints booleans (time > 0), never amounts, so native
 * and sandboxed runs can be compared. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *err(long r) {
    if (r >= 0) return "ok";
    switch (errno) {
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    default: return strerror(errno);
    }
}

static volatile unsigned long sink;

static long ms_between(struct timespec a, struct timespec b) {
    return (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
}

/* Spins until the calling thread has run for about `ms` milliseconds of CPU time (not wall
 * time: on a loaded machine a thread may get no CPU for a while), or 10 s of wall time pass. */
static void burn(long ms) {
    struct timespec start, now, wall0, wall;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
    clock_gettime(CLOCK_MONOTONIC, &wall0);
    do {
        for (int i = 0; i < 100000; i++) sink += (unsigned long)i * 7;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
        clock_gettime(CLOCK_MONOTONIC, &wall);
    } while (ms_between(start, now) < ms && ms_between(wall0, wall) < 10000);
}

static int tv_pos(struct timeval tv) { return tv.tv_sec > 0 || tv.tv_usec > 0; }
static int ts_pos(struct timespec ts) { return ts.tv_sec > 0 || ts.tv_nsec > 0; }

static void *burner(void *arg) {
    (void)arg;
    burn(100);
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    printf("thread RUSAGE_THREAD utime>0=%d\n", tv_pos(ru.ru_utime));
    return NULL;
}

static volatile sig_atomic_t got_vtalrm, got_prof;

static void on_timer_sig(int sig) {
    if (sig == SIGVTALRM) got_vtalrm = 1;
    if (sig == SIGPROF) got_prof = 1;
}

/* Burns CPU until *flag is set, for at most 10 s of wall time; 1 if it was set. */
static int burn_until(volatile sig_atomic_t *flag) {
    for (int i = 0; i < 2000 && !*flag; i++) burn(5);
    return *flag != 0;
}

static int sig_pending(int sig) {
    sigset_t p;
    sigpending(&p);
    return sigismember(&p, sig);
}

static void cpu_timers(void) {
    signal(SIGVTALRM, on_timer_sig);
    signal(SIGPROF, on_timer_sig);
    struct itimerval it, cur;
    memset(&it, 0, sizeof it);
    it.it_value.tv_usec = 50000;
    printf("setitimer bad which=%s\n", err(setitimer(99, &it, NULL)));
    printf("getitimer bad which=%s\n", err(getitimer(99, &cur)));
    const char *names[] = {"ITIMER_VIRTUAL", "ITIMER_PROF"};
    int which[] = {ITIMER_VIRTUAL, ITIMER_PROF};
    volatile sig_atomic_t *flags[] = {&got_vtalrm, &got_prof};
    for (int i = 0; i < 2; i++) {
        printf("%s set=%s", names[i], err(setitimer(which[i], &it, NULL)));
        getitimer(which[i], &cur);
        /* Linux rounds the value up to its tick: only "armed, under a second" is portable. */
        printf(" armed=%d", cur.it_value.tv_sec == 0 && cur.it_value.tv_usec > 0);
        printf(" fired=%d", burn_until(flags[i]));
        getitimer(which[i], &cur);
        printf(" disarmed=%d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0);
    }
    /* Periodic, then disarmed with the old value returned. */
    it.it_interval.tv_usec = 20000;
    setitimer(ITIMER_PROF, &it, NULL);
    struct itimerval zero, old;
    memset(&zero, 0, sizeof zero);
    setitimer(ITIMER_PROF, &zero, &old);
    printf("ITIMER_PROF old interval=%ldus\n", (long)old.it_interval.tv_usec);

    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigprocmask(SIG_BLOCK, &s, NULL);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    timer_t t;
    printf("cpu timer create=%s", err(timer_create(CLOCK_PROCESS_CPUTIME_ID, &sev, &t)));
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_nsec = 30000000L;
    timer_settime(t, 0, &its, NULL);
    for (int i = 0; i < 2000 && !sig_pending(SIGUSR1); i++) burn(5);
    siginfo_t si;
    struct timespec to = {0, 0};
    int r = sigtimedwait(&s, &si, &to);
    printf(" fired=%d code_timer=%d\n", r == SIGUSR1, r == SIGUSR1 && si.si_code == SI_TIMER);
    timer_delete(t);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct rusage ru;
    if (argc == 2 && strcmp(argv[1], "after-exec") == 0) {
        getrusage(RUSAGE_SELF, &ru);
        printf("after exec RUSAGE_SELF utime>0=%d\n", tv_pos(ru.ru_utime));
        return 0;
    }
    getrusage(RUSAGE_CHILDREN, &ru);
    printf("children at start zero=%d\n", !tv_pos(ru.ru_utime) && !tv_pos(ru.ru_stime));
    printf("getrusage bad who=%s\n", err(getrusage(99, &ru)));
    printf("getrusage bad ptr=%s\n", err(syscall(SYS_getrusage, RUSAGE_SELF, (void *)8)));

    burn(200);
    getrusage(RUSAGE_SELF, &ru);
    printf("RUSAGE_SELF utime>0=%d\n", tv_pos(ru.ru_utime));
    getrusage(RUSAGE_THREAD, &ru);
    printf("RUSAGE_THREAD utime>0=%d\n", tv_pos(ru.ru_utime));
    struct tms tm;
    clock_t now = times(&tm);
    printf("times ok=%d utime>0=%d cutime=%ld\n", now != (clock_t)-1, tm.tms_utime > 0,
           (long)tm.tms_cutime);

    struct timespec a, b;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    burn(20);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    printf("process cputime>0=%d grows=%d\n", ts_pos(a),
           b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec));
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    printf("thread cputime>0=%d\n", ts_pos(a));
    clockid_t cid;
    printf("clock_getcpuclockid=%d", clock_getcpuclockid(0, &cid));
    printf(" gettime=%s", err(clock_gettime(cid, &a)));
    printf(" >0=%d\n", ts_pos(a));
    printf("pthread_getcpuclockid=%d", pthread_getcpuclockid(pthread_self(), &cid));
    printf(" gettime=%s", err(clock_gettime(cid, &a)));
    printf(" >0=%d\n", ts_pos(a));
    clockid_t bogus = (clockid_t)((~999999u << 3) | 2u);
    printf("other pid's clock=%s\n", err(clock_gettime(bogus, &a)));
    printf("getres process=%s\n", err(clock_getres(CLOCK_PROCESS_CPUTIME_ID, &a)));

    pthread_t th;
    pthread_create(&th, NULL, burner, NULL);
    pthread_join(th, NULL);

    pid_t pid = fork();
    if (pid == 0) {
        burn(200);
        _exit(0);
    }
    int st;
    struct rusage cru;
    memset(&cru, 0, sizeof cru);
    wait4(pid, &st, 0, &cru);
    printf("wait4 rusage utime>0=%d\n", tv_pos(cru.ru_utime));
    getrusage(RUSAGE_CHILDREN, &ru);
    printf("RUSAGE_CHILDREN utime>0=%d\n", tv_pos(ru.ru_utime));
    times(&tm);
    printf("times cutime>0=%d\n", tm.tms_cutime > 0);

    pid = fork();
    if (pid == 0) {
        burn(200);
        char *args[] = {argv[0], "after-exec", NULL};
        execv(argv[0], args);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    cpu_timers();
    printf("done\n");
    return 0;
}
