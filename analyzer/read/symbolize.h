/* Turning return addresses into functions, source files and lines, offline, from the modules' own
 * ELF files (libdwfl/libdw): inlined frames expanded, separate debug files found by build-id,
 * module+offset where nothing better is known. Results are cached per address. */
#ifndef IMGLEAK_SYMBOLIZE_H
#define IMGLEAK_SYMBOLIZE_H

#include "reader.h"

#include <stdint.h>

typedef struct {
    const char *function; /* NULL when unknown */
    const char *file;     /* NULL when unknown */
    unsigned line;        /* 0 when unknown */
    const char *module;   /* path of the module, NULL when the address is in none */
    uint64_t address;     /* the return address */
    uint64_t offset;      /* address relative to the module's load bias */
    unsigned module_flags;
    int inlined;          /* 1: this frame was inlined into the next one */
    int script;           /* 1: a frame of an interpreted language (a Python function), not native */
    int app;              /* set by the model: the frame is the application's (attribute.h) */
} frame_t;

typedef struct symbolizer symbolizer_t;
/* What is known of the modules of one or more snapshots: each module (a file at a load bias) is
 * opened and its DWARF read once, its addresses symbolized once, and every string interned once,
 * however many snapshots map it (a series of one process). Outlives the symbolizers using it. */
typedef struct symbols symbols_t;

symbols_t *symbols_new(void); /* NULL when out of memory */
void symbols_free(symbols_t *symbols);

/* One symbolizer per snapshot (its module map), over shared symbols (NULL: its own). Warns once
 * per module that is missing on disk or whose build-id does not match the snapshot. NULL only
 * when out of memory. */
symbolizer_t *symbolizer_new_shared(symbols_t *shared, const snapshot_t *snap);
symbolizer_t *symbolizer_new(const snapshot_t *snap);
void symbolizer_free(symbolizer_t *sym);
/* Which address space the symbolizer's snapshot has: the same for snapshots whose modules are
 * mapped alike over the same symbols (so one address is the same frames in both). */
uint64_t symbolizer_map_id(const symbolizer_t *sym);

/* The frames for one return address, innermost (most inlined) first; *count is set.
 * The array and its strings live as long as the symbols (the symbolizer's own ones, or those
 * given to symbolizer_new_shared). */
const frame_t *symbolize(symbolizer_t *sym, uint64_t address, unsigned *count);

#endif
