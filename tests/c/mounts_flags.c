/* Per-mount flags: MS_NOEXEC (execve EACCES, mmap PROT_EXEC EPERM, mprotect adding PROT_EXEC
 * EACCES), MS_NOSUID (set-user-id and set-group-id bits ignored at execve), MS_NODEV (device
 * nodes do not open), MS_NOATIME, remounts that change them, and how /proc/self/mountinfo and
 * /proc/self/mounts show them and tmpfs's options. Natively in a private mount namespace
 * (unshare(2)); the sandbox must print the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static char base[64], dir[128], devdir[128], prog[160];

/* The mountinfo line of mount point `path`, with its ids and device left out: mount options,
 * the optional fields (present or not), type, source and filesystem options. */
static void show(const char *what, const char *path) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[1024], found[1024] = "";
    while (f && fgets(line, sizeof line, f)) {
        char mp[512];
        if (sscanf(line, "%*d %*d %*s %*s %511s", mp) == 1 && strcmp(mp, path) == 0)
            strcpy(found, line);
    }
    if (f) fclose(f);
    if (!found[0]) {
        printf("%s: not listed\n", what);
        return;
    }
    /* Fields: id parent dev root mp opts [optional...] - type source superopts */
    char *save, *tok = strtok_r(found, " \n", &save);
    int i = 0;
    printf("%s:", what);
    int after_dash = 0;
    while (tok) {
        if (i == 5) printf(" %s", tok);
        if (i > 5 && !after_dash) {
            if (strcmp(tok, "-") == 0) {
                after_dash = 1;
                printf(" -");
            } else {
                printf(" [%.*s]", (int)strcspn(tok, ":"), tok);
            }
        } else if (after_dash) {
            printf(" %s", tok);
        }
        tok = strtok_r(NULL, " \n", &save);
        i++;
    }
    printf("\n");
}

static void show_mounts_line(const char *path) {
    FILE *f = fopen("/proc/self/mounts", "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f)) {
        char src[256], mp[512], type[64], opts[512];
        if (sscanf(line, "%255s %511s %63s %511s", src, mp, type, opts) == 4 &&
            strcmp(mp, path) == 0)
            printf("/proc/mounts: %s %s %s\n", src, type, opts);
    }
    if (f) fclose(f);
}

/* Runs `prog ids` in a child and prints what it printed (or the execve error). */
static void run_prog(const char *what) {
    fflush(stdout);
    int p[2];
    pipe(p);
    pid_t kid = fork();
    if (kid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        execl(prog, prog, "ids", (char *)NULL);
        printf("execve=%s\n", strerrorname_np(errno));
        fflush(stdout);
        _exit(0);
    }
    close(p[1]);
    char buf[256] = "";
    int n = read(p[0], buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    close(p[0]);
    waitpid(kid, NULL, 0);
    printf("%s: %s", what, buf);
}

static void copy_self(void) {
    int in = open("/proc/self/exe", O_RDONLY);
    int out = open(prog, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    char buf[65536];
    long n;
    while ((n = read(in, buf, sizeof buf)) > 0) write(out, buf, n);
    close(in);
    close(out);
}

static void noexec(void) {
    printf("mount noexec,nosuid,nodev=%s\n",
           err(mount("tmpfs", dir, "tmpfs", MS_NOEXEC | MS_NOSUID | MS_NODEV,
                     "size=4m,mode=755")));
    show("mountinfo", dir);
    show_mounts_line(dir);
    copy_self();
    run_prog("exec on noexec");
    int fd = open(prog, O_RDONLY);
    void *m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    printf("mmap exec=%s\n", m == MAP_FAILED ? strerrorname_np(errno) : "ok");
    m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    printf("mmap read=%s\n", m == MAP_FAILED ? strerrorname_np(errno) : "ok");
    if (m != MAP_FAILED) {
        printf("mprotect +exec=%s\n", err(mprotect(m, 4096, PROT_READ | PROT_EXEC)));
        munmap(m, 4096);
    }
    m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("anonymous exec mapping=%s\n", m == MAP_FAILED ? strerrorname_np(errno) : "ok");
    close(fd);
    printf("access X_OK=%s\n", err(access(prog, X_OK)));

    printf("remount bind without noexec=%s\n",
           err(mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID, NULL)));
    show("mountinfo", dir);
    fd = open(prog, O_RDONLY);
    m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    printf("mmap exec now=%s\n", m == MAP_FAILED ? strerrorname_np(errno) : "ok");
    if (m != MAP_FAILED) munmap(m, 4096);
    close(fd);
    /* Set-user-id and set-group-id to 1000, on a nosuid mount. */
    chown(prog, 1000, 1000);
    chmod(prog, 06755);
    run_prog("setuid on nosuid");
    printf("remount bind plain=%s\n", err(mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND, NULL)));
    run_prog("setuid honoured");
    chmod(prog, 02755);
    run_prog("setgid only");
    chmod(prog, 02705);
    run_prog("setgid without group exec");
    printf("remount ro,noatime=%s\n",
           err(mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOATIME, NULL)));
    show("mountinfo", dir);
    show_mounts_line(dir);
    printf("remount size=8m=%s\n", err(mount(NULL, dir, NULL, MS_REMOUNT, "size=8m")));
    show("mountinfo", dir);
    printf("remount smaller than used=%s\n", err(mount(NULL, dir, NULL, MS_REMOUNT, "size=4k")));
    unlink(prog);
    printf("umount=%s\n", err(umount(dir)));
    printf("mount noatime,nodiratime,strictatime=%s\n",
           err(mount("none", dir, "tmpfs", MS_NODIRATIME | MS_STRICTATIME, NULL)));
    show("mountinfo", dir);
    umount(dir);
}

static void nodev(void) {
    printf("bind /dev=%s\n", err(mount("/dev", devdir, NULL, MS_BIND, NULL)));
    char p[200];
    snprintf(p, sizeof p, "%s/null", devdir);
    int fd = open(p, O_WRONLY);
    printf("open null through the bind=%s\n", err(fd));
    if (fd >= 0) close(fd);
    printf("remount nodev=%s\n",
           err(mount(NULL, devdir, NULL, MS_REMOUNT | MS_BIND | MS_NODEV, NULL)));
    fd = open(p, O_WRONLY);
    printf("open null on nodev=%s\n", err(fd));
    if (fd >= 0) close(fd);
    fd = open(p, O_PATH);
    printf("O_PATH on nodev=%s\n", err(fd));
    if (fd >= 0) close(fd);
    struct stat st;
    printf("stat on nodev=%s\n", err(stat(p, &st)));
    fd = open("/dev/null", O_WRONLY);
    printf("open /dev/null=%s\n", err(fd));
    if (fd >= 0) close(fd);
    printf("umount=%s\n", err(umount(devdir)));
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "ids") == 0) {
        uid_t r, e, s;
        gid_t gr, ge, gs;
        getresuid(&r, &e, &s);
        getresgid(&gr, &ge, &gs);
        printf("uid %u %u %u gid %u %u %u secure %lu\n", r, e, s, gr, ge, gs,
               getauxval(AT_SECURE));
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (unshare(CLONE_NEWNS) == 0) mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    strcpy(base, "/tmp/mflags-XXXXXX");
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(dir, sizeof dir, "%s/d", base);
    snprintf(devdir, sizeof devdir, "%s/dev", base);
    snprintf(prog, sizeof prog, "%s/prog", dir);
    mkdir(dir, 0755);
    mkdir(devdir, 0755);
    noexec();
    nodev();
    rmdir(dir);
    rmdir(devdir);
    rmdir(base);
    printf("done\n");
    return 0;
}
