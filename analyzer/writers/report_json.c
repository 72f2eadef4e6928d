/* The JSON report; its fields are documented in docs/REPORT-JSON.md and kept stable. */
#include "growth.h"
#include "report.h"

#include <string.h>

static void put_string(FILE *out, const char *s)
{
    report_json_string(out, s, 0);
}

static void put_frame(FILE *out, const frame_t *f)
{
    fputs("{\"function\":", out);
    put_string(out, f->function);
    fputs(",\"file\":", out);
    put_string(out, f->file);
    fprintf(out, ",\"line\":%u,\"module\":", f->line);
    put_string(out, f->module);
    fprintf(out, ",\"address\":\"0x%llx\",\"offset\":\"0x%llx\",\"inlined\":%s}",
            (unsigned long long)f->address, (unsigned long long)f->offset,
            f->inlined ? "true" : "false");
}

static void put_snapshot(FILE *out, const report_process_t *rp)
{
    const snapshot_t *s = rp->snap;
    const imgleak_process_rec_t *p = &s->process;
    fputs("{\"file\":", out);
    put_string(out, s->path);
    fprintf(out, ",\"pid\":%llu,\"ppid\":%llu,\"sequence\":%llu,\"time_ns\":%llu,\"exe\":",
            (unsigned long long)s->header.pid, (unsigned long long)p->ppid,
            (unsigned long long)s->header.sequence, (unsigned long long)s->header.time_ns);
    put_string(out, s->exe);
    fprintf(out, ",\"sample_bytes\":%llu", (unsigned long long)p->sample_bytes);
    /* a string: 64 bits do not survive a JSON number in most readers */
    fprintf(out, ",\"instance\":\"%016llx\"", (unsigned long long)p->instance_id);
    fprintf(out, ",\"dropped\":{\"table_full\":%llu,\"stacks\":%llu,\"truncated_stacks\":%llu,"
                 "\"oversized_blocks\":%llu,\"failed_snapshots\":%llu}",
            (unsigned long long)p->dropped_table_full, (unsigned long long)p->dropped_stacks,
            (unsigned long long)p->truncated_stacks, (unsigned long long)p->oversized_blocks,
            (unsigned long long)p->failed_snapshots);
    fprintf(out, ",\"scan\":{\"incomplete\":%s,\"skipped\":%s,\"unscanned_bytes\":%llu}",
            (p->scan_flags & IMGLEAK_SCAN_INCOMPLETE) ? "true" : "false",
            (p->scan_flags & IMGLEAK_SCAN_SKIPPED) ? "true" : "false",
            (unsigned long long)p->unscanned_bytes);
    fprintf(out, ",\"attached\":%s", (s->header.flags & IMGLEAK_SNAP_ATTACHED) ? "true" : "false");
    fprintf(out, ",\"at_exit\":%s,\"rss_bytes\":%llu,\"peak_rss_bytes\":%llu,\"allocator\":\"%s\"",
            (s->header.flags & IMGLEAK_SNAP_AT_EXIT) ? "true" : "false",
            (unsigned long long)p->rss_bytes, (unsigned long long)p->peak_rss_bytes,
            p->allocator == IMGLEAK_ALLOCATOR_GLIBC      ? "glibc"
            : p->allocator == IMGLEAK_ALLOCATOR_JEMALLOC ? "jemalloc"
                                                          : "unknown");
    if (s->script_runtime) {
        fputs(",\"interpreter\":{\"name\":", out);
        put_string(out, s->script_runtime);
        fprintf(out, ",\"frames\":%s,\"pythonmalloc\":",
                (s->script_flags & IMGLEAK_SCRIPT_RT_FRAMES) ? "true" : "false");
        put_string(out, s->script_malloc);
        fprintf(out, ",\"pythonmalloc_set_by_run\":%s}",
                (s->script_flags & IMGLEAK_SCRIPT_RT_MALLOC_BY_RUN) ? "true" : "false");
    }
    if (p->allocator == IMGLEAK_ALLOCATOR_GLIBC)
        fprintf(out, ",\"glibc\":{\"arena\":%llu,\"mmapped\":%llu,\"in_use\":%llu,\"free\":%llu}",
                (unsigned long long)p->glibc_arena, (unsigned long long)p->glibc_mmapped,
                (unsigned long long)p->glibc_in_use, (unsigned long long)p->glibc_free);
    if (p->allocator == IMGLEAK_ALLOCATOR_JEMALLOC)
        fprintf(out, ",\"jemalloc\":{\"allocated\":%llu,\"active\":%llu,\"resident\":%llu,"
                     "\"retained\":%llu,\"mapped\":%llu}",
                (unsigned long long)p->je_allocated, (unsigned long long)p->je_active,
                (unsigned long long)p->je_resident, (unsigned long long)p->je_retained,
                (unsigned long long)p->je_mapped);
    fprintf(out, ",\"memory\":{\"rss\":%llu,\"tracked_heap\":%llu,\"tracked_mmap\":%llu,"
                 "\"allocator_held\":%llu,\"allocator_overhead\":%llu,\"allocator_free\":%llu,"
                 "\"other\":%llu,\"retention\":%s,\"measured\":%s,\"resident\":%llu,"
                 "\"live_heap\":%llu,\"mappings\":%llu,\"shim\":%llu,\"go_runtime_heap\":%llu,"
                 "\"go_runtime_mmap\":%llu,\"go_resident\":%llu,\"go_heap_c_blocks\":%u}",
            (unsigned long long)p->rss_bytes, (unsigned long long)rp->tracked_heap,
            (unsigned long long)rp->tracked_mmap, (unsigned long long)rp->allocator_held,
            (unsigned long long)rp->allocator_overhead, (unsigned long long)rp->allocator_free,
            (unsigned long long)rp->other, rp->retention ? "true" : "false",
            rp->measured ? "true" : "false", (unsigned long long)rp->resident,
            (unsigned long long)rp->live_heap, (unsigned long long)rp->mappings,
            (unsigned long long)rp->shim, (unsigned long long)rp->go_runtime_heap,
            (unsigned long long)rp->go_runtime_mmap, (unsigned long long)rp->go_resident,
            p->go_heap_c_blocks);
    fputc('}', out);
}

