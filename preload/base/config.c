/* Reading IMGLEAK_* variables (see config.h). Every variable is listed in imgleak --help and the
 * README; a value that does not parse is ignored with a debug message, never fatal. */
#define _GNU_SOURCE
#include "config.h"

#include "os.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Only signals whose default action the program cannot miss: taking SIGHUP, SIGPIPE, SIGCHLD,
 * SIGSEGV and the like would silently change how the program reacts to them. */
static int signal_allowed(int sig)
{
    return sig == SIGUSR1 || sig == SIGUSR2 || (sig >= SIGRTMIN && sig <= SIGRTMAX);
}

/* "RTMIN", "RTMIN+3", "RTMAX-1": the real-time signal, or 0 */
static int parse_rt(const char *text)
{
    char *end;
    int base = strncmp(text, "RTMIN", 5) == 0 ? SIGRTMIN : strncmp(text, "RTMAX", 5) == 0 ? SIGRTMAX : 0;
    if (!base)
        return 0;
    text += 5;
    if (!*text)
        return base;
    if (*text != '+' && *text != '-')
        return 0;
    long v = strtol(text + 1, &end, 10);
    if (*end || end == text + 1 || v > 64)
        return 0;
    return *text == '+' ? base + (int)v : base - (int)v;
}

/* "SIGUSR2", "USR2", "12", "SIGRTMIN+1", "35", or "0" / "none" (off). Anything else is refused on stderr
 * whatever IMGLEAK_DEBUG says: the user asked for snapshots on that signal and gets none. */
static int parse_signal(const char *text, int *out)
{
    const char *given = text;
    char *end;
    int sig = -1;
    if (!text || !*text)
        return 0;
    if (strncmp(text, "SIG", 3) == 0)
        text += 3;
    if (strcmp(text, "none") == 0)
        sig = 0;
    else if (strcmp(text, "USR1") == 0)
        sig = SIGUSR1;
    else if (strcmp(text, "USR2") == 0)
        sig = SIGUSR2;
    else if (strncmp(text, "RT", 2) == 0)
        sig = parse_rt(text);
    else {
        long v = strtol(text, &end, 10);
        if (!*end && end != text && v >= 0 && v < NSIG)
            sig = (int)v;
    }
    if (sig == 0) {
        *out = 0;
        return 1;
    }
    if (sig < 0 || !signal_allowed(sig)) {
        *out = 0;
        os_warn("IMGLEAK_SIGNAL=%s refused: only SIGUSR1, SIGUSR2 and SIGRTMIN..SIGRTMAX "
                "(%d..%d); no signal snapshots", given, SIGRTMIN, SIGRTMAX);
        return 0;
    }
    *out = sig;
    return 1;
}

/* dir + "/" + name into out; 0, or -1 when it does not fit */
static int join(char *out, size_t cap, const char *dir, const char *name)
{
    size_t d = strlen(dir), n = strlen(name);
    if (d + 1 + n + 1 > cap)
        return -1;
    memcpy(out, dir, d);
    out[d] = '/';
    memcpy(out + d + 1, name, n + 1);
    return 0;
}

/* IMGLEAK_OUT made absolute once, at start: the program may chdir() later, and a relative
 * directory would then name another place. Unset, it is the directory the program started in,
 * except "/": a daemon that runs in "/" did not ask for files there (and usually cannot write
 * there), so its snapshots go to $TMPDIR or /tmp, where every user can create files and O_EXCL and
 * O_NOFOLLOW keep others' links out. A path too long is kept as such: each snapshot then fails,
 * and says so. */
