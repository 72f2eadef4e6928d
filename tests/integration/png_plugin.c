/* A plugin that uses libpng, loaded late with dlopen(RTLD_LOCAL) by plugin_host: libpng is its
 * dependency, so it arrives with the plugin and is not in the global scope. */
#include <png.h>

void *plugin_start_reader(void);
void plugin_abandon_reader(void);

void *plugin_start_reader(void)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_destroy_read_struct(&png, &info, NULL);
    return png;
}

static png_structp abandoned;

void plugin_abandon_reader(void)
{
    abandoned = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL); /* LEAK(late) */
}
