/* libuserbuf: a program's own C wrapper around malloc, of the kind a Go or Python service keeps
 * for its image buffers and expects a finalizer to free. Its functions take every kind of
 * argument the trampolines must pass on untouched: doubles in vector registers, integers on the
 * stack beyond the sixth, variadic arguments, a handle written through an out pointer. */
#ifndef USERBUF_H
#define USERBUF_H

#include <stddef.h>

typedef struct userbuf userbuf_t;

userbuf_t *buf_new(size_t size);
/* 0, and *out the new buffer; -1 and *out untouched when size is 0 */
int buf_open(const char *name, size_t size, userbuf_t **out);
/* size = (w * h * scale) + a + b + c + d + e + f: two integers on the stack, one double */
userbuf_t *buf_new_scaled(size_t w, size_t h, double scale, int a, int b, int c, int d, long e,
                          long f);
/* size = the sum of count variadic ints and doubles, alternating */
userbuf_t *buf_new_sum(int count, ...);
/* as buf_new, but a size of 0 calls on_error, which need not return (a decoder's error_exit
 * that longjmps, as libjpeg's does) */
userbuf_t *buf_new_checked(size_t size, void (*on_error)(const char *what));
size_t buf_size(const userbuf_t *b);
double buf_mean(const userbuf_t *b, double weight); /* returns a double: xmm0 after the call */
void buf_free(userbuf_t *b);
void buf_release(userbuf_t **b); /* frees *b and sets it to NULL */

#endif
