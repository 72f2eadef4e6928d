/* What every workload shares: the command line (MODE leak|clean, --iterations N), a generated
 * test image, and output that does not allocate (stdio would leave its buffer live at exit, which
 * is not what these programs are about). */
#ifndef WORKLOAD_COMMON_H
#define WORKLOAD_COMMON_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int leak;
    long iterations;
} wl_args_t;

static inline void wl_say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0 && write(1, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1) < 0)
        _exit(1);
}

static inline __attribute__((noreturn)) void wl_die(const char *what)
{
    const char *p = what;
    if (write(2, p, strlen(p)) < 0 || write(2, "\n", 1) < 0)
        _exit(1);
    _exit(1);
}

static inline void wl_parse(int argc, char **argv, long default_iterations, wl_args_t *a)
{
    a->leak = -1;
    a->iterations = default_iterations;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "leak") == 0)
            a->leak = 1;
        else if (strcmp(argv[i], "clean") == 0)
            a->leak = 0;
        else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
            a->iterations = strtol(argv[++i], NULL, 10);
        else
            a->leak = -2;
    }
    if (a->leak < 0 || a->iterations < 1) {
        wl_say("usage: %s leak|clean [--iterations N]\n", argv[0]);
        exit(2);
    }
}

/* A w x h image with `channels` bytes a pixel: gradients and a checker, so codecs have work. */
static inline unsigned char *wl_image(int w, int h, int channels)
{
    unsigned char *px = malloc((size_t)w * h * channels);
    if (!px)
        wl_die("out of memory");
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *p = px + ((size_t)y * w + x) * channels;
            unsigned char v[4] = {(unsigned char)(x * 255 / w), (unsigned char)(y * 255 / h),
                                  (unsigned char)(((x / 8 + y / 8) & 1) ? 220 : 30), 255};
            memcpy(p, v, (size_t)channels);
        }
    return px;
}

#endif
