/* The CI gate (see gate.h). */
#include "gate.h"

#include "error.h"
#include "escape.h"
#include "grow.h"
#include "outfile.h"
#include "saturate.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const summary_entry_t *entry;
    uint64_t bytes, blocks, count; /* beyond the baseline, or all of it */
    uint64_t base_bytes, base_count;
} offence_t;

typedef struct {
    offence_t *list;
    size_t n;
    uint64_t bytes, blocks, handles; /* sums over the list */
} offences_t;

static uint64_t over(uint64_t now, uint64_t before)
{
    return now > before ? now - before : 0;
}

/* The program's entries that leak more than the baseline holds for them. */
static int collect(offences_t *out, const summary_entry_t *now, size_t n, const summary_t *base,
                   int handles)
{
    for (size_t i = 0; i < n; i++) {
        const summary_entry_t *e = &now[i];
        if (!e->in_app)
            continue;
        const summary_entry_t *b = base ? summary_find(base, handles, e->key) : NULL;
        offence_t o = {e, over(e->bytes, b ? b->bytes : 0), over(e->blocks, b ? b->blocks : 0),
                       over(e->count, b ? b->count : 0), b ? b->bytes : 0, b ? b->count : 0};
        if (handles ? o.count == 0 : o.bytes == 0)
            continue;
        if (grow_for(&out->list, out->n, sizeof *out->list) < 0)
            return error_set("out of memory"), -1;
        out->list[out->n++] = o;
        if (handles)
            sat_inc(&out->handles, o.count);
        else {
            sat_inc(&out->bytes, o.bytes);
            sat_inc(&out->blocks, o.blocks);
        }
    }
    return 0;
}

static void put_location(FILE *out, const summary_entry_t *e)
{
    fprintf(out, "%s:%u: ", e->file ? escape_text(e->file) : "<unknown>", e->line);
}

/* One line per offence, in the compiler-diagnostic form. */
static void put_offence(FILE *out, const offence_t *o, int handles, int baseline)
{
    const summary_entry_t *e = o->entry;
    const char *fn = e->function ? escape_text(e->function) : "??";
    put_location(out, e);
    if (handles)
        fprintf(out, "%llu %s handle%s never destroyed (%s, created by %s)",
                (unsigned long long)o->count, escape_text(e->what), o->count == 1 ? "" : "s", fn,
                escape_text(e->creator));
    else
        fprintf(out, "%llu bytes in %llu blocks leaked (%s)", (unsigned long long)o->bytes,
                (unsigned long long)o->blocks, fn);
    if (baseline && (handles ? o->base_count : o->base_bytes))
        fprintf(out, ", beyond the baseline's %llu", handles ? (unsigned long long)o->base_count
                                                             : (unsigned long long)o->base_bytes);
    fputc('\n', out);
}

static void put_xml(FILE *out, const char *s)
{
    escape_xml(out, s);
}

static void put_case(FILE *out, const char *name, const char *failure)
{
    fputs("    <testcase classname=\"imgleak\" name=\"", out);
    put_xml(out, name);
    if (!failure) {
        fputs("\"/>\n", out);
        return;
    }
    fputs("\">\n      <failure message=\"", out);
    put_xml(out, failure);
    fputs("\"/>\n    </testcase>\n", out);
}

