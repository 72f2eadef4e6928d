/* The imgleak snapshot format: the only contract between the shim (which writes it) and the
 * analyzer (which reads it). Little-endian, versioned, made of sections with declared offsets,
 * lengths, record counts and record sizes, so that readers skip sections they do not know and
 * read the known prefix of records that a newer writer made longer. docs/FORMAT.md describes
 * every byte. Fixed-width fields only; no pointers, no padding the compiler chooses. */
#ifndef IMGLEAK_FORMAT_H
#define IMGLEAK_FORMAT_H

#include <stdint.h>

#define IMGLEAK_MAGIC "IMGLEAK\x1a"
#define IMGLEAK_MAGIC_LEN 8
/* Major changes when an old reader would misread a new file; minor when something was added. */
#define IMGLEAK_VERSION_MAJOR 1
#define IMGLEAK_VERSION_MINOR 6

typedef struct {
    char magic[IMGLEAK_MAGIC_LEN];
    uint16_t version_major;
    uint16_t version_minor;
    uint32_t header_size;        /* bytes; the section table starts here */
    uint32_t section_count;
    uint32_t section_entry_size; /* bytes per section table entry */
    uint64_t file_size;          /* the whole file, to tell truncation from corruption */
    uint64_t pid;
    uint64_t sequence;           /* 1, 2, ... per process */
    uint64_t time_ns;            /* CLOCK_REALTIME when the snapshot was taken */
    uint64_t flags;              /* IMGLEAK_SNAP_* */
} imgleak_file_header_t;         /* 64 bytes */

#define IMGLEAK_SNAP_AT_EXIT 1u /* written by the exit hook */
#define IMGLEAK_SNAP_ATTACHED 2u /* 1.6: by a shim imgleak attach loaded; start_time is the attach */
/* 1.6: asked for by imgleak run at a new high-water mark of the program's RSS (a signal queued
 * with IMGLEAK_PEAK_SIGVAL): insurance against an OOM kill, dropped once a final one exists */
#define IMGLEAK_SNAP_PEAK 4u
#define IMGLEAK_PEAK_SIGVAL 0x70656b /* sigqueue's value for such a request: "pek" */

typedef struct {
    uint32_t type;        /* IMGLEAK_SECTION_* */
    uint32_t record_size; /* fixed part of one record; 0 for a blob */
    uint64_t offset;      /* from the start of the file */
    uint64_t length;      /* bytes */
    uint64_t count;       /* records; 0 for a blob */
} imgleak_section_entry_t; /* 32 bytes */

enum {
    IMGLEAK_SECTION_PROCESS = 1, /* one imgleak_process_rec_t */
    IMGLEAK_SECTION_STRINGS = 2, /* blob of NUL-terminated strings, referenced by byte offset */
    IMGLEAK_SECTION_MODULES = 3, /* imgleak_module_rec_t records */
    IMGLEAK_SECTION_STACKS = 4,  /* imgleak_stack_rec_t, each followed by depth uint64 frames */
    IMGLEAK_SECTION_LIVE = 5,    /* imgleak_live_rec_t records */
    IMGLEAK_SECTION_HANDLE_NAMES = 6, /* 1.2: imgleak_name_rec_t, names of handle types and functions */
    IMGLEAK_SECTION_HANDLES = 7,      /* 1.2: imgleak_handle_rec_t */
    IMGLEAK_SECTION_LEAK_ROOTS = 8,   /* 1.3: imgleak_leak_root_rec_t, for scanned snapshots */
    IMGLEAK_SECTION_INPUTS = 9,       /* 1.6: imgleak_input_rec_t: inputs and their stacks */
    IMGLEAK_SECTION_SCRIPT = 10,      /* 1.6: imgleak_script_rec_t, each followed by its texts */
};

enum { IMGLEAK_ALLOCATOR_UNKNOWN = 0, IMGLEAK_ALLOCATOR_GLIBC = 1, IMGLEAK_ALLOCATOR_JEMALLOC = 2 };

