/* giflib: opening GIF files by name and slurping them. leak mode reproduces the bug of
 * load_gif returning the first frame's size after DGifSlurp and never calling DGifCloseFile,
 * which leaves the GifFileType, its frames and colour maps. clean mode closes it. */
#include "common.h"

#include <gif_lib.h>

#define GW 64
#define GH 48

static void write_gif(const char *path)
{
    int err;
    GifFileType *gif = EGifOpenFileName(path, false, &err);
    if (!gif)
        wl_die("cannot create the test GIF");
    GifColorType colors[16];
    for (int i = 0; i < 16; i++)
        colors[i] = (GifColorType){(GifByteType)(i * 16), (GifByteType)(255 - i * 16), 128};
    ColorMapObject *map = GifMakeMapObject(16, colors);
    EGifPutScreenDesc(gif, GW, GH, 4, 0, map);
    for (int frame = 0; frame < 3; frame++) {
        EGifPutImageDesc(gif, 0, 0, GW, GH, false, NULL);
        GifPixelType line[GW];
        for (int y = 0; y < GH; y++) {
            for (int x = 0; x < GW; x++)
                line[x] = (GifPixelType)((x / 4 + y / 4 + frame) % 16);
            EGifPutLine(gif, line, GW);
        }
    }
    GifFreeMapObject(map);
    if (EGifCloseFile(gif, &err) != GIF_OK)
        wl_die("cannot write the test GIF");
}

static __attribute__((noinline)) long load_gif(const char *path, int leak)
{
    int err;
    GifFileType *gif = DGifOpenFileName(path, &err);
    if (!gif)
        return -1;
    if (DGifSlurp(gif) != GIF_OK) {
        DGifCloseFile(gif, &err);
        return -1;
    }
    long pixels = (long)gif->SavedImages[0].ImageDesc.Width * gif->SavedImages[0].ImageDesc.Height;
    if (!leak)
        DGifCloseFile(gif, &err); /* the leaking version returns without this */
    return pixels;
}

int main(int argc, char **argv)
{
    wl_args_t a;
    wl_parse(argc, argv, 500, &a);
    char path[64];
    snprintf(path, sizeof path, "/tmp/imgleak-wl-gif.%ld.gif", (long)getpid());
    write_gif(path);
    long total = 0;
    for (long i = 0; i < a.iterations; i++)
        total += load_gif(path, a.leak);
    unlink(path);
    wl_say("gif: %ld pixels in first frames\n", total);
    return 0;
}
