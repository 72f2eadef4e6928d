/* The snapshot reader (see reader.h). Fields are decoded explicitly as little-endian, so the
 * reader never depends on the host's structure layout, and records longer than this version
 * knows are read by their known prefix. */
#include "reader.h"

#include "error.h"
#include "progress.h"
#include "safeopen.h"
#include "saturate.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* one load each (memcpy: the records need not be aligned), swapped only on a big-endian host */
static inline uint16_t le16(const unsigned char *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return le16toh(v);
}

static inline uint32_t le32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return le32toh(v);
}

static inline uint64_t le64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return le64toh(v);
}

/* A count, size, id or time, capped at SAT_MAX: no real one comes near 2^63, and the reports
 * write them as JSON integers that signed-64-bit parsers (gate, diff) must read back. */
static uint64_t figure(const unsigned char *p)
{
    uint64_t v = le64(p);
    return v > SAT_MAX ? SAT_MAX : v;
}

typedef struct {
    uint32_t type, record_size;
    uint64_t offset, length, count;
} section_t;

typedef struct {
    const char *name;
    const unsigned char *data;
    size_t size;
    section_t process, strings, modules, stacks, live, names, handles, roots, script, inputs;
} parse_t;

static const char *section_name(uint32_t type)
{
    switch (type) {
    case IMGLEAK_SECTION_PROCESS: return "process";
    case IMGLEAK_SECTION_STRINGS: return "strings";
    case IMGLEAK_SECTION_MODULES: return "modules";
    case IMGLEAK_SECTION_STACKS: return "stacks";
    case IMGLEAK_SECTION_LIVE: return "live";
    case IMGLEAK_SECTION_HANDLE_NAMES: return "handle names";
    case IMGLEAK_SECTION_HANDLES: return "handles";
    case IMGLEAK_SECTION_LEAK_ROOTS: return "leak roots";
    case IMGLEAK_SECTION_SCRIPT: return "script";
    case IMGLEAK_SECTION_INPUTS: return "inputs";
    default: return "unknown";
    }
}

static int fail(const parse_t *ps, const char *what)
{
    error_set("%s: %s", ps->name, what);
    return -1;
}

static int parse_header_fields(parse_t *ps, snapshot_t *snap);

static int parse_header(parse_t *ps, snapshot_t *snap)
{
    const unsigned char *d = ps->data;
    char msg[256];
    if (ps->size < IMGLEAK_MAGIC_LEN || memcmp(d, IMGLEAK_MAGIC, IMGLEAK_MAGIC_LEN) != 0)
        return fail(ps, "not an imgleak snapshot (bad magic)");
    if (ps->size < sizeof(imgleak_file_header_t)) {
        snprintf(msg, sizeof msg, "truncated header (need %zu bytes, have %zu)",
                 sizeof(imgleak_file_header_t), ps->size);
        return fail(ps, msg);
    }
    return parse_header_fields(ps, snap);
}

/* The header's fields, checked against ps->size (the whole file's size; ps->data may hold only
 * the header). */
static int parse_header_fields(parse_t *ps, snapshot_t *snap)
{
    const unsigned char *d = ps->data;
    char msg[256];
    imgleak_file_header_t *h = &snap->header;
    memcpy(h->magic, d, IMGLEAK_MAGIC_LEN);
    h->version_major = le16(d + 8);
    h->version_minor = le16(d + 10);
    h->header_size = le32(d + 12);
    h->section_count = le32(d + 16);
    h->section_entry_size = le32(d + 20);
    h->file_size = le64(d + 24);
    h->pid = figure(d + 32);
    h->sequence = figure(d + 40);
    h->time_ns = figure(d + 48);
    h->flags = le64(d + 56);
    if (h->version_major != IMGLEAK_VERSION_MAJOR) {
        snprintf(msg, sizeof msg, "format version %u.%u is not supported (this imgleak reads %u.x)",
                 h->version_major, h->version_minor, IMGLEAK_VERSION_MAJOR);
        return fail(ps, msg);
    }
    if (h->file_size != ps->size) {
        snprintf(msg, sizeof msg, "%s (header says %llu bytes, file has %zu)",
                 h->file_size > ps->size ? "truncated file" : "file size does not match header",
                 (unsigned long long)h->file_size, ps->size);
        return fail(ps, msg);
    }
    if (h->header_size < sizeof(imgleak_file_header_t) || h->header_size > ps->size)
        return fail(ps, "bad header size");
    if (h->section_entry_size < sizeof(imgleak_section_entry_t) || h->section_count > 4096 ||
        (uint64_t)h->section_count * h->section_entry_size > ps->size - h->header_size)
        return fail(ps, "section table does not fit in the file");
    return 0;
}

