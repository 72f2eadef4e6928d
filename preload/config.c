/* Reading IMGLEAK_* variables (see config.h). Every variable is listed in imgleak --help and the
 * README; a value that does not parse is ignored with a debug message, never fatal. */
#define _GNU_SOURCE
#include "config.h"

#include "os.h"

#include <signal.h>
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

/* "SIGUSR2", "USR2", "12" or "0" */
static int parse_signal(const char *text, int *out)
{
    static const struct {
        const char *name;
        int sig;
    } names[] = {{"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP},   {"URG", SIGURG},
                 {"PWR", SIGPWR},   {"WINCH", SIGWINCH}, {"PROF", SIGPROF}, {"VTALRM", SIGVTALRM}};
    char *end;
    if (!text || !*text)
        return 0;
    if (strncmp(text, "SIG", 3) == 0)
        text += 3;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (strcmp(text, names[i].name) == 0) {
            *out = names[i].sig;
            return 1;
        }
    }
    long v = strtol(text, &end, 10);
    if (*end || v < 0 || v >= NSIG || v == SIGKILL || v == SIGSTOP || v == SIGSEGV ||
        v == SIGBUS || v == SIGFPE || v == SIGILL) {
        os_log("IMGLEAK_SIGNAL=%s ignored: expected a signal name or number", text);
        return 0;
    }
    *out = (int)v;
    return 1;
}

/* seconds, with a fraction: "1", "0.5" */
static int parse_interval(const char *text, unsigned *ms)
{
    char *end;
    if (!text || !*text)
        return 0;
    double v = strtod(text, &end);
    if (*end || !(v >= 0) || v > 86400 * 365) {
        os_log("IMGLEAK_INTERVAL=%s ignored: expected seconds", text);
        return 0;
    }
    *ms = (unsigned)(v * 1000 + 0.5);
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
    parse_interval(secure_getenv("IMGLEAK_INTERVAL"), &cfg->interval_ms);
    cfg->signal = SIGUSR2;
    parse_signal(secure_getenv("IMGLEAK_SIGNAL"), &cfg->signal);
    if (parse_size("IMGLEAK_KEEP", secure_getenv("IMGLEAK_KEEP"), 0, 1u << 30, &n))
        cfg->keep = (unsigned)n;
    v = secure_getenv("IMGLEAK_FINAL");
    cfg->final = !(v && (strcmp(v, "0") == 0 || strcmp(v, "off") == 0));
    cfg->scan = 1;
    const char *scan = secure_getenv("IMGLEAK_SCAN");
    if (scan && *scan) {
        if (strcmp(scan, "off") == 0 || strcmp(scan, "0") == 0)
            cfg->scan = 0;
        else if (strcmp(scan, "exit") == 0)
            cfg->scan = 1;
        else if (strcmp(scan, "always") == 0)
            cfg->scan = 2;
        else
            os_log("IMGLEAK_SCAN=%s ignored: expected exit, always or off", scan);
    }
}
