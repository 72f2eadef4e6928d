/* Progress on a terminal (see progress.h). */
#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static struct {
    const char *what, *unit;
    uint64_t total;
    double start, last;
    int shown, tty;
} p;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress_begin(const char *what, const char *unit, uint64_t total)
{
    p.what = what;
    p.unit = unit;
    p.total = total;
    p.start = now();
    p.last = 0;
    p.shown = 0;
    p.tty = isatty(2);
}

void progress_step(uint64_t done)
{
    if (!p.tty)
        return;
    double t = now();
    if (t - p.start < 1.0 || t - p.last < 0.1)
        return;
    p.last = t;
    p.shown = 1;
    fprintf(stderr, "\rimgleak: %s %llu/%llu %s (%d%%)\033[K", p.what, (unsigned long long)done,
            (unsigned long long)p.total, p.unit,
            p.total ? (int)(100 * done / p.total) : 0);
}

void progress_end(void)
{
    if (p.shown)
        fputs("\r\033[K", stderr);
    p.shown = 0;
    p.tty = 0;
}
