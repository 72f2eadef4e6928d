/* imgleak: the commands. Each parses its options, calls into the modules, and turns an error
 * into one line on stderr and exit status 2. */
#define _GNU_SOURCE
#include "cli.h"
#include "diff.h"
#include "error.h"
#include "gate.h"
#include "inputs.h"
#include "report.h"
#include "outfile.h"
#include "run.h"
#include "safeopen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_BAD_INPUT 2

static const char usage_text[] =
    "usage: imgleak run [-o DIR] [--report FILE] [--format FMT] [--allocator glibc|jemalloc]\n"
    "                   [--gate [GATE OPTIONS]] [OPTIONS] -- CMD [ARGS...]\n"
    "       imgleak report [-o FILE] [--format FMT] [OPTIONS] SNAPSHOT...\n"
    "       imgleak growth [-o FILE] [--format text|json] [OPTIONS] SNAPSHOT...\n"
    "       imgleak gate [GATE OPTIONS] [OPTIONS] SNAPSHOT...|REPORT.json\n"
    "       imgleak diff [-o FILE] [--format text|json] [OPTIONS] BASE NEW\n"
    "       imgleak --help | --version\n";

static const char help_text[] =
    "\n"
    "Finds the memory a program keeps, and the line of its own code that allocated it.\n"
    "\n"
    "Commands:\n"
    "  run -- CMD ARGS      run CMD under libimgleak.so, report when it exits (on stderr, so\n"
    "                       CMD's own output stays as it was), and exit with CMD's status\n"
    "                       (with --gate: 1 when the gate fails)\n"
    "  report SNAPSHOT...   report on snapshot files written earlier (for each process, its\n"
    "                       latest snapshot counts; several snapshots of one process add how\n"
    "                       each call site grew)\n"
    "  growth SNAPSHOT...   how each call site grew over a series of snapshots of a running\n"
    "                       process: slope (bytes/s and per snapshot), r² (how steady), first\n"
    "                       and last bytes, age of the oldest live block; sites that grow\n"
    "                       steadily to the end are leak suspects, caches that filled once not\n"
    "  gate INPUT...        exit 0 when the program's leaks are within limits, 1 when not,\n"
    "                       printing each offending site as 'file:line: N bytes in M blocks\n"
    "                       leaked (function)'; INPUT is snapshots or a JSON report\n"
    "  diff BASE NEW        sites new, grown, shrunk and gone between two reports (each a\n"
    "                       snapshot or a JSON report), with byte and block deltas\n"
    "\n"
    "Options:\n"
    "  -o DIR               run: keep the snapshots in DIR (default: a temporary directory)\n"
    "  -o FILE              report, growth, diff: write to FILE (default: standard output)\n"
    "  --report FILE        run: write the report to FILE (default: standard error)\n"
    "                       (-o FILE, --report, --junit: written whole and renamed into place;\n"
    "                       a symbolic link, directory or FIFO there is refused)\n"
    "  --format FMT         text (default), json (docs/REPORT-JSON.md), pprof (gzipped\n"
    "                       profile.proto for go tool pprof), collapsed (stacks for\n"
    "                       flamegraph.pl, inferno, speedscope) or html (one self-contained\n"
    "                       page with a flame graph); growth and diff: text or json\n"
    "  --allocator NAME     run: glibc (as the program is) or jemalloc, to compare RSS\n"
    "  --app PATTERN        also count modules or source files matching PATTERN (a shell\n"
    "                       wildcard, on the path or its last component) as the application\n"
    "  --suppressions FILE  leak:PATTERN lines, as LeakSanitizer reads them: a stack with a\n"
    "                       frame whose function, file or module contains PATTERN ('*' any\n"
    "                       run, '^' start, '$' end) is left out of the leaks and counted as\n"
    "                       suppressed; repeatable\n"
    "  --no-default-suppressions  report the one-time allocations of the C library, the\n"
    "                       dynamic linker and the codec libraries too\n"
    "  --show-reachable     also list blocks a pointer still reaches at exit (by default only\n"
    "                       leaked, indirectly and possibly leaked ones are, as valgrind does)\n"
    "  --sites N            text: list at most N call sites (default 20; 0 for all)\n"
    "  --frames N           text: frames shown under each site (default 8; 0 for all)\n"
    "\n"
    "Gate options (gate, and run --gate):\n"
    "  --max-leaked-bytes N    bytes the program may leak (default 0)\n"
    "  --max-leaked-handles N  codec handles it may leave undestroyed (default 0)\n"
    "  --baseline REPORT.json  count only growth beyond this earlier report, site by site\n"
    "                          (function and file, so a line shift is not growth)\n"
    "  --junit FILE            also write the verdict as JUnit XML\n"
    "\n"
    "Leaks are charged to the innermost frame of the application: the executable, or any module\n"
    "outside the system library directories (/lib, /usr/lib, ...), never the C library, the\n"
    "allocator or the shim. The gate counts only those: sites with no frame of the program are\n"
    "reported, not counted.\n"
    "\n"
    "Environment read by libimgleak.so (LD_PRELOAD it yourself, or use imgleak run):\n"
    "  IMGLEAK_OUT=DIR        where snapshots are written (default: the current directory), as\n"
    "                         imgleak.<pid>.<seq>.snap\n"
    "  IMGLEAK_DEPTH=N        stack frames kept per allocation (default 32, 1 to 256)\n"
    "  IMGLEAK_MAX_STACKS=N   distinct stacks kept (default 1048576); more are counted, not kept\n"
    "  IMGLEAK_MAX_LIVE=N     live-table slots at most (default: no limit but memory)\n"
    "  IMGLEAK_SAMPLE=BYTES   record one allocation per BYTES on average (default 0: all);\n"
    "                         the report then gives unbiased estimates\n"
    "  IMGLEAK_INTERVAL=SECS  also write a snapshot every SECS seconds (fractions allowed)\n"
    "  IMGLEAK_SIGNAL=SIG     write a snapshot when the process receives SIG (default SIGUSR2;\n"
    "                         a name or number; 0 or none turns it off); the program's own\n"
    "                         handler for SIG still runs\n"
    "  IMGLEAK_KEEP=N         keep only the newest N snapshots of each process (default: all)\n"
    "  IMGLEAK_SCAN=WHEN      reachability scan: exit (default: the snapshot at exit), always\n"
    "                         (every snapshot; costs a pass over live memory), or off\n"
    "  IMGLEAK_DEBUG=1        diagnostics on stderr\n"
    "\n"
    "Exit status: report, growth, diff: 0; gate: 0 or 1; run: the program's (1 when --gate\n"
    "fails); 2 on bad input or a failure of imgleak.\n";