static int parse_sections(parse_t *ps, const snapshot_t *snap)
{
    char msg[256];
    for (uint32_t i = 0; i < snap->header.section_count; i++) {
        const unsigned char *e = ps->data + snap->header.header_size +
                                 (size_t)i * snap->header.section_entry_size;
        section_t s = {le32(e), le32(e + 4), le64(e + 8), le64(e + 16), le64(e + 24)};
        if (s.offset > ps->size || s.length > ps->size - s.offset) {
            snprintf(msg, sizeof msg,
                     "%s section past end (offset %llu, length %llu, file %zu bytes)",
                     section_name(s.type), (unsigned long long)s.offset,
                     (unsigned long long)s.length, ps->size);
            return fail(ps, msg);
        }
        section_t *slot = NULL;
        switch (s.type) {
        case IMGLEAK_SECTION_PROCESS: slot = &ps->process; break;
        case IMGLEAK_SECTION_STRINGS: slot = &ps->strings; break;
        case IMGLEAK_SECTION_MODULES: slot = &ps->modules; break;
        case IMGLEAK_SECTION_STACKS: slot = &ps->stacks; break;
        case IMGLEAK_SECTION_LIVE: slot = &ps->live; break;
        case IMGLEAK_SECTION_HANDLE_NAMES: slot = &ps->names; break;
        case IMGLEAK_SECTION_HANDLES: slot = &ps->handles; break;
        case IMGLEAK_SECTION_LEAK_ROOTS: slot = &ps->roots; break;
        case IMGLEAK_SECTION_SCRIPT: slot = &ps->script; break;
        case IMGLEAK_SECTION_INPUTS: slot = &ps->inputs; break;
        default: continue; /* a newer writer's section: skipped */
        }
        if (slot->type) {
            snprintf(msg, sizeof msg, "duplicate %s section", section_name(s.type));
            return fail(ps, msg);
        }
        *slot = s;
    }
    const section_t *need[] = {&ps->process, &ps->strings, &ps->modules, &ps->stacks, &ps->live};
    const char *names[] = {"process", "strings", "modules", "stacks", "live"};
    for (size_t i = 0; i < sizeof need / sizeof *need; i++) {
        if (!need[i]->type) {
            snprintf(msg, sizeof msg, "missing %s section", names[i]);
            return fail(ps, msg);
        }
    }
    return 0;
}

/* Checks that count records of at least min_size bytes each fit the section. */
static int check_fixed(parse_t *ps, const section_t *s, uint32_t min_size)
{
    char msg[256];
    if (s->record_size < min_size) {
        snprintf(msg, sizeof msg, "%s records of %u bytes are too short (need %u)",
                 section_name(s->type), s->record_size, min_size);
        return fail(ps, msg);
    }
    if (s->count > s->length / s->record_size) {
        snprintf(msg, sizeof msg, "truncated %s section (%llu records of %u bytes need more than %llu)",
                 section_name(s->type), (unsigned long long)s->count, s->record_size,
                 (unsigned long long)s->length);
        return fail(ps, msg);
    }
    return 0;
}

