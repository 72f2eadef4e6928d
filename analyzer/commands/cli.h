/* The command line every imgleak command shares: one parser for all options; each command then
 * refuses the ones it does not take. */
#ifndef IMGLEAK_CLI_H
#define IMGLEAK_CLI_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *format;      /* --format */
    const char *out;         /* -o: run's directory, or the output file */
    const char *report_file; /* --report (run) */
    const char *allocator;   /* --allocator (run) */
    const char *handles;     /* --handles FILE (run): declared handle types */
    int all_processes;       /* --all-processes (run): also shells and what wrappers ran */
    double peak_factor;      /* --peak-snapshots (run): 0 for off */
    const char **app;        /* --app, repeatable */
    size_t napp;
    const char **suppressions; /* --suppressions FILE, repeatable */
    size_t nsuppressions;
    int no_default_suppressions;
    int show_reachable;     /* --show-reachable */
    int show_indirect;      /* --show-indirect */
    int by_input;           /* --by-input */
    size_t sites, frames; /* --sites, --frames (text) */
    /* gate */
    int gate;             /* run --gate */
    uint64_t max_bytes;   /* --max-leaked-bytes (default 0) */
    uint64_t max_handles; /* --max-leaked-handles (default 0) */
    const char *baseline; /* --baseline REPORT.json */
    const char *junit;    /* --junit FILE */
    int accept_dropped;   /* --accept-dropped: pass although data was lost */
    unsigned fail_on;     /* --fail-on: CLI_FAIL_* bits (default CLI_FAIL_DEFAULT) */
    int annotate_github;  /* --annotations github: workflow commands with the gate's lines */
    const char *gitlab_report;    /* --annotations gitlab=FILE: Code Quality report */
    const char *annotations_root; /* --annotations-root DIR (default: git top-level, or .) */
    int color;            /* --color: CLI_COLOR_* */
    double duration;      /* --duration SECS (attach; 0: until interrupted) */
    double interval;      /* --interval SECS (attach; 0: not given) */
    unsigned seen;        /* CLI_* bits of the options given */
    int bad_option;       /* the error is an option the command does not take */
} cli_opts_t;

enum {
    CLI_OUT = 1u << 0, CLI_FORMAT = 1u << 1, CLI_REPORT = 1u << 2, CLI_ALLOCATOR = 1u << 3,
    CLI_APP = 1u << 4, CLI_SUPPRESS = 1u << 5, CLI_TEXT = 1u << 6, CLI_GATE = 1u << 7,
    CLI_COLOR = 1u << 8, CLI_HANDLES = 1u << 9, CLI_ATTACH = 1u << 10, CLI_RUN = 1u << 11,
    CLI_PEAKS = 1u << 12,
};

/* What fails the gate (--fail-on): leaked memory (and memory not classified by a scan),
 * possibly leaked memory (only an interior pointer reaches it), codec handles never destroyed,
 * and sites that grow steadily over a series of snapshots (leak suspects). */
enum {
    CLI_FAIL_LEAKED = 1u << 0, CLI_FAIL_POSSIBLE = 1u << 1, CLI_FAIL_HANDLES = 1u << 2,
    CLI_FAIL_GROWTH = 1u << 3,
    CLI_FAIL_DEFAULT = CLI_FAIL_LEAKED | CLI_FAIL_POSSIBLE | CLI_FAIL_HANDLES,
};
enum { CLI_COLOR_AUTO, CLI_COLOR_ALWAYS, CLI_COLOR_NEVER };

/* Fills o (defaults first) from argv[1..]. Options may follow operands, unless stop_at_operand
 * (run: what follows is the program's); "--" ends them. Returns the index of the first operand
 * (they are moved to the end of argv), or -1 with error_get(). --help returns -2. */
int cli_parse(int argc, char **argv, cli_opts_t *o, int stop_at_operand);
/* -1 with error_get() naming the first option given that `allowed` (CLI_* bits) does not take
 * (and o->bad_option set). */
int cli_only(cli_opts_t *o, unsigned allowed, const char *command);
/* "-o, --format, ..., --help": the options a command taking `allowed` accepts, for messages. */
const char *cli_option_list(unsigned allowed);
void cli_free(cli_opts_t *o);

#endif
