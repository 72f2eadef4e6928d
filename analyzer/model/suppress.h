/* Suppressions, in LeakSanitizer's syntax: a file of "leak:PATTERN" lines ('#' starts a comment).
 * A pattern matches a frame's function, source file or module as a substring, with '*' matching
 * any run of characters, '^' anchoring it at the start and '$' at the end; a stack is suppressed
 * when any of its frames matches. imgleak ships default rules for one-time allocations of the
 * C library, the dynamic linker, GLib's signals and the supported codec libraries
 * (suppressions/default.supp, built into the binary). */
#ifndef IMGLEAK_SUPPRESS_H
#define IMGLEAK_SUPPRESS_H

#include "symbolize.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *pattern;   /* as written after "leak:" */
    char *glob;      /* for fnmatch: '*' added where the pattern is not anchored */
    const char *origin; /* the file it came from, or "default" */
    unsigned line;
} suppress_rule_t;

typedef struct suppressions {
    suppress_rule_t *rules;
    size_t nrules;
} suppressions_t;

/* Adds the rules in path. 0, or -1 with error_get() naming the file and line. */
int suppress_load_file(suppressions_t *s, const char *path);
/* Adds the built-in default rules. */
int suppress_load_defaults(suppressions_t *s);
/* The index of the first rule matching any of frames[0..n), or -1 (also when s is NULL). */
long suppress_match(const suppressions_t *s, const frame_t *frames, size_t n);
void suppress_free(suppressions_t *s);

#endif