static int string_at(parse_t *ps, snapshot_t *snap, uint32_t off, const char **out)
{
    if (off >= snap->strings_len)
        return fail(ps, "string reference past the end of the strings section");
    *out = snap->strings + off;
    return 0;
}

static int parse_strings(parse_t *ps, snapshot_t *snap)
{
    const section_t *s = &ps->strings;
    if (s->length == 0 || ps->data[s->offset + s->length - 1] != '\0')
        return fail(ps, "strings section is empty or not NUL-terminated");
    snap->strings = malloc(s->length);
    if (!snap->strings)
        return fail(ps, "out of memory");
    memcpy(snap->strings, ps->data + s->offset, s->length);
    snap->strings_len = s->length;
    return 0;
}

static int parse_process(parse_t *ps, snapshot_t *snap)
{
    if (check_fixed(ps, &ps->process, 160) < 0)
        return -1;
    if (ps->process.count != 1)
        return fail(ps, "process section must hold exactly one record");
    const unsigned char *p = ps->data + ps->process.offset;
    imgleak_process_rec_t *r = &snap->process;
    r->pid = figure(p);
    r->ppid = figure(p + 8);
    r->start_time_ns = figure(p + 16);
    r->rss_bytes = figure(p + 24);
    r->peak_rss_bytes = figure(p + 32);
    r->exe_string = le32(p + 40);
    r->allocator = le32(p + 44);
    r->glibc_arena = figure(p + 48);
    r->glibc_mmapped = figure(p + 56);
    r->glibc_in_use = figure(p + 64);
    r->glibc_free = figure(p + 72);
    r->je_allocated = figure(p + 80);
    r->je_active = figure(p + 88);
    r->je_resident = figure(p + 96);
    r->je_retained = figure(p + 104);
    r->je_mapped = figure(p + 112);
    r->dropped_table_full = figure(p + 120);
    r->truncated_stacks = figure(p + 128);
    r->dropped_stacks = figure(p + 136);
    r->oversized_blocks = figure(p + 144);
    r->depth_limit = le32(p + 152);
    r->go_resident_pages = le32(p + 156);
    r->sample_bytes = ps->process.record_size >= 168 ? le64(p + 160) : 0; /* 1.1 */
    if (ps->process.record_size >= 200) { /* 1.4 */
        r->instance_id = le64(p + 168);
        r->scan_flags = le32(p + 176);
        r->go_heap_c_blocks = le32(p + 180);
        r->unscanned_bytes = figure(p + 184);
        r->failed_snapshots = figure(p + 192);
    }
    if (ps->process.record_size >= 256) { /* 1.5 */
        r->rss_measured = le64(p + 200);
        r->rss_heap = le64(p + 208);
        r->rss_heap_chunks = le64(p + 216);
        r->heap_chunk_bytes = le64(p + 224);
        r->rss_mmap = le64(p + 232);
        r->rss_shim = le64(p + 240);
        r->rss_rest = le64(p + 248);
    }
    return string_at(ps, snap, r->exe_string, &snap->exe);
}

static int parse_modules(parse_t *ps, snapshot_t *snap)
{
    const section_t *s = &ps->modules;
    if (check_fixed(ps, s, 72) < 0)
        return -1;
    snap->modules = calloc(s->count ? s->count : 1, sizeof *snap->modules);
    if (!snap->modules)
        return fail(ps, "out of memory");
    for (uint64_t i = 0; i < s->count; i++) {
        const unsigned char *p = ps->data + s->offset + i * s->record_size;
        snap_module_t *m = &snap->modules[i];
        m->start = le64(p);
        m->end = le64(p + 8);
        m->bias = le64(p + 16);
        m->file_offset = le64(p + 24);
        m->build_id_len = le16(p + 36);
        m->flags = le16(p + 38);
        if (m->end < m->start || m->build_id_len > IMGLEAK_BUILD_ID_MAX)
            return fail(ps, "malformed module record");
        memcpy(m->build_id, p + 40, m->build_id_len);
        if (string_at(ps, snap, le32(p + 32), &m->path) < 0)
            return -1;
    }
    snap->nmodules = s->count;
    return 0;
}