static void put_stack(FILE *out, const frame_t *stack, size_t depth)
{
    fputc('[', out);
    for (size_t f = 0; f < depth; f++) {
        if (f)
            fputc(',', out);
        put_frame(out, &stack[f]);
    }
    fputc(']', out);
}

/* An entry's or a handle group's inputs: {name, bytes, blocks, handles} / {name, count}. */
static void put_inputs(FILE *out, const input_list_t *list, int handles_only)
{
    fputs(",\"inputs\":[", out);
    for (size_t i = 0; i < list->count; i++) {
        const input_use_t *u = &list->uses[i];
        fputs(i ? ",{\"name\":" : "{\"name\":", out);
        put_string(out, u->name);
        if (handles_only)
            fprintf(out, ",\"count\":%llu}", (unsigned long long)u->handles);
        else
            fprintf(out, ",\"bytes\":%llu,\"blocks\":%llu,\"handles\":%llu}",
                    (unsigned long long)u->bytes, (unsigned long long)u->blocks,
                    (unsigned long long)u->handles);
    }
    fputc(']', out);
}

static void put_handle_group(FILE *out, const handle_group_t *g, size_t i, int misuse)
{
    fputs(i ? ",\n{" : "\n{", out);
    if (misuse)
        fprintf(out, "\"kind\":\"%s\",", report_misuse_name(g->state));
    fputs("\"type\":", out);
    put_string(out, g->type);
    fputs(",\"library\":", out);
    put_string(out, g->library);
    fputs(",\"function\":", out);
    put_string(out, g->function);
    fprintf(out, ",\"count\":%llu", (unsigned long long)g->count);
    if (!misuse)
        fprintf(out, ",\"abandoned\":%llu,\"retained_bytes\":%llu,\"retained_blocks\":%llu",
                (unsigned long long)g->abandoned, (unsigned long long)g->retained_bytes,
                (unsigned long long)g->retained_blocks);
    if (!misuse && g->entry)
        fprintf(out, ",\"entry\":%zu", g->entry - 1);
    if (!misuse)
        put_inputs(out, &g->inputs, 1);
    fprintf(out, ",\"in_app\":%s,\"site\":", g->in_app ? "true" : "false");
    put_frame(out, &g->site);
    fprintf(out, ",\"site_index\":%zu,\"stack\":", g->site_index);
    put_stack(out, g->stack, g->depth);
    fputc('}', out);
}

