/* Growth over time: from a series of snapshots of a running process, how the memory at each call
 * site changed, its trend (least-squares slope and how well a line fits), and which sites are
 * leak suspects: those that grow steadily to the end, not those that filled once and stayed. */
#ifndef IMGLEAK_GROWTH_H
#define IMGLEAK_GROWTH_H

#include "model.h"

#include <stdio.h>

typedef struct {
    uint64_t pid;
    uint64_t instance_id; /* 1.4: which process of that pid; 0 in older files */
    frame_t site;
    unsigned kind;
    int in_app;
    size_t npoints;
    double slope_bytes_per_s;
    double slope_bytes_per_snapshot;
    double r2;                 /* how well a straight line fits, 0..1 */
    uint64_t first_bytes, last_bytes;
    double oldest_age_s;       /* age of the oldest block still live in the last snapshot */
    int suspect;
    double *bytes_at; /* live bytes in each of the npoints snapshots, oldest first (owned) */
    double *time_at;  /* when each was taken, seconds after the first (owned) */
} growth_site_t;

typedef struct {
    uint64_t pid;
    uint64_t instance_id;
    size_t nsnapshots;
    double duration_s;
    int exit_left_out; /* its exit snapshot was not in the series (growth_build) */
} growth_process_t;

typedef struct growth {
    growth_site_t *sites; /* suspects first, then by slope */
    size_t nsites;
    growth_process_t *processes;
    size_t nprocesses;
    model_shared_t *shared; /* the symbols the sites' strings are in (when the options gave none) */
    report_skipped_t *skipped; /* inputs that could not be read (set by inputs.c) */
    size_t nskipped;
    int final_missing; /* one of them may have been a process's final state */
} growth_t;

/* Needs at least two snapshots of one process; takes ownership of snaps[0..n) (and frees the
 * array). 0, or -1 with error_get(). */
int growth_build(growth_t *g, snapshot_t **snaps, size_t n, const model_opts_t *opts);
void growth_free(growth_t *g);
/* 1 when some process (model_process_cmp) has two or more of these snapshots, 0 when none has;
 * -1 when out of memory (error set) */
int growth_is_series(snapshot_t *const *snaps, size_t n);

int growth_write_text(const growth_t *g, FILE *out, int color);
/* the processes of a series, as the elements of a JSON array: {"pid","instance","snapshots","duration_s"},... */
void growth_write_json_processes(const growth_t *g, FILE *out);
void growth_write_json_array(const growth_t *g, FILE *out); /* "[...]" */
int growth_write_json(const growth_t *g, FILE *out);

#endif
