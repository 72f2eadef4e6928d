/* The CI gate (see gate.h). */
#include "gate.h"

#include "annotate.h"
#include "error.h"
#include "escape.h"
#include "grow.h"
#include "outfile.h"
#include "saturate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OFFENCE_MORE 4
typedef struct {
    const summary_entry_t *entry;
    uint64_t bytes, blocks, count; /* beyond the baseline, or all of it */
    uint64_t base_bytes, base_count;
    /* handles of other types created at the same line (a decoder and the FILE it opened): one
     * bug, one line */
    const summary_entry_t *more[OFFENCE_MORE];
    uint64_t more_count[OFFENCE_MORE];
    size_t nmore;
} offence_t;

typedef struct {
    offence_t *list;
    size_t n;
    uint64_t bytes, blocks, handles; /* sums over the list */
} offences_t;

enum { OFFENCE_MEMORY, OFFENCE_HANDLES, OFFENCE_GROWTH };

static uint64_t over(uint64_t now, uint64_t before)
{
    return now > before ? now - before : 0;
}

/* What of e counts under fail_on: its leaked part (with memory no scan classified), its possibly
 * leaked part, or both. */
static void counted(const summary_entry_t *e, unsigned fail_on, uint64_t *bytes, uint64_t *blocks)
{
    *bytes = *blocks = 0;
    if (fail_on & CLI_FAIL_LEAKED) {
        *bytes += e->bytes - e->possible_bytes;
        *blocks += e->blocks - e->possible_blocks;
    }
    if (fail_on & CLI_FAIL_POSSIBLE) {
        *bytes += e->possible_bytes;
        *blocks += e->possible_blocks;
    }
}

/* The program's entries that leak more than the baseline holds for them. kind: what the list
 * holds (memory, handles, or growth suspects, which have no baseline). */
static int collect(offences_t *out, const summary_entry_t *now, size_t n, const summary_t *base,
                   int kind, unsigned fail_on)
{
    for (size_t i = 0; i < n; i++) {
        const summary_entry_t *e = &now[i];
        if (!e->in_app)
            continue;
        const summary_entry_t *b =
            base && kind != OFFENCE_GROWTH ? summary_find(base, kind == OFFENCE_HANDLES, e->key)
                                           : NULL;
        uint64_t bytes = e->bytes, blocks = e->blocks, base_bytes = 0, base_blocks = 0;
        if (kind == OFFENCE_MEMORY) {
            counted(e, fail_on, &bytes, &blocks);
            if (b)
                counted(b, fail_on, &base_bytes, &base_blocks);
        }
        offence_t o = {e, over(bytes, base_bytes), over(blocks, base_blocks),
                       over(e->count, b ? b->count : 0), base_bytes, b ? b->count : 0,
                       {NULL}, {0}, 0};
        if (kind == OFFENCE_HANDLES ? o.count == 0 : o.bytes == 0)
            continue;
        if (grow_for(&out->list, out->n, sizeof *out->list) < 0)
            return error_set("out of memory"), -1;
        out->list[out->n++] = o;
        if (kind == OFFENCE_HANDLES)
            sat_inc(&out->handles, o.count);
        else {
            sat_inc(&out->bytes, o.bytes);
            sat_inc(&out->blocks, o.blocks);
        }
    }
    return 0;
}

static int same_line(const summary_entry_t *a, const summary_entry_t *b)
{
    return a->line == b->line && a->in_app == b->in_app &&
           (a->function == b->function || (a->function && b->function && !strcmp(a->function, b->function))) &&
           (a->file == b->file || (a->file && b->file && !strcmp(a->file, b->file)));
}