/* One test case per limit, and one failing case per offending site when its limit is broken. */
static int write_junit(const char *path, const cli_opts_t *o, const offences_t *mem,
                       const offences_t *hdl, int mem_failed, int hdl_failed)
{
    outfile_t of;
    if (outfile_open(&of, path) < 0)
        return -1;
    FILE *out = of.f;
    size_t tests = 2 + (mem_failed ? mem->n : 0) + (hdl_failed ? hdl->n : 0);
    size_t failures = (size_t)mem_failed + (size_t)hdl_failed + (mem_failed ? mem->n : 0) +
                      (hdl_failed ? hdl->n : 0);
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
                 "  <testsuite name=\"imgleak gate\" tests=\"%zu\" failures=\"%zu\" errors=\"0\">\n",
            tests, failures);
    char name[128], msg[256];
    snprintf(name, sizeof name, "leaked bytes at most %llu%s", (unsigned long long)o->max_bytes,
             o->baseline ? " beyond the baseline" : "");
    snprintf(msg, sizeof msg, "%llu bytes in %llu blocks leaked", (unsigned long long)mem->bytes,
             (unsigned long long)mem->blocks);
    put_case(out, name, mem_failed ? msg : NULL);
    snprintf(name, sizeof name, "leaked handles at most %llu%s",
             (unsigned long long)o->max_handles, o->baseline ? " beyond the baseline" : "");
    snprintf(msg, sizeof msg, "%llu handles never destroyed", (unsigned long long)hdl->handles);
    put_case(out, name, hdl_failed ? msg : NULL);
    for (int h = 0; h < 2; h++) {
        const offences_t *list = h ? hdl : mem;
        if (!(h ? hdl_failed : mem_failed))
            continue;
        for (size_t i = 0; i < list->n; i++) {
            char *line = NULL;
            size_t len = 0;
            FILE *mem_out = open_memstream(&line, &len);
            if (!mem_out)
                break;
            put_offence(mem_out, &list->list[i], h, o->baseline != NULL);
            fclose(mem_out);
            if (len && line[len - 1] == '\n')
                line[len - 1] = '\0';
            const summary_entry_t *e = list->list[i].entry;
            snprintf(name, sizeof name, "%s (%s:%u)", e->function ? e->function : "??",
                     e->file ? e->file : "<unknown>", e->line);
            put_case(out, name, line);
            free(line);
        }
    }
    fputs("  </testsuite>\n</testsuites>\n", out);
    return outfile_commit(&of, 1);
}

int gate_check(const cli_opts_t *o, const summary_t *now, const summary_t *base, FILE *out)
{
    offences_t mem = {0}, hdl = {0};
    int rc = -1;
    if (collect(&mem, now->leaks, now->nleaks, base, 0) < 0 ||
        collect(&hdl, now->handles, now->nhandles, base, 1) < 0)
        goto out;
    int mem_failed = mem.bytes > o->max_bytes, hdl_failed = hdl.handles > o->max_handles;
    for (size_t i = 0; mem_failed && i < mem.n; i++)
        put_offence(out, &mem.list[i], 0, base != NULL);
    for (size_t i = 0; hdl_failed && i < hdl.n; i++)
        put_offence(out, &hdl.list[i], 1, base != NULL);
    fprintf(out, "imgleak gate: %s: %llu bytes in %llu blocks leaked%s (limit %llu), %llu "
                 "handles never destroyed (limit %llu)",
            mem_failed || hdl_failed ? "FAILED" : "passed", (unsigned long long)mem.bytes,
            (unsigned long long)mem.blocks, base ? " beyond the baseline" : "",
            (unsigned long long)o->max_bytes,
            (unsigned long long)hdl.handles, (unsigned long long)o->max_handles);
    if (now->suppressed_bytes || now->suppressed_handles)
        fprintf(out, "; suppressed: %llu bytes, %llu handles",
                (unsigned long long)now->suppressed_bytes,
                (unsigned long long)now->suppressed_handles);
    if (now->other_bytes || now->other_handles)
        fprintf(out, "; not counted (no frame of the program): %llu bytes, %llu handles",
                (unsigned long long)now->other_bytes, (unsigned long long)now->other_handles);
    fputc('\n', out);
    rc = mem_failed || hdl_failed;
    if (o->junit && write_junit(o->junit, o, &mem, &hdl, mem_failed, hdl_failed) < 0)
        rc = -1;
out:
    free(mem.list);
    free(hdl.list);
    return rc;
}
