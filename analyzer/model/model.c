/* Building the report model (see model.h). Work is done per distinct stack, not per block: a
 * stack is symbolized and attributed once, and blocks only add to their stack's totals. */
#include "model.h"

#include "error.h"
#include "golang.h"
#include "grow.h"
#include "growth.h"
#include "progress.h"
#include "saturate.h"
#include "slots.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A snapshot stack's live blocks of one kind and class, slot = kind * NCLASS + class. Each stack
 * has a list of them in slot order: most stacks hold blocks of one slot only, so a snapshot of
 * many stacks costs a few words per stack, not a table of every slot. */
#define NCLASS (IMGLEAK_CLASS_INDIRECT + 1)
typedef struct {
    double bytes, blocks; /* estimates when the snapshot was sampled */
    uint32_t oldest_birth_s;
    unsigned slot;
    size_t site; /* 1 + the index of the site it was charged to; 0: none */
    size_t next; /* 1 + the index of the stack's next one (a higher slot); 0: the last */
} slot_total_t;

typedef struct {
    size_t *first; /* per snapshot stack (index nstacks: no stack), 1 + an index of slots[] */
    slot_total_t *slots;
    size_t count;
} stack_totals_t;

static void totals_free(stack_totals_t *tt)
{
    free(tt->first);
    free(tt->slots);
}

/* The total of stack k's blocks in slot, added when it is not there yet; NULL when out of
 * memory. */
static slot_total_t *totals_at(stack_totals_t *tt, size_t k, unsigned slot)
{
    size_t *link = &tt->first[k], prev = 0;
    while (*link && tt->slots[*link - 1].slot < slot) {
        prev = *link;
        link = &tt->slots[prev - 1].next;
    }
    if (*link && tt->slots[*link - 1].slot == slot)
        return &tt->slots[*link - 1];
    size_t next = *link;
    if (grow_for(&tt->slots, tt->count, sizeof *tt->slots) < 0)
        return NULL;
    slot_total_t *t = &tt->slots[tt->count++];
    *t = (slot_total_t){0, 0, UINT32_MAX, slot, 0, next};
    *(prev ? &tt->slots[prev - 1].next : &tt->first[k]) = tt->count;
    return t;
}

typedef struct {
    leak_site_t *sites;
    size_t count, capacity;
    slots_t index; /* by site_hash */
} site_set_t;

static int str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static uint64_t mix(uint64_t h, const char *s)
{
    if (!s)
        return h * 31 + 7;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211u;
    return h;
}

/* A site's hash is its frame's (found once per stack, frame_facts.h) and its kind and class. */
uint64_t model_frame_hash(const frame_t *f)
{
    uint64_t h = 1469598103934665603u;
    h = mix(h, f->function);
    h = mix(h, f->file);
    h = mix(h, f->module);
    if (!f->function && !f->file) /* unknown frames differ by address */
        h ^= f->offset * 0xff51afd7ed558ccdu;
    return h;
}

static uint64_t site_hash(uint64_t frame_hash, const frame_t *f, unsigned kind, unsigned cls)
{
    return frame_hash ^ (f->line * 0x9e3779b97f4a7c15u + kind + 2 * cls);
}

int model_frames_equal(const frame_t *a, const frame_t *b)
{
    if (a->line != b->line || !str_eq(a->function, b->function) || !str_eq(a->file, b->file) ||
        !str_eq(a->module, b->module))
        return 0;
    return a->function || a->file || a->offset == b->offset;
}

static int site_same(const leak_site_t *s, const frame_t *f, unsigned kind, unsigned cls)
{
    return s->kind == kind && s->cls == cls && model_frames_equal(&s->site, f);
}

typedef struct {
    const frame_t *frame;
    unsigned kind, cls;
} site_key_t;

static uint64_t set_hash_of(size_t item, const void *ctx)
{
    const leak_site_t *s = &((const leak_site_t *)ctx)[item];
    return site_hash(s->frame_hash, &s->site, s->kind, s->cls);
}

static int set_same(size_t item, const void *key, const void *ctx)
{
    const site_key_t *k = key;
    return site_same(&((const leak_site_t *)ctx)[item], k->frame, k->kind, k->cls);
}