void report_json_skipped(FILE *out, const report_skipped_t *skipped, size_t n)
{
    fputs("[", out);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",\n{\"file\":" : "\n{\"file\":", out);
        put_string(out, skipped[i].path);
        fputs(",\"error\":", out);
        put_string(out, skipped[i].why);
        fputc('}', out);
    }
    fputs("\n]", out);
}

/* An entry (or an indirect site): its memory, what hangs from it, and the handles created there
 * and never destroyed, by type and create function. */
static void put_site(FILE *out, const leak_site_t *s, size_t i)
{
    fputs(i ? ",\n" : "\n", out);
    fprintf(out, "{\"bytes\":%llu,\"blocks\":%llu,\"kind\":\"%s\",\"class\":\"%s\","
                 "\"indirect_bytes\":%llu,\"indirect_blocks\":%llu,\"handles\":[",
            (unsigned long long)s->bytes, (unsigned long long)s->blocks, report_kind_name(s->kind),
            report_class_name(s->cls), (unsigned long long)s->indirect_bytes,
            (unsigned long long)s->indirect_blocks);
    for (size_t k = 0; k < s->ngroups; k++) {
        const handle_group_t *g = s->groups[k];
        fputs(k ? ",{\"type\":" : "{\"type\":", out);
        put_string(out, g->type);
        fputs(",\"function\":", out);
        put_string(out, g->function);
        fprintf(out, ",\"count\":%llu,\"abandoned\":%llu,\"retained_bytes\":%llu,"
                     "\"retained_blocks\":%llu}",
                (unsigned long long)g->count, (unsigned long long)g->abandoned,
                (unsigned long long)g->retained_bytes, (unsigned long long)g->retained_blocks);
    }
    fputc(']', out);
    put_inputs(out, &s->inputs, 0);
    fprintf(out, ",\"stacks\":%zu,\"truncated\":%s,\"in_app\":%s,\"no_stack\":%s,\"site\":",
            s->nstacks, s->truncated ? "true" : "false", s->in_app ? "true" : "false",
            s->no_stack ? "true" : "false");
    put_frame(out, &s->site);
    fprintf(out, ",\"site_index\":%zu,\"stack\":", s->site_index);
    put_stack(out, s->stack, s->depth);
    fputc('}', out);
}

