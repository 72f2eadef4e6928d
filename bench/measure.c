/* Runs a command and prints its wall time in seconds and its peak RSS in KiB (the largest of
 * the process and the descendants it waited for), then the monotonic time at which the command
 * ended, for the benchmark driver. */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: measure CMD [ARGS...]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        perror(argv[1]);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) < 0)
        return 2;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%.4f %ld %ld.%09ld\n", wall, ru.ru_maxrss, (long)t1.tv_sec, t1.tv_nsec);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
