/* The one catalogue of handle types and hooked functions: the C library's descriptors and
 * streams first (types "fd" and "FILE", interposed by name in fds.c: declfile.h's DECL_LIBC_*
 * ids), then every declared one (declared.c: the built-in codecs.handles and builtin.handles, then
 * the file IMGLEAK_HANDLES names). The snapshot names types and functions by these ids; bind.c
 * binds the declared functions to their libraries. */
#ifndef IMGLEAK_CATALOG_H
#define IMGLEAK_CATALOG_H

#include <stdint.h>

typedef struct {
    const char *name;
    const char *library; /* as reports name it: "libjpeg", "MagickWand", "libc" */
    unsigned flags;      /* IMGLEAK_HTYPE_* */
} catalog_type_t;

/* Reads the declarations, once at start, before anything is bound; -1 when one is refused (said
 * on stderr). */
int catalog_load(void);
unsigned catalog_type_count(void);
const catalog_type_t *catalog_type(unsigned id);
unsigned catalog_function_count(void);
const char *catalog_function_name(unsigned id);

/* 1 when the object at path is a library that defines function fn (its lib=). */
int catalog_function_in_library(unsigned fn, const char *path);
/* The hook of fn (a declared function's trampoline; NULL for the C library's, interposed by
 * name). */
void *catalog_hook(unsigned fn);
/* The real fn its hook calls: that of the library instance bound now, or NULL. */
void *catalog_real(unsigned fn);
void catalog_set_real(unsigned fn, void *address);

#endif
