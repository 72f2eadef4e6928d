/* The protocol-buffers encoder (see pbuf.h). */
#include "pbuf.h"

#include <stdlib.h>
#include <string.h>

static void put(pbuf_t *b, const void *data, size_t len)
{
    if (b->failed)
        return;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len)
            cap *= 2;
        unsigned char *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void pbuf_varint(pbuf_t *b, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    put(b, tmp, n);
}

void pbuf_uint(pbuf_t *b, unsigned field, uint64_t v)
{
    if (!v)
        return;
    pbuf_varint(b, (uint64_t)field << 3);
    pbuf_varint(b, v);
}

void pbuf_bytes(pbuf_t *b, unsigned field, const void *data, size_t len)
{
    pbuf_varint(b, (uint64_t)field << 3 | 2);
    pbuf_varint(b, len);
    put(b, data, len);
}

void pbuf_string(pbuf_t *b, unsigned field, const char *s)
{
    pbuf_bytes(b, field, s, strlen(s));
}

void pbuf_packed(pbuf_t *b, unsigned field, const uint64_t *v, size_t n)
{
    pbuf_t inner = {0};
    for (size_t i = 0; i < n; i++)
        pbuf_varint(&inner, v[i]);
    if (inner.failed)
        b->failed = 1;
    else if (n)
        pbuf_bytes(b, field, inner.data, inner.len);
    pbuf_free(&inner);
}

void pbuf_free(pbuf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
