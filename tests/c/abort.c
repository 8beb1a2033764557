/* Dies by SIGABRT through abort(3): a shell reports 134. */
#include <stdlib.h>

int main(void) {
    abort();
}