static int usage_error(const char *msg)
{
    fprintf(stderr, "imgleak: %s\n%s", msg, usage_text);
    return EXIT_BAD_INPUT;
}

/* Parses argv for a command that takes `allowed` options; returns the first operand's index, or
 * -1 after saying why (exit 2), or -2 after --help (exit 0). */
static int parse(int argc, char **argv, cli_opts_t *o, unsigned allowed)
{
    int first = cli_parse(argc, argv, o, strcmp(argv[0], "run") == 0);
    if (first == -2) {
        fputs(usage_text, stdout);
        fputs(help_text, stdout);
        return -2;
    }
    if (first < 0 || cli_only(o, allowed, argv[0]) < 0) {
        usage_error(error_get());
        return -1;
    }
    return first;
}

static int done(int rc)
{
    return rc == -2 ? 0 : EXIT_BAD_INPUT;
}

/* out_path through outfile (no following a link, no half-written file left), or fallback */
static FILE *open_output(outfile_t *of, const char *out_path, FILE *fallback)
{
    *of = (outfile_t){0};
    if (!out_path)
        return fallback;
    return outfile_open(of, out_path) < 0 ? NULL : of->f;
}

static int close_output(outfile_t *of, FILE *out, FILE *fallback, int rc)
{
    if (out != fallback)
        return outfile_commit(of, rc == 0) < 0 ? -1 : rc;
    if (fflush(out) != 0 || ferror(out)) {
        error_set("standard %s: write error", out == stderr ? "error" : "output");
        rc = -1;
    }
    return rc;
}

static int want_color(FILE *out)
{
    const char *no_color = getenv("NO_COLOR");
    return isatty(fileno(out)) && !(no_color && *no_color);
}

/* Writes the report on paths[] to out_path, or to fallback when out_path is NULL. */
static int write_report(const cli_opts_t *o, const model_opts_t *mo, char *const *paths, size_t n,
                        const char *out_path, FILE *fallback)
{
    report_t rep = {0};
    if (inputs_report(&rep, paths, n, mo) < 0) {
        report_free(&rep);
        return -1;
    }
    outfile_t of;
    FILE *out = open_output(&of, out_path, fallback);
    int rc = -1;
    if (out) {
        report_opts_t ropts = {want_color(out), o->sites, o->frames, o->show_reachable};
        rc = report_writer_find(o->format)->write(&rep, out, &ropts) < 0 ? -1 : 0;
        rc = close_output(&of, out, fallback, rc);
    }
    report_free(&rep);
    return rc;
}

