/* The codec hooks declared in codecs.def: their type and function names for the snapshot. */
#ifndef IMGLEAK_CODECS_H
#define IMGLEAK_CODECS_H

#include <stdint.h>

typedef struct {
    const char *name;
    const char *library;
    unsigned flags; /* IMGLEAK_HTYPE_* */
} codec_type_info_t;

unsigned codecs_type_count(void);
const codec_type_info_t *codecs_type(unsigned id);
unsigned codecs_function_count(void);
const char *codecs_function_name(unsigned id);

#endif
