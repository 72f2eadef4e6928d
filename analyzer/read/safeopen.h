/* Opening what the analyzer reads: snapshots, JSON reports, suppressions, the modules a snapshot
 * names. Every input is opened without blocking (a FIFO or a device must not hang a command) and
 * must be a regular file; and a file named twice on a command line counts once. */
#ifndef IMGLEAK_SAFEOPEN_H
#define IMGLEAK_SAFEOPEN_H

#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

/* A descriptor open for reading on the regular file at path, close-on-exec; st (may be NULL)
 * receives its status. -1 with error_get() "path: why" otherwise. */
int safeopen_read(const char *path, struct stat *st);
/* The same as a stdio stream. */
FILE *safeopen_fopen(const char *path, struct stat *st);
/* Drops the paths that name a file named earlier in paths[] (the same device and inode), keeping
 * the order; returns the new count. Paths that cannot be stat'ed stay, to fail when read. */
size_t safeopen_unique(char **paths, size_t n);

#endif
