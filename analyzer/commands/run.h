/* imgleak run: starting a program under the shim and collecting the snapshots it leaves. */
#ifndef IMGLEAK_RUN_H
#define IMGLEAK_RUN_H

#include <stddef.h>

typedef struct {
    const char *out_dir;   /* NULL: a temporary directory, removed afterwards */
    const char *allocator; /* "jemalloc": preload it after the shim; NULL or "glibc": as is */
    const char *handles;   /* an absolute path for IMGLEAK_HANDLES, or NULL */
} run_opts_t;

typedef struct {
    int exit_status;    /* the program's, as a shell reports it (128+N for signal N) */
    char **snapshots;   /* new snapshot files, sorted by name */
    size_t nsnapshots;
    char *dir;          /* where they are */
    int temporary;      /* dir was made for this run */
    char end[80];       /* how the program ended: "exited 0", "killed by SIGKILL", ... */
} run_result_t;

/* 0, or -1 with error_get() when the program could not be started. */
int run_program(const run_opts_t *opts, char *const argv[], run_result_t *res);
/* Frees the result; removes the snapshots and the directory when it was temporary. */
void run_result_release(run_result_t *res);

/* --handles FILE: checks the declarations as the shim will read them (the built-in ones, then
 * FILE's) and makes the path absolute into out. 0, or -1 with error_get() naming FILE:LINE. */
int run_check_handles(const char *file, char *out, size_t size);

/* The path of libimgleak.so: beside the imgleak binary, or in ../lib/imgleak of its prefix. */
int run_find_shim(char *out, size_t size);

#endif
