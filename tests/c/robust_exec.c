/* A robust mutex held across execve(2) is the old image's no more: Linux walks the thread's
 * robust list at exec (futex_exec_release) and marks it FUTEX_OWNER_DIED, so a waiter in
 * another process gets EOWNERDEAD while the exec'd program still runs. Prints the waiter's
 * result; the sandbox must print the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    pthread_mutex_t *m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                              -1, 0);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(m, &a);
    int ready[2];
    pipe(ready);
    pid_t kid = fork();
    if (kid == 0) {
        pthread_mutex_lock(m);
        write(ready[1], "x", 1);
        execl("/bin/sleep", "sleep", "3", (char *)NULL);
        _exit(1);
    }
    char c;
    read(ready[0], &c, 1);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    int r = pthread_mutex_timedlock(m, &until);
    int st;
    pid_t done = waitpid(kid, &st, WNOHANG);
    printf("lock after the holder's exec=%s\n", r ? strerrorname_np(r) : "ok");
    printf("holder still running=%d\n", done == 0);
    if (r == EOWNERDEAD) pthread_mutex_consistent(m);
    pthread_mutex_unlock(m);
    kill(kid, SIGKILL);
    waitpid(kid, NULL, 0);
    return 0;
}
