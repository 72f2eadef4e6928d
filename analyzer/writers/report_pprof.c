/* The pprof writer: gzipped profile.proto (github.com/google/pprof, proto/profile.proto), read by
 * go tool pprof and by continuous-profiling servers. One sample per distinct stack of live
 * memory, with values leaked_objects (count) and leaked_space (bytes); locations carry their
 * inlined frames as several lines, innermost first, and are already symbolized, so pprof needs
 * none of the binaries. Encoded with pbuf.c, compressed with zlib. */
#include "grow.h"
#include "pbuf.h"
#include "report.h"
#include "strtab.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* profile.proto field numbers */
enum { P_SAMPLE_TYPE = 1, P_SAMPLE, P_MAPPING, P_LOCATION, P_FUNCTION, P_STRING_TABLE,
       P_TIME_NANOS = 9, P_PERIOD_TYPE = 11, P_PERIOD, P_COMMENT, P_DEFAULT_SAMPLE_TYPE };

typedef struct {
    pbuf_t out;
    strtab_t strings, functions, locations, mappings;
    const report_t *rep;
    /* the first module record of each path, over the snapshots in order: by the path's id */
    strtab_t module_paths;
    const snap_module_t **module_by_path;
    int modules_indexed;
} pprof_t;

/* Index into the string table; 0 is "" (written first). */
static uint64_t str(pprof_t *p, const char *s)
{
    if (!s || !*s)
        return 0;
    int fresh;
    size_t id = strtab_id(&p->strings, s, &fresh);
    if (!id)
        p->out.failed = 1;
    else if (fresh)
        pbuf_string(&p->out, P_STRING_TABLE, s);
    return id; /* ids start at 1, as "" holds index 0 */
}

static uint64_t value_type(pprof_t *p, unsigned field, const char *type, const char *unit)
{
    pbuf_t m = {0};
    uint64_t t = str(p, type), u = str(p, unit);
    pbuf_uint(&m, 1, t);
    pbuf_uint(&m, 2, u);
    pbuf_bytes(&p->out, field, m.data ? (const void *)m.data : "", m.len);
    pbuf_free(&m);
    return t;
}

/* Each module path's first record, found once for all mappings (not a scan of every module of
 * every snapshot per mapping: 20000 modules made that 4e8 comparisons). */
static int index_modules(pprof_t *p)
{
    p->modules_indexed = 1;
    for (size_t i = 0; i < p->rep->nsnaps; i++)
        for (size_t k = 0; k < p->rep->snaps[i]->nmodules; k++) {
            int fresh;
            const snap_module_t *m = &p->rep->snaps[i]->modules[k];
            size_t id = strtab_id(&p->module_paths, m->path, &fresh);
            if (!id || (fresh && grow_for(&p->module_by_path, id - 1, sizeof *p->module_by_path) < 0))
                return -1;
            if (fresh)
                p->module_by_path[id - 1] = m;
        }
    return 0;
}

static uint64_t mapping(pprof_t *p, const char *module)
{
    if (!module)
        return 0;
    int fresh;
    uint64_t id = strtab_id(&p->mappings, module, &fresh);
    if (!id || !fresh)
        return id;
    if (!p->modules_indexed && index_modules(p) < 0) {
        p->out.failed = 1;
        return 0;
    }
    int unknown;
    size_t at = strtab_id(&p->module_paths, module, &unknown);
    const snap_module_t *m = at && !unknown ? p->module_by_path[at - 1] : NULL;
    char build_id[2 * IMGLEAK_BUILD_ID_MAX + 1] = "";
    for (unsigned i = 0; m && i < m->build_id_len; i++)
        snprintf(build_id + 2 * i, 3, "%02x", m->build_id[i]);
    uint64_t file = str(p, module), bid = str(p, build_id);
    pbuf_t msg = {0};
    pbuf_uint(&msg, 1, id);
    if (m) {
        pbuf_uint(&msg, 2, m->start);
        pbuf_uint(&msg, 3, m->end);
        pbuf_uint(&msg, 4, m->file_offset);
    }
    pbuf_uint(&msg, 5, file);
    pbuf_uint(&msg, 6, bid);
    pbuf_uint(&msg, 7, 1); /* has_functions */
    pbuf_uint(&msg, 8, 1); /* has_filenames */
    pbuf_uint(&msg, 9, 1); /* has_line_numbers */
    pbuf_uint(&msg, 10, 1); /* has_inline_frames */
    pbuf_bytes(&p->out, P_MAPPING, msg.data, msg.len);
    pbuf_free(&msg);
    return id;
}

static uint64_t function(pprof_t *p, const frame_t *f)
{
    char name[512], key[1100];
    report_frame_name(f, name, sizeof name);
    snprintf(key, sizeof key, "%s\n%s", name, f->file ? f->file : "");
    int fresh;
    uint64_t id = strtab_id(&p->functions, key, &fresh);
    if (!id || !fresh)
        return id;
    uint64_t n = str(p, name), file = str(p, f->file);
    pbuf_t msg = {0};
    pbuf_uint(&msg, 1, id);
    pbuf_uint(&msg, 2, n);
    pbuf_uint(&msg, 3, n);
    pbuf_uint(&msg, 4, file);
    pbuf_bytes(&p->out, P_FUNCTION, msg.data, msg.len);
    pbuf_free(&msg);
    return id;
}

