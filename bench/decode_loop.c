/* decode_loop ROUNDS: decodes generated JPEG, PNG, GIF and WebP images again and again: few,
 * large allocations and much computation, like an image service's steady state. */
#define WL_LIBRARY
#define JW 1024 /* photo-sized images: decoding, not allocating, is the work */
#define JH 768
#define PW 1024
#define PH 768
#define WW 1024
#define WH 768
#pragma GCC diagnostic ignored "-Wunused-function" /* not every included function is used */
#include "../workloads/wl_jpeg.c"
#include "../workloads/wl_png.c"
#include "../workloads/wl_webp.c"

#include <gif_lib.h>

typedef struct {
    const unsigned char *data;
    size_t size, pos;
} gif_src_t;

static int gif_read(GifFileType *gif, GifByteType *out, int len)
{
    gif_src_t *s = gif->UserData;
    if ((size_t)len > s->size - s->pos)
        len = (int)(s->size - s->pos);
    memcpy(out, s->data + s->pos, (size_t)len);
    s->pos += (size_t)len;
    return len;
}

static int gif_write(GifFileType *gif, const GifByteType *data, int len)
{
    membuf_t *m = gif->UserData;
    if (m->size + (size_t)len > m->capacity) {
        m->capacity = (m->size + (size_t)len) * 2;
        m->data = realloc(m->data, m->capacity);
    }
    memcpy(m->data + m->size, data, (size_t)len);
    m->size += (size_t)len;
    return len;
}

static membuf_t encode_gif(int w, int h)
{
    membuf_t m = {0};
    int err;
    GifFileType *gif = EGifOpen(&m, gif_write, &err);
    GifColorType colors[256];
    for (int i = 0; i < 256; i++)
        colors[i] = (GifColorType){(GifByteType)i, (GifByteType)(255 - i), (GifByteType)(i * 7)};
    ColorMapObject *map = GifMakeMapObject(256, colors);
    EGifPutScreenDesc(gif, w, h, 8, 0, map);
    EGifPutImageDesc(gif, 0, 0, w, h, false, NULL);
    GifPixelType *line = malloc((size_t)w);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++)
            line[x] = (GifPixelType)((x * 3 + y * 5) & 255);
        EGifPutLine(gif, line, w);
    }
    free(line);
    GifFreeMapObject(map);
    EGifCloseFile(gif, &err);
    return m;
}

static long decode_gif(const membuf_t *file)
{
    int err;
    gif_src_t src = {file->data, file->size, 0};
    GifFileType *gif = DGifOpen(&src, gif_read, &err);
    if (!gif || DGifSlurp(gif) != GIF_OK)
        wl_die("cannot decode the GIF");
    long px = gif->SavedImages[0].RasterBits[0];
    DGifCloseFile(gif, &err);
    return px;
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? atol(argv[1]) : 40;
    unsigned char *rgb = wl_image(JW, JH, 3), *rgba = wl_image(WW, WH, 4);
    unsigned char *jpeg;
    unsigned long jpeg_size;
    encode_jpeg(rgb, &jpeg, &jpeg_size);
    unsigned char *png_rgb = wl_image(PW, PH, 3);
    membuf_t png = encode_png(png_rgb);
    uint8_t *webp;
    size_t webp_size = encode_webp(rgba, 0, &webp);
    membuf_t gif = encode_gif(320, 240);
    long sum = 0;
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < 2; i++) {
            sum += decode_jpeg(jpeg, jpeg_size, 0);
            sum += read_png(&png, 4096, 0);
            sum += decode_webp(webp, webp_size, 0);
        }
        sum += decode_gif(&gif);
    }
    free(jpeg);
    free(png.data);
    free(png_rgb);
    WebPFree(webp);
    free(gif.data);
    free(rgb);
    free(rgba);
    return sum == -1;
}
