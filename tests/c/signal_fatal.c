/* Fatal signal cases, one per argument: a blocked or ignored fault signal still kills
 * (force_sig), SIGTERM's default action kills, a handler without SA_RESTORER cannot run. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void handler(int sig) { (void)sig; }

static void fault(void) {
    volatile uintptr_t bad = 0x28;
    *(volatile int *)bad = 1;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("mode %s\n", mode);
    if (!strcmp(mode, "segv_blocked")) {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGSEGV);
        sigprocmask(SIG_BLOCK, &s, NULL);
        fault();
    } else if (!strcmp(mode, "segv_ignored")) {
        signal(SIGSEGV, SIG_IGN);
        fault();
    } else if (!strcmp(mode, "term")) {
        kill(getpid(), SIGTERM);
    } else if (!strcmp(mode, "no_restorer")) {
        /* kernel_sigaction: handler, flags, restorer, mask. */
        uint64_t act[4] = {(uint64_t)(uintptr_t)handler, 0, 0, 0};
        syscall(SYS_rt_sigaction, SIGUSR1, act, NULL, 8);
        kill(getpid(), SIGUSR1);
    }
    printf("survived\n");
    return 0;
}
