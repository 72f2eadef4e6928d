/* The registry of output formats and helpers they share (see report.h). */
#include "report.h"

#include "escape.h"
#include "imgleak/format.h"

#include <string.h>

static const report_writer_t writers[] = {
    {"text", report_write_text},
    {"json", report_write_json},
    {"pprof", report_write_pprof},
    {"collapsed", report_write_collapsed},
    {"html", report_write_html},
};

const report_writer_t *report_writer_find(const char *name)
{
    for (size_t i = 0; i < sizeof writers / sizeof *writers; i++)
        if (strcmp(writers[i].name, name) == 0)
            return &writers[i];
    return NULL;
}

const char *report_writer_names(void)
{
    return "text|json|pprof|collapsed|html";
}

void report_format_bytes(uint64_t bytes, char *out, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    unsigned u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof *units) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, size, "%llu B", (unsigned long long)bytes);
    else
        snprintf(out, size, "%.1f %s", v, units[u]);
}

/* The C runtime's frames that start every program and thread: the same under every stack, they
 * say nothing about where memory went. */
static int is_runtime_start(const frame_t *f)
{
    static const char *const names[] = {"_start", "__libc_start_main", "__libc_start_main_impl",
                                        "__libc_start_call_main", "start_thread", "clone",
                                        "clone3", "__clone", "__clone3"};
    for (size_t i = 0; f->function && i < sizeof names / sizeof *names; i++)
        if (strcmp(f->function, names[i]) == 0)
            return 1;
    return 0;
}

size_t report_shown_depth(const frame_t *frames, size_t depth)
{
    while (depth > 1 && is_runtime_start(&frames[depth - 1]))
        depth--;
    return depth;
}

const char *report_misuse_name(unsigned state)
{
    switch (state) {
    case IMGLEAK_HANDLE_DESTROY_UNKNOWN: return "destroy_unknown";
    case IMGLEAK_HANDLE_DESTROY_TWICE: return "destroy_twice";
    case IMGLEAK_HANDLE_DESTROY_WRONG: return "destroy_wrong_type";
    default: return "unknown";
    }
}

const char *report_kind_name(unsigned kind)
{
    return kind == IMGLEAK_KIND_MMAP ? "mmap" : "heap";
}

void report_json_string(FILE *out, const char *s, int in_html)
{
    escape_json(out, s, in_html);
}

/* totals.dropped: everything recorded in part or not at all (docs/REPORT-JSON.md). */
void report_json_dropped(FILE *out, const report_totals_t *t)
{
    fprintf(out, "\"dropped\":{\"any\":%s,\"table_full\":%llu,\"stacks\":%llu,"
                 "\"truncated_stacks\":%llu,\"oversized_blocks\":%llu,\"failed_snapshots\":%llu,"
                 "\"unattributed_bytes\":%llu,\"unattributed_blocks\":%llu,"
                 "\"scan_incomplete\":%llu,\"scan_skipped\":%llu,\"unscanned_bytes\":%llu,"
                 "\"unclassified_bytes\":%llu,\"unclassified_blocks\":%llu,"
                 "\"skipped_snapshots\":%llu,\"final_missing\":%s,\"scan_inherited\":%llu,"
                 "\"child_unclassified_bytes\":%llu,\"child_unclassified_blocks\":%llu}",
            model_totals_incomplete(t) ? "true" : "false",
            (unsigned long long)t->dropped_table_full, (unsigned long long)t->dropped_stacks,
            (unsigned long long)t->truncated_stacks, (unsigned long long)t->oversized_blocks,
            (unsigned long long)t->failed_snapshots, (unsigned long long)t->unattributed_bytes,
            (unsigned long long)t->unattributed_blocks, (unsigned long long)t->scan_incomplete,
            (unsigned long long)t->scan_skipped, (unsigned long long)t->unscanned_bytes,
            (unsigned long long)t->unclassified_bytes, (unsigned long long)t->unclassified_blocks,
            (unsigned long long)t->skipped_snapshots, t->final_missing ? "true" : "false",
            (unsigned long long)t->scan_inherited, (unsigned long long)t->child_unclassified_bytes,
            (unsigned long long)t->child_unclassified_blocks);
}

void report_frame_name(const frame_t *f, char *out, size_t size)
{
    if (f->function)
        snprintf(out, size, "%s", f->function);
    else if (f->module) {
        const char *slash = strrchr(f->module, '/');
        snprintf(out, size, "%s+0x%llx", slash ? slash + 1 : f->module,
                 (unsigned long long)f->offset);
    } else
        snprintf(out, size, "0x%llx", (unsigned long long)f->address);
}

const char *report_class_name(unsigned cls)
{
    switch (cls) {
    case IMGLEAK_CLASS_REACHABLE: return "reachable";
    case IMGLEAK_CLASS_POSSIBLE: return "possible";
    case IMGLEAK_CLASS_LEAKED: return "leaked";
    case IMGLEAK_CLASS_INDIRECT: return "indirect";
    default: return "unscanned";
    }
}
