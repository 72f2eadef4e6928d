/* ImageMagick 6 MagickWand: animated GIFs through CoalesceImages and OptimizeImageLayers, as
 * thumbnailers and the Go/PHP/Python bindings do. leak mode reproduces three bugs:
 *  - coalesce_frames: the wand the GIF was read into is never destroyed after
 *    MagickCoalesceImages() returned the coalesced copy (the CoalesceImages() leak);
 *  - optimize_layers: the same with MagickOptimizeImageLayers();
 *  - tint_frames: a PixelWand made per frame is never destroyed.
 * clean mode destroys every wand. */
#include "common.h"

#include <wand/MagickWand.h>

#define MW 48
#define MH 32
#define FRAMES 4

static unsigned char *make_gif(size_t *size)
{
    MagickWand *wand = NewMagickWand();
    PixelWand *color = NewPixelWand();
    const char *const colors[FRAMES] = {"#d03030", "#30d030", "#3030d0", "#d0d030"};
    for (int i = 0; i < FRAMES; i++) {
        PixelSetColor(color, colors[i]);
        MagickNewImage(wand, MW - i * 4, MH - i * 2, color);
        MagickSetImageDelay(wand, 10);
        MagickSetImagePage(wand, MW, MH, i * 2, i);
    }
    MagickSetFormat(wand, "GIF");
    unsigned char *blob = MagickGetImagesBlob(wand, size);
    DestroyPixelWand(color);
    DestroyMagickWand(wand);
    if (!blob || !*size)
        wl_die("cannot make the test GIF");
    return blob;
}

static __attribute__((noinline)) size_t coalesce_frames(const unsigned char *gif, size_t size,
                                                        int leak)
{
    MagickWand *wand = NewMagickWand();
    if (MagickReadImageBlob(wand, gif, size) == MagickFalse)
        wl_die("cannot read the test GIF");
    MagickWand *frames = MagickCoalesceImages(wand);
    size_t n = MagickGetNumberImages(frames);
    DestroyMagickWand(frames);
    if (!leak)
        DestroyMagickWand(wand); /* the leaking version keeps the original */
    return n;
}

static __attribute__((noinline)) size_t optimize_layers(const unsigned char *gif, size_t size,
                                                        int leak)
{
    MagickWand *wand = NewMagickWand();
    if (MagickReadImageBlob(wand, gif, size) == MagickFalse)
        wl_die("cannot read the test GIF");
    MagickWand *layers = MagickOptimizeImageLayers(wand);
    size_t n = layers ? MagickGetNumberImages(layers) : 0;
    if (layers)
        DestroyMagickWand(layers);
    if (!leak)
        DestroyMagickWand(wand); /* the leaking version keeps the original */
    return n;
}

static __attribute__((noinline)) size_t tint_frames(const unsigned char *gif, size_t size,
                                                    int leak)
{
    MagickWand *wand = NewMagickWand();
    if (MagickReadImageBlob(wand, gif, size) == MagickFalse)
        wl_die("cannot read the test GIF");
    size_t n = 0;
    MagickResetIterator(wand);
    while (MagickNextImage(wand) != MagickFalse) {
        PixelWand *tint = NewPixelWand(); /* leaking version: never destroyed */
        PixelSetColor(tint, "#808080");
        MagickSetImageBackgroundColor(wand, tint);
        n++;
        if (!leak)
            DestroyPixelWand(tint);
    }
    DestroyMagickWand(wand);
    return n;
}

int main(int argc, char **argv)
{
    wl_args_t a;
    wl_parse(argc, argv, 20, &a);
    MagickWandGenesis();
    size_t size;
    unsigned char *gif = make_gif(&size);
    size_t frames = 0;
    for (long i = 0; i < a.iterations; i++) {
        frames += coalesce_frames(gif, size, a.leak);
        frames += optimize_layers(gif, size, a.leak);
        frames += tint_frames(gif, size, a.leak);
    }
    MagickRelinquishMemory(gif);
    MagickWandTerminus();
    wl_say("magick: %zu frames handled\n", frames);
    return 0;
}
