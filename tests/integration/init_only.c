/* Programs that only start a library and stop it, as real programs do around their work. Their
 * one-time allocations (registries, caches, configuration) must not read as the program's leaks.
 *   init_only magick      MagickWandGenesis, a wand made and destroyed, MagickWandTerminus
 *   init_only cairo       an image surface and a context, destroyed
 *   init_only fontconfig  FcInit and a font list, destroyed, without FcFini (as most do) */
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <string.h>
#include <wand/MagickWand.h>

static int magick(void)
{
    MagickWandGenesis();
    MagickWand *w = NewMagickWand();
    PixelWand *background = NewPixelWand();
    int ok = MagickNewImage(w, 8, 8, background) == MagickTrue;
    DestroyPixelWand(background);
    DestroyMagickWand(w);
    MagickWandTerminus();
    return ok ? 0 : 1;
}

static int cairo(void)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 64, 64);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 0, 0);
    cairo_paint(cr);
    int ok = cairo_status(cr) == CAIRO_STATUS_SUCCESS;
    cairo_destroy(cr);
    cairo_surface_destroy(s);
    return ok ? 0 : 1;
}

static int fontconfig(void)
{
    if (!FcInit())
        return 1;
    FcPattern *pat = FcPatternCreate();
    FcObjectSet *os = FcObjectSetBuild(FC_FAMILY, (char *)0);
    FcFontSet *fs = FcFontList(NULL, pat, os);
    if (fs)
        FcFontSetDestroy(fs);
    FcObjectSetDestroy(os);
    FcPatternDestroy(pat);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "magick") == 0)
        return magick();
    if (argc == 2 && strcmp(argv[1], "cairo") == 0)
        return cairo();
    if (argc == 2 && strcmp(argv[1], "fontconfig") == 0)
        return fontconfig();
    return 2;
}
