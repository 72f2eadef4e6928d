/* A small N-API addon that draws with cairo the way node-canvas's createPattern does: a pattern
 * made from a tile surface becomes the source of a fill. paintLeaky() has node-canvas's old bug
 * (the cairo pattern is never destroyed), paint() releases it. Built by the Makefile against the
 * installed Node's headers into build/workloads/node/node_modules/imgleak-pattern/, a package the
 * workload depends on, as an npm addon would be. */
#include <cairo.h>
#include <node_api.h>

static cairo_surface_t *make_tile(int size)
{
    cairo_surface_t *tile = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, size, size);
    cairo_t *cr = cairo_create(tile);
    cairo_set_source_rgb(cr, 0.2, 0.4, 0.8);
    cairo_rectangle(cr, 0, 0, size / 2.0, size / 2.0);
    cairo_fill(cr);
    cairo_destroy(cr);
    return tile;
}

/* fills a 64x64 canvas with a repeating pattern of a size x size tile; returns a checksum */
static double paint_with_pattern(int size, int leak)
{
    cairo_surface_t *canvas = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 64, 64);
    cairo_surface_t *tile = make_tile(size);
    cairo_pattern_t *pattern = cairo_pattern_create_for_surface(tile);
    cairo_pattern_set_extend(pattern, CAIRO_EXTEND_REPEAT);
    cairo_t *cr = cairo_create(canvas);
    cairo_set_source(cr, pattern);
    cairo_paint(cr);
    cairo_destroy(cr);
    cairo_surface_flush(canvas);
    double sum = cairo_image_surface_get_data(canvas)[4 * 65];
    if (!leak)
        cairo_pattern_destroy(pattern); /* the pattern holds the tile: both go */
    cairo_surface_destroy(tile);
    cairo_surface_destroy(canvas);
    return sum;
}

static napi_value paint_call(napi_env env, napi_callback_info info, int leak)
{
    size_t argc = 1;
    napi_value argv[1], result;
    int32_t size = 16;
    if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc >= 1)
        napi_get_value_int32(env, argv[0], &size);
    if (size < 2 || size > 256)
        size = 16;
    napi_create_double(env, paint_with_pattern(size, leak), &result);
    return result;
}

static napi_value paint_leaky(napi_env env, napi_callback_info info)
{
    return paint_call(env, info, 1);
}

static napi_value paint(napi_env env, napi_callback_info info)
{
    return paint_call(env, info, 0);
}

NAPI_MODULE_INIT()
{
    napi_value fn;
    napi_create_function(env, "paintLeaky", NAPI_AUTO_LENGTH, paint_leaky, NULL, &fn);
    napi_set_named_property(env, exports, "paintLeaky", fn);
    napi_create_function(env, "paint", NAPI_AUTO_LENGTH, paint, NULL, &fn);
    napi_set_named_property(env, exports, "paint", fn);
    return exports;
}
