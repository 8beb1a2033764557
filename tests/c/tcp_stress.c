/* A threaded TCP echo server on 127.0.0.1 under 50 concurrent clients (issue 6): each client
 * thread connects, sends 64 KiB of its own pseudo-random bytes in uneven chunks while reading
 * the echo back, and checks every byte; the server runs one thread per connection. Prints the
 * totals and the number of mismatches (0); the sandbox must print the same. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLIENTS 50
#define BYTES (64 * 1024)

static int port;

static void *serve(void *arg) {
    int c = (int)(intptr_t)arg;
    char buf[8192];
    for (;;) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(c, buf + off, n - off);
            if (w <= 0) {
                close(c);
                return NULL;
            }
            off += w;
        }
    }
    close(c);
    return NULL;
}

static void *acceptor(void *arg) {
    int ls = (int)(intptr_t)arg;
    for (int i = 0; i < CLIENTS; i++) {
        int c = accept(ls, NULL, NULL);
        if (c < 0) {
            perror("accept");
            exit(1);
        }
        pthread_t t;
        pthread_create(&t, NULL, serve, (void *)(intptr_t)c);
        pthread_detach(t);
    }
    return NULL;
}

struct result {
    int index;
    long sent, received, mismatches;
    int failed;
};

static uint32_t next(uint32_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

struct reader_arg {
    int fd;
    uint32_t seed;
    struct result *r;
};

/* Reads the echo and compares it with the same pseudo-random stream. */
static void *reader(void *p) {
    struct reader_arg *a = p;
    uint32_t s = a->seed;
    char buf[4096];
    while (a->r->received < BYTES) {
        ssize_t n = read(a->fd, buf, sizeof buf);
        if (n <= 0) {
            a->r->failed = 1;
            break;
        }
        for (ssize_t i = 0; i < n; i++)
            if ((char)next(&s) != buf[i]) a->r->mismatches++;
        a->r->received += n;
    }
    return NULL;
}

static void *client(void *p) {
    struct result *r = p;
    uint32_t seed = (uint32_t)r->index * 2654435761u + 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        r->failed = 1;
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct reader_arg ra = {fd, seed, r};
    pthread_t rt;
    pthread_create(&rt, NULL, reader, &ra);
    /* Chunk sizes come from one generator, the bytes from another started at the seed, which
     * is the sequence the reader expects. */
    uint32_t sizes = seed ^ 0x5bd1e995u, gen = seed;
    char buf[3001];
    while (r->sent < BYTES) {
        size_t chunk = 1 + next(&sizes) % sizeof buf;
        if (chunk > (size_t)(BYTES - r->sent)) chunk = BYTES - r->sent;
        for (size_t i = 0; i < chunk; i++) buf[i] = (char)next(&gen);
        for (size_t off = 0; off < chunk;) {
            ssize_t w = write(fd, buf + off, chunk - off);
            if (w <= 0) {
                r->failed = 1;
                shutdown(fd, SHUT_RDWR);
                pthread_join(rt, NULL);
                close(fd);
                return NULL;
            }
            off += w;
        }
        r->sent += chunk;
    }
    shutdown(fd, SHUT_WR);
    pthread_join(rt, NULL);
    close(fd);
    return NULL;
}

int main(void) {
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, CLIENTS) != 0) {
        perror("listen");
        return 1;
    }
    socklen_t len = sizeof sa;
    getsockname(ls, (struct sockaddr *)&sa, &len);
    port = ntohs(sa.sin_port);
    pthread_t acc;
    pthread_create(&acc, NULL, acceptor, (void *)(intptr_t)ls);
    static struct result results[CLIENTS];
    pthread_t t[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        results[i].index = i;
        pthread_create(&t[i], NULL, client, &results[i]);
    }
    long sent = 0, received = 0, mismatches = 0;
    int failed = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(t[i], NULL);
        sent += results[i].sent;
        received += results[i].received;
        mismatches += results[i].mismatches;
        failed += results[i].failed;
    }
    pthread_join(acc, NULL);
    printf("clients=%d sent=%ld received=%ld mismatches=%ld failed=%d\n", CLIENTS, sent, received,
           mismatches, failed);
    return failed || mismatches ? 1 : 0;
}
