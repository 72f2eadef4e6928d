/* Allocates and touches memory until the OOM killer ends it (tests/integration/final.sh runs it
 * in a memory cgroup with a small limit), at a pace a service would: a MiB every 3 ms, so that
 * timed snapshots see it grow before the end. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    for (;;) {
        char *p = malloc(1 << 20); /* LEAK(hog) */
        if (!p)
            return 1;
        memset(p, 1, 1 << 20);
        usleep(3000);
    }
}
