/* declared.sh's library whose destroy functions end in a tail call to close and fclose, as
 * libtiff's TIFFClose does (a jump through the file's close procedure, which jumps to close):
 * built at -O2 so that the compiler makes the jumps (declared.sh checks that it did). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
    int fd;
} tc_file_t;

typedef struct {
    FILE *stream;
} tc_stream_t;

tc_file_t *tc_open(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    tc_file_t *f = malloc(sizeof *f);
    if (!f) {
        close(fd);
        return NULL;
    }
    f->fd = fd;
    return f;
}

int tc_close(tc_file_t *f)
{
    int fd = f->fd;
    free(f);
    return close(fd);
}

tc_stream_t *tc_sopen(const char *path)
{
    FILE *stream = fopen(path, "r");
    if (!stream)
        return NULL;
    tc_stream_t *s = malloc(sizeof *s);
    if (!s) {
        fclose(stream);
        return NULL;
    }
    s->stream = stream;
    return s;
}

int tc_sclose(tc_stream_t *s)
{
    FILE *stream = s->stream;
    free(s);
    return fclose(stream);
}
