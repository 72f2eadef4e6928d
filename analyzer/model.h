/* The report model: what every output format writes. Built from one or more snapshots: for each
 * process the latest snapshot counts, its live blocks are charged to call sites, and sites with
 * the same function, file, line, module and kind are added together across processes. */
#ifndef IMGLEAK_MODEL_H
#define IMGLEAK_MODEL_H

#include "attribute.h"
#include "reader.h"
#include "symbolize.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    frame_t site;    /* the call site the memory is charged to */
    unsigned kind;   /* IMGLEAK_KIND_* */
    int in_app;      /* the site is the application's; 0: no frame of the stack is */
    uint64_t bytes;
    uint64_t blocks;
    frame_t *stack;  /* the full stack (inlined frames expanded) that holds the most bytes */
    size_t depth;
    size_t site_index; /* where the site is in stack[] */
    int truncated;     /* the stack was cut at the depth limit */
    size_t nstacks;    /* distinct stacks charged to this site */
    uint64_t stack_bytes_hint; /* bytes of the example stack */
} leak_site_t;

typedef struct {
    const snapshot_t *snap;
} report_process_t;

typedef struct {
    uint64_t leaked_bytes, leaked_blocks;
    uint64_t heap_bytes, heap_blocks;
    uint64_t mmap_bytes, mmap_blocks;
    uint64_t dropped_table_full, truncated_stacks, dropped_stacks, oversized_blocks;
    int estimated; /* some snapshot was sampled: figures are unbiased estimates */
} report_totals_t;

typedef struct {
    report_totals_t totals;
    leak_site_t *sites; /* by bytes, largest first */
    size_t nsites;
    report_process_t *processes;
    size_t nprocesses;
    /* owned */
    snapshot_t **snaps;
    size_t nsnaps;
    symbolizer_t **syms;
} report_t;

/* Takes ownership of snaps[0..n). 0, or -1 with error_get(). */
int report_build(report_t *rep, snapshot_t **snaps, size_t n, const attribute_opts_t *opts);
void report_free(report_t *rep);

#endif