/* Handle offences at one line become one: the later ones join the first (its `more`). */
static void merge_same_line(offences_t *list)
{
    size_t kept = 0;
    for (size_t i = 0; i < list->n; i++) {
        offence_t *o = &list->list[i], *first = NULL;
        for (size_t k = 0; k < kept && !first; k++)
            if (same_line(list->list[k].entry, o->entry) && list->list[k].nmore < OFFENCE_MORE)
                first = &list->list[k];
        if (first) {
            first->more[first->nmore] = o->entry;
            first->more_count[first->nmore++] = o->count;
        } else {
            list->list[kept++] = *o;
        }
    }
    list->n = kept;
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

/* What the gate found, and which of its limits failed. */
typedef struct {
    offences_t mem, hdl, grow;
    int mem_failed, hdl_failed, grow_failed;
    int baseline;
} verdict_t;

/* One bug, said without its location: handles never destroyed (with the memory leaked where
 * they were created, mem), memory alone, or a site that kept growing. */
static void put_message(FILE *out, const offence_t *o, int kind, const offence_t *mem,
                        int baseline)
{
    const summary_entry_t *e = o->entry;
    const char *fn = e->function ? escape_text(e->function) : "??";
    if (kind == OFFENCE_GROWTH) {
        fprintf(out, "grew steadily by %.0f bytes/s to %llu bytes, a leak suspect (%s)", e->slope,
                (unsigned long long)e->bytes, fn);
        return;
    }
    if (kind == OFFENCE_HANDLES) {
        fprintf(out, "%llu %s handle%s", (unsigned long long)o->count, escape_text(e->what),
                o->count == 1 ? "" : "s");
        for (size_t k = 0; k < o->nmore; k++)
            fprintf(out, " and %llu %s handle%s", (unsigned long long)o->more_count[k],
                    escape_text(o->more[k]->what), o->more_count[k] == 1 ? "" : "s");
        fprintf(out, " never destroyed (%s, created by %s", fn, escape_text(e->creator));
        for (size_t k = 0; k < o->nmore; k++)
            fprintf(out, "%s%s", k + 1 == o->nmore ? " and " : ", ", escape_text(o->more[k]->creator));
        fputc(')', out);
    }
    else
        fprintf(out, "%llu bytes in %llu blocks leaked (%s)", (unsigned long long)o->bytes,
                (unsigned long long)o->blocks, fn);
    if (baseline && (kind == OFFENCE_HANDLES ? o->base_count : o->base_bytes))
        fprintf(out, ", beyond the baseline's %llu",
                kind == OFFENCE_HANDLES ? (unsigned long long)o->base_count
                                        : (unsigned long long)o->base_bytes);
    if (mem) {
        fprintf(out, ", retaining %llu bytes in %llu blocks", (unsigned long long)mem->bytes,
                (unsigned long long)mem->blocks);
        if (baseline && mem->base_bytes)
            fprintf(out, " beyond the baseline's %llu", (unsigned long long)mem->base_bytes);
    }
    const summary_entry_t *named = e->inputs ? e : mem && mem->entry->inputs ? mem->entry : NULL;
    if (named)
        fprintf(out, ", on %llu input%s: %s", (unsigned long long)named->ninputs,
                named->ninputs == 1 ? "" : "s", escape_text(named->inputs));
}

/* The message as a string (malloc'd; NULL when out of memory). */
static char *message_of(const offence_t *o, int kind, const offence_t *mem, int baseline)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return NULL;
    put_message(out, o, kind, mem, baseline);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* Every failing offence once: handle lines (taking the memory at their line with them), memory
 * lines not yet said, then growth suspects. emit gets the offence, its kind and its memory. */
typedef void (*emit_fn)(void *ctx, const offence_t *o, int kind, const offence_t *mem);
static void each_offence(const verdict_t *v, emit_fn emit, void *ctx)
{
    for (size_t i = 0; v->hdl_failed && i < v->hdl.n; i++)
        emit(ctx, &v->hdl.list[i], OFFENCE_HANDLES,
             v->mem_failed ? at_same_line(&v->mem, v->hdl.list[i].entry) : NULL);
    for (size_t i = 0; v->mem_failed && i < v->mem.n; i++)
        if (!v->hdl_failed || !at_same_line(&v->hdl, v->mem.list[i].entry))
            emit(ctx, &v->mem.list[i], OFFENCE_MEMORY, NULL);
    for (size_t i = 0; v->grow_failed && i < v->grow.n; i++)
        emit(ctx, &v->grow.list[i], OFFENCE_GROWTH, NULL);
}

typedef struct {
    FILE *out;
    int baseline;
    size_t count;
} print_ctx_t;

static void print_one(void *ctx, const offence_t *o, int kind, const offence_t *mem)
{
    print_ctx_t *p = ctx;
    const summary_entry_t *e = o->entry;
    fprintf(p->out, "%s:%u: ", e->file ? escape_text(e->file) : "<unknown>", e->line);
    put_message(p->out, o, kind, mem, p->baseline);
    fputc('\n', p->out);
    p->count++;
}

/* "; counting only leaked, handles" when --fail-on left something out of the default */
static const char *fail_on_note(unsigned fail_on)
{
    static char note[96];
    size_t at = 0;
    static const char *const names[] = {"leaked", "possible", "handles", "growth"};
    at += (size_t)snprintf(note, sizeof note, "; failing on");
    for (unsigned i = 0; i < 4; i++)
        if (fail_on & (1u << i))
            at += (size_t)snprintf(note + at, sizeof note - at, " %s", names[i]);
    return note;
}

/* ---- annotations: the same lines, for GitHub and GitLab ---- */

typedef struct {
    FILE *github;              /* NULL: no workflow commands */
    annotate_gitlab_t *gitlab; /* NULL: no Code Quality report */
    const char *root;
    int baseline;
} annotate_ctx_t;

static void annotate_one(void *ctx, const offence_t *o, int kind, const offence_t *mem)
{
    annotate_ctx_t *a = ctx;
    const summary_entry_t *e = o->entry;
    char path[4096];
    char *message = message_of(o, kind, mem, a->baseline);
    if (!message)
        return;
    annotate_relative_path(a->root, e->file ? e->file : "<unknown>", path, sizeof path);
    if (a->github)
        annotate_github(a->github, path, e->line, message);
    if (a->gitlab) {
        char key[4096];
        snprintf(key, sizeof key, "%d|%s", kind, e->key);
        annotate_gitlab_add(a->gitlab, path, e->line, message, key);
    }
    free(message);
}

static int write_annotations(const cli_opts_t *o, const verdict_t *v, FILE *out)
{
    if (!o->annotate_github && !o->gitlab_report)
        return 0;
    char root[4096];
    if (annotate_find_root(o->annotations_root, root, sizeof root) < 0)
        return -1;
    annotate_gitlab_t gitlab;
    if (o->gitlab_report && annotate_gitlab_open(&gitlab, o->gitlab_report) < 0)
        return -1;
    annotate_ctx_t ctx = {o->annotate_github ? out : NULL, o->gitlab_report ? &gitlab : NULL,
                          root, v->baseline};
    each_offence(v, annotate_one, &ctx);
    return o->gitlab_report ? annotate_gitlab_close(&gitlab, o->gitlab_report) : 0;
}

/* ---- JUnit ---- */

static void put_xml(FILE *out, const char *s)
{
    escape_xml(out, s);
}

/* One test case; failure NULL: it passed. The Ant JUnit schema (tests/junit/JUnit.xsd), which
 * Jenkins, GitLab and the other CI servers read, wants classname and time on every case and a
 * type on every failure. */
static void put_case(FILE *out, const char *classname, const char *name, const char *failure,
                     const char *type)
{
    fprintf(out, "    <testcase classname=\"%s\" time=\"0\" name=\"", classname);
    put_xml(out, name);
    if (!failure) {
        fputs("\"/>\n", out);
        return;
    }
    fprintf(out, "\">\n      <failure type=\"%s\" message=\"", type);
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

/* One case per leak root, named after its site and, when known, the inputs (files, requests)
 * it leaked on. */
static void junit_one(void *ctx, const offence_t *o, int kind, const offence_t *mem)
{
    static const char *const types[] = {"leak", "handles", "growth"};
    junit_ctx_t *j = ctx;
    char name[512];
    char *message = message_of(o, kind, mem, j->baseline);
    if (!message)
        return;
    const summary_entry_t *e = o->entry;
    const char *inputs = e->inputs ? e->inputs : mem && mem->entry->inputs ? mem->entry->inputs : NULL;
    snprintf(name, sizeof name, "%s (%s:%u)%s%s", e->function ? e->function : "??",
             e->file ? e->file : "<unknown>", e->line, inputs ? " on " : "", inputs ? inputs : "");
    put_case(j->out, "imgleak.leaks", name, message, types[kind]);
    free(message);
}

static void put_utc_now(FILE *out)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm) || !strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm))
        snprintf(stamp, sizeof stamp, "1970-01-01T00:00:00");
    fputs(stamp, out);
}

