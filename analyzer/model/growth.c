/* Growth over time (see growth.h). Each snapshot gets a report of its own, counted into the series
 * and freed before the next; sites are matched across them by function, file, line, module and
 * kind. The reports share one set of symbols, which holds the sites' strings. */
#include "growth.h"

#include "error.h"
#include "grow.h"
#include "report.h"
#include "saturate.h"
#include "slots.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Snapshots of one process together (told apart by instance, not pid), each in its order. */
static int by_process_order(const void *a, const void *b)
{
    const snapshot_t *x = *(snapshot_t *const *)a, *y = *(snapshot_t *const *)b;
    int c = model_process_cmp(x, y);
    return c ? c : model_snapshot_order(x, y);
}

int growth_is_series(snapshot_t *const *snaps, size_t n)
{
    /* two snapshots of one process that differ in order are next to each other so sorted */
    size_t *order = model_by_process(snaps, n);
    if (!order)
        return error_set("out of memory"), -1;
    int series = 0;
    for (size_t k = 1; !series && k < n; k++) {
        const snapshot_t *a = snaps[order[k - 1]], *b = snaps[order[k]];
        series = model_process_cmp(a, b) == 0 && model_snapshot_order(a, b) != 0;
    }
    free(order);
    return series;
}

/* Least squares over (x, y): slope and r². */
static void fit(const double *x, const double *y, size_t n, double *slope, double *r2)
{
    double mx = 0, my = 0, sxx = 0, sxy = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    for (size_t i = 0; i < n; i++) {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxy += (x[i] - mx) * (y[i] - my);
        syy += (y[i] - my) * (y[i] - my);
    }
    *slope = sxx > 0 ? sxy / sxx : 0;
    *r2 = sxx > 0 && syy > 0 ? (sxy * sxy) / (sxx * syy) : 0;
}

/* A suspect grows steadily to the end: more at the end than at the start, a line fits, and the
 * later half still rises at a good part of the overall rate. A cache that filled during warm-up
 * and then stayed flat fails the last test. */
static int is_suspect(const double *t, const double *y, size_t n, double slope, double r2)
{
    if (n < 3 || slope <= 0 || y[n - 1] <= y[0] || r2 < 0.8)
        return 0;
    size_t half = n / 2;
    double late_slope, late_r2;
    fit(t + half, y + half, n - half, &late_slope, &late_r2);
    return late_slope > 0.25 * slope;
}

/* Where a site is among those of the snapshots: by snapshot, then where its report would list
 * it (the entries, then the indirect sites, each in model_site_order). The reports are built
 * unsorted (sorting each of a hundred reports of 60k sites was a fifth of the time): the few
 * things that depend on the order compare places instead. */
typedef struct {
    size_t snapshot;
    int indirect;
    model_site_order_t order;
} site_place_t;

static int place_cmp(const site_place_t *a, const site_place_t *b)
{
    if (a->snapshot != b->snapshot)
        return a->snapshot < b->snapshot ? -1 : 1;
    if (a->indirect != b->indirect)
        return a->indirect - b->indirect;
    return model_site_order_cmp(&a->order, &b->order);
}

/* A site followed over the snapshots of one process: what the latest snapshot says of it (its
 * strings are the shared symbols', so the reports can go as soon as they are counted). Its bytes
 * in each snapshot are in the set's columns. */
typedef struct {
    frame_t site;
    unsigned kind;
    int in_app;
    uint32_t oldest_birth_s;
    uint64_t hash; /* series_hash */
    site_place_t first;     /* where it was first seen: series are listed in that order */
    site_place_t described; /* the latest of its sites, which describes it */
} series_t;

/* The series by their site (slots.h): snapshots of many thousands of sites must not make
 * matching them quadratic. The site's frame was hashed once by the model. */
static uint64_t series_hash(const leak_site_t *site)
{
    return site->frame_hash ^ (site->site.line * 0x9e3779b97f4a7c15u + site->kind);
}

static uint64_t series_hash_of(size_t item, const void *ctx)
{
    return ((const series_t *)ctx)[item].hash;
}

