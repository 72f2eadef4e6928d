/* imgleak attach: tracking a running process for a window of time (inject.c loads the shim,
 * preload/hooks/late.c tracks and detaches), and collecting the snapshots taken meanwhile. */
#ifndef IMGLEAK_ATTACH_H
#define IMGLEAK_ATTACH_H

#include "run.h"

#include <sys/types.h>

typedef struct {
    pid_t pid;
    const char *out_dir; /* NULL: a temporary directory */
    double duration;     /* seconds; 0: until SIGINT, SIGTERM or SIGHUP */
    double interval;     /* seconds between snapshots */
} attach_opts_t;

/* Attaches, waits out the window (or the process's end), detaches. res gets the snapshots of
 * the window and in res->end how it ended. 0, or -1 with error_get() (nothing was attached, or
 * the process was given back as it was). */
int attach_window(const attach_opts_t *opts, run_result_t *res);

#endif
