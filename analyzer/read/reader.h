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

/* 1.6: a code object of an interpreted language, named by frames (IMGLEAK_FRAME_SCRIPT) */
typedef struct {
    uint32_t id, first_line;
    const char *file, *function;
} snap_code_t;

/* 1.6: JIT-compiled code named by the process's perf map */
typedef struct {
    uint64_t start, size;
    const char *name; /* as the map gives it: "JS:*paint /srv/app.js:12:5" */
} snap_jit_t;

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
    /* interpreted frames (format 1.6; none in older files or programs without an interpreter) */
    const char *script_runtime; /* "CPython 3.11.2" or NULL */
    const char *script_malloc;  /* PYTHONMALLOC as the program got it ("" when unset) */
    unsigned script_flags;      /* IMGLEAK_SCRIPT_RT_* */
    snap_code_t *codes;         /* sorted by id */
    size_t ncodes;
    snap_jit_t *jit;            /* in the map's order: a later entry names reused code */
    size_t njit;
    char *script_text;
    /* 1.6: inputs (files, buffers, tags) the process named, and those it could not record */
    int has_inputs;
    uint64_t inputs_seen, inputs_unnamed;
    /* storage */
    char *strings;
    size_t strings_len;
    uint64_t *frame_pool;
    int released; /* reader_release: only the header, process record and strings are left */
} snapshot_t;

/* NULL on error, with error_get() saying why, prefixed with the path. */
snapshot_t *reader_load(const char *path);
/* The header alone, checked as reader_load checks it: 0, or -1 with error_get(). */
int reader_load_header(const char *path, imgleak_file_header_t *out);
/* Parses a snapshot already in memory; name is used in messages. */
snapshot_t *reader_parse(const char *name, const unsigned char *data, size_t size);
void reader_free(snapshot_t *snap);
/* A long series need not be held whole: reader_release frees a snapshot's records (stacks, live
 * blocks, handles, roots), keeping what orders and names it (header, process record, modules,
 * strings, whether it was scanned);
 * reader_reload reads them again when they are needed, 0, or -1 with error_get() (also when the
 * file is no longer the one read first). */
void reader_release(snapshot_t *snap);
int reader_reload(snapshot_t *snap);

const snap_stack_t *snapshot_stack(const snapshot_t *snap, uint32_t id);
/* NULL when the file names no such type or function */
const snap_name_t *snapshot_handle_type(const snapshot_t *snap, uint32_t id);
const snap_name_t *snapshot_handle_function(const snapshot_t *snap, uint32_t id);
/* NULL when the file names no such code */
const snap_code_t *snapshot_code(const snapshot_t *snap, uint32_t id);
/* The JIT code holding pc (the latest entry of the perf map that does), or NULL. */
const snap_jit_t *snapshot_jit(const snapshot_t *snap, uint64_t pc);

/* reader_script.c: the SCRIPT section (length bytes at data, count records of record_size);
 * -1 with error_set() when it is malformed. */
int reader_parse_script(const char *name, snapshot_t *snap, const unsigned char *data,
                        uint64_t length, uint64_t count, uint32_t record_size);

#endif
