/* Writing growth over time (growth.h): on its own (imgleak growth) or inside a report. */
#include "escape.h"
#include "growth.h"
#include "report.h"
#include "saturate.h"

#include <math.h>

static void put_site(FILE *out, const frame_t *f)
{
    fputs(f->function ? escape_text(f->function) : "??", out);
    if (f->file)
        fprintf(out, " %s:%u", escape_text(f->file), f->line);
}

int growth_write_text(const growth_t *g, FILE *out, int color)
{
    const char *bold = color ? "\033[1m" : "", *red = color ? "\033[31m" : "";
    const char *off = color ? "\033[0m" : "";
    size_t suspects = 0;
    for (size_t i = 0; i < g->nsites; i++)
        suspects += g->sites[i].suspect;
    for (size_t p = 0; p < g->nprocesses; p++) {
        const growth_process_t *gp = &g->processes[p];
        fprintf(out, "%sgrowth: pid %llu", bold, (unsigned long long)gp->pid);
        if (gp->instance_id)
            fprintf(out, " (instance %016llx)", (unsigned long long)gp->instance_id);
        fprintf(out, ", %zu snapshots over %.1f s%s: %zu leak suspect%s%s\n", gp->nsnapshots,
                gp->duration_s, gp->exit_left_out ? " (and the exit snapshot, left out)" : "",
                suspects, suspects == 1 ? "" : "s", off);
    }
    if (g->nskipped)
        fprintf(out, "  skipped: %zu unreadable snapshot%s (named on standard error)%s\n",
                g->nskipped, g->nskipped == 1 ? "" : "s",
                g->final_missing ? "; one may have been a process's final state" : "");
    for (size_t i = 0; i < g->nsites; i++) {
        const growth_site_t *s = &g->sites[i];
        if (!s->suspect && (s->last_bytes == s->first_bytes || !s->in_app))
            continue; /* flat, or not the program's: the report lists them */
        char first[32], last[32], rate[32];
        report_format_bytes(s->first_bytes, first, sizeof first);
        report_format_bytes(s->last_bytes, last, sizeof last);
        report_format_bytes(sat_from_double(fabs(s->slope_bytes_per_s)), rate, sizeof rate);
        fprintf(out, "  %s%-8s%s %s%s/s (r² %.2f) %s -> %s", s->suspect ? red : "",
                s->suspect ? "SUSPECT" : "", s->suspect ? off : "",
                s->slope_bytes_per_s < 0 ? "-" : "+", rate, s->r2, first, last);
        if (s->last_bytes)
            fprintf(out, ", oldest block %.0f s old", s->oldest_age_s);
        fputs(", at ", out);
        put_site(out, &s->site);
        fputc('\n', out);
    }
    return ferror(out) ? -1 : 0;
}

static void put_string(FILE *out, const char *s)
{
    report_json_string(out, s, 0);
}

void growth_write_json_array(const growth_t *g, FILE *out)
{
    fputc('[', out);
    for (size_t i = 0; i < g->nsites; i++) {
        const growth_site_t *s = &g->sites[i];
        fputs(i ? ",\n" : "\n", out);
        fprintf(out, "{\"pid\":%llu,\"instance\":\"%016llx\",\"site\":{\"function\":",
                (unsigned long long)s->pid, (unsigned long long)s->instance_id);
        put_string(out, s->site.function);
        fputs(",\"file\":", out);
        put_string(out, s->site.file);
        fprintf(out, ",\"line\":%u,\"module\":", s->site.line);
        put_string(out, s->site.module);
        fprintf(out, "},\"kind\":\"%s\",\"in_app\":%s,\"snapshots\":%zu,\"slope_bytes_per_s\":%.1f,"
                     "\"slope_bytes_per_snapshot\":%.1f,\"r2\":%.3f,\"first_bytes\":%llu,"
                     "\"last_bytes\":%llu,\"oldest_age_s\":%.1f,\"suspect\":%s}",
                report_kind_name(s->kind), s->in_app ? "true" : "false", s->npoints,
                s->slope_bytes_per_s, s->slope_bytes_per_snapshot, s->r2,
                (unsigned long long)s->first_bytes, (unsigned long long)s->last_bytes,
                s->oldest_age_s, s->suspect ? "true" : "false");
    }
    fputs("\n]", out);
}

void growth_write_json_processes(const growth_t *g, FILE *out)
{
    for (size_t p = 0; p < g->nprocesses; p++)
        fprintf(out, "%s{\"pid\":%llu,\"instance\":\"%016llx\",\"snapshots\":%zu,"
                     "\"duration_s\":%.3f,\"exit_left_out\":%s}",
                p ? "," : "", (unsigned long long)g->processes[p].pid,
                (unsigned long long)g->processes[p].instance_id, g->processes[p].nsnapshots,
                g->processes[p].duration_s, g->processes[p].exit_left_out ? "true" : "false");
}

int growth_write_json(const growth_t *g, FILE *out)
{
    fputs("{\"imgleak_growth\":1,\"processes\":[", out);
    growth_write_json_processes(g, out);
    fputs("],\n\"skipped\":", out);
    report_json_skipped(out, g->skipped, g->nskipped);
    fprintf(out, ",\"final_missing\":%s,\n\"growth\":", g->final_missing ? "true" : "false");
    growth_write_json_array(g, out);
    fputs("}\n", out);
    return ferror(out) ? -1 : 0;
}
