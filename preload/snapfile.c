/* The snapshot file writer (see snapfile.h). */
#define _GNU_SOURCE
#include "snapfile.h"

#include "os.h"

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

static void flush(snapfile_t *sf)
{
    if (sf->fill && !sf->failed && os_write_all(sf->fd, sf->buf, sf->fill) < 0)
        sf->failed = 1;
    sf->fill = 0;
}

void snapfile_begin(snapfile_t *sf, int fd)
{
    sf->fd = fd;
    sf->failed = 0;
    sf->fill = 0;
    sf->nsections = 0;
    sf->pos = table_end();
    /* header and section table are written at the end; sections start after their room */
    if (lseek(fd, (off_t)sf->pos, SEEK_SET) < 0)
        sf->failed = 1;
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
    if (sf->failed || pwrite(sf->fd, head, sizeof head, 0) != (ssize_t)sizeof head)
        return -1;
    return 0;
}
