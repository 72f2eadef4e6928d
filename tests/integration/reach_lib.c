/* A library with a static that keeps a block reachable (reach.c). */
static void *volatile kept; /* volatile: the store must stay, though nothing reads it */

void lib_keep(void *p)
{
    kept = p;
}
