/* Fragmentation, not a leak: large buffers (decoded images) allocated between small records, the
 * large ones freed, then the small ones. Every block is freed before exit, yet glibc cannot give
 * the memory back: each free large chunk is pinned between two small ones, and the small ones,
 * once freed, sit in the tcache and fast bins, which are only merged back on a later large
 * request. RSS stays at the peak; imgleak must call that allocator retention, not a leak.
 * (No stdio: its buffer would be live at exit. The arrays are static for the same reason.)
 *
 * With "trim", malloc_trim(0) then gives the free pages back to the kernel (glibc madvises them
 * away in place, under the one small block kept): the heap keeps its size and its free list,
 * but none of that is resident, so no retention may be claimed.
 *
 * With "keep", the small blocks stay live, each grown by realloc to 200 bytes (a 208-byte chunk,
 * moved or grown in place), with one more aligned small block and one calloc()ed 1 MiB block
 * (taken first, before the heap holds free memory: mapped apart): glibc's in-use figure is then BUFFERS x 208 bytes and a little more, its mapped
 * figure 1 MiB and a page.
 *
 *   fragment [BUFFERS] [BUFFER_BYTES] [trim|keep]   (default 3000 x 64 KiB: about 190 MiB at the peak) */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_BUFFERS 100000

static char *big[MAX_BUFFERS], *small[MAX_BUFFERS];

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 3000;
    size_t size = argc > 2 ? strtoul(argv[2], NULL, 10) : 64 * 1024;
    if (n > MAX_BUFFERS)
        n = MAX_BUFFERS;
    static void *mapped;
    if (argc > 3 && strcmp(argv[3], "keep") == 0 && !(mapped = calloc(1, 1 << 20)))
        return 1;
    for (size_t i = 0; i < n; i++) {
        big[i] = malloc(size);
        small[i] = malloc(48);
        if (!big[i] || !small[i])
            return 1;
        memset(big[i], (int)i, size); /* a decoded image: every page touched */
        memset(small[i], 0, 48);
    }
    for (size_t i = 0; i < n; i++)
        free(big[i]);
    int trim = argc > 3 && strcmp(argv[3], "trim") == 0;
    if (argc > 3 && strcmp(argv[3], "keep") == 0) {
        for (size_t i = 0; i < n; i++)
            if (!(small[i] = realloc(small[i], 200)))
                return 1;
        static void *aligned;
        return posix_memalign(&aligned, 64, 100) != 0;
    }
    /* with trim, the last small block stays (reachable from small[]): it pins the top of the heap,
     * so that glibc cannot shrink the heap and must release the free pages below it in place */
    for (size_t i = 0; i + trim < n; i++)
        free(small[i]);
    if (trim)
        malloc_trim(0);
    char msg[128];
    int len = snprintf(msg, sizeof msg, "fragment: %zu buffers of %zu bytes, all freed\n", n, size);
    return write(1, msg, (size_t)len) == len ? 0 : 1;
}
