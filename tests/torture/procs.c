/* Process torture: a fork storm (children that fork again), fork+exec and posix_spawn of this
 * program, vfork+_exit, vfork+exec, a child ending in _exit and one killed by SIGKILL. Every
 * process writes its own final snapshot (exit() in the shim's destructor, _exit and SIGKILL by
 * its sentinel); a vfork child, which has no memory of its own, writes none; no partial file. Prints a summary that must be the same with and without the shim.
 *   procs          the storm
 *   procs leaf     what exec and spawn start: allocate a little and exit */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int wait_all(void)
{
    int status, bad = 0;
    while (wait(&status) > 0)
        bad += !(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
               !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    return bad;
}

static void work(int n)
{
    for (int i = 0; i < n; i++)
        free(malloc(64 + (size_t)i));
    void *keep = malloc(100);
    (void)keep;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "leaf") == 0) {
        work(100);
        return 0;
    }
    volatile int bad = 0; /* volatile: vfork shares this frame */
    for (int i = 0; i < 20; i++) { /* the storm: 20 children, each with one grandchild */
        pid_t p = fork();
        if (p == 0) {
            work(1000);
            pid_t g = fork();
            if (g == 0) {
                work(100);
                exit(0);
            }
            exit(wait_all());
        }
    }
    bad += wait_all();
    char *leaf[] = {argv[0], "leaf", NULL};
    if (fork() == 0) {
        execv(argv[0], leaf);
        _exit(127);
    }
    pid_t spawned;
    bad += posix_spawn(&spawned, argv[0], NULL, NULL, leaf, environ) != 0;
    pid_t v = vfork();
    if (v == 0)
        _exit(0);
    v = vfork();
    if (v == 0) {
        execv(argv[0], leaf);
        _exit(127);
    }
    if (fork() == 0) {
        work(10);
        _exit(0); /* its sentinel writes the snapshot */
    }
    pid_t victim = fork();
    if (victim == 0) {
        work(10);
        pause();
        _exit(1);
    }
    usleep(100000);
    kill(victim, SIGKILL);
    bad += wait_all();
    printf("procs: %d failed\n", bad);
    work(10);
    return bad != 0;
}
