/* A heap page the program made PROT_NONE, reachable from a global, and a leaked block: the
 * reachability scan must not fault on the page (and the program must exit as without the shim). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void *guarded;
void *volatile lost;

static __attribute__((noinline)) void guard_page(void)
{
    if (posix_memalign(&guarded, 4096, 4096) != 0 || mprotect(guarded, 4096, PROT_NONE) != 0)
        _exit(3);
}

static __attribute__((noinline)) void lose_block(void)
{
    lost = malloc(100);
    lost = NULL;
}

int main(void)
{
    guard_page();
    lose_block();
    return write(1, "protected done\n", 15) == 15 ? 0 : 1;
}
