/* libvips: a thumbnail service's loop, as bimg, govips and sharp drive it. Each request makes a
 * thumbnail from a JPEG in memory (vips_thumbnail_buffer), renders it into memory
 * (vips_image_copy_memory) so that it can be sharpened and encoded twice, as PNG and WebP. leak
 * mode reproduces the bug: make_thumbnail unrefs the thumbnail and the sharpened result but never
 * g_object_unref's the intermediate rendered image, which stays with its pixels. clean mode
 * unrefs it too. The input JPEG is made by libvips itself from a generated gradient. */
#include "common.h"

#include <vips/vips.h>

static __attribute__((noinline)) size_t make_thumbnail(const void *jpeg, size_t len, int leak)
{
    VipsImage *thumb = NULL, *rendered, *sharp = NULL;
    void *png = NULL, *webp = NULL;
    size_t png_len = 0, webp_len = 0;
    if (vips_thumbnail_buffer((void *)jpeg, len, &thumb, 48, NULL) != 0 ||
        !(rendered = vips_image_copy_memory(thumb)))
        wl_die(vips_error_buffer());
    g_object_unref(thumb);
    if (vips_sharpen(rendered, &sharp, NULL) != 0 ||
        vips_image_write_to_buffer(sharp, ".png", &png, &png_len, NULL) != 0 ||
        vips_image_write_to_buffer(rendered, ".webp", &webp, &webp_len, NULL) != 0)
        wl_die(vips_error_buffer());
    g_free(png);
    g_free(webp);
    g_object_unref(sharp);
    if (!leak)
        g_object_unref(rendered); /* the leaking version forgets the intermediate image */
    return png_len + webp_len;
}

static void *make_input(size_t *len)
{
    VipsImage *grey = NULL, *rgb = NULL;
    void *jpeg = NULL;
    if (vips_xyz(&grey, 160, 120, NULL) != 0 || vips_bandjoin_const1(grey, &rgb, 128, NULL) != 0 ||
        vips_image_write_to_buffer(rgb, ".jpg", &jpeg, len, NULL) != 0)
        wl_die(vips_error_buffer());
    g_object_unref(rgb);
    g_object_unref(grey);
    return jpeg;
}

int main(int argc, char **argv)
{
    wl_args_t a;
    wl_parse(argc, argv, 20, &a);
    if (VIPS_INIT(argv[0]))
        wl_die("vips: cannot start");
    vips_concurrency_set(1);
    size_t len = 0, total = 0;
    void *jpeg = make_input(&len);
    for (long i = 0; i < a.iterations; i++)
        total += make_thumbnail(jpeg, len, a.leak);
    g_free(jpeg);
    vips_shutdown(); /* libvips's caches and threads, so that only real leaks remain */
    wl_say("vips: %zu\n", total);
    return 0;
}
