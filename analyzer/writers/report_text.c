/* The text report for a terminal: totals first, then each call site with a short stack. */
#include "escape.h"
#include "growth.h"
#include "report.h"

#include <string.h>

static const char *base_name(const char *path)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    return slash ? slash + 1 : path;
}

static void put_location(FILE *out, const frame_t *f)
{
    fputs(f->function ? escape_text(f->function) : "??", out);
    if (f->file)
        fprintf(out, " %s:%u", escape_text(f->file), f->line);
    else if (f->module)
        fprintf(out, " (%s+0x%llx)", escape_text(base_name(f->module)),
                (unsigned long long)f->offset);
    else
        fprintf(out, " (0x%llx)", (unsigned long long)f->address);
    if (f->inlined)
        fputs(" [inlined]", out);
}

/* Where RSS went, and in words when the gap is the allocator keeping freed memory. */
static void put_memory(FILE *out, const report_process_t *rp)
{
    char rss[32], heap[32], maps[32], over[32], other[32], kept[32], shim[32];
    report_format_bytes(rp->snap->process.rss_bytes, rss, sizeof rss);
    report_format_bytes(rp->live_heap, heap, sizeof heap);
    report_format_bytes(rp->mappings, maps, sizeof maps);
    report_format_bytes(rp->allocator_overhead, over, sizeof over);
    report_format_bytes(rp->other, other, sizeof other);
    report_format_bytes(rp->allocator_free, kept, sizeof kept);
    report_format_bytes(rp->shim, shim, sizeof shim);
    if (!rp->allocator_held && !rp->measured)
        return;
    char go[32] = "";
    int is_go = rp->go_runtime_mmap || rp->go_resident; /* the split Go users ask for */
    if (is_go) {
        char reserved[32];
        report_format_bytes(rp->go_resident, reserved, sizeof reserved);
        snprintf(go, sizeof go, "%s", reserved);
    }
    if (rp->measured)
        fprintf(out, "    RSS %s = %s%s%slive heap %s + allocator's free and overhead %s + mappings %s "
                     "+ imgleak itself %s + the rest %s (code, stacks, untracked mappings); "
                     "all resident\n",
                rss, is_go ? "Go heap " : "", go, is_go ? " + C " : "", heap, over, maps, shim,
                other);
    else
        fprintf(out, "    RSS %s = %s%s%slive heap %s + allocator overhead and free-but-kept %s + "
                     "mappings %s + the rest %s (code, stacks, untracked mappings)\n",
                rss, is_go ? "Go heap " : "", go, is_go ? " + C " : "", heap, over, maps, other);
    if (is_go) {
        char reserved[32];
        report_format_bytes(rp->go_runtime_mmap, reserved, sizeof reserved);
        fprintf(out, "    the Go runtime reserved %s of address space; only its resident part, the Go "
                     "heap, is in RSS, and none of it is a leak\n", reserved);
    }
    if (rp->snap->process.go_heap_c_blocks)
        fprintf(out, "    the Go heap holds the address of %u live C blocks: they count as still "
                     "reachable, even those only dead Go objects or finished goroutines hold "
                     "(a limit of conservative scanning)\n",
                rp->snap->process.go_heap_c_blocks);
    if (!rp->retention)
        return;
    if (rp->snap->process.allocator == IMGLEAK_ALLOCATOR_GLIBC)
        fprintf(out, "    %s of it is resident memory glibc's malloc keeps after the program freed it: "
                     "allocator retention (fragmentation), not a leak. Remedies: malloc_trim(0) "
                     "after peaks, MALLOC_ARENA_MAX=2 with many threads, or jemalloc "
                     "(imgleak run --allocator jemalloc shows the difference)\n", kept);
    else
        fprintf(out, "    %s of it is memory jemalloc keeps after the program freed it "
                     "(resident but not allocated): allocator retention, not a leak; "
                     "jemalloc returns it over time (see its dirty_decay_ms)\n", kept);
}

