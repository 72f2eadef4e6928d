/* A parent and a forked child that each run until the shim has written N timed snapshots of
 * their own (files imgleak.<pid>.*.snap in DIR), however slow the machine: a test of timed
 * snapshots in both that does not depend on how long either lives. Gives up after 120 s.
 * usage: forker DIR N */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int own_snapshots(const char *dir)
{
    char prefix[64];
    int n = 0;
    snprintf(prefix, sizeof prefix, "imgleak.%ld.", (long)getpid());
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && len > 5 &&
            strcmp(e->d_name + len - 5, ".snap") == 0)
            n++;
    }
    closedir(d);
    return n;
}

static int wait_for(const char *dir, int want)
{
    time_t give_up = time(NULL) + 120;
    while (own_snapshots(dir) < want) {
        if (time(NULL) > give_up)
            return 1;
        char *volatile p = malloc(1000); /* something to record; volatile: not optimised away */
        free(p);
        usleep(10000);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: forker DIR N\n");
        return 2;
    }
    int want = atoi(argv[2]);
    char *leak = malloc(4096);
    memset(leak, 1, 4096);
    pid_t child = fork();
    if (child < 0)
        return 1;
    int failed = wait_for(argv[1], want);
    if (child == 0)
        return failed;
    int status = 0;
    waitpid(child, &status, 0);
    printf("%s\n", failed || !WIFEXITED(status) || WEXITSTATUS(status) ? "gave up" : "done");
    return failed || status != 0;
}
