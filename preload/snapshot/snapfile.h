/* Writing a file in the snapshot format (include/imgleak/format.h): sections are streamed through
 * a fixed buffer, and the header and section table, whose offsets and counts are known only at the
 * end, are written last with pwrite. Allocation-free, so the shim can use it anywhere. */
#ifndef IMGLEAK_SNAPFILE_H
#define IMGLEAK_SNAPFILE_H

#include "imgleak/format.h"
#include "ownfd.h"

#include <stddef.h>

#define SNAPFILE_SECTIONS_MAX 16

typedef struct {
    int fd;       /* a plain descriptor, when own < 0 */
    ownfd_t own;  /* the shim's own descriptor (ownfd.h), or -1 */
    int failed;
    int error; /* errno of the first failure */
    uint64_t pos;
    size_t fill;
    unsigned nsections;
    imgleak_section_entry_t sections[SNAPFILE_SECTIONS_MAX];
    char buf[1 << 16];
} snapfile_t;

void snapfile_begin(snapfile_t *sf, int fd);
/* The same through one of the shim's own descriptors, which the program cannot close. */
void snapfile_begin_own(snapfile_t *sf, ownfd_t own);
void snapfile_section_begin(snapfile_t *sf, uint32_t type, uint32_t record_size);
void snapfile_put(snapfile_t *sf, const void *data, size_t len);
/* Counts one record in the open section (after its bytes were put). */
void snapfile_record(snapfile_t *sf);
/* Closes the last section, fills in the header's layout fields and writes it; 0, or -1 with errno
 * saying why the first failed write failed. */
int snapfile_finish(snapfile_t *sf, imgleak_file_header_t *hdr);

#endif
