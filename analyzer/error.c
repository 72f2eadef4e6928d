/* Error and warning messages (see error.h). */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

static char message[1024] = "unknown error";

void error_set(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
}

const char *error_get(void)
{
    return message;
}

void error_print(void)
{
    fprintf(stderr, "imgleak: %s\n", message);
}

void warn(const char *fmt, ...)
{
    va_list ap;
    fputs("imgleak: warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