/* What this process could not record, when anything. */
static void put_process_dropped(FILE *out, const imgleak_process_rec_t *p)
{
    if (!p->dropped_table_full && !p->dropped_stacks && !p->truncated_stacks &&
        !p->oversized_blocks && !p->failed_snapshots && !p->scan_flags)
        return;
    fprintf(out, "    not recorded: %llu allocations (live table full); the stacks of %llu "
                 "(stack table full); %llu stacks cut at the depth limit; %llu sizes too large "
                 "to store; %llu snapshots not written",
            (unsigned long long)p->dropped_table_full, (unsigned long long)p->dropped_stacks,
            (unsigned long long)p->truncated_stacks, (unsigned long long)p->oversized_blocks,
            (unsigned long long)p->failed_snapshots);
    if (p->scan_flags & IMGLEAK_SCAN_INCOMPLETE)
        fprintf(out, "; reachability scan incomplete (%llu bytes unread)",
                (unsigned long long)p->unscanned_bytes);
    if (p->scan_flags & IMGLEAK_SCAN_SKIPPED)
        fputs("; reachability scan did not run", out);
    fputc('\n', out);
}

/* The interpreter the process ran, and whether its objects could be seen at all. */
static void put_interpreter(FILE *out, const snapshot_t *snap)
{
    if (!snap->script_runtime)
        return;
    const char *pm = snap->script_malloc;
    fprintf(out, "    %s: %s", escape_text(snap->script_runtime),
            (snap->script_flags & IMGLEAK_SCRIPT_RT_FRAMES) ? "script frames read"
                                                            : "script frames not read (CPython 3.11 only)");
    if (snap->script_flags & IMGLEAK_SCRIPT_RT_MALLOC_BY_RUN)
        fprintf(out, "; PYTHONMALLOC=%s set by imgleak run (every object is a heap block)", escape_text(pm));
    else if (strncmp(pm, "malloc", 6) == 0)
        fprintf(out, "; PYTHONMALLOC=%s", escape_text(pm));
    else
        fprintf(out, "; PYTHONMALLOC=%s: small objects live in pymalloc's arenas, unseen (run with "
                     "PYTHONMALLOC=malloc to see them)", *pm ? escape_text(pm) : "(unset)");
    fputc('\n', out);
}

static void put_process(FILE *out, const snapshot_t *snap)
{
    char rss[32], peak[32];
    report_format_bytes(snap->process.rss_bytes, rss, sizeof rss);
    report_format_bytes(snap->process.peak_rss_bytes, peak, sizeof peak);
    fprintf(out, "  pid %llu", (unsigned long long)snap->header.pid);
    if (snap->process.instance_id) /* two processes may share a pid */
        fprintf(out, " (instance %016llx)", (unsigned long long)snap->process.instance_id);
    fprintf(out, "  %s  (%s)\n    RSS %s, peak %s", escape_text(snap->exe), escape_text(snap->path),
            rss, peak);
    if (snap->process.allocator == IMGLEAK_ALLOCATOR_GLIBC) {
        char in_use[32], free_b[32];
        report_format_bytes(snap->process.glibc_in_use, in_use, sizeof in_use);
        report_format_bytes(snap->process.glibc_free, free_b, sizeof free_b);
        fprintf(out, "; glibc malloc: %s in use, %s free", in_use, free_b);
    } else if (snap->process.allocator == IMGLEAK_ALLOCATOR_JEMALLOC) {
        char alloc[32], resident[32];
        report_format_bytes(snap->process.je_allocated, alloc, sizeof alloc);
        report_format_bytes(snap->process.je_resident, resident, sizeof resident);
        fprintf(out, "; jemalloc: %s allocated, %s resident", alloc, resident);
    }
    fputc('\n', out);
    put_interpreter(out, snap);
    put_process_dropped(out, &snap->process);
}

