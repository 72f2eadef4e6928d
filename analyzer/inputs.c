/* What the commands read (see inputs.h). */
#include "inputs.h"

#include "error.h"
#include "safeopen.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

snapshot_t **inputs_load(char *const *paths, size_t n)
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

growth_t *inputs_growth(char *const *paths, size_t n, const model_opts_t *mo)
{
    /* a service's growth is growth whether a pointer still reaches it or not */
    model_opts_t all = *mo;
    all.show_reachable = 1;
    mo = &all;
    snapshot_t **snaps = inputs_load(paths, n);
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
    if (growth_build(g, snaps, n, mo) < 0) {
        growth_free(g);
        free(g);
        return NULL;
    }
    return g;
}

int inputs_report(report_t *rep, char *const *paths, size_t n, const model_opts_t *mo)
{
    snapshot_t **snaps = inputs_load(paths, n);
    if (!snaps) {
        memset(rep, 0, sizeof *rep);
        return -1;
    }
    int series = growth_is_series(snaps, n);
    if (report_build(rep, snaps, n, mo) < 0)
        return -1;
    if (series && !(rep->growth = inputs_growth(paths, n, mo)))
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
