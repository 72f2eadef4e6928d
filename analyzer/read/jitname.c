/* Perf-map names (see jitname.h). */
#include "jitname.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const v8_kinds[] = {"JS:", "LazyCompile:", "Function:", "Script:", "Eval:"};

/* "file:12:5" or "file:12": the line, and the file's length; 0 when there is no line */
static unsigned trailing_line(const char *loc, size_t *file_len)
{
    const char *end = loc + strlen(loc), *colon[2] = {NULL, NULL};
    int found = 0;
    for (const char *p = end; p > loc && found < 2; p--) {
        if (p[-1] == ':')
            colon[found++] = p - 1;
        else if (p[-1] < '0' || p[-1] > '9')
            break;
    }
    if (!found)
        return 0;
    /* two numbers: line and column; one: the line */
    const char *line_at = found == 2 ? colon[1] : colon[0];
    if (line_at + 1 == end || line_at[1] == ':')
        return 0;
    *file_len = (size_t)(line_at - loc);
    return (unsigned)strtoul(line_at + 1, NULL, 10);
}

void jitname_parse(const char *name, jit_name_t *out)
{
    memset(out, 0, sizeof *out);
    const char *rest = name;
    int v8 = 0;
    for (size_t i = 0; i < sizeof v8_kinds / sizeof *v8_kinds; i++)
        if (strncmp(name, v8_kinds[i], strlen(v8_kinds[i])) == 0) {
            rest = name + strlen(v8_kinds[i]);
            v8 = 1;
        }
    if (v8 && (*rest == '*' || *rest == '~' || *rest == '^' || *rest == '+' || *rest == '-'))
        rest++;
    if (strncmp(name, "py::", 4) == 0) { /* py::function:/path/file.py */
        const char *colon = strchr(name + 4, ':');
        if (colon) {
            snprintf(out->function, sizeof out->function, "%.*s", (int)(colon - name - 4), name + 4);
            snprintf(out->file, sizeof out->file, "%s", colon + 1);
            return;
        }
    }
    const char *space = v8 ? strrchr(rest, ' ') : NULL;
    size_t file_len = 0;
    unsigned line = space ? trailing_line(space + 1, &file_len) : 0;
    if (!space || (!line && !strchr(space + 1, '/'))) {
        snprintf(out->function, sizeof out->function, "%s", rest);
        return;
    }
    int fn_len = (int)(space - rest);
    if (fn_len)
        snprintf(out->function, sizeof out->function, "%.*s", fn_len, rest);
    else
        snprintf(out->function, sizeof out->function, "(anonymous)");
    snprintf(out->file, sizeof out->file, "%.*s", (int)(line ? file_len : strlen(space + 1)), space + 1);
    out->line = line;
}
