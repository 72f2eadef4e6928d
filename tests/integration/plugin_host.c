/* Loads a plugin with dlopen(RTLD_LOCAL) after start-up and calls into it: the codec library the
 * plugin brings must still be hooked. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    void *(*start)(void) = (void *(*)(void))dlsym(lib, "plugin_start_reader");
    void (*abandon)(void) = (void (*)(void))dlsym(lib, "plugin_abandon_reader");
    start();
    abandon();
    return 0; /* not dlclose'd: the plugin's frames stay symbolizable either way */
}
