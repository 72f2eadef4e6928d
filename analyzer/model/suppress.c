/* Suppressions (see suppress.h). */
#include "suppress.h"

#include "error.h"
#include "grow.h"
#include "safeopen.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char imgleak_default_suppressions[]; /* assets.S: suppressions/default.supp */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        *--end = '\0';
    return s;
}

static int add_rule(suppressions_t *s, const char *pattern, const char *origin, unsigned line)
{
    size_t len = strlen(pattern);
    int head = pattern[0] == '^', tail = len > (size_t)head && pattern[len - 1] == '$';
    const char *body = pattern + head;
    size_t body_len = len - (size_t)head - (size_t)tail;
    if (body_len == 0)
        return error_set("%s:%u: empty pattern", origin, line), -1;
    if (grow_for(&s->rules, s->nrules, sizeof *s->rules) < 0)
        return error_set("out of memory"), -1;
    suppress_rule_t *r = &s->rules[s->nrules];
    memset(r, 0, sizeof *r);
    r->pattern = strdup(pattern);
    r->glob = malloc(body_len + 3);
    if (!r->pattern || !r->glob) {
        free(r->pattern);
        free(r->glob);
        return error_set("out of memory"), -1;
    }
    /* fnmatch's other specials ([ ? \) are taken literally, as LeakSanitizer does */
    char *g = r->glob;
    if (!head)
        *g++ = '*';
    for (size_t i = 0; i < body_len; i++) {
        char c = body[i];
        if (c == '[' || c == '?' || c == '\\' || c == ']')
            *g++ = '?'; /* a single character, close enough and never a syntax error */
        else
            *g++ = c;
    }
    if (!tail)
        *g++ = '*';
    *g = '\0';
    r->origin = origin;
    r->line = line;
    s->nrules++;
    return 0;
}

/* Parses text (NUL-terminated) line by line. */
static int parse(suppressions_t *s, char *text, const char *origin)
{
    unsigned line = 0;
    for (char *next, *cur = text; cur; cur = next) {
        next = strchr(cur, '\n');
        if (next)
            *next++ = '\0';
        line++;
        char *l = trim(cur);
        char *hash = strchr(l, '#');
        if (hash)
            *hash = '\0';
        l = trim(l);
        if (!*l)
            continue;
        if (strncmp(l, "leak:", 5) != 0)
            return error_set("%s:%u: expected leak:PATTERN, got '%.40s'", origin, line, l), -1;
        if (add_rule(s, trim(l + 5), origin, line) < 0)
            return -1;
    }
    return 0;
}

int suppress_load_file(suppressions_t *s, const char *path)
{
    FILE *f = safeopen_fopen(path, NULL);
    if (!f)
        return -1;
    char *text = NULL;
    size_t len = 0, cap = 0, got;
    char buf[4096];
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        if (len + got + 1 > cap) {
            cap = (len + got + 1) * 2;
            if (cap > (16u << 20)) {
                free(text);
                fclose(f);
                return error_set("%s: too large for a suppressions file", path), -1;
            }
            char *grown = realloc(text, cap);
            if (!grown) {
                free(text);
                fclose(f);
                return error_set("out of memory"), -1;
            }
            text = grown;
        }
        memcpy(text + len, buf, got);
        len += got;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(text);
        return error_set("%s: read error", path), -1;
    }
    if (memchr(text ? text : "", '\0', len)) {
        free(text);
        return error_set("%s: not a text file", path), -1;
    }
    if (!text && !(text = calloc(1, 1)))
        return error_set("out of memory"), -1;
    text[len] = '\0';
    int rc = parse(s, text, path);
    free(text);
    return rc;
}

int suppress_load_defaults(suppressions_t *s)
{
    char *text = strdup(imgleak_default_suppressions);
    if (!text)
        return error_set("out of memory"), -1;
    int rc = parse(s, text, "default");
    free(text);
    return rc;
}

static int matches(const suppress_rule_t *r, const char *s)
{
    return s && fnmatch(r->glob, s, 0) == 0;
}

long suppress_match(const suppressions_t *s, const frame_t *frames, size_t n)
{
    if (!s)
        return -1;
    for (size_t r = 0; r < s->nrules; r++)
        for (size_t i = 0; i < n; i++)
            if (matches(&s->rules[r], frames[i].function) || matches(&s->rules[r], frames[i].file) ||
                matches(&s->rules[r], frames[i].module))
                return (long)r;
    return -1;
}

void suppress_free(suppressions_t *s)
{
    for (size_t i = 0; i < s->nrules; i++) {
        free(s->rules[i].pattern);
        free(s->rules[i].glob);
    }
    free(s->rules);
    s->rules = NULL;
    s->nrules = 0;
}
