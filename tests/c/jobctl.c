/* Job control: SIGSTOP/SIGTSTP stop a child (all its threads), SIGCONT resumes it, the parent
 * sees WIFSTOPPED/WIFCONTINUED through wait4 and waitid and gets SIGCHLD with CLD_STOPPED /
 * CLD_CONTINUED (not with SA_NOCLDSTOP), SIGKILL ends a stopped child. Prints one line per
 * check; the output must be identical natively and sandboxed. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t chld_codes[8];
static volatile sig_atomic_t nchld;

static void on_chld(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    if (nchld < 8)
        chld_codes[nchld++] = si->si_code;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static const char *describe(int st) {
    static char buf[64];
    if (WIFEXITED(st))
        snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "signaled %d", WTERMSIG(st));
    else if (WIFSTOPPED(st))
        snprintf(buf, sizeof buf, "stopped %d", WSTOPSIG(st));
    else if (WIFCONTINUED(st))
        snprintf(buf, sizeof buf, "continued");
    else
        snprintf(buf, sizeof buf, "raw %#x", st);
    return buf;
}

static pid_t spawn_sleeper(void) {
    pid_t pid = fork();
    if (pid == 0) {
        for (;;)
            pause();
    }
    return pid;
}

static void install_chld(int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | flags;
    sigaction(SIGCHLD, &sa, NULL);
    nchld = 0;
}

static void wait_print(pid_t pid, int opts, const char *what) {
    int st = 0;
    pid_t r = waitpid(pid, &st, opts);
    printf("%s: %s%s\n", what, r == pid ? "" : "wrong pid ", r == pid ? describe(st) : "");
}

static void stop_cont(void) {
    install_chld(0);
    pid_t pid = spawn_sleeper();
    sleep_ms(20);
    kill(pid, SIGSTOP);
    wait_print(pid, WUNTRACED, "after SIGSTOP");
    int st = 0;
    printf("stopped reported once: %d\n", waitpid(pid, &st, WUNTRACED | WNOHANG));
    kill(pid, SIGCONT);
    wait_print(pid, WCONTINUED, "after SIGCONT");
    kill(pid, SIGTSTP);
    wait_print(pid, WUNTRACED, "after SIGTSTP");
    kill(pid, SIGKILL);
    wait_print(pid, WUNTRACED, "SIGKILL while stopped");
    /* Later SIGCHLDs may coalesce: only the first one's code is certain. */
    printf("first sigchld is CLD_STOPPED: %s\n", nchld > 0 && chld_codes[0] == CLD_STOPPED ? "yes" : "no");
}

static void nocldstop(void) {
    install_chld(SA_NOCLDSTOP);
    pid_t pid = spawn_sleeper();
    sleep_ms(20);
    kill(pid, SIGSTOP);
    wait_print(pid, WUNTRACED, "nocldstop stop");
    kill(pid, SIGCONT);
    wait_print(pid, WCONTINUED, "nocldstop cont");
    printf("nocldstop sigchld before kill: %d\n", (int)nchld);
    kill(pid, SIGKILL);
    wait_print(pid, 0, "nocldstop kill");
}

static void waitid_stop(void) {
    install_chld(0);
    pid_t pid = spawn_sleeper();
    sleep_ms(20);
    kill(pid, SIGTTIN);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r = waitid(P_PID, pid, &si, WSTOPPED);
    printf("waitid stopped: r=%d code=%d status=%d pid_ok=%d\n", r, si.si_code, si.si_status,
           si.si_pid == pid);
    kill(pid, SIGCONT);
    memset(&si, 0, sizeof si);
    r = waitid(P_PID, pid, &si, WCONTINUED | WNOWAIT);
    printf("waitid continued (nowait): r=%d code=%d status=%d\n", r, si.si_code, si.si_status);
    memset(&si, 0, sizeof si);
    r = waitid(P_PID, pid, &si, WCONTINUED);
    printf("waitid continued again: r=%d code=%d\n", r, si.si_code);
    kill(pid, SIGKILL);
    wait_print(pid, 0, "waitid kill");
}

