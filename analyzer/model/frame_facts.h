/* What the model asks of every frame of every stack, answered once per distinct frame: is it the
 * application's (attribute.h), and the first suppression rule that matches it (suppress.h). A
 * stack's site is its first application frame and its rule the lowest of its frames' rules, so
 * a stack costs a lookup per frame instead of a pattern match per frame and rule. Frames are
 * told apart by their strings' addresses: the symbols intern them, and the facts live as long. */
#ifndef IMGLEAK_FRAME_FACTS_H
#define IMGLEAK_FRAME_FACTS_H

#include "attribute.h"
#include "slots.h"
#include "suppress.h"

typedef struct {
    const char *function, *file, *module;
    unsigned module_flags;
    int app;
    long rule; /* -1: no rule matches */
} frame_fact_t;

/* A stack as the model charges it: its frames with inlined ones expanded, its site, its rule.
 * The same return addresses in the same address space (symbolize.h) are the same stack in every
 * snapshot of a series: found once, its frames shared by the reports. */
typedef struct {
    uint64_t map_id;
    uint64_t *addresses;
    unsigned naddresses;
    frame_t *frames; /* owned */
    size_t depth, at;
    int in_app, runtime;
    long rule;
    frame_t site;       /* frames[at], beside the rest: what every snapshot's charging reads */
    uint64_t site_hash; /* of frames[at], for the report's site index */
    uint64_t hash;      /* of map_id and addresses: the index's (set by stack_facts_keep) */
} stack_fact_t;

typedef struct {
    frame_fact_t *facts;
    size_t count;
    slots_t index;
    stack_fact_t *stacks;
    size_t nstacks;
    slots_t stack_index;
    /* the stacks by their snapshot id (1 + an index of stacks[]; 0: not known) in one address
     * space: the shim names a stack by the same id in every snapshot of a series, so the next
     * snapshot finds it by its id and compares its addresses, without a search */
    uint64_t by_id_map;
    size_t *by_id;
    size_t nby_id;
    int bypass; /* asked under other options than the first: nothing is kept */
    frame_fact_t scratch;
    /* the options the facts were found under: other ones start again */
    const char **app_patterns;
    size_t napp;
    const suppressions_t *suppress;
} frame_facts_t;

/* The facts of f under these options; NULL when out of memory. */
const frame_fact_t *frame_facts_of(frame_facts_t *ff, const frame_t *f,
                                   const attribute_opts_t *attribute,
                                   const suppressions_t *suppress);
/* The stack already found in this address space with these addresses under these options, or
 * NULL: then *slot is where stack_facts_keep puts it, or NULL when it is not to be kept. id is
 * the snapshot's id of the stack. */
const stack_fact_t *stack_facts_find(frame_facts_t *ff, const attribute_opts_t *attribute,
                                     const suppressions_t *suppress, uint64_t map_id, uint32_t id,
                                     const uint64_t *addresses, unsigned n, size_t **slot);
/* Keeps a copy of *fact (stack id of its snapshot), which takes its frames; NULL when out of
 * memory (the frames are freed). */
const stack_fact_t *stack_facts_keep(frame_facts_t *ff, size_t *slot, uint32_t id,
                                     const stack_fact_t *fact);
void frame_facts_free(frame_facts_t *ff);

#endif
