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

/* One symbolizer per snapshot (its module map). Warns once per module that is missing on disk
 * or whose build-id does not match the snapshot. NULL only when out of memory. */
symbolizer_t *symbolizer_new(const snapshot_t *snap);
void symbolizer_free(symbolizer_t *sym);

/* The frames for one return address, innermost (most inlined) first; *count is set.
 * The array and its strings live as long as the symbolizer. */
const frame_t *symbolize(symbolizer_t *sym, uint64_t address, unsigned *count);

#endif