/* One test case per limit, one for lost data, one for growth when it can fail the gate, and one
 * failing case per offending leak root. */
static int write_junit(const char *path, const cli_opts_t *o, const verdict_t *v,
                       size_t offending, const char *lost_failure)
{
    outfile_t of;
    if (outfile_open(&of, path) < 0)
        return -1;
    FILE *out = of.f;
    int growth = (o->fail_on & CLI_FAIL_GROWTH) != 0;
    size_t tests = 3 + (size_t)growth + offending;
    size_t failures = (size_t)v->mem_failed + (size_t)v->hdl_failed + (size_t)v->grow_failed +
                      offending + (lost_failure != NULL);
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0 || !host[0])
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
          "  <testsuite package=\"imgleak\" id=\"0\" name=\"imgleak gate\" timestamp=\"", out);
    put_utc_now(out);
    fputs("\" hostname=\"", out);
    put_xml(out, host);
    fprintf(out, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" time=\"0\">\n"
                 "    <properties/>\n", tests, failures);
    char name[128], msg[256];
    snprintf(name, sizeof name, "leaked bytes at most %llu%s", (unsigned long long)o->max_bytes,
             o->baseline ? " beyond the baseline" : "");
    snprintf(msg, sizeof msg, "%llu bytes in %llu blocks leaked", (unsigned long long)v->mem.bytes,
             (unsigned long long)v->mem.blocks);
    put_case(out, "imgleak.limits", name, v->mem_failed ? msg : NULL, "limit");
    snprintf(name, sizeof name, "leaked handles at most %llu%s",
             (unsigned long long)o->max_handles, o->baseline ? " beyond the baseline" : "");
    snprintf(msg, sizeof msg, "%llu handles never destroyed", (unsigned long long)v->hdl.handles);
    put_case(out, "imgleak.limits", name, v->hdl_failed ? msg : NULL, "limit");
    if (growth) {
        snprintf(msg, sizeof msg, "%zu sites grew steadily", v->grow.n);
        put_case(out, "imgleak.limits", "no site grows steadily over the snapshots",
                 v->grow_failed ? msg : NULL, "limit");
    }
    put_case(out, "imgleak.limits", "no data lost (or --accept-dropped)", lost_failure,
             "data_lost");
    junit_ctx_t ctx = {out, v->baseline};
    each_offence(v, junit_one, &ctx);
    fputs("    <system-out/>\n    <system-err/>\n  </testsuite>\n</testsuites>\n", out);
    return outfile_commit(&of, 1);
}

