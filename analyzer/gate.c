/* The CI gate (see gate.h). */
#include "gate.h"

#include "error.h"

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
static int collect(offences_t *out, const summary_entry_t *now, size_t n,
                   const summary_entry_t *base, size_t nbase, int handles)
{
    for (size_t i = 0; i < n; i++) {
        const summary_entry_t *e = &now[i];
        if (!e->in_app)
            continue;
        const summary_entry_t *b = base ? summary_find(base, nbase, e->key) : NULL;
        offence_t o = {e, over(e->bytes, b ? b->bytes : 0), over(e->blocks, b ? b->blocks : 0),
                       over(e->count, b ? b->count : 0), b ? b->bytes : 0, b ? b->count : 0};
        if (handles ? o.count == 0 : o.bytes == 0)
            continue;
        offence_t *grown = realloc(out->list, (out->n + 1) * sizeof *grown);
        if (!grown)
            return error_set("out of memory"), -1;
        out->list = grown;
        grown[out->n++] = o;
        if (handles)
            out->handles += o.count;
        else {
            out->bytes += o.bytes;
            out->blocks += o.blocks;
        }
    }
    return 0;
}

static void put_location(FILE *out, const summary_entry_t *e)
{
    fprintf(out, "%s:%u: ", e->file ? e->file : "<unknown>", e->line);
}

static int same_line(const summary_entry_t *a, const summary_entry_t *b)
{
    return a->line == b->line && a->in_app == b->in_app &&
           (a->function == b->function || (a->function && b->function && !strcmp(a->function, b->function))) &&
           (a->file == b->file || (a->file && b->file && !strcmp(a->file, b->file)));
}

/* The offence of list at the same line as e: a handle never destroyed and the memory leaked
 * where it was created are one bug, and get one line. */
static const offence_t *at_same_line(const offences_t *list, const summary_entry_t *e)
{
    for (size_t i = 0; list && i < list->n; i++)
        if (same_line(list->list[i].entry, e))
            return &list->list[i];
    return NULL;
}

/* One line per bug, in the compiler-diagnostic form: handles never destroyed (with the memory
 * leaked where they were created, mem), or memory alone. */
static void put_offence(FILE *out, const offence_t *o, int handles, const offence_t *mem,
                        int baseline)
{
    const summary_entry_t *e = o->entry;
    const char *fn = e->function ? e->function : "??";
    put_location(out, e);
    if (handles)
        fprintf(out, "%llu %s handle%s never destroyed (%s, created by %s)",
                (unsigned long long)o->count, e->what, o->count == 1 ? "" : "s", fn, e->creator);
    else
        fprintf(out, "%llu bytes in %llu blocks leaked (%s)", (unsigned long long)o->bytes,
                (unsigned long long)o->blocks, fn);
    if (baseline && (handles ? o->base_count : o->base_bytes))
        fprintf(out, ", beyond the baseline's %llu", handles ? (unsigned long long)o->base_count
                                                             : (unsigned long long)o->base_bytes);
    if (mem) {
        fprintf(out, ", retaining %llu bytes in %llu blocks", (unsigned long long)mem->bytes,
                (unsigned long long)mem->blocks);
        if (baseline && mem->base_bytes)
            fprintf(out, " beyond the baseline's %llu", (unsigned long long)mem->base_bytes);
    }
    fputc('\n', out);
}

/* Every failing offence once: handle lines (taking the memory at their line with them), then
 * memory lines not yet said. emit is called with the offence, its kind and its memory. */
typedef void (*emit_fn)(void *ctx, const offence_t *o, int handles, const offence_t *mem);
static void each_offence(const offences_t *mem, int mem_failed, const offences_t *hdl,
                         int hdl_failed, emit_fn emit, void *ctx)
{
    for (size_t i = 0; hdl_failed && i < hdl->n; i++)
        emit(ctx, &hdl->list[i], 1, mem_failed ? at_same_line(mem, hdl->list[i].entry) : NULL);
    for (size_t i = 0; mem_failed && i < mem->n; i++)
        if (!hdl_failed || !at_same_line(hdl, mem->list[i].entry))
            emit(ctx, &mem->list[i], 0, NULL);
}

typedef struct {
    FILE *out;
    int baseline;
    size_t count;
} print_ctx_t;

static void print_one(void *ctx, const offence_t *o, int handles, const offence_t *mem)
{
    print_ctx_t *p = ctx;
    put_offence(p->out, o, handles, mem, p->baseline);
    p->count++;
}

static void put_xml(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
                fputc(*s, out);
        }
    }
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

typedef struct {
    FILE *out;
    int baseline;
} junit_ctx_t;

static void junit_one(void *ctx, const offence_t *o, int handles, const offence_t *mem)
{
    junit_ctx_t *j = ctx;
    char *line = NULL, name[256];
    size_t len = 0;
    FILE *mem_out = open_memstream(&line, &len);
    if (!mem_out)
        return;
    put_offence(mem_out, o, handles, mem, j->baseline);
    fclose(mem_out);
    if (len && line[len - 1] == '\n')
        line[len - 1] = '\0';
    const summary_entry_t *e = o->entry;
    snprintf(name, sizeof name, "%s (%s:%u)", e->function ? e->function : "??",
             e->file ? e->file : "<unknown>", e->line);
    put_case(j->out, name, line);
    free(line);
}

/* One test case per limit, and one failing case per offending leak when its limit is broken. */
static int write_junit(const char *path, const cli_opts_t *o, const offences_t *mem,
                       const offences_t *hdl, int mem_failed, int hdl_failed, size_t offending)
{
    FILE *out = fopen(path, "w");
    if (!out)
        return error_set("%s: cannot write", path), -1;
    size_t tests = 2 + offending;
    size_t failures = (size_t)mem_failed + (size_t)hdl_failed + offending;
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
    junit_ctx_t ctx = {out, o->baseline != NULL};
    each_offence(mem, mem_failed, hdl, hdl_failed, junit_one, &ctx);
    fputs("  </testsuite>\n</testsuites>\n", out);
    int failed = ferror(out);
    if (fclose(out) != 0 || failed)
        return error_set("%s: write error", path), -1;
    return 0;
}

int gate_check(const cli_opts_t *o, const summary_t *now, const summary_t *base, FILE *out)
{
    offences_t mem = {0}, hdl = {0};
    int rc = -1;
    if (collect(&mem, now->leaks, now->nleaks, base ? base->leaks : NULL, base ? base->nleaks : 0,
                0) < 0 ||
        collect(&hdl, now->handles, now->nhandles, base ? base->handles : NULL,
                base ? base->nhandles : 0, 1) < 0)
        goto out;
    int mem_failed = mem.bytes > o->max_bytes, hdl_failed = hdl.handles > o->max_handles;
    print_ctx_t printed = {out, base != NULL, 0};
    each_offence(&mem, mem_failed, &hdl, hdl_failed, print_one, &printed);
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
    if (o->junit && write_junit(o->junit, o, &mem, &hdl, mem_failed, hdl_failed, printed.count) < 0)
        rc = -1;
out:
    free(mem.list);
    free(hdl.list);
    return rc;
}
