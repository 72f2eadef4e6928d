/* Report summaries for gate and diff (see summary.h). */
#include "summary.h"

#include "error.h"
#include "escape.h"
#include "grow.h"
#include "growth.h"
#include "report.h"
#include "safeopen.h"
#include "saturate.h"
#include "slots.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *base_name(const char *path)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    return slash ? slash + 1 : path;
}

/* Names are kept in the one UTF-8 reading of escape.h, the reading the JSON report was written
 * in, so that a name read from a snapshot matches the same name read back from JSON. */
static char *dup_or_null(const char *s)
{
    return s ? escape_utf8_dup(s) : NULL;
}

static char *make_key(const char *function, const char *file, const char *what,
                      const char *creator)
{
    const char *f = function ? function : "??", *b = file ? base_name(file) : "";
    size_t len = strlen(f) + strlen(b) + strlen(what) + (creator ? strlen(creator) : 0) + 4;
    char *raw = malloc(len);
    if (!raw)
        return NULL;
    snprintf(raw, len, "%s|%s|%s|%s", f, b, what, creator ? creator : "");
    char *key = escape_utf8_dup(raw); /* as dup_or_null reads the names */
    free(raw);
    return key;
}

/* Each list by key (slots.h): a report of many thousands of sites must not make merging, gate
 * or diff quadratic. */
struct summary_index {
    slots_t leaks, handles;
};

static uint64_t key_hash(const char *key)
{
    return slots_hash_string(1469598103934665603u, key);
}

static uint64_t key_hash_of(size_t item, const void *ctx)
{
    return key_hash(((const summary_entry_t *)ctx)[item].key);
}

static int same_key(size_t item, const void *key, const void *ctx)
{
    return strcmp(((const summary_entry_t *)ctx)[item].key, key) == 0;
}

static size_t *key_slot(const slots_t *ix, const summary_entry_t *list, const char *key)
{
    return slots_find(ix, key_hash(key), same_key, key, list);
}

/* (Re)makes ix over list[0..n) with room for one more entry. */
static int key_index_build(slots_t *ix, const summary_entry_t *list, size_t n)
{
    slots_free(ix);
    return slots_reserve(ix, n, key_hash_of, list);
}

static slots_t *index_of(const summary_t *s, int handles)
{
    return handles ? &s->index->handles : &s->index->leaks;
}

const summary_entry_t *summary_find(const summary_t *s, int handles, const char *key)
{
    const summary_entry_t *list = handles ? s->handles : s->leaks;
    if (!s->index || !index_of(s, handles)->slots)
        return NULL;
    size_t at = *key_slot(index_of(s, handles), list, key);
    return at ? &list[at - 1] : NULL;
}

static void entry_free(summary_entry_t *e)
{
    free(e->function);
    free(e->file);
    free(e->what);
    free(e->creator);
    free(e->key);
    free(e->inputs);
}

/* The names of the inputs an entry leaked on, for one line of the gate: the first few. */
#define INPUTS_NAMED 3
typedef struct {
    const char *names[INPUTS_NAMED];
    uint64_t count;
} input_names_t;

static char *join_inputs(const input_names_t *in)
{
    if (!in || !in->count)
        return NULL;
    size_t len = 32;
    for (unsigned i = 0; i < INPUTS_NAMED && i < in->count; i++)
        len += strlen(in->names[i]) + 2;
    char *out = malloc(len);
    if (!out)
        return NULL;
    size_t at = 0;
    for (unsigned i = 0; i < INPUTS_NAMED && i < in->count; i++)
        at += (size_t)snprintf(out + at, len - at, "%s%s", i ? ", " : "", in->names[i]);
    if (in->count > INPUTS_NAMED)
        snprintf(out + at, len - at, " and %llu more",
                 (unsigned long long)(in->count - INPUTS_NAMED));
    return out;
}

static input_names_t names_of_list(const input_list_t *list)
{
    input_names_t in = {{NULL}, list->count};
    for (unsigned i = 0; i < INPUTS_NAMED && i < list->count; i++)
        in.names[i] = list->uses[i].name;
    return in;
}

