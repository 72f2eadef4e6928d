/* Handles: MagickWands, jpeg and png structs, GIF files, WebP buffers, cairo objects, TIFFs,
 * VipsImages, descriptors, created by a function of the catalogue (catalog.h) and not yet
 * destroyed. Kept apart from the live table:
 * a handle's address is often a heap block's too, and create/destroy calls are rare enough for a
 * mutex. Misuse (a destroy of a handle never created, twice, or with another type's function)
 * and handles created anew over a live one are counted per type and stack. */
#ifndef IMGLEAK_HANDLES_H
#define IMGLEAK_HANDLES_H

#include <stdint.h>

enum { /* what a handle event was, as written in the snapshot (format.h IMGLEAK_HANDLE_*) */
    HANDLE_LIVE = 1,
    HANDLE_ABANDONED = 2,
    HANDLE_DESTROY_UNKNOWN = 3,
    HANDLE_DESTROY_TWICE = 4,
    HANDLE_DESTROY_WRONG = 5,
};

typedef struct {
    uint64_t address;
    uint32_t type;     /* the catalogue's type id (catalog.h) */
    uint32_t function; /* the catalogue's function id: the create (or the destroy) */
    uint32_t stack_id;
    uint32_t birth_s;
    uint32_t refs;
    uint32_t state; /* HANDLE_* */
    uint64_t count; /* 1 for a live handle; how many for an aggregated event */
} handle_rec_t;

int handles_init(void);
void handles_after_fork_child(void);

/* flags of handles_create: the create may replace a live handle at the same address */
#define HANDLES_REPLACES 1u
/* ... or, for a refcounted type, return a live one again: one more reference (a cached object) */
#define HANDLES_SHARED 2u
void handles_create(uint64_t address, uint32_t type, uint32_t function, uint32_t stack_id,
                    uint32_t birth_s, unsigned flags);
void handles_reference(uint64_t address);
/* 1 when a handle is live at address. */
int handles_live(uint64_t address);
/* The handle at address, if of one of types, was reinitialised without being destroyed. */
void handles_reset(uint64_t address, uint64_t types);
/* types: bit mask of the types this destroy function accepts. report_misuse: 0 for a call
 * from inside the library itself, whose internal handles were never ours. Returns 1 + the type
 * of the handle destroyed when one was (its count reached zero), else 0. */
unsigned handles_destroy(uint64_t address, uint64_t types, uint32_t function, int report_misuse,
                    uint32_t (*stack_now)(void), uint32_t birth_s);

/* The live handle at address was given an input (inputs.h) after it was created: its creating
 * stack is interned again under the input, so the handle is charged to it. */
void handles_charge_to_input(uint64_t address, uint32_t input);
/* Forgets every live handle of this type without an event (a forked child's inherited
 * descriptors are its parent's). */
void handles_forget_type(uint32_t type);
/* Forgets every live handle at an address from first to last (descriptors closed together). */
void handles_forget_range(uint64_t first, uint64_t last);

void handles_foreach(void (*visit)(const handle_rec_t *rec, void *ctx), void *ctx);

#endif
