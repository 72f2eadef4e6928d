/* cairo: a pattern made from an image surface for every request, as node-canvas's
 * createPattern did. leak mode reproduces the bug: render_request never calls
 * cairo_pattern_destroy, so the pattern and the surface it references (with its pixels) stay.
 * clean mode destroys the pattern. */
#include "common.h"

#include <cairo.h>

static __attribute__((noinline)) double render_request(cairo_surface_t *target, int n, int leak)
{
    cairo_surface_t *tile = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 32, 32);
    cairo_t *tcr = cairo_create(tile);
    cairo_set_source_rgb(tcr, (n % 7) / 7.0, 0.4, 0.8);
    cairo_rectangle(tcr, 0, 0, 16, 16);
    cairo_fill(tcr);
    cairo_destroy(tcr);

    cairo_pattern_t *pattern = cairo_pattern_create_for_surface(tile);
    cairo_surface_destroy(tile); /* the pattern holds its own reference */
    cairo_pattern_set_extend(pattern, CAIRO_EXTEND_REPEAT);

    cairo_t *cr = cairo_create(target);
    cairo_set_source(cr, pattern);
    cairo_paint(cr);
    cairo_destroy(cr);
    if (!leak)
        cairo_pattern_destroy(pattern); /* the leaking version never releases it */
    cairo_surface_flush(target);
    return cairo_image_surface_get_data(target)[n % 64];
}

int main(int argc, char **argv)
{
    wl_args_t a;
    wl_parse(argc, argv, 1000, &a);
    cairo_surface_t *target = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 128, 96);
    double sum = 0;
    for (long i = 0; i < a.iterations; i++)
        sum += render_request(target, (int)i, a.leak);
    cairo_surface_destroy(target);
    cairo_debug_reset_static_data(); /* cairo's caches, so that only real leaks remain */
    wl_say("cairo: %.0f\n", sum);
    return 0;
}
