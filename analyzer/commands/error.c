/* Error and warning messages (see error.h). Messages name files and strings from the inputs:
 * they are escaped (escape.h) so that each stays one line and cannot drive the terminal. */
#include "error.h"

#include "escape.h"

#include <stdarg.h>
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

void warn(const char *fmt, ...)
{
    char raw[1024], line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    escape_text_to(line, sizeof line, raw);
    fprintf(stderr, "imgleak: warning: %s\n", line);
}
