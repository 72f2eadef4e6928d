/* A host that loads libuserbuf with dlopen after start and calls it through dlsym, as a plugin
 * loader or ctypes does: its declared handles (workloads/userbuf/userbuf.handles) are tracked
 * like those of a library linked at start. Makes 3 buffers, frees 1 and keeps 2. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    void *lib = dlopen(argv[1], RTLD_NOW);
    if (!lib) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    void *(*buf_new)(size_t) = (void *(*)(size_t))dlsym(lib, "buf_new");
    void (*buf_free)(void *) = (void (*)(void *))dlsym(lib, "buf_free");
    size_t (*buf_size)(const void *) = (size_t(*)(const void *))dlsym(lib, "buf_size");
    if (!buf_new || !buf_free || !buf_size)
        return 1;
    static void *kept[2];
    void *gone = buf_new(10);
    kept[0] = buf_new(20);
    kept[1] = buf_new(30);
    printf("%zu\n", buf_size(gone) + buf_size(kept[0]) + buf_size(kept[1]));
    buf_free(gone);
    kept[0] = kept[1] = NULL; /* leaked */
    return 0;
}