typedef struct {
    const leak_site_t *site;
    uint64_t hash;
} series_key_t;

static int same_series(size_t item, const void *key, const void *ctx)
{
    const series_t *a = &((const series_t *)ctx)[item];
    const series_key_t *k = key;
    return a->hash == k->hash && a->kind == k->site->kind &&
           model_frames_equal(&a->site, &k->site->site);
}

typedef struct {
    series_t *series;
    size_t count;
    slots_t ix;
    /* the series of each site of the last report, by its place in it (1 + an index; 0: none):
     * a process's reports find their sites in the same order snapshot after snapshot, so a site
     * is first tried against the series at its place, without a search */
    size_t *at_place;
    size_t nplaces;
    /* the series' bytes in snapshot i, by series (column_len[i] of them: a series first seen
     * later has none): one array a snapshot is written in the order of its sites, where one
     * array a series took a cache miss per site and snapshot */
    double **column;
    size_t *column_len;
    size_t ncolumns;
} series_set_t;

static void series_set_free(series_set_t *set)
{
    free(set->series);
    slots_free(&set->ix);
    free(set->at_place);
    for (size_t i = 0; set->column && i < set->ncolumns; i++)
        free(set->column[i]);
    free(set->column);
    free(set->column_len);
}

/* The series at place s of the last report, when it is key's */
static size_t *series_at_place(series_set_t *set, size_t s, const series_key_t *key)
{
    if (s >= set->nplaces || !set->at_place[s] ||
        !same_series(set->at_place[s] - 1, key, set->series))
        return NULL;
    return &set->at_place[s];
}

/* Adds snapshot i of n to the series: all its live memory, the entries and the indirect sites
 * under them. The report is unsorted (model_opts_t.unsorted). */
static int add_report(series_set_t *set, const report_t *rep, size_t i)
{
    size_t nplaces = rep->nsites + rep->nindirect;
    size_t *at_place = calloc(nplaces ? nplaces : 1, sizeof *at_place);
    if (!at_place ||
        slots_reserve_more(&set->ix, set->count, nplaces, series_hash_of, set->series) < 0) {
        free(at_place);
        return -1;
    }
    for (size_t s = 0; s < nplaces; s++) {
        int indirect = s >= rep->nsites;
        const leak_site_t *site = indirect ? &rep->indirect[s - rep->nsites] : &rep->sites[s];
        site_place_t at = {i, indirect, model_site_order(site, indirect ? s - rep->nsites : s)};
        series_key_t key = {site, series_hash(site)};
        size_t *slot = series_at_place(set, s, &key);
        if (!slot)
            slot = slots_find(&set->ix, key.hash, same_series, &key, set->series);
        size_t k = *slot ? *slot - 1 : set->count;
        at_place[s] = k + 1;
        if (k == set->count) {
            if (grow_for(&set->series, set->count, sizeof *set->series) < 0) {
                free(at_place);
                return -1;
            }
            memset(&set->series[k], 0, sizeof set->series[k]);
            set->series[k].hash = key.hash;
            set->series[k].first = set->series[k].described = at;
            *slot = ++set->count;
        }
        series_t *se = &set->series[k];
        if (se->first.snapshot == i && place_cmp(&at, &se->first) < 0)
            se->first = at;
        if (se->described.snapshot == i && place_cmp(&at, &se->described) < 0)
            continue;
        /* the latest one describes it */
        se->described = at;
        se->site = site->site;
        se->kind = site->kind;
        se->in_app = site->in_app;
        se->oldest_birth_s = site->oldest_birth_s;
    }
    free(set->at_place);
    set->at_place = at_place;
    set->nplaces = nplaces;
    double *column = calloc(set->count ? set->count : 1, sizeof *column);
    if (!column)
        return -1;
    for (size_t s = 0; s < nplaces; s++)
        column[at_place[s] - 1] += (double)(s < rep->nsites ? rep->sites[s].bytes
                                                            : rep->indirect[s - rep->nsites].bytes);
    set->column[i] = column;
    set->column_len[i] = set->count;
    return 0;
}

