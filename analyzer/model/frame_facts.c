/* Facts about frames, found once per distinct frame (see frame_facts.h). */
#include "frame_facts.h"

#include "grow.h"

#include <stdint.h>
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

const frame_fact_t *frame_facts_of(frame_facts_t *ff, const frame_t *f,
                                   const attribute_opts_t *attribute,
                                   const suppressions_t *suppress)
{
    if (ff->app_patterns != attribute->app_patterns || ff->napp != attribute->napp ||
        ff->suppress != suppress) {
        frame_facts_free(ff);
        ff->app_patterns = attribute->app_patterns;
        ff->napp = attribute->napp;
        ff->suppress = suppress;
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

void frame_facts_free(frame_facts_t *ff)
{
    free(ff->facts);
    slots_free(&ff->index);
    memset(ff, 0, sizeof *ff);
}