static int by_stack_id(const void *a, const void *b)
{
    uint32_t x = ((const snap_stack_t *)a)->id, y = ((const snap_stack_t *)b)->id;
    return x < y ? -1 : x > y;
}

static int parse_stacks(parse_t *ps, snapshot_t *snap)
{
    const section_t *s = &ps->stacks;
    char msg[256];
    if (s->record_size < 40)
        return fail(ps, "stack records are too short");
    if (s->count > s->length / s->record_size)
        return fail(ps, "truncated stacks section (more records than bytes)");
    /* every frame costs 8 bytes of the section, so the pool never outgrows the file */
    snap->stacks = calloc(s->count ? s->count : 1, sizeof *snap->stacks);
    snap->frame_pool = malloc(s->length / 8 * sizeof(uint64_t) + 8);
    if (!snap->stacks || !snap->frame_pool)
        return fail(ps, "out of memory");
    uint64_t at = 0, pool = 0;
    for (uint64_t i = 0; i < s->count; i++) {
        if (s->length - at < s->record_size) {
            snprintf(msg, sizeof msg, "truncated stacks section (record %llu of %llu)",
                     (unsigned long long)i + 1, (unsigned long long)s->count);
            return fail(ps, msg);
        }
        const unsigned char *p = ps->data + s->offset + at;
        snap_stack_t *st = &snap->stacks[i];
        st->id = le32(p);
        st->depth = le16(p + 4);
        st->flags = le16(p + 6);
        st->allocs = le64(p + 8);
        st->frees = le64(p + 16);
        st->alloc_bytes = le64(p + 24);
        st->free_bytes = le64(p + 32);
        at += s->record_size;
        if ((s->length - at) / 8 < st->depth) {
            snprintf(msg, sizeof msg, "truncated stacks section (stack %u needs %u frames)",
                     st->id, st->depth);
            return fail(ps, msg);
        }
        if (st->id == 0)
            return fail(ps, "stack id 0 is reserved");
        st->frames = snap->frame_pool + pool;
#if __BYTE_ORDER == __LITTLE_ENDIAN
        memcpy(st->frames, ps->data + s->offset + at, 8u * st->depth); /* as they are on disk */
#else
        for (unsigned f = 0; f < st->depth; f++)
            st->frames[f] = le64(ps->data + s->offset + at + 8u * f);
#endif
        pool += st->depth;
        at += 8u * st->depth;
    }
    snap->nstacks = s->count;
    /* the shim writes them in id order: sorted already, unless a writer did otherwise */
    size_t unsorted = 1;
    while (unsorted < snap->nstacks && snap->stacks[unsorted - 1].id < snap->stacks[unsorted].id)
        unsorted++;
    if (unsorted < snap->nstacks)
        qsort(snap->stacks, snap->nstacks, sizeof *snap->stacks, by_stack_id);
    for (size_t i = 1; i < snap->nstacks; i++)
        if (snap->stacks[i].id == snap->stacks[i - 1].id)
            return fail(ps, "duplicate stack id");
    return 0;
}

