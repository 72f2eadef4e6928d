/* Interning strings (see strtab.h). */
#include "strtab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211u;
    return h;
}

static int grow(strtab_t *t)
{
    size_t n = t->nslots ? t->nslots * 2 : 1024;
    size_t *slots = calloc(n, sizeof *slots);
    char **strings = realloc(t->strings, n / 2 * sizeof *strings);
    if (!slots || !strings) {
        free(slots);
        if (strings)
            t->strings = strings;
        return -1;
    }
    t->strings = strings;
    for (size_t id = 1; id <= t->count; id++) {
        size_t j = hash(t->strings[id - 1]) & (n - 1);
        while (slots[j])
            j = (j + 1) & (n - 1);
        slots[j] = id;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
    return 0;
}

size_t strtab_id(strtab_t *t, const char *s, int *fresh)
{
    if ((t->count + 1) * 2 > t->nslots && grow(t) < 0)
        return 0;
    size_t j = hash(s) & (t->nslots - 1);
    for (; t->slots[j]; j = (j + 1) & (t->nslots - 1))
        if (strcmp(t->strings[t->slots[j] - 1], s) == 0) {
            *fresh = 0;
            return t->slots[j];
        }
    char *copy = strdup(s);
    if (!copy)
        return 0;
    t->strings[t->count++] = copy;
    t->slots[j] = t->count;
    *fresh = 1;
    return t->count;
}

const char *strtab_get(const strtab_t *t, size_t id)
{
    return id >= 1 && id <= t->count ? t->strings[id - 1] : NULL;
}

void strtab_free(strtab_t *t)
{
    for (size_t i = 0; i < t->count; i++)
        free(t->strings[i]);
    free(t->strings);
    free(t->slots);
    memset(t, 0, sizeof *t);
}
