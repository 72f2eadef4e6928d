/* Loads a plugin with dlopen, keeps the block it allocates, and dlcloses the plugin before exit:
 * the report must still name the plugin's function, although its code is gone by then. */
#include <dlfcn.h>
#include <stdio.h>

void *kept;

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    void *lib = dlopen(argv[1], RTLD_NOW);
    if (!lib) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    void *(*make)(void) = (void *(*)(void))dlsym(lib, "plugin_make_cache");
    kept = make();
    return dlclose(lib) == 0 ? 0 : 1;
}
