/* One leak, one entry (see model.h). The model charges memory to call sites by class; a user
 * fixes leaks one root at a time, so the entries are the sites that root a leak: what hangs from
 * them is counted under them (indirect sites move to a list of their own), and the handles a
 * forgotten destroy left behind join the entry of the call that created them, since the handle's
 * object is one of that site's leaked blocks. A handle group whose site holds no listed memory
 * (a struct on the stack, a snapshot not scanned, memory charged to another line) becomes an
 * entry of its own. */
#include "error.h"
#include "model.h"
#include "slots.h"

#include <stdlib.h>
#include <string.h>

#define NONE SIZE_MAX

/* Which class of site a handle group joins, best first: where its object leaked, where nothing
 * was scanned, where only interior pointers were found, where it is still reachable. */
static int join_rank(unsigned cls)
{
    switch (cls) {
    case IMGLEAK_CLASS_LEAKED: return 0;
    case IMGLEAK_CLASS_UNKNOWN: return 1;
    case IMGLEAK_CLASS_POSSIBLE: return 2;
    case IMGLEAK_CLASS_REACHABLE: return 3;
    default: return 4;
    }
}

/* Open addressing from a site's frame to the best heap site there to join. */
typedef struct {
    size_t *slots;
    size_t mask;
} site_index_t;

/* as model_frames_equal compares: the frame's hash (the model's, found once per site) and line */
static size_t index_hash(uint64_t frame_hash, unsigned line)
{
    uint64_t h = frame_hash ^ line * 0x9e3779b97f4a7c15u;
    h ^= h >> 31;
    h *= 0xff51afd7ed558ccdu;
    return (size_t)(h ^ h >> 29);
}

static int index_build(site_index_t *ix, const leak_site_t *sites, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    ix->slots = malloc(cap * sizeof *ix->slots);
    if (!ix->slots)
        return -1;
    ix->mask = cap - 1;
    for (size_t i = 0; i < cap; i++)
        ix->slots[i] = NONE;
    for (size_t i = 0; i < n; i++) {
        if (sites[i].kind != IMGLEAK_KIND_HEAP)
            continue;
        size_t j = index_hash(sites[i].frame_hash, sites[i].site.line) & ix->mask;
        for (; ix->slots[j] != NONE; j = (j + 1) & ix->mask) {
            const leak_site_t *there = &sites[ix->slots[j]];
            if (model_frames_equal(&there->site, &sites[i].site))
                break;
        }
        if (ix->slots[j] == NONE || join_rank(sites[i].cls) < join_rank(sites[ix->slots[j]].cls))
            ix->slots[j] = i;
    }
    return 0;
}

static size_t index_find(const site_index_t *ix, const leak_site_t *sites, const frame_t *f)
{
    for (size_t j = index_hash(model_frame_hash(f), f->line) & ix->mask; ix->slots[j] != NONE;
         j = (j + 1) & ix->mask)
        if (model_frames_equal(&sites[ix->slots[j]].site, f))
            return ix->slots[j];
    return NONE;
}

/* Moves the indirect sites to rep->indirect, keeping the order of both. */
static int split_indirect(report_t *rep, int sort)
{
    size_t n = 0;
    for (size_t i = 0; i < rep->nsites; i++)
        n += rep->sites[i].cls == IMGLEAK_CLASS_INDIRECT;
    rep->indirect = calloc(n ? n : 1, sizeof *rep->indirect);
    if (!rep->indirect)
        return -1;
    size_t kept = 0;
    for (size_t i = 0; i < rep->nsites; i++) {
        if (rep->sites[i].cls == IMGLEAK_CLASS_INDIRECT)
            rep->indirect[rep->nindirect++] = rep->sites[i];
        else
            rep->sites[kept++] = rep->sites[i];
    }
    rep->nsites = kept;
    return sort ? model_sort_sites(&rep->indirect, rep->nindirect) : 0;
}

/* An entry for a handle group whose site holds no memory the report lists. */
static size_t add_handle_entry(report_t *rep, size_t *capacity, const handle_group_t *g)
{
    if (rep->nsites == *capacity) {
        size_t cap = *capacity ? *capacity * 2 : 16;
        leak_site_t *grown = realloc(rep->sites, cap * sizeof *grown);
        if (!grown)
            return NONE;
        rep->sites = grown;
        *capacity = cap;
    }
    leak_site_t *s = &rep->sites[rep->nsites];
    memset(s, 0, sizeof *s);
    s->site = g->site;
    s->frame_hash = model_frame_hash(&g->site);
    s->kind = IMGLEAK_KIND_HEAP;
    s->cls = rep->totals.scanned ? IMGLEAK_CLASS_LEAKED : IMGLEAK_CLASS_UNKNOWN;
    s->in_app = g->in_app;
    s->stack = g->stack;
    s->depth = g->depth;
    s->site_index = g->site_index;
    s->nstacks = 1;
    s->oldest_birth_s = UINT32_MAX;
    return rep->nsites++;
}

static int attach(leak_site_t *s, handle_group_t *g)
{
    handle_group_t **grown = realloc(s->groups, (s->ngroups + 1) * sizeof *grown);
    if (!grown)
        return -1;
    s->groups = grown;
    s->groups[s->ngroups++] = g;
    s->handles += g->count;
    return 0;
}

int model_build_entries(report_t *rep, int sort)
{
    site_index_t ix = {NULL, 0};
    size_t *joins = calloc(rep->nhandles ? rep->nhandles : 1, sizeof *joins);
    /* the index serves the handle groups only */
    if (!joins || split_indirect(rep, sort) < 0 ||
        (rep->nhandles && index_build(&ix, rep->sites, rep->nsites) < 0))
        goto oom;
    size_t capacity = rep->nsites;
    for (size_t i = 0; i < rep->nhandles; i++) {
        size_t at = index_find(&ix, rep->sites, &rep->handles[i].site);
        /* still reachable memory is listed only on request; a handle never destroyed is not */
        if (at != NONE && rep->sites[at].cls == IMGLEAK_CLASS_REACHABLE)
            at = NONE;
        if (at == NONE && (at = add_handle_entry(rep, &capacity, &rep->handles[i])) == NONE)
            goto oom;
        joins[i] = at;
    }
    for (size_t i = 0; i < rep->nhandles; i++)
        if (attach(&rep->sites[joins[i]], &rep->handles[i]) < 0)
            goto oom;
    if (sort && model_sort_sites(&rep->sites, rep->nsites) < 0)
        goto oom;
    for (size_t i = 0; i < rep->nsites; i++)
        for (size_t k = 0; k < rep->sites[i].ngroups; k++)
            rep->sites[i].groups[k]->entry = i + 1;
    free(ix.slots);
    free(joins);
    return 0;
oom:
    free(ix.slots);
    free(joins);
    return error_set("out of memory"), -1;
}
