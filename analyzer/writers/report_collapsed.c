/* Collapsed stacks, the input of flamegraph.pl, inferno and speedscope: one line per distinct
 * stack of live memory, frames from the outermost to the innermost joined by ';', then a space and
 * the bytes. Inlined frames are frames of their own. The lines add up to the report's leaked
 * bytes. */
#include "escape.h"
#include "report.h"

#include <string.h>

/* A frame's name: function, or module+offset; ';' would break the format, and control
 * characters are escaped as in text. */
static void put_frame(FILE *out, const frame_t *f)
{
    char name[512];
    report_frame_name(f, name, sizeof name);
    for (char *c = name; *c; c++)
        if (*c == ';')
            *c = ':';
    fputs(escape_text(name), out);
}

int report_write_collapsed(const report_t *rep, FILE *out, const report_opts_t *opts)
{
    (void)opts;
    for (size_t i = 0; i < rep->nstacks; i++) {
        const report_stack_t *rs = &rep->stacks[i];
        if (!rs->bytes)
            continue;
        for (size_t k = report_shown_depth(rs->frames, rs->depth); k-- > 0;) {
            put_frame(out, &rs->frames[k]);
            if (k)
                fputc(';', out);
        }
        fprintf(out, " %llu\n", (unsigned long long)rs->bytes);
    }
    return ferror(out) ? -1 : 0;
}
