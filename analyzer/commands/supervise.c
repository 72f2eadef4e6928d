/* imgleak run's watch over the program's end (see supervise.h).
 *
 * The sentinel that writes a final snapshot is a child of the program; when the program dies it is
 * re-parented to the nearest "child subreaper", which imgleak run makes itself. After reaping the
 * program, run waits for every child named imgleak-final: they write the snapshot the report
 * needs. Nothing here runs while the program does; the cost per allocation is nil.
 *
 * The OOM killer leaves no mark in the wait status (it is a SIGKILL); its count rising across the
 * run, in imgleak run's cgroup (memory.events, v2; memory.oom_control, v1) or in the system's
 * (/proc/vmstat: the program may have moved to a cgroup of its own, and a v1 count is not
 * hierarchical), says that a SIGKILL was its. Another process's OOM kill in the same window
 * would be taken for the program's: the window is the run, the case rare. */
#define _GNU_SOURCE
#include "supervise.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* The value after "oom_kill " in a file of "key value" lines; -1 when there is none. */
int64_t supervise_oom_kills(const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return -1;
    char line[256];
    int64_t count = -1;
    while (count < 0 && fgets(line, sizeof line, f)) {
        long long v;
        if (sscanf(line, "oom_kill %lld", &v) == 1)
            count = v;
    }
    fclose(f);
    return count;
}

static int64_t count_oom_kills(void)
{
    char path[4200], line[4096];
    FILE *f = fopen("/proc/self/cgroup", "r");
    int64_t count = -1;
    while (f && count < 0 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *rel = strchr(line, ':') ? strchr(strchr(line, ':') + 1, ':') : NULL;
        if (!rel)
            continue;
        rel++;
        if (strncmp(line, "0::", 3) == 0)
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.events", rel);
        else if (strstr(line, ":memory:"))
            snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.oom_control", rel);
        else
            continue;
        count = supervise_oom_kills(path);
    }
    if (f)
        fclose(f);
    return count;
}

void supervise_begin(supervise_t *sv)
{
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    sv->oom_kills = count_oom_kills();
    sv->system_oom_kills = supervise_oom_kills("/proc/vmstat");
}

/* The pid of one child of ours named imgleak-final, or 0. */
static pid_t find_sentinel(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t self = getpid(), found = 0;
    while (d && !found && (e = readdir(d))) {
        char path[300], stat[512];
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[n] = '\0';
        char *paren = strrchr(stat, ')');
        char state;
        int ppid;
        if (strncmp(stat + strcspn(stat, "("), "(imgleak-final)", 15) == 0 && paren &&
            sscanf(paren + 1, " %c %d", &state, &ppid) == 2 && ppid == self)
            found = (pid_t)atoi(e->d_name);
    }
    if (d)
        closedir(d);
    return found;
}

void supervise_wait_final(void)
{
    pid_t p;
    while ((p = find_sentinel()) > 0) {
        int status;
        /* exit signal 0 (or SIGCHLD once re-parented): __WALL takes either */
        while (waitpid(p, &status, __WALL) < 0 && errno == EINTR)
            ;
    }
}

void supervise_describe_end(const supervise_t *sv, int status, char *out, size_t size)
{
    if (WIFEXITED(status)) {
        snprintf(out, size, "exited %d", WEXITSTATUS(status));
        return;
    }
    int sig = WTERMSIG(status);
    const char *name = sigabbrev_np(sig);
    int oom = sig == SIGKILL &&
              ((sv->oom_kills >= 0 && count_oom_kills() > sv->oom_kills) ||
               (sv->system_oom_kills >= 0 &&
                supervise_oom_kills("/proc/vmstat") > sv->system_oom_kills));
    snprintf(out, size, "killed by SIG%s%s%s", name ? name : "?", WCOREDUMP(status) ? " (core dumped)" : "",
             oom ? " (out of memory)" : "");
}
