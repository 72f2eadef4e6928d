/* The shim's settings, read once from IMGLEAK_* environment variables with secure_getenv. */
#ifndef IMGLEAK_CONFIG_H
#define IMGLEAK_CONFIG_H

#include <stddef.h>

/* the default depth in an interpreter (Python): its frames come on top of the native ones */
#define CONFIG_DEPTH_INTERPRETED 128

typedef struct {
    char out_dir[4096];  /* IMGLEAK_OUT made absolute (default: the start directory; /tmp or
                            $TMPDIR when that is "/") */
    int out_dir_too_long; /* IMGLEAK_OUT (or cwd + it) does not fit: every snapshot fails */
    unsigned depth;      /* IMGLEAK_DEPTH: frames kept per stack (default 32, 1..256) */
    int depth_set;       /* IMGLEAK_DEPTH was given */
    int debug;           /* IMGLEAK_DEBUG: diagnostics on stderr */
    int final;           /* IMGLEAK_FINAL (default 1): a sentinel writes the final snapshot */
    size_t max_stacks;   /* IMGLEAK_MAX_STACKS: distinct stacks kept (default 1048576) */
    size_t max_inputs;   /* IMGLEAK_MAX_INPUTS: inputs told apart (default 4096; 0: none) */
    size_t max_live;     /* IMGLEAK_MAX_LIVE: live table slots at most (default 0: no limit) */
    size_t sample_bytes; /* IMGLEAK_SAMPLE: one sample per this many bytes (default 0: all) */
    unsigned interval_ms; /* IMGLEAK_INTERVAL: seconds between snapshots (default 0: none) */
    int signal;           /* IMGLEAK_SIGNAL: snapshot on this signal (default SIGUSR2; 0: none) */
    unsigned keep;        /* IMGLEAK_KEEP: keep only the newest N periodic snapshots (0: all) */
    int scan;             /* IMGLEAK_SCAN: reachability scan at exit (1, default), always (2),
                             off (0) */
} config_t;

void config_read(config_t *cfg);
/* The same from a block of NAME=VALUE lines instead of the environment (imgleak attach: the
 * program's environment was fixed long before the shim arrived). */
void config_read_settings(config_t *cfg, const char *settings);

#endif