typedef struct {
    uint64_t pid;
    uint64_t ppid;
    uint64_t start_time_ns;  /* CLOCK_REALTIME when the shim started in this process */
    uint64_t rss_bytes;      /* VmRSS */
    uint64_t peak_rss_bytes; /* VmHWM */
    uint32_t exe_string;     /* offset into STRINGS */
    uint32_t allocator;      /* IMGLEAK_ALLOCATOR_* */
    /* glibc mallinfo2(): arena (sbrk heap), hblkhd (mmapped), uordblks (in use), fordblks (free) */
    uint64_t glibc_arena, glibc_mmapped, glibc_in_use, glibc_free;
    /* jemalloc stats.allocated, active, resident, retained, mapped */
    uint64_t je_allocated, je_active, je_resident, je_retained, je_mapped;
    /* what the shim could not record; never silently lost */
    uint64_t dropped_table_full; /* allocations not tracked: live table full */
    uint64_t truncated_stacks;   /* stacks deeper than depth_limit, cut */
    uint64_t dropped_stacks;     /* allocations with no stack: stack table full */
    uint64_t oversized_blocks;   /* sizes that did not fit the table; recorded as the maximum */
    uint32_t depth_limit;
    /* Go programs: 4 KiB pages of the Go runtime's own mappings (x_cgo_mmap: heap arenas, spans,
     * goroutine stacks) resident when the snapshot was taken (mincore); 0 otherwise and in files
     * written before it was defined (the field was reserved, always 0) */
    uint32_t go_resident_pages;
    /* 1.1: IMGLEAK_SAMPLE; 0 when every allocation is recorded. A heap block of size s was
     * recorded with probability 1 - exp(-s / sample_bytes). */
    uint64_t sample_bytes;
    /* 1.4: which process this is. pid and start time are not enough: pid 1 of two containers
     * writing to one volume, or a pid reused over a long run. Random, drawn again in a forked
     * child; never 0 in a 1.4 file. */
    uint64_t instance_id;
    /* 1.4: what the reachability scan could not do (IMGLEAK_SCAN_* flags) and how many bytes of
     * roots and blocks it could not read. A block that was not scanned is never called leaked. */
    uint32_t scan_flags;
    /* Go programs: live C heap blocks whose start address is held somewhere in the Go runtime's
     * resident mappings (Go objects, goroutine stacks, dead ones too); the conservative scan counts
     * them reachable even when only garbage holds them. 0 otherwise and in files before (was
     * reserved, always 0). */
    uint32_t go_heap_c_blocks;
    uint64_t unscanned_bytes;
    /* 1.4: snapshots this process tried to write before this one and could not (directory
     * missing or unwritable, disk full, descriptor closed under it) */
    uint64_t failed_snapshots;
    /* 1.5: the resident set by what holds it, measured when the snapshot is taken; the parts
     * sum to rss_measured. All 0 when it could not be measured. */
    uint64_t rss_measured;     /* the sum of Rss over /proc/self/smaps */
    uint64_t rss_heap;         /* malloc's heaps: glibc's brk heap and arenas (jemalloc: its
                                  stats.resident) */
    uint64_t rss_heap_chunks;  /* glibc's chunks mapped on their own, of the live blocks recorded */
    uint64_t heap_chunk_bytes; /* the mapped size of those chunks */
    uint64_t rss_mmap;         /* the program's own mappings the shim tracks */
    uint64_t rss_shim;         /* imgleak itself: its libraries and its tables */
    uint64_t rss_rest;         /* the rest: code, stacks, mappings not tracked */
} imgleak_process_rec_t; /* 256 bytes */

#define IMGLEAK_SCAN_INCOMPLETE 1u /* some roots or blocks could not be read */
#define IMGLEAK_SCAN_SKIPPED 2u    /* the scan did not run although it was asked for */
/* a forked child that did not exec: the heap and mappings it inherited from its parent are not
 * its blocks (the parent reports them; gathering them made every child's exit as slow as the
 * parent's) and were read as roots only; informational, not lost data */
#define IMGLEAK_SCAN_INHERITED 4u

#define IMGLEAK_BUILD_ID_MAX 32
typedef struct {
    uint64_t start;       /* lowest mapped address of the module */
    uint64_t end;         /* one past the highest */
    uint64_t bias;        /* load bias: runtime address minus ELF virtual address */
    uint64_t file_offset; /* file offset of the first loaded segment */
    uint32_t path_string; /* offset into STRINGS */
    uint16_t build_id_len;
    uint16_t flags; /* IMGLEAK_MODULE_* */
    uint8_t build_id[IMGLEAK_BUILD_ID_MAX];
} imgleak_module_rec_t; /* 72 bytes */