/* In the header, never at the end: anything lost means the figures above are a lower bound. */
static void put_dropped(FILE *out, const report_totals_t *t, const char *red, const char *off)
{
    char a[32], b[32];
    if (model_totals_incomplete(t))
        fprintf(out, "  %sincomplete: leaks may be missing from these figures%s\n", red, off);
    if (t->dropped_table_full || t->dropped_stacks || t->oversized_blocks)
        fprintf(out, "  not recorded: %llu allocations (live table full: IMGLEAK_MAX_LIVE); the "
                     "stacks of %llu (stack table full: IMGLEAK_MAX_STACKS); %llu sizes too large "
                     "to store\n",
                (unsigned long long)t->dropped_table_full, (unsigned long long)t->dropped_stacks,
                (unsigned long long)t->oversized_blocks);
    if (t->unattributed_blocks) {
        report_format_bytes(t->unattributed_bytes, a, sizeof a);
        fprintf(out, "  unattributed: %s in %llu blocks have no stack, or one cut before any "
                     "frame of the program: whose they are is unknown\n",
                a, (unsigned long long)t->unattributed_blocks);
    }
    if (t->truncated_stacks)
        fprintf(out, "  %llu stacks cut at the depth limit (IMGLEAK_DEPTH)\n",
                (unsigned long long)t->truncated_stacks);
    if (t->failed_snapshots)
        fprintf(out, "  %llu snapshots the program could not write\n",
                (unsigned long long)t->failed_snapshots);
    if (t->scan_incomplete || t->unclassified_blocks) {
        report_format_bytes(t->unscanned_bytes, a, sizeof a);
        report_format_bytes(t->unclassified_bytes, b, sizeof b);
        fprintf(out, "  reachability scan incomplete in %llu process%s: %s could not be read; %s "
                     "in %llu blocks left unclassified (not called leaked)\n",
                (unsigned long long)t->scan_incomplete, t->scan_incomplete == 1 ? "" : "es", a,
                b, (unsigned long long)t->unclassified_blocks);
    }
    if (t->scan_inherited) {
        report_format_bytes(t->child_unclassified_bytes, b, sizeof b);
        fprintf(out, "  %llu forked child%s: only the blocks %s made are listed; the heap inherited "
                     "from the parent (which reports it) was read for pointers only%s%s%s\n",
                (unsigned long long)t->scan_inherited, t->scan_inherited == 1 ? "" : "ren",
                t->scan_inherited == 1 ? "it" : "they",
                t->child_unclassified_blocks ? "; " : "",
                t->child_unclassified_blocks ? b : "",
                t->child_unclassified_blocks ? " of theirs not classified" : "");
    }
    if (t->scan_skipped)
        fprintf(out, "  reachability scan asked for but not run in %llu process%s: its blocks "
                     "are counted as live, not classified\n",
                (unsigned long long)t->scan_skipped, t->scan_skipped == 1 ? "" : "es");
    if (t->skipped_snapshots)
        fprintf(out, "  skipped: %llu unreadable snapshot%s (named on standard error)%s\n",
                (unsigned long long)t->skipped_snapshots, t->skipped_snapshots == 1 ? "" : "s",
                t->final_missing ? "; one may have been a process's final state" : "");
}

static void put_stack(FILE *out, const frame_t *stack, size_t depth, size_t site_index,
                      int truncated, const report_opts_t *opts)
{
    const char *dim = opts->color ? "\033[2m" : "", *off = opts->color ? "\033[0m" : "";
    depth = report_shown_depth(stack, depth);
    size_t end = depth;
    if (opts->stack_frames && site_index + opts->stack_frames < end)
        end = site_index + opts->stack_frames;
    for (size_t f = 0; f < end; f++) {
        fprintf(out, "    %s#%zu ", f < site_index ? dim : "", f);
        put_location(out, &stack[f]);
        fprintf(out, "%s\n", f < site_index ? off : "");
    }
    if (end < depth || truncated)
        fprintf(out, "    %s... %s%s\n", dim,
                truncated ? "stack cut at the depth limit (IMGLEAK_DEPTH)" : "more frames", off);
}

static void put_misuse(FILE *out, const report_t *rep, const report_opts_t *opts)
{
    const char *bold = opts->color ? "\033[1m" : "", *off = opts->color ? "\033[0m" : "";
    for (size_t i = 0; i < rep->nmisuse; i++) {
        const handle_group_t *g = &rep->misuse[i];
        const char *what = g->state == IMGLEAK_HANDLE_DESTROY_TWICE ? "destroyed twice"
                           : g->state == IMGLEAK_HANDLE_DESTROY_WRONG
                               ? "destroyed with another type's function"
                               : "destroyed but never seen created";
        fprintf(out, "\n%smisuse: %llu %s %s by %s()%s at ", bold, (unsigned long long)g->count,
                escape_text(g->type), what, escape_text(g->function), off);
        put_location(out, &g->site);
        fputc('\n', out);
        put_stack(out, g->stack, g->depth, g->site_index, 0, opts);
    }
}

