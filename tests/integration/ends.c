/* Ends a process in the way argv[1] names, after leaking one block at a known line, so that the
 * final snapshot can be checked for each end (tests/integration/final.sh). Also the cases the
 * sentinel must not disturb: a wait() for children, a pipe's EOF, an exec. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void *volatile sink;

__attribute__((noinline)) static void leak_once(void)
{
    sink = malloc(4321); /* LEAK(ends) */
    sink = NULL;
}

/* a child that counts on its pipe's EOF: the sentinels must not hold the write end open */
static int pipe_eof(void)
{
    int fds[2];
    if (pipe(fds) < 0)
        return 1;
    pid_t child = fork();
    if (child == 0) {
        close(fds[1]);
        char buf[64];
        while (read(fds[0], buf, sizeof buf) > 0)
            ;
        _exit(0);
    }
    close(fds[0]);
    if (write(fds[1], "x", 1) != 1)
        return 1;
    close(fds[1]);
    int status;
    return waitpid(child, &status, 0) == child && WIFEXITED(status) ? 0 : 1;
}

/* wait() until no child is left: a sentinel must never be one it waits for */
static int wait_all(void)
{
    if (fork() == 0)
        _exit(0);
    while (wait(NULL) > 0)
        ;
    return 0;
}

int main(int argc, char **argv)
{
    const char *how = argc > 1 ? argv[1] : "return";
    leak_once();
    if (!strcmp(how, "exit"))
        exit(4);
    if (!strcmp(how, "_exit"))
        _exit(3);
    if (!strcmp(how, "quick_exit"))
        quick_exit(5);
    if (!strcmp(how, "kill"))
        raise(SIGKILL);
    if (!strcmp(how, "term"))
        raise(SIGTERM);
    if (!strcmp(how, "abort"))
        abort();
    if (!strcmp(how, "segv"))
        *(volatile int *)(uintptr_t)8 = 1;
    if (!strcmp(how, "pipe"))
        return pipe_eof();
    if (!strcmp(how, "wait"))
        return wait_all();
    if (!strcmp(how, "exec")) /* the image before the exec leaves no snapshot of its own */
        execl(argv[0], argv[0], "return", (char *)NULL);
    if (!strcmp(how, "execfail")) { /* a failed exec: the program, and its sentinel, go on */
        execl("/nonexistent/imgleak-test", "x", (char *)NULL);
        _exit(7);
    }
    return 0;
}
