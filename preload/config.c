/* Reading IMGLEAK_* variables (see config.h). Every variable is listed in imgleak --help and the
 * README; a value that does not parse is ignored with a debug message, never fatal. */
#define _GNU_SOURCE
#include "config.h"

#include "os.h"

#include <stdlib.h>
#include <string.h>

static int parse_size(const char *name, const char *text, size_t lo, size_t hi, size_t *out)
{
    char *end;
    unsigned long long v;
    if (!text || !*text)
        return 0;
    v = strtoull(text, &end, 10);
    if (*end || v < lo || v > hi) {
        os_log("%s=%s ignored: expected a number from %lu to %lu", name, text,
               (unsigned long)lo, (unsigned long)hi);
        return 0;
    }
    *out = (size_t)v;
    return 1;
}

void config_read(config_t *cfg)
{
    const char *v;
    size_t n;
    memset(cfg, 0, sizeof *cfg);
    v = secure_getenv("IMGLEAK_DEBUG");
    cfg->debug = v && *v && strcmp(v, "0") != 0;
    os_log_enable(cfg->debug);

    v = secure_getenv("IMGLEAK_OUT");
    if (v && *v && strlen(v) < sizeof cfg->out_dir)
        strcpy(cfg->out_dir, v);
    else
        strcpy(cfg->out_dir, ".");

    cfg->depth = 32;
    if (parse_size("IMGLEAK_DEPTH", secure_getenv("IMGLEAK_DEPTH"), 1, 256, &n))
        cfg->depth = (unsigned)n;
    cfg->max_stacks = 1u << 20;
    if (parse_size("IMGLEAK_MAX_STACKS", secure_getenv("IMGLEAK_MAX_STACKS"), 16, 1u << 24, &n))
        cfg->max_stacks = n;
    if (parse_size("IMGLEAK_MAX_LIVE", secure_getenv("IMGLEAK_MAX_LIVE"), 64,
                   (size_t)1 << 40, &n))
        cfg->max_live = n;
    if (parse_size("IMGLEAK_SAMPLE", secure_getenv("IMGLEAK_SAMPLE"), 0, (size_t)1 << 40, &n))
        cfg->sample_bytes = n;
}