int gate_check(const cli_opts_t *o, const summary_t *now, const summary_t *base, FILE *out)
{
    verdict_t v = {.baseline = base != NULL};
    int rc = -1;
    if (collect(&v.mem, now->leaks, now->nleaks, base, OFFENCE_MEMORY, o->fail_on) < 0 ||
        collect(&v.hdl, now->handles, now->nhandles, base, OFFENCE_HANDLES, o->fail_on) < 0 ||
        collect(&v.grow, now->growing, now->ngrowing, NULL, OFFENCE_GROWTH, o->fail_on) < 0)
        goto out;
    merge_same_line(&v.hdl);
    v.mem_failed = v.mem.bytes > o->max_bytes;
    v.hdl_failed = (o->fail_on & CLI_FAIL_HANDLES) && v.hdl.handles > o->max_handles;
    v.grow_failed = (o->fail_on & CLI_FAIL_GROWTH) && v.grow.n > 0;
    /* what was lost may hide a leak: "passed" would claim more than was seen */
    char lost[1024];
    describe_dropped(lost, sizeof lost, &now->dropped);
    int lost_failed = lost[0] && !o->accept_dropped;
    print_ctx_t printed = {out, base != NULL, 0};
    each_offence(&v, print_one, &printed);
    if (write_annotations(o, &v, out) < 0)
        goto out;
    if (lost[0])
        fprintf(out, "imgleak gate: data lost: %s; %s\n", lost,
                o->accept_dropped ? "accepted (--accept-dropped)"
                                  : "the figures below are a lower bound (--accept-dropped to "
                                    "pass anyway)");
    fprintf(out, "imgleak gate: %s: %s%llu bytes in %llu blocks leaked%s (limit %llu), %llu "
                 "handles never destroyed (limit %llu)",
            v.mem_failed || v.hdl_failed || v.grow_failed || lost_failed ? "FAILED" : "passed",
            now->estimated ? "an estimated " : "", (unsigned long long)v.mem.bytes,
            (unsigned long long)v.mem.blocks, base ? " beyond the baseline" : "",
            (unsigned long long)o->max_bytes,
            (unsigned long long)v.hdl.handles, (unsigned long long)o->max_handles);
    if (o->fail_on & CLI_FAIL_GROWTH)
        fprintf(out, ", %zu sites growing steadily (limit 0)", v.grow.n);
    if (o->fail_on != CLI_FAIL_DEFAULT)
        fputs(fail_on_note(o->fail_on), out);
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
    rc = v.mem_failed || v.hdl_failed || v.grow_failed || lost_failed;
    char lost_msg[1100];
    snprintf(lost_msg, sizeof lost_msg, "data lost: %s", lost);
    if (o->junit && write_junit(o->junit, o, &v, printed.count, lost_failed ? lost_msg : NULL) < 0)
        rc = -1;
out:
    free(v.mem.list);
    free(v.hdl.list);
    free(v.grow.list);
    return rc;
}
