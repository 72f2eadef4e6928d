/* Reading snapshot files. Strict: every size and offset is checked against the file before it is
 * trusted, memory is never allocated beyond what the file's own length justifies, and any
 * inconsistency is an error that names the file and what is wrong. */
#ifndef IMGLEAK_READER_H
#define IMGLEAK_READER_H

#include "imgleak/format.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t start, end, bias, file_offset;
    const char *path;
    uint8_t build_id[IMGLEAK_BUILD_ID_MAX];
    unsigned build_id_len;
    unsigned flags; /* IMGLEAK_MODULE_* */
} snap_module_t;

typedef struct {
    uint32_t id;
    unsigned depth;
    unsigned flags; /* IMGLEAK_STACK_* */
    uint64_t allocs, frees, alloc_bytes, free_bytes;
    uint64_t *frames; /* innermost first */
    const char *input; /* 1.6: the input it was recorded for (file, buffer, tag); NULL: none */
} snap_stack_t;

typedef struct {
    uint64_t address;
    uint64_t size;
    unsigned kind; /* IMGLEAK_KIND_* */
    uint32_t stack_id;
    uint32_t birth_s;
    unsigned cls; /* IMGLEAK_CLASS_* (1.3; UNKNOWN when not scanned) */
} snap_live_t;

/* 1.3: a leaked block and the indirectly leaked memory that hangs from it */
typedef struct {
    size_t live_index;
    uint64_t indirect_bytes, indirect_blocks;
} snap_root_t;

typedef struct {
    uint32_t id;
    const char *name;
    const char *library; /* types only */
    unsigned flags;      /* types: IMGLEAK_HTYPE_* */
} snap_name_t;

typedef struct {
    uint64_t address;
    uint64_t count;
    uint32_t type, function, stack_id, birth_s, refs;
    unsigned state; /* IMGLEAK_HANDLE_* */
} snap_handle_t;

typedef struct {
    char *path;
    imgleak_file_header_t header;
    imgleak_process_rec_t process;
    const char *exe;
    snap_module_t *modules;
    size_t nmodules;
    snap_stack_t *stacks; /* sorted by id */
    size_t nstacks;
    snap_live_t *live;
    size_t nlive;
    int scanned; /* the shim classified the blocks by reachability */
    snap_root_t *roots;
    size_t nroots;
    /* codec handles (format 1.2; none in older files) */
    snap_name_t *handle_types, *handle_functions;
    size_t nhandle_types, nhandle_functions;
    snap_handle_t *handles;
    size_t nhandles;
    /* 1.6: inputs (files, buffers, tags) the process named, and those it could not record */
    int has_inputs;
    uint64_t inputs_seen, inputs_unnamed;
    /* storage */
    char *strings;
    size_t strings_len;
    uint64_t *frame_pool;
} snapshot_t;

/* NULL on error, with error_get() saying why, prefixed with the path. */
snapshot_t *reader_load(const char *path);
/* Parses a snapshot already in memory; name is used in messages. */
snapshot_t *reader_parse(const char *name, const unsigned char *data, size_t size);
void reader_free(snapshot_t *snap);

const snap_stack_t *snapshot_stack(const snapshot_t *snap, uint32_t id);
/* NULL when the file names no such type or function */
const snap_name_t *snapshot_handle_type(const snapshot_t *snap, uint32_t id);
const snap_name_t *snapshot_handle_function(const snapshot_t *snap, uint32_t id);

#endif
