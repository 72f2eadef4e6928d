/* A library the dlopen test loads, leaks from, and unloads before exit. */
#include <stdlib.h>

void *plugin_make_cache(void);

void *plugin_make_cache(void)
{
    return malloc(333); /* LEAK(plugin) */
}
