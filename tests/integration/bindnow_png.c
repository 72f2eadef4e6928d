/* libpng reached through references bound before the shim's constructor runs: linked with
 * -z now and -fno-plt (every call goes through a GOT slot filled at load), and through a function
 * pointer in a table (a data relocation). Both leaks must be counted as png handles. */
#include <png.h>
#include <stdio.h>

typedef png_structp (*create_fn)(png_const_charp, png_voidp, png_error_ptr, png_error_ptr);
static const struct {
    const char *name;
    create_fn create;
} creators[] = {{"read", png_create_read_struct}, {"write", png_create_write_struct}};

int main(void)
{
    png_structp direct = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL); /* LEAK(got) */
    png_structp table = creators[1].create(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL); /* LEAK(table) */
    png_structp freed = creators[0].create(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_destroy_read_struct(&freed, NULL, NULL);
    printf("direct %s, from the table %s, freed %s\n", direct ? "made" : "failed",
           table ? "made" : "failed", freed ? "not destroyed" : "destroyed");
    return 0;
}
