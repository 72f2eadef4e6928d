/* An application library whose functions happen to bear ImageMagick's names, with signatures of
 * its own: ReadImage returns a struct in memory (so its arguments move up a register), and
 * DestroyImage takes three. Nothing of the codec hooks may come between it and its callers. */
typedef struct {
    long width, height, frames;
} image_size_t;

image_size_t ReadImage(const char *spec, int height);
int DestroyImage(const char *what, int times, long salt);

image_size_t ReadImage(const char *spec, int height)
{
    image_size_t size = {0, height, 1};
    for (; *spec >= '0' && *spec <= '9'; spec++)
        size.width = size.width * 10 + (*spec - '0');
    return size;
}

int DestroyImage(const char *what, int times, long salt)
{
    return (int)((what[0] * times + salt) % 1000);
}
