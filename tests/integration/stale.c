/* Stale words in reused memory, for split.sh. glibc hands a freed chunk out again with what it
 * held; a block the program has not written since holds no pointer the program keeps:
 *   lose_target       pointed to only by the words of a block since freed        leaked
 *   lose_reused       the freed block's chunk, allocated again, never written     leaked
 *   lose_moved_target pointed to by a block that realloc moved, then freed        leaked
 *   lose_after_move   the moved block's old chunk, allocated again                leaked
 * valgrind calls all four definitely lost; a scan that reads the old words hangs the targets
 * under the reused blocks. It also checks that realloc keeps the program's bytes whichever
 * way it goes (in place, moved, shrunk, mapped), exiting 4 when not, and 5 when glibc did not
 * reuse the chunks as the test needs. */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define OLD_SIZE 200
#define escape(p) __asm__ volatile("" : : "g"(p) : "memory")

static void *checked(void *p)
{
    if (!p)
        _exit(3);
    return p;
}

static void *volatile held; /* where the program keeps a block until it drops it */

static NOINLINE void *lose_target(void) { return checked(malloc(48)); }
static NOINLINE void *lose_reused(void) { return checked(malloc(OLD_SIZE)); }
static NOINLINE void *lose_moved_target(void) { return checked(malloc(56)); }
/* 8 bytes less than lose_reused, the same chunk size: gcc would fold two identical functions */
static NOINLINE void *lose_after_move(void) { return checked(malloc(OLD_SIZE - 8)); }

/* Every word of p points to target. */
static void fill_with(void *p, size_t size, void *target)
{
    for (size_t k = 0; k < size / sizeof(void *); k++)
        ((void **)p)[k] = target;
}

static NOINLINE void reuse_freed(void)
{
    void *old = checked(malloc(OLD_SIZE));
    held = lose_target();
    fill_with(old, OLD_SIZE, held);
    free(old);
    void *again = lose_reused();
    if (again != old)
        _exit(5);
    escape(again);
    held = NULL;
}

static NOINLINE void reuse_after_realloc(void)
{
    void *old = checked(malloc(OLD_SIZE));
    void *guard = checked(malloc(16)); /* the chunk after old is in use: realloc must move */
    held = lose_moved_target();
    fill_with(old, OLD_SIZE, held);
    void *moved = checked(realloc(old, 64 * 1024 - 512));
    if (moved == old)
        _exit(5);
    void *again = lose_after_move();
    if (again != old)
        _exit(5);
    escape(again);
    free(moved);
    free(guard);
    held = NULL;
}

static int same(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(i * 7 + seed))
            return 0;
    return 1;
}

static void pattern(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 7 + seed);
}

/* realloc from each size to each other, in both directions: the bytes the program had (up to
 * the smaller size, and all of malloc_usable_size when it wrote there) are still there. */
static void realloc_keeps_bytes(void)
{
    static const size_t sizes[] = {1, 24, 200, 1000, 5000, 70000, 200000, 3 << 20};
    for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++)
        for (size_t b = 0; b < sizeof sizes / sizeof *sizes; b++) {
            unsigned char *p = checked(malloc(sizes[a]));
            size_t usable = malloc_usable_size(p);
            pattern(p, usable, (unsigned)(a * 31 + b));
            void *block = checked(malloc(32)); /* sometimes in the way of growing in place */
            p = checked(realloc(p, sizes[b]));
            size_t keep = usable < sizes[b] ? usable : sizes[b];
            if (!same(p, keep, (unsigned)(a * 31 + b)))
                _exit(4);
            free(block);
            free(p);
        }
    void *p = checked(malloc(100));
    if (realloc(p, 0) != NULL) /* glibc: frees p */
        _exit(4);
}

int main(void)
{
    realloc_keeps_bytes();
    reuse_freed();
    reuse_after_realloc();
    return 0;
}
