/* The SCRIPT section of a snapshot (format 1.6, see reader.h): the interpreter a process ran and
 * the code objects its interpreted frames name. Each record carries its own texts, so the section
 * is read on its own; every length is checked against what is left of the section. */
#include "reader.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int by_code_id(const void *a, const void *b)
{
    uint32_t x = ((const snap_code_t *)a)->id, y = ((const snap_code_t *)b)->id;
    return x < y ? -1 : x > y;
}

int reader_parse_script(const char *name, snapshot_t *snap, const unsigned char *data,
                        uint64_t length, uint64_t count, uint32_t record_size)
{
    if (record_size < sizeof(imgleak_script_rec_t) || count > length / record_size) {
        error_set("%s: script section: bad record size or count", name);
        return -1;
    }
    /* each text gets a NUL: at most two per record, and a record has at least 16 bytes */
    snap->codes = calloc(count ? count : 1, sizeof *snap->codes);
    snap->jit = calloc(count ? count : 1, sizeof *snap->jit);
    snap->script_text = malloc(length + 2 * count + 1);
    if (!snap->codes || !snap->jit || !snap->script_text) {
        error_set("%s: out of memory", name);
        return -1;
    }
    uint64_t at = 0, text = 0;
    for (uint64_t i = 0; i < count; i++) {
        if (length - at < record_size) {
            error_set("%s: truncated script section (record %llu)", name, (unsigned long long)i + 1);
            return -1;
        }
        const unsigned char *p = data + at;
        uint32_t kind = le32(p), id = le32(p + 4), number = le32(p + 8);
        uint64_t address = le64(p + 16), size = le64(p + 24);
        size_t len1 = (size_t)(p[12] | p[13] << 8), len2 = (size_t)(p[14] | p[15] << 8);
        at += record_size;
        if (length - at < len1 + len2) {
            error_set("%s: truncated script section (texts of record %llu)", name,
                      (unsigned long long)i + 1);
            return -1;
        }
        char *t1 = snap->script_text + text;
        memcpy(t1, data + at, len1);
        t1[len1] = '\0';
        char *t2 = t1 + len1 + 1;
        memcpy(t2, data + at + len1, len2);
        t2[len2] = '\0';
        text += len1 + len2 + 2;
        at += len1 + len2;
        if (memchr(t1, '\0', len1) || memchr(t2, '\0', len2)) {
            error_set("%s: script section: a text holds a NUL", name);
            return -1;
        }
        if (kind == IMGLEAK_SCRIPT_RUNTIME && !snap->script_runtime) {
            snap->script_runtime = t1;
            snap->script_malloc = t2;
            snap->script_flags = number;
        } else if (kind == IMGLEAK_SCRIPT_CODE) {
            if (id == 0) {
                error_set("%s: script section: code id 0 is reserved", name);
                return -1;
            }
            snap->codes[snap->ncodes++] = (snap_code_t){id, number, t1, t2};
        } else if (kind == IMGLEAK_SCRIPT_JIT) {
            if (size == 0 || address + size < address) {
                error_set("%s: script section: a JIT range is empty or wraps", name);
                return -1;
            }
            snap->jit[snap->njit++] = (snap_jit_t){address, size, t1};
        } /* other kinds: a newer writer's, skipped */
    }
    qsort(snap->codes, snap->ncodes, sizeof *snap->codes, by_code_id);
    for (size_t i = 1; i < snap->ncodes; i++)
        if (snap->codes[i].id == snap->codes[i - 1].id) {
            error_set("%s: script section: duplicate code id", name);
            return -1;
        }
    return 0;
}

const snap_code_t *snapshot_code(const snapshot_t *snap, uint32_t id)
{
    size_t lo = 0, hi = snap->ncodes;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (snap->codes[mid].id < id)
            lo = mid + 1;
        else if (snap->codes[mid].id > id)
            hi = mid;
        else
            return &snap->codes[mid];
    }
    return NULL;
}

const snap_jit_t *snapshot_jit(const snapshot_t *snap, uint64_t pc)
{
    for (size_t i = snap->njit; i-- > 0;) /* a handful: only the entries the stacks need */
        if (pc >= snap->jit[i].start && pc - snap->jit[i].start < snap->jit[i].size)
            return &snap->jit[i];
    return NULL;
}