#define IMGLEAK_MODULE_MAIN 1u /* the program's executable */
#define IMGLEAK_MODULE_SHIM 2u /* libimgleak.so itself */

typedef struct {
    uint32_t id;
    uint16_t depth;
    uint16_t flags; /* IMGLEAK_STACK_* */
    /* lifetime counters of everything allocated from this stack */
    uint64_t allocs, frees, alloc_bytes, free_bytes;
    /* followed by depth uint64_t return addresses, innermost first */
} imgleak_stack_rec_t; /* 40 bytes */

#define IMGLEAK_STACK_TRUNCATED 1u

typedef struct {
    uint64_t address;
    uint64_t size_kind; /* size in the low 56 bits, IMGLEAK_KIND_* in the top 8 */
    uint32_t stack_id;  /* 0: no stack was recorded */
    uint32_t birth_s;   /* seconds after start_time_ns */
} imgleak_live_rec_t;   /* 24 bytes */

enum { IMGLEAK_KIND_HEAP = 0, IMGLEAK_KIND_MMAP = 1 };

/* 1.2: codec handles. A name record names a handle type or a codec function by its id. */
typedef struct {
    uint32_t kind; /* IMGLEAK_NAME_* */
    uint32_t id;
    uint32_t name_string;    /* offset into STRINGS */
    uint32_t library_string; /* offset into STRINGS */
    uint32_t flags;          /* for types: IMGLEAK_HTYPE_* */
    uint32_t reserved;
} imgleak_name_rec_t; /* 24 bytes */

enum { IMGLEAK_NAME_TYPE = 0, IMGLEAK_NAME_FUNCTION = 1 };
#define IMGLEAK_HTYPE_BUFFER 1u     /* the handle is a heap block; free() also releases it */
#define IMGLEAK_HTYPE_REFCOUNTED 2u /* created with one reference; leaks when it never drops to 0 */

typedef struct {
    uint64_t address;
    uint64_t count;    /* 1 for a live handle; the number of events for the others */
    uint32_t type;     /* a type id of HANDLE_NAMES */
    uint32_t function; /* a function id: the create, or for misuse the destroy called */
    uint32_t stack_id; /* the creating stack, or for misuse the destroying one */
    uint32_t birth_s;
    uint32_t refs;  /* references the program still holds (live handles) */
    uint32_t state; /* IMGLEAK_HANDLE_* */
} imgleak_handle_rec_t; /* 40 bytes */

enum {
    IMGLEAK_HANDLE_LIVE = 1,           /* created, never destroyed */
    IMGLEAK_HANDLE_ABANDONED = 2,      /* never destroyed; its place was created again or reset */
    IMGLEAK_HANDLE_DESTROY_UNKNOWN = 3, /* destroyed, but never seen created */
    IMGLEAK_HANDLE_DESTROY_TWICE = 4,   /* destroyed again after it was destroyed */
    IMGLEAK_HANDLE_DESTROY_WRONG = 5,   /* destroyed with another type's function */
};
#define IMGLEAK_SIZE_BITS 56
#define IMGLEAK_SIZE_MASK ((UINT64_C(1) << IMGLEAK_SIZE_BITS) - 1)
/* The top byte of size_kind: the kind in its low 4 bits; 1.3: the class in its high 4 bits. */
#define IMGLEAK_KIND_OF(size_kind) ((unsigned)((size_kind) >> IMGLEAK_SIZE_BITS) & 0xfu)
#define IMGLEAK_CLASS_OF(size_kind) ((unsigned)((size_kind) >> (IMGLEAK_SIZE_BITS + 4)) & 0xfu)
#define IMGLEAK_SIZE_KIND(size, kind, cls)                                                        \
    (((uint64_t)(size) & IMGLEAK_SIZE_MASK) | (uint64_t)(kind) << IMGLEAK_SIZE_BITS |              \
     (uint64_t)(cls) << (IMGLEAK_SIZE_BITS + 4))

