// /proc/sysvipc/{shm,sem,msg} and the IPC limits of /proc/sys/kernel: makes one object of each
// kind, then prints each file's header verbatim and the object's row with ids, keys, times,
// pids and owners replaced by relations (ID, KEY, NOW, SELF, ME), and whether the leading
// columns end where their header names end. Removes everything it makes.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

static long now;

// The relation of one field to what this program knows.
static void relate(const char *tok, const char *col, int id, int key) {
    long v = strtol(tok, NULL, 10);
    if (strcmp(col, "key") == 0)
        printf(" %s", v == key ? "KEY" : tok);
    else if (strstr(col, "pid"))
        printf(" %s", v == 0 ? "0" : (v == getpid() ? "SELF" : tok));
    else if (strstr(col, "time"))
        printf(" %s", v == 0 ? "0" : (labs(v - now) < 3600 ? "NOW" : tok));
    else if (strcmp(col, "shmid") == 0 || strcmp(col, "semid") == 0 || strcmp(col, "msqid") == 0)
        printf(" %s", v == id ? "ID" : tok);
    else if (strcmp(col, "uid") == 0 || strcmp(col, "cuid") == 0)
        printf(" %s", v == (long)getuid() ? "ME" : tok);
    else if (strcmp(col, "gid") == 0 || strcmp(col, "cgid") == 0)
        printf(" %s", v == (long)getgid() ? "ME" : tok);
    else
        printf(" %s", tok);
}

static void show(const char *file, int id, int key, int aligned_cols) {
    char path[64], header[512], line[512];
    snprintf(path, sizeof path, "/proc/sysvipc/%s", file);
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("%s: missing\n", file);
        return;
    }
    if (!fgets(header, sizeof header, f)) {
        printf("%s: empty\n", file);
        fclose(f);
        return;
    }
    printf("%s header: %s", file, header);
    // Column names and where they end.
    char cols[32][16];
    int ends[32], ncol = 0;
    for (char *p = header; *p && ncol < 32;) {
        while (*p == ' ')
            p++;
        if (*p == '\n' || !*p)
            break;
        int n = 0;
        while (p[n] && p[n] != ' ' && p[n] != '\n')
            n++;
        snprintf(cols[ncol], sizeof cols[ncol], "%.*s", n, p);
        ends[ncol++] = (int)(p - header) + n;
        p += n;
    }
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        char copy[512];
        strcpy(copy, line);
        char *save, *tok = strtok_r(copy, " \n", &save);
        if (!tok)
            continue;
        char *idtok = strtok_r(NULL, " \n", &save);
        if (!idtok || atoi(idtok) != id)
            continue;
        found = 1;
        printf("%s row:", file);
        int i = 0, aligned = 1;
        for (char *p = line; *p && *p != '\n' && i < ncol;) {
            while (*p == ' ')
                p++;
            int n = 0;
            while (p[n] && p[n] != ' ' && p[n] != '\n')
                n++;
            char t[64];
            snprintf(t, sizeof t, "%.*s", n, p);
            if (i < aligned_cols && (int)(p - line) + n != ends[i])
                aligned = 0;
            relate(t, cols[i], id, key);
            p += n;
            i++;
        }
        printf("\n%s fields=%d/%d aligned=%d\n", file, i, ncol, aligned);
    }
    if (!found)
        printf("%s: row not found\n", file);
    fclose(f);
}

static void sysctl(const char *name) {
    char path[64], buf[128] = {0};
    snprintf(path, sizeof path, "/proc/sys/kernel/%s", name);
    FILE *f = fopen(path, "r");
    if (!f || !fgets(buf, sizeof buf, f)) {
        printf("%s: missing\n", name);
    } else {
        printf("%s: %s", name, buf);
    }
    if (f)
        fclose(f);
}

int main(void) {
    now = time(NULL);
    int key = 0x5100000 + (getpid() & 0xffff);
    int shm = shmget(key, 5000, IPC_CREAT | IPC_EXCL | 0600);
    int sem = semget(key, 3, IPC_CREAT | IPC_EXCL | 0640);
    int msg = msgget(key, IPC_CREAT | IPC_EXCL | 0666);
    if (shm < 0 || sem < 0 || msg < 0) {
        perror("create");
        return 1;
    }
    char *p = shmat(shm, NULL, 0);
    memset(p, 1, 5000);
    struct sembuf op = {.sem_num = 1, .sem_op = 2};
    semop(sem, &op, 1);
    struct {
        long type;
        char text[10];
    } m = {1, "123456789"};
    msgsnd(msg, &m, 10, 0);

    show("shm", shm, key, 4);
    show("sem", sem, key, 4);
    show("msg", msg, key, 5);
    shmdt(p);
    show("shm", shm, key, 4);

    shmctl(shm, IPC_RMID, NULL);
    semctl(sem, 0, IPC_RMID);
    msgctl(msg, IPC_RMID, NULL);
    const char *names[] = {"shmmax", "shmall", "shmmni", "sem", "msgmax", "msgmnb", "msgmni"};
    for (int i = 0; i < 7; i++)
        sysctl(names[i]);
    return 0;
}
