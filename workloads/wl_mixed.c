/* Several threads mixing the codecs, with plenty of ordinary malloc/free churn around the leaks,
 * and a forked child that leaks on its own, as a worker-pool image service does.
 * Per iteration, in leak mode: one thread decodes a good and a corrupt JPEG (decode_jpeg leaks
 * on the corrupt one), one reads a PNG over the size limit (read_png leaks), one decodes a WebP
 * and keeps the pixels (decode_webp leaks). The child, forked before the threads start, does the
 * JPEG work of every iteration once more and writes its own snapshot. clean mode leaks nothing. */
#define WL_LIBRARY
#pragma GCC diagnostic ignored "-Wunused-function" /* not every included function is used here */
#include "wl_jpeg.c"
#include "wl_png.c"
#include "wl_webp.c"

#include <pthread.h>
#include <sys/wait.h>

static wl_args_t args;
static unsigned char *jpeg_good, *jpeg_bad, *webp_file;
static unsigned long jpeg_size;
static size_t webp_size;
static membuf_t png_file;

/* allocations freed right away, of many sizes, between the codec calls */
static void churn(unsigned seed, int rounds)
{
    void *ring[64] = {0};
    for (int i = 0; i < rounds; i++) {
        seed = seed * 1103515245u + 12345u;
        int k = (int)((seed >> 8) % 64);
        free(ring[k]);
        ring[k] = malloc(16 + (seed >> 16) % 8192);
    }
    for (int k = 0; k < 64; k++)
        free(ring[k]);
}

static void *jpeg_worker(void *arg)
{
    (void)arg;
    for (long i = 0; i < args.iterations; i++) {
        churn((unsigned)i, 200);
        decode_jpeg(jpeg_good, jpeg_size, args.leak);
        decode_jpeg(jpeg_bad, jpeg_size, args.leak);
    }
    return NULL;
}

static void *png_worker(void *arg)
{
    (void)arg;
    for (long i = 0; i < args.iterations; i++) {
        churn((unsigned)i + 7, 200);
        read_png(&png_file, 4096, 0);
        read_png(&png_file, 64, args.leak);
    }
    return NULL;
}

static void *webp_worker(void *arg)
{
    (void)arg;
    for (long i = 0; i < args.iterations; i++) {
        churn((unsigned)i + 13, 200);
        decode_webp(webp_file, webp_size, args.leak);
    }
    return NULL;
}

static unsigned char *rgb, *png_rgb, *rgba;

static void release_inputs(void)
{
    WebPFree(webp_file);
    free(png_file.data);
    free(jpeg_bad);
    free(jpeg_good);
    free(rgba);
    free(png_rgb);
    free(rgb);
}

int main(int argc, char **argv)
{
    wl_parse(argc, argv, 300, &args);
    rgb = wl_image(JW, JH, 3);
    if (encode_jpeg(rgb, &jpeg_good, &jpeg_size) < 0)
        wl_die("cannot encode the test JPEG");
    jpeg_bad = corrupt_copy(jpeg_good, jpeg_size);
    png_rgb = wl_image(PW, PH, 3);
    png_file = encode_png(png_rgb);
    rgba = wl_image(WW, WH, 4);
    webp_size = encode_webp(rgba, 0, &webp_file);

    pid_t child = fork();
    if (child == 0) {
        jpeg_worker(NULL);
        release_inputs();
        exit(0);
    }
    pthread_t th[3];
    pthread_create(&th[0], NULL, jpeg_worker, NULL);
    pthread_create(&th[1], NULL, png_worker, NULL);
    pthread_create(&th[2], NULL, webp_worker, NULL);
    for (int t = 0; t < 3; t++)
        pthread_join(th[t], NULL);
    int status = 1;
    if (child > 0)
        waitpid(child, &status, 0);
    release_inputs();
    wl_say("mixed: %ld iterations on 3 threads and a child\n", args.iterations);
    return status == 0 ? 0 : 1;
}
