/* Syscall patching probe (systrap): calls getppid(2) through libc's wrapper 64 times (a site is
 * patched once it trapped 16 times, `systrap::patch::PATCH_AFTER`), then
 * prints the wrapper's first seven code bytes and whether every call gave the same answer. On
 * systrap with patching the wrapper's `mov $110, %eax; syscall` has become a jump
 * (`ff 24 25 ...`) whose last two bytes are still `0f 05`; elsewhere it is unchanged. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    pid_t first = getppid();
    int same = 1;
    for (int i = 0; i < 63; i++)
        same &= getppid() == first;
    const unsigned char *code = (const unsigned char *)(void *)getppid;
    for (int i = 0; i < 7; i++)
        printf("%02x%s", code[i], i < 6 ? " " : "\n");
    printf("same answer: %s\n", same ? "yes" : "no");
    return 0;
}
