/* An image decoder's leak in an optimized build: decode_rows() (static, one caller: inlined at
 * -O2) keeps rows from alloc_row() and xmalloc() (inline helpers), and loses them. Built at -O2,
 * -O3, with clang and with LTO by inline.sh, which checks the whole chain of inlined frames. */
#include "inline_helpers.h"

#include <stdio.h>

static unsigned decode_rows(unsigned char **rows, int height, int width)
{
    unsigned sum = 0;
    for (int y = 0; y < height; y++) {
        rows[y] = alloc_row((size_t)width); /* INL(decode_rows) */
        sum += rows[y][0];
    }
    return sum;
}

__attribute__((noinline)) static unsigned read_image(int height, int width)
{
    unsigned char **rows = malloc(sizeof *rows * (size_t)height);
    if (!rows)
        return 0;
    unsigned sum = decode_rows(rows, height, width); /* INL(read_image) */
    free(rows); /* the rows themselves are forgotten: the leak */
    return sum + 1;
}

int main(void)
{
    unsigned sum = read_image(6, 100); /* INL(main) */
    printf("%u\n", sum);
    return 0;
}