/* Adds an entry, or merges it into the one with the same key (the line of the larger kept). */
static int add(summary_t *s, int handles, const frame_t *site, const char *what,
               const char *creator, int in_app, uint64_t bytes, uint64_t blocks, uint64_t count,
               int possible, const input_names_t *inputs)
{
    summary_entry_t **list = handles ? &s->handles : &s->leaks;
    size_t *n = handles ? &s->nhandles : &s->nleaks;
    if (!s->index && !(s->index = calloc(1, sizeof *s->index)))
        return error_set("out of memory"), -1;
    slots_t *ix = index_of(s, handles);
    if (slots_reserve(ix, *n, key_hash_of, *list) < 0)
        return error_set("out of memory"), -1;
    char *key = make_key(site->function, site->file, what, creator);
    if (!key)
        return error_set("out of memory"), -1;
    size_t *slot = key_slot(ix, *list, key);
    if (*slot) {
        summary_entry_t *e = &(*list)[*slot - 1];
        if (bytes > e->bytes)
            e->line = site->line;
        sat_inc(&e->bytes, bytes);
        sat_inc(&e->blocks, blocks);
        sat_inc(&e->count, count);
        if (possible) {
            sat_inc(&e->possible_bytes, bytes);
            sat_inc(&e->possible_blocks, blocks);
        }
        free(key);
        if (!e->inputs && inputs && inputs->count) { /* one site in several processes */
            e->inputs = join_inputs(inputs);
            e->ninputs = inputs->count;
        }
        return 0;
    }
    if (grow_for(list, *n, sizeof **list) < 0) {
        free(key);
        return error_set("out of memory"), -1;
    }
    *slot = *n + 1;
    summary_entry_t *e = &(*list)[(*n)++];
    *e = (summary_entry_t){dup_or_null(site->function), dup_or_null(site->file), site->line,
                           dup_or_null(what), dup_or_null(creator), in_app, bytes, blocks, count,
                           possible ? bytes : 0, possible ? blocks : 0, 0, key,
                           join_inputs(inputs), inputs ? inputs->count : 0};
    if (!e->what || (site->function && !e->function) || (site->file && !e->file) ||
        (creator && !e->creator) || (inputs && inputs->count && !e->inputs))
        return error_set("out of memory"), -1;
    return 0;
}

/* A growth suspect of the program; of one site in several processes, the steepest slope. The
 * suspects are few: a list searched in turn. */
static int add_growing(summary_t *s, const frame_t *site, const char *kind, uint64_t last_bytes,
                       double slope)
{
    char *key = make_key(site->function, site->file, kind, NULL);
    if (!key)
        return error_set("out of memory"), -1;
    for (size_t i = 0; i < s->ngrowing; i++) {
        summary_entry_t *e = &s->growing[i];
        if (strcmp(e->key, key) != 0)
            continue;
        free(key);
        sat_inc(&e->bytes, last_bytes);
        if (slope > e->slope)
            e->slope = slope;
        return 0;
    }
    if (grow_for(&s->growing, s->ngrowing, sizeof *s->growing) < 0) {
        free(key);
        return error_set("out of memory"), -1;
    }
    summary_entry_t *e = &s->growing[s->ngrowing++];
    *e = (summary_entry_t){dup_or_null(site->function), dup_or_null(site->file), site->line,
                           dup_or_null(kind), NULL, 1, last_bytes, 0, 0, 0, 0, slope, key, NULL, 0};
    if (!e->what || (site->function && !e->function) || (site->file && !e->file))
        return error_set("out of memory"), -1;
    return 0;
}

