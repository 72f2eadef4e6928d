/* Whether glibc's malloc is the one in use (see glibc_heap.h). */
#define _GNU_SOURCE
#include "glibc_heap.h"

#include <dlfcn.h>

static int active;

void glibc_heap_detect(void (*real_free)(void *))
{
    void *libc_free = dlsym(RTLD_DEFAULT, "__libc_free");
    active = libc_free && (void *)real_free == libc_free;
}

int glibc_heap_active(void)
{
    return active;
}
