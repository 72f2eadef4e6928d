/* Loads and unloads png_plugin.so round after round, as an image server's plugin loader may:
 * libpng arrives with the plugin and leaves with it each time, at a new place or the same. Each
 * round makes and destroys a reader and abandons one. Exit 3 when libpng stayed loaded after a
 * round, which would make the test prove nothing. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_libpng(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size, (void)data;
    return strstr(info->dlpi_name, "/libpng") != NULL;
}

int main(int argc, char **argv)
{
    int rounds = argc > 2 ? atoi(argv[2]) : 100, made = 0, unloaded = 0;
    if (argc < 2)
        return 2;
    for (int i = 0; i < rounds; i++) {
        void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            fprintf(stderr, "%s\n", dlerror());
            return 1;
        }
        void *(*start)(void) = (void *(*)(void))dlsym(lib, "plugin_start_reader");
        void (*abandon)(void) = (void (*)(void))dlsym(lib, "plugin_abandon_reader");
        made += start() == NULL; /* it returns the reader it destroyed: NULL */
        abandon();
        dlclose(lib);
        unloaded += !dl_iterate_phdr(is_libpng, NULL);
    }
    printf("%d rounds, %d readers made and destroyed, libpng unloaded after %d\n", rounds, made, unloaded);
    return unloaded == rounds ? 0 : 3;
}