/* The first line of an entry with handles: what was never destroyed and all it keeps. */
static void put_handle_headline(FILE *out, const leak_site_t *s, const report_opts_t *opts)
{
    const char *bold = opts->color ? "\033[1m" : "", *off = opts->color ? "\033[0m" : "";
    uint64_t bytes = s->bytes + s->indirect_bytes, blocks = s->blocks + s->indirect_blocks;
    fputs(bold, out);
    for (size_t k = 0; k < s->ngroups; k++) {
        const handle_group_t *g = s->groups[k];
        if (!s->blocks) { /* its memory is charged elsewhere: what its creation allocated */
            bytes += g->retained_bytes;
            blocks += g->retained_blocks;
        }
        fprintf(out, "%s%llu %s%s created by %s()", k ? " and " : "", (unsigned long long)g->count,
                escape_text(g->type), g->count == 1 ? "" : "s", escape_text(g->function));
    }
    char held[32];
    report_format_bytes(bytes, held, sizeof held);
    fprintf(out, " never destroyed%s, retaining %s in %llu block%s, at ", off, held,
            (unsigned long long)blocks, blocks == 1 ? "" : "s");
    put_location(out, &s->site);
    fputc('\n', out);
    for (size_t k = 0; k < s->ngroups; k++) {
        const handle_group_t *g = s->groups[k];
        if (!g->abandoned)
            continue;
        if (g->count == 1)
            fprintf(out, "    (it was created again in the same place, or reset, without a destroy)\n");
        else
            fprintf(out, "    (%llu of the %ss %s created again in the same place, or reset, "
                         "without a destroy)\n",
                    (unsigned long long)g->abandoned, escape_text(g->type),
                    g->abandoned == 1 ? "was" : "were");
    }
}

/* The first line of an entry of memory alone. */
static void put_memory_headline(FILE *out, const leak_site_t *s, const report_opts_t *opts)
{
    const char *bold = opts->color ? "\033[1m" : "", *off = opts->color ? "\033[0m" : "";
    static const char *const how[] = {"", " still reachable", " possibly leaked", " leaked",
                                      " indirectly leaked"};
    char bytes[32];
    report_format_bytes(s->bytes, bytes, sizeof bytes);
    fprintf(out, "%s%s in %llu block%s%s (%s)%s at ", bold, bytes, (unsigned long long)s->blocks,
            s->blocks == 1 ? "" : "s", off, report_kind_name(s->kind), how[s->cls]);
    put_location(out, &s->site);
    if (s->indirect_blocks) {
        char more[32];
        report_format_bytes(s->indirect_bytes, more, sizeof more);
        fprintf(out, ", and %s in %llu blocks hanging from them", more,
                (unsigned long long)s->indirect_blocks);
    }
    fputc('\n', out);
}

/* "leaked on 3 of 24 inputs: photo_05.jpg, ..." (the first few, largest first) */
static void put_entry_inputs(FILE *out, const report_t *rep, const leak_site_t *s,
                             const report_opts_t *opts)
{
    const char *dim = opts->color ? "\033[2m" : "", *off = opts->color ? "\033[0m" : "";
    enum { SHOWN = 5 };
    if (!s->inputs.count)
        return;
    fprintf(out, "    %sleaked on %zu", dim, s->inputs.count);
    if (rep->inputs_seen)
        fprintf(out, " of %llu", (unsigned long long)rep->inputs_seen);
    fprintf(out, " input%s: ", rep->inputs_seen == 1 && s->inputs.count == 1 ? "" : "s");
    for (size_t i = 0; i < s->inputs.count && i < SHOWN; i++)
        fprintf(out, "%s%s", i ? ", " : "", escape_text(s->inputs.uses[i].name));
    if (s->inputs.count > SHOWN)
        fprintf(out, " and %zu more", s->inputs.count - SHOWN);
    fprintf(out, "%s\n", off);
}