static int parse_live(parse_t *ps, snapshot_t *snap)
{
    const section_t *s = &ps->live;
    if (check_fixed(ps, s, 24) < 0)
        return -1;
    snap->live = calloc(s->count ? s->count : 1, sizeof *snap->live);
    if (!snap->live)
        return fail(ps, "out of memory");
    for (uint64_t i = 0; i < s->count; i++) {
        const unsigned char *p = ps->data + s->offset + i * s->record_size;
        snap_live_t *l = &snap->live[i];
        uint64_t size_kind = le64(p + 8);
        l->address = le64(p);
        l->size = size_kind & IMGLEAK_SIZE_MASK;
        l->kind = IMGLEAK_KIND_OF(size_kind);
        l->cls = IMGLEAK_CLASS_OF(size_kind);
        l->stack_id = le32(p + 16);
        l->birth_s = le32(p + 20);
        if (l->kind != IMGLEAK_KIND_HEAP && l->kind != IMGLEAK_KIND_MMAP)
            return fail(ps, "live record of unknown kind");
        if (l->cls > IMGLEAK_CLASS_INDIRECT)
            return fail(ps, "live record of unknown class");
        if (l->cls != IMGLEAK_CLASS_UNKNOWN)
            snap->scanned = 1;
        if (l->stack_id && !snapshot_stack(snap, l->stack_id))
            return fail(ps, "live record names a stack that is not in the file");
    }
    snap->nlive = s->count;
    return 0;
}

typedef struct {
    uint64_t address, bytes, blocks;
} root_rec_t;

static int by_root_address(const void *a, const void *b)
{
    uint64_t x = ((const root_rec_t *)a)->address, y = ((const root_rec_t *)b)->address;
    return x < y ? -1 : x > y;
}

/* 1.3: the leaked blocks others hang from, with what hangs from them. A record for a block that
 * is not in LIVE (freed while the snapshot was written) is skipped; one naming a block that is not
 * leaked is an error. The few roots are sorted and the live blocks looked up in them, rather than
 * the other way round. */
static int parse_leak_roots(parse_t *ps, snapshot_t *snap)
{
    const section_t *s = &ps->roots;
    if (!s->type || !s->count)
        return 0;
    if (check_fixed(ps, s, 24) < 0)
        return -1;
    root_rec_t *recs = malloc(s->count * sizeof *recs);
    snap->roots = calloc(s->count, sizeof *snap->roots);
    if (!recs || !snap->roots) {
        free(recs);
        return fail(ps, "out of memory");
    }
    for (uint64_t i = 0; i < s->count; i++) {
        const unsigned char *p = ps->data + s->offset + i * s->record_size;
        recs[i] = (root_rec_t){le64(p), le64(p + 8), le64(p + 16)};
    }
    qsort(recs, s->count, sizeof *recs, by_root_address);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < snap->nlive && snap->nroots < s->count; i++) {
        root_rec_t key = {.address = snap->live[i].address};
        const root_rec_t *hit = bsearch(&key, recs, s->count, sizeof *recs, by_root_address);
        if (!hit)
            continue;
        if (snap->live[i].cls != IMGLEAK_CLASS_LEAKED)
            rc = fail(ps, "leak root record names a block that is not leaked");
        else
            snap->roots[snap->nroots++] = (snap_root_t){i, hit->bytes, hit->blocks};
    }
    free(recs);
    return rc;
}

static int by_name_id(const void *a, const void *b)
{
    uint32_t x = ((const snap_name_t *)a)->id, y = ((const snap_name_t *)b)->id;
    return x < y ? -1 : x > y;
}

/* names[] is sorted by id (parse_handles): a search, not a scan, for each of many handles */
static const snap_name_t *name_in(const snap_name_t *names, size_t n, uint32_t id)
{
    snap_name_t key = {.id = id};
    return n ? bsearch(&key, names, n, sizeof *names, by_name_id) : NULL;
}

static int sort_names(parse_t *ps, snap_name_t *names, size_t n)
{
    if (n)
        qsort(names, n, sizeof *names, by_name_id);
    for (size_t i = 1; i < n; i++)
        if (names[i].id == names[i - 1].id)
            return fail(ps, "duplicate handle type or function id");
    return 0;
}

const snap_name_t *snapshot_handle_type(const snapshot_t *snap, uint32_t id)
{
    return name_in(snap->handle_types, snap->nhandle_types, id);
}

const snap_name_t *snapshot_handle_function(const snapshot_t *snap, uint32_t id)
{
    return name_in(snap->handle_functions, snap->nhandle_functions, id);
}

