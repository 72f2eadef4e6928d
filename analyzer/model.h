/* The report model: what every output format writes. Built from one or more snapshots: for each
 * process the latest snapshot counts, its live blocks are charged to call sites, and sites with
 * the same function, file, line, module and kind are added together across processes. */
#ifndef IMGLEAK_MODEL_H
#define IMGLEAK_MODEL_H

#include "attribute.h"
#include "reader.h"
#include "suppress.h"
#include "symbolize.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    attribute_opts_t attribute;
    const suppressions_t *suppress; /* NULL: none */
    int show_reachable;             /* list still-reachable blocks' sites too */
} model_opts_t;

/* One distinct stack of live memory of one kind and class, as the flame graph, pprof and
 * collapsed writers need it: every byte of every site is in exactly one of these (suppressed and
 * hidden reachable memory is in none). */
typedef struct {
    frame_t *frames; /* innermost first, inlined frames expanded (owned) */
    size_t depth;
    size_t site_index; /* the call site's position in frames[] */
    unsigned kind;
    unsigned cls; /* IMGLEAK_CLASS_* */
    int in_app;
    uint64_t bytes, blocks;
    int frames_shared; /* frames belong to an earlier report stack (the same snapshot stack in
                          another kind or class): not freed with this one */
} report_stack_t;

/* What one suppression rule hid in this report. */
typedef struct {
    const suppress_rule_t *rule;
    uint64_t bytes, blocks, handles;
} report_suppressed_t;

typedef struct {
    frame_t site;    /* the call site the memory is charged to */
    unsigned kind;   /* IMGLEAK_KIND_* */
    unsigned cls;    /* IMGLEAK_CLASS_*: UNKNOWN when the snapshot was not scanned */
    int in_app;      /* the site is the application's; 0: no frame of the stack is */
    uint64_t bytes;
    uint64_t blocks;
    const frame_t *stack; /* the full stack (inlined frames expanded) that holds the most bytes
                             (frames of a report_stack_t) */
    size_t depth;
    size_t site_index; /* where the site is in stack[] */
    int truncated;     /* the stack was cut at the depth limit */
    size_t nstacks;    /* distinct stacks charged to this site */
    uint64_t stack_bytes_hint; /* bytes of the example stack */
    uint32_t oldest_birth_s;   /* the oldest block's birth, seconds after its process started */
    uint64_t indirect_bytes, indirect_blocks; /* leaked sites: what hangs from their blocks */
} leak_site_t;

/* Codec handles never destroyed (state live or abandoned, counted together), or misused, grouped
 * by type, function and the call site that created (or, for misuse, destroyed) them. */
typedef struct {
    const char *type;
    const char *library;
    const char *function; /* the create function; for misuse, the destroy function called */
    unsigned state;       /* IMGLEAK_HANDLE_LIVE for leaked groups, or the misuse kind */
    uint64_t count;
    uint64_t abandoned;      /* of count: created again over, or reset, without a destroy */
    uint64_t retained_bytes; /* live heap bytes allocated inside the creating calls */
    uint64_t retained_blocks;
    frame_t site;
    int in_app;
    frame_t *stack;
    size_t depth;
    size_t site_index;
} handle_group_t;

/* Where a process's RSS went, from its latest snapshot. */
typedef struct {
    const snapshot_t *snap;
    uint64_t tracked_heap, tracked_mmap; /* what the shim saw live (estimates when sampled) */
    uint64_t allocator_held;             /* heap memory the allocator holds from the system */
    uint64_t allocator_overhead;         /* held, less the program's live blocks: free-but-kept */
    uint64_t allocator_free;             /* the allocator's own count of free memory it keeps */
    uint64_t other;                      /* RSS less all the above: code, stacks, untracked maps */
    int retention;                       /* the gap is allocator retention, not a leak */
} report_process_t;

struct growth;

typedef struct {
    uint64_t leaked_bytes, leaked_blocks;
    uint64_t heap_bytes, heap_blocks;
    uint64_t mmap_bytes, mmap_blocks;
    uint64_t dropped_table_full, truncated_stacks, dropped_stacks, oversized_blocks;
    uint64_t leaked_handles, misused_handles;
    uint64_t suppressed_bytes, suppressed_blocks, suppressed_handles;
    struct {
        uint64_t bytes, blocks;
    } by_class[IMGLEAK_CLASS_INDIRECT + 1]; /* live memory by IMGLEAK_CLASS_* (suppressed not) */
    int scanned;   /* some snapshot was classified by the reachability scan */
    int estimated; /* some snapshot was sampled: figures are unbiased estimates */
} report_totals_t;

typedef struct {
    report_totals_t totals;
    leak_site_t *sites; /* by bytes, largest first */
    size_t nsites;
    handle_group_t *handles; /* by count, largest first */
    size_t nhandles;
    handle_group_t *misuse;
    size_t nmisuse;
    report_process_t *processes;
    size_t nprocesses;
    report_stack_t *stacks;
    size_t nstacks;
    report_suppressed_t *suppressed; /* one per rule, in the rules' order */
    size_t nsuppressed;
    struct growth *growth; /* several snapshots of a process: how its sites grew (growth.h) */
    /* owned */
    snapshot_t **snaps;
    size_t nsnaps;
    symbolizer_t **syms;
} report_t;

/* Takes ownership of snaps[0..n). 0, or -1 with error_get(). */
int report_build(report_t *rep, snapshot_t **snaps, size_t n, const model_opts_t *opts);
void report_free(report_t *rep);

/* Shared by the model's parts: a stack's frames with inlined ones expanded (malloc'd), and the
 * frame a stack is charged to. */
frame_t *model_expand_stack(symbolizer_t *sym, const snap_stack_t *st, size_t *depth);
int model_frames_equal(const frame_t *a, const frame_t *b);
/* handles.c: adds one snapshot's handles to the report */
int model_add_handles(report_t *rep, const snapshot_t *snap, symbolizer_t *sym,
                      const model_opts_t *opts);
void model_sort_handles(report_t *rep);
void model_free_handles(report_t *rep);

#endif
