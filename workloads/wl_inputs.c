/* Which input leaked: decoding a directory of JPEGs, PNGs and GIFs (made by mkcorpus.c, three of
 * them corrupt), as a batch converter or a thumbnailer does. Each decoder leaks on its error path
 * only, so only the corrupt inputs leak, and the report must name exactly those:
 *  - load_jpeg: the error path returns without jpeg_destroy_decompress and without fclose
 *    (memory, the jpeg_decompress_struct and the FILE);
 *  - load_png: the error path returns without png_destroy_read_struct;
 *  - load_gif: a failed DGifSlurp returns without DGifCloseFile (memory, the GifFileType and
 *    the FILE giflib opened).
 * Modes: leak (by file: imgleak names each input from its path), memory (each file read into a
 * buffer first and decoded from memory, named by imgleak_set_tag), threads (by file, on four
 * threads at once), clean (by file, releasing everything). --corpus DIR (default: corpus/ beside
 * the program); --iterations N decodes the corpus N times. */
#include "common.h"

#include "imgleak.h"
#include "jpeg_errors.h"

#include <dirent.h>
#include <gif_lib.h>
#include <libgen.h>
#include <limits.h>
#include <png.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>

typedef struct {
    const unsigned char *data;
    size_t size, pos;
} source_t;

static int leak = 1, by_memory;

/* ---- libjpeg ---- */

static __attribute__((noinline)) int load_jpeg(const char *path, const source_t *mem)
{
    struct jpeg_decompress_struct cinfo;
    wl_jpeg_errors_t jerr;
    FILE *volatile f = NULL;
    unsigned char *volatile row = NULL;
    cinfo.err = wl_jpeg_errors(&jerr);
    if (setjmp(jerr.escape)) {
        free(row);
        if (!leak) { /* the lines the leaking version forgets */
            jpeg_destroy_decompress(&cinfo);
            if (f)
                fclose(f);
        }
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    if (mem) {
        jpeg_mem_src(&cinfo, mem->data, (unsigned long)mem->size);
    } else {
        if (!(f = fopen(path, "rb")))
            longjmp(jerr.escape, 1);
        jpeg_stdio_src(&cinfo, f);
    }
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
    if (f)
        fclose(f);
    return 0;
}

/* ---- libpng ---- */
static void png_from_memory(png_structp png, png_bytep out, png_size_t len)
{
    source_t *m = png_get_io_ptr(png);
    if (m->pos + len > m->size)
        png_error(png, "read past end");
    memcpy(out, m->data + m->pos, len);
    m->pos += len;
}

static void png_quiet(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static __attribute__((noinline)) int load_png(const char *path, const source_t *mem)
{
    source_t src = mem ? *mem : (source_t){0};
    FILE *volatile f = NULL;
    if (!mem && !(f = fopen(path, "rb")))
        return -1;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, png_quiet, NULL);
    png_infop info = png_create_info_struct(png);
    unsigned char *volatile row = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(row);
        if (!leak) /* the line the leaking version forgets */
            png_destroy_read_struct(&png, &info, NULL);
        if (f)
            fclose(f);
        return -1;
    }
    if (mem)
        png_set_read_fn(png, &src, png_from_memory);
    else
        png_init_io(png, f);
    png_read_info(png, info);
    row = malloc(png_get_rowbytes(png, info));
    for (png_uint_32 y = 0; y < png_get_image_height(png, info); y++)
        png_read_row(png, row, NULL);
    png_read_end(png, NULL);
    free(row);
    png_destroy_read_struct(&png, &info, NULL);
    if (f)
        fclose(f);
    return 0;
}

/* ---- giflib ---- */
static int gif_from_memory(GifFileType *gif, GifByteType *out, int len)
{
    source_t *m = gif->UserData;
    size_t n = m->size - m->pos < (size_t)len ? m->size - m->pos : (size_t)len;
    memcpy(out, m->data + m->pos, n);
    m->pos += n;
    return (int)n;
}

