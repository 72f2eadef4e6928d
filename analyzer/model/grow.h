/* Growing an array one element at a time in amortised constant time, without a capacity field:
 * the capacity is taken to be n rounded up to a power of two, so the array is reallocated to
 * twice its size only when n reaches one. Growing by one element per realloc copies the array
 * each time under AddressSanitizer (and often in libc), quadratic for inputs of many entries. */
#ifndef IMGLEAK_GROW_H
#define IMGLEAK_GROW_H

#include <stdint.h>
#include <stdlib.h>

/* Room for element n of *array (n elements of size elem in use). 0, or -1 when out of memory
 * (*array unchanged). */
static inline int grow_for(void *array, size_t n, size_t elem)
{
    void **p = array;
    if (*p && (n & (n - 1)) != 0)
        return 0; /* n is not a power of two: the last doubling left room */
    size_t cap = n ? 2 * n : 1;
    if (cap > SIZE_MAX / elem)
        return -1;
    void *grown = realloc(*p, cap * elem);
    if (!grown)
        return -1;
    *p = grown;
    return 0;
}

#endif
