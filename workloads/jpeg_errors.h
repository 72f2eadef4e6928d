/* libjpeg's error manager as the JPEG workloads use it: an error longjmps back to the caller's
 * setjmp (its error path, where the leaking modes forget to destroy), and warnings about a
 * corrupt input are not printed. */
#ifndef WORKLOAD_JPEG_ERRORS_H
#define WORKLOAD_JPEG_ERRORS_H

#include <jpeglib.h>
#include <setjmp.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf escape;
} wl_jpeg_errors_t;

static void wl_jpeg_escape(j_common_ptr cinfo)
{
    longjmp(((wl_jpeg_errors_t *)cinfo->err)->escape, 1);
}

static void wl_jpeg_quiet(j_common_ptr cinfo, int level)
{
    (void)cinfo;
    (void)level;
}

/* The manager for a compress or decompress struct's err field; the caller then setjmps on
 * e->escape. */
static inline struct jpeg_error_mgr *wl_jpeg_errors(wl_jpeg_errors_t *e)
{
    struct jpeg_error_mgr *m = jpeg_std_error(&e->pub);
    m->error_exit = wl_jpeg_escape;
    m->emit_message = wl_jpeg_quiet;
    return m;
}

#endif