static __attribute__((noinline)) int load_gif(const char *path, const source_t *mem)
{
    int err;
    source_t src = mem ? *mem : (source_t){0};
    GifFileType *gif = mem ? DGifOpen(&src, gif_from_memory, &err) : DGifOpenFileName(path, &err);
    if (!gif)
        return -1;
    if (DGifSlurp(gif) != GIF_OK) {
        if (!leak) /* the line the leaking version forgets */
            DGifCloseFile(gif, &err);
        return -1;
    }
    DGifCloseFile(gif, &err);
    return 0;
}

/* ---- the batch ---- */
static char corpus[PATH_MAX];
static char **names;
static size_t nnames;
static atomic_size_t next_input;

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_corpus(void)
{
    DIR *d = opendir(corpus);
    if (!d)
        wl_die("no corpus: run make workloads, or give --corpus DIR");
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        names = realloc(names, (nnames + 1) * sizeof *names);
        names[nnames++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, nnames, sizeof *names, by_name);
}

static int ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

static unsigned char *read_whole(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *data = NULL;
    size_t n = 0, got;
    unsigned char chunk[4096];
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        data = realloc(data, n + got);
        memcpy(data + n, chunk, got);
        n += got;
    }
    fclose(f);
    *size = n;
    return data;
}

static int decode(const char *name)
{
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", corpus, name);
    source_t mem = {0};
    unsigned char *data = NULL;
    if (by_memory) { /* a request body: imgleak cannot see where it came from, the tag says */
        if (!(data = read_whole(path, &mem.size)))
            return -1;
        mem.data = data;
        IMGLEAK_SET_TAG(name);
    }
    const source_t *m = by_memory ? &mem : NULL;
    int r = ends_with(name, ".jpg") ? load_jpeg(path, m)
            : ends_with(name, ".png") ? load_png(path, m)
            : ends_with(name, ".gif") ? load_gif(path, m)
                                      : 0;
    if (by_memory) {
        IMGLEAK_SET_TAG(NULL);
        free(data);
    }
    return r;
}

static void *worker(void *arg)
{
    long *failed = arg;
    size_t i;
    while ((i = atomic_fetch_add(&next_input, 1)) < nnames)
        *failed += decode(names[i]) < 0;
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = 1;
    long iterations = 1;
    const char *mode = NULL;
    char *self = strdup(argv[0]);
    snprintf(corpus, sizeof corpus, "%s/corpus", dirname(self));
    free(self);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
            iterations = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--corpus") == 0 && i + 1 < argc)
            snprintf(corpus, sizeof corpus, "%s", argv[++i]);
        else if (!mode)
            mode = argv[i];
        else
            mode = "?";
    }
    if (!mode || iterations < 1 ||
        (strcmp(mode, "leak") && strcmp(mode, "memory") && strcmp(mode, "threads") &&
         strcmp(mode, "clean"))) {
        wl_say("usage: %s leak|memory|threads|clean [--iterations N] [--corpus DIR]\n", argv[0]);
        return 2;
    }
    leak = strcmp(mode, "clean") != 0;
    by_memory = strcmp(mode, "memory") == 0;
    threads = strcmp(mode, "threads") == 0 ? 4 : 1;
    list_corpus();
    long failed = 0;
    for (long it = 0; it < iterations; it++) {
        atomic_store(&next_input, 0);
        pthread_t tid[4];
        long fails[4] = {0};
        for (int t = 0; t < threads; t++)
            if (pthread_create(&tid[t], NULL, worker, &fails[t]) != 0)
                wl_die("pthread_create");
        for (int t = 0; t < threads; t++) {
            pthread_join(tid[t], NULL);
            failed += fails[t];
        }
    }
    wl_say("%zu inputs, %ld failed to decode\n", nnames, failed);
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    return 0;
}
