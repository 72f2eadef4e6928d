/* Codec handles in the report model (see model.h): live and abandoned handles are grouped by
 * type, create function and the call site of the create; misuse by kind, type, destroy function
 * and call site. A group's retained bytes are the live heap blocks allocated inside its create
 * calls: blocks whose stack passes through the create call's return address. */
#include "error.h"
#include "grow.h"
#include "model.h"
#include "saturate.h"
#include "slots.h"

#include <stdlib.h>
#include <string.h>

static int same_group(const handle_group_t *g, const char *type, const char *function,
                      unsigned state, const frame_t *site)
{
    return g->state == state && strcmp(g->type, type) == 0 && strcmp(g->function, function) == 0 &&
           model_frames_equal(&g->site, site);
}

/* The groups of one list by their key (slots.h): a crafted snapshot of many handles at
 * distinct sites must not make the grouping quadratic. Made for each snapshot over the groups
 * of earlier ones too. */
typedef struct {
    const char *type, *function;
    unsigned state;
    const frame_t *site;
} group_key_t;

static uint64_t group_hash(const group_key_t *k)
{
    uint64_t h = slots_hash_string(slots_hash_string(slots_hash_frame(k->site), k->type),
                                   k->function);
    return h ^ k->state;
}

static uint64_t group_hash_of(size_t item, const void *ctx)
{
    const handle_group_t *g = &((const handle_group_t *)ctx)[item];
    group_key_t k = {g->type, g->function, g->state, &g->site};
    return group_hash(&k);
}

static int same_group_key(size_t item, const void *key, const void *ctx)
{
    const group_key_t *k = key;
    return same_group(&((const handle_group_t *)ctx)[item], k->type, k->function, k->state,
                      k->site);
}

/* Finds or adds the group; takes ownership of frames (freed when the group has its own). */
static handle_group_t *group_for(handle_group_t **groups, size_t *n, slots_t *ix,
                                 const snap_name_t *type, const snap_name_t *function,
                                 unsigned state, frame_t *frames, size_t depth, size_t at,
                                 int in_app)
{
    static const frame_t no_stack = {.function = "(no stack recorded)"};
    const frame_t *site = depth ? &frames[at] : &no_stack;
    if (slots_reserve(ix, *n, group_hash_of, *groups) < 0) {
        free(frames);
        return NULL;
    }
    group_key_t key = {type->name, function->name, state, site};
    size_t *slot = slots_find(ix, group_hash(&key), same_group_key, &key, *groups);
    if (*slot) {
        free(frames);
        return &(*groups)[*slot - 1];
    }
    if (grow_for(groups, *n, sizeof **groups) < 0) {
        free(frames);
        return NULL;
    }
    *slot = *n + 1;
    handle_group_t *g = &(*groups)[(*n)++];
    memset(g, 0, sizeof *g);
    g->type = type->name;
    g->library = type->library;
    g->function = function->name;
    g->state = state;
    g->site = *site;
    g->in_app = in_app;
    g->stack = frames;
    g->depth = depth;
    g->site_index = at;
    return g;
}

static int by_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A buffer handle (a WebP or TurboJPEG buffer) is a heap block; if no live block starts at its
 * address, the program released it with free(), which is allowed. The sorted addresses of the
 * live heap blocks are made on first need. */
static int block_is_live(const snapshot_t *snap, uint64_t **sorted, size_t *n, uint64_t address)
{
    if (!*sorted) {
        *sorted = malloc((snap->nlive ? snap->nlive : 1) * sizeof **sorted);
        if (!*sorted)
            return 1; /* out of memory: keep the handle rather than hide it */
        for (size_t i = 0; i < snap->nlive; i++)
            if (snap->live[i].kind == IMGLEAK_KIND_HEAP)
                (*sorted)[(*n)++] = snap->live[i].address;
        qsort(*sorted, *n, sizeof **sorted, by_u64);
    }
    return bsearch(&address, *sorted, *n, sizeof **sorted, by_u64) != NULL;
}

typedef struct {
    uint64_t address;      /* a create call's return address */
    handle_group_t *group; /* index resolved after all groups exist */
    size_t group_index;
} create_site_t;

static int by_address(const void *a, const void *b)
{
    uint64_t x = ((const create_site_t *)a)->address, y = ((const create_site_t *)b)->address;
    return x < y ? -1 : x > y;
}

/* Charges every live heap block allocated inside a create call to that create's group. */
static void add_retained(report_t *rep, const snapshot_t *snap, create_site_t *sites, size_t n)
{
    if (n == 0)
        return;
    qsort(sites, n, sizeof *sites, by_address);
    for (size_t i = 0; i < snap->nlive; i++) {
        const snap_live_t *l = &snap->live[i];
        const snap_stack_t *st = l->stack_id ? snapshot_stack(snap, l->stack_id) : NULL;
        for (unsigned f = 0; st && f < st->depth; f++) {
            create_site_t key = {st->frames[f], NULL, 0};
            create_site_t *hit = bsearch(&key, sites, n, sizeof *sites, by_address);
            if (hit) {
                handle_group_t *g = &rep->handles[hit->group_index];
                sat_inc(&g->retained_bytes, l->size);
                sat_inc(&g->retained_blocks, 1);
                break;
            }
        }
    }
}