/* Both sections are optional (format 1.2); a file with handles must name their types. */
static int parse_handles(parse_t *ps, snapshot_t *snap)
{
    if (!ps->names.type && !ps->handles.type)
        return 0;
    if (!ps->names.type || !ps->handles.type)
        return fail(ps, "handles without handle names, or names without handles");
    if (check_fixed(ps, &ps->names, 24) < 0 || check_fixed(ps, &ps->handles, 40) < 0)
        return -1;
    size_t n = ps->names.count;
    snap->handle_types = calloc(n ? n : 1, sizeof *snap->handle_types);
    snap->handle_functions = calloc(n ? n : 1, sizeof *snap->handle_functions);
    snap->handles = calloc(ps->handles.count ? ps->handles.count : 1, sizeof *snap->handles);
    if (!snap->handle_types || !snap->handle_functions || !snap->handles)
        return fail(ps, "out of memory");
    for (uint64_t i = 0; i < n; i++) {
        const unsigned char *p = ps->data + ps->names.offset + i * ps->names.record_size;
        snap_name_t nm = {le32(p + 4), NULL, NULL, le32(p + 16)};
        if (string_at(ps, snap, le32(p + 8), &nm.name) < 0 ||
            string_at(ps, snap, le32(p + 12), &nm.library) < 0)
            return -1;
        if (le32(p) == IMGLEAK_NAME_TYPE)
            snap->handle_types[snap->nhandle_types++] = nm;
        else if (le32(p) == IMGLEAK_NAME_FUNCTION)
            snap->handle_functions[snap->nhandle_functions++] = nm;
        else
            return fail(ps, "handle name of unknown kind");
    }
    if (sort_names(ps, snap->handle_types, snap->nhandle_types) < 0 ||
        sort_names(ps, snap->handle_functions, snap->nhandle_functions) < 0)
        return -1;
    for (uint64_t i = 0; i < ps->handles.count; i++) {
        const unsigned char *p = ps->data + ps->handles.offset + i * ps->handles.record_size;
        snap_handle_t *h = &snap->handles[i];
        h->address = le64(p);
        h->count = le64(p + 8);
        h->type = le32(p + 16);
        h->function = le32(p + 20);
        h->stack_id = le32(p + 24);
        h->birth_s = le32(p + 28);
        h->refs = le32(p + 32);
        h->state = le32(p + 36);
        if (h->state < IMGLEAK_HANDLE_LIVE || h->state > IMGLEAK_HANDLE_DESTROY_WRONG)
            return fail(ps, "handle record of unknown state");
        if (!snapshot_handle_type(snap, h->type) || !snapshot_handle_function(snap, h->function))
            return fail(ps, "handle record names a type or function that is not in the file");
        if (h->stack_id && !snapshot_stack(snap, h->stack_id))
            return fail(ps, "handle record names a stack that is not in the file");
    }
    snap->nhandles = ps->handles.count;
    return 0;
}

typedef struct {
    uint32_t id;
    const char *name;
} input_name_t;

static int by_input_id(const void *a, const void *b)
{
    uint32_t x = ((const input_name_t *)a)->id, y = ((const input_name_t *)b)->id;
    return x < y ? -1 : x > y;
}

/* 1.6: the inputs' names, then which stack is whose. An input named after the snapshot's
 * strings were written has a stack but no name here. */
