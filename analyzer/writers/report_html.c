/* The HTML report: analyzer/writers/report.html (built into imgleak by assets.S) with the report's data
 * as one JSON object where the page says IMGLEAK_DATA. One file, no network: the page's script
 * draws the totals, the RSS reconciliation, sortable tables of sites and handles, and a flame
 * graph of live bytes from the stacks. */
#include "growth.h"
#include "report.h"
#include "strtab.h"

#include <stdlib.h>
#include <string.h>

extern const char imgleak_report_html[]; /* assets.S */

#define MARKER "/*IMGLEAK_DATA*/"

static void put_str(FILE *out, const char *s)
{
    report_json_string(out, s, 1);
}

static void put_site(FILE *out, const frame_t *f)
{
    fputs("{\"function\":", out);
    put_str(out, f->function);
    fputs(",\"file\":", out);
    put_str(out, f->file);
    fprintf(out, ",\"line\":%u,\"module\":", f->line);
    put_str(out, f->module);
    fputc('}', out);
}

/* Source shown around a site: this many lines either side, each cut at LINE_MAX_SHOWN bytes, and
 * no more than SOURCE_BUDGET bytes in all, so that a report on thousands of sites stays a page. */
#define SOURCE_CONTEXT 3
#define LINE_MAX_SHOWN 240
#define SOURCE_BUDGET (512 * 1024)
/* Growth sites the page gets (suspects first, then by slope, as growth.c sorts them): the chart
 * draws a few, the table lists the program's; the rest is in the JSON report. */
#define GROWTH_SITES_SHOWN 200

static void put_frame(FILE *out, const frame_t *f)
{
    fputs("{\"function\":", out);
    put_str(out, f->function);
    fputs(",\"file\":", out);
    put_str(out, f->file);
    fprintf(out, ",\"line\":%u,\"module\":", f->line);
    put_str(out, f->module);
    fprintf(out, ",\"app\":%s}", f->app ? "true" : "false");
}

/* "source":{"first":N,"lines":[...]}: the lines around the site's, when its file can be read now
 * (a path relative in the debug info is taken from the current directory); null otherwise. */
static void put_source(FILE *out, const frame_t *f, size_t *budget)
{
    FILE *src = f->file && f->line && *budget > 0 ? fopen(f->file, "r") : NULL;
    fputs(",\"source\":", out);
    if (!src) {
        fputs("null", out);
        return;
    }
    unsigned first = f->line > SOURCE_CONTEXT ? f->line - SOURCE_CONTEXT : 1;
    unsigned last = f->line + SOURCE_CONTEXT, at = 1, shown = 0;
    char buf[4096];
    size_t len = 0;
    int whole = 1; /* buf starts a line */
    while (at <= last && fgets(buf, sizeof buf, src)) {
        len = strlen(buf);
        int ends = len && buf[len - 1] == '\n';
        if (at >= first && whole) {
            buf[strcspn(buf, "\r\n")] = '\0';
            if (strlen(buf) > LINE_MAX_SHOWN)
                memcpy(buf + LINE_MAX_SHOWN - 3, "...", 4);
            fputs(shown++ ? "," : "{\"first\":", out);
            if (shown == 1)
                fprintf(out, "%u,\"lines\":[", first);
            put_str(out, buf);
            *budget = *budget > strlen(buf) ? *budget - strlen(buf) : 0;
        }
        whole = ends;
        at += ends;
    }
    fclose(src);
    fputs(shown ? "]}" : "null", out);
}

/* "growth":{...}: a series of snapshots: each site's live bytes at each one, for the chart and
 * the table; null for a single snapshot per process. */
static void put_growth(FILE *out, const struct growth *g)
{
    fputs(",\n\"growth\":", out);
    if (!g) {
        fputs("null", out);
        return;
    }
    fputs("{\"processes\":[", out);
    growth_write_json_processes(g, out);
    fputs("],\"sites\":[", out);
    for (size_t i = 0, shown = 0; i < g->nsites && shown < GROWTH_SITES_SHOWN; i++) {
        const growth_site_t *s = &g->sites[i];
        if (!s->in_app && !s->suspect)
            continue;
        fprintf(out, "%s{\"pid\":%llu,\"kind\":\"%s\",\"in_app\":%s,\"suspect\":%s,"
                     "\"slope\":%.1f,\"r2\":%.3f,\"first\":%llu,\"last\":%llu,"
                     "\"oldest_age_s\":%.1f,\"site\":",
                shown++ ? ",\n" : "", (unsigned long long)s->pid, report_kind_name(s->kind),
                s->in_app ? "true" : "false", s->suspect ? "true" : "false",
                s->slope_bytes_per_s, s->r2, (unsigned long long)s->first_bytes,
                (unsigned long long)s->last_bytes, s->oldest_age_s);
        put_site(out, &s->site);
        fputs(",\"t\":[", out);
        for (size_t k = 0; s->time_at && k < s->npoints; k++)
            fprintf(out, "%s%.3f", k ? "," : "", s->time_at[k]);
        fputs("],\"b\":[", out);
        for (size_t k = 0; s->bytes_at && k < s->npoints; k++)
            fprintf(out, "%s%.0f", k ? "," : "", s->bytes_at[k]);
        fputs("]}", out);
    }
    fputs("]}", out);
}