/* The descriptor types the shim tracks for every program (fd, FILE: declfile.h's DECL_LIBC_*). */
static int is_descriptor(const snap_name_t *type)
{
    return type && type->name && type->library && strcmp(type->library, "libc") == 0 &&
           (strcmp(type->name, "fd") == 0 || strcmp(type->name, "FILE") == 0);
}

int model_add_handles(report_t *rep, const snapshot_t *snap, symbolizer_t *sym,
                      const model_opts_t *opts)
{
    create_site_t *sites = calloc(snap->nhandles ? snap->nhandles : 1, sizeof *sites);
    size_t nsites = 0, nheap = 0;
    uint64_t *heap = NULL;
    slots_t leaks_ix = {NULL, 0}, misuse_ix = {NULL, 0};
    if (!sites)
        return error_set("out of memory"), -1;
    for (size_t i = 0; i < snap->nhandles; i++) {
        const snap_handle_t *h = &snap->handles[i];
        const snap_name_t *type = snapshot_handle_type(snap, h->type);
        const snap_name_t *function = snapshot_handle_function(snap, h->function);
        int leaked = h->state == IMGLEAK_HANDLE_LIVE || h->state == IMGLEAK_HANDLE_ABANDONED;
        if (h->state == IMGLEAK_HANDLE_LIVE && (type->flags & IMGLEAK_HTYPE_BUFFER) &&
            !block_is_live(snap, &heap, &nheap, h->address))
            continue;
        const snap_stack_t *st = h->stack_id ? snapshot_stack(snap, h->stack_id) : NULL;
        size_t depth = 0;
        frame_t *frames = st ? model_expand_stack(sym, st, &depth) : NULL;
        if (st && !frames) {
            free(sites);
            free(heap);
            slots_free(&leaks_ix);
            slots_free(&misuse_ix);
            return error_set("out of memory"), -1;
        }
        size_t at = depth ? attribute_site(frames, depth, &opts->attribute) : 0;
        int in_app = depth && attribute_is_app(&frames[at], &opts->attribute);
        if (leaked && !in_app && depth && is_descriptor(type)) {
            /* opened where no frame is the program's: an interpreter's event loop, a library's
             * own file; theirs to keep open until the end, not the program's to close */
            free(frames);
            continue;
        }
        long rule = leaked ? suppress_match(opts->suppress, frames, depth) : -1;
        if (rule >= 0) {
            sat_inc(&rep->suppressed[rule].handles, h->count);
            sat_inc(&rep->totals.suppressed_handles, h->count);
            free(frames);
            continue;
        }
        handle_group_t *g =
            leaked ? group_for(&rep->handles, &rep->nhandles, &leaks_ix, type, function,
                               IMGLEAK_HANDLE_LIVE, frames, depth, at, in_app)
                   : group_for(&rep->misuse, &rep->nmisuse, &misuse_ix, type, function, h->state,
                               frames, depth, at, in_app);
        if (!g) {
            free(sites);
            free(heap);
            slots_free(&leaks_ix);
            slots_free(&misuse_ix);
            return error_set("out of memory"), -1;
        }
        sat_inc(&g->count, h->count);
        if (leaked) {
            sat_inc(&rep->totals.leaked_handles, h->count);
            if (st && st->input && input_list_add(&g->inputs, st->input, 0, 0, h->count) < 0) {
                free(sites);
                free(heap);
                slots_free(&leaks_ix);
                slots_free(&misuse_ix);
                return error_set("out of memory"), -1;
            }
            if (h->state == IMGLEAK_HANDLE_ABANDONED)
                sat_inc(&g->abandoned, h->count);
            if (st && st->depth)
                sites[nsites++] = (create_site_t){st->frames[0], NULL, (size_t)(g - rep->handles)};
        } else {
            sat_inc(&rep->totals.misused_handles, h->count);
        }
    }
    add_retained(rep, snap, sites, nsites);
    free(sites);
    free(heap);
    slots_free(&leaks_ix);
    slots_free(&misuse_ix);
    return 0;
}

static int by_count(const void *a, const void *b)
{
    const handle_group_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->retained_bytes > y->retained_bytes ? -1 : x->retained_bytes < y->retained_bytes;
}

void model_sort_handles(report_t *rep)
{
    if (rep->nhandles)
        qsort(rep->handles, rep->nhandles, sizeof *rep->handles, by_count);
    if (rep->nmisuse)
        qsort(rep->misuse, rep->nmisuse, sizeof *rep->misuse, by_count);
}

void model_free_handles(report_t *rep)
{
    for (size_t i = 0; i < rep->nhandles; i++) {
        free(rep->handles[i].stack);
        input_list_free(&rep->handles[i].inputs);
    }
    for (size_t i = 0; i < rep->nmisuse; i++)
        free(rep->misuse[i].stack);
    free(rep->handles);
    free(rep->misuse);
    rep->handles = rep->misuse = NULL;
    rep->nhandles = rep->nmisuse = 0;
}
