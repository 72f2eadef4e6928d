/* A program's own malloc wrapper (libuserbuf, workloads/userbuf), its handles declared in a file
 * (workloads/userbuf/userbuf.handles) rather than built into imgleak. leak mode reproduces the
 * bug of a service whose finalizer never ran: process_request frees the buffer it opened but
 * forgets the scaled one it made from it. clean mode releases both. Every call checks what the
 * library computed from its arguments, so a hook that disturbed one (a double, a stack argument,
 * a variadic one, the returned double) ends the program with an error; an error callback
 * longjmps out of the library on every request, as libjpeg's error_exit does. */
#include "common.h"

#include "userbuf/userbuf.h"

#include <setjmp.h>

static jmp_buf on_error_jump;

static void on_error(const char *what)
{
    (void)what;
    longjmp(on_error_jump, 1); /* out of buf_new_checked, through imgleak's hook */
}

static void expect(size_t got, size_t want, const char *what)
{
    if (got != want) {
        wl_say("userbuf: %s: size %zu, expected %zu\n", what, got, want);
        wl_die("userbuf: an argument was not passed through");
    }
}

static __attribute__((noinline)) double process_request(long n, int leak)
{
    userbuf_t *in = NULL;
    size_t want = 64 + (size_t)(n % 5);
    if (buf_open("request", want, &in) != 0 || !in)
        wl_die("userbuf: buf_open failed");
    expect(buf_size(in), want, "buf_open");
    userbuf_t *none = NULL;
    if (buf_open("empty", 0, &none) == 0 || none) /* fails: no handle */
        wl_die("userbuf: buf_open of nothing succeeded");
    userbuf_t *scaled = buf_new_scaled(8, 4, 1.5, 1, 2, 3, 4, 100 + n % 3, 1000);
    expect(buf_size(scaled), 48 + 10 + 1100 + (size_t)(n % 3), "buf_new_scaled");
    userbuf_t *sum = buf_new_sum(4, 10, 2.5, 20, 7.5);
    expect(buf_size(sum), 40, "buf_new_sum");
    double mean = buf_mean(in, 2.0);
    userbuf_t *volatile checked = NULL;
    if (setjmp(on_error_jump) == 0)
        checked = buf_new_checked(0, on_error);
    if (checked)
        wl_die("userbuf: buf_new_checked of nothing returned");
    buf_free(sum);
    buf_release(&in);
    if (in)
        wl_die("userbuf: buf_release did not clear the pointer");
    if (!leak)
        buf_free(scaled); /* the leaking version forgets the scaled copy */
    return mean;
}

int main(int argc, char **argv)
{
    wl_args_t a;
    wl_parse(argc, argv, 200, &a);
    double total = 0;
    for (long i = 0; i < a.iterations; i++)
        total += process_request(i, a.leak);
    userbuf_t *own = buf_new(16);
    buf_free(own);
    wl_say("userbuf: %.0f\n", total);
    return 0;
}