static int put_data(const report_t *rep, FILE *out)
{
    const report_totals_t *t = &rep->totals;
    fprintf(out, "{\"totals\":{\"leaked_bytes\":%llu,\"leaked_blocks\":%llu,\"leaked_handles\":%llu,"
                 "\"suppressed_bytes\":%llu,\"estimated\":%s,",
            (unsigned long long)t->leaked_bytes, (unsigned long long)t->leaked_blocks,
            (unsigned long long)t->leaked_handles, (unsigned long long)t->suppressed_bytes,
            t->estimated ? "true" : "false");
    report_json_dropped(out, t);
    fputs("},\n\"processes\":[", out);
    for (size_t i = 0; i < rep->nprocesses; i++) {
        const report_process_t *p = &rep->processes[i];
        const imgleak_process_rec_t *r = &p->snap->process;
        fprintf(out, "%s{\"pid\":%llu,\"instance\":\"%016llx\",\"exe\":", i ? "," : "",
                (unsigned long long)p->snap->header.pid, (unsigned long long)r->instance_id);
        put_str(out, p->snap->exe);
        fprintf(out, ",\"allocator\":\"%s\",\"rss\":%llu,\"live_heap\":%llu,"
                     "\"allocator_overhead\":%llu,\"allocator_free\":%llu,\"mappings\":%llu,"
                     "\"shim\":%llu,\"other\":%llu,\"retention\":%s}",
                r->allocator == IMGLEAK_ALLOCATOR_GLIBC      ? "glibc"
                : r->allocator == IMGLEAK_ALLOCATOR_JEMALLOC ? "jemalloc"
                                                             : "unknown",
                (unsigned long long)p->resident, (unsigned long long)p->live_heap,
                (unsigned long long)p->allocator_overhead, (unsigned long long)p->allocator_free,
                (unsigned long long)p->mappings, (unsigned long long)p->shim,
                (unsigned long long)p->other, p->retention ? "true" : "false");
    }
    fputs("],\n\"sites\":[", out);
    size_t source_budget = SOURCE_BUDGET;
    for (size_t i = 0; i < rep->nsites; i++) {
        const leak_site_t *s = &rep->sites[i];
        fprintf(out, "%s{\"bytes\":%llu,\"blocks\":%llu,\"kind\":\"%s\",\"class\":\"%s\","
                     "\"indirect_bytes\":%llu,\"in_app\":%s",
                i ? ",\n" : "", (unsigned long long)s->bytes, (unsigned long long)s->blocks,
                report_kind_name(s->kind), report_class_name(s->cls),
                (unsigned long long)s->indirect_bytes, s->in_app ? "true" : "false");
        fputs(",\"groups\":[", out);
        for (size_t k = 0; k < s->ngroups; k++) {
            const handle_group_t *g = s->groups[k];
            fprintf(out, "%s{\"count\":%llu,\"abandoned\":%llu,\"retained_bytes\":%llu,"
                         "\"retained_blocks\":%llu,\"type\":",
                    k ? "," : "", (unsigned long long)g->count, (unsigned long long)g->abandoned,
                    (unsigned long long)g->retained_bytes, (unsigned long long)g->retained_blocks);
            put_str(out, g->type);
            fputs(",\"create\":", out);
            put_str(out, g->function);
            fputc('}', out);
        }
        fputs("],\"stack\":[", out);
        size_t depth = s->stack ? report_shown_depth(s->stack, s->depth) : 0;
        for (size_t k = 0; k < depth; k++) {
            fputs(k ? "," : "", out);
            put_frame(out, &s->stack[k]);
        }
        char name[512];
        report_frame_name(&s->site, name, sizeof name);
        fprintf(out, "],\"site_index\":%zu,\"name\":", s->site_index);
        put_str(out, name);
        put_source(out, &s->site, &source_budget);
        fputs(",\"function\":", out);
        put_str(out, s->site.function);
        fputs(",\"file\":", out);
        put_str(out, s->site.file);
        fprintf(out, ",\"line\":%u,\"module\":", s->site.line);
        put_str(out, s->site.module);
        fputc('}', out);
    }
    fputs("],\n\"misuse\":[", out);
    for (size_t i = 0; i < rep->nmisuse; i++) {
        const handle_group_t *g = &rep->misuse[i];
        fprintf(out, "%s{\"count\":%llu,\"kind\":\"%s\",\"in_app\":%s,\"type\":", i ? ",\n" : "",
                (unsigned long long)g->count, report_misuse_name(g->state),
                g->in_app ? "true" : "false");
        put_str(out, g->type);
        fputs(",\"destroy\":", out);
        put_str(out, g->function);
        fputs(",\"site\":", out);
        put_site(out, &g->site);
        fputc('}', out);
    }
    /* the inputs that leaked, each with the entries (function:line) it leaked at */
    fprintf(out, "],\n\"inputs_seen\":%llu,\"inputs_known\":%s,\"inputs\":[",
            (unsigned long long)rep->inputs_seen, rep->inputs_known ? "true" : "false");
    for (size_t i = 0; i < rep->inputs.count; i++) {
        const input_use_t *u = &rep->inputs.uses[i];
        fputs(i ? ",\n{\"name\":" : "{\"name\":", out);
        put_str(out, u->name);
        fprintf(out, ",\"bytes\":%llu,\"blocks\":%llu,\"handles\":%llu,\"at\":[",
                (unsigned long long)u->bytes, (unsigned long long)u->blocks,
                (unsigned long long)u->handles);
        size_t n = 0;
        for (size_t k = 0; k < rep->nsites; k++)
            for (size_t j = 0; j < rep->sites[k].inputs.count; j++) {
                const leak_site_t *s = &rep->sites[k];
                if (strcmp(s->inputs.uses[j].name, u->name) != 0)
                    continue;
                char at[600];
                snprintf(at, sizeof at, "%s:%u", s->site.function ? s->site.function : "??",
                         s->site.line);
                fputs(n++ ? "," : "", out);
                put_str(out, at);
            }
        fputs("]}", out);
    }
    /* stacks as frame indexes, outermost first; frames: name, app, source file */
    strtab_t names = {0}; /* frame names, so each stack is a list of indexes */
    size_t total_frames = 0;
    for (size_t i = 0; i < rep->nstacks; i++)
        total_frames += rep->stacks[i].depth;
    const frame_t **first = malloc((total_frames + 1) * sizeof *first);
    int rc = first ? 0 : -1;
    fputs("],\n\"stacks\":[", out);
    size_t shown = 0;
    for (size_t i = 0; rc == 0 && i < rep->nstacks; i++) {
        const report_stack_t *rs = &rep->stacks[i];
        if (!rs->bytes)
            continue;
        fprintf(out, "%s{\"b\":%llu,\"f\":[", shown++ ? ",\n" : "", (unsigned long long)rs->bytes);
        size_t shown_depth = report_shown_depth(rs->frames, rs->depth);
        for (size_t k = shown_depth; k-- > 0;) {
            char name[512];
            int fresh;
            report_frame_name(&rs->frames[k], name, sizeof name);
            size_t id = strtab_id(&names, name, &fresh);
            if (!id) {
                rc = -1;
                break;
            }
            if (fresh)
                first[id - 1] = &rs->frames[k]; /* the frame that describes the name */
            fprintf(out, "%s%zu", k + 1 < shown_depth ? "," : "", id - 1);
        }
        fputs("]}", out);
    }
    fputs("],\n\"frames\":[", out);
    for (size_t i = 0; rc == 0 && i < names.count; i++) {
        const frame_t *f = first[i];
        const char *slash = f->file ? strrchr(f->file, '/') : NULL;
        fputs(i ? ",\n{\"n\":" : "\n{\"n\":", out);
        put_str(out, strtab_get(&names, i + 1));
        fprintf(out, ",\"a\":%s,\"w\":", f->app ? "true" : "false");
        put_str(out, slash ? slash + 1 : f->file ? f->file : "");
        fputc('}', out);
    }
    fputc(']', out);
    put_growth(out, rep->growth);
    fputc('}', out);
    strtab_free(&names);
    free(first);
    return rc;
}

int report_write_html(const report_t *rep, FILE *out, const report_opts_t *opts)
{
    (void)opts;
    const char *page = imgleak_report_html, *at = strstr(page, MARKER);
    if (!at)
        return -1;
    fwrite(page, 1, (size_t)(at - page), out);
    if (put_data(rep, out) < 0)
        return -1;
    fputs(at + strlen(MARKER), out);
    return ferror(out) ? -1 : 0;
}