static leak_site_t *set_find_or_add(site_set_t *set, const frame_t *f, uint64_t frame_hash,
                                    unsigned kind, unsigned cls, int in_app)
{
    if (slots_reserve(&set->index, set->count, set_hash_of, set->sites) < 0)
        return NULL;
    site_key_t key = {f, kind, cls};
    size_t *slot = slots_find(&set->index, site_hash(frame_hash, f, kind, cls), set_same, &key,
                              set->sites);
    if (*slot)
        return &set->sites[*slot - 1];
    if (set->count == set->capacity) {
        size_t cap = set->capacity ? set->capacity * 2 : 64;
        leak_site_t *fresh = realloc(set->sites, cap * sizeof *fresh);
        if (!fresh)
            return NULL;
        set->sites = fresh;
        set->capacity = cap;
    }
    leak_site_t *s = &set->sites[set->count];
    memset(s, 0, sizeof *s);
    s->site = *f;
    s->frame_hash = frame_hash;
    s->kind = kind;
    s->cls = cls;
    s->in_app = in_app;
    s->oldest_birth_s = UINT32_MAX;
    *slot = ++set->count;
    return s;
}

/* Expands a stack's return addresses into frames, inlined ones included. */
frame_t *model_expand_stack(symbolizer_t *sym, const snap_stack_t *st, size_t *depth)
{
    size_t cap = st->depth + 8, n = 0;
    frame_t *out = malloc(cap * sizeof *out);
    if (!out)
        return NULL;
    for (unsigned i = 0; i < st->depth; i++) {
        unsigned count;
        const frame_t *fr = symbolize(sym, st->frames[i], &count);
        /* a hooked function the library called through the shim (ReadImage from inside
         * MagickCore): the shim's frame is not part of the program's story */
        if (fr[0].module_flags & IMGLEAK_MODULE_SHIM)
            continue;
        if (n + count > cap) {
            cap = (n + count) * 2;
            frame_t *fresh = realloc(out, cap * sizeof *fresh);
            if (!fresh) {
                free(out);
                return NULL;
            }
            out = fresh;
        }
        for (unsigned j = 0; j < count; j++)
            if (!golang_frame_is_glue(&fr[j])) /* the cgo call's own frames tell nothing */
                out[n++] = fr[j];
    }
    *depth = golang_drop_cgo_closures(out, n);
    return out;
}

static const frame_t no_stack = {.function = "(no stack recorded)"};

static report_stack_t *add_stack(report_t *rep, size_t *capacity)
{
    if (rep->nstacks == *capacity) {
        size_t cap = *capacity ? *capacity * 2 : 64;
        report_stack_t *grown = realloc(rep->stacks, cap * sizeof *grown);
        if (!grown)
            return NULL;
        rep->stacks = grown;
        *capacity = cap;
    }
    report_stack_t *rs = &rep->stacks[rep->nstacks++];
    memset(rs, 0, sizeof *rs);
    return rs;
}

/* Leaked memory whose stack cannot say whose it is: none was recorded, or it was cut before
 * reaching a frame of the program. */
static void count_unattributed(report_totals_t *t, const snap_stack_t *st, int in_app,
                               unsigned cls, uint64_t bytes, uint64_t blocks)
{
    if (cls == IMGLEAK_CLASS_REACHABLE || (st && (in_app || !(st->flags & IMGLEAK_STACK_TRUNCATED))))
        return;
    t->unattributed_bytes += bytes;
    t->unattributed_blocks += blocks;
}

/* The Go runtime's own memory: counted apart, in no class, at no site (golang.h). */
static void charge_go_runtime(report_t *rep, const stack_totals_t *tt, size_t k)
{
    report_process_t *p = &rep->processes[rep->nprocesses - 1];
    for (size_t e = tt->first[k]; e; e = tt->slots[e - 1].next) {
        const slot_total_t *t = &tt->slots[e - 1];
        uint64_t bytes = (uint64_t)llround(t->bytes);
        rep->totals.go_runtime_bytes += bytes;
        rep->totals.go_runtime_blocks += (uint64_t)llround(t->blocks);
        *(t->slot / NCLASS == IMGLEAK_KIND_HEAP ? &p->go_runtime_heap : &p->go_runtime_mmap) += bytes;
    }
}

