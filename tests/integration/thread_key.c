/* A block kept only through pthread_setspecific on the main thread, as glib's GPrivate keeps
 * its slice magazines (ImageMagick's convert, at start-up): glibc stores the value in the
 * thread's descriptor, which for the main thread the dynamic linker allocated. Still reachable,
 * as valgrind and LeakSanitizer say; never leaked. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_key_t key;

int main(void)
{
    if (pthread_key_create(&key, NULL) != 0)
        return 1;
    char *kept = malloc(100); /* REACHABLE(specific) */
    if (!kept)
        return 1;
    memset(kept, 1, 100);
    if (pthread_setspecific(key, kept) != 0)
        return 1;
    kept = NULL;
    return 0;
}