static void resolve_out_dir(config_t *cfg, const char *v)
{
    char cwd[sizeof cfg->out_dir];
    int have_cwd = getcwd(cwd, sizeof cwd) != NULL;
    if (v && *v && v[0] == '/') {
        if (strlen(v) < sizeof cfg->out_dir)
            strcpy(cfg->out_dir, v);
        else
            cfg->out_dir_too_long = 1;
    } else if (v && *v) {
        if (!have_cwd && strlen(v) < sizeof cfg->out_dir)
            strcpy(cfg->out_dir, v); /* the start directory is gone or unnameable: as given */
        else if (!have_cwd || join(cfg->out_dir, sizeof cfg->out_dir, cwd, v) < 0)
            cfg->out_dir_too_long = 1;
    } else if (have_cwd && strcmp(cwd, "/") != 0) {
        strcpy(cfg->out_dir, cwd);
    } else {
        const char *tmp = secure_getenv("TMPDIR");
        strcpy(cfg->out_dir, tmp && tmp[0] == '/' && strlen(tmp) < sizeof cfg->out_dir ? tmp : "/tmp");
    }
    if (cfg->out_dir_too_long)
        strcpy(cfg->out_dir, v && strlen(v) < sizeof cfg->out_dir ? v : "(IMGLEAK_OUT)");
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

/* Where the settings come from: the environment, or the block imgleak attach handed over. */
static const char *settings_block;

static const char *setting(const char *name)
{
    if (!settings_block)
        return secure_getenv(name);
    size_t len = strlen(name);
    for (const char *line = settings_block; *line;) {
        const char *end = strchr(line, '\n');
        if (!end)
            end = line + strlen(line);
        if ((size_t)(end - line) > len && strncmp(line, name, len) == 0 && line[len] == '=') {
            /* one buffer: config_read parses each value before it asks for the next */
            static char value[4096];
            size_t n = (size_t)(end - line) - len - 1;
            if (n >= sizeof value)
                return NULL;
            memcpy(value, line + len + 1, n);
            value[n] = 0;
            return value;
        }
        line = *end ? end + 1 : end;
    }
    return NULL;
}

void config_read_settings(config_t *cfg, const char *settings)
{
    settings_block = settings;
    config_read(cfg);
    settings_block = NULL;
}

void config_read(config_t *cfg)
{
    const char *v;
    size_t n;
    memset(cfg, 0, sizeof *cfg);
    v = setting("IMGLEAK_DEBUG");
    cfg->debug = v && *v && strcmp(v, "0") != 0;
    os_log_enable(cfg->debug);
    os_log_start();

    resolve_out_dir(cfg, setting("IMGLEAK_OUT"));

    cfg->depth = 32;
    if (parse_size("IMGLEAK_DEPTH", setting("IMGLEAK_DEPTH"), 1, 256, &n)) {
        cfg->depth = (unsigned)n;
        cfg->depth_set = 1;
    }
    cfg->max_inputs = 4096;
    if (parse_size("IMGLEAK_MAX_INPUTS", setting("IMGLEAK_MAX_INPUTS"), 0, 1u << 18, &n))
        cfg->max_inputs = n;
    cfg->max_stacks = 1u << 20;
    if (parse_size("IMGLEAK_MAX_STACKS", setting("IMGLEAK_MAX_STACKS"), 16, 1u << 24, &n))
        cfg->max_stacks = n;
    if (parse_size("IMGLEAK_MAX_LIVE", setting("IMGLEAK_MAX_LIVE"), 64,
                   (size_t)1 << 40, &n))
        cfg->max_live = n;
    if (parse_size("IMGLEAK_SAMPLE", setting("IMGLEAK_SAMPLE"), 0, (size_t)1 << 40, &n))
        cfg->sample_bytes = n;
    parse_interval(setting("IMGLEAK_INTERVAL"), &cfg->interval_ms);
    cfg->signal = SIGUSR2;
    parse_signal(setting("IMGLEAK_SIGNAL"), &cfg->signal);
    if (parse_size("IMGLEAK_KEEP", setting("IMGLEAK_KEEP"), 0, 1u << 30, &n))
        cfg->keep = (unsigned)n;
    v = setting("IMGLEAK_FINAL");
    cfg->final = !(v && (strcmp(v, "0") == 0 || strcmp(v, "off") == 0));
    cfg->scan = 1;
    const char *scan = setting("IMGLEAK_SCAN");
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
