/* libwebp: encoding and decoding in memory. leak mode reproduces three bugs:
 *  - encode_webp: the WebPEncodeRGBA output is never given to WebPFree;
 *  - encode_picture: a WebPPicture imported from RGBA is never WebPPictureFree'd;
 *  - decode_webp: the WebPDecodeRGBA buffer is kept (never WebPFree'd).
 * clean mode releases everything. */
#include "common.h"

#include <webp/decode.h>
#include <webp/encode.h>

#ifndef WW /* a includer may ask for a bigger image */
#define WW 64
#define WH 48
#endif

static __attribute__((noinline)) size_t encode_webp(const unsigned char *rgba, int leak,
                                                    uint8_t **keep)
{
    uint8_t *out = NULL;
    size_t size = WebPEncodeRGBA(rgba, WW, WH, WW * 4, 80.0f, &out);
    if (keep)
        *keep = out; /* the caller wants the bytes: it frees them */
    else if (!leak)
        WebPFree(out);
    return size;
}

static __attribute__((noinline)) int encode_picture(const unsigned char *rgba, int leak)
{
    WebPPicture pic;
    WebPConfig config;
    WebPMemoryWriter writer;
    if (!WebPPictureInit(&pic) || !WebPConfigInit(&config))
        return -1;
    pic.width = WW;
    pic.height = WH;
    if (!WebPPictureImportRGBA(&pic, rgba, WW * 4))
        return -1;
    WebPMemoryWriterInit(&writer);
    pic.writer = WebPMemoryWrite;
    pic.custom_ptr = &writer;
    int ok = WebPEncode(&config, &pic);
    WebPMemoryWriterClear(&writer);
    if (!leak)
        WebPPictureFree(&pic); /* the leaking version forgets the picture's buffers */
    return ok ? 0 : -1;
}

static __attribute__((noinline)) long decode_webp(const uint8_t *data, size_t size, int leak)
{
    int w, h;
    uint8_t *px = WebPDecodeRGBA(data, size, &w, &h);
    if (!px)
        return -1;
    long first = px[0];
    if (!leak)
        WebPFree(px); /* the leaking version keeps the decoded pixels */
    return first + w * h;
}

#ifndef WL_LIBRARY /* wl_mixed.c includes this file for its functions */
int main(int argc, char **argv)
{
    wl_args_t a;
    wl_parse(argc, argv, 500, &a);
    unsigned char *rgba = wl_image(WW, WH, 4);
    uint8_t *file = NULL;
    size_t file_size = encode_webp(rgba, 0, &file);
    if (!file_size)
        wl_die("cannot encode the test image");
    long work = 0;
    for (long i = 0; i < a.iterations; i++) {
        work += (long)encode_webp(rgba, a.leak, NULL);
        work += encode_picture(rgba, a.leak);
        work += decode_webp(file, file_size, a.leak);
    }
    WebPFree(file);
    free(rgba);
    wl_say("webp: %ld units of work\n", work);
    return 0;
}
#endif