static int check_format(const cli_opts_t *o, int any_writer)
{
    if (any_writer ? report_writer_find(o->format) != NULL
                   : strcmp(o->format, "text") == 0 || strcmp(o->format, "json") == 0)
        return 0;
    error_set("unknown format '%s' (expected %s)", o->format,
              any_writer ? report_writer_names() : "text|json");
    return -1;
}

/* The summary of a report: of paths[] read as snapshots, or of one JSON report. */
static int load_summary(summary_t *s, char *const *paths, size_t n, const inputs_opts_t *io)
{
    *s = (summary_t){0}; /* summary_free() is safe on it whatever fails below */
    int rc;
    if (n == 1 && inputs_is_json(paths[0])) {
        rc = summary_load_json(s, paths[0], &io->suppress);
    } else {
        report_t rep = {0};
        rc = inputs_report(&rep, paths, n, &io->model) < 0 ? -1 : summary_from_report(s, &rep);
        report_free(&rep);
    }
    if (rc < 0)
        summary_free(s); /* what was read before the error */
    return rc;
}

/* gate's decision on paths[]; 0, 1 or -1 (error set). */
static int run_gate(const cli_opts_t *o, const inputs_opts_t *io, char *const *paths, size_t n,
                    FILE *out)
{
    summary_t now = {0}, base = {0};
    if (load_summary(&now, paths, n, io) < 0)
        return -1;
    char *baseline = (char *)o->baseline;
    if (o->baseline && load_summary(&base, &baseline, 1, io) < 0) {
        summary_free(&now);
        return -1;
    }
    int rc = gate_check(o, &now, o->baseline ? &base : NULL, out);
    summary_free(&now);
    if (o->baseline)
        summary_free(&base);
    return rc;
}

/* ---- the commands: each body gets parsed options, loaded suppressions and its operands, and
 * returns its exit status, or -1 with error_get() (exit 2) ---- */

typedef struct {
    const cli_opts_t *o;
    const inputs_opts_t *io;
    char **args;
    size_t nargs;
} command_ctx_t;

/* Writes with a text or JSON writer chosen by --format, to -o or standard output. */
static int write_text_or_json(const cli_opts_t *o, int (*json)(const void *, const void *, FILE *),
                              int (*text)(const void *, const void *, FILE *, int), const void *a,
                              const void *b)
{
    outfile_t of;
    FILE *out = open_output(&of, o->out, stdout);
    if (!out)
        return -1;
    int rc = strcmp(o->format, "json") == 0 ? json(a, b, out) : text(a, b, out, want_color(out));
    return close_output(&of, out, stdout, rc);
}

static int body_report(const command_ctx_t *c)
{
    return write_report(c->o, &c->io->model, c->args, c->nargs, c->o->out, stdout) < 0 ? -1 : 0;
}

static int growth_json(const void *g, const void *unused, FILE *out)
{
    (void)unused;
    return growth_write_json(g, out);
}

static int growth_text(const void *g, const void *unused, FILE *out, int color)
{
    (void)unused;
    return growth_write_text(g, out, color);
}

static int body_growth(const command_ctx_t *c)
{
    growth_t *g = inputs_growth(c->args, c->nargs, &c->io->model);
    if (!g)
        return -1;
    int rc = write_text_or_json(c->o, growth_json, growth_text, g, NULL);
    growth_free(g);
    free(g);
    return rc;
}

static int body_gate(const command_ctx_t *c)
{
    return run_gate(c->o, c->io, c->args, c->nargs, stdout);
}

static int diff_json(const void *base, const void *now, FILE *out)
{
    return diff_write_json(base, now, out);
}

static int diff_text(const void *base, const void *now, FILE *out, int color)
{
    (void)color;
    return diff_write_text(base, now, out);
}

static int body_diff(const command_ctx_t *c)
{
    summary_t base = {0}, now = {0};
    if (load_summary(&base, c->args, 1, c->io) < 0)
        return -1;
    int rc = -1;
    if (load_summary(&now, c->args + 1, 1, c->io) == 0) {
        rc = write_text_or_json(c->o, diff_json, diff_text, &base, &now);
        summary_free(&now);
    }
    summary_free(&base);
    return rc;
}

typedef struct {
    const char *name;
    unsigned options;      /* CLI_* it takes */
    int any_writer;        /* --format takes every report writer, not just text and json */
    size_t min_args, max_args;
    const char *args_error;
    int (*body)(const command_ctx_t *c);
} command_t;

