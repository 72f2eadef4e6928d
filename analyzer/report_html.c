/* The HTML report: analyzer/report.html (built into imgleak by assets.S) with the report's data
 * as one JSON object where the page says IMGLEAK_DATA. One file, no network: the page's script
 * draws the totals, the RSS reconciliation, sortable tables of sites and handles, and a flame
 * graph of live bytes from the stacks. */
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
            fprintf(out, "%s{\"count\":%llu,\"retained_bytes\":%llu,\"type\":", k ? "," : "",
                    (unsigned long long)g->count, (unsigned long long)g->retained_bytes);
            put_str(out, g->type);
            fputs(",\"create\":", out);
            put_str(out, g->function);
            fputc('}', out);
        }
        fputs("],\"function\":", out);
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
    fputs("]}", out);
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
