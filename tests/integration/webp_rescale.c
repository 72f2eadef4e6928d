/* WebPPictureRescale frees the picture (WebPPictureFree, from inside libwebp) and allocates it
 * again: the picture lives on, and one the program never frees is a leak.
 *   a picture imported, rescaled, encoded, freed   clean (its WebPMemoryWriter's buffer is
 *                                                  given to WebPFree, not WebPMemoryWriterClear:
 *                                                  the writer itself owns nothing)
 *   a picture imported, rescaled, never freed      LEAK(rescaled) */
#include <stdio.h>
#include <stdlib.h>

#include <webp/encode.h>

static int import_and_rescale(WebPPicture *pic, const unsigned char *rgba)
{
    if (!WebPPictureInit(pic))
        return -1;
    pic->use_argb = 1;
    pic->width = 64;
    pic->height = 48;
    if (!WebPPictureImportRGBA(pic, rgba, 64 * 4))
        return -1;
    return WebPPictureRescale(pic, 32, 24) ? 0 : -1;
}

int main(void)
{
    static unsigned char rgba[64 * 48 * 4];
    WebPPicture freed, kept;
    WebPConfig config;
    WebPMemoryWriter writer;
    if (import_and_rescale(&freed, rgba) < 0 || !WebPConfigInit(&config))
        return 1;
    WebPMemoryWriterInit(&writer);
    freed.writer = WebPMemoryWrite;
    freed.custom_ptr = &writer;
    if (!WebPEncode(&config, &freed))
        return 1;
    WebPFree(writer.mem);
    WebPPictureFree(&freed);
    if (!WebPPictureInit(&kept))
        return 1;
    kept.use_argb = 1;
    kept.width = 64;
    kept.height = 48;
    if (!WebPPictureImportRGBA(&kept, rgba, 64 * 4)) /* LEAK(rescaled) */
        return 1;
    if (!WebPPictureRescale(&kept, 32, 24))
        return 1;
    printf("%dx%d\n", kept.width, kept.height);
    return 0;
}
