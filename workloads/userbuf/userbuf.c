/* libuserbuf (see userbuf.h). */
#include "userbuf.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct userbuf {
    size_t size;
    unsigned char *data;
};

static userbuf_t *make(size_t size)
{
    userbuf_t *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    b->size = size;
    b->data = malloc(size ? size : 1);
    if (!b->data) {
        free(b);
        return NULL;
    }
    memset(b->data, (int)(size & 0x7f), size);
    return b;
}

userbuf_t *buf_new(size_t size)
{
    return make(size);
}

int buf_open(const char *name, size_t size, userbuf_t **out)
{
    if (!name || size == 0)
        return -1;
    userbuf_t *b = make(size);
    if (!b)
        return -1;
    *out = b;
    return 0;
}

userbuf_t *buf_new_checked(size_t size, void (*on_error)(const char *what))
{
    if (size == 0) {
        on_error("buf_new_checked: size 0");
        return NULL;
    }
    return make(size);
}

userbuf_t *buf_new_scaled(size_t w, size_t h, double scale, int a, int b, int c, int d, long e,
                          long f)
{
    return make((size_t)((double)(w * h) * scale) + (size_t)(a + b + c + d) + (size_t)(e + f));
}

userbuf_t *buf_new_sum(int count, ...)
{
    va_list ap;
    double size = 0;
    va_start(ap, count);
    for (int i = 0; i < count; i++)
        size += i % 2 ? va_arg(ap, double) : (double)va_arg(ap, int);
    va_end(ap);
    return make((size_t)size);
}

size_t buf_size(const userbuf_t *b)
{
    return b->size;
}

double buf_mean(const userbuf_t *b, double weight)
{
    double sum = 0;
    for (size_t i = 0; i < b->size; i++)
        sum += b->data[i];
    return b->size ? weight * sum / (double)b->size : 0;
}

void buf_free(userbuf_t *b)
{
    if (!b)
        return;
    free(b->data);
    free(b);
}

void buf_release(userbuf_t **b)
{
    if (b) {
        buf_free(*b);
        *b = NULL;
    }
}