int report_write_json(const report_t *rep, FILE *out, const report_opts_t *opts)
{
    const report_totals_t *t = &rep->totals;
    (void)opts;
    fprintf(out, "{\"imgleak_report\":1,\"totals\":{\"leaked_bytes\":%llu,\"leaked_blocks\":%llu,"
                 "\"heap_bytes\":%llu,\"heap_blocks\":%llu,\"mmap_bytes\":%llu,\"mmap_blocks\":%llu,"
                 "\"sites\":%zu,\"indirect_sites\":%zu,\"dropped_table_full\":%llu,\"dropped_stacks\":%llu,"
                 "\"truncated_stacks\":%llu,\"oversized_blocks\":%llu,\"estimated\":%s,"
                 "\"leaked_handles\":%llu,\"misused_handles\":%llu,\"suppressed_bytes\":%llu,"
                 "\"suppressed_blocks\":%llu,\"suppressed_handles\":%llu,\"scanned\":%s,"
                 "\"by_class\":{",
            (unsigned long long)t->leaked_bytes, (unsigned long long)t->leaked_blocks,
            (unsigned long long)t->heap_bytes, (unsigned long long)t->heap_blocks,
            (unsigned long long)t->mmap_bytes, (unsigned long long)t->mmap_blocks, rep->nsites,
            rep->nindirect,
            (unsigned long long)t->dropped_table_full, (unsigned long long)t->dropped_stacks,
            (unsigned long long)t->truncated_stacks, (unsigned long long)t->oversized_blocks,
            t->estimated ? "true" : "false", (unsigned long long)t->leaked_handles,
            (unsigned long long)t->misused_handles, (unsigned long long)t->suppressed_bytes,
            (unsigned long long)t->suppressed_blocks, (unsigned long long)t->suppressed_handles,
            t->scanned ? "true" : "false");
    for (unsigned c = 0; c <= IMGLEAK_CLASS_INDIRECT; c++)
        fprintf(out, "%s\"%s\":{\"bytes\":%llu,\"blocks\":%llu}", c ? "," : "",
                report_class_name(c), (unsigned long long)t->by_class[c].bytes,
                (unsigned long long)t->by_class[c].blocks);
    fprintf(out, "},\"go_runtime\":{\"bytes\":%llu,\"blocks\":%llu},",
            (unsigned long long)t->go_runtime_bytes, (unsigned long long)t->go_runtime_blocks);
    report_json_dropped(out, t);
    fprintf(out, ",\"inputs_seen\":%llu,\"inputs_unnamed\":%llu,\"inputs_known\":%s",
            (unsigned long long)rep->inputs_seen, (unsigned long long)rep->inputs_unnamed,
            rep->inputs_known ? "true" : "false");
    fputs("},\n\"snapshots\":[", out);
    for (size_t i = 0; i < rep->nprocesses; i++) {
        fputs(i ? ",\n" : "\n", out);
        put_snapshot(out, &rep->processes[i]);
    }
    fputs("],\n\"leaks\":[", out);
    for (size_t i = 0; i < rep->nsites; i++)
        put_site(out, &rep->sites[i], i);
    fputs("\n],\n\"indirect\":[", out);
    for (size_t i = 0; i < rep->nindirect; i++)
        put_site(out, &rep->indirect[i], i);
    fputs("\n],\n\"inputs\":[", out);
    for (size_t i = 0; i < rep->inputs.count; i++) {
        const input_use_t *u = &rep->inputs.uses[i];
        fputs(i ? ",\n{\"name\":" : "\n{\"name\":", out);
        put_string(out, u->name);
        fprintf(out, ",\"leaked_bytes\":%llu,\"leaked_blocks\":%llu,\"leaked_handles\":%llu}",
                (unsigned long long)u->bytes, (unsigned long long)u->blocks,
                (unsigned long long)u->handles);
    }
    fputs("\n],\n\"handles\":[", out);
    for (size_t i = 0; i < rep->nhandles; i++)
        put_handle_group(out, &rep->handles[i], i, 0);
    fputs("\n],\n\"misuse\":[", out);
    for (size_t i = 0; i < rep->nmisuse; i++)
        put_handle_group(out, &rep->misuse[i], i, 1);
    fputs("\n],\n\"suppressed\":[", out);
    size_t shown = 0;
    for (size_t i = 0; i < rep->nsuppressed; i++) {
        const report_suppressed_t *r = &rep->suppressed[i];
        if (!r->blocks && !r->handles)
            continue;
        fputs(shown++ ? ",\n" : "\n", out);
        fputs("{\"pattern\":", out);
        put_string(out, r->rule->pattern);
        fputs(",\"from\":", out);
        put_string(out, r->rule->origin);
        fprintf(out, ",\"line\":%u,\"bytes\":%llu,\"blocks\":%llu,\"handles\":%llu}",
                r->rule->line, (unsigned long long)r->bytes, (unsigned long long)r->blocks,
                (unsigned long long)r->handles);
    }
    fputs("\n]", out);
    fputs(",\n\"skipped\":", out);
    report_json_skipped(out, rep->skipped, rep->nskipped);
    if (rep->growth) {
        fputs(",\n\"growth\":", out);
        growth_write_json_array(rep->growth, out);
    }
    fputs("}\n", out);
    return ferror(out) ? -1 : 0;
}
