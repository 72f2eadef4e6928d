/* What the commands read (see inputs.h). */
#define _GNU_SOURCE
#include "inputs.h"

#include "error.h"
#include "safeopen.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int inputs_opts_init(inputs_opts_t *io, const cli_opts_t *o)
{
    memset(io, 0, sizeof *io);
    if (!o->no_default_suppressions && suppress_load_defaults(&io->suppress) < 0)
        return -1;
    for (size_t i = 0; i < o->nsuppressions; i++)
        if (suppress_load_file(&io->suppress, o->suppressions[i]) < 0)
            return -1;
    io->model.attribute = (attribute_opts_t){o->app, o->napp};
    io->model.suppress = &io->suppress;
    io->model.show_reachable = o->show_reachable;
    return 0;
}

void inputs_opts_free(inputs_opts_t *io)
{
    suppress_free(&io->suppress);
}

/* What could be read of paths[]: the snapshots, and the ones skipped with why. */
typedef struct {
    snapshot_t **snaps;
    size_t n;
    report_skipped_t *skipped;
    size_t nskipped;
} snapshot_set_t;

static void set_free(snapshot_set_t *set)
{
    for (size_t i = 0; i < set->n; i++)
        reader_free(set->snaps[i]);
    free(set->snaps);
    inputs_free_skipped(set->skipped, set->nskipped);
    memset(set, 0, sizeof *set);
}

void inputs_free_skipped(report_skipped_t *skipped, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(skipped[i].path);
        free(skipped[i].why);
    }
    free(skipped);
}

/* Records that path could not be read, with the reader's message (less the path it starts
 * with, which the warning names anyway). */
static int set_skip(snapshot_set_t *set, const char *path)
{
    const char *why = error_get();
    size_t len = strlen(path);
    if (strncmp(why, path, len) == 0 && strncmp(why + len, ": ", 2) == 0)
        why += len + 2;
    report_skipped_t *grown = realloc(set->skipped, (set->nskipped + 1) * sizeof *grown);
    if (!grown)
        return error_set("out of memory"), -1;
    set->skipped = grown;
    report_skipped_t *s = &grown[set->nskipped];
    s->path = strdup(path);
    s->why = strdup(why);
    if (!s->path || !s->why) {
        free(s->path);
        free(s->why);
        return error_set("out of memory"), -1;
    }
    set->nskipped++;
    return 0;
}

/* Reads every snapshot it can. One bad file in a series must not cost the others: it is
 * skipped, with why. The only input, or none readable, is an error. So that a hundred snapshots
 * of a large process are never all in memory, snapshots are released once read (reader.h) and
 * read again one at a time when needed: with RELEASE_ALL every one (growth), with
 * RELEASE_EARLIER one that the next file shows to be an earlier snapshot of its process (a
 * report counts only each process's latest). 0, or -1 (error set). */
enum { RELEASE_NONE, RELEASE_EARLIER, RELEASE_ALL };

static void release_read(snapshot_t **snaps, size_t n, int release)
{
    snapshot_t *cur = snaps[n - 1], *prev = n >= 2 ? snaps[n - 2] : NULL;
    if (release == RELEASE_ALL)
        reader_release(cur);
    else if (release == RELEASE_EARLIER && prev && model_process_cmp(prev, cur) == 0)
        reader_release(model_snapshot_order(prev, cur) < 0 ? prev : cur);
}

static int set_load(snapshot_set_t *set, char *const *paths, size_t n, int release)
{
    memset(set, 0, sizeof *set);
    if (!(set->snaps = calloc(n ? n : 1, sizeof *set->snaps)))
        return error_set("out of memory"), -1;
    for (size_t i = 0; i < n; i++) {
        if ((set->snaps[set->n] = reader_load(paths[i]))) {
            set->n++;
            release_read(set->snaps, set->n, release);
            continue;
        }
        if (n == 1 || set_skip(set, paths[i]) < 0) {
            set_free(set);
            return -1;
        }
    }
    if (set->n == 0 && set->nskipped) {
        error_set("%s: %s (nor could %zu other snapshot%s be read)", set->skipped[0].path,
                  set->skipped[0].why, n - 1, n == 2 ? "" : "s");
        set_free(set);
        return -1;
    }
    if (set->n == 0) {
        error_set("no snapshot to read");
        set_free(set);
        return -1;
    }
    return 0;
}

