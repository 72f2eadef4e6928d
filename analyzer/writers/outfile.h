/* Writing the files the user names (-o, --report, --junit) the way the shim writes snapshots:
 * into a new temporary file in the same directory, renamed over the name only once complete. So a
 * symbolic link at that name is never followed (it is refused: writing through it would overwrite
 * whatever it points to), a directory, FIFO, socket or block device is refused, and a half-written
 * report never replaces a good one. A character device (/dev/null, a terminal) is written as is. */
#ifndef IMGLEAK_OUTFILE_H
#define IMGLEAK_OUTFILE_H

#include <stdio.h>

typedef struct {
    FILE *f;
    char *path; /* as named */
    char *temp; /* the file being written, renamed to path by outfile_commit; NULL: none */
} outfile_t;

/* Opens path for writing; the stream is of->f. 0, or -1 with error_get(). */
int outfile_open(outfile_t *of, const char *path);
/* Closes the stream and puts the file in place; ok == 0 (the caller failed) discards it. 0, or
 * -1 with error_get() (a write error). Always releases of. */
int outfile_commit(outfile_t *of, int ok);

#endif
