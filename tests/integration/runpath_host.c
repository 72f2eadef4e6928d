/* What glibc resolves from the caller's return address must not change under the shim: a dlopen
 * of a bare name searches the caller's DT_RUNPATH ($ORIGIN/runpath), and dlsym(RTLD_NEXT) looks
 * after the caller. This program defines its own ReadImage; nothing after it defines one, nor
 * png_create_read_struct (libpng is not loaded). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

void *ReadImage(const void *info, void *exception);

void *ReadImage(const void *info, void *exception)
{
    (void)exception;
    return (void *)info;
}

int main(void)
{
    void *dep = dlopen("librunpath_dep.so", RTLD_NOW);
    const char *(*name)(void) = dep ? (const char *(*)(void))dlsym(dep, "runpath_dep_name") : NULL;
    printf("dlopen by bare name: %s\n", name ? name() : dlerror());
    const char *look[] = {"ReadImage", "png_create_read_struct", "DestroyImage", "WebPEncodeRGB"};
    for (unsigned i = 0; i < sizeof look / sizeof *look; i++)
        printf("dlsym(RTLD_NEXT, %s): %s\n", look[i], dlsym(RTLD_NEXT, look[i]) ? "found" : "absent");
    printf("dlsym(RTLD_NEXT, getpid) is libc's: %s\n",
           dlsym(RTLD_NEXT, "getpid") == (void *)getpid ? "yes" : "no");
    printf("ReadImage is the program's: %s\n", ReadImage("x", NULL) != NULL ? "yes" : "no");
    return 0;
}