/* --by-input: each input that leaked, what it leaked, and where. */
static void put_by_input(FILE *out, const report_t *rep, const report_opts_t *opts)
{
    const char *bold = opts->color ? "\033[1m" : "", *off = opts->color ? "\033[0m" : "";
    if (!rep->inputs_known) {
        fprintf(out, "\n%sinputs:%s none named: the snapshots are older than format 1.6\n",
                bold, off);
        return;
    }
    fprintf(out, "\n%sinputs: %zu of %llu leaked%s\n", bold, rep->inputs.count,
            (unsigned long long)rep->inputs_seen, off);
    for (size_t i = 0; i < rep->inputs.count; i++) {
        const input_use_t *u = &rep->inputs.uses[i];
        char bytes[32];
        report_format_bytes(u->bytes, bytes, sizeof bytes);
        fprintf(out, "  %s: %s in %llu block%s, %llu handle%s\n", escape_text(u->name), bytes,
                (unsigned long long)u->blocks, u->blocks == 1 ? "" : "s",
                (unsigned long long)u->handles, u->handles == 1 ? "" : "s");
        for (size_t k = 0; k < rep->nsites; k++) {
            const leak_site_t *s = &rep->sites[k];
            for (size_t j = 0; j < s->inputs.count; j++) {
                if (strcmp(s->inputs.uses[j].name, u->name) != 0)
                    continue;
                fputs("    at ", out);
                put_location(out, &s->site);
                fputc('\n', out);
            }
        }
    }
}

static void put_entry(FILE *out, const report_t *rep, const leak_site_t *s,
                      const report_opts_t *opts)
{
    const char *dim = opts->color ? "\033[2m" : "", *off = opts->color ? "\033[0m" : "";
    fputc('\n', out);
    if (s->ngroups)
        put_handle_headline(out, s, opts);
    else
        put_memory_headline(out, s, opts);
    if (s->ngroups && s->blocks) {
        char bytes[32], more[32];
        report_format_bytes(s->bytes, bytes, sizeof bytes);
        report_format_bytes(s->indirect_bytes, more, sizeof more);
        fprintf(out, "    %s(%s in %llu block%s %s there, and %s in %llu blocks hanging from them)%s\n",
                dim, bytes, (unsigned long long)s->blocks, s->blocks == 1 ? "" : "s",
                s->cls == IMGLEAK_CLASS_UNKNOWN ? "live" : "leaked", more,
                (unsigned long long)s->indirect_blocks, off);
    }
    put_entry_inputs(out, rep, s, opts);
    if (!s->in_app)
        fprintf(out, "    %s(%s)%s\n", dim,
                s->no_stack ? "unattributed: the stack table was full"
                            : "no frame of the program: allocated inside a library",
                off);
    if (s->cls == IMGLEAK_CLASS_POSSIBLE)
        fprintf(out, "    %s(only pointers into the middle of these blocks were found)%s\n", dim, off);
    else if (s->cls == IMGLEAK_CLASS_INDIRECT)
        fprintf(out, "    %s(reachable only from leaked blocks: freeing those frees these)%s\n", dim,
                off);
    put_stack(out, s->stack, s->depth, s->site_index, s->truncated, opts);
    if (s->nstacks > 1)
        fprintf(out, "    %s(%zu different stacks reach this site; the one holding most is shown)%s\n",
                dim, s->nstacks, off);
}

