/* imgleak suppress: the rules that hide what the gate would fail on, as valgrind's
 * --gen-suppressions writes them, in LeakSanitizer's syntax (suppress.h). One "leak:" rule per
 * entry of the program, naming the function of its innermost program frame (the entry's site),
 * after a comment saying where and how much. Fed back with --suppressions, they make the gate
 * pass: a rule hides every stack with a frame of that function, the entry's among them. */
#include "report.h"

#include <string.h>

/* The pattern that names the site: its function exactly; without one, its source file or
 * module (the end of its path). */
static void put_pattern(FILE *out, const frame_t *f)
{
    if (f->function) {
        fprintf(out, "leak:^%s$\n", f->function);
        return;
    }
    const char *path = f->file ? f->file : f->module;
    const char *slash = path ? strrchr(path, '/') : NULL;
    fprintf(out, "leak:%s$\n", slash ? slash + 1 : path ? path : "??");
}

/* The same rule once: two entries of one function (two lines, or heap and mmap) need one. */
static int said_before(const report_t *rep, size_t i)
{
    const frame_t *f = &rep->sites[i].site;
    for (size_t k = 0; k < i; k++) {
        const frame_t *g = &rep->sites[k].site;
        if (!rep->sites[k].in_app || rep->sites[k].cls == IMGLEAK_CLASS_REACHABLE)
            continue;
        if (f->function ? g->function && strcmp(f->function, g->function) == 0
                        : !g->function && f->file == g->file && f->module == g->module)
            return 1;
    }
    return 0;
}

int report_write_suppressions(const report_t *rep, FILE *out, const report_opts_t *opts)
{
    (void)opts;
    fputs("# imgleak suppress: one rule per leak of the program; pass this file to\n"
          "# imgleak report/gate --suppressions (LeakSanitizer reads it too)\n", out);
    for (size_t i = 0; i < rep->nsites; i++) {
        const leak_site_t *s = &rep->sites[i];
        if (!s->in_app || s->cls == IMGLEAK_CLASS_REACHABLE)
            continue; /* the gate counts only the program's leaks */
        fprintf(out, "# %s:%u: %llu bytes in %llu blocks %s (%s)",
                s->site.file ? s->site.file : "<unknown>", s->site.line,
                (unsigned long long)(s->bytes + s->indirect_bytes),
                (unsigned long long)(s->blocks + s->indirect_blocks), report_class_name(s->cls),
                s->site.function ? s->site.function : "??");
        for (size_t k = 0; k < s->ngroups; k++)
            fprintf(out, ", %llu %s never destroyed", (unsigned long long)s->groups[k]->count,
                    s->groups[k]->type);
        fputc('\n', out);
        if (said_before(rep, i))
            fputs("#   (the rule above covers it)\n", out);
        else
            put_pattern(out, &s->site);
    }
    return ferror(out) ? -1 : 0;
}
