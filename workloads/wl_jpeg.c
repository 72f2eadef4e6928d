/* libjpeg(-turbo): decoding a mix of good and corrupt JPEGs, and encoding to memory.
 * leak mode reproduces two bugs:
 *  - decode_jpeg: the error handler longjmps out on a corrupt file and the error path returns
 *    without jpeg_destroy_decompress, so everything libjpeg allocated for it stays;
 *  - encode_jpeg: the buffer jpeg_mem_dest allocated for the output is never freed.
 * clean mode does the same work and releases everything. */
#include "common.h"

#include "jpeg_errors.h"

#ifndef JW /* a includer may ask for a bigger image */
#define JW 96
#define JH 64
#endif

static __attribute__((noinline)) int encode_jpeg(const unsigned char *rgb, unsigned char **out,
                                                 unsigned long *out_size)
{
    struct jpeg_compress_struct cinfo;
    wl_jpeg_errors_t jerr;
    cinfo.err = wl_jpeg_errors(&jerr);
    if (setjmp(jerr.escape)) {
        jpeg_destroy_compress(&cinfo);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    *out = NULL;
    *out_size = 0;
    jpeg_mem_dest(&cinfo, out, out_size); /* the output buffer: the caller must free() it */
    cinfo.image_width = JW;
    cinfo.image_height = JH;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 85, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < JH) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)cinfo.next_scanline * JW * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return 0;
}

static __attribute__((noinline)) int decode_jpeg(const unsigned char *data, size_t size, int leak)
{
    struct jpeg_decompress_struct cinfo;
    wl_jpeg_errors_t jerr;
    unsigned char *volatile row = NULL;
    cinfo.err = wl_jpeg_errors(&jerr);
    if (setjmp(jerr.escape)) {
        free(row);
        if (!leak)
            jpeg_destroy_decompress(&cinfo); /* the line the leaking version forgets */
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    jpeg_start_decompress(&cinfo);
    row = malloc((size_t)cinfo.output_width * cinfo.output_components);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW r = row;
        jpeg_read_scanlines(&cinfo, &r, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    return 0;
}

/* A corrupt copy: the frame header claims 7-bit samples, which libjpeg rejects with an error
 * after it has set up the decompressor. */
static unsigned char *corrupt_copy(const unsigned char *good, size_t size)
{
    unsigned char *bad = malloc(size);
    memcpy(bad, good, size);
    for (size_t i = 0; i + 4 < size; i++)
        if (bad[i] == 0xff && (bad[i + 1] == 0xc0 || bad[i + 1] == 0xc2)) {
            bad[i + 4] = 7; /* sample precision */
            return bad;
        }
    wl_die("no frame header in the generated JPEG");
}

#ifndef WL_LIBRARY /* wl_mixed.c includes this file for its functions */
int main(int argc, char **argv)
{
    wl_args_t a;
    wl_parse(argc, argv, 1000, &a);
    unsigned char *rgb = wl_image(JW, JH, 3);
    unsigned char *good = NULL;
    unsigned long good_size = 0;
    if (encode_jpeg(rgb, &good, &good_size) < 0)
        wl_die("cannot encode the test image");
    unsigned char *bad = corrupt_copy(good, good_size);
    long decoded = 0, failed = 0;
    for (long i = 0; i < a.iterations; i++) {
        decoded += decode_jpeg(good, good_size, a.leak) == 0;
        failed += decode_jpeg(bad, good_size, a.leak) != 0;
        unsigned char *out;
        unsigned long out_size;
        if (encode_jpeg(rgb, &out, &out_size) == 0 && !a.leak)
            free(out);
    }
    free(bad);
    free(good);
    free(rgb);
    wl_say("jpeg: %ld decoded, %ld corrupt rejected\n", decoded, failed);
    return 0;
}
#endif