static int by_first_place(const void *a, const void *b)
{
    return place_cmp(&(*(series_t *const *)a)->first, &(*(series_t *const *)b)->first);
}

/* The n snapshots of one process, in order, each made into a report, counted into the series and
 * freed (snaps[] is taken); exit_left_out: its exit snapshot followed them and was left out. */
static int add_process(growth_t *g, snapshot_t **snaps, size_t n, const model_opts_t *opts,
                       int exit_left_out)
{
    series_set_t set;
    memset(&set, 0, sizeof set);
    double *t = calloc(n, sizeof *t);
    double *index = calloc(n, sizeof *index);
    set.column = calloc(n, sizeof *set.column);
    set.column_len = calloc(n, sizeof *set.column_len);
    set.ncolumns = n;
    snapshot_t last_head = *snaps[n - 1]; /* what is needed of the last one after its report */
    last_head.path = NULL;
    int rc = t && index && set.column && set.column_len ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        t[i] = (double)(snaps[i]->header.time_ns - snaps[0]->header.time_ns) / 1e9;
        index[i] = (double)i;
    }
    for (size_t i = 0; i < n; i++) {
        snapshot_t **one = malloc(sizeof *one);
        if (!one) {
            reader_free(snaps[i]);
            rc = -1;
            continue;
        }
        one[0] = snaps[i];
        report_t rep;
        if (rc == 0 && reader_reload(snaps[i]) < 0) {
            rc = -2; /* reader_reload said why */
            rep = (report_t){.snaps = one, .nsnaps = 1};
        } else if (rc == 0 && report_build(&rep, one, 1, opts) == 0)
            rc = add_report(&set, &rep, i) < 0 ? (error_set("out of memory"), -1) : 0;
        else if (rc == 0)
            rc = -2; /* report_build said why */
        else
            rep = (report_t){.snaps = one, .nsnaps = 1};
        report_free(&rep);
    }
    /* in the order a sorted report of each snapshot would have shown them first */
    series_t **listed = rc == 0 ? malloc((set.count ? set.count : 1) * sizeof *listed) : NULL;
    if (rc == 0 && !listed)
        rc = -1;
    for (size_t k = 0; rc == 0 && k < set.count; k++)
        listed[k] = &set.series[k];
    if (rc == 0)
        qsort(listed, set.count, sizeof *listed, by_first_place);
    if (rc == 0) {
        growth_site_t *grown = realloc(g->sites, (g->nsites + set.count) * sizeof *grown);
        if (!grown)
            rc = -1;
        else
            g->sites = grown;
    }
    for (size_t k = 0; rc == 0 && k < set.count; k++) {
        series_t *se = listed[k];
        size_t at = (size_t)(se - set.series);
        double *bytes = malloc(n * sizeof *bytes); /* the chart's points: the site keeps them */
        if (!bytes) {
            rc = -1;
            break;
        }
        for (size_t i = 0; i < n; i++)
            bytes[i] = at < set.column_len[i] ? set.column[i][at] : 0;
        growth_site_t *gs = &g->sites[g->nsites++];
        memset(gs, 0, sizeof *gs);
        gs->bytes_at = bytes;
        gs->pid = last_head.header.pid;
        gs->instance_id = last_head.process.instance_id;
        gs->site = se->site;
        gs->kind = se->kind;
        gs->in_app = se->in_app;
        gs->npoints = n;
        double r2_index;
        fit(t, bytes, n, &gs->slope_bytes_per_s, &gs->r2);
        fit(index, bytes, n, &gs->slope_bytes_per_snapshot, &r2_index);
        gs->first_bytes = sat_from_double(bytes[0]);
        gs->last_bytes = sat_from_double(bytes[n - 1]);
        gs->suspect = is_suspect(t, bytes, n, gs->slope_bytes_per_s, gs->r2);
        gs->time_at = malloc(n * sizeof *gs->time_at);
        if (!gs->time_at) {
            rc = -1;
            break;
        }
        memcpy(gs->time_at, t, n * sizeof *t);
        if (gs->last_bytes && se->oldest_birth_s != UINT32_MAX) {
            double now = (double)(last_head.header.time_ns - last_head.process.start_time_ns) / 1e9;
            gs->oldest_age_s = now - se->oldest_birth_s;
            if (gs->oldest_age_s < 0)
                gs->oldest_age_s = 0;
        }
    }
    if (rc == 0) {
        growth_process_t *procs = realloc(g->processes, (g->nprocesses + 1) * sizeof *procs);
        if (!procs)
            rc = -1;
        else {
            g->processes = procs;
            procs[g->nprocesses++] = (growth_process_t){last_head.header.pid,
                                                        last_head.process.instance_id, n, t[n - 1],
                                                        exit_left_out};
        }
    }
    free(listed);
    series_set_free(&set);
    free(t);
    free(index);
    if (rc == -1)
        error_set("out of memory");
    return rc < 0 ? -1 : 0;
}

