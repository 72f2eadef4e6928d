/* Attribution: which frame of a stack is the call site a leak is charged to. It is the innermost
 * frame that belongs to the application: not the shim, the C library, the allocator, or any
 * other library the program calls, and not code inlined from system headers. */
#ifndef IMGLEAK_ATTRIBUTE_H
#define IMGLEAK_ATTRIBUTE_H

#include "symbolize.h"

#include <stddef.h>

typedef struct {
    const char **app_patterns; /* --app: module or source paths (fnmatch) that are the application */
    size_t napp;
} attribute_opts_t;

int attribute_is_app(const frame_t *frame, const attribute_opts_t *opts);
/* Index of the call site in frames[0..n), innermost first; 0 when no frame is the application's. */
size_t attribute_site(const frame_t *frames, size_t n, const attribute_opts_t *opts);

#endif