static int parse_inputs(parse_t *ps, snapshot_t *snap)
{
    static const char unnamed[] = "(an input named while the snapshot was taken)";
    if (!ps->inputs.type)
        return 0;
    if (check_fixed(ps, &ps->inputs, 16) < 0)
        return -1;
    snap->has_inputs = 1;
    input_name_t *names = calloc(ps->inputs.count ? ps->inputs.count : 1, sizeof *names);
    size_t nnames = 0;
    if (!names)
        return fail(ps, "out of memory");
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t i = 0; i < ps->inputs.count; i++) {
            const unsigned char *p = ps->data + ps->inputs.offset + i * ps->inputs.record_size;
            uint32_t kind = le32(p), id = le32(p + 4);
            uint64_t value = figure(p + 8);
            if (pass == 0 && kind == IMGLEAK_INPUT_NAME) {
                names[nnames].id = id;
                if (value > UINT32_MAX || string_at(ps, snap, (uint32_t)value, &names[nnames].name) < 0) {
                    free(names);
                    return value > UINT32_MAX ? fail(ps, "input name past the strings") : -1;
                }
                nnames++;
            } else if (pass == 0 && kind == IMGLEAK_INPUT_SEEN) {
                snap->inputs_seen = value;
            } else if (pass == 0 && kind == IMGLEAK_INPUT_UNNAMED) {
                snap->inputs_unnamed = value;
            } else if (pass == 1 && kind == IMGLEAK_INPUT_STACK) {
                snap_stack_t *st = (snap_stack_t *)snapshot_stack(snap, id);
                input_name_t key = {(uint32_t)(value > UINT32_MAX ? 0 : value), NULL}, *found;
                if (!st || !key.id) {
                    free(names);
                    return fail(ps, st ? "input record names input 0"
                                       : "input record names a stack that is not in the file");
                }
                found = bsearch(&key, names, nnames, sizeof *names, by_input_id);
                st->input = found ? found->name : unnamed;
            } else if (pass == 0 && kind > IMGLEAK_INPUT_UNNAMED) {
                free(names);
                return fail(ps, "input record of unknown kind");
            }
        }
        if (pass == 0 && nnames)
            qsort(names, nnames, sizeof *names, by_input_id);
    }
    free(names);
    return 0;
}

snapshot_t *reader_parse(const char *name, const unsigned char *data, size_t size)
{
    parse_t ps;
    memset(&ps, 0, sizeof ps);
    ps.name = name;
    ps.data = data;
    ps.size = size;
    snapshot_t *snap = calloc(1, sizeof *snap);
    if (!snap || !(snap->path = strdup(name))) {
        free(snap);
        error_set("%s: out of memory", name);
        return NULL;
    }
    if (parse_header(&ps, snap) < 0 || parse_sections(&ps, snap) < 0 ||
        parse_strings(&ps, snap) < 0 || parse_process(&ps, snap) < 0 ||
        parse_modules(&ps, snap) < 0 || parse_stacks(&ps, snap) < 0 || parse_live(&ps, snap) < 0 ||
        parse_handles(&ps, snap) < 0 || parse_leak_roots(&ps, snap) < 0 ||
        (ps.script.type && reader_parse_script(name, snap, data + ps.script.offset, ps.script.length,
                                               ps.script.count, ps.script.record_size) < 0) ||
        parse_inputs(&ps, snap) < 0) {
        reader_free(snap);
        return NULL;
    }
    return snap;
}

/* The header alone, checked against the file's real size before anything else is read: a
 * garbage or sparse file is refused after 64 bytes, not after reading it whole. */
static int check_header_first(const char *path, FILE *f, size_t size, imgleak_file_header_t *out)
{
    unsigned char head[sizeof(imgleak_file_header_t)];
    size_t got = fread(head, 1, sizeof head, f);
    parse_t ps = {.name = path, .data = head, .size = got};
    snapshot_t probe = {0};
    if (got < sizeof head || memcmp(head, IMGLEAK_MAGIC, IMGLEAK_MAGIC_LEN) != 0)
        return parse_header(&ps, &probe) < 0 ? -1 : fail(&ps, "read error");
    ps.size = size;
    if (parse_header_fields(&ps, &probe) < 0)
        return -1;
    if (out)
        *out = probe.header;
    return fseek(f, 0, SEEK_SET) == 0 ? 0 : (error_set("%s: %s", path, strerror(errno)), -1);
}

