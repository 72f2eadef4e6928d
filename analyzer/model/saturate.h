/* Sums of bytes, blocks and handles that stop at SAT_MAX instead of wrapping: a crafted or corrupt
 * input may name sizes whose sum passes 2^64, and a wrapped sum would read as a small leak (a gate
 * passing on "0 bytes"). A saturated figure means "at least this much" and fails every limit.
 * SAT_MAX is 2^63 - 1, not 2^64 - 1, so that a JSON report stays readable by JSON parsers whose
 * integers are signed 64-bit (jansson, so imgleak gate and diff themselves). */
#ifndef IMGLEAK_SATURATE_H
#define IMGLEAK_SATURATE_H

#include <stdint.h>

#define SAT_MAX ((uint64_t)INT64_MAX)

static inline uint64_t sat_add(uint64_t a, uint64_t b)
{
    uint64_t sum;
    return __builtin_add_overflow(a, b, &sum) || sum > SAT_MAX ? SAT_MAX : sum;
}

/* *acc += v, saturating */
static inline void sat_inc(uint64_t *acc, uint64_t v)
{
    *acc = sat_add(*acc, v);
}

/* after - before as a signed change, clamped to ±INT64_MAX (so that its negation is defined) */
static inline int64_t sat_delta(uint64_t after, uint64_t before)
{
    if (after >= before)
        return after - before > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)(after - before);
    return before - after > (uint64_t)INT64_MAX ? -INT64_MAX : -(int64_t)(before - after);
}

/* A non-negative estimate rounded to the nearest count; SAT_MAX and beyond saturate, NaN is 0. */
static inline uint64_t sat_from_double(double v)
{
    if (!(v < 9223372036854775808.0))
        return v != v ? 0 : SAT_MAX;
    return v <= 0 ? 0 : (uint64_t)(v + 0.5); /* below 2^63 - 1024, + 0.5 stays below 2^63 */
}

#endif
