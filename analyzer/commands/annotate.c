/* CI annotations (see annotate.h). */
#define _GNU_SOURCE
#include "annotate.h"

#include "error.h"
#include "report.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* `git rev-parse --show-toplevel` of the current directory, or "" when not in a repository (or
 * without git). */
static void git_toplevel(char *out, size_t size)
{
    out[0] = '\0';
    FILE *p = popen("git rev-parse --show-toplevel 2>/dev/null", "r");
    if (!p)
        return;
    if (!fgets(out, (int)size, p))
        out[0] = '\0';
    if (pclose(p) != 0)
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
}

int annotate_find_root(const char *dir, char *out, size_t size)
{
    char found[PATH_MAX];
    if (dir)
        snprintf(found, sizeof found, "%s", dir);
    else
        git_toplevel(found, sizeof found);
    if (!found[0])
        snprintf(found, sizeof found, ".");
    char resolved[PATH_MAX];
    if (!realpath(found, resolved))
        return error_set("%s: annotations root: %s", found, strerror(errno)), -1;
    snprintf(out, size, "%s", resolved);
    return 0;
}

/* path without root's prefix when path is inside root, else NULL */
static const char *inside(const char *root, const char *path)
{
    size_t len = strlen(root);
    if (strcmp(root, "/") == 0)
        return path + 1;
    if (strncmp(path, root, len) == 0 && path[len] == '/')
        return path + len + 1;
    return NULL;
}

void annotate_relative_path(const char *root, const char *file, char *out, size_t size)
{
    char resolved[PATH_MAX];
    const char *rel = NULL;
    /* the file as it is now (symbolic links resolved, as the root is), else as written */
    if (realpath(file, resolved))
        rel = inside(root, resolved);
    if (!rel && file[0] == '/')
        rel = inside(root, file);
    snprintf(out, size, "%s", rel ? rel : file);
}

/* Workflow command escaping: data escapes % CR LF; a property also : and , */
static void put_escaped(FILE *out, const char *s, int property)
{
    for (; *s; s++) {
        switch (*s) {
        case '%': fputs("%25", out); break;
        case '\r': fputs("%0D", out); break;
        case '\n': fputs("%0A", out); break;
        case ':': property ? fputs("%3A", out) : fputc(':', out); break;
        case ',': property ? fputs("%2C", out) : fputc(',', out); break;
        default: fputc(*s, out);
        }
    }
}

void annotate_github(FILE *out, const char *path, unsigned line, const char *message)
{
    fputs("::error file=", out);
    put_escaped(out, path, 1);
    fprintf(out, ",line=%u,title=imgleak::", line ? line : 1);
    put_escaped(out, message, 0);
    fputc('\n', out);
}

int annotate_gitlab_open(annotate_gitlab_t *g, const char *path)
{
    g->count = 0;
    g->out = fopen(path, "w");
    if (!g->out)
        return error_set("%s: cannot write: %s", path, strerror(errno)), -1;
    fputc('[', g->out);
    return 0;
}

/* FNV-1a, 64 bits: a fingerprint that stays the same while the key does */
static uint64_t fingerprint(const char *key)
{
    uint64_t h = 14695981039346656037ull;
    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 1099511628211ull;
    return h;
}

void annotate_gitlab_add(annotate_gitlab_t *g, const char *path, unsigned line,
                         const char *message, const char *key)
{
    FILE *out = g->out;
    fputs(g->count++ ? ",\n" : "\n", out);
    fputs("{\"description\":", out);
    report_json_string(out, message, 0);
    fprintf(out, ",\"check_name\":\"imgleak\",\"fingerprint\":\"%016llx\",\"severity\":\"major\","
                 "\"location\":{\"path\":",
            (unsigned long long)fingerprint(key));
    report_json_string(out, path, 0);
    fprintf(out, ",\"lines\":{\"begin\":%u}}}", line ? line : 1);
}

int annotate_gitlab_close(annotate_gitlab_t *g, const char *path)
{
    fputs("\n]\n", g->out);
    int failed = ferror(g->out);
    if (fclose(g->out) != 0 || failed)
        return error_set("%s: write error", path), -1;
    return 0;
}
