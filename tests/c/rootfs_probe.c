/* Probes the sandbox's own mount points from inside a minimal root file system: writes to
 * /dev/null, creates, writes and reads back /tmp/probe, reads the link /proc/self/exe and lists
 * which of tmp, dev and proc the root directory shows. Prints one line per check; exits 0 when
 * all pass, 1 otherwise. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int failures;

static void fail(const char *what) {
    printf("%s: FAIL %s\n", what, strerror(errno));
    failures++;
}

int main(void) {
    static const char line[] = "probe\n";
    char buf[256];
    ssize_t n;
    int fd, tmp = 0, dev = 0, proc = 0;
    DIR *d;
    struct dirent *e;

    fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, line, sizeof line - 1) != (ssize_t)(sizeof line - 1))
        fail("/dev/null");
    else
        printf("/dev/null: ok\n");
    if (fd >= 0)
        close(fd);

    fd = open("/tmp/probe", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, line, sizeof line - 1) != (ssize_t)(sizeof line - 1) ||
        lseek(fd, 0, SEEK_SET) != 0) {
        fail("/tmp/probe");
    } else {
        n = read(fd, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
        printf("/tmp/probe: %s", n > 0 ? buf : "empty\n");
    }
    if (fd >= 0)
        close(fd);

    n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n < 0) {
        fail("/proc/self/exe");
    } else {
        buf[n] = '\0';
        printf("/proc/self/exe: %s\n", buf);
    }

    d = opendir("/");
    if (d == NULL) {
        fail("opendir /");
    } else {
        while ((e = readdir(d)) != NULL) {
            tmp |= strcmp(e->d_name, "tmp") == 0 && e->d_type == DT_DIR;
            dev |= strcmp(e->d_name, "dev") == 0 && e->d_type == DT_DIR;
            proc |= strcmp(e->d_name, "proc") == 0 && e->d_type == DT_DIR;
        }
        closedir(d);
        printf("/ lists: tmp=%d dev=%d proc=%d\n", tmp, dev, proc);
    }
    return failures ? 1 : 0;
}
