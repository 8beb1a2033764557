/* 24 threads alive at once, each allocating: the sandbox runs one sentry thread per task, and
 * past 8 threads glibc's malloc in the sentry itself used to size its arenas by reading a /sys
 * file, which the sentry's seccomp filter forbids (the whole sandbox died with SIGSYS). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 24

static pthread_barrier_t barrier;

static void *worker(void *arg) {
    long id = (long)arg;
    pthread_barrier_wait(&barrier);
    long sum = 0;
    for (int i = 0; i < 100; i++) {
        char *p = malloc(1000 + i);
        memset(p, (int)id, 1000 + i);
        sum += p[i];
        free(p);
    }
    pthread_barrier_wait(&barrier);
    return (void *)sum;
}

int main(void) {
    pthread_t t[THREADS];
    pthread_barrier_init(&barrier, NULL, THREADS);
    for (long i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)i) != 0) {
            printf("pthread_create failed\n");
            return 1;
        }
    long total = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        total += (long)r;
    }
    printf("threads %d total %ld\n", THREADS, total);
    return 0;
}
