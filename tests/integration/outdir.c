/* Where snapshots go when the program moves or the directory is not there.
 *   chdir DIR  leaks a block, moves to DIR and exits: the exit snapshot must still go where
 *              IMGLEAK_OUT named at start (relative to the start directory)
 *   late DIR ERRFILE  asks for a snapshot (SIGUSR2) while DIR cannot be written, waits for the
 *              shim's line saying so in ERRFILE (its stderr), then tries to create DIR and exits:
 *              the exit snapshot in DIR (if it could be made) counts the one lost, and a second
 *              failure must not be said again
 *   stderr FILE  closes fd 2 and opens FILE there, writes its own line and exits
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

/* The shim's stderr is the program's as it was at start, so the line is read back from the file
 * the test sends stderr to. */
static int run_late(const char *dir, const char *err_file)
{
    char text[4096];
    alarm(60); /* the shim never said it: fail rather than hang */
    raise(SIGUSR2);
    for (;;) {
        /* an allocation starts the shim's snapshot thread, which a signal only asks for */
        char *volatile block = malloc(100); /* volatile: the compiler may not drop the pair */
        free(block);
        int fd = open(err_file, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof text - 1);
        if (fd >= 0)
            close(fd);
        if (n > 0 && memchr(text, '\n', (size_t)n))
            break;
        usleep(10000);
    }
    mkdir(dir, 0755); /* may fail: the exit snapshot then fails too */
    return 0;
}

/* closes stderr and opens FILE, which takes fd 2: nothing of the shim's may land in it */
static int run_stderr(const char *file)
{
    close(2);
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd != 2)
        return 1;
    static const char mine[] = "the program's own data\n";
    return write(fd, mine, sizeof mine - 1) != sizeof mine - 1;
}

int main(int argc, char **argv)
{
    leak = malloc(777);
    memset(leak, 7, 777);
    if (argc > 2 && strcmp(argv[1], "chdir") == 0)
        return run_chdir(argv[2]);
    if (argc > 3 && strcmp(argv[1], "late") == 0)
        return run_late(argv[2], argv[3]);
    if (argc > 2 && strcmp(argv[1], "stderr") == 0)
        return run_stderr(argv[2]);
    if (argc > 2 && strcmp(argv[1], "wait") == 0) {
        usleep((useconds_t)(atof(argv[2]) * 1e6));
        return 0;
    }
    fprintf(stderr, "usage: outdir chdir DIR | late DIR ERRFILE | stderr FILE | wait SECONDS\n");
    return 2;
}
