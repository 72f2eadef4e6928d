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
