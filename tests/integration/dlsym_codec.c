/* Codec functions reached by dlsym, as ctypes, cffi and plugin loaders reach them: WebPEncodeRGB
 * on the handle of libwebp loaded late (argv[1]), png_create_read_struct through RTLD_DEFAULT from
 * the libpng linked at start. Their results are leaked handles like any other. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef size_t (*encode_fn)(const uint8_t *rgb, int w, int h, int stride, float q, uint8_t **out);
typedef void *(*png_create_fn)(const char *ver, void *err, void *error_fn, void *warn_fn);

extern const char *png_get_libpng_ver(const void *png); /* links libpng: it is there at start */

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    void *webp = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!webp) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    encode_fn encode = (encode_fn)dlsym(webp, "WebPEncodeRGB");
    png_create_fn create = (png_create_fn)dlsym(RTLD_DEFAULT, "png_create_read_struct");
    static uint8_t rgb[16 * 16 * 3];
    for (size_t i = 0; i < sizeof rgb; i++)
        rgb[i] = (uint8_t)(i * 7);
    uint8_t *out = NULL;
    size_t n = encode(rgb, 16, 16, 16 * 3, 80.0f, &out); /* LEAK(dlsym) */
    void *png = create(png_get_libpng_ver(NULL), NULL, NULL, NULL); /* LEAK(default) */
    printf("encoded: %s, png reader: %s\n", n > 0 && out ? "yes" : "no", png ? "yes" : "no");
    return 0;
}
