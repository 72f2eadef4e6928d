/* CI annotations of the gate's lines: GitHub Actions workflow commands ("::error file=...") and
 * GitLab's Code Quality report (a JSON array of issues), each with the source path relative to the
 * repository root, which is where the pull or merge request's diff puts the line. */
#ifndef IMGLEAK_ANNOTATE_H
#define IMGLEAK_ANNOTATE_H

#include <stddef.h>
#include <stdio.h>

/* The repository root: dir when given (--annotations-root), else the git top-level of the
 * current directory, else the current directory; resolved to an absolute path. 0, or -1 with
 * error_get(). */
int annotate_find_root(const char *dir, char *out, size_t size);
/* file (as the debug info names it: absolute, or relative to the directory it was compiled in,
 * taken as the current directory) relative to root when it is inside root; as it is otherwise. */
void annotate_relative_path(const char *root, const char *file, char *out, size_t size);
/* "::error file=PATH,line=N,title=imgleak::MESSAGE", escaped as workflow commands require. */
void annotate_github(FILE *out, const char *path, unsigned line, const char *message);

/* The Code Quality report: issues are added one by one, then written as one JSON array. */
typedef struct {
    FILE *out;
    size_t count;
} annotate_gitlab_t;

int annotate_gitlab_open(annotate_gitlab_t *g, const char *path);
/* key: what identifies the issue across runs (the gate's site key), hashed into its fingerprint */
void annotate_gitlab_add(annotate_gitlab_t *g, const char *path, unsigned line,
                         const char *message, const char *key);
/* 0, or -1 with error_get() naming path. */
int annotate_gitlab_close(annotate_gitlab_t *g, const char *path);

#endif
