/* imgleak: the commands. Each parses its options, calls into the modules, and turns an error
 * into one line on stderr and exit status 2. */
#define _GNU_SOURCE
#include "attribute.h"
#include "error.h"
#include "growth.h"
#include "model.h"
#include "reader.h"
#include "report.h"
#include "run.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_BAD_INPUT 2

static const char usage_text[] =
    "usage: imgleak run [-o DIR] [--report FILE] [--format text|json] [--app PATTERN]...\n"
    "                   [--allocator glibc|jemalloc] -- CMD [ARGS...]\n"
    "       imgleak report [--format text|json] [-o FILE] [--app PATTERN]... SNAPSHOT...\n"
    "       imgleak growth [--format text|json] [-o FILE] [--app PATTERN]... SNAPSHOT...\n"
    "       imgleak --help | --version\n";

static const char help_text[] =
    "\n"
    "Finds the memory a program still holds when it exits, and the line of its own code that\n"
    "allocated it.\n"
    "\n"
    "Commands:\n"
    "  run -- CMD ARGS      run CMD under libimgleak.so, report when it exits (on stderr, so\n"
    "                       CMD's own output stays as it was), and exit with CMD's status\n"
    "  report SNAPSHOT...   report on snapshot files written earlier (for each process, its\n"
    "                       latest snapshot counts)\n"
    "\n"
    "Options:\n"
    "  -o DIR               run: keep the snapshots in DIR (default: a temporary directory)\n"
    "  -o FILE              report: write the report to FILE (default: standard output)\n"
    "  --report FILE        run: write the report to FILE (default: standard error)\n"
    "  --format FMT         text (default) or json (fields in docs/REPORT-JSON.md)\n"
    "  --app PATTERN        also count modules or source files matching PATTERN (a shell\n"
    "                       wildcard, on the path or its last component) as the application\n"
    "  --sites N            text: list at most N call sites (default 20; 0 for all)\n"
    "  --frames N           text: frames shown under each site (default 8; 0 for all)\n"
    "\n"
    "Leaks are charged to the innermost frame of the application: the executable, or any module\n"
    "outside the system library directories (/lib, /usr/lib, ...), never the C library, the\n"
    "allocator or the shim.\n"
    "\n"
    "Environment read by libimgleak.so (LD_PRELOAD it yourself, or use imgleak run):\n"
    "  IMGLEAK_OUT=DIR        where snapshots are written (default: the current directory), as\n"
    "                         imgleak.<pid>.<seq>.snap\n"
    "  IMGLEAK_DEPTH=N        stack frames kept per allocation (default 32, 1 to 256)\n"
    "  IMGLEAK_MAX_STACKS=N   distinct stacks kept (default 1048576); more are counted, not kept\n"
    "  IMGLEAK_MAX_LIVE=N     live-table slots at most (default: no limit but memory)\n"
    "  IMGLEAK_SAMPLE=BYTES   record one allocation per BYTES on average (default 0: all);\n"
    "                         the report then gives unbiased estimates\n"
    "  IMGLEAK_DEBUG=1        diagnostics on stderr\n"
    "\n"
    "Exit status: report, growth: 0; run: the program's; 2 on bad input or a failure of\n"
    "imgleak.\n";

typedef struct {
    const char *format;
    const char *out;
    const char *report_file;
    const char *allocator;
    const char **app;
    size_t napp;
    size_t sites;
    size_t frames;
} common_opts_t;

static int usage_error(const char *msg)
{
    fprintf(stderr, "imgleak: %s\n%s", msg, usage_text);
    return EXIT_BAD_INPUT;
}

static int parse_count(const char *text, size_t *out)
{
    char *end;
    unsigned long v = strtoul(text, &end, 10);
    if (!*text || *end || text[0] == '-')
        return -1;
    *out = v;
    return 0;
}

