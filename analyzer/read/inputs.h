/* What the commands read: snapshot files, built into a report (with growth when several are of
 * one process), and the suppressions and attribution options the model is built with. */
#ifndef IMGLEAK_INPUTS_H
#define IMGLEAK_INPUTS_H

#include "cli.h"
#include "growth.h"
#include "model.h"

typedef struct {
    suppressions_t suppress;
    model_opts_t model;
} inputs_opts_t;

/* Default suppressions (unless turned off) and the --suppressions files. 0, or -1 with error. */
int inputs_opts_init(inputs_opts_t *io, const cli_opts_t *o);
void inputs_opts_free(inputs_opts_t *io);

/* The report on paths[]; with growth when some process has several snapshots. A snapshot that
 * cannot be read is skipped (rep->skipped says why, totals.final_missing whether it may have been
 * a process's final state) unless it is the only input or none can be read. 0, or -1. */
int inputs_report(report_t *rep, char *const *paths, size_t n, const model_opts_t *mo);
/* Growth over paths[] (its own copies of the snapshots), skipping unreadable ones as
 * inputs_report does. NULL with error_get(). */
growth_t *inputs_growth(char *const *paths, size_t n, const model_opts_t *mo);
/* One "imgleak: warning: skipped FILE: why" line on stderr for each. */
void inputs_warn_skipped(const report_skipped_t *skipped, size_t n);
void inputs_free_skipped(report_skipped_t *skipped, size_t n);
/* 1 when path holds a JSON report (starts with '{'), 0 otherwise (a snapshot or garbage). */
int inputs_is_json(const char *path);

#endif