static uint64_t le64_at(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* The pid and sequence in path's file header, when at least that much of it is sound. Opened
 * without blocking and only when regular: the reader already refused this file once. */
static int peek_header(const char *path, uint64_t *pid, uint64_t *sequence)
{
    unsigned char h[64];
    struct stat st;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -1;
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && pread(fd, h, sizeof h, 0) == sizeof h &&
             memcmp(h, IMGLEAK_MAGIC, IMGLEAK_MAGIC_LEN) == 0;
    close(fd);
    if (!ok)
        return -1;
    *pid = le64_at(h + 32);
    *sequence = le64_at(h + 40);
    return 0;
}

/* Whether a skipped snapshot may have held some process's final state: its header cannot say
 * whose it is, or no snapshot that was read is a later one of the same pid. (Its instance id is
 * in the process record, which a damaged file may not have: pid and sequence are what is left.) */
static int may_be_final(const snapshot_set_t *set, const char *path)
{
    uint64_t pid, sequence;
    if (peek_header(path, &pid, &sequence) < 0)
        return 1;
    for (size_t i = 0; i < set->n; i++)
        if (set->snaps[i]->header.pid == pid && set->snaps[i]->header.sequence > sequence)
            return 0;
    return 1;
}

static int set_final_missing(const snapshot_set_t *set)
{
    for (size_t i = 0; i < set->nskipped; i++)
        if (may_be_final(set, set->skipped[i].path))
            return 1;
    return 0;
}

void inputs_warn_skipped(const report_skipped_t *skipped, size_t n)
{
    for (size_t i = 0; i < n; i++)
        warn("skipped %s: %s", skipped[i].path, skipped[i].why);
}

/* Growth over the snapshots of set (taken: set keeps only the skipped list). */
static growth_t *growth_of(snapshot_set_t *set, const model_opts_t *mo)
{
    /* a service's growth is growth whether a pointer still reaches it or not */
    model_opts_t all = *mo;
    all.show_reachable = 1;
    growth_t *g = calloc(1, sizeof *g);
    if (!g) {
        set_free(set);
        return error_set("out of memory"), NULL;
    }
    int rc = growth_build(g, set->snaps, set->n, &all);
    set->snaps = NULL;
    set->n = 0;
    if (rc < 0) {
        growth_free(g);
        free(g);
        return NULL;
    }
    return g;
}

growth_t *inputs_growth(char *const *paths, size_t n, const model_opts_t *mo)
{
    snapshot_set_t set;
    if (set_load(&set, paths, n, RELEASE_ALL) < 0)
        return NULL;
    int final_missing = set_final_missing(&set);
    report_skipped_t *skipped = set.skipped;
    size_t nskipped = set.nskipped;
    set.skipped = NULL;
    set.nskipped = 0;
    growth_t *g = growth_of(&set, mo);
    if (!g) {
        inputs_free_skipped(skipped, nskipped);
        return NULL;
    }
    g->skipped = skipped;
    g->nskipped = nskipped;
    g->final_missing = final_missing;
    return g;
}

/* The growth part of a report: the readable snapshots read again, since the report owns the
 * first copies. */
static int report_growth(report_t *rep, const model_opts_t *mo)
{
    char **paths = calloc(rep->nsnaps ? rep->nsnaps : 1, sizeof *paths);
    if (!paths)
        return error_set("out of memory"), -1;
    for (size_t i = 0; i < rep->nsnaps; i++)
        paths[i] = rep->snaps[i]->path;
    snapshot_set_t set;
    int rc = set_load(&set, paths, rep->nsnaps, RELEASE_ALL);
    free(paths);
    if (rc == 0 && set.nskipped) {
        error_set("%s: %s (it changed while imgleak read it)", set.skipped[0].path,
                  set.skipped[0].why);
        set_free(&set);
        rc = -1;
    }
    if (rc == 0 && !(rep->growth = growth_of(&set, mo)))
        rc = -1;
    return rc;
}

int inputs_report(report_t *rep, char *const *paths, size_t n, const model_opts_t *mo)
{
    snapshot_set_t set;
    memset(rep, 0, sizeof *rep);
    if (set_load(&set, paths, n, RELEASE_EARLIER) < 0)
        return -1;
    int series = growth_is_series(set.snaps, set.n);
    if (series < 0) {
        set_free(&set);
        return -1;
    }
    int final_missing = set_final_missing(&set);
    /* the report and its growth share one set of symbols: each module is read once */
    model_opts_t shared_mo = *mo;
    model_shared_t *own = NULL;
    if (!shared_mo.shared && !(shared_mo.shared = own = model_shared_new())) {
        set_free(&set);
        return error_set("out of memory"), -1;
    }
    int rc = report_build(rep, set.snaps, set.n, &shared_mo);
    rep->own_shared = own; /* freed with the report, after its growth */
    if (rc < 0) {
        inputs_free_skipped(set.skipped, set.nskipped);
        return -1;
    }
    rep->skipped = set.skipped;
    rep->nskipped = set.nskipped;
    rep->totals.skipped_snapshots = set.nskipped;
    rep->totals.final_missing = final_missing;
    if (series && report_growth(rep, &shared_mo) < 0)
        return -1;
    return 0;
}

int inputs_is_json(const char *path)
{
    FILE *f = safeopen_fopen(path, NULL); /* a FIFO is refused, not waited on */
    int c = EOF;
    if (!f)
        return 0;
    while ((c = getc(f)) != EOF && isspace(c))
        ;
    fclose(f);
    return c == '{';
}
