/* libpng: reading PNGs from memory through png_set_read_fn, as services do with request bodies.
 * leak mode reproduces two bugs:
 *  - read_png: an image over the size limit takes an early return that skips
 *    png_destroy_read_struct, leaving the read and info structs and everything in them;
 *  - decode_rows: the row buffer is never freed.
 * clean mode does the same work and releases everything. */
#include "common.h"

#include <png.h>

#ifndef PW /* a includer may ask for a bigger image */
#define PW 120
#define PH 80
#endif

typedef struct {
    unsigned char *data;
    size_t size, capacity, pos;
} membuf_t;

static void write_to_mem(png_structp png, png_bytep data, png_size_t len)
{
    membuf_t *m = png_get_io_ptr(png);
    if (m->size + len > m->capacity) {
        m->capacity = (m->size + len) * 2;
        m->data = realloc(m->data, m->capacity);
    }
    memcpy(m->data + m->size, data, len);
    m->size += len;
}

static void flush_mem(png_structp png)
{
    (void)png;
}

static void read_from_mem(png_structp png, png_bytep out, png_size_t len)
{
    membuf_t *m = png_get_io_ptr(png);
    if (m->pos + len > m->size)
        png_error(png, "read past end");
    memcpy(out, m->data + m->pos, len);
    m->pos += len;
}

static membuf_t encode_png(const unsigned char *rgb)
{
    membuf_t m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png)))
        wl_die("cannot encode the test image");
    png_set_write_fn(png, &m, write_to_mem, flush_mem);
    png_set_IHDR(png, info, PW, PH, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < PH; y++)
        png_write_row(png, rgb + (size_t)y * PW * 3);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return m;
}

static __attribute__((noinline)) long decode_rows(png_structp png, png_infop info, int leak)
{
    size_t rowbytes = png_get_rowbytes(png, info);
    unsigned char *row = malloc(rowbytes); /* leaking version: never freed */
    long sum = 0;
    for (unsigned y = 0; y < png_get_image_height(png, info); y++) {
        png_read_row(png, row, NULL);
        sum += row[0];
    }
    png_read_end(png, NULL);
    if (!leak)
        free(row);
    return sum;
}

static __attribute__((noinline)) int read_png(const membuf_t *file, unsigned max_width, int leak)
{
    membuf_t src = *file;
    src.pos = 0;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_set_read_fn(png, &src, read_from_mem);
    png_read_info(png, info);
    if (png_get_image_width(png, info) > max_width) {
        if (!leak)
            png_destroy_read_struct(&png, &info, NULL); /* the early return forgets this */
        return -1;
    }
    decode_rows(png, info, leak);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

#ifndef WL_LIBRARY /* wl_mixed.c includes this file for its functions */
int main(int argc, char **argv)
{
    wl_args_t a;
    wl_parse(argc, argv, 1000, &a);
    unsigned char *rgb = wl_image(PW, PH, 3);
    membuf_t file = encode_png(rgb);
    long read = 0, refused = 0;
    for (long i = 0; i < a.iterations; i++) {
        read += read_png(&file, 4096, a.leak) == 0;
        refused += read_png(&file, 64, a.leak) != 0; /* over the limit */
    }
    free(file.data);
    free(rgb);
    wl_say("png: %ld read, %ld over the size limit\n", read, refused);
    return 0;
}
#endif