static atomic_long *counter;

static void *spin(void *arg) {
    (void)arg;
    for (;;) {
        atomic_fetch_add(counter, 1);
        sleep_ms(1);
    }
    return NULL;
}

static void threads_stop(void) {
    counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t pid = fork();
    if (pid == 0) {
        pthread_t t;
        pthread_create(&t, NULL, spin, NULL);
        for (;;)
            pause();
    }
    sleep_ms(50);
    kill(pid, SIGSTOP);
    wait_print(pid, WUNTRACED, "threaded stop");
    sleep_ms(20);
    long a = atomic_load(counter);
    sleep_ms(100);
    long b = atomic_load(counter);
    printf("thread frozen while stopped: %s\n", a == b ? "yes" : "no");
    kill(pid, SIGCONT);
    wait_print(pid, WCONTINUED, "threaded cont");
    /* Up to 10 s for the thread to be scheduled again (a loaded machine may take a while). */
    for (int i = 0; i < 1000 && atomic_load(counter) <= b; i++)
        sleep_ms(10);
    printf("thread runs after SIGCONT: %s\n", atomic_load(counter) > b ? "yes" : "no");
    kill(pid, SIGKILL);
    wait_print(pid, 0, "threaded kill");
}

static void handled_tstp(void) {
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGTSTP, SIG_IGN);
        raise(SIGTSTP);
        signal(SIGCONT, SIG_DFL);
        raise(SIGCONT);
        /* A handled stop signal runs its handler instead of stopping. */
        _exit(5);
    }
    wait_print(pid, WUNTRACED, "ignored SIGTSTP");
}

static void self_stop(void) {
    int go[2];
    if (pipe(go))
        return;
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(go[1]);
        raise(SIGSTOP);
        /* Exit only once the parent has seen the continue (an exit would be reported first). */
        if (read(go[0], &c, 1) != 1)
            _exit(1);
        _exit(6);
    }
    close(go[0]);
    wait_print(pid, WUNTRACED, "raise(SIGSTOP)");
    kill(pid, SIGCONT);
    wait_print(pid, WUNTRACED | WCONTINUED, "resumed self-stopper");
    if (write(go[1], "g", 1) != 1)
        return;
    close(go[1]);
    wait_print(pid, 0, "self-stopper end");
}

static void group_stop(void) {
    pid_t a = spawn_sleeper();
    setpgid(a, a);
    pid_t b = fork();
    if (b == 0) {
        setpgid(0, a);
        for (;;)
            pause();
    }
    setpgid(b, a);
    sleep_ms(20);
    printf("kill(-pgid, SIGSTOP): %d\n", kill(-a, SIGSTOP));
    wait_print(a, WUNTRACED, "group member a");
    wait_print(b, WUNTRACED, "group member b");
    printf("kill(-pgid, SIGKILL): %d\n", kill(-a, SIGKILL));
    wait_print(a, 0, "group member a end");
    wait_print(b, 0, "group member b end");
    errno = 0;
    int r = kill(-a, 0);
    printf("kill(-gone pgid): %d errno=%d\n", r, errno);
}

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "all";
    setvbuf(stdout, NULL, _IONBF, 0);
    int all = strcmp(which, "all") == 0;
    /* Lead a process group of our own, whose parent (the test harness) is in another group of
     * the same session: in an orphaned process group, as the harness's own group may be,
     * SIGTSTP/SIGTTIN/SIGTTOU are discarded and the stop tests would wait forever. */
    setpgid(0, 0);
    if (all || !strcmp(which, "stop_cont"))
        stop_cont();
    if (all || !strcmp(which, "nocldstop"))
        nocldstop();
    if (all || !strcmp(which, "waitid"))
        waitid_stop();
    if (all || !strcmp(which, "threads"))
        threads_stop();
    if (all || !strcmp(which, "handled"))
        handled_tstp();
    if (all || !strcmp(which, "self"))
        self_stop();
    if (all || !strcmp(which, "group"))
        group_stop();
    return 0;
}
