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

typedef struct {
    frame_fact_t *facts;
    size_t count;
    slots_t index;
    /* the options the facts were found under: other ones start again */
    const char **app_patterns;
    size_t napp;
    const suppressions_t *suppress;
} frame_facts_t;

/* The facts of f under these options; NULL when out of memory. */
const frame_fact_t *frame_facts_of(frame_facts_t *ff, const frame_t *f,
                                   const attribute_opts_t *attribute,
                                   const suppressions_t *suppress);
void frame_facts_free(frame_facts_t *ff);

#endif