/* Parses the options shared by run and report; returns optind or -1 after printing. */
static int parse_common(int argc, char **argv, common_opts_t *o)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'}, {"app", required_argument, NULL, 'a'},
        {"sites", required_argument, NULL, 's'},  {"frames", required_argument, NULL, 'F'},
        {"report", required_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'},
        {"allocator", required_argument, NULL, 'A'},
        {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+o:", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o->out = optarg; break;
        case 'f': o->format = optarg; break;
        case 'r': o->report_file = optarg; break;
        case 'A':
            if (strcmp(optarg, "glibc") != 0 && strcmp(optarg, "jemalloc") != 0)
                return usage_error("--allocator takes glibc or jemalloc"), -1;
            o->allocator = optarg;
            break;
        case 'a': {
            const char **grown = realloc(o->app, (o->napp + 1) * sizeof *grown);
            if (!grown)
                return usage_error("out of memory"), -1;
            o->app = grown;
            o->app[o->napp++] = optarg;
            break;
        }
        case 's':
            if (parse_count(optarg, &o->sites) < 0)
                return usage_error("--sites takes a number"), -1;
            break;
        case 'F':
            if (parse_count(optarg, &o->frames) < 0)
                return usage_error("--frames takes a number"), -1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            fputs(help_text, stdout);
            exit(0);
        default: return usage_error("bad option"), -1;
        }
    }
    if (!report_writer_find(o->format)) {
        fprintf(stderr, "imgleak: unknown format '%s' (expected %s)\n", o->format,
                report_writer_names());
        return -1;
    }
    return optind;
}

/* Loads every snapshot; NULL (error set) when one cannot be read. */
static snapshot_t **load_all(char *const *paths, size_t n)
{
    snapshot_t **snaps = calloc(n ? n : 1, sizeof *snaps);
    if (!snaps)
        return error_set("out of memory"), NULL;
    for (size_t i = 0; i < n; i++) {
        if (!(snaps[i] = reader_load(paths[i]))) {
            for (size_t j = 0; j < i; j++)
                reader_free(snaps[j]);
            free(snaps);
            return NULL;
        }
    }
    return snaps;
}

/* growth over paths[]; its snapshots are its own (the report keeps only each process's latest) */
static growth_t *build_growth(char *const *paths, size_t n, const attribute_opts_t *aopts)
{
    snapshot_t **snaps = load_all(paths, n);
    growth_t *g = snaps ? calloc(1, sizeof *g) : NULL;
    if (!g) {
        if (snaps) {
            for (size_t i = 0; i < n; i++)
                reader_free(snaps[i]);
            free(snaps);
            error_set("out of memory");
        }
        return NULL;
    }
    if (growth_build(g, snaps, n, aopts) < 0) {
        growth_free(g);
        free(g);
        return NULL;
    }
    return g;
}

static FILE *open_output(const char *out_path, FILE *fallback)
{
    FILE *out = out_path ? fopen(out_path, "w") : fallback;
    if (!out)
        error_set("%s: cannot write: %s", out_path, strerror(errno));
    return out;
}

static int close_output(FILE *out, FILE *fallback, const char *out_path, int rc)
{
    if (fflush(out) != 0 || ferror(out)) {
        error_set("%s: write error", out_path ? out_path : "standard output");
        rc = -1;
    }
    if (out != fallback && fclose(out) != 0 && rc == 0) {
        error_set("%s: write error", out_path);
        rc = -1;
    }
    return rc;
}

static int want_color(FILE *out)
{
    const char *no_color = getenv("NO_COLOR");
    return isatty(fileno(out)) && !(no_color && *no_color);
}

/* Writes the report on paths[] to out_path, or to fallback when out_path is NULL. Several
 * snapshots of one process add how its sites grew. */
static int write_report(const common_opts_t *o, char *const *paths, size_t n, const char *out_path,
                        FILE *fallback)
{
    snapshot_t **snaps = load_all(paths, n);
    report_t rep;
    attribute_opts_t aopts = {o->app, o->napp};
    if (!snaps)
        return -1;
    int series = growth_is_series(snaps, n);
    if (report_build(&rep, snaps, n, &aopts) < 0) {
        report_free(&rep);
        return -1;
    }
    if (series && !(rep.growth = build_growth(paths, n, &aopts))) {
        report_free(&rep);
        return -1;
    }
    FILE *out = open_output(out_path, fallback);
    if (!out) {
        report_free(&rep);
        return -1;
    }
    report_opts_t ropts = {want_color(out), o->sites, o->frames};
    int rc = report_writer_find(o->format)->write(&rep, out, &ropts) < 0 ? -1 : 0;
    rc = close_output(out, fallback, out_path, rc);
    report_free(&rep);
    return rc;
}

