/* imgleak attach (see attach.h). The shim and imgleak talk through a named pipe in the output
 * directory: imgleak holds it open for reading and writing from before the attach, the shim
 * reads it without blocking, and end of file (imgleak closed it, or died) tells the shim to take
 * the final snapshot, put the program's references back and stop; it then creates
 * PIPE.done. The settings the shim would read from the environment are handed over as a block
 * of IMGLEAK_* lines: the IMGLEAK_* variables imgleak was given, with the output directory and
 * the interval. */
#define _GNU_SOURCE
#include "attach.h"

#include "error.h"
#include "inject.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* How long the final snapshot (with the scan of the whole heap) may take before imgleak gives
 * up waiting and reports on what it has. */
#define DETACH_WAIT_MS 120000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *settings_for(const char *dir, double interval)
{
    size_t cap = strlen(dir) + 128, len = 0;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "IMGLEAK_", 8) == 0)
            cap += strlen(*e) + 1;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    for (char **e = environ; *e; e++)
        /* these are attach's to set; a signal or a sentinel is not added to a running process */
        if (strncmp(*e, "IMGLEAK_", 8) == 0 && strncmp(*e, "IMGLEAK_OUT=", 12) != 0 &&
            strncmp(*e, "IMGLEAK_INTERVAL=", 17) != 0 && !strchr(*e, '\n'))
            len += (size_t)snprintf(s + len, cap - len, "%s\n", *e);
    snprintf(s + len, cap - len, "IMGLEAK_OUT=%s\nIMGLEAK_INTERVAL=%.3f\n", dir, interval);
    return s;
}

/* The process must be able to write into the directory and open the pipe. */
static void hand_over(const char *path, pid_t pid)
{
    char proc[64];
    struct stat st;
    snprintf(proc, sizeof proc, "/proc/%d", (int)pid);
    if (geteuid() == 0 && stat(proc, &st) == 0 && st.st_uid != 0 && chown(path, st.st_uid, st.st_gid) < 0)
        fprintf(stderr, "imgleak: %s: cannot hand it to uid %ld: %s\n", path, (long)st.st_uid,
                strerror(errno));
}

static void comm_of(pid_t pid, char *out, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "re");
    out[0] = '\0';
    if (f) {
        if (fgets(out, (int)cap, f))
            out[strcspn(out, "\n")] = '\0';
        fclose(f);
    }
}

/* The snapshots in res->dir of pid that were not in before. */
static int keep_new(run_result_t *res, const run_result_t *before)
{
    size_t kept = 0;
    for (size_t i = 0; i < res->nsnapshots; i++) {
        int old = 0;
        for (size_t j = 0; j < before->nsnapshots && !old; j++)
            old = strcmp(res->snapshots[i], before->snapshots[j]) == 0;
        if (old)
            free(res->snapshots[i]);
        else
            res->snapshots[kept++] = res->snapshots[i];
    }
    res->nsnapshots = kept;
    return 0;
}

typedef enum { END_WINDOW, END_SIGNAL, END_EXITED } window_end_t;

/* Waits for the window's end: its duration, a signal to imgleak, or the process's exit. */
static window_end_t wait_window(int pidfd, int sigfd, double duration, int *signo)
{
    double until = now_s() + duration;
    for (;;) {
        struct pollfd fds[2] = {{pidfd, POLLIN, 0}, {sigfd, POLLIN, 0}};
        int timeout = -1;
        if (duration > 0) {
            double left = until - now_s();
            if (left <= 0)
                return END_WINDOW;
            timeout = (int)(left * 1000) + 1;
        }
        if (poll(fds, 2, timeout) < 0 && errno != EINTR)
            return END_WINDOW;
        if (fds[0].revents)
            return END_EXITED;
        if (fds[1].revents) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                *signo = (int)si.ssi_signo;
                return END_SIGNAL;
            }
        }
    }
}