static int by_size(const void *a, const void *b)
{
    const summary_entry_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* Sorts both lists and indexes them again at their new places. */
static int finish(summary_t *s)
{
    if (s->nleaks)
        qsort(s->leaks, s->nleaks, sizeof *s->leaks, by_size);
    if (s->nhandles)
        qsort(s->handles, s->nhandles, sizeof *s->handles, by_size);
    if (!s->index && !(s->index = calloc(1, sizeof *s->index)))
        return error_set("out of memory"), -1;
    if (key_index_build(&s->index->leaks, s->leaks, s->nleaks) < 0 ||
        key_index_build(&s->index->handles, s->handles, s->nhandles) < 0)
        return error_set("out of memory"), -1;
    return 0;
}

static void count_in(summary_t *s, int in_app, uint64_t bytes, uint64_t blocks, uint64_t handles)
{
    if (in_app) {
        sat_inc(&s->leaked_bytes, bytes);
        sat_inc(&s->leaked_blocks, blocks);
        sat_inc(&s->leaked_handles, handles);
    } else {
        sat_inc(&s->other_bytes, bytes);
        sat_inc(&s->other_handles, handles);
    }
}

int summary_dropped_any(const summary_dropped_t *d)
{
    return d->table_full || d->stacks || d->oversized_blocks || d->failed_snapshots ||
           d->unattributed_blocks || d->scan_incomplete || d->unclassified_blocks;
}

/* Unattributed memory at sites with a stack (cut before the program's frames) is in other_bytes
 * so far: take it out. no_stack_bytes are those never added. */
static void take_out_unattributed(summary_t *s, uint64_t no_stack_bytes)
{
    uint64_t cut = s->dropped.unattributed_bytes > no_stack_bytes
                       ? s->dropped.unattributed_bytes - no_stack_bytes
                       : 0;
    s->other_bytes = s->other_bytes > cut ? s->other_bytes - cut : 0;
}

static void dropped_from_totals(summary_dropped_t *d, const report_totals_t *t)
{
    *d = (summary_dropped_t){t->dropped_table_full, t->dropped_stacks, t->truncated_stacks,
                             t->oversized_blocks, t->failed_snapshots, t->unattributed_bytes,
                             t->unattributed_blocks, t->scan_incomplete, t->unscanned_bytes,
                             t->unclassified_bytes, t->unclassified_blocks, t->skipped_snapshots,
                             t->final_missing};
}

int summary_from_report(summary_t *s, const report_t *rep)
{
    memset(s, 0, sizeof *s);
    /* one entry per leak root, with what hangs from it; its handles are in the handles list */
    uint64_t no_stack_bytes = 0;
    for (size_t i = 0; i < rep->nsites; i++) {
        const leak_site_t *l = &rep->sites[i];
        if (l->cls == IMGLEAK_CLASS_REACHABLE || !l->blocks)
            continue; /* listed with --show-reachable; never a leak. No memory: handles only */
        uint64_t bytes = sat_add(l->bytes, l->indirect_bytes);
        uint64_t blocks = sat_add(l->blocks, l->indirect_blocks);
        input_names_t in = names_of_list(&l->inputs);
        if (add(s, 0, &l->site, report_kind_name(l->kind), NULL, l->in_app, bytes, blocks, 0,
                l->cls == IMGLEAK_CLASS_POSSIBLE, &in) < 0)
            return -1;
        if (l->no_stack)
            no_stack_bytes += bytes; /* unattributed, not "outside the program" */
        else
            count_in(s, l->in_app, bytes, blocks, 0);
    }
    dropped_from_totals(&s->dropped, &rep->totals);
    take_out_unattributed(s, no_stack_bytes);
    s->estimated = rep->totals.estimated;
    for (size_t i = 0; i < rep->nhandles; i++) {
        const handle_group_t *g = &rep->handles[i];
        input_names_t in = names_of_list(&g->inputs);
        if (add(s, 1, &g->site, g->type, g->function, g->in_app, g->retained_bytes,
                g->retained_blocks, g->count, 0, &in) < 0)
            return -1;
        count_in(s, g->in_app, 0, 0, g->count);
    }
    for (size_t i = 0; rep->growth && i < rep->growth->nsites; i++) {
        const growth_site_t *g = &rep->growth->sites[i];
        if (g->suspect && g->in_app &&
            add_growing(s, &g->site, report_kind_name(g->kind), g->last_bytes,
                        g->slope_bytes_per_s) < 0)
            return -1;
    }
    s->suppressed_bytes = rep->totals.suppressed_bytes;
    s->suppressed_handles = rep->totals.suppressed_handles;
    return finish(s);
}

/* ---- reading a JSON report ---- */

static const char *str_of(json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name));
}

