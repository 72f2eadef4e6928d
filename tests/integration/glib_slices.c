/* GLib's slice allocator under imgleak run: keep_slices takes ten 48-byte slices and loses them.
 * With G_SLICE=always-malloc (imgleak run's default) each is a heap block of its own, leaked at
 * keep_slices's line; with GLib's magazines they would be parts of a slab the magazine still
 * holds. Prints G_SLICE as the program got it. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

static void *volatile sink;

static __attribute__((noinline)) void keep_slices(void)
{
    for (int i = 0; i < 10; i++)
        sink = g_slice_alloc(48); /* LEAK(slice) */
    sink = NULL;
}

int main(void)
{
    const char *mode = getenv("G_SLICE");
    printf("G_SLICE=%s\n", mode ? mode : "");
    keep_slices();
    return 0;
}
