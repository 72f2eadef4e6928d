/* A long-running image service, for watching growth over time: it handles a "request" every few
 * milliseconds until its time is up or it gets SIGTERM/SIGINT. Each request makes a thumbnail
 * (WebP encode of a generated image). Two kinds of memory stay live:
 *  - warm_cache: a cache of rendered tiles, one added every other request until it holds
 *    CACHE_ENTRIES (about the first 1.5 s at the default pace), then flat: warm-up, not a leak;
 *  - make_thumbnail (leak mode): the WebPEncodeRGBA output is never given to WebPFree, so live
 *    bytes grow with every request for as long as the service runs.
 * It has a SIGUSR2 handler of its own (imgleak's snapshot signal by default) and prints how many
 * SIGUSR2 it saw at the end, so a test can check that the program's handler still runs.
 *
 *   wl_service leak|clean [--seconds S] [--interval-ms MS] */
#include "common.h"

#include <signal.h>
#include <time.h>
#include <webp/encode.h>

#define CACHE_ENTRIES 150
#define TILE_BYTES 4096

static volatile sig_atomic_t stop, usr2_seen;
static unsigned char *cache[CACHE_ENTRIES];
static size_t cached;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

static void on_usr2(int sig)
{
    (void)sig;
    usr2_seen++;
}

static __attribute__((noinline)) void warm_cache(long request)
{
    if (cached == CACHE_ENTRIES || request % 2)
        return;
    unsigned char *tile = malloc(TILE_BYTES);
    if (!tile)
        wl_die("out of memory");
    memset(tile, (int)(request & 0xff), TILE_BYTES);
    cache[cached++] = tile;
}

static __attribute__((noinline)) size_t make_thumbnail(const unsigned char *rgba, int leak)
{
    uint8_t *out = NULL;
    size_t size = WebPEncodeRGBA(rgba, 32, 32, 32 * 4, 75.0f, &out);
    if (!leak)
        WebPFree(out); /* the leaking version forgets the encoder's output */
    return size;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int leak = -1;
    double seconds = 5, interval_ms = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "leak") == 0 || strcmp(argv[i], "clean") == 0)
            leak = argv[i][0] == 'l';
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--interval-ms") == 0 && i + 1 < argc)
            interval_ms = strtod(argv[++i], NULL);
        else
            leak = -2;
    }
    if (leak < 0 || !(seconds > 0) || !(interval_ms >= 0)) {
        wl_say("usage: %s leak|clean [--seconds S] [--interval-ms MS]\n", argv[0]);
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);

    unsigned char *rgba = wl_image(32, 32, 4);
    double end = now_s() + seconds;
    long requests = 0;
    size_t bytes = 0;
    struct timespec pause = {0, (long)(interval_ms * 1e6)};
    while (!stop && now_s() < end) {
        warm_cache(requests);
        bytes += make_thumbnail(rgba, leak);
        requests++;
        if (interval_ms > 0)
            nanosleep(&pause, NULL);
    }
    for (size_t i = 0; i < cached; i++)
        free(cache[i]);
    free(rgba);
    wl_say("service %s: %ld requests, %zu bytes out, %d SIGUSR2\n", leak ? "leak" : "clean",
           requests, bytes, (int)usr2_seen);
    return 0;
}
