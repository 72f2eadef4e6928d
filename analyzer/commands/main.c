/* imgleak: the commands. Each parses its options, calls into the modules, and turns an error
 * into one line on stderr and exit status 2. */
#define _GNU_SOURCE
#include "attach.h"
#include "cli.h"
#include "diff.h"
#include "error.h"
#include "gate.h"
#include "help.h"
#include "inputs.h"
#include "report.h"
#include "outfile.h"
#include "run.h"
#include "run_select.h"
#include "safeopen.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_BAD_INPUT 2

static int usage_error(const char *msg, const char *command)
{
    fprintf(stderr, "imgleak: %s\n", msg);
    help_write_usage(stderr, command);
    return EXIT_BAD_INPUT;
}

/* Parses argv for a command that takes `allowed` options; returns the first operand's index, or
 * -1 after saying why (exit 2), or -2 after --help (exit 0). */
static int parse(int argc, char **argv, cli_opts_t *o, unsigned allowed)
{
    int first = cli_parse(argc, argv, o, strcmp(argv[0], "run") == 0);
    if (first == -2) {
        help_write(stdout, argv[0]);
        return -2;
    }
    if (first < 0 || cli_only(o, allowed, argv[0]) < 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", error_get());
        if (o->bad_option) /* name what the command does take */
            error_set("%s (%s takes %s)", msg, argv[0], cli_option_list(allowed));
        usage_error(error_get(), argv[0]);
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

/* --color=auto: a terminal that is not dumb, unless NO_COLOR (no-color.org) says otherwise */
static int want_color(const cli_opts_t *o, FILE *out)
{
    if (o->color != CLI_COLOR_AUTO)
        return o->color == CLI_COLOR_ALWAYS;
    const char *no_color = getenv("NO_COLOR"), *term = getenv("TERM");
    return isatty(fileno(out)) && !(no_color && *no_color) && !(term && strcmp(term, "dumb") == 0);
}

/* The report on the rest was written, but the last word of some process may be missing. */
static int final_missing_error(void)
{
    error_set("a skipped snapshot may hold a process's final state: the report is on the "
              "readable ones");
    return -1;
}

/* Writes the report on paths[] to out_path, or to fallback when out_path is NULL. 0; -1 (error
 * set); or 1 (error set) when it was written but a skipped snapshot may be a final state. */
static int write_report(const cli_opts_t *o, const model_opts_t *mo, char *const *paths, size_t n,
                        const char *out_path, FILE *fallback)
{
    report_t rep = {0};
    if (inputs_report(&rep, paths, n, mo) < 0) {
        report_free(&rep);
        return -1;
    }
    inputs_warn_skipped(rep.skipped, rep.nskipped);
    outfile_t of;
    FILE *out = open_output(&of, out_path, fallback);
    int rc = -1;
    if (out) {
        report_opts_t ropts = {want_color(o, out), o->sites, o->frames, o->show_reachable,
                               o->show_indirect, o->by_input};
        rc = report_writer_find(o->format)->write(&rep, out, &ropts) < 0 ? -1 : 0;
        rc = close_output(&of, out, fallback, rc);
    }
    if (rc == 0 && rep.totals.final_missing)
        rc = -final_missing_error();
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

/* The summary of a report: of paths[] read as snapshots (warning about the skipped ones when
 * warn_skipped), or of one JSON report. */
static int load_summary(summary_t *s, char *const *paths, size_t n, const inputs_opts_t *io,
                        int warn_skipped)
{
    *s = (summary_t){0}; /* summary_free() is safe on it whatever fails below */
    int rc;
    if (n == 1 && inputs_is_json(paths[0])) {
        rc = summary_load_json(s, paths[0], &io->suppress);
    } else {
        report_t rep = {0};
        rc = inputs_report(&rep, paths, n, &io->model) < 0 ? -1 : summary_from_report(s, &rep);
        if (rc == 0 && warn_skipped)
            inputs_warn_skipped(rep.skipped, rep.nskipped);
        report_free(&rep);
    }
    if (rc < 0)
        summary_free(s); /* what was read before the error */
    return rc;
}

/* gate's decision on paths[]; 0, 1 or -1 (error set), -1 also when the final state of some
 * process could not be read (after the verdict on the rest). said_skipped: the report written
 * just before already said what was skipped. */
static int run_gate(const cli_opts_t *o, const inputs_opts_t *io, char *const *paths, size_t n,
                    FILE *out, int said_skipped)
{
    summary_t now = {0}, base = {0};
    if (load_summary(&now, paths, n, io, !said_skipped) < 0)
        return -1;
    char *baseline = (char *)o->baseline;
    if (o->baseline && load_summary(&base, &baseline, 1, io, 1) < 0) {
        summary_free(&now);
        return -1;
    }
    int rc = gate_check(o, &now, o->baseline ? &base : NULL, out);
    if (rc >= 0 && now.dropped.final_missing && !said_skipped)
        rc = final_missing_error();
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
    int rc = strcmp(o->format, "json") == 0 ? json(a, b, out) : text(a, b, out, want_color(o, out));
    return close_output(&of, out, stdout, rc);
}

static int body_report(const command_ctx_t *c)
{
    return write_report(c->o, &c->io->model, c->args, c->nargs, c->o->out, stdout) != 0 ? -1 : 0;
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
    inputs_warn_skipped(g->skipped, g->nskipped);
    int rc = write_text_or_json(c->o, growth_json, growth_text, g, NULL);
    if (rc == 0 && g->final_missing)
        rc = final_missing_error();
    growth_free(g);
    free(g);
    return rc;
}

static int body_gate(const command_ctx_t *c)
{
    return run_gate(c->o, c->io, c->args, c->nargs, stdout, 0);
}

static int body_suppress(const command_ctx_t *c)
{
    report_t rep;
    if (inputs_report(&rep, c->args, c->nargs, &c->io->model) < 0) {
        report_free(&rep);
        return -1;
    }
    inputs_warn_skipped(rep.skipped, rep.nskipped);
    outfile_t of;
    FILE *out = open_output(&of, c->o->out, stdout);
    int rc = -1;
    if (out) {
        rc = report_write_suppressions(&rep, out, NULL);
        rc = close_output(&of, out, stdout, rc);
    }
    report_free(&rep);
    return rc;
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
    if (load_summary(&base, c->args, 1, c->io, 1) < 0)
        return -1;
    int rc = -1;
    if (load_summary(&now, c->args + 1, 1, c->io, 1) == 0) {
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
    {"report", CLI_OUT | CLI_FORMAT | CLI_APP | CLI_SUPPRESS | CLI_TEXT | CLI_COLOR, 1, 1, SIZE_MAX,
     "report needs at least one snapshot file", body_report},
    {"growth", CLI_OUT | CLI_FORMAT | CLI_APP | CLI_SUPPRESS | CLI_COLOR, 0, 2, SIZE_MAX,
     "growth needs two or more snapshot files", body_growth},
    {"gate", CLI_APP | CLI_SUPPRESS | CLI_GATE, 0, 1, SIZE_MAX,
     "gate needs snapshot files or a JSON report", body_gate},
    {"diff", CLI_OUT | CLI_FORMAT | CLI_APP | CLI_SUPPRESS, 0, 2, 2,
     "diff takes two reports: BASE NEW (each a snapshot or a JSON report)", body_diff},
    {"suppress", CLI_OUT | CLI_APP | CLI_SUPPRESS, 0, 1, SIZE_MAX,
     "suppress needs at least one snapshot file", body_suppress},
};

/* The reading commands allocate and free arrays of megabytes per snapshot (a series reads a
 * hundred): kept in the heap, they are reused as they are, where glibc by default would give
 * each back to the kernel and fault its pages in again next time (a fifth of the time of
 * growth over a long series). */
static void keep_freed_memory(void)
{
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

static int run_command(const command_t *cmd, int argc, char **argv)
{
    cli_opts_t o = {0};
    keep_freed_memory();
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
    /* the latest one that can be read: a damaged one is skipped by the report too */
    snapshot_t *snap = NULL;
    for (size_t i = res->nsnapshots; !snap && i-- > 0;)
        snap = reader_load(res->snapshots[i]);
    if (!snap)
        return -1;
    int ok = snap->process.allocator == IMGLEAK_ALLOCATOR_JEMALLOC;
    reader_free(snap);
    if (!ok)
        return error_set("--allocator jemalloc: libjemalloc.so.2 could not be preloaded "
                         "(apt-get install libjemalloc2)"), -1;
    return 0;
}

/* When the program's last snapshot is not a final one (an OOM kill takes the sentinel too),
 * the report is on an earlier state: say which, and how long before the end. */
static void say_report_moment(const run_result_t *res)
{
    int last = run_last_snapshot(res);
    snapshot_t *snap = last >= 0 ? reader_load(res->snapshots[last]) : NULL;
    if (!snap)
        return; /* the report says what is wrong with it */
    if (!(snap->header.flags & IMGLEAK_SNAP_AT_EXIT)) {
        uint64_t end = (uint64_t)res->ended.tv_sec * 1000000000u + (uint64_t)res->ended.tv_nsec;
        uint64_t at = snap->header.time_ns, live = 0;
        for (size_t i = 0; i < snap->nlive; i++)
            live += snap->live[i].size;
        time_t secs = (time_t)(at / 1000000000u);
        struct tm tm;
        char when[32] = "?", rss[32], peak[32], held[32];
        if (gmtime_r(&secs, &tm))
            strftime(when, sizeof when, "%H:%M:%S UTC", &tm);
        report_format_bytes(snap->process.rss_bytes, rss, sizeof rss);
        report_format_bytes(snap->process.peak_rss_bytes, peak, sizeof peak);
        report_format_bytes(live, held, sizeof held);
        fprintf(stderr, "imgleak: no final snapshot; report from the snapshot at %s (%.2f s before "
                        "the end): RSS %s (peak %s), %s live\n",
                when, end > at ? (double)(end - at) / 1e9 : 0.0, rss, peak, held);
    }
    reader_free(snap);
}

static int cmd_run(int argc, char **argv)
{
    cli_opts_t o = {0};
    inputs_opts_t io = {0};
    int first = parse(argc, argv, &o, ~CLI_ATTACH);
    if (first < 0) {
        cli_free(&o);
        return done(first);
    }
    if (first >= argc || check_format(&o, 1) < 0 || inputs_opts_init(&io, &o) < 0) {
        if (first >= argc)
            error_set("run needs a command after --");
        inputs_opts_free(&io);
        cli_free(&o);
        return usage_error(error_get(), "run");
    }
    run_opts_t ropts = {.out_dir = o.out, .allocator = o.allocator, .peak_factor = o.peak_factor};
    run_result_t res = {0};
    int rc = EXIT_BAD_INPUT, written = 0;
    char handles[PATH_MAX];
    if (o.handles) { /* refused here, with its line, rather than by the shim in the program */
        if (run_check_handles(o.handles, handles, sizeof handles) < 0) {
            error_print();
            goto out;
        }
        ropts.handles = handles;
    }
    if (run_program(&ropts, argv + first, &res) < 0) {
        error_print();
        goto out;
    }
    rc = res.exit_status;
    fprintf(stderr, "imgleak: %s %s\n", argv[first], res.end);
    say_report_moment(&res);
    size_t nmeant = res.nsnapshots, hidden = 0;
    if (!o.all_processes)
        nmeant = run_select_processes(res.snapshots, res.nsnapshots, res.pid, &hidden);
    if (hidden)
        fprintf(stderr, "imgleak: %zu other process%s not listed (shells, and what wrappers ran before "
                        "exec'ing the program; --all-processes lists them)\n",
                hidden, hidden == 1 ? "" : "es");
    if (res.nsnapshots == 0) {
        fprintf(stderr, "imgleak: %s wrote no snapshot (it may be set-uid, have been killed by the "
                        "OOM killer before any peak snapshot, or run with IMGLEAK_FINAL=0)\n", argv[first]);
        if (rc == 0)
            rc = EXIT_BAD_INPUT;
    } else if (check_allocator(&o, &res) < 0 ||
               (written = write_report(&o, &io.model, res.snapshots, nmeant,
                                       o.report_file, stderr)) < 0) {
        error_print();
        rc = EXIT_BAD_INPUT;
    } else {
        if (written) { /* the report is on the readable snapshots; a final state is missing */
            error_print();
            rc = EXIT_BAD_INPUT;
        }
        int gate = o.gate || (o.seen & CLI_GATE)
                       ? run_gate(&o, &io, res.snapshots, nmeant, stderr, 1)
                       : 0;
        if (gate < 0)
            error_print();
        if (gate != 0 && !written)
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

/* imgleak attach PID: the report is on the window's snapshots, growth included. */
static int cmd_attach(int argc, char **argv)
{
    cli_opts_t o = {0};
    inputs_opts_t io = {0};
    unsigned allowed = CLI_OUT | CLI_FORMAT | CLI_REPORT | CLI_APP | CLI_SUPPRESS | CLI_TEXT |
                       CLI_COLOR | CLI_ATTACH;
    int first = parse(argc, argv, &o, allowed);
    if (first < 0) {
        cli_free(&o);
        return done(first);
    }
    char *end = NULL;
    long pid = first == argc - 1 ? strtol(argv[first], &end, 10) : 0;
    if (!end || *end || pid <= 0 || pid > INT32_MAX || check_format(&o, 1) < 0 ||
        inputs_opts_init(&io, &o) < 0) {
        if (!end || *end || pid <= 0 || pid > INT32_MAX)
            error_set("attach takes one process id");
        inputs_opts_free(&io);
        cli_free(&o);
        return usage_error(error_get(), "attach");
    }
    /* a series for the growth test: about 20 snapshots over a window of known length */
    double interval = o.interval > 0 ? o.interval : o.duration > 0 ? o.duration / 20 : 10;
    if (interval < 0.2)
        interval = 0.2;
    attach_opts_t aopts = {(pid_t)pid, o.out, o.duration, interval};
    run_result_t res = {0};
    int rc = EXIT_BAD_INPUT;
    if (attach_window(&aopts, &res) < 0) {
        error_print();
    } else {
        fprintf(stderr, "imgleak: %ld %s; %zu snapshot%s\n", pid, res.end, res.nsnapshots,
                res.nsnapshots == 1 ? "" : "s");
        if (res.nsnapshots == 0)
            fprintf(stderr, "imgleak: %ld wrote no snapshot in the window\n", pid);
        else if (write_report(&o, &io.model, res.snapshots, res.nsnapshots, o.report_file,
                              stdout) != 0)
            error_print();
        else
            rc = 0;
        if (!res.temporary)
            fprintf(stderr, "imgleak: snapshots kept in %s\n", res.dir);
    }
    run_result_release(&res);
    inputs_opts_free(&io);
    cli_free(&o);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("no command", NULL);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        /* imgleak help COMMAND, as git help does */
        const char *command = argc > 2 && strcmp(argv[1], "help") == 0 ? argv[2] : NULL;
        if (help_write(stdout, command) < 0) {
            fprintf(stderr, "imgleak: help: unknown command '%s'\n", command);
            help_write_usage(stderr, NULL);
            return EXIT_BAD_INPUT;
        }
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("imgleak %s (snapshot format %d.%d)\n", IMGLEAK_VERSION, IMGLEAK_VERSION_MAJOR,
               IMGLEAK_VERSION_MINOR);
        return 0;
    }
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(argv[1], "attach") == 0)
        return cmd_attach(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return run_command(&commands[i], argc - 1, argv + 1);
    fprintf(stderr, "imgleak: unknown command '%s'\n", argv[1]);
    help_write_usage(stderr, NULL);
    return EXIT_BAD_INPUT;
}
