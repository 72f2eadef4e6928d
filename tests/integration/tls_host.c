/* Loads tls_plugin.so and calls it from the main thread and from threads that are still
 * running, and some that have ended, at exit: their dynamic TLS blocks and DTVs are not leaks. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static int (*work)(int);
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static int ready;

static void *run(void *arg)
{
    work((int)(long)arg);
    pthread_mutex_lock(&lock);
    ready++;
    pthread_cond_signal(&done);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void *run_forever(void *arg)
{
    run(arg);
    for (;;)
        pause();
    return NULL;
}

int main(int argc, char **argv)
{
    void *h = dlopen(argc > 1 ? argv[1] : "./tls_plugin.so", RTLD_NOW);
    if (!h || !(work = (int (*)(int))dlsym(h, "plugin_work"))) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    work(1);
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, i < 2 ? run : run_forever, (void *)(i + 2));
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    pthread_mutex_lock(&lock);
    while (ready < 4)
        pthread_cond_wait(&done, &lock);
    pthread_mutex_unlock(&lock);
    puts("tls done");
    return 0;
}
