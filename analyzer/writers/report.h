/* Output formats: each is a writer over the report model, in its own report_<name>.c, registered
 * in report.c by one line. */
#ifndef IMGLEAK_REPORT_H
#define IMGLEAK_REPORT_H

#include "model.h"

#include <stdio.h>

typedef struct {
    int color;           /* ANSI colour (text only) */
    size_t max_sites;    /* text: sites listed at most (0: all) */
    size_t stack_frames; /* text: frames shown under each site */
    int show_reachable;  /* reachable sites are listed */
    int show_indirect;   /* text: indirectly leaked sites are listed too, after the entries */
    int by_input;        /* text: the inputs that leaked, each with its entries */
} report_opts_t;

typedef struct {
    const char *name;
    int (*write)(const report_t *rep, FILE *out, const report_opts_t *opts);
} report_writer_t;

const report_writer_t *report_writer_find(const char *name);
/* "text|json", for usage messages */
const char *report_writer_names(void);

int report_write_text(const report_t *rep, FILE *out, const report_opts_t *opts);
int report_write_json(const report_t *rep, FILE *out, const report_opts_t *opts);
int report_write_pprof(const report_t *rep, FILE *out, const report_opts_t *opts);
int report_write_collapsed(const report_t *rep, FILE *out, const report_opts_t *opts);
int report_write_html(const report_t *rep, FILE *out, const report_opts_t *opts);
/* imgleak suppress: leak: rules that hide each of the program's leaks (report_supp.c) */
int report_write_suppressions(const report_t *rep, FILE *out, const report_opts_t *opts);

/* Shared by writers: "12.3 KiB" */
void report_format_bytes(uint64_t bytes, char *out, size_t size);
const char *report_kind_name(unsigned kind);
/* "leaked", "indirect", "possible", "reachable", or "unscanned" (no reachability scan) */
const char *report_class_name(unsigned cls);
/* A frame's name for stack views: its function, or module+0xoffset, or its address. */
void report_frame_name(const frame_t *f, char *out, size_t size);
/* A JSON string literal (null for NULL); in_html also escapes < > & for a <script> element. */
void report_json_string(FILE *out, const char *s, int in_html);
/* The frames of a stack the text, HTML, pprof and collapsed views show: all but the C runtime's
 * start frames at its outer end (_start, __libc_start_main, start_thread, clone...), which are
 * under every stack and say nothing. JSON keeps every frame. */
size_t report_shown_depth(const frame_t *frames, size_t depth);
/* "dropped":{...}: what was recorded in part or not at all (docs/REPORT-JSON.md), for the JSON
 * and HTML writers. */
void report_json_dropped(FILE *out, const report_totals_t *t);
/* [{"file":...,"error":...},...]: snapshots left out because they could not be read */
void report_json_skipped(FILE *out, const report_skipped_t *skipped, size_t n);
/* "destroy_unknown", "destroy_twice", "destroy_wrong_type" */
const char *report_misuse_name(unsigned state);

#endif
