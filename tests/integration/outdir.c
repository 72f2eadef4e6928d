/* Where snapshots go when the program moves or the directory is not there.
 *   chdir DIR  leaks a block, moves to DIR and exits: the exit snapshot must still go where
 *              IMGLEAK_OUT named at start (relative to the start directory)
 *   late DIR   asks for a snapshot (SIGUSR2) while DIR cannot be written, waits for the shim's
 *              line on stderr saying so and prints it on stdout, gives stderr back, then tries
 *              to create DIR and exits: the exit snapshot in DIR (if it could be made) counts the
 *              one lost, and a second failure must not be said again
 *   wait SECONDS  leaks a block and sleeps (for timed snapshots into a missing directory) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *leak;

static int run_chdir(const char *dir)
{
    if (chdir(dir) < 0) {
        perror(dir);
        return 1;
    }
    printf("moved\n");
    return 0;
}

static int run_late(const char *dir)
{
    int p[2];
    char line[1024];
    size_t n = 0;
    int saved = dup(2);
    if (saved < 0 || pipe(p) < 0 || dup2(p[1], 2) < 0)
        return 1;
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    alarm(60); /* the shim never said it: fail rather than hang */
    raise(SIGUSR2);
    while (n < sizeof line - 1) {
        /* an allocation starts the shim's snapshot thread, which a signal only asks for */
        char *volatile block = malloc(100); /* volatile: the compiler may not drop the pair */
        free(block);
        ssize_t got = read(p[0], line + n, 1);
        if (got == 1 && line[n] == '\n')
            break;
        if (got == 1)
            n++;
        else
            usleep(10000);
    }
    line[n] = '\0';
    printf("%s\n", line);
    fflush(stdout);
    dup2(saved, 2);
    mkdir(dir, 0755); /* may fail: the exit snapshot then fails too */
    return 0;
}

int main(int argc, char **argv)
{
    leak = malloc(777);
    memset(leak, 7, 777);
    if (argc > 2 && strcmp(argv[1], "chdir") == 0)
        return run_chdir(argv[2]);
    if (argc > 2 && strcmp(argv[1], "late") == 0)
        return run_late(argv[2]);
    if (argc > 2 && strcmp(argv[1], "wait") == 0) {
        usleep((useconds_t)(atof(argv[2]) * 1e6));
        return 0;
    }
    fprintf(stderr, "usage: outdir chdir DIR | late DIR | wait SECONDS\n");
    return 2;
}