/* The location of frames[0..n): one address, its inlined frames first and the real one last. */
static uint64_t location(pprof_t *p, const frame_t *frames, size_t n)
{
    char key[600];
    const frame_t *f = &frames[0];
    if (f->module)
        snprintf(key, sizeof key, "%s+%llx", f->module, (unsigned long long)f->offset);
    else
        snprintf(key, sizeof key, "%s@%llx", f->function ? f->function : "", (unsigned long long)f->address);
    int fresh;
    uint64_t id = strtab_id(&p->locations, key, &fresh);
    if (!id || !fresh)
        return id;
    uint64_t map = mapping(p, f->module);
    pbuf_t msg = {0};
    pbuf_uint(&msg, 1, id);
    pbuf_uint(&msg, 2, map);
    pbuf_uint(&msg, 3, f->address);
    for (size_t i = 0; i < n; i++) {
        pbuf_t line = {0};
        pbuf_uint(&line, 1, function(p, &frames[i]));
        pbuf_uint(&line, 2, frames[i].line);
        pbuf_bytes(&msg, 4, line.data ? (const void *)line.data : "", line.len);
        pbuf_free(&line);
    }
    pbuf_bytes(&p->out, P_LOCATION, msg.data, msg.len);
    pbuf_free(&msg);
    return id;
}

static void sample(pprof_t *p, const report_stack_t *rs, uint64_t kind_key)
{
    uint64_t *ids = malloc((rs->depth ? rs->depth : 1) * sizeof *ids);
    size_t n = 0;
    if (!ids) {
        p->out.failed = 1;
        return;
    }
    size_t depth = report_shown_depth(rs->frames, rs->depth);
    for (size_t i = 0; i < depth;) {
        size_t j = i;
        while (j + 1 < depth && rs->frames[j].inlined)
            j++;
        ids[n++] = location(p, rs->frames + i, j - i + 1);
        i = j + 1;
    }
    uint64_t values[2] = {rs->blocks, rs->bytes};
    pbuf_t msg = {0}, label = {0};
    pbuf_packed(&msg, 1, ids, n);
    pbuf_packed(&msg, 2, values, 2);
    pbuf_uint(&label, 1, kind_key);
    pbuf_uint(&label, 2, str(p, report_kind_name(rs->kind)));
    pbuf_bytes(&msg, 3, label.data, label.len);
    pbuf_bytes(&p->out, P_SAMPLE, msg.data, msg.len);
    pbuf_free(&msg);
    pbuf_free(&label);
    free(ids);
}

static int gzip_to(FILE *out, const unsigned char *data, size_t len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    unsigned char buf[65536];
    z.next_in = (unsigned char *)data;
    int rc;
    do {
        size_t chunk = len > (1u << 30) ? (1u << 30) : len;
        z.avail_in = (uInt)chunk;
        len -= chunk;
        do {
            z.next_out = buf;
            z.avail_out = sizeof buf;
            rc = deflate(&z, len ? Z_NO_FLUSH : Z_FINISH);
            size_t have = sizeof buf - z.avail_out;
            if (rc == Z_STREAM_ERROR || fwrite(buf, 1, have, out) != have) {
                deflateEnd(&z);
                return -1;
            }
        } while (z.avail_out == 0);
    } while (len);
    deflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : -1;
}

int report_write_pprof(const report_t *rep, FILE *out, const report_opts_t *opts)
{
    (void)opts;
    pprof_t p = {.rep = rep};
    pbuf_string(&p.out, P_STRING_TABLE, "");
    value_type(&p, P_SAMPLE_TYPE, "leaked_objects", "count");
    uint64_t space = value_type(&p, P_SAMPLE_TYPE, "leaked_space", "bytes");
    uint64_t kind_key = str(&p, "kind");
    for (size_t i = 0; i < rep->nstacks; i++)
        if (rep->stacks[i].blocks)
            sample(&p, &rep->stacks[i], kind_key);
    uint64_t time_ns = 0, period = 0;
    for (size_t i = 0; i < rep->nprocesses; i++) {
        const snapshot_t *s = rep->processes[i].snap;
        if (s->header.time_ns > time_ns)
            time_ns = s->header.time_ns;
        if (s->process.sample_bytes)
            period = s->process.sample_bytes;
    }
    pbuf_uint(&p.out, P_TIME_NANOS, time_ns);
    value_type(&p, P_PERIOD_TYPE, "space", "bytes");
    pbuf_uint(&p.out, P_PERIOD, period);
    /* (str() may append to the string table: never between a field's tag and its value) */
    uint64_t comment = str(&p, rep->totals.estimated
                                   ? "imgleak: memory live at the snapshot (sampled estimates)"
                                   : "imgleak: memory live at the snapshot");
    pbuf_uint(&p.out, P_COMMENT, comment);
    pbuf_uint(&p.out, P_DEFAULT_SAMPLE_TYPE, space);
    int rc = p.out.failed || gzip_to(out, p.out.data, p.out.len) < 0 ? -1 : 0;
    pbuf_free(&p.out);
    strtab_free(&p.strings);
    strtab_free(&p.module_paths);
    free(p.module_by_path);
    strtab_free(&p.functions);
    strtab_free(&p.locations);
    strtab_free(&p.mappings);
    return rc || ferror(out) ? -1 : 0;
}
