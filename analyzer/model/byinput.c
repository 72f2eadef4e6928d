/* Inputs of entries and of the report (see byinput.h). Lists are short (the inputs one site
 * leaked on), so a linear search by name is enough; the report's list goes through slots.c. */
#include "byinput.h"

#include "error.h"
#include "model.h"
#include "saturate.h"

#include <stdlib.h>
#include <string.h>

int input_list_add(input_list_t *list, const char *name, uint64_t bytes, uint64_t blocks,
                   uint64_t handles)
{
    input_use_t *u = NULL;
    for (size_t i = 0; i < list->count && !u; i++)
        if (strcmp(list->uses[i].name, name) == 0)
            u = &list->uses[i];
    if (!u) {
        input_use_t *grown = realloc(list->uses, (list->count + 1) * sizeof *grown);
        if (!grown)
            return -1;
        list->uses = grown;
        u = &list->uses[list->count++];
        *u = (input_use_t){name, 0, 0, 0};
    }
    sat_inc(&u->bytes, bytes);
    sat_inc(&u->blocks, blocks);
    sat_inc(&u->handles, handles);
    return 0;
}

static int by_weight(const void *a, const void *b)
{
    const input_use_t *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    if (x->handles != y->handles)
        return x->handles > y->handles ? -1 : 1;
    if (x->blocks != y->blocks)
        return x->blocks > y->blocks ? -1 : 1;
    return strcmp(x->name, y->name);
}

void input_list_sort(input_list_t *list)
{
    if (list->count > 1)
        qsort(list->uses, list->count, sizeof *list->uses, by_weight);
}

void input_list_free(input_list_t *list)
{
    free(list->uses);
    list->uses = NULL;
    list->count = 0;
}

static int merge(input_list_t *into, const input_list_t *from, int handles_only)
{
    for (size_t i = 0; i < from->count; i++) {
        const input_use_t *u = &from->uses[i];
        if (input_list_add(into, u->name, handles_only ? 0 : u->bytes,
                           handles_only ? 0 : u->blocks, u->handles) < 0)
            return -1;
    }
    return 0;
}

int model_build_inputs(report_t *rep)
{
    for (size_t i = 0; i < rep->nsnaps; i++)
        rep->inputs_known |= rep->snaps[i]->has_inputs;
    for (size_t i = 0; i < rep->nprocesses; i++) {
        sat_inc(&rep->inputs_seen, rep->processes[i].snap->inputs_seen);
        sat_inc(&rep->inputs_unnamed, rep->processes[i].snap->inputs_unnamed);
    }
    for (size_t i = 0; i < rep->nsites; i++) {
        leak_site_t *s = &rep->sites[i];
        for (size_t k = 0; k < s->ngroups; k++)
            if (merge(&s->inputs, &s->groups[k]->inputs, 1) < 0)
                return error_set("out of memory"), -1;
        input_list_sort(&s->inputs);
        if (s->cls == IMGLEAK_CLASS_REACHABLE)
            continue; /* listed on request, never leaked */
        if (merge(&rep->inputs, &s->inputs, 0) < 0)
            return error_set("out of memory"), -1;
    }
    for (size_t i = 0; i < rep->nhandles; i++)
        input_list_sort(&rep->handles[i].inputs);
    input_list_sort(&rep->inputs);
    return 0;
}
