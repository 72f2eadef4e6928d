/* libjpeg handles destroyed in ways libjpeg documents as safe, and one it does not:
 *   a decompressor destroyed twice (Pillow does)         no misuse: jpeg_destroy is a no-op
 *   a zeroed struct destroyed though never created       on an object whose mem is NULL
 *   a decompressor destroyed with jpeg_destroy_compress  MISUSE(wrong)
 * and one decompressor never destroyed                   LEAK(handle) */
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>

static struct jpeg_decompress_struct kept;

int main(void)
{
    struct jpeg_error_mgr err;
    struct jpeg_decompress_struct a, never;
    jpeg_std_error(&err);

    a.err = &err;
    jpeg_create_decompress(&a);
    jpeg_destroy_decompress(&a);
    jpeg_destroy_decompress(&a); /* AGAIN(twice) */

    memset(&never, 0, sizeof never);
    never.err = &err;
    jpeg_destroy_decompress(&never); /* AGAIN(unknown) */

    struct jpeg_decompress_struct b;
    b.err = &err;
    jpeg_create_decompress(&b);
    jpeg_destroy_compress((j_compress_ptr)&b); /* MISUSE(wrong) */

    kept.err = &err;
    jpeg_create_decompress(&kept); /* LEAK(handle) */
    return 0;
}