int report_write_text(const report_t *rep, FILE *out, const report_opts_t *opts)
{
    const char *bold = opts->color ? "\033[1m" : "", *red = opts->color ? "\033[31m" : "";
    const char *off = opts->color ? "\033[0m" : "";
    const report_totals_t *t = &rep->totals;
    char total[32];
    report_format_bytes(t->leaked_bytes, total, sizeof total);
    int at_exit = 1; /* else a snapshot of a running process: "live", not "still live at exit" */
    for (size_t i = 0; i < rep->nprocesses; i++)
        at_exit &= (rep->processes[i].snap->header.flags & IMGLEAK_SNAP_AT_EXIT) != 0;
    const char *when = t->scanned ? "leaked"
                       : at_exit  ? "still live at exit"
                                  : "live when the snapshot was taken";
    if (!t->leaked_blocks)
        fprintf(out, "%simgleak: nothing %s%s\n", bold, when, off);
    else
        fprintf(out, "%simgleak: %s%s in %llu block%s %s%s, at %zu call site%s\n", bold,
                t->leaked_bytes ? red : "", total, (unsigned long long)t->leaked_blocks,
                t->leaked_blocks == 1 ? "" : "s", when, off, rep->nsites,
                rep->nsites == 1 ? "" : "s");
    if (t->scanned) {
        char cls[4][32];
        for (unsigned c = IMGLEAK_CLASS_REACHABLE; c <= IMGLEAK_CLASS_INDIRECT; c++)
            report_format_bytes(t->by_class[c].bytes, cls[c - 1], sizeof cls[0]);
        fprintf(out, "  definitely %s, indirectly %s, possibly %s; still reachable %s in %llu "
                     "blocks%s\n",
                cls[IMGLEAK_CLASS_LEAKED - 1], cls[IMGLEAK_CLASS_INDIRECT - 1],
                cls[IMGLEAK_CLASS_POSSIBLE - 1], cls[IMGLEAK_CLASS_REACHABLE - 1],
                (unsigned long long)t->by_class[IMGLEAK_CLASS_REACHABLE].blocks,
                opts->show_reachable ? "" : " (not listed: --show-reachable)");
    }
    if (t->estimated)
        fprintf(out, "  (estimated from sampled allocations: IMGLEAK_SAMPLE was set)\n");
    for (size_t i = 0; i < rep->nprocesses; i++)
        if (rep->processes[i].snap->header.flags & IMGLEAK_SNAP_ATTACHED) {
            fprintf(out, "  (tracked from imgleak attach on: what was allocated before it is not "
                         "counted)\n");
            break;
        }
    put_dropped(out, t, red, off);
    if (t->suppressed_blocks || t->suppressed_handles) {
        char hidden[32];
        size_t rules = 0;
        for (size_t i = 0; i < rep->nsuppressed; i++)
            rules += rep->suppressed[i].blocks || rep->suppressed[i].handles;
        report_format_bytes(t->suppressed_bytes, hidden, sizeof hidden);
        fprintf(out, "  suppressed: %s in %llu blocks, %llu handles, by %zu rule%s "
                     "(--format json lists them)\n",
                hidden, (unsigned long long)t->suppressed_blocks,
                (unsigned long long)t->suppressed_handles, rules, rules == 1 ? "" : "s");
    }
    if (t->go_runtime_blocks) {
        char go[32];
        report_format_bytes(t->go_runtime_bytes, go, sizeof go);
        fprintf(out, "  Go runtime: %s in %llu blocks and mappings it made for itself (heap arenas, "
                     "stacks, reservations): not a leak, not listed\n",
                go, (unsigned long long)t->go_runtime_blocks);
    }
    if (t->mmap_blocks) {
        char heap[32], maps[32];
        report_format_bytes(t->heap_bytes, heap, sizeof heap);
        report_format_bytes(t->mmap_bytes, maps, sizeof maps);
        fprintf(out, "  heap %s in %llu blocks, mappings %s in %llu\n", heap,
                (unsigned long long)t->heap_blocks, maps, (unsigned long long)t->mmap_blocks);
    }
    for (size_t i = 0; i < rep->nprocesses; i++) {
        put_process(out, rep->processes[i].snap);
        put_memory(out, &rep->processes[i]);
    }
    if (rep->growth)
        growth_write_text(rep->growth, out, opts->color);
    if (rep->inputs_unnamed)
        fprintf(out, "  %llu inputs not told apart (IMGLEAK_MAX_INPUTS were named already): what "
                     "they leaked is listed, charged to no input\n",
                (unsigned long long)rep->inputs_unnamed);
    if (t->leaked_handles || t->misused_handles)
        fprintf(out, "  handles: %llu never destroyed, %llu misused\n",
                (unsigned long long)t->leaked_handles, (unsigned long long)t->misused_handles);
    if (rep->nindirect && !opts->show_indirect)
        fprintf(out, "  indirectly leaked memory is counted under the leak it hangs from "
                     "(%zu call site%s: --show-indirect lists them)\n",
                rep->nindirect, rep->nindirect == 1 ? "" : "s");
    put_misuse(out, rep, opts);
    size_t shown = opts->max_sites && opts->max_sites < rep->nsites ? opts->max_sites : rep->nsites;
    for (size_t i = 0; i < shown; i++)
        put_entry(out, rep, &rep->sites[i], opts);
    if (shown < rep->nsites)
        fprintf(out, "\n... %zu more call sites (use --format json for all)\n", rep->nsites - shown);
    for (size_t i = 0; opts->show_indirect && i < rep->nindirect; i++)
        put_entry(out, rep, &rep->indirect[i], opts);
    if (opts->by_input)
        put_by_input(out, rep, opts);
    return ferror(out) ? -1 : 0;
}
