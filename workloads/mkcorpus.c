/* Writes the corpus of the inputs workload (wl_inputs.c) into a directory, at build time:
 * photo_01..08.jpg, icon_01..08.png, anim_01..08.gif, each different (the image is shifted by its
 * number), and three corrupt ones that take their decoder's error path: photo_05.jpg (its frame
 * header claims 7-bit samples), icon_03.png (a flipped byte in the image data: a CRC error) and
 * anim_07.gif (cut short in its image data). No binary file is kept in the repository. */
#define WL_LIBRARY
#pragma GCC diagnostic ignored "-Wunused-function"
#include "wl_jpeg.c"
#include "wl_png.c"

#include <gif_lib.h>
#include <sys/stat.h>

static void save(const char *dir, const char *name, const unsigned char *data, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        wl_die("cannot write the corpus");
}

static void shift(unsigned char *rgb, int w, int h, int k)
{
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        rgb[i] = (unsigned char)(rgb[i] + 17 * k);
}

static void write_gif(const char *dir, const char *name, int k, int cut)
{
    char path[4096];
    int err;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    GifFileType *gif = EGifOpenFileName(path, false, &err);
    if (!gif)
        wl_die("cannot create a GIF of the corpus");
    GifColorType colors[16];
    for (int i = 0; i < 16; i++)
        colors[i] = (GifColorType){(GifByteType)(i * 16), (GifByteType)(255 - i * 16), (GifByteType)(k * 20)};
    ColorMapObject *map = GifMakeMapObject(16, colors);
    EGifPutScreenDesc(gif, 48, 32, 4, 0, map);
    for (int frame = 0; frame < 2; frame++) {
        EGifPutImageDesc(gif, 0, 0, 48, 32, false, NULL);
        GifPixelType line[48];
        for (int y = 0; y < 32; y++) {
            for (int x = 0; x < 48; x++)
                line[x] = (GifPixelType)((x / 4 + y / 4 + frame + k) % 16);
            EGifPutLine(gif, line, 48);
        }
    }
    GifFreeMapObject(map);
    if (EGifCloseFile(gif, &err) != GIF_OK)
        wl_die("cannot write a GIF of the corpus");
    if (cut && truncate(path, 200) != 0) /* into the first frame's data */
        wl_die("cannot cut a GIF of the corpus");
}

int main(int argc, char **argv)
{
    if (argc != 2)
        wl_die("usage: mkcorpus DIR");
    const char *dir = argv[1];
    mkdir(dir, 0755);
    char name[64];
    for (int k = 1; k <= 8; k++) {
        unsigned char *rgb = wl_image(JW, JH, 3), *jpeg = NULL;
        unsigned long size = 0;
        shift(rgb, JW, JH, k);
        if (encode_jpeg(rgb, &jpeg, &size) < 0)
            wl_die("cannot encode a JPEG of the corpus");
        snprintf(name, sizeof name, "photo_%02d.jpg", k);
        if (k == 5) {
            unsigned char *bad = corrupt_copy(jpeg, size);
            save(dir, name, bad, size);
            free(bad);
        } else {
            save(dir, name, jpeg, size);
        }
        free(jpeg);
        free(rgb);

        rgb = wl_image(PW, PH, 3);
        shift(rgb, PW, PH, k);
        membuf_t png = encode_png(rgb);
        if (k == 3) /* a byte of the first IDAT chunk's data: its CRC no longer matches */
            for (size_t i = 8; i + 12 < png.size; i++)
                if (memcmp(png.data + i + 4, "IDAT", 4) == 0) {
                    png.data[i + 10] ^= 0x5a;
                    break;
                }
        snprintf(name, sizeof name, "icon_%02d.png", k);
        save(dir, name, png.data, png.size);
        free(png.data);
        free(rgb);

        snprintf(name, sizeof name, "anim_%02d.gif", k);
        write_gif(dir, name, k, k == 7);
    }
    return 0;
}
