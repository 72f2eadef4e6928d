/* imgleak run --handles FILE (see run.h): the declarations are checked before the program starts,
 * with the shim's own parser (preload/catalog/declfile.c) over the built-in declarations and then
 * FILE, so that a mistake is said once, with its line, and nothing runs half-tracked. */
#define _GNU_SOURCE
#include "run.h"

#include "imgleak/declfile.h"
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILE_BYTES_MAX (1u << 20) /* as the shim reads it (declared.c) */

static char *read_all(const char *file, size_t *len)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return error_set("%s: %s", file, strerror(errno)), NULL;
    char *text = malloc(FILE_BYTES_MAX + 1);
    size_t n = text ? fread(text, 1, FILE_BYTES_MAX + 1, f) : 0;
    int bad = !text || ferror(f) || n > FILE_BYTES_MAX;
    fclose(f);
    if (bad) {
        free(text);
        return error_set("%s: cannot read it as handle declarations (at most 1 MiB)", file), NULL;
    }
    *len = n;
    return text;
}

int run_check_handles(const char *file, char *out, size_t size)
{
    decl_set_t *set = calloc(1, sizeof *set);
    decl_error_t err;
    size_t len = 0;
    char *text = NULL;
    int rc = -1;
    memset(&err, 0, sizeof err);
    if (!set)
        return error_set("out of memory"), -1;
    const char *builtin = NULL;
    if (decl_parse_builtin(set, &err, &builtin) < 0) {
        error_set("(built-in %s):%u: %s", builtin, err.line, err.message);
    } else if ((text = read_all(file, &len)) != NULL) {
        char *real = NULL;
        if (decl_parse(set, text, len, &err) < 0)
            error_set("%s:%u: %s", file, err.line, err.message);
        else if (!(real = realpath(file, NULL)) || strlen(real) >= size)
            error_set("%s: %s", file, real ? "path too long" : strerror(errno));
        else {
            memcpy(out, real, strlen(real) + 1);
            rc = 0;
        }
        free(real);
    }
    free(text);
    free(set);
    return rc;
}
