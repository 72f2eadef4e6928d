/* Opening inputs safely (see safeopen.h). O_NONBLOCK makes open() of a FIFO with no writer return
 * at once instead of waiting for one; fstat on the open descriptor then decides, so nothing can be
 * swapped in between the check and the read. */
#define _GNU_SOURCE
#include "safeopen.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int safeopen_read(const char *path, struct stat *st)
{
    struct stat local;
    if (!st)
        st = &local;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return error_set("%s: %s", path, strerror(errno)), -1;
    if (fstat(fd, st) < 0) {
        error_set("%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        error_set("%s: not a regular file (%s)", path,
                  S_ISDIR(st->st_mode)    ? "a directory"
                  : S_ISFIFO(st->st_mode) ? "a FIFO"
                  : S_ISCHR(st->st_mode)  ? "a character device"
                  : S_ISBLK(st->st_mode)  ? "a block device"
                  : S_ISSOCK(st->st_mode) ? "a socket"
                                          : "not a file");
        close(fd);
        return -1;
    }
    /* regular files never block; reads stay plain */
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return fd;
}

FILE *safeopen_fopen(const char *path, struct stat *st)
{
    int fd = safeopen_read(path, st);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        error_set("%s: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

size_t safeopen_unique(char **paths, size_t n)
{
    struct stat *seen = calloc(n ? n : 1, sizeof *seen);
    int *known = calloc(n ? n : 1, sizeof *known);
    size_t kept = 0;
    if (!seen || !known) { /* keep them all: a repeat then fails as it did */
        free(seen);
        free(known);
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        int ok = stat(paths[i], &st) == 0;
        int repeat = 0;
        for (size_t j = 0; ok && j < kept && !repeat; j++)
            repeat = known[j] && seen[j].st_dev == st.st_dev && seen[j].st_ino == st.st_ino;
        if (repeat)
            continue;
        known[kept] = ok;
        if (ok)
            seen[kept] = st;
        paths[kept++] = paths[i];
    }
    free(seen);
    free(known);
    return kept;
}
