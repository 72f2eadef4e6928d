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

/* Loads every snapshot; NULL (error set) when one cannot be read. */
snapshot_t **inputs_load(char *const *paths, size_t n);
/* The report on paths[]; with growth when some process has several snapshots. 0, or -1. */
int inputs_report(report_t *rep, char *const *paths, size_t n, const model_opts_t *mo);
/* Growth over paths[] (its own copies of the snapshots). NULL with error_get(). */
growth_t *inputs_growth(char *const *paths, size_t n, const model_opts_t *mo);
/* 1 when path holds a JSON report (starts with '{'), 0 otherwise (a snapshot or garbage). */
int inputs_is_json(const char *path);

#endif
