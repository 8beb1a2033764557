/* Writes one line with write(2) and exits 3: the smallest end-to-end check of a static binary. */
#include <unistd.h>

int main(void) {
    static const char msg[] = "hello from a static binary\n";
    if (write(1, msg, sizeof msg - 1) != (ssize_t)(sizeof msg - 1))
        return 1;
    return 3;
}