/* After the pipe is closed: until the shim says it has detached, or the process is gone. */
static int wait_detached(int pidfd, const char *done)
{
    for (int waited = 0; waited < DETACH_WAIT_MS; waited += 20) {
        if (access(done, F_OK) == 0)
            return 0;
        struct pollfd p = {pidfd, POLLIN, 0};
        if (poll(&p, 1, 20) > 0)
            return 1;
    }
    return -1;
}

int attach_window(const attach_opts_t *o, run_result_t *res)
{
    char shim[PATH_MAX], control[PATH_MAX + 64] = "", done[PATH_MAX + 80] = "", comm[64];
    run_result_t before = {0};
    int pipe_fd = -1, pidfd = -1, sigfd = -1, rc = -1;
    char *settings = NULL;
    sigset_t stops, old_mask;
    memset(res, 0, sizeof *res);
    if (run_find_shim(shim, sizeof shim) < 0 || inject_check(o->pid, shim) != INJECT_OK)
        return -1;
    comm_of(o->pid, comm, sizeof comm);
    if (run_prepare_dir(o->out_dir, res) < 0)
        return -1;
    before.dir = res->dir;
    if (run_collect_snapshots(&before, o->pid) < 0)
        goto out;
    hand_over(res->dir, o->pid);
    snprintf(control, sizeof control, "%s/.imgleak-attach.%d", res->dir, (int)o->pid);
    snprintf(done, sizeof done, "%s.done", control);
    unlink(done);
    unlink(control);
    if (mkfifo(control, 0600) < 0) {
        error_set("%s: %s", control, strerror(errno));
        goto out;
    }
    hand_over(control, o->pid);
    pipe_fd = open(control, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    pidfd = (int)syscall(SYS_pidfd_open, o->pid, 0);
    settings = settings_for(res->dir, o->interval);
    if (pipe_fd < 0 || pidfd < 0 || !settings) {
        error_set("cannot prepare the attach: %s", strerror(errno));
        goto out;
    }
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGHUP);
    sigprocmask(SIG_BLOCK, &stops, &old_mask);
    sigfd = signalfd(-1, &stops, SFD_CLOEXEC);
    double t0 = now_s();
    if (inject_load(o->pid, shim, settings, control) != INJECT_OK)
        goto restore;
    double attached = now_s();
    if (o->duration > 0)
        fprintf(stderr, "imgleak: attached to %d (%s) in %.0f ms; tracking for %g s\n",
                (int)o->pid, comm, (attached - t0) * 1000, o->duration);
    else
        fprintf(stderr, "imgleak: attached to %d (%s) in %.0f ms; tracking until interrupted "
                        "(Ctrl-C)\n", (int)o->pid, comm, (attached - t0) * 1000);
    int signo = 0;
    window_end_t end = wait_window(pidfd, sigfd, o->duration, &signo);
    double window = now_s() - attached;
    if (end != END_EXITED) {
        close(pipe_fd); /* the shim takes its final snapshot, puts everything back, stops */
        pipe_fd = -1;
        int d = wait_detached(pidfd, done);
        if (d == 1)
            end = END_EXITED;
        else if (d < 0)
            fprintf(stderr, "imgleak: %d did not confirm its detach in %d s; reporting on the "
                            "snapshots it wrote\n", (int)o->pid, DETACH_WAIT_MS / 1000);
    }
    if (end == END_EXITED)
        snprintf(res->end, sizeof res->end, "exited %.1f s into the window", window);
    else if (end == END_SIGNAL)
        snprintf(res->end, sizeof res->end, "detached after %.1f s (%s)", window,
                 sigabbrev_np(signo) ? sigabbrev_np(signo) : "signal");
    else
        snprintf(res->end, sizeof res->end, "detached after %.1f s", window);
    if (run_collect_snapshots(res, o->pid) == 0 && keep_new(res, &before) == 0)
        rc = 0;
restore:
    if (sigfd >= 0)
        close(sigfd);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
out:
    if (pipe_fd >= 0)
        close(pipe_fd);
    if (pidfd >= 0)
        close(pidfd);
    if (control[0]) {
        unlink(control);
        unlink(done);
    }
    free(settings);
    before.dir = NULL;
    before.temporary = 0;
    run_result_release(&before);
    return rc;
}
