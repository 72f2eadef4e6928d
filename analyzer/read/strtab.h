/* Interning strings: each distinct string gets the next id (1, 2, ...), for writers that refer
 * to names by number (pprof's string, function and location tables; the HTML flame graph's
 * frame list). */
#ifndef IMGLEAK_STRTAB_H
#define IMGLEAK_STRTAB_H

#include <stddef.h>

typedef struct {
    char **strings; /* by id - 1 */
    size_t count;
    size_t *slots; /* open addressing over strings; 0 = empty, else id */
    size_t nslots;
} strtab_t;

/* The id of s (copied when new); *fresh says whether it was new. 0 when out of memory. */
size_t strtab_id(strtab_t *t, const char *s, int *fresh);
const char *strtab_get(const strtab_t *t, size_t id);
void strtab_free(strtab_t *t);

#endif
