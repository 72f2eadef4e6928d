/* A program that runs until it is signalled, for imgleak run's signal tests.
 *   sigloop catch READY   handles SIGTERM, SIGINT, SIGHUP and SIGQUIT: returns from main, 0
 *   sigloop default READY leaves them at their default action: dies of the signal
 *   sigloop signalfd READY blocks every signal and reads them from a signalfd, printing each
 *                         one's name; returns 0 after SIGTERM or SIGINT
 * Either way it first leaks 4000 bytes (LEAK(loop)), then writes its pid to the file READY (by
 * rename, so the file appears whole) and works on, allocating as a service does (the shim's
 * snapshot thread for IMGLEAK_SIGNAL starts on the program's next allocation). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

static int say_ready(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%ld\n", (long)getpid());
    return fclose(f) == 0 && rename(tmp, path) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int catch = argc == 3 && strcmp(argv[1], "catch") == 0;
    int sigfd = argc == 3 && strcmp(argv[1], "signalfd") == 0;
    if (argc != 3 || (!catch && !sigfd && strcmp(argv[1], "default") != 0)) {
        fputs("usage: sigloop catch|default|signalfd READY\n", stderr);
        return 2;
    }
    sigset_t all;
    sigfillset(&all);
    int fd = -1;
    if (sigfd) {
        sigprocmask(SIG_BLOCK, &all, NULL);
        fd = signalfd(-1, &all, SFD_CLOEXEC);
        if (fd < 0)
            return 3;
    }
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    for (int i = 0; catch && i < 4; i++)
        signal(sigs[i], on_stop);
    char *volatile kept = malloc(4000); /* LEAK(loop) */
    memset(kept, 1, 4000);
    kept = NULL;
    if (say_ready(argv[2]) < 0)
        return 3;
    while (sigfd) {
        struct signalfd_siginfo si;
        if (read(fd, &si, sizeof si) != (ssize_t)sizeof si)
            return 3;
        printf("got %s\n", strsignal((int)si.ssi_signo));
        fflush(stdout);
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            return 0;
        free(malloc(64));
    }
    const struct timespec tick = {0, 10 * 1000000};
    while (!stop) {
        free(malloc(64));
        nanosleep(&tick, NULL);
    }
    return 0;
}
