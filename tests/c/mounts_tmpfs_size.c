/* tmpfs size= and nr_inodes= limits: writes past the limit are short then ENOSPC, fallocate
 * past it is ENOSPC, ftruncate growing stays sparse (allowed), statfs reports the limits with
 * f_bfree and f_ffree following use, and freed space comes back. Natively in a private mount
 * namespace (unshare(2)); the sandbox must print the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static char dir[64];

static void show_statfs(const char *what) {
    struct statfs s;
    if (statfs(dir, &s) < 0) {
        printf("%s statfs=%s\n", what, strerrorname_np(errno));
        return;
    }
    printf("%s: bsize=%ld blocks=%lu bfree=%lu bavail=%lu files=%lu ffree=%lu\n", what,
           (long)s.f_bsize, (unsigned long)s.f_blocks, (unsigned long)s.f_bfree,
           (unsigned long)s.f_bavail, (unsigned long)s.f_files, (unsigned long)s.f_ffree);
}

static char big[100000];

static void sizes(void) {
    printf("mount size=64k=%s\n",
           err(mount("tmpfs", dir, "tmpfs", 0, "size=64k,nr_inodes=6")));
    show_statfs("fresh");
    char p[128];
    snprintf(p, sizeof p, "%s/f", dir);
    int fd = open(p, O_RDWR | O_CREAT, 0644);
    show_statfs("one empty file");
    memset(big, 'x', sizeof big);
    long n = write(fd, big, sizeof big);
    printf("write 100000=%ld %s\n", n, n < 0 ? strerrorname_np(errno) : "");
    n = write(fd, big, 10);
    printf("write when full=%ld %s\n", n, n < 0 ? strerrorname_np(errno) : "");
    show_statfs("full");
    n = pwrite(fd, big, 4096, 0);
    printf("overwrite in place when full=%ld\n", n);
    struct stat st;
    fstat(fd, &st);
    printf("size=%ld blocks=%ld\n", (long)st.st_size, (long)st.st_blocks);
    printf("truncate to 1m (sparse)=%s\n", err(ftruncate(fd, 1 << 20)));
    show_statfs("after sparse growth");
    n = pwrite(fd, big, 10, 512 * 1024);
    printf("write into the hole when full=%ld %s\n", n, n < 0 ? strerrorname_np(errno) : "");
    printf("truncate to 8k=%s\n", err(ftruncate(fd, 8192)));
    show_statfs("after shrinking");
    printf("fallocate 100k=%s\n", err(fallocate(fd, 0, 0, 100000)));
    fstat(fd, &st);
    printf("size after failed fallocate=%ld\n", (long)st.st_size);
    printf("fallocate 16k=%s\n", err(fallocate(fd, 0, 8192, 16384)));
    fstat(fd, &st);
    printf("size=%ld blocks=%ld\n", (long)st.st_size, (long)st.st_blocks);
    show_statfs("after fallocate");
    n = pwrite(fd, big, 4096, 12288);
    printf("write into fallocated space=%ld\n", n);
    show_statfs("same use");
    close(fd);
    printf("unlink=%s\n", err(unlink(p)));
    show_statfs("after unlink");
    /* Inodes: the root holds one of the six. */
    int made = 0;
    for (int i = 0; i < 10; i++) {
        snprintf(p, sizeof p, "%s/n%d", dir, i);
        int f = open(p, O_WRONLY | O_CREAT, 0644);
        if (f < 0) {
            printf("create #%d=%s\n", i, strerrorname_np(errno));
            break;
        }
        close(f);
        made++;
    }
    printf("files made=%d\n", made);
    snprintf(p, sizeof p, "%s/d", dir);
    printf("mkdir when out of inodes=%s\n", err(mkdir(p, 0755)));
    show_statfs("inodes used");
    for (int i = 0; i < made; i++) {
        snprintf(p, sizeof p, "%s/n%d", dir, i);
        unlink(p);
    }
    show_statfs("inodes back");
    printf("umount=%s\n", err(umount(dir)));
}

static void options(void) {
    const char *opts[] = {"size=1m",      "size=1M",    "size=3000",    "nr_blocks=10",
                          "size=1g",      "size=0",     "size=12x",     "size=",
                          "nr_inodes=1k", "nr_inodes=0", "size=-1", NULL};
    for (int i = 0; opts[i]; i++) {
        long r = mount("tmpfs", dir, "tmpfs", 0, opts[i]);
        printf("%s=%s", opts[i], err(r));
        if (r == 0) {
            struct statfs s;
            statfs(dir, &s);
            int unlimited_blocks = strstr(opts[i], "size=0") || strstr(opts[i], "nr_inodes");
            if (unlimited_blocks)
                printf(" blocks unlimited");
            else
                printf(" blocks=%lu", (unsigned long)s.f_blocks);
            if (strstr(opts[i], "nr_inodes=1k"))
                printf(" files=%lu", (unsigned long)s.f_files);
            umount(dir);
        }
        printf("\n");
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (unshare(CLONE_NEWNS) == 0) mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    strcpy(dir, "/tmp/tmpfs-size-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    sizes();
    options();
    rmdir(dir);
    printf("done\n");
    return 0;
}
