/* Go frames and memory in reports (see golang.h). Names as Go's DWARF gives them: package path,
 * dot, function (main.encode, image/png.Decode, runtime.cgocall); cgo's C side is plain C. */
#include "golang.h"

#include <string.h>

static int starts_with(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = s ? strlen(s) : 0, k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int golang_frame_is_glue(const frame_t *f)
{
    const char *fn = f->function;
    if (!fn)
        return 0;
    if (starts_with(fn, "_cgo_") && strstr(fn, "_Cfunc_"))
        return 1; /* the C stub: _cgo_6c78bd0561f5_Cfunc_WebPEncodeRGBA */
    if (strstr(fn, "._Cfunc_") || ends_with(f->file, "_cgo_gotypes.go"))
        return 1; /* the Go wrapper: main._Cfunc_WebPEncodeRGBA */
    return strcmp(fn, "runtime.asmcgocall") == 0 || strcmp(fn, "runtime.asmcgocall.abi0") == 0 ||
           strcmp(fn, "runtime.cgocall") == 0;
}

int golang_frame_is_runtime(const frame_t *f)
{
    const char *fn = f->function, *file = f->file;
    if (starts_with(fn, "runtime.") || starts_with(fn, "runtime/") || starts_with(fn, "x_cgo_") ||
        starts_with(fn, "_cgo_sys_thread") || starts_with(fn, "_cgo_try_pthread_create") ||
        starts_with(fn, "crosscall_amd64") || starts_with(fn, "crosscall2"))
        return 1;
    /* runtime/cgo's C files (the toolchain trims their paths to /_/runtime/cgo/) and the
     * standard library's sources under GOROOT */
    return file && (strstr(file, "/runtime/cgo/") || starts_with(file, "/usr/lib/go-") ||
                    starts_with(file, "/usr/lib/go/") || starts_with(file, "/usr/local/go/src/"));
}

int golang_stack_is_runtime(const frame_t *frames, size_t n)
{
    int runtime = 0;
    for (size_t i = 0; i < n; i++) {
        if (frames[i].app)
            return 0;
        runtime |= golang_frame_is_runtime(&frames[i]);
    }
    return runtime;
}
