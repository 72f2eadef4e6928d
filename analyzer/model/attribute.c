/* Call-site attribution (see attribute.h). A module is a library when it lives in a system
 * library directory; the program's executable and anything outside those directories (a plugin
 * or an extension the user built) count as the application, and --app adds more. Interpreters
 * are runtimes (interp.h): their frames never are, and of an interpreted program's own frames
 * (Python functions) those of the user's files are. */
#define _GNU_SOURCE
#include "attribute.h"

#include "golang.h"
#include "interp.h"

#include <fnmatch.h>
#include <string.h>

static const char *const system_dirs[] = {"/lib/", "/lib32/", "/lib64/", "/usr/lib/",
                                          "/usr/lib32/", "/usr/lib64/", "/usr/libexec/"};
static const char *const system_sources[] = {"/usr/include/", "/usr/src/", "/usr/lib/gcc/"};

static int starts_with_any(const char *s, const char *const *prefixes, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

static int matches(const char *s, const attribute_opts_t *opts)
{
    if (!s || !opts)
        return 0;
    const char *base = strrchr(s, '/');
    base = base ? base + 1 : s;
    for (size_t i = 0; i < opts->napp; i++)
        if (fnmatch(opts->app_patterns[i], s, 0) == 0 || fnmatch(opts->app_patterns[i], base, 0) == 0)
            return 1;
    return 0;
}

int attribute_is_app(const frame_t *f, const attribute_opts_t *opts)
{
    if (f->script) /* a Python function: the user's unless it is the interpreter's library */
        return matches(f->file, opts) || (f->file && !interp_path_is_library(f->file));
    if (!f->module || (f->module_flags & IMGLEAK_MODULE_SHIM))
        return 0;
    if (matches(f->module, opts) || matches(f->file, opts))
        return 1;
    if (interp_module_is_runtime(f->module) || interp_path_is_library(f->module))
        return 0; /* python3.11, libnode, an extension module in site-packages or node_modules */
    if (golang_frame_is_runtime(f)) /* in the program's executable, but Go's, not the program's */
        return 0;
    if (starts_with_any(f->file, system_sources, sizeof system_sources / sizeof *system_sources))
        return 0;
    if (f->module_flags & IMGLEAK_MODULE_MAIN)
        return 1;
    if (strncmp(f->module, "linux-vdso", 10) == 0 || strstr(f->module, "/ld-linux"))
        return 0;
    return !starts_with_any(f->module, system_dirs, sizeof system_dirs / sizeof *system_dirs);
}

size_t attribute_site(const frame_t *frames, size_t n, const attribute_opts_t *opts)
{
    /* a native frame of the program first (its C code called the allocator), else the innermost
     * interpreted frame of the user's (the script line that called into a library) */
    for (size_t i = 0; i < n; i++)
        if (!frames[i].script && attribute_is_app(&frames[i], opts))
            return i;
    for (size_t i = 0; i < n; i++)
        if (frames[i].script && attribute_is_app(&frames[i], opts))
            return i;
    return 0;
}
