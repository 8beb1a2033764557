/* Compiled and run by gcc inside the sandbox (tests/tests/fs_ops.rs): gcc needs chmod on its
 * output and a writable /tmp. */
#include <stdio.h>
int main(void) { printf("built inside: %d\n", 6 * 7); return 0; }
