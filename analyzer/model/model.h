/* The report model: what every output format writes. Built from one or more snapshots: for each
 * process (told apart by its instance id, not its pid) the latest snapshot counts, its live blocks are charged to call sites, and sites with
 * the same function, file, line, module and kind are added together across processes. */
#ifndef IMGLEAK_MODEL_H
#define IMGLEAK_MODEL_H

#include "attribute.h"
#include "frame_facts.h"
#include "byinput.h"
#include "reader.h"
#include "suppress.h"
#include "symbolize.h"

#include <stddef.h>
#include <stdint.h>

/* What the reports of one run share: the modules' symbols and the frames' facts, so that the
 * snapshots of a series read each module's DWARF and judge each frame once, not once each. The
 * reports' strings live in it: it outlives them. */
typedef struct {
    symbols_t *symbols;
    frame_facts_t facts;
} model_shared_t;

model_shared_t *model_shared_new(void); /* NULL when out of memory */
void model_shared_free(model_shared_t *shared);

typedef struct {
    attribute_opts_t attribute;
    const suppressions_t *suppress; /* NULL: none */
    int show_reachable;             /* list still-reachable blocks' sites too */
    model_shared_t *shared;         /* NULL: the report makes its own */
    int unsorted; /* entries and indirect sites left in the order found (growth.c orders them by
                     model_site_order only where it matters) */
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

/* Codec handles never destroyed (state live or abandoned, counted together), or misused, grouped
 * by type, function and the call site that created (or, for misuse, destroyed) them. */
typedef struct handle_group {
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
    size_t entry; /* leaked groups: 1 + the index in report_t.sites of the entry it is part of */
    input_list_t inputs; /* leaked groups: the inputs the handles were created for (handles) */
} handle_group_t;

typedef struct {
    frame_t site;    /* the call site the memory is charged to */
    unsigned kind;   /* IMGLEAK_KIND_* */
    unsigned cls;    /* IMGLEAK_CLASS_*: UNKNOWN when the snapshot was not scanned */
    int in_app;      /* the site is the application's; 0: no frame of the stack is */
    int no_stack;    /* the blocks' stack was not recorded (stack table full): unattributed */
    uint64_t bytes;
    uint64_t blocks;
    const frame_t *stack; /* the full stack (inlined frames expanded) that holds the most bytes
                             (frames of a report_stack_t) */
    size_t depth;
    size_t site_index; /* where the site is in stack[] */
    int truncated;     /* the stack was cut at the depth limit */
    size_t nstacks;    /* distinct stacks charged to this site */
    uint64_t stack_bytes_hint; /* bytes of the example stack */
    uint64_t frame_hash;       /* model_frame_hash(&site) */
    uint32_t oldest_birth_s;   /* the oldest block's birth, seconds after its process started */
    uint64_t indirect_bytes, indirect_blocks; /* leaked sites: what hangs from their blocks */
    /* the codec handles created here and never destroyed: one forgotten destroy is one entry,
     * its handles and the memory they keep together (entries.c) */
    struct handle_group **groups;
    size_t ngroups;
    uint64_t handles;
    /* the inputs its memory was allocated for, and (entries) its handles created for */
    input_list_t inputs;
} leak_site_t;


/* Where a process's RSS went, from its latest snapshot. */
typedef struct {
    const snapshot_t *snap;
    uint64_t tracked_heap, tracked_mmap; /* what the shim saw live (estimates when sampled) */
    uint64_t allocator_held;             /* heap memory the allocator holds from the system */
    uint64_t allocator_overhead;         /* held, less the program's live blocks: free-but-kept */
    uint64_t allocator_free;             /* the allocator's own count of free memory it keeps */
    uint64_t other;                      /* RSS less all the above: code, stacks, untracked maps */
    int retention;                       /* the gap is allocator retention, not a leak */
    /* RSS = live_heap + allocator_overhead + mappings + shim + other, every part resident
     * memory when measured (1.5 snapshots); before 1.5 live_heap and mappings are what the shim
     * saw live, shim is 0 and other the remainder */
    int measured;
    uint64_t resident;  /* the sum of the parts: RSS as measured with them */
    uint64_t live_heap; /* the resident part of the program's live heap blocks */
    uint64_t mappings;  /* the resident part of the program's tracked mappings */
    uint64_t shim;      /* imgleak's own: its libraries and tables */
    uint64_t go_runtime_heap, go_runtime_mmap; /* the Go runtime's own (golang.h), in the above */
    uint64_t go_resident;                /* of go_runtime_mmap, resident: the Go heap in RSS */
} report_process_t;

struct growth;

/* An input snapshot that could not be read, and why. */
typedef struct {
    char *path;
    char *why; /* the reader's message */
} report_skipped_t;

typedef struct {
    uint64_t leaked_bytes, leaked_blocks;
    uint64_t heap_bytes, heap_blocks;
    uint64_t mmap_bytes, mmap_blocks;
    uint64_t dropped_table_full, truncated_stacks, dropped_stacks, oversized_blocks;
    uint64_t failed_snapshots; /* snapshots the processes could not write (1.4) */
    /* leaked memory no one can be charged with: its stack was not recorded, or was cut at the
     * depth limit before any frame of the program (the gate cannot count it as the program's,
     * nor as a library's) */
    uint64_t unattributed_bytes, unattributed_blocks;
    /* processes whose reachability scan was incomplete or did not run although asked for (1.4),
     * the bytes it could not read, and the blocks it left unclassified: never called leaked */
    uint64_t scan_incomplete, scan_skipped, unscanned_bytes;
    uint64_t unclassified_bytes, unclassified_blocks;
    /* forked children whose scan did not read the heap they inherited (IMGLEAK_SCAN_INHERITED),
     * and their own blocks it could not prove reachable: said, not lost data */
    uint64_t scan_inherited, child_unclassified_bytes, child_unclassified_blocks;
    uint64_t skipped_snapshots; /* inputs that could not be read (report_skipped_t) */
    int final_missing; /* a skipped snapshot may have been some process's final state */
    uint64_t leaked_handles, misused_handles;
    uint64_t suppressed_bytes, suppressed_blocks, suppressed_handles;
    struct {
        uint64_t bytes, blocks;
    } by_class[IMGLEAK_CLASS_INDIRECT + 1]; /* live memory by IMGLEAK_CLASS_* (suppressed not) */
    /* memory the Go runtime made for itself (golang.h): its own kind, never a leak */
    uint64_t go_runtime_bytes, go_runtime_blocks;
    int scanned;   /* some snapshot was classified by the reachability scan */
    int estimated; /* some snapshot was sampled: figures are unbiased estimates */
} report_totals_t;

typedef struct report {
    report_totals_t totals;
    /* The entries: one per call site that roots a leak (or, listed on request, holds reachable
     * memory), with what hangs from it and the handles created there; leaked first, by bytes,
     * largest first. */
    leak_site_t *sites;
    size_t nsites;
    /* Sites of indirectly leaked memory: already counted under the entries they hang from, a
     * detail for those who ask (--show-indirect, JSON's indirect[]). */
    leak_site_t *indirect;
    size_t nindirect;
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
    report_skipped_t *skipped; /* inputs.c: snapshots left out (totals.skipped_snapshots) */
    size_t nskipped;
    /* byinput.h: every input that leaked something, with what; the inputs the processes named;
     * whether any snapshot could name inputs at all (1.6) */
    input_list_t inputs;
    uint64_t inputs_seen;
    uint64_t inputs_unnamed; /* begun once IMGLEAK_MAX_INPUTS were named: charged to none */
    int inputs_known;
    /* owned */
    snapshot_t **snaps;
    size_t nsnaps;
    symbolizer_t **syms;
    model_shared_t *own_shared; /* when the options gave none */
} report_t;

/* Which process a snapshot is of: its 1.4 instance id, or pid and start time in older files
 * (pid alone is not: pid 1 of two containers, a pid reused). <0, 0, >0 as strcmp. */
int model_process_cmp(const snapshot_t *a, const snapshot_t *b);
/* Of two snapshots of one process, which is later: sequence, then time. <0, 0, >0. */
int model_snapshot_order(const snapshot_t *a, const snapshot_t *b);
/* The positions of snaps[0..n) by process, each process's in order (equal ones by position): a
 * sort, so that thousands of snapshots are not each compared with all the others. malloc'd;
 * NULL when out of memory. */
size_t *model_by_process(snapshot_t *const *snaps, size_t n);
/* Whether blocks of class UNKNOWN in this snapshot were left unclassified by a scan that ran (in
 * part): they are not leaks, nor known not to be. UNCLASSIFIED_LOST: the scan could not read
 * something (lost data); UNCLASSIFIED_INHERITED: a forked child's scan, which by design does not
 * read the heap inherited from the parent; 0: no scan ran. */
enum { UNCLASSIFIED_LOST = 1, UNCLASSIFIED_INHERITED = 2 };
int model_unclassified(const snapshot_t *snap);
/* Anything recorded in part or not at all (dropped, unattributed, failed snapshots, an
 * incomplete scan, a final state that could not be read): the figures are a lower bound. */
int model_totals_incomplete(const report_totals_t *t);

/* Takes ownership of snaps[0..n). 0, or -1 with error_get(). */
int report_build(report_t *rep, snapshot_t **snaps, size_t n, const model_opts_t *opts);
void report_free(report_t *rep);

/* Shared by the model's parts: a stack's frames with inlined ones expanded (malloc'd), and the
 * frame a stack is charged to. */
frame_t *model_expand_stack(symbolizer_t *sym, const snap_stack_t *st, size_t *depth);
int model_frames_equal(const frame_t *a, const frame_t *b);
/* A hash of the frame's function, file and module (by address when neither function nor file is
 * known): frames model_frames_equal calls equal have equal ones; the line is left to the caller. */
uint64_t model_frame_hash(const frame_t *f);
/* handles.c: adds one snapshot's handles to the report */
int model_add_handles(report_t *rep, const snapshot_t *snap, symbolizer_t *sym,
                      const model_opts_t *opts);
void model_sort_handles(report_t *rep);
void model_free_handles(report_t *rep);
/* entries.c: moves indirect sites apart and merges each leaked handle group into the entry of
 * its call site (adding an entry when memory is charged elsewhere); sorts the entries and the
 * indirect sites (model_sort_sites) when asked to. */
int model_build_entries(report_t *rep, int sort);
/* How entries are ordered: leaks first, then possible, indirect, reachable; by what they hold
 * (with what hangs from them); by function; in the order found (index) when all that is equal. */
typedef struct {
    int rank;
    uint64_t weight, blocks, handles;
    const char *function;
    size_t index;
} model_site_order_t;
model_site_order_t model_site_order(const leak_site_t *s, size_t index);
int model_site_order_cmp(const model_site_order_t *a, const model_site_order_t *b);
/* Sorts *sites (n of them) in that order: 0, or -1 when out of memory (the order is as it was). */
int model_sort_sites(leak_site_t **sites, size_t n);

#endif