static int cmd_growth(int argc, char **argv)
{
    common_opts_t o = {.format = "text", .sites = 20, .frames = 8};
    int first = parse_common(argc, argv, &o);
    if (first < 0)
        return EXIT_BAD_INPUT;
    if (argc - first < 2 || o.report_file || o.allocator) {
        free(o.app);
        return usage_error(argc - first < 2 ? "growth needs two or more snapshot files"
                                            : "growth takes -o FILE, --format and --app");
    }
    attribute_opts_t aopts = {o.app, o.napp};
    growth_t *g = build_growth(argv + first, (size_t)(argc - first), &aopts);
    int rc = -1;
    FILE *out = g ? open_output(o.out, stdout) : NULL;
    if (out) {
        rc = strcmp(o.format, "json") == 0 ? growth_write_json(g, out)
                                           : growth_write_text(g, out, want_color(out));
        rc = close_output(out, stdout, o.out, rc);
    }
    if (g) {
        growth_free(g);
        free(g);
    }
    free(o.app);
    if (rc < 0) {
        error_print();
        return EXIT_BAD_INPUT;
    }
    return 0;
}

static int cmd_report(int argc, char **argv)
{
    common_opts_t o = {.format = "text", .sites = 20, .frames = 8};
    int first = parse_common(argc, argv, &o);
    if (first < 0)
        return EXIT_BAD_INPUT;
    if (first >= argc || o.report_file || o.allocator) {
        free(o.app);
        return usage_error(o.report_file || o.allocator ? "report takes -o FILE, --format and --app"
                                         : "report needs at least one snapshot file");
    }
    int rc = write_report(&o, argv + first, (size_t)(argc - first), o.out, stdout);
    free(o.app);
    if (rc < 0) {
        error_print();
        return EXIT_BAD_INPUT;
    }
    return 0;
}

/* --allocator jemalloc: the snapshot must say jemalloc was the allocator; the dynamic linker
 * only warns when it cannot preload a library, and a report on glibc would mislead. */
static int check_allocator(const common_opts_t *o, const run_result_t *res)
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
    common_opts_t o = {.format = "text", .sites = 20, .frames = 8};
    int first = parse_common(argc, argv, &o);
    if (first < 0)
        return EXIT_BAD_INPUT;
    if (first >= argc) {
        free(o.app);
        return usage_error("run needs a command after --");
    }
    run_opts_t ropts = {o.out, o.allocator};
    run_result_t res;
    if (run_program(&ropts, argv + first, &res) < 0) {
        free(o.app);
        error_print();
        return EXIT_BAD_INPUT;
    }
    int rc = res.exit_status;
    if (res.nsnapshots == 0) {
        fprintf(stderr, "imgleak: %s wrote no snapshot (it may have ended by a signal or _exit, "
                        "or be set-uid)\n", argv[first]);
        if (rc == 0)
            rc = EXIT_BAD_INPUT;
    } else if (check_allocator(&o, &res) < 0 ||
               write_report(&o, res.snapshots, res.nsnapshots, o.report_file, stderr) < 0) {
        error_print();
        rc = EXIT_BAD_INPUT;
    }
    if (!res.temporary)
        fprintf(stderr, "imgleak: snapshots kept in %s\n", res.dir);
    run_result_release(&res);
    free(o.app);
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
    if (strcmp(argv[1], "report") == 0)
        return cmd_report(argc - 1, argv + 1);
    if (strcmp(argv[1], "growth") == 0)
        return cmd_growth(argc - 1, argv + 1);
    fprintf(stderr, "imgleak: unknown command '%s'\n%s", argv[1], usage_text);
    return EXIT_BAD_INPUT;
}
