// System V IPC: shared memory between processes, semaphores, message queues and their errors.
// Prints only relations (no ids, keys or addresses); removes everything it makes.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
    struct seminfo *__buf;
};

static const char *ename(int e) {
    switch (e) {
    case 0: return "OK";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case E2BIG: return "E2BIG";
    case ENOMSG: return "ENOMSG";
    case EAGAIN: return "EAGAIN";
    case EIDRM: return "EIDRM";
    case EINTR: return "EINTR";
    case ERANGE: return "ERANGE";
    case EFBIG: return "EFBIG";
    default: return "other";
    }
}

#define ERR(call) ((call) < 0 ? ename(errno) : "OK")

static int wait_child(pid_t pid) {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static unsigned long nattch(int id) {
    struct shmid_ds ds;
    if (shmctl(id, IPC_STAT, &ds) < 0) return 999;
    return ds.shm_nattch;
}

static void test_shm(key_t key) {
    int id = shmget(key, 10000, IPC_CREAT | IPC_EXCL | 0600);
    printf("shmget=%d\n", id >= 0);
    printf("shmget excl again=%s\n", ERR(shmget(key, 10000, IPC_CREAT | IPC_EXCL | 0600)));
    printf("shmget same key same=%d\n", shmget(key, 100, 0) == id);
    printf("shmget too big=%s\n", ERR(shmget(key, 20000, 0)));
    printf("shmget size 0 private=%s\n", ERR(shmget(IPC_PRIVATE, 0, 0600)));
    printf("shmget missing=%s\n", ERR(shmget(key + 1, 100, 0600)));

    struct shmid_ds ds;
    shmctl(id, IPC_STAT, &ds);
    printf("segsz=%zu mode=%o nattch=%lu cpid_is_me=%d atime0=%d\n", (size_t)ds.shm_segsz,
           ds.shm_perm.mode & 0777, (unsigned long)ds.shm_nattch, ds.shm_cpid == getpid(),
           ds.shm_atime == 0);

    char *p = shmat(id, NULL, 0);
    printf("shmat ok=%d nattch=%lu\n", p != (void *)-1, nattch(id));
    shmctl(id, IPC_STAT, &ds);
    printf("lpid_is_me=%d atime_set=%d\n", ds.shm_lpid == getpid(), ds.shm_atime != 0);
    strcpy(p, "from parent");
    pid_t c = fork();
    if (c == 0) {
        printf("child sees=%s nattch=%lu\n", p, nattch(id));
        fflush(stdout);
        strcpy(p + 100, "from child");
        _exit(0);
    }
    wait_child(c);
    printf("parent sees=%s nattch after child exit=%lu\n", p + 100, nattch(id));

    char *q = shmat(id, NULL, SHM_RDONLY);
    printf("second attach same data=%d nattch=%lu\n", strcmp(q, "from parent") == 0, nattch(id));
    const char *dt = ERR(shmdt(q));
    printf("shmdt second=%s nattch=%lu\n", dt, nattch(id));
    printf("shmdt again=%s\n", ERR(shmdt(q)));
    printf("shmdt middle=%s\n", ERR(shmdt(p + 4096)));
    printf("shmat unaligned=%s\n", ERR((long)shmat(id, p + 1, 0)));
    printf("shmat over mapping=%s\n", ERR((long)shmat(id, p, 0)));
    char *r = shmat(id, p, SHM_REMAP);
    printf("shmat remap same addr=%d nattch=%lu\n", r == p, nattch(id));

    // A child attaching by key and exec-free exit.
    c = fork();
    if (c == 0) {
        int cid = shmget(key, 0, 0);
        char *cp = shmat(cid, NULL, 0);
        strcpy(cp + 200, "child2");
        _exit(nattch(id) == 3 ? 0 : 1);
    }
    int cst = wait_child(c);
    printf("child attach status=%d parent reads=%s nattch=%lu\n", cst, p + 200, nattch(id));

    // exec drops the attachments of the old image.
    c = fork();
    if (c == 0) {
        char *cp = shmat(id, NULL, 0);
        (void)cp;
        if (nattch(id) != 3) _exit(3);
        execl("/bin/true", "true", (char *)NULL);
        _exit(4);
    }
    cst = wait_child(c);
    printf("exec child status=%d nattch=%lu\n", cst, nattch(id));
    printf("negative id stat=%s info=%s\n", ERR(shmctl(-1, IPC_STAT, &ds)),
           ERR(shmctl(-1, IPC_INFO, &ds)));

    // Removing while attached: the key goes, the memory stays until the last detach.
    printf("rmid attached=%s\n", ERR(shmctl(id, IPC_RMID, NULL)));
    shmctl(id, IPC_STAT, &ds);
    printf("after rmid: dest=%d key0=%d nattch=%lu data=%s\n", (ds.shm_perm.mode & SHM_DEST) != 0,
           ds.shm_perm.__key == 0, (unsigned long)ds.shm_nattch, p);
    printf("shmget removed key=%s\n", ERR(shmget(key, 0, 0)));
    printf("shmdt last=%s\n", ERR(shmdt(p)));
    printf("stat after last detach=%s\n", ERR(shmctl(id, IPC_STAT, &ds)));

    // Permissions: a segment with mode 0 is closed to an unprivileged caller.
    int id2 = shmget(key, 4096, IPC_CREAT | 0);
    c = fork();
    if (c == 0) {
        if (geteuid() == 0 && setuid(65534) < 0) _exit(2);
        printf("unprivileged shmget=%s\n", ERR(shmget(key, 0, 0400)));
        printf("unprivileged stat=%s\n", ERR(shmctl(id2, IPC_STAT, &ds)));
        printf("unprivileged rmid=%s\n", ERR(shmctl(id2, IPC_RMID, NULL)));
        fflush(stdout);
        _exit(0);
    }
    wait_child(c);

    // ipcs's way of listing: SHM_INFO then SHM_STAT by index.
    struct shm_info si;
    int max = shmctl(0, SHM_INFO, (struct shmid_ds *)&si);
    int found = 0;
    for (int i = 0; i <= max; i++) {
        struct shmid_ds d2;
        int got = shmctl(i, SHM_STAT, &d2);
        if (got == id2) found = 1;
    }
    printf("shm_info ok=%d used>=1=%d found by SHM_STAT=%d\n", max >= 0, si.used_ids >= 1, found);
    struct shminfo lim;
    printf("ipc_info ok=%d\n", shmctl(0, IPC_INFO, (struct shmid_ds *)&lim) >= 0);
    struct shmid_ds set;
    shmctl(id2, IPC_STAT, &set);
    set.shm_perm.mode = 0640;
    printf("ipc_set=%s\n", ERR(shmctl(id2, IPC_SET, &set)));
    shmctl(id2, IPC_STAT, &set);
    printf("mode after set=%o\n", set.shm_perm.mode & 0777);
    printf("lock=%s\n", ERR(shmctl(id2, SHM_LOCK, NULL)));
    printf("unlock=%s\n", ERR(shmctl(id2, SHM_UNLOCK, NULL)));
    printf("rmid=%s\n", ERR(shmctl(id2, IPC_RMID, NULL)));
    printf("rmid again=%s\n", ERR(shmctl(id2, IPC_RMID, NULL)));
    printf("bad cmd=%s\n", ERR(shmctl(0, 9999, NULL)));
}

static int sem_add(int id, int num, int op, int flg) {
    struct sembuf b = {.sem_num = num, .sem_op = op, .sem_flg = flg};
    return semop(id, &b, 1);
}

static void on_usr1(int sig) { (void)sig; }

static void wait_ncnt(int id, int num) {
    while (semctl(id, num, GETNCNT) < 1) usleep(1000);
}

static void test_sem(key_t key) {
    int id = semget(key, 3, IPC_CREAT | IPC_EXCL | 0600);
    printf("semget=%d again excl=%s\n", id >= 0, ERR(semget(key, 3, IPC_CREAT | IPC_EXCL)));
    printf("semget more sems=%s same=%d\n", ERR(semget(key, 4, 0)), semget(key, 0, 0) == id);
    printf("semget 0 private=%s\n", ERR(semget(IPC_PRIVATE, 0, 0600)));
    struct semid_ds ds;
    union semun arg = {.buf = &ds};
    semctl(id, 0, IPC_STAT, arg);
    printf("nsems=%lu mode=%o\n", (unsigned long)ds.sem_nsems, ds.sem_perm.mode & 0777);

    // Ping-pong through a shared counter.
    int cshm = shmget(IPC_PRIVATE, 4096, 0600);
    int *counter = shmat(cshm, NULL, 0);
    shmctl(cshm, IPC_RMID, NULL);
    *counter = 0;
    pid_t c = fork();
    if (c == 0) {
        for (int i = 0; i < 5; i++) {
            sem_add(id, 0, -1, 0);
            (*counter)++;
            sem_add(id, 1, 1, 0);
        }
        _exit(0);
    }
    int ok = 1;
    for (int i = 0; i < 5; i++) {
        sem_add(id, 0, 1, 0);
        sem_add(id, 1, -1, 0);
        if (*counter != i + 1) ok = 0;
    }
    printf("pingpong ok=%d child=%d\n", ok, wait_child(c));
    printf("getpid is child=%d\n", semctl(id, 0, GETPID) == c);

    // SEM_UNDO: the child's changes are undone when it exits.
    union semun v = {.val = 3};
    semctl(id, 2, SETVAL, v);
    c = fork();
    if (c == 0) {
        sem_add(id, 2, -2, SEM_UNDO);
        sem_add(id, 2, 5, SEM_UNDO);
        _exit(semctl(id, 2, GETVAL));
    }
    int saw = wait_child(c);
    printf("child saw=%d after exit=%d\n", saw, semctl(id, 2, GETVAL));

    // Atomicity, IPC_NOWAIT, ranges.
    struct sembuf two[2] = {{2, -1, 0}, {0, -1, IPC_NOWAIT}};
    const char *an = ERR(semop(id, two, 2));
    printf("atomic nowait=%s val2=%d\n", an, semctl(id, 2, GETVAL));
    struct timespec ts = {0, 20 * 1000 * 1000};
    struct sembuf wz = {2, 0, 0};
    printf("semtimedop timeout=%s\n", ERR(semtimedop(id, &wz, 1, &ts)));
    printf("sem num too big=%s\n", ERR(sem_add(id, 3, 1, 0)));
    struct sembuf many[501];
    memset(many, 0, sizeof many);
    printf("too many ops=%s\n", ERR(semop(id, many, 501)));
    printf("no ops=%s\n", ERR(semop(id, many, 0)));
    union semun big = {.val = 40000};
    printf("setval big=%s\n", ERR(semctl(id, 0, SETVAL, big)));
    union semun max = {.val = 32767};
    semctl(id, 0, SETVAL, max);
    printf("op past max=%s\n", ERR(sem_add(id, 0, 1, 0)));
    unsigned short all[3] = {1, 2, 3};
    union semun aa = {.array = all};
    printf("setall=%s\n", ERR(semctl(id, 0, SETALL, aa)));
    unsigned short got[3] = {0, 0, 0};
    union semun ga = {.array = got};
    semctl(id, 0, GETALL, ga);
    printf("getall=%u,%u,%u\n", got[0], got[1], got[2]);
    printf("getval bad num=%s\n", ERR(semctl(id, 7, GETVAL)));

    // A signal interrupts a blocked semop; IPC_RMID wakes one with EIDRM.
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    unsigned short zeros[3] = {0, 0, 0};
    union semun za = {.array = zeros};
    semctl(id, 0, SETALL, za);
    c = fork();
    if (c == 0) {
        int r = sem_add(id, 0, -1, 0);
        printf("child interrupted=%s\n", r < 0 ? ename(errno) : "OK");
        fflush(stdout);
        r = sem_add(id, 1, -1, 0);
        printf("child after rmid=%s\n", r < 0 ? ename(errno) : "OK");
        fflush(stdout);
        _exit(0);
    }
    wait_ncnt(id, 0);
    kill(c, SIGUSR1);
    wait_ncnt(id, 1);
    printf("ncnt0=%d ncnt1=%d zcnt=%d\n", semctl(id, 0, GETNCNT), semctl(id, 1, GETNCNT),
           semctl(id, 0, GETZCNT));
    fflush(stdout);
    // The child prints as soon as it wakes: report the removal after it has ended.
    const char *rr = ERR(semctl(id, 0, IPC_RMID));
    wait_child(c);
    printf("rmid=%s\n", rr);
    printf("after rmid getval=%s\n", ERR(semctl(id, 0, GETVAL)));

    struct seminfo si;
    union semun ia = {.__buf = &si};
    printf("sem info ok=%d\n", semctl(0, 0, SEM_INFO, ia) >= 0);
    shmdt(counter);
}

struct msg {
    long mtype;
    char text[64];
};

static int snd(int id, long type, const char *s, int flg) {
    struct msg m;
    m.mtype = type;
    snprintf(m.text, sizeof m.text, "%s", s);
    return msgsnd(id, &m, strlen(s), flg);
}

static void rcv(int id, size_t max, long type, int flg) {
    struct msg m;
    memset(&m, 0, sizeof m);
    ssize_t n = msgrcv(id, &m, max, type, flg);
    if (n < 0)
        printf("  rcv(%ld)=%s\n", type, ename(errno));
    else
        printf("  rcv(%ld)=type %ld \"%.*s\"\n", type, m.mtype, (int)n, m.text);
}

static void test_msg(key_t key) {
    int id = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
    printf("msgget=%d excl=%s missing=%s\n", id >= 0, ERR(msgget(key, IPC_CREAT | IPC_EXCL)),
           ERR(msgget(key + 1, 0)));
    snd(id, 3, "three", 0);
    snd(id, 1, "one", 0);
    snd(id, 2, "two", 0);
    snd(id, 1, "uno", 0);
    struct msqid_ds ds;
    msgctl(id, IPC_STAT, &ds);
    printf("qnum=%lu cbytes=%lu lspid_is_me=%d\n", (unsigned long)ds.msg_qnum,
           (unsigned long)ds.__msg_cbytes, ds.msg_lspid == getpid());
    rcv(id, 64, 2, IPC_NOWAIT);
    rcv(id, 64, -2, IPC_NOWAIT);
    rcv(id, 64, 1, IPC_NOWAIT | MSG_EXCEPT);
    rcv(id, 2, 0, IPC_NOWAIT);
    rcv(id, 2, 0, IPC_NOWAIT | MSG_NOERROR);
    rcv(id, 64, 0, IPC_NOWAIT);
    printf("bad type send=%s\n", ERR(snd(id, 0, "x", 0)));
    struct msg big;
    big.mtype = 1;
    printf("too long send=%s\n", ERR(msgsnd(id, &big, 9000, 0)));

    // A blocked receiver in a child gets what the parent sends.
    pid_t c = fork();
    if (c == 0) {
        struct msg m;
        ssize_t n = msgrcv(id, &m, sizeof m.text, 7, 0);
        _exit(n == 5 && memcmp(m.text, "seven", 5) == 0 ? 0 : 1);
    }
    usleep(20000);
    snd(id, 7, "seven", 0);
    printf("child received=%d\n", wait_child(c) == 0);

    // A full queue refuses with IPC_NOWAIT.
    msgctl(id, IPC_STAT, &ds);
    ds.msg_qbytes = 8;
    printf("set qbytes=%s\n", ERR(msgctl(id, IPC_SET, &ds)));
    snd(id, 1, "12345678", 0);
    printf("full nowait=%s\n", ERR(snd(id, 1, "x", IPC_NOWAIT)));
    rcv(id, 64, 0, 0);

    c = fork();
    if (c == 0) {
        if (geteuid() == 0 && setuid(65534) < 0) _exit(2);
        printf("unprivileged msgget=%s\n", ERR(msgget(key, 0600)));
        printf("unprivileged send=%s\n", ERR(snd(id, 1, "x", 0)));
        fflush(stdout);
        _exit(0);
    }
    wait_child(c);
    struct msginfo mi;
    printf("msg info ok=%d\n", msgctl(0, MSG_INFO, (struct msqid_ds *)&mi) >= 0);
    printf("rmid=%s\n", ERR(msgctl(id, IPC_RMID, NULL)));
    printf("stat after=%s\n", ERR(msgctl(id, IPC_STAT, &ds)));
}

// Makes one object of each kind and lets ipcs(1) list them (run in the sandbox only).
static int list_with_ipcs(void) {
    int shm = shmget(IPC_PRIVATE, 12345, 0640);
    int sem = semget(IPC_PRIVATE, 3, 0600);
    int msg = msgget(IPC_PRIVATE, 0600);
    snd(msg, 1, "hello", 0);
    fflush(stdout);
    int rc = system("ipcs");
    shmctl(shm, IPC_RMID, NULL);
    semctl(sem, 0, IPC_RMID);
    msgctl(msg, IPC_RMID, NULL);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && strcmp(argv[1], "ipcs") == 0) return list_with_ipcs();
    key_t key = (key_t)(0x51500000 + (getpid() & 0xfffff) * 4);
    test_shm(key);
    test_sem(key);
    test_msg(key);
    return 0;
}