/* What charging needs of a stack: its frames, its site and its rule (frame_facts.h). */
static int find_stack(symbolizer_t *sym, frame_facts_t *facts, const snap_stack_t *st,
                      const model_opts_t *opts, stack_fact_t *out)
{
    size_t depth = 0;
    frame_t *frames = NULL;
    if (st && !(frames = model_expand_stack(sym, st, &depth)))
        return -1;
    if (!depth) { /* no stack recorded: one frame that says so */
        free(frames);
        if (!(frames = malloc(sizeof *frames)))
            return -1;
        frames[0] = no_stack;
        depth = 1;
    }
    /* the site is the first application frame (attribute_site), the rule the first one any
     * frame matches (suppress_match): both from each frame's facts, found once per frame */
    size_t at = 0;
    int found = 0;
    long rule = -1;
    for (size_t k = 0; k < depth; k++) {
        const frame_fact_t *fact = frame_facts_of(facts, &frames[k], &opts->attribute, opts->suppress);
        if (!fact) {
            free(frames);
            return -1;
        }
        if (st && (frames[k].app = fact->app) && !found) {
            at = k;
            found = 1;
        }
        if (fact->rule >= 0 && (rule < 0 || fact->rule < rule))
            rule = fact->rule;
    }
    int in_app = st && frames[at].app;
    *out = (stack_fact_t){.addresses = st ? st->frames : NULL,
                          .naddresses = st ? st->depth : 0,
                          .frames = frames,
                          .depth = depth,
                          .at = at,
                          .in_app = in_app,
                          .runtime = st && !in_app && golang_stack_is_runtime(frames, depth),
                          .rule = rule,
                          .site = frames[at],
                          .site_hash = model_frame_hash(&frames[at])};
    return 0;
}

/* One snapshot stack: a report stack per kind and class, charged to its site unless a rule
 * suppresses it, it is reachable and those are not shown, or a scan left it unclassified. A stack
 * seen before in the same address space (an earlier snapshot of a series) is not found again. */
static int charge_stack(report_t *rep, size_t *stacks_cap, site_set_t *set, symbolizer_t *sym,
                        frame_facts_t *facts, const snap_stack_t *st, stack_totals_t *tt,
                        size_t k, const model_opts_t *opts, int unclassified)
{
    stack_fact_t fresh;
    size_t *slot = NULL;
    const stack_fact_t *known =
        st ? stack_facts_find(facts, &opts->attribute, opts->suppress, symbolizer_map_id(sym),
                              st->id, st->frames, st->depth, &slot)
           : NULL;
    if (!known) {
        if (find_stack(sym, facts, st, opts, &fresh) < 0)
            return -1;
        fresh.map_id = symbolizer_map_id(sym);
        known = &fresh;
        if (slot && !(known = stack_facts_keep(facts, slot, st->id, &fresh)))
            return -1;
    }
    int kept = known != &fresh;
    frame_t *frames = known->frames;
    size_t depth = known->depth, at = known->at;
    int in_app = known->in_app;
    long rule = known->rule;
    if (known->runtime) {
        charge_go_runtime(rep, tt, k);
        if (!kept)
            free(frames);
        return 0;
    }
    int owned = kept; /* frames belong to a report stack, or to the kept stack */
    for (size_t e = tt->first[k]; e; e = tt->slots[e - 1].next) {
        slot_total_t *t = &tt->slots[e - 1];
        unsigned kind = t->slot / NCLASS, cls = t->slot % NCLASS;
        uint64_t bytes = sat_from_double(t->bytes), blocks = sat_from_double(t->blocks);
        if (rule >= 0) {
            sat_inc(&rep->suppressed[rule].bytes, bytes);
            sat_inc(&rep->suppressed[rule].blocks, blocks);
            sat_inc(&rep->totals.suppressed_bytes, bytes);
            sat_inc(&rep->totals.suppressed_blocks, blocks);
            continue;
        }
        sat_inc(&rep->totals.by_class[cls].bytes, bytes);
        sat_inc(&rep->totals.by_class[cls].blocks, blocks);
        if (unclassified == UNCLASSIFIED_INHERITED && cls == IMGLEAK_CLASS_UNKNOWN) {
            /* a forked child's own blocks its scan could not prove reachable: not lost data */
            rep->totals.child_unclassified_bytes += bytes;
            rep->totals.child_unclassified_blocks += blocks;
            continue;
        }
        if (unclassified && cls == IMGLEAK_CLASS_UNKNOWN) {
            /* the scan could not tell: calling these leaked could be wrong */
            rep->totals.unclassified_bytes += bytes;
            rep->totals.unclassified_blocks += blocks;
            continue;
        }
        count_unattributed(&rep->totals, st, in_app, cls, bytes, blocks);
        if (cls == IMGLEAK_CLASS_REACHABLE && !opts->show_reachable)
            continue;
        /* the slots of one stack share its frames: a copy each would let a crafted file
         * multiply its stacks' size by the number of slots */
        frame_t *mine = frames;
        report_stack_t *rs = add_stack(rep, stacks_cap);
        if (!rs) {
            if (!owned)
                free(frames);
            return -1;
        }
        *rs = (report_stack_t){mine, depth, at, kind, cls, in_app, bytes, blocks, owned};
        owned = 1;
        leak_site_t *s = set_find_or_add(set, &known->site, known->site_hash, kind, cls, in_app);
        if (!s)
            return -1;
        t->site = (size_t)(s - set->sites) + 1;
        s->no_stack = !st;
        sat_inc(&s->bytes, bytes);
        sat_inc(&s->blocks, blocks);
        if (st && st->input && input_list_add(&s->inputs, st->input, bytes, blocks, 0) < 0)
            return -1;
        if (t->oldest_birth_s < s->oldest_birth_s)
            s->oldest_birth_s = t->oldest_birth_s;
        s->nstacks++;
        /* keep the stack that holds the most bytes as the site's example */
        if (!s->stack || bytes > s->stack_bytes_hint) {
            s->stack = mine;
            s->depth = depth;
            s->site_index = at;
            s->truncated = st && (st->flags & IMGLEAK_STACK_TRUNCATED);
            s->stack_bytes_hint = bytes;
        }
    }
    if (!owned)
        free(frames);
    return 0;
}

