/* A plugin with thread-local variables: glibc gives a dlopen'ed module's TLS a block of its own,
 * allocated with malloc by the dynamic linker on first use in each thread, reached only through
 * the thread's DTV. None of it is a leak (reach.sh). */
#include <string.h>

static __thread char scratch[2048];
static __thread int uses;

int plugin_work(int n)
{
    memset(scratch, n, sizeof scratch);
    uses += n;
    return scratch[7] + uses;
}
