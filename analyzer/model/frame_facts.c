/* Facts about frames, found once per distinct frame (see frame_facts.h). */
#include "frame_facts.h"

#include "grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t fact_hash(const char *function, const char *file, const char *module,
                          unsigned flags)
{
    uint64_t h = (uintptr_t)function * 0x9e3779b97f4a7c15u;
    h = (h ^ (uintptr_t)file) * 0xff51afd7ed558ccdu;
    h = (h ^ (uintptr_t)module) * 0xc4ceb9fe1a85ec53u;
    return (h ^ flags) ^ h >> 29;
}

static uint64_t fact_hash_of(size_t item, const void *ctx)
{
    const frame_fact_t *x = &((const frame_fact_t *)ctx)[item];
    return fact_hash(x->function, x->file, x->module, x->module_flags);
}

static int same_fact(size_t item, const void *key, const void *ctx)
{
    const frame_fact_t *x = &((const frame_fact_t *)ctx)[item];
    const frame_t *f = key;
    return x->function == f->function && x->file == f->file && x->module == f->module &&
           x->module_flags == f->module_flags;
}

/* Facts are kept for the options they were first asked under. Under others (no command asks
 * so today) they are found afresh and nothing is kept: the kept stacks' frames may be in reports
 * still, so they cannot be dropped. */
static int keeping(frame_facts_t *ff, const attribute_opts_t *attribute,
                   const suppressions_t *suppress)
{
    if (!ff->count && !ff->nstacks && !ff->bypass) {
        ff->app_patterns = attribute->app_patterns;
        ff->napp = attribute->napp;
        ff->suppress = suppress;
    } else if (ff->app_patterns != attribute->app_patterns || ff->napp != attribute->napp ||
               ff->suppress != suppress) {
        ff->bypass = 1;
        return 0;
    }
    return 1;
}

const frame_fact_t *frame_facts_of(frame_facts_t *ff, const frame_t *f,
                                   const attribute_opts_t *attribute,
                                   const suppressions_t *suppress)
{
    if (!keeping(ff, attribute, suppress)) {
        frame_fact_t *x = &ff->scratch;
        *x = (frame_fact_t){f->function, f->file, f->module, f->module_flags,
                            attribute_is_app(f, attribute), suppress_match(suppress, f, 1)};
        return x;
    }
    if (slots_reserve(&ff->index, ff->count, fact_hash_of, ff->facts) < 0)
        return NULL;
    size_t *slot = slots_find(&ff->index, fact_hash(f->function, f->file, f->module, f->module_flags),
                              same_fact, f, ff->facts);
    if (*slot)
        return &ff->facts[*slot - 1];
    if (grow_for(&ff->facts, ff->count, sizeof *ff->facts) < 0)
        return NULL;
    frame_fact_t *x = &ff->facts[ff->count];
    *x = (frame_fact_t){f->function, f->file, f->module, f->module_flags,
                        attribute_is_app(f, attribute), suppress_match(suppress, f, 1)};
    *slot = ++ff->count;
    return x;
}

static uint64_t stack_hash(uint64_t map_id, const uint64_t *addresses, unsigned n)
{
    uint64_t h = map_id * 0x9e3779b97f4a7c15u + n;
    for (unsigned i = 0; i < n; i++)
        h = (h ^ addresses[i]) * 0xff51afd7ed558ccdu;
    return h ^ h >> 31;
}

static uint64_t stack_hash_of(size_t item, const void *ctx)
{
    return ((const stack_fact_t *)ctx)[item].hash;
}

typedef struct {
    uint64_t map_id, hash;
    const uint64_t *addresses;
    unsigned n;
} stack_key_t;

/* the hash first: the probes that pass another stack cost no comparison of addresses */
static int same_stack(size_t item, const void *key, const void *ctx)
{
    const stack_fact_t *x = &((const stack_fact_t *)ctx)[item];
    const stack_key_t *k = key;
    return x->hash == k->hash && x->map_id == k->map_id && x->naddresses == k->n &&
           memcmp(x->addresses, k->addresses, k->n * sizeof *k->addresses) == 0;
}

/* Remembers that stack id of address space map_id is stacks[item]. Ids are what the shim
 * numbers 1, 2, ...: one far beyond the stacks known (a crafted file) is not remembered, so the
 * array never outgrows them. */
static void remember_id(frame_facts_t *ff, uint64_t map_id, uint32_t id, size_t item)
{
    if (ff->by_id_map != map_id) {
        if (ff->nby_id)
            memset(ff->by_id, 0, ff->nby_id * sizeof *ff->by_id);
        ff->by_id_map = map_id;
    }
    if (id >= ff->nby_id) {
        if (id > 2 * ff->nstacks + 4096)
            return;
        size_t n = ff->nby_id ? ff->nby_id : 1024;
        while (n <= id)
            n *= 2;
        size_t *grown = realloc(ff->by_id, n * sizeof *grown);
        if (!grown)
            return; /* only slower */
        memset(grown + ff->nby_id, 0, (n - ff->nby_id) * sizeof *grown);
        ff->by_id = grown;
        ff->nby_id = n;
    }
    ff->by_id[id] = item + 1;
}

const stack_fact_t *stack_facts_find(frame_facts_t *ff, const attribute_opts_t *attribute,
                                     const suppressions_t *suppress, uint64_t map_id, uint32_t id,
                                     const uint64_t *addresses, unsigned n, size_t **slot)
{
    *slot = NULL;
    if (!keeping(ff, attribute, suppress) || ff->bypass)
        return NULL;
    if (ff->by_id_map == map_id && id < ff->nby_id && ff->by_id[id]) {
        const stack_fact_t *x = &ff->stacks[ff->by_id[id] - 1];
        if (x->naddresses == n && memcmp(x->addresses, addresses, n * sizeof *addresses) == 0)
            return x;
    }
    if (slots_reserve(&ff->stack_index, ff->nstacks, stack_hash_of, ff->stacks) < 0)
        return NULL;
    stack_key_t key = {map_id, stack_hash(map_id, addresses, n), addresses, n};
    *slot = slots_find(&ff->stack_index, key.hash, same_stack, &key, ff->stacks);
    if (!**slot)
        return NULL;
    remember_id(ff, map_id, id, **slot - 1);
    return &ff->stacks[**slot - 1];
}

const stack_fact_t *stack_facts_keep(frame_facts_t *ff, size_t *slot, uint32_t id,
                                     const stack_fact_t *fact)
{
    uint64_t *copy = malloc((fact->naddresses ? fact->naddresses : 1) * sizeof *copy);
    if (!copy || grow_for(&ff->stacks, ff->nstacks, sizeof *ff->stacks) < 0) {
        free(copy);
        free(fact->frames);
        return NULL;
    }
    memcpy(copy, fact->addresses, fact->naddresses * sizeof *copy);
    stack_fact_t *x = &ff->stacks[ff->nstacks];
    *x = *fact;
    x->addresses = copy;
    x->hash = stack_hash(x->map_id, copy, x->naddresses);
    *slot = ++ff->nstacks;
    remember_id(ff, x->map_id, id, ff->nstacks - 1);
    return x;
}

void frame_facts_free(frame_facts_t *ff)
{
    for (size_t i = 0; i < ff->nstacks; i++) {
        free(ff->stacks[i].addresses);
        free(ff->stacks[i].frames);
    }
    free(ff->stacks);
    slots_free(&ff->stack_index);
    free(ff->by_id);
    free(ff->facts);
    slots_free(&ff->index);
    memset(ff, 0, sizeof *ff);
}
