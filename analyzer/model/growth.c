/* Growth over time (see growth.h). Each snapshot gets a report of its own; sites are matched
 * across them by function, file, line, module and kind. */
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
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (model_process_cmp(snaps[i], snaps[j]) == 0 &&
                model_snapshot_order(snaps[i], snaps[j]) != 0)
                return 1;
    return 0;
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

typedef struct {
    const leak_site_t *site;
    double *bytes; /* per snapshot of the process */
} series_t;

/* The series by their site (slots.h): snapshots of many thousands of sites must not make
 * matching them quadratic. */
static uint64_t series_hash(const leak_site_t *s)
{
    return slots_hash_frame(&s->site) + s->kind;
}

static uint64_t series_hash_of(size_t item, const void *ctx)
{
    return series_hash(((const series_t *)ctx)[item].site);
}

static int same_series(size_t item, const void *key, const void *ctx)
{
    const leak_site_t *a = ((const series_t *)ctx)[item].site, *b = key;
    return a->kind == b->kind && model_frames_equal(&a->site, &b->site);
}

static int add_process(growth_t *g, report_t *reps, snapshot_t *const *snaps, size_t n)
{
    slots_t ix = {NULL, 0};
    double *t = calloc(n, sizeof *t);
    double *index = calloc(n, sizeof *index);
    series_t *series = NULL;
    size_t nseries = 0;
    if (!t || !index)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        t[i] = (double)(snaps[i]->header.time_ns - snaps[0]->header.time_ns) / 1e9;
        index[i] = (double)i;
    }
    for (size_t i = 0; i < n; i++) {
        /* growth counts all live memory: the entries and the indirect sites under them */
        for (size_t s = 0; s < reps[i].nsites + reps[i].nindirect; s++) {
            const leak_site_t *site = s < reps[i].nsites ? &reps[i].sites[s]
                                                         : &reps[i].indirect[s - reps[i].nsites];
            if (slots_reserve(&ix, nseries, series_hash_of, series) < 0)
                goto oom;
            size_t *slot = slots_find(&ix, series_hash(site), same_series, site, series);
            size_t k = *slot ? *slot - 1 : nseries;
            if (k == nseries) {
                if (grow_for(&series, nseries, sizeof *series) < 0)
                    goto oom;
                series[nseries].site = site;
                if (!(series[nseries].bytes = calloc(n, sizeof(double))))
                    goto oom;
                *slot = ++nseries;
            }
            series[k].bytes[i] += (double)site->bytes;
            series[k].site = site; /* the latest one describes it */
        }
    }
    growth_site_t *grown = realloc(g->sites, (g->nsites + nseries) * sizeof *grown);
    if (!grown)
        goto oom;
    g->sites = grown;
    const snapshot_t *last = snaps[n - 1];
    for (size_t k = 0; k < nseries; k++) {
        growth_site_t *gs = &g->sites[g->nsites++];
        memset(gs, 0, sizeof *gs);
        gs->pid = last->header.pid;
        gs->instance_id = last->process.instance_id;
        gs->site = series[k].site->site;
        gs->kind = series[k].site->kind;
        gs->in_app = series[k].site->in_app;
        gs->npoints = n;
        double r2_index;
        fit(t, series[k].bytes, n, &gs->slope_bytes_per_s, &gs->r2);
        fit(index, series[k].bytes, n, &gs->slope_bytes_per_snapshot, &r2_index);
        gs->first_bytes = sat_from_double(series[k].bytes[0]);
        gs->last_bytes = sat_from_double(series[k].bytes[n - 1]);
        gs->suspect = is_suspect(t, series[k].bytes, n, gs->slope_bytes_per_s, gs->r2);
        gs->time_at = malloc(n * sizeof *gs->time_at);
        if (!gs->time_at)
            goto oom;
        memcpy(gs->time_at, t, n * sizeof *t);
        gs->bytes_at = series[k].bytes; /* the chart's points: the site keeps them */
        series[k].bytes = NULL;
        if (gs->last_bytes && series[k].site->oldest_birth_s != UINT32_MAX) {
            double now = (double)(last->header.time_ns - last->process.start_time_ns) / 1e9;
            gs->oldest_age_s = now - series[k].site->oldest_birth_s;
            if (gs->oldest_age_s < 0)
                gs->oldest_age_s = 0;
        }
    }
    growth_process_t *procs = realloc(g->processes, (g->nprocesses + 1) * sizeof *procs);
    if (!procs)
        goto oom;
    g->processes = procs;
    procs[g->nprocesses++] =
        (growth_process_t){last->header.pid, last->process.instance_id, n, t[n - 1]};
    for (size_t k = 0; k < nseries; k++)
        free(series[k].bytes);
    free(series);
    free(t);
    free(index);
    slots_free(&ix);
    return 0;
oom:
    for (size_t k = 0; k < nseries; k++)
        free(series[k].bytes);
    free(series);
    free(t);
    free(index);
    slots_free(&ix);
    return error_set("out of memory"), -1;
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
    g->reports = calloc(n ? n : 1, sizeof *g->reports);
    if (!g->reports) {
        for (size_t i = 0; i < n; i++)
            reader_free(snaps[i]);
        free(snaps);
        return error_set("out of memory"), -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        snapshot_t **one = malloc(sizeof *one);
        if (!one) {
            reader_free(snaps[i]);
            error_set("out of memory");
            rc = -1;
            continue;
        }
        one[0] = snaps[i];
        if (rc == 0 && report_build(&g->reports[i], one, 1, opts) < 0)
            rc = -1;
        else if (rc != 0)
            report_free(&(report_t){.snaps = one, .nsnaps = 1});
        g->nreports = i + 1;
    }
    for (size_t i = 0; rc == 0 && i < n;) {
        size_t j = i;
        while (j < n && model_process_cmp(snaps[j], snaps[i]) == 0)
            j++;
        if (j - i >= 2)
            rc = add_process(g, g->reports + i, snaps + i, j - i);
        i = j;
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
    for (size_t i = 0; i < g->nreports; i++)
        report_free(&g->reports[i]);
    free(g->reports);
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
    memset(g, 0, sizeof *g);
}
