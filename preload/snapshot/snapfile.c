/* The snapshot file writer (see snapfile.h). */
#define _GNU_SOURCE
#include "snapfile.h"

#include "os.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(imgleak_file_header_t) == 64, "header layout");
_Static_assert(sizeof(imgleak_section_entry_t) == 32, "section entry layout");
_Static_assert(sizeof(imgleak_process_rec_t) == 256, "process record layout");
_Static_assert(sizeof(imgleak_module_rec_t) == 72, "module record layout");
_Static_assert(sizeof(imgleak_stack_rec_t) == 40, "stack record layout");
_Static_assert(sizeof(imgleak_live_rec_t) == 24, "live record layout");
_Static_assert(sizeof(imgleak_name_rec_t) == 24, "name record layout");
_Static_assert(sizeof(imgleak_handle_rec_t) == 40, "handle record layout");
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the snapshot format is little-endian; this writer stores native structures"
#endif

static uint64_t table_end(void)
{
    return sizeof(imgleak_file_header_t) +
           SNAPFILE_SECTIONS_MAX * (uint64_t)sizeof(imgleak_section_entry_t);
}

static int write_all(snapfile_t *sf, const void *buf, size_t len)
{
    return sf->own >= 0 ? ownfd_write_all(sf->own, buf, len) : os_write_all(sf->fd, buf, len);
}

static int pwrite_all(snapfile_t *sf, const void *buf, size_t len, off_t at)
{
    if (sf->own >= 0)
        return ownfd_pwrite_all(sf->own, buf, len, at);
    const char *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(sf->fd, p, len, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        at += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The first error is kept in sf->error: a later call must not hide why the file is bad. */
static void flush(snapfile_t *sf)
{
    if (sf->fill && !sf->failed && write_all(sf, sf->buf, sf->fill) < 0) {
        sf->failed = 1;
        sf->error = errno;
    }
    sf->fill = 0;
}

static void begin(snapfile_t *sf)
{
    sf->failed = 0;
    sf->error = 0;
    sf->fill = 0;
    sf->nsections = 0;
    sf->pos = table_end();
    /* header and section table are written at the end; sections start after their room */
    off_t at = sf->own >= 0 ? ownfd_seek(sf->own, (off_t)sf->pos)
                            : lseek(sf->fd, (off_t)sf->pos, SEEK_SET);
    if (at < 0) {
        sf->failed = 1;
        sf->error = errno;
    }
}

void snapfile_begin(snapfile_t *sf, int fd)
{
    sf->fd = fd;
    sf->own = -1;
    begin(sf);
}

void snapfile_begin_own(snapfile_t *sf, ownfd_t own)
{
    sf->fd = -1;
    sf->own = own;
    begin(sf);
}

static void section_close(snapfile_t *sf)
{
    if (sf->nsections) {
        imgleak_section_entry_t *s = &sf->sections[sf->nsections - 1];
        s->length = sf->pos - s->offset;
    }
}

void snapfile_section_begin(snapfile_t *sf, uint32_t type, uint32_t record_size)
{
    section_close(sf);
    if (sf->nsections == SNAPFILE_SECTIONS_MAX) {
        sf->failed = 1;
        sf->error = EINVAL;
        return;
    }
    imgleak_section_entry_t *s = &sf->sections[sf->nsections++];
    memset(s, 0, sizeof *s);
    s->type = type;
    s->record_size = record_size;
    s->offset = sf->pos;
}

void snapfile_put(snapfile_t *sf, const void *data, size_t len)
{
    const char *p = data;
    sf->pos += len;
    while (len > 0) {
        size_t room = sizeof sf->buf - sf->fill;
        size_t n = len < room ? len : room;
        memcpy(sf->buf + sf->fill, p, n);
        sf->fill += n;
        p += n;
        len -= n;
        if (sf->fill == sizeof sf->buf)
            flush(sf);
    }
}

void snapfile_record(snapfile_t *sf)
{
    if (sf->nsections)
        sf->sections[sf->nsections - 1].count++;
}

int snapfile_finish(snapfile_t *sf, imgleak_file_header_t *hdr)
{
    char head[sizeof(imgleak_file_header_t) +
              SNAPFILE_SECTIONS_MAX * sizeof(imgleak_section_entry_t)];
    section_close(sf);
    flush(sf);
    memcpy(hdr->magic, IMGLEAK_MAGIC, IMGLEAK_MAGIC_LEN);
    hdr->version_major = IMGLEAK_VERSION_MAJOR;
    hdr->version_minor = IMGLEAK_VERSION_MINOR;
    hdr->header_size = sizeof *hdr;
    hdr->section_count = sf->nsections;
    hdr->section_entry_size = sizeof(imgleak_section_entry_t);
    hdr->file_size = sf->pos;
    memset(head, 0, sizeof head);
    memcpy(head, hdr, sizeof *hdr);
    memcpy(head + sizeof *hdr, sf->sections, sf->nsections * sizeof(imgleak_section_entry_t));
    if (sf->failed) {
        errno = sf->error;
        return -1;
    }
    return pwrite_all(sf, head, sizeof head, 0);
}
