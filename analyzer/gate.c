/* The CI gate (see gate.h). */
#include "gate.h"

#include "error.h"

#include <stdarg.h>
#include <stdio.h>
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

/* Appends ", " and one clause to the list in out (cut at size). */
__attribute__((format(printf, 4, 5))) static void add_clause(char *out, size_t size, size_t *at,
                                                             const char *fmt, ...)
{
    va_list ap;
    if (*at && *at + 2 < size) {
        memcpy(out + *at, ", ", 3);
        *at += 2;
    }
    if (*at >= size)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(out + *at, size - *at, fmt, ap);
    va_end(ap);
    *at = n < 0 ? size : *at + (size_t)n;
}

/* What was lost, as one clause list ("5000 allocations not tracked (live table full), ...");
 * empty when nothing that could hide a leak was. */
static void describe_dropped(char *out, size_t size, const summary_dropped_t *d)
{
    size_t at = 0;
    out[0] = '\0';
    if (d->table_full)
        add_clause(out, size, &at, "%llu allocations not tracked (live table full: IMGLEAK_MAX_LIVE)",
                   (unsigned long long)d->table_full);
    if (d->stacks)
        add_clause(out, size, &at,
                   "%llu allocations with no stack (stack table full: IMGLEAK_MAX_STACKS)",
                   (unsigned long long)d->stacks);
    if (d->unattributed_blocks)
        add_clause(out, size, &at,
                   "%llu bytes in %llu blocks unattributed (no stack, or one cut before any frame "
                   "of the program)",
                   (unsigned long long)d->unattributed_bytes,
                   (unsigned long long)d->unattributed_blocks);
    if (d->oversized_blocks)
        add_clause(out, size, &at, "%llu sizes too large to store",
                   (unsigned long long)d->oversized_blocks);
    if (d->failed_snapshots)
        add_clause(out, size, &at, "%llu snapshots the program could not write",
                   (unsigned long long)d->failed_snapshots);
    if (d->scan_incomplete || d->unclassified_blocks)
        add_clause(out, size, &at,
                   "reachability scan incomplete (%llu bytes unread; %llu bytes in %llu blocks "
                   "unclassified, not counted)",
                   (unsigned long long)d->unscanned_bytes,
                   (unsigned long long)d->unclassified_bytes,
                   (unsigned long long)d->unclassified_blocks);
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

/* One test case per limit, one for lost data, and one failing case per offending leak when its
 * limit is broken. */
static int write_junit(const char *path, const cli_opts_t *o, const offences_t *mem,
                       const offences_t *hdl, int mem_failed, int hdl_failed, size_t offending,
                       const char *lost_failure)
{
    FILE *out = fopen(path, "w");
    if (!out)
        return error_set("%s: cannot write", path), -1;
    size_t tests = 3 + offending;
    size_t failures = (size_t)mem_failed + (size_t)hdl_failed + offending + (lost_failure != NULL);
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
    put_case(out, "no data lost (or --accept-dropped)", lost_failure);
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
    /* what was lost may hide a leak: "passed" would claim more than was seen */
    char lost[1024];
    describe_dropped(lost, sizeof lost, &now->dropped);
    int lost_failed = lost[0] && !o->accept_dropped;
    print_ctx_t printed = {out, base != NULL, 0};
    each_offence(&mem, mem_failed, &hdl, hdl_failed, print_one, &printed);
    if (lost[0])
        fprintf(out, "imgleak gate: data lost: %s; %s\n", lost,
                o->accept_dropped ? "accepted (--accept-dropped)"
                                  : "the figures below are a lower bound (--accept-dropped to "
                                    "pass anyway)");
    fprintf(out, "imgleak gate: %s: %s%llu bytes in %llu blocks leaked%s (limit %llu), %llu "
                 "handles never destroyed (limit %llu)",
            mem_failed || hdl_failed || lost_failed ? "FAILED" : "passed",
            now->estimated ? "an estimated " : "", (unsigned long long)mem.bytes,
            (unsigned long long)mem.blocks, base ? " beyond the baseline" : "",
            (unsigned long long)o->max_bytes,
            (unsigned long long)hdl.handles, (unsigned long long)o->max_handles);
    if (lost_failed)
        fputs("; data lost (above)", out);
    if (now->suppressed_bytes || now->suppressed_handles)
        fprintf(out, "; suppressed: %llu bytes, %llu handles",
                (unsigned long long)now->suppressed_bytes,
                (unsigned long long)now->suppressed_handles);
    if (now->other_bytes || now->other_handles)
        fprintf(out, "; not counted (no frame of the program): %llu bytes, %llu handles",
                (unsigned long long)now->other_bytes, (unsigned long long)now->other_handles);
    if (now->dropped.unattributed_bytes)
        fprintf(out, "; unattributed (no stack to charge): %llu bytes",
                (unsigned long long)now->dropped.unattributed_bytes);
    if (now->dropped.skipped_snapshots)
        fprintf(out, "; %llu unreadable snapshot%s skipped",
                (unsigned long long)now->dropped.skipped_snapshots,
                now->dropped.skipped_snapshots == 1 ? "" : "s");
    if (now->estimated)
        fputs("; figures are estimates from sampled allocations (IMGLEAK_SAMPLE)", out);
    fputc('\n', out);
    rc = mem_failed || hdl_failed || lost_failed;
    char lost_msg[1100];
    snprintf(lost_msg, sizeof lost_msg, "data lost: %s", lost);
    if (o->junit && write_junit(o->junit, o, &mem, &hdl, mem_failed, hdl_failed, printed.count,
                                lost_failed ? lost_msg : NULL) < 0)
        rc = -1;
out:
    free(mem.list);
    free(hdl.list);
    return rc;
}
