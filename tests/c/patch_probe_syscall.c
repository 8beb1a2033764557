/* Syscall patching probe for glibc's syscall(3) (systrap): calls getppid(2) through syscall(3)
 * 64 times (a site is patched once it trapped 16 times, `systrap::patch::PATCH_AFTER`), then
 * prints the seven code bytes that end with syscall(3)'s `syscall` instruction and whether
 * every call gave the same answer. Those bytes are `mov 0x8(%rsp), %r9; syscall`
 * (`4c 8b 4c 24 08 0f 05`); on systrap with patching they have become a jump (`ff 24 25 ...`)
 * whose last two bytes are still `0f 05`. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    long first = syscall(SYS_getppid);
    int same = 1;
    for (int i = 0; i < 63; i++)
        same &= syscall(SYS_getppid) == first;
    const unsigned char *code = (const unsigned char *)(void *)syscall;
    int at = -1;
    for (int i = 7; i < 64 && at < 0; i++)
        if (code[i - 2] == 0x0f && code[i - 1] == 0x05)
            at = i - 7;
    if (at < 0) {
        printf("no syscall instruction in syscall(3)\n");
        return 1;
    }
    for (int i = 0; i < 7; i++)
        printf("%02x%s", code[at + i], i < 6 ? " " : "\n");
    printf("same answer: %s\n", same ? "yes" : "no");
    return 0;
}
