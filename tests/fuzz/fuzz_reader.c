/* libFuzzer target: the snapshot reader on any bytes. A file is either refused with an error
 * message or read whole; then everything a report would touch is walked (stacks by id, handle
 * names, module strings, leak roots), so a reader that let an inconsistency through shows up
 * under AddressSanitizer here rather than in the model. */
#include "error.h"
#include "reader.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static volatile size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    snapshot_t *snap = reader_parse("fuzz.snap", data, size);
    if (!snap) {
        const char *msg = error_get();
        if (!msg || !*msg || strchr(msg, '\n'))
            __builtin_trap(); /* refused without one line saying why */
        return 0;
    }
    size_t n = strlen(snap->exe);
    for (size_t i = 0; i < snap->nmodules; i++)
        n += strlen(snap->modules[i].path) + snap->modules[i].build_id_len;
    for (size_t i = 0; i < snap->nstacks; i++)
        for (unsigned k = 0; k < snap->stacks[i].depth; k++)
            n += (size_t)snap->stacks[i].frames[k];
    for (size_t i = 0; i < snap->nlive; i++) {
        const snap_live_t *l = &snap->live[i];
        if (l->stack_id && !snapshot_stack(snap, l->stack_id))
            __builtin_trap(); /* the reader promised every stack id resolves */
    }
    for (size_t i = 0; i < snap->nroots; i++) {
        if (snap->roots[i].live_index >= snap->nlive)
            __builtin_trap();
        n += snap->live[snap->roots[i].live_index].size + snap->roots[i].indirect_bytes;
    }
    for (size_t i = 0; i < snap->nhandles; i++) {
        const snap_name_t *t = snapshot_handle_type(snap, snap->handles[i].type);
        const snap_name_t *f = snapshot_handle_function(snap, snap->handles[i].function);
        n += (t ? strlen(t->name) : 0) + (f ? strlen(f->name) : 0);
    }
    sink = n;
    reader_free(snap);
    return 0;
}