/* 1.3: what the reachability scan found for a block (snapshots taken at exit, by default). */
enum {
    IMGLEAK_CLASS_UNKNOWN = 0,   /* not scanned (or allocated while the scan ran) */
    IMGLEAK_CLASS_REACHABLE = 1, /* a root or a reachable block points to its start */
    IMGLEAK_CLASS_POSSIBLE = 2,  /* only pointers into its middle were found */
    IMGLEAK_CLASS_LEAKED = 3,    /* no pointer to it at all: the root of a leak */
    IMGLEAK_CLASS_INDIRECT = 4,  /* pointed to only from leaked blocks */
};

/* 1.3: for each leaked block that others hang from, what hangs from it: the indirectly leaked
 * blocks only it leads to. One record per such root, not per block, so that a leaked list of two
 * million nodes costs one record. */
typedef struct {
    uint64_t address;         /* a leaked block (class LEAKED) */
    uint64_t indirect_bytes;  /* the indirectly leaked blocks under it */
    uint64_t indirect_blocks;
} imgleak_leak_root_rec_t; /* 24 bytes */


/* 1.6: interpreted frames. A stack's frame with the top bit set is not a return address but a
 * frame of an interpreted language: a code id of the SCRIPT section (bits 32..62) and the line
 * being run (bits 0..31, 0 when unknown). */
#define IMGLEAK_FRAME_SCRIPT (UINT64_C(1) << 63)
#define IMGLEAK_FRAME_SCRIPT_MAKE(code, line)                                                     \
    (IMGLEAK_FRAME_SCRIPT | (uint64_t)((code) & 0x7fffffffu) << 32 | (uint32_t)(line))
#define IMGLEAK_FRAME_SCRIPT_CODE(frame) ((uint32_t)((frame) >> 32) & 0x7fffffffu)
#define IMGLEAK_FRAME_SCRIPT_LINE(frame) ((uint32_t)(frame))

/* 1.6: the SCRIPT section: what the interpreter was, the code its frames name, and the names of
 * JIT-compiled code from the perf map (/tmp/perf-PID.map). Each record is followed by text1_len
 * then text2_len bytes (no NULs), so that a record written after the strings blob still carries
 * its names; the section is written after the stacks. */
typedef struct {
    uint32_t kind;      /* IMGLEAK_SCRIPT_* */
    uint32_t id;        /* CODE: the id frames carry */
    uint32_t number;    /* CODE: the first line; RUNTIME: IMGLEAK_SCRIPT_RT_* flags */
    uint16_t text1_len; /* CODE: the source file; RUNTIME: the language and version ("CPython 3.11.2");
                           JIT: the perf map's name ("JS:*paint /srv/app.js:12:5") */
    uint16_t text2_len; /* CODE: the function (qualified name); RUNTIME: PYTHONMALLOC as the
                           program saw it; JIT: empty */
    uint64_t address;   /* JIT: the code's start */
    uint64_t size;      /* JIT: its length in bytes */
} imgleak_script_rec_t; /* 32 bytes */

enum { IMGLEAK_SCRIPT_RUNTIME = 1, IMGLEAK_SCRIPT_CODE = 2, IMGLEAK_SCRIPT_JIT = 3 };
#define IMGLEAK_SCRIPT_RT_FRAMES 1u       /* the shim read this interpreter's frames */
#define IMGLEAK_SCRIPT_RT_MALLOC_BY_RUN 2u /* imgleak run set PYTHONMALLOC=malloc */
/* 1.6: which input (file, memory buffer, request the program tagged) the memory and handles of
 * a stack were made for. The shim interns a stack under the input its thread was working on, so
 * one call chain under two inputs is two stacks; this section names the inputs and says which
 * stack is whose. Written after the stacks section. */
typedef struct {
    uint32_t kind;  /* IMGLEAK_INPUT_* */
    uint32_t id;    /* NAME: the input's id (1, 2, ...); STACK: a stack id; SEEN, DROPPED: 0 */
    uint64_t value; /* NAME: offset into STRINGS; STACK: the input's id; SEEN: inputs named in
                       the process; UNNAMED: inputs begun once IMGLEAK_MAX_INPUTS were named
                       (charged to none: their memory is recorded all the same) */
} imgleak_input_rec_t; /* 16 bytes */

enum {
    IMGLEAK_INPUT_NAME = 0,
    IMGLEAK_INPUT_STACK = 1,
    IMGLEAK_INPUT_SEEN = 2,
    IMGLEAK_INPUT_UNNAMED = 3,
};

#endif
