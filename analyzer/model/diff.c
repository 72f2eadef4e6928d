/* imgleak diff (see diff.h). */
#include "diff.h"

#include "escape.h"
#include "report.h"
#include "saturate.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *change; /* new, grown, shrunk, gone */
    const summary_entry_t *before, *after;
    int64_t bytes, blocks, count; /* after - before */
} change_t;

static const summary_entry_t *describe(const change_t *c)
{
    return c->after ? c->after : c->before;
}

/* The changes of one list, largest byte (or count) change first. */
static change_t *compare(const summary_t *bs, const summary_t *ns, int handles, size_t *n)
{
    const summary_entry_t *base = handles ? bs->handles : bs->leaks;
    const summary_entry_t *now = handles ? ns->handles : ns->leaks;
    size_t nbase = handles ? bs->nhandles : bs->nleaks, nnow = handles ? ns->nhandles : ns->nleaks;
    change_t *out = calloc(nbase + nnow + 1, sizeof *out);
    if (!out)
        return NULL;
    *n = 0;
    for (size_t i = 0; i < nnow; i++) {
        const summary_entry_t *b = summary_find(bs, handles, now[i].key);
        change_t c = {NULL, b, &now[i], sat_delta(now[i].bytes, b ? b->bytes : 0),
                      sat_delta(now[i].blocks, b ? b->blocks : 0),
                      sat_delta(now[i].count, b ? b->count : 0)};
        int64_t key = now[i].count || (b && b->count) ? c.count : c.bytes;
        c.change = !b ? "new" : key > 0 ? "grown" : key < 0 ? "shrunk" : NULL;
        if (c.change)
            out[(*n)++] = c;
    }
    for (size_t i = 0; i < nbase; i++)
        if (!summary_find(ns, handles, base[i].key))
            out[(*n)++] = (change_t){"gone", &base[i], NULL, sat_delta(0, base[i].bytes),
                                     sat_delta(0, base[i].blocks), sat_delta(0, base[i].count)};
    return out;
}

static int64_t magnitude(const change_t *c)
{
    int64_t v = c->count ? c->count : c->bytes;
    return v < 0 ? -v : v;
}

static int by_magnitude(const void *a, const void *b)
{
    int64_t x = magnitude(a), y = magnitude(b);
    return x > y ? -1 : x < y;
}

static void signed_bytes(int64_t v, char *out, size_t size)
{
    char b[32];
    report_format_bytes((uint64_t)(v < 0 ? -v : v), b, sizeof b);
    snprintf(out, size, "%s%s", v < 0 ? "-" : "+", b);
}

static void put_text_changes(FILE *out, const change_t *c, size_t n, int handles)
{
    for (size_t i = 0; i < n; i++) {
        const summary_entry_t *e = describe(&c[i]);
        char delta[40];
        signed_bytes(c[i].bytes, delta, sizeof delta);
        if (handles)
            fprintf(out, "  %-7s %+" PRId64 " %s (%s)  %s ", c[i].change, c[i].count,
                    escape_text(e->what), escape_text(e->creator), delta);
        else
            fprintf(out, "  %-7s %s %+" PRId64 " blocks (%s)  ", c[i].change, delta, c[i].blocks,
                    escape_text(e->what));
        fprintf(out, "%s %s:%u%s\n", e->function ? escape_text(e->function) : "??",
                e->file ? escape_text(e->file) : "<unknown>", e->line,
                e->in_app ? "" : "  (not the program's)");
    }
}

static int build(const summary_t *base, const summary_t *now, change_t **leaks, size_t *nleaks,
                 change_t **handles, size_t *nhandles)
{
    *leaks = compare(base, now, 0, nleaks);
    *handles = compare(base, now, 1, nhandles);
    if (!*leaks || !*handles)
        return -1;
    qsort(*leaks, *nleaks, sizeof **leaks, by_magnitude);
    qsort(*handles, *nhandles, sizeof **handles, by_magnitude);
    return 0;
}

int diff_write_text(const summary_t *base, const summary_t *now, FILE *out)
{
    change_t *leaks, *handles;
    size_t nleaks, nhandles;
    int rc = build(base, now, &leaks, &nleaks, &handles, &nhandles);
    if (rc == 0) {
        char delta[40];
        signed_bytes(sat_delta(now->leaked_bytes, base->leaked_bytes), delta, sizeof delta);
        fprintf(out, "imgleak diff: the program's leaks %s (%+" PRId64 " blocks), %+" PRId64
                     " handles never destroyed; %zu sites and %zu handle groups changed\n",
                delta, sat_delta(now->leaked_blocks, base->leaked_blocks),
                sat_delta(now->leaked_handles, base->leaked_handles), nleaks, nhandles);
        put_text_changes(out, leaks, nleaks, 0);
        put_text_changes(out, handles, nhandles, 1);
    }
    free(leaks);
    free(handles);
    return rc < 0 || ferror(out) ? -1 : 0;
}

static void put_string(FILE *out, const char *s)
{
    report_json_string(out, s, 0);
}

static void put_json_changes(FILE *out, const change_t *c, size_t n, int handles)
{
    for (size_t i = 0; i < n; i++) {
        const summary_entry_t *e = describe(&c[i]);
        fprintf(out, "%s{\"change\":\"%s\",\"function\":", i ? ",\n" : "\n", c[i].change);
        put_string(out, e->function);
        fputs(",\"file\":", out);
        put_string(out, e->file);
        fprintf(out, ",\"line\":%u,\"%s\":", e->line, handles ? "type" : "kind");
        put_string(out, e->what);
        if (handles) {
            fputs(",\"create_function\":", out);
            put_string(out, e->creator);
            fprintf(out, ",\"count_before\":%" PRIu64 ",\"count_after\":%" PRIu64
                         ",\"count_delta\":%" PRId64,
                    c[i].before ? c[i].before->count : 0, c[i].after ? c[i].after->count : 0,
                    c[i].count);
        }
        fprintf(out, ",\"in_app\":%s,\"bytes_before\":%" PRIu64 ",\"bytes_after\":%" PRIu64
                     ",\"bytes_delta\":%" PRId64 ",\"blocks_delta\":%" PRId64 "}",
                e->in_app ? "true" : "false", c[i].before ? c[i].before->bytes : 0,
                c[i].after ? c[i].after->bytes : 0, c[i].bytes, c[i].blocks);
    }
}

int diff_write_json(const summary_t *base, const summary_t *now, FILE *out)
{
    change_t *leaks, *handles;
    size_t nleaks, nhandles;
    int rc = build(base, now, &leaks, &nleaks, &handles, &nhandles);
    if (rc == 0) {
        fprintf(out, "{\"imgleak_diff\":1,\"leaked_bytes_before\":%" PRIu64
                     ",\"leaked_bytes_after\":%" PRIu64 ",\"leaked_handles_before\":%" PRIu64
                     ",\"leaked_handles_after\":%" PRIu64 ",\n\"sites\":[",
                base->leaked_bytes, now->leaked_bytes, base->leaked_handles, now->leaked_handles);
        put_json_changes(out, leaks, nleaks, 0);
        fputs("\n],\n\"handles\":[", out);
        put_json_changes(out, handles, nhandles, 1);
        fputs("\n]}\n", out);
    }
    free(leaks);
    free(handles);
    return rc < 0 || ferror(out) ? -1 : 0;
}
