/* A System V shared memory segment under a fixed key, for the pod tests: `pod_shm create`
 * makes it and writes a message into it, `pod_shm read` finds it by key (shmget(2) without
 * IPC_CREAT) and prints the message. Two containers of one pod share one IPC namespace. */
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#define KEY 0x504f44

int main(int argc, char **argv) {
    if (argc != 2)
        return 2;
    int create = strcmp(argv[1], "create") == 0;
    int id = shmget(KEY, 4096, create ? (IPC_CREAT | 0600) : 0);
    if (id < 0) {
        perror("shmget");
        return 1;
    }
    char *p = shmat(id, NULL, 0);
    if (p == (char *)-1) {
        perror("shmat");
        return 1;
    }
    if (create)
        strcpy(p, "shared by the pod");
    else
        printf("shm: %s\n", p);
    shmdt(p);
    return 0;
}
