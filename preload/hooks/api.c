/* The program API (include/imgleak.h): the calling thread's input tag, and a snapshot on demand.
 * Exported under these names only; a program calls them through weak references, so it runs
 * unchanged without the shim. */
#include "imgleak.h"

#include "guard.h"
#include "inputs.h"
#include "shim_api.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT void imgleak_set_tag(const char *tag)
{
    imgleak_guard.depth++; /* the table of inputs may map memory of its own */
    inputs_set_tag(tag);
    imgleak_guard.depth--;
}

EXPORT int imgleak_snapshot(void)
{
    return shim_snapshot_now();
}
