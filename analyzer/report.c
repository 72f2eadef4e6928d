/* The registry of output formats and helpers they share (see report.h). */
#include "report.h"

#include "imgleak/format.h"

#include <string.h>

static const report_writer_t writers[] = {
    {"text", report_write_text},
    {"json", report_write_json},
    {"pprof", report_write_pprof},
    {"collapsed", report_write_collapsed},
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
    return "text|json|pprof|collapsed";
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