static int u64_of(json_t *obj, const char *name, uint64_t *out)
{
    json_t *v = json_object_get(obj, name);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* The frame object at obj[name] as a frame_t whose strings point into the JSON. */
static int frame_of(json_t *obj, frame_t *f)
{
    if (!json_is_object(obj))
        return -1;
    memset(f, 0, sizeof *f);
    f->function = str_of(obj, "function");
    f->file = str_of(obj, "file");
    f->module = str_of(obj, "module");
    json_t *line = json_object_get(obj, "line");
    f->line = json_is_integer(line) ? (unsigned)json_integer_value(line) : 0;
    return 0;
}

/* Whether suppress hides the entry: any frame of its stack matches. */
static int suppressed(json_t *entry, const suppressions_t *suppress)
{
    json_t *stack = json_object_get(entry, "stack");
    if (!suppress || !json_is_array(stack))
        return 0;
    size_t n = json_array_size(stack);
    frame_t *frames = calloc(n ? n : 1, sizeof *frames);
    if (!frames)
        return 0;
    for (size_t i = 0; i < n; i++)
        frame_of(json_array_get(stack, i), &frames[i]);
    int hit = suppress_match(suppress, frames, n) >= 0;
    free(frames);
    return hit;
}

/* entries: a report of this version, whose leaks[] are leak roots with what hangs from them
 * (indirect sites are apart); older reports listed indirect sites among the leaks. */
static int read_entries(summary_t *s, json_t *array, int handles, int entries,
                        const suppressions_t *suppress, const char *path, uint64_t *no_stack_bytes)
{
    if (!json_is_array(array))
        return error_set("%s: not an imgleak report: no %s array", path,
                         handles ? "handles" : "leaks"), -1;
    size_t i;
    json_t *e;
    json_array_foreach(array, i, e) {
        frame_t site;
        uint64_t bytes, blocks, count = 0;
        const char *what = str_of(e, handles ? "type" : "kind");
        const char *creator = handles ? str_of(e, "function") : NULL;
        json_t *in_app = json_object_get(e, "in_app");
        int bad = frame_of(json_object_get(e, "site"), &site) < 0 || !what ||
                  !json_is_boolean(in_app) || (handles && !creator);
        if (handles)
            bad = bad || u64_of(e, "count", &count) < 0 || u64_of(e, "retained_bytes", &bytes) < 0 ||
                  u64_of(e, "retained_blocks", &blocks) < 0;
        else
            bad = bad || u64_of(e, "bytes", &bytes) < 0 || u64_of(e, "blocks", &blocks) < 0;
        uint64_t hanging_bytes = 0, hanging_blocks = 0;
        if (!handles && entries)
            bad = bad || u64_of(e, "indirect_bytes", &hanging_bytes) < 0 ||
                  u64_of(e, "indirect_blocks", &hanging_blocks) < 0;
        if (bad)
            return error_set("%s: %s[%zu] is not a report entry", path,
                             handles ? "handles" : "leaks", i), -1;
        if (!handles && entries && !blocks)
            continue; /* an entry of handles alone: they are in handles[] */
        sat_inc(&bytes, hanging_bytes);
        sat_inc(&blocks, hanging_blocks);
        const char *cls = handles ? NULL : str_of(e, "class");
        if (cls && strcmp(cls, "reachable") == 0)
            continue;
        if (suppressed(e, suppress)) {
            sat_inc(handles ? &s->suppressed_handles : &s->suppressed_bytes, handles ? count : bytes);
            continue;
        }
        input_names_t in = {{NULL}, 0};
        json_t *inputs = json_object_get(e, "inputs"), *input;
        size_t k;
        json_array_foreach(inputs, k, input) { /* reports since format 1.6 */
            const char *name = str_of(input, "name");
            if (!name)
                return error_set("%s: %s[%zu].inputs[%zu] has no name", path,
                                 handles ? "handles" : "leaks", i, k), -1;
            if (in.count < INPUTS_NAMED)
                in.names[in.count] = name;
            in.count++;
        }
        if (add(s, handles, &site, what, creator, json_is_true(in_app), bytes, blocks, count,
                cls && strcmp(cls, "possible") == 0, &in) < 0)
            return -1;
        if (!handles && json_is_true(json_object_get(e, "no_stack")))
            *no_stack_bytes += bytes;
        else
            count_in(s, json_is_true(in_app), handles ? 0 : bytes, handles ? 0 : blocks, count);
    }
    return 0;
}

/* growth[] of a report on a series of snapshots: its suspects of the program. */
static int read_growing(summary_t *s, json_t *array, const char *path)
{
    size_t i;
    json_t *e;
    json_array_foreach(array, i, e) {
        frame_t site;
        uint64_t last;
        const char *kind = str_of(e, "kind");
        json_t *slope = json_object_get(e, "slope_bytes_per_s");
        if (frame_of(json_object_get(e, "site"), &site) < 0 || !kind ||
            u64_of(e, "last_bytes", &last) < 0 || !json_is_number(slope))
            return error_set("%s: growth[%zu] is not a growth entry", path, i), -1;
        if (json_is_true(json_object_get(e, "suspect")) &&
            json_is_true(json_object_get(e, "in_app")) &&
            add_growing(s, &site, kind, last, json_number_value(slope)) < 0)
            return -1;
    }
    return 0;
}

static uint64_t u64_or_0(json_t *obj, const char *name)
{
    uint64_t v = 0;
    return u64_of(obj, name, &v) == 0 ? v : 0;
}

/* totals.dropped (reports since format 1.4 support), or the older flat totals fields. */
static void read_dropped(summary_t *s, json_t *totals)
{
    json_t *d = json_object_get(totals, "dropped");
    summary_dropped_t *out = &s->dropped;
    if (!json_is_object(d)) {
        out->table_full = u64_or_0(totals, "dropped_table_full");
        out->stacks = u64_or_0(totals, "dropped_stacks");
        out->truncated_stacks = u64_or_0(totals, "truncated_stacks");
        out->oversized_blocks = u64_or_0(totals, "oversized_blocks");
        return;
    }
    out->table_full = u64_or_0(d, "table_full");
    out->stacks = u64_or_0(d, "stacks");
    out->truncated_stacks = u64_or_0(d, "truncated_stacks");
    out->oversized_blocks = u64_or_0(d, "oversized_blocks");
    out->failed_snapshots = u64_or_0(d, "failed_snapshots");
    out->unattributed_bytes = u64_or_0(d, "unattributed_bytes");
    out->unattributed_blocks = u64_or_0(d, "unattributed_blocks");
    out->scan_incomplete = u64_or_0(d, "scan_incomplete");
    out->unscanned_bytes = u64_or_0(d, "unscanned_bytes");
    out->unclassified_bytes = u64_or_0(d, "unclassified_bytes");
    out->unclassified_blocks = u64_or_0(d, "unclassified_blocks");
    out->skipped_snapshots = u64_or_0(d, "skipped_snapshots");
    out->final_missing = json_is_true(json_object_get(d, "final_missing"));
}

/* jansson's json_loadf takes a character at a time with getc, a locked call each: a baseline of
 * many thousand entries is tens of megabytes. It reads in blocks through this. */
static size_t read_block(void *buffer, size_t size, void *file)
{
    size_t got = fread(buffer, 1, size, file);
    return got == 0 && ferror((FILE *)file) ? (size_t)-1 : got;
}

int summary_load_json(summary_t *s, const char *path, const suppressions_t *suppress)
{
    memset(s, 0, sizeof *s);
    json_error_t err;
    uint64_t no_stack_bytes = 0;
    FILE *f = safeopen_fopen(path, NULL);
    if (!f)
        return -1;
    json_t *root = json_load_callback(read_block, f, 0, &err);
    fclose(f);
    if (!root)
        return error_set("%s:%d: not valid JSON: %s", path, err.line, err.text), -1;
    int rc = -1;
    if (!json_is_object(root) || !json_is_integer(json_object_get(root, "imgleak_report")))
        error_set("%s: not an imgleak JSON report (no imgleak_report field)", path);
    else if (json_integer_value(json_object_get(root, "imgleak_report")) != 1)
        error_set("%s: imgleak report version %lld, this imgleak reads 1", path,
                  (long long)json_integer_value(json_object_get(root, "imgleak_report")));
    else {
        int entries = json_is_array(json_object_get(root, "indirect"));
        if (read_entries(s, json_object_get(root, "leaks"), 0, entries, suppress, path,
                         &no_stack_bytes) == 0 &&
            read_entries(s, json_object_get(root, "handles"), 1, entries, suppress, path,
                         &no_stack_bytes) == 0 &&
            read_growing(s, json_object_get(root, "growth"), path) == 0)
            rc = 0;
    }
    json_t *totals = json_object_get(root, "totals");
    if (rc == 0) {
        read_dropped(s, totals);
        take_out_unattributed(s, no_stack_bytes);
        s->estimated = json_is_true(json_object_get(totals, "estimated"));
    }
    uint64_t v;
    if (rc == 0 && u64_of(totals, "suppressed_bytes", &v) == 0)
        sat_inc(&s->suppressed_bytes, v);
    if (rc == 0 && u64_of(totals, "suppressed_handles", &v) == 0)
        sat_inc(&s->suppressed_handles, v);
    json_decref(root);
    return rc == 0 ? finish(s) : rc;
}

void summary_free(summary_t *s)
{
    for (size_t i = 0; i < s->nleaks; i++)
        entry_free(&s->leaks[i]);
    for (size_t i = 0; i < s->nhandles; i++)
        entry_free(&s->handles[i]);
    for (size_t i = 0; i < s->ngrowing; i++)
        entry_free(&s->growing[i]);
    free(s->leaks);
    free(s->handles);
    free(s->growing);
    if (s->index) {
        slots_free(&s->index->leaks);
        slots_free(&s->index->handles);
        free(s->index);
    }
    memset(s, 0, sizeof *s);
}
