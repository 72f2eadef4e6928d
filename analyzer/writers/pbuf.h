/* A minimal protocol-buffers encoder, enough to write pprof's profile.proto: varints, 64-bit
 * integers, strings and nested messages, appended to a growing buffer. Written by hand rather than
 * generated with protobuf-c: imgleak only writes one small, frozen schema, and a generator in the
 * build (protoc-c, its .proto and generated sources) would outweigh these fifty lines. */
#ifndef IMGLEAK_PBUF_H
#define IMGLEAK_PBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    unsigned char *data;
    size_t len, cap;
    int failed; /* out of memory: later appends do nothing */
} pbuf_t;

void pbuf_varint(pbuf_t *b, uint64_t v);
/* field with wire type 0 (varint); skipped when v is 0, as proto3 does */
void pbuf_uint(pbuf_t *b, unsigned field, uint64_t v);
/* field with wire type 2: bytes, a string, or a nested message already encoded */
void pbuf_bytes(pbuf_t *b, unsigned field, const void *data, size_t len);
void pbuf_string(pbuf_t *b, unsigned field, const char *s);
/* packed repeated varints */
void pbuf_packed(pbuf_t *b, unsigned field, const uint64_t *v, size_t n);
void pbuf_free(pbuf_t *b);

#endif