/* Leaks first (and unscanned memory with them), then possible, indirect, reachable; within
 * each, by the bytes they hold, what hangs from them included. */
static int class_rank(unsigned cls)
{
    switch (cls) {
    case IMGLEAK_CLASS_POSSIBLE: return 1;
    case IMGLEAK_CLASS_INDIRECT: return 2;
    case IMGLEAK_CLASS_REACHABLE: return 3;
    default: return 0;
    }
}

/* What an entry holds: its memory and what hangs from it, or, for handles whose memory is
 * charged elsewhere (or was not scanned), what their create calls allocated. */
static uint64_t site_weight(const leak_site_t *s)
{
    uint64_t w = sat_add(s->bytes, s->indirect_bytes);
    for (size_t i = 0; !s->blocks && i < s->ngroups; i++)
        sat_inc(&w, s->groups[i]->retained_bytes);
    return w;
}

int model_site_order_cmp(const model_site_order_t *x, const model_site_order_t *y)
{
    if (x->rank != y->rank)
        return x->rank - y->rank;
    if (x->weight != y->weight)
        return x->weight > y->weight ? -1 : 1;
    if (x->blocks != y->blocks)
        return x->blocks > y->blocks ? -1 : 1;
    if (x->handles != y->handles)
        return x->handles > y->handles ? -1 : 1;
    int c = x->function == y->function ? 0 : strcmp(x->function, y->function);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int by_site_order(const void *a, const void *b)
{
    return model_site_order_cmp(a, b);
}

model_site_order_t model_site_order(const leak_site_t *s, size_t index)
{
    return (model_site_order_t){class_rank(s->cls), site_weight(s), s->blocks, s->handles,
                                s->site.function ? s->site.function : "", index};
}

/* The keys are taken out of each site once: a sort of many thousands of sites then compares
 * small keys in one array, not sites (and their handle groups) all over memory. */
int model_sort_sites(leak_site_t **sites, size_t n)
{
    if (n < 2)
        return 0;
    model_site_order_t *keys = malloc(n * sizeof *keys);
    leak_site_t *sorted = malloc(n * sizeof *sorted);
    if (!keys || !sorted) {
        free(keys);
        free(sorted);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        keys[i] = model_site_order(&(*sites)[i], i);
    qsort(keys, n, sizeof *keys, by_site_order);
    for (size_t i = 0; i < n; i++)
        sorted[i] = (*sites)[keys[i].index];
    free(keys);
    free(*sites);
    *sites = sorted;
    return 0;
}

static uint64_t minus(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static uint64_t smaller(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Retention: the allocator keeps a quarter or more of RSS (and 8 MiB or more: below that it is
 * an allocator's ordinary slack) in memory the program already freed: a fragmented or
 * unreturned heap, not a leak. */
static int is_retention(uint64_t kept, uint64_t rss)
{
    return kept >= (8u << 20) && kept * 4 >= rss;
}

/* 1.5 snapshots: every part is resident memory the shim measured (procinfo_resident). The live
 * heap is what the program's blocks hold of the heaps' resident pages (all of a chunk mapped
 * apart: it is one block), the allocator's part the heaps' resident rest, of which free memory
 * is at most what the allocator counts as free. Memory returned to the kernel (malloc_trim) is
 * in no part. */
static void reconcile_resident(report_process_t *p)
{
    const imgleak_process_rec_t *r = &p->snap->process;
    uint64_t in_heaps = minus(p->tracked_heap, r->heap_chunk_bytes);
    p->measured = 1;
    p->allocator_held = r->rss_heap + r->rss_heap_chunks;
    p->live_heap = smaller(in_heaps, r->rss_heap) + r->rss_heap_chunks;
    p->allocator_overhead = p->allocator_held - p->live_heap;
    p->allocator_free = p->allocator_overhead;
    if (r->allocator == IMGLEAK_ALLOCATOR_GLIBC)
        p->allocator_free = smaller(p->allocator_free, r->glibc_free);
    else if (r->allocator == IMGLEAK_ALLOCATOR_JEMALLOC)
        p->allocator_free = smaller(p->allocator_free, minus(r->je_resident, r->je_allocated));
    /* the Go runtime's mappings are tracked mappings; what of them is resident is the Go heap */
    p->go_resident = (uint64_t)r->go_resident_pages * 4096;
    p->mappings = minus(r->rss_mmap, p->go_resident);
    p->shim = r->rss_shim;
    p->other = r->rss_rest;
    p->resident = r->rss_measured;
    p->retention = is_retention(p->allocator_free, r->rss_bytes);
}

/* RSS = the program's live heap + the allocator's overhead and free-but-kept memory + tracked
 * mappings + the rest, from the allocator's statistics: snapshots before 1.5, which measured
 * nothing resident. */
static void reconcile_rss(report_process_t *p)
{
    const imgleak_process_rec_t *r = &p->snap->process;
    if (r->rss_measured) {
        reconcile_resident(p);
        return;
    }
    if (r->allocator == IMGLEAK_ALLOCATOR_GLIBC) {
        p->allocator_held = sat_add(r->glibc_arena, r->glibc_mmapped);
        p->allocator_free = r->glibc_free;
    } else if (r->allocator == IMGLEAK_ALLOCATOR_JEMALLOC) {
        p->allocator_held = r->je_resident;
        p->allocator_free = minus(r->je_resident, r->je_allocated);
    }
    p->allocator_overhead = minus(p->allocator_held, p->tracked_heap);
    /* the Go runtime's reservations are mostly untouched address space: only what of them is
     * resident is in RSS, as the Go heap */
    p->go_resident = (uint64_t)r->go_resident_pages * 4096;
    p->other = minus(r->rss_bytes, sat_add(sat_add(p->allocator_held,
                                                   minus(p->tracked_mmap, p->go_runtime_mmap)),
                                           p->go_resident));
    p->live_heap = p->tracked_heap;
    p->mappings = minus(p->tracked_mmap, p->go_runtime_mmap);
    p->resident = r->rss_bytes;
    p->retention = is_retention(p->allocator_free, r->rss_bytes);
}

/* Indirectly leaked blocks also count under the site of the leak they hang from, so that one
 * forgotten destroy reads as one leak holding all it holds. */
static void charge_indirect(site_set_t *set, const snapshot_t *snap, const stack_totals_t *tt)
{
    for (size_t i = 0; i < snap->nroots; i++) {
        const snap_root_t *r = &snap->roots[i];
        const snap_live_t *root = &snap->live[r->live_index];
        const snap_stack_t *st = root->stack_id ? snapshot_stack(snap, root->stack_id) : NULL;
        size_t k = st ? (size_t)(st - snap->stacks) : snap->nstacks;
        unsigned slot = root->kind * NCLASS + IMGLEAK_CLASS_LEAKED;
        size_t e = tt->first[k];
        while (e && tt->slots[e - 1].slot < slot)
            e = tt->slots[e - 1].next;
        size_t site = e && tt->slots[e - 1].slot == slot ? tt->slots[e - 1].site : 0;
        if (!site)
            continue; /* the root was suppressed */
        sat_inc(&set->sites[site - 1].indirect_bytes, r->indirect_bytes);
        sat_inc(&set->sites[site - 1].indirect_blocks, r->indirect_blocks);
    }
}

static int add_snapshot(report_t *rep, size_t *stacks_cap, site_set_t *set,
                        const snapshot_t *snap, symbolizer_t *sym, frame_facts_t *facts,
                        const model_opts_t *opts)
{
    /* index nstacks is "no stack" */
    stack_totals_t tt = {calloc(snap->nstacks + 1, sizeof *tt.first), NULL, 0};
    if (!tt.first)
        return error_set("out of memory"), -1;
    report_process_t *proc = &rep->processes[rep->nprocesses - 1];
    double rate = (double)snap->process.sample_bytes;
    progress_begin("counting", "live blocks", snap->nlive);
    for (size_t i = 0; i < snap->nlive; i++) {
        progress_step(i);
        const snap_live_t *l = &snap->live[i];
        const snap_stack_t *st = l->stack_id ? snapshot_stack(snap, l->stack_id) : NULL;
        size_t k = st ? (size_t)(st - snap->stacks) : snap->nstacks;
        /* a sampled heap block of size s was kept with probability 1 - exp(-s/rate): it stands
         * for the inverse of that many blocks (mappings are always recorded) */
        double weight = 1.0;
        if (rate > 0 && l->kind == IMGLEAK_KIND_HEAP && l->size > 0)
            weight = 1.0 / -expm1(-(double)l->size / rate);
        slot_total_t *t = totals_at(&tt, k, l->kind * NCLASS + l->cls);
        if (!t) {
            progress_end();
            totals_free(&tt);
            return error_set("out of memory"), -1;
        }
        t->bytes += (double)l->size * weight;
        t->blocks += weight;
        if (l->birth_s < t->oldest_birth_s)
            t->oldest_birth_s = l->birth_s;
        sat_inc(l->kind == IMGLEAK_KIND_HEAP ? &proc->tracked_heap : &proc->tracked_mmap,
                sat_from_double((double)l->size * weight));
    }
    progress_end();
    if (rate > 0)
        rep->totals.estimated = 1;
    /* room for a site per stack: the index grows once, not a dozen times for a large snapshot */
    if (slots_reserve_more(&set->index, set->count, snap->nstacks + 1, set_hash_of, set->sites) < 0) {
        totals_free(&tt);
        return error_set("out of memory"), -1;
    }
    progress_begin("symbolizing", "stacks", snap->nstacks + 1);
    for (size_t k = 0; k <= snap->nstacks; k++) {
        progress_step(k);
        if (!tt.first[k])
            continue; /* no live block */
        const snap_stack_t *st = k < snap->nstacks ? &snap->stacks[k] : NULL;
        if (charge_stack(rep, stacks_cap, set, sym, facts, st, &tt, k, opts,
                         model_unclassified(snap)) < 0) {
            progress_end();
            totals_free(&tt);
            return error_set("out of memory"), -1;
        }
    }
    progress_end();
    charge_indirect(set, snap, &tt);
    totals_free(&tt);
    reconcile_rss(proc);
    sat_inc(&rep->totals.dropped_table_full, snap->process.dropped_table_full);
    sat_inc(&rep->totals.truncated_stacks, snap->process.truncated_stacks);
    sat_inc(&rep->totals.dropped_stacks, snap->process.dropped_stacks);
    sat_inc(&rep->totals.oversized_blocks, snap->process.oversized_blocks);
    sat_inc(&rep->totals.failed_snapshots, snap->process.failed_snapshots);
    rep->totals.scan_incomplete += (snap->process.scan_flags & IMGLEAK_SCAN_INCOMPLETE) != 0;
    rep->totals.scan_skipped += (snap->process.scan_flags & IMGLEAK_SCAN_SKIPPED) != 0;
    rep->totals.scan_inherited +=
        (snap->process.scan_flags & (IMGLEAK_SCAN_INHERITED | IMGLEAK_SCAN_INCOMPLETE)) ==
        IMGLEAK_SCAN_INHERITED;
    sat_inc(&rep->totals.unscanned_bytes, snap->process.unscanned_bytes);
    return 0;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

int model_process_cmp(const snapshot_t *a, const snapshot_t *b)
{
    const imgleak_process_rec_t *x = &a->process, *y = &b->process;
    int c = cmp_u64(a->header.pid, b->header.pid);
    if (c == 0)
        c = cmp_u64(x->instance_id, y->instance_id);
    /* a 1.4 file has an instance id, and then start time adds nothing */
    if (c == 0 && x->instance_id == 0)
        c = cmp_u64(x->start_time_ns, y->start_time_ns);
    return c;
}

int model_snapshot_order(const snapshot_t *a, const snapshot_t *b)
{
    int c = cmp_u64(a->header.sequence, b->header.sequence);
    return c ? c : cmp_u64(a->header.time_ns, b->header.time_ns);
}

int model_unclassified(const snapshot_t *snap)
{
    unsigned flags = snap->process.scan_flags;
    if (flags & IMGLEAK_SCAN_INCOMPLETE)
        return UNCLASSIFIED_LOST;
    if (flags & IMGLEAK_SCAN_INHERITED)
        return UNCLASSIFIED_INHERITED;
    return snap->scanned ? UNCLASSIFIED_LOST : 0;
}

int model_totals_incomplete(const report_totals_t *t)
{
    return t->dropped_table_full || t->dropped_stacks || t->oversized_blocks ||
           t->failed_snapshots || t->unattributed_blocks || t->scan_incomplete ||
           t->unclassified_blocks || t->final_missing;
}

typedef struct {
    const snapshot_t *snap;
    size_t index;
} snapshot_place_t;

static int by_process_then_order(const void *a, const void *b)
{
    const snapshot_place_t *x = a, *y = b;
    int c = model_process_cmp(x->snap, y->snap);
    if (c == 0)
        c = model_snapshot_order(x->snap, y->snap);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

size_t *model_by_process(snapshot_t *const *snaps, size_t n)
{
    snapshot_place_t *places = malloc((n ? n : 1) * sizeof *places);
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!places || !order) {
        free(places);
        free(order);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        places[i] = (snapshot_place_t){snaps[i], i};
    qsort(places, n, sizeof *places, by_process_then_order);
    for (size_t i = 0; i < n; i++)
        order[i] = places[i].index;
    free(places);
    return order;
}

/* For each process only its latest snapshot describes what it holds now: of those that say
 * they are equally late, the last given. latest[i] is 1 for those. 0, or -1 when out of memory. */
static int mark_latest(snapshot_t *const *snaps, size_t n, unsigned char *latest)
{
    size_t *order = model_by_process(snaps, n);
    if (!order)
        return -1;
    for (size_t k = 0; k < n; k++)
        latest[order[k]] = k + 1 == n || model_process_cmp(snaps[order[k]], snaps[order[k + 1]]) != 0;
    free(order);
    return 0;
}

int report_build(report_t *rep, snapshot_t **snaps, size_t n, const model_opts_t *opts)
{
    site_set_t set;
    size_t stacks_cap = 0;
    memset(rep, 0, sizeof *rep);
    memset(&set, 0, sizeof set);
    rep->snaps = snaps;
    rep->nsnaps = n;
    rep->nsuppressed = opts->suppress ? opts->suppress->nrules : 0;
    for (size_t i = 0; i < n; i++)
        rep->totals.scanned |= snaps[i]->scanned;
    rep->suppressed = calloc(rep->nsuppressed ? rep->nsuppressed : 1, sizeof *rep->suppressed);
    if (!rep->suppressed)
        return error_set("out of memory"), -1;
    for (size_t i = 0; i < rep->nsuppressed; i++)
        rep->suppressed[i].rule = &opts->suppress->rules[i];
    model_shared_t *shared = opts->shared;
    if (!shared && !(shared = rep->own_shared = model_shared_new()))
        return error_set("out of memory"), -1;
    rep->syms = calloc(n ? n : 1, sizeof *rep->syms);
    rep->processes = calloc(n ? n : 1, sizeof *rep->processes);
    unsigned char *latest = calloc(n ? n : 1, 1);
    if (!rep->syms || !rep->processes || !latest || mark_latest(snaps, n, latest) < 0) {
        free(latest);
        return error_set("out of memory"), -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!latest[i])
            continue;
        if (reader_reload(snaps[i]) < 0) { /* released by the inputs (reader.h) */
            free(latest);
            return -1;
        }
        rep->syms[i] = symbolizer_new_shared(shared->symbols, snaps[i]);
        if (!rep->syms[i]) {
            free(latest);
            return error_set("out of memory"), -1;
        }
        memset(&rep->processes[rep->nprocesses], 0, sizeof rep->processes[0]);
        rep->processes[rep->nprocesses++].snap = snaps[i];
        if (add_snapshot(rep, &stacks_cap, &set, snaps[i], rep->syms[i], &shared->facts, opts) < 0 ||
            model_add_handles(rep, snaps[i], rep->syms[i], opts) < 0) {
            rep->sites = set.sites;
            rep->nsites = set.count;
            slots_free(&set.index);
            free(latest);
            return -1;
        }
    }
    free(latest);
    slots_free(&set.index);
    model_sort_handles(rep);
    /* totals are the sites' sums, so that they agree exactly when estimates were rounded */
    for (size_t i = 0; i < set.count; i++) {
        const leak_site_t *s = &set.sites[i];
        if (s->cls == IMGLEAK_CLASS_REACHABLE)
            continue; /* listed with --show-reachable, never counted as leaked */
        sat_inc(&rep->totals.leaked_bytes, s->bytes);
        sat_inc(&rep->totals.leaked_blocks, s->blocks);
        sat_inc(s->kind == IMGLEAK_KIND_HEAP ? &rep->totals.heap_bytes : &rep->totals.mmap_bytes, s->bytes);
        sat_inc(s->kind == IMGLEAK_KIND_HEAP ? &rep->totals.heap_blocks : &rep->totals.mmap_blocks, s->blocks);
    }
    rep->sites = set.sites;
    rep->nsites = set.count;
    if (model_build_entries(rep, !opts->unsorted) < 0)
        return -1;
    return model_build_inputs(rep);
}

void report_free(report_t *rep)
{
    for (size_t i = 0; i < rep->nstacks; i++)
        if (!rep->stacks[i].frames_shared)
            free(rep->stacks[i].frames);
    free(rep->stacks);
    free(rep->suppressed);
    for (size_t i = 0; i < rep->nsites; i++) {
        free(rep->sites[i].groups);
        input_list_free(&rep->sites[i].inputs);
    }
    free(rep->sites);
    for (size_t i = 0; i < rep->nindirect; i++)
        input_list_free(&rep->indirect[i].inputs);
    free(rep->indirect);
    input_list_free(&rep->inputs);
    model_free_handles(rep);
    if (rep->growth) {
        growth_free(rep->growth);
        free(rep->growth);
    }
    for (size_t i = 0; i < rep->nsnaps; i++) {
        if (rep->syms)
            symbolizer_free(rep->syms[i]);
        reader_free(rep->snaps[i]);
    }
    free(rep->syms);
    free(rep->snaps);
    free(rep->processes);
    for (size_t i = 0; i < rep->nskipped; i++) {
        free(rep->skipped[i].path);
        free(rep->skipped[i].why);
    }
    free(rep->skipped);
    model_shared_free(rep->own_shared); /* last: the report's strings are in it */
    memset(rep, 0, sizeof *rep);
}

model_shared_t *model_shared_new(void)
{
    model_shared_t *shared = calloc(1, sizeof *shared);
    if (shared && !(shared->symbols = symbols_new())) {
        free(shared);
        return NULL;
    }
    return shared;
}

void model_shared_free(model_shared_t *shared)
{
    if (!shared)
        return;
    frame_facts_free(&shared->facts);
    symbols_free(shared->symbols);
    free(shared);
}
