/* lowfds's allocating functions, built without unwind tables (-fno-asynchronous-unwind-tables):
 * libunwind cannot unwind through them by DWARF and checks every address it reads instead. */
#include <stdlib.h>

void *nocfi_deep(int n);
void *nocfi_leaf(int i);

void *nocfi_deep(int n)
{
    if (n == 0)
        return malloc(32);
    void *p = nocfi_deep(n - 1);
    volatile char pad[64];
    pad[0] = 1;
    (void)pad;
    return p;
}

void *nocfi_leaf(int i)
{
    return malloc(100 + (size_t)i);
}