static int by_suspicion(const void *a, const void *b)
{
    const growth_site_t *x = a, *y = b;
    if (x->suspect != y->suspect)
        return y->suspect - x->suspect;
    if (x->slope_bytes_per_s != y->slope_bytes_per_s)
        return x->slope_bytes_per_s > y->slope_bytes_per_s ? -1 : 1;
    return x->last_bytes > y->last_bytes ? -1 : x->last_bytes < y->last_bytes;
}

int growth_build(growth_t *g, snapshot_t **snaps, size_t n, const model_opts_t *opts)
{
    memset(g, 0, sizeof *g);
    qsort(snaps, n, sizeof *snaps, by_process_order);
    size_t kept = 0; /* the same file given twice counts once */
    for (size_t i = 0; i < n; i++) {
        if (kept && by_process_order(&snaps[kept - 1], &snaps[i]) == 0)
            reader_free(snaps[i]);
        else
            snaps[kept++] = snaps[i];
    }
    n = kept;
    /* one set of symbols for the whole series: each module read once, not once per snapshot */
    model_opts_t shared_opts = *opts;
    shared_opts.unsorted = 1;
    if (!shared_opts.shared && !(shared_opts.shared = g->shared = model_shared_new())) {
        for (size_t i = 0; i < n; i++)
            reader_free(snaps[i]);
        free(snaps);
        return error_set("out of memory"), -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && model_process_cmp(snaps[j], snaps[i]) == 0)
            j++;
        /* The exit snapshot is taken after the program tore down what it held running (a
         * Python or Node program frees its objects, a library's destructor its caches): behind
         * three or more snapshots of the running program it would bend every line down, and a
         * list that grew all along would be no suspect. */
        int left_out = j - i >= 4 && (snaps[j - 1]->header.flags & IMGLEAK_SNAP_AT_EXIT);
        if (left_out)
            reader_free(snaps[--j]);
        if (rc == 0 && j - i >= 2) {
            rc = add_process(g, snaps + i, j - i, &shared_opts, left_out);
        } else {
            for (size_t k = i; k < j; k++)
                reader_free(snaps[k]);
        }
        i = j + (size_t)left_out;
    }
    free(snaps);
    if (rc == 0 && g->nprocesses == 0)
    {
        error_set("growth needs two or more snapshots of the same process");
        rc = -1;
    }
    if (rc == 0 && g->nsites)
        qsort(g->sites, g->nsites, sizeof *g->sites, by_suspicion);
    return rc;
}

void growth_free(growth_t *g)
{
    for (size_t i = 0; i < g->nsites; i++) {
        free(g->sites[i].bytes_at);
        free(g->sites[i].time_at);
    }
    free(g->sites);
    free(g->processes);
    for (size_t i = 0; i < g->nskipped; i++) {
        free(g->skipped[i].path);
        free(g->skipped[i].why);
    }
    free(g->skipped);
    model_shared_free(g->shared); /* last: the sites' strings are in it */
    memset(g, 0, sizeof *g);
}
