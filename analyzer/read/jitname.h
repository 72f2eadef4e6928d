/* Names of JIT-compiled code as perf maps give them, taken apart into function, file and line:
 * V8's "JS:*paint /srv/app.js:12:5" (node --perf-basic-prof; the tier mark * ~ ^ dropped),
 * Python 3.12's "py::paint:/srv/app.py", and anything else as a bare function name. */
#ifndef IMGLEAK_JITNAME_H
#define IMGLEAK_JITNAME_H

#include <stddef.h>

typedef struct {
    char function[256];
    char file[1024]; /* "" when the name holds none */
    unsigned line;   /* the function's first line; 0 when unknown */
} jit_name_t;

void jitname_parse(const char *name, jit_name_t *out);

#endif
