/* Creates the file named by argv[1] (which must not exist), writes a line, reads it back and
 * prints it. Used to prove that writes inside the sandbox never reach the host. Exits 0 on
 * success, 1 with a message on stderr otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    static const char line[] = "canary\n";
    char buf[64];
    ssize_t n;
    int fd;

    if (argc != 2) {
        fprintf(stderr, "usage: tmp_canary PATH\n");
        return 1;
    }
    fd = open(argv[1], O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "create %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    if (write(fd, line, sizeof line - 1) != (ssize_t)(sizeof line - 1) || close(fd) != 0) {
        fprintf(stderr, "write %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "reopen %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    n = read(fd, buf, sizeof buf - 1);
    if (n < 0) {
        fprintf(stderr, "read %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    buf[n] = '\0';
    close(fd);
    printf("read back: %s", buf);
    return 0;
}