static const command_t commands[] = {
    {"report", CLI_OUT | CLI_FORMAT | CLI_APP | CLI_SUPPRESS | CLI_TEXT, 1, 1, SIZE_MAX,
     "report needs at least one snapshot file", body_report},
    {"growth", CLI_OUT | CLI_FORMAT | CLI_APP | CLI_SUPPRESS, 0, 2, SIZE_MAX,
     "growth needs two or more snapshot files", body_growth},
    {"gate", CLI_APP | CLI_SUPPRESS | CLI_GATE, 0, 1, SIZE_MAX,
     "gate needs snapshot files or a JSON report", body_gate},
    {"diff", CLI_OUT | CLI_FORMAT | CLI_APP | CLI_SUPPRESS, 0, 2, 2,
     "diff takes two reports: BASE NEW (each a snapshot or a JSON report)", body_diff},
};

static int run_command(const command_t *cmd, int argc, char **argv)
{
    cli_opts_t o = {0};
    inputs_opts_t io = {0};
    int first = parse(argc, argv, &o, cmd->options);
    if (first < 0) {
        cli_free(&o);
        return done(first);
    }
    size_t nargs = (size_t)(argc - first);
    /* a file named twice counts once (diff's two operands may be one file: no change) */
    if (cmd->max_args == SIZE_MAX)
        nargs = safeopen_unique(argv + first, nargs);
    int rc = -1;
    if (nargs < cmd->min_args || nargs > cmd->max_args)
        error_set("%s", cmd->args_error);
    else if (check_format(&o, cmd->any_writer) == 0 && inputs_opts_init(&io, &o) == 0)
        rc = cmd->body(&(command_ctx_t){&o, &io, argv + first, nargs});
    inputs_opts_free(&io);
    cli_free(&o);
    if (rc < 0) {
        error_print();
        return EXIT_BAD_INPUT;
    }
    return rc;
}

/* --allocator jemalloc: the snapshot must say jemalloc was the allocator; the dynamic linker
 * only warns when it cannot preload a library, and a report on glibc would mislead. */
static int check_allocator(const cli_opts_t *o, const run_result_t *res)
{
    if (!o->allocator || strcmp(o->allocator, "jemalloc") != 0)
        return 0;
    snapshot_t *snap = reader_load(res->snapshots[res->nsnapshots - 1]);
    if (!snap)
        return -1;
    int ok = snap->process.allocator == IMGLEAK_ALLOCATOR_JEMALLOC;
    reader_free(snap);
    if (!ok)
        return error_set("--allocator jemalloc: libjemalloc.so.2 could not be preloaded "
                         "(apt-get install libjemalloc2)"), -1;
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    cli_opts_t o = {0};
    inputs_opts_t io = {0};
    int first = parse(argc, argv, &o, ~0u);
    if (first < 0) {
        cli_free(&o);
        return done(first);
    }
    if (first >= argc || check_format(&o, 1) < 0 || inputs_opts_init(&io, &o) < 0) {
        if (first >= argc)
            error_set("run needs a command after --");
        inputs_opts_free(&io);
        cli_free(&o);
        return usage_error(error_get());
    }
    run_opts_t ropts = {o.out, o.allocator};
    run_result_t res = {0};
    int rc = EXIT_BAD_INPUT;
    if (run_program(&ropts, argv + first, &res) < 0) {
        error_print();
        goto out;
    }
    rc = res.exit_status;
    if (res.nsnapshots == 0) {
        fprintf(stderr, "imgleak: %s wrote no snapshot (it may have ended by a signal or _exit, "
                        "or be set-uid)\n", argv[first]);
        if (rc == 0)
            rc = EXIT_BAD_INPUT;
    } else if (check_allocator(&o, &res) < 0 ||
               write_report(&o, &io.model, res.snapshots, res.nsnapshots, o.report_file,
                            stderr) < 0) {
        error_print();
        rc = EXIT_BAD_INPUT;
    } else if (o.gate || (o.seen & CLI_GATE)) {
        int gate = run_gate(&o, &io, res.snapshots, res.nsnapshots, stderr);
        if (gate < 0)
            error_print();
        if (gate != 0)
            rc = gate < 0 ? EXIT_BAD_INPUT : 1;
    }
    if (!res.temporary)
        fprintf(stderr, "imgleak: snapshots kept in %s\n", res.dir);
    run_result_release(&res);
out:
    inputs_opts_free(&io);
    cli_free(&o);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("no command");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_text, stdout);
        fputs(help_text, stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("imgleak %s (snapshot format %d.%d)\n", IMGLEAK_VERSION, IMGLEAK_VERSION_MAJOR,
               IMGLEAK_VERSION_MINOR);
        return 0;
    }
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return run_command(&commands[i], argc - 1, argv + 1);
    fprintf(stderr, "imgleak: unknown command '%s'\n%s", argv[1], usage_text);
    return EXIT_BAD_INPUT;
}
