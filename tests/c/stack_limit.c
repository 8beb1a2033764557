/* RLIMIT_STACK bounds the main thread's stack (getrlimit(2), "the maximum size of the process
 * stack"): a program recursing past it gets SIGSEGV. For two limits, re-executes itself with
 * the limit set, recurses with 4 KiB frames, and reports from a SIGSEGV handler on an
 * alternate stack how deep it got (from its first frame to its deepest), as "within
 * (limit/2, limit]". Prints one line per limit;
 * the sandbox must print the same. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile unsigned long first, deepest;
static long limit_kib;

static void on_segv(int sig) {
    (void)sig;
    long used_kib = (long)(first - deepest) / 1024;
    char line[128];
    int n = snprintf(line, sizeof line, "limit %ld KiB: SIGSEGV after (limit/2, limit]=%d\n",
                     limit_kib, used_kib > limit_kib / 2 && used_kib <= limit_kib);
    (void)!write(1, line, n);
    _exit(0);
}

static volatile int keep_going = 1;

static long recurse(long n) {
    volatile char frame[4096 - 64];
    frame[0] = (char)n;
    if (n == 1) first = (unsigned long)frame;
    deepest = (unsigned long)frame;
    if (!keep_going) return 0;
    return recurse(n + 1) + frame[0];
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "recurse") == 0) {
        limit_kib = atol(argv[2]);
        static char alt[64 * 1024];
        stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
        sigaltstack(&ss, NULL);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_segv;
        sa.sa_flags = SA_ONSTACK;
        sigaction(SIGSEGV, &sa, NULL);
        return (int)recurse(1);
    }
    long limits[] = {1024, 4096};
    for (int i = 0; i < 2; i++) {
        fflush(stdout);
        pid_t kid = fork();
        if (kid == 0) {
            struct rlimit rl;
            getrlimit(RLIMIT_STACK, &rl);
            rl.rlim_cur = limits[i] * 1024;
            if (setrlimit(RLIMIT_STACK, &rl) != 0) {
                perror("setrlimit");
                _exit(1);
            }
            char arg[32];
            snprintf(arg, sizeof arg, "%ld", limits[i]);
            execl("/proc/self/exe", argv[0], "recurse", arg, (char *)NULL);
            perror("exec");
            _exit(1);
        }
        int st;
        waitpid(kid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) printf("child status %x\n", st);
    }
    printf("done\n");
    return 0;
}
