/* Output files (see outfile.h). */
#define _GNU_SOURCE
#include "outfile.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void release(outfile_t *of)
{
    free(of->path);
    free(of->temp);
    *of = (outfile_t){0};
}

/* dir/.name.XXXXXX next to path: rename() only replaces within one file system */
static char *temp_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    size_t len = strlen(path) + 10;
    char *t = malloc(len);
    if (t)
        snprintf(t, len, "%.*s.%s.XXXXXX", (int)dir_len, path, path + dir_len);
    return t;
}

static int is_stream(mode_t mode)
{
    return S_ISCHR(mode) || S_ISFIFO(mode) || S_ISSOCK(mode);
}

/* A stream: a character device (/dev/null, a terminal), a FIFO or a socket, also through a
 * link (/dev/stdout, a shell's >(...)): written as it is, since nothing on it can be clobbered.
 * A FIFO's open waits for its reader, as any Unix program's does. What it is is checked again
 * on the descriptor: a file swapped in since the stat is refused. */
static int open_device(outfile_t *of)
{
    struct stat st;
    int fd = open(of->path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0 && (fstat(fd, &st) < 0 || !is_stream(st.st_mode))) {
        close(fd);
        error_set("%s: not a regular file; not written", of->path);
        return -1;
    }
    if (fd < 0 || !(of->f = fdopen(fd, "w"))) {
        error_set("%s: cannot write: %s", of->path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return 0;
}

int outfile_open(outfile_t *of, const char *path)
{
    struct stat st;
    *of = (outfile_t){0};
    if (!(of->path = strdup(path)))
        return error_set("out of memory"), -1;
    int exists = lstat(path, &st) == 0;
    if (!exists && errno != ENOENT) {
        error_set("%s: cannot write: %s", path, strerror(errno));
        return release(of), -1;
    }
    struct stat target;
    if (exists && S_ISLNK(st.st_mode) && stat(path, &target) == 0 && is_stream(target.st_mode))
        return open_device(of) < 0 ? (release(of), -1) : 0;
    if (exists && S_ISLNK(st.st_mode)) {
        error_set("%s: is a symbolic link; not written (name the file it points to)", path);
        return release(of), -1;
    }
    if (exists && is_stream(st.st_mode))
        return open_device(of) < 0 ? (release(of), -1) : 0;
    if (exists && !S_ISREG(st.st_mode)) {
        error_set("%s: not a regular file; not written", path);
        return release(of), -1;
    }
    if (!(of->temp = temp_name(path)))
        return error_set("out of memory"), release(of), -1;
    int fd = mkostemp(of->temp, O_CLOEXEC); /* O_EXCL: never through a link, never a file of
                                               someone else's */
    if (fd < 0) {
        error_set("%s: cannot write: %s", path, strerror(errno));
        return release(of), -1;
    }
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, exists ? st.st_mode & 07777 : 0666 & ~mask);
    if (!(of->f = fdopen(fd, "w"))) {
        error_set("%s: cannot write: %s", path, strerror(errno));
        close(fd);
        unlink(of->temp);
        return release(of), -1;
    }
    return 0;
}

int outfile_commit(outfile_t *of, int ok)
{
    int failed = !of->f || fflush(of->f) != 0 || ferror(of->f);
    if (of->f && fclose(of->f) != 0)
        failed = 1;
    if (ok && failed)
        error_set("%s: write error", of->path);
    if (ok && !failed && of->temp && rename(of->temp, of->path) < 0) {
        error_set("%s: cannot write: %s", of->path, strerror(errno));
        failed = 1;
    }
    if (of->temp && (!ok || failed))
        unlink(of->temp);
    release(of);
    return ok && !failed ? 0 : -1;
}