int reader_load_header(const char *path, imgleak_file_header_t *out)
{
    struct stat st;
    FILE *f = safeopen_fopen(path, &st);
    if (!f)
        return -1;
    int rc = check_header_first(path, f, (size_t)st.st_size, out);
    fclose(f);
    return rc;
}

snapshot_t *reader_load(const char *path)
{
    struct stat st;
    FILE *f = safeopen_fopen(path, &st);
    if (!f)
        return NULL;
    if ((uint64_t)st.st_size > SIZE_MAX / 2) {
        error_set("%s: too large (%llu bytes)", path, (unsigned long long)st.st_size);
        fclose(f);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    if (check_header_first(path, f, size, NULL) < 0) {
        fclose(f);
        return NULL;
    }
    unsigned char *data = malloc(size ? size : 1);
    if (!data) {
        error_set("%s: out of memory reading %zu bytes", path, size);
        fclose(f);
        return NULL;
    }
    size_t got = 0, chunk = 1u << 20, n;
    progress_begin("reading", "MiB", size >> 20);
    while (got < size && (n = fread(data + got, 1, size - got < chunk ? size - got : chunk, f)) > 0) {
        got += n;
        progress_step(got >> 20);
    }
    progress_end();
    int bad = ferror(f);
    fclose(f);
    if (bad || got != size) {
        error_set("%s: read error", path);
        free(data);
        return NULL;
    }
    snapshot_t *snap = reader_parse(path, data, size);
    free(data);
    return snap;
}

/* Frees the records, keeps the file header, the process record, the modules and the strings. */
static void release_records(snapshot_t *snap)
{
    free(snap->stacks);
    free(snap->frame_pool);
    free(snap->live);
    free(snap->handle_types);
    free(snap->handle_functions);
    free(snap->handles);
    free(snap->roots);
    snap->stacks = NULL;
    snap->frame_pool = NULL;
    snap->live = NULL;
    snap->handle_types = snap->handle_functions = NULL;
    snap->handles = NULL;
    snap->roots = NULL;
    snap->nstacks = snap->nlive = snap->nroots = 0;
    snap->nhandle_types = snap->nhandle_functions = snap->nhandles = 0;
    snap->released = 1;
}

void reader_release(snapshot_t *snap)
{
    release_records(snap);
}

int reader_reload(snapshot_t *snap)
{
    if (!snap->released)
        return 0;
    snapshot_t *fresh = reader_load(snap->path);
    if (!fresh)
        return -1;
    if (memcmp(&fresh->header, &snap->header, sizeof snap->header) != 0 ||
        memcmp(&fresh->process, &snap->process, sizeof snap->process) != 0) {
        error_set("%s: it changed while imgleak read it", snap->path);
        reader_free(fresh);
        return -1;
    }
    free(snap->path);
    free(snap->strings);
    free(snap->modules);
    free(snap->codes);
    free(snap->jit);
    free(snap->script_text);
    *snap = *fresh;
    free(fresh);
    return 0;
}

void reader_free(snapshot_t *snap)
{
    if (!snap)
        return;
    free(snap->path);
    free(snap->modules);
    free(snap->stacks);
    free(snap->frame_pool);
    free(snap->live);
    free(snap->strings);
    free(snap->handle_types);
    free(snap->handle_functions);
    free(snap->handles);
    free(snap->roots);
    free(snap->codes);
    free(snap->jit);
    free(snap->script_text);
    free(snap);
}

const snap_stack_t *snapshot_stack(const snapshot_t *snap, uint32_t id)
{
    /* the shim numbers its stacks 1, 2, ...: then stack id is at id - 1, no search needed */
    if (id && id <= snap->nstacks && snap->stacks[id - 1].id == id)
        return &snap->stacks[id - 1];
    size_t lo = 0, hi = snap->nstacks;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (snap->stacks[mid].id < id)
            lo = mid + 1;
        else if (snap->stacks[mid].id > id)
            hi = mid;
        else
            return &snap->stacks[mid];
    }
    return NULL;
}
