/* Sorting live records by address in place (see table.h): the exit scan sorts every live block,
 * and a scratch copy of them (the radix sort it used before) cost 16 bytes a block at the scan's
 * peak. This is an MSD radix sort that permutes within the array (McIlroy, Bostic and McIlroy's
 * "American flag sort"), from the highest bit in which the addresses differ, 11 bits a digit for
 * large buckets (their first pass leaves buckets that fit the cache) and 8 for smaller ones, and
 * insertion sort for small buckets. Its only scratch is the caller's (TABLE_SORT_SCRATCH words);
 * it never calls the allocator. */
#include "table.h"

#include <string.h>

#define WIDE_BITS 11        /* 2048 buckets: their write positions stay in the cache */
#define WIDE_FROM (1u << 16) /* records in a bucket to take WIDE_BITS at once */
#define NARROW_BITS 8
#define SMALL 24 /* buckets this small: insertion sort */

static inline uint64_t addr_of(const table_rec_t *r)
{
    return r->key & TABLE_ADDR_MASK;
}

static void insertion_sort(table_rec_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        table_rec_t x = a[i];
        uint64_t k = addr_of(&x);
        size_t j = i;
        while (j > 0 && addr_of(&a[j - 1]) > k) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

/* Sorts a by the address bits below top (exclusive); counts: 2 << WIDE_BITS words for this level
 * and as many for each level below. */
static void flag_sort(table_rec_t *a, size_t n, int top, uint32_t *counts)
{
    if (n <= SMALL) {
        insertion_sort(a, n);
        return;
    }
    int bits = n >= WIDE_FROM ? WIDE_BITS : NARROW_BITS;
    if (bits > top)
        bits = top;
    int shift = top - bits;
    unsigned digits = 1u << bits, mask = digits - 1;
    uint32_t *next = counts, *end = counts + digits;
    memset(next, 0, digits * sizeof *next);
    for (size_t i = 0; i < n; i++)
        next[(addr_of(&a[i]) >> shift) & mask]++;
    uint32_t sum = 0;
    for (unsigned d = 0; d < digits; d++) {
        uint32_t c = next[d];
        next[d] = sum;
        sum += c;
        end[d] = sum;
    }
    /* each record goes straight to its bucket's next free place; what was there moves on */
    for (unsigned d = 0; d < digits; d++) {
        while (next[d] < end[d]) {
            table_rec_t x = a[next[d]];
            unsigned xd = (unsigned)(addr_of(&x) >> shift) & mask;
            while (xd != d) {
                table_rec_t y = a[next[xd]];
                /* this bucket's next visit reads the record after: on its way by then (each
                 * bucket's place moves forward, too many of them for the hardware to follow) */
                __builtin_prefetch(&a[next[xd] + 4], 1);
                a[next[xd]++] = x;
                x = y;
                xd = (unsigned)(addr_of(&x) >> shift) & mask;
            }
            a[next[d]++] = x;
        }
    }
    if (shift == 0)
        return;
    uint32_t start = 0;
    for (unsigned d = 0; d < digits; d++) {
        uint32_t stop = end[d];
        if (stop - start > 1)
            flag_sort(a + start, stop - start, shift, counts + (2u << WIDE_BITS));
        start = stop;
    }
}

void table_sort_records(table_rec_t *recs, size_t n, uint32_t *scratch)
{
    if (n < 2)
        return;
    uint64_t differ = 0, first = addr_of(&recs[0]);
    for (size_t i = 1; i < n; i++)
        differ |= addr_of(&recs[i]) ^ first;
    if (!differ)
        return;
    flag_sort(recs, n, 64 - __builtin_clzll(differ), scratch);
}
