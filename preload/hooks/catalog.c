/* The catalogue (see catalog.h): the C library's two types and twelve functions, then the
 * declared ones, under one numbering. */
#include "catalog.h"

#include "declared.h"
#include "imgleak/declfile.h"
#include <stddef.h>

static const catalog_type_t libc_types[DECL_LIBC_TYPES] = {
    [DECL_LIBC_FD] = {"fd", "libc", 0},
    [DECL_LIBC_FILE] = {"FILE", "libc", 0},
};

int catalog_load(void)
{
    return declared_load(DECL_LIBC_TYPES, DECL_LIBC_FUNCTIONS);
}

unsigned catalog_type_count(void)
{
    return DECL_LIBC_TYPES + declared_type_count();
}

const catalog_type_t *catalog_type(unsigned id)
{
    return id < DECL_LIBC_TYPES ? &libc_types[id] : declared_type(id - DECL_LIBC_TYPES);
}

unsigned catalog_function_count(void)
{
    return DECL_LIBC_FUNCTIONS + declared_function_count();
}

const char *catalog_function_name(unsigned id)
{
    return id < DECL_LIBC_FUNCTIONS ? decl_libc_function_names[id]
                                    : declared_function_name(id - DECL_LIBC_FUNCTIONS);
}

int catalog_function_in_library(unsigned fn, const char *path)
{
    return fn >= DECL_LIBC_FUNCTIONS && declared_function_in_library(fn - DECL_LIBC_FUNCTIONS, path);
}

void *catalog_hook(unsigned fn)
{
    return fn < DECL_LIBC_FUNCTIONS ? NULL : declared_hook(fn - DECL_LIBC_FUNCTIONS);
}

void *catalog_real(unsigned fn)
{
    return fn < DECL_LIBC_FUNCTIONS ? NULL : declared_real(fn - DECL_LIBC_FUNCTIONS);
}

void catalog_set_real(unsigned fn, void *address)
{
    if (fn >= DECL_LIBC_FUNCTIONS)
        declared_set_real(fn - DECL_LIBC_FUNCTIONS, address);
}
