/* A library with statics that keep blocks (reach.c): one kept to the end, one it frees in its
 * destructor, and a box it frees there without what the box points to. */
#include <stdlib.h>

static void *volatile kept; /* volatile: the store must stay, though nothing reads it */

void lib_keep(void *p)
{
    kept = p;
}

static void *volatile held_cache;
static void **volatile held_box;

void lib_hold_cache(void *p)
{
    held_cache = p;
}

void lib_hold_box(void **box)
{
    held_box = box;
}

/* runs at exit, after the program's own: the cache goes, the box goes and leaks its first word */
__attribute__((destructor)) static void lib_fini(void)
{
    free(held_cache);
    free((void *)held_box);
}
