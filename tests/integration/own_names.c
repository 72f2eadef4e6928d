/* Calls an application library's own ReadImage and DestroyImage (own_names_lib.c): its output
 * must be the same with and without the shim, which hooks MagickCore's functions of those names. */
#include <stdio.h>

typedef struct {
    long width, height, frames;
} image_size_t;

image_size_t ReadImage(const char *spec, int height);
int DestroyImage(const char *what, int times, long salt);

int main(void)
{
    for (int i = 0; i < 3; i++) {
        image_size_t size = ReadImage("640", 480);
        printf("%ldx%ld, %ld frame(s); destroyed %d\n", size.width, size.height, size.frames,
               DestroyImage("image", 7, 1000 + i));
    }
    return 0;
}
