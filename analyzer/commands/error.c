/* Error and warning messages (see error.h). Messages name files and strings from the inputs:
 * they are escaped (escape.h) so that each stays one line and cannot drive the terminal. */
#include "error.h"

#include "escape.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

static char message[1024] = "unknown error";

void error_set(const char *fmt, ...)
{
    char raw[sizeof message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    escape_text_to(message, sizeof message, raw);
}

const char *error_get(void)
{
    return message;
}

void error_print(void)
{
    fprintf(stderr, "imgleak: %s\n", message);
}

/* A warning said already is not said again: a library rebuilt since the run is named once, not
 * once per process of a build that ran it eighteen times. */
#define WARNED_MAX 512

static int said_before(const char *line)
{
    static uint64_t warned[WARNED_MAX];
    static size_t nwarned;
    uint64_t h = 1469598103934665603u;
    for (const unsigned char *c = (const unsigned char *)line; *c; c++)
        h = (h ^ *c) * 1099511628211u;
    for (size_t i = 0; i < nwarned; i++)
        if (warned[i] == h)
            return 1;
    if (nwarned < WARNED_MAX)
        warned[nwarned++] = h;
    return 0;
}

void warn(const char *fmt, ...)
{
    char raw[1024], line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    escape_text_to(line, sizeof line, raw);
    if (!said_before(line))
        fprintf(stderr, "imgleak: warning: %s\n", line);
}
