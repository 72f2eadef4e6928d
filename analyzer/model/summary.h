/* A report reduced to what the gate and diff compare: the program's leak sites and leaked handle
 * groups, each with a key that survives a rebuild: function, source file name (not its
 * directory, which differs between checkouts) and kind, but not the line, which moves whenever
 * code above it changes. Made from a report model, or read back from a JSON report. */
#ifndef IMGLEAK_SUMMARY_H
#define IMGLEAK_SUMMARY_H

#include "model.h"

#include <stdint.h>

typedef struct {
    char *function, *file; /* NULL when unknown */
    unsigned line;
    char *what;            /* "heap", "mmap", or a handle type ("MagickWand") */
    char *creator;         /* handles: the create function; NULL for memory */
    int in_app;
    uint64_t bytes, blocks; /* handles: retained bytes and blocks */
    uint64_t count;         /* handles: how many never destroyed; memory: 0 */
    uint64_t possible_bytes, possible_blocks; /* memory: of bytes and blocks, possibly leaked */
    double slope;           /* growth suspects: bytes per second */
    char *key;             /* what matches across reports */
    char *inputs;          /* "a.jpg, b.png" (the first few), the inputs it leaked on; or NULL */
    uint64_t ninputs;      /* how many inputs that is in all */
} summary_entry_t;

/* What the report could not see (report_totals_t): the gate refuses to pass on it unless told. */
typedef struct {
    uint64_t table_full, stacks, truncated_stacks, oversized_blocks, failed_snapshots;
    uint64_t unattributed_bytes, unattributed_blocks;
    uint64_t scan_incomplete, unscanned_bytes, unclassified_bytes, unclassified_blocks;
    uint64_t skipped_snapshots;
    int final_missing;
} summary_dropped_t;

typedef struct {
    summary_entry_t *leaks, *handles; /* merged by key, most first */
    size_t nleaks, nhandles;
    /* the program's sites that grew steadily over a series of snapshots (growth.h suspects):
     * bytes is what they held last */
    summary_entry_t *growing;
    size_t ngrowing;
    uint64_t leaked_bytes, leaked_blocks, leaked_handles; /* the program's (in_app) */
    uint64_t other_bytes, other_handles;                  /* at sites outside the program */
    /* other_bytes leaves out the unattributed (dropped.unattributed_bytes): their stacks cannot
     * say whether they are the program's */
    uint64_t suppressed_bytes, suppressed_handles;
    summary_dropped_t dropped;
    int estimated; /* sampled: the figures are estimates */
    struct summary_index *index; /* the entries by key (owned; NULL until the first entry) */
} summary_t;

/* Data was lost in a way that may hide leaks: dropped, unattributed, unwritten or unscanned. */
int summary_dropped_any(const summary_dropped_t *d);

int summary_from_report(summary_t *s, const report_t *rep);
/* Reads a report written by imgleak --format json; suppress (may be NULL) is applied to each
 * entry's stack. 0, or -1 with error_get(). */
int summary_load_json(summary_t *s, const char *path, const suppressions_t *suppress);
/* The entry of s's leaks (handles: of its handles) with that key, or NULL; in constant time, as
 * gate and diff look up every entry of one summary in another. */
const summary_entry_t *summary_find(const summary_t *s, int handles, const char *key);
void summary_free(summary_t *s);

#endif
