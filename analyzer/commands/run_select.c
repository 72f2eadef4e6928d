/* imgleak run: which of the processes that wrote snapshots the user meant (see run_select.h).
 *
 * A process that execs keeps its pid, and only its last image writes a snapshot, so a wrapper
 * that execs into the program (pyenv's shims, `env`, `exec "$@"`) is already one identity with
 * it. What is left to sort out are the processes the wrappers ran before that exec ($(...)
 * subshells, readlink, basename): a snapshot's start time is when the shim started in its last
 * image, and a child forked without exec inherits its parent's, so a child whose start time is
 * before its parent's is the child of an image the parent left behind (the wrapper's), not of the
 * program. Shells among the program's own children are not listed either (their children are). */
#include "run_select.h"

#include "reader.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t pid, ppid, start_ns, instance;
    int shell, state; /* state: 0 undecided, 1 the program's, 2 not */
} proc_t;

enum { UNDECIDED, MEANT, NOT_MEANT };

static int is_shell(const char *exe)
{
    static const char *const shells[] = {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash",
                                         "fish", "busybox", "env", "nice", "nohup", "timeout"};
    const char *base = exe ? strrchr(exe, '/') : NULL;
    base = base ? base + 1 : exe;
    for (size_t i = 0; base && i < sizeof shells / sizeof *shells; i++)
        if (fnmatch(shells[i], base, 0) == 0)
            return 1;
    return 0;
}

/* The process that was pid's parent: the one with that pid that started last at or before t. */
static proc_t *parent_of(proc_t *procs, size_t n, const proc_t *child)
{
    proc_t *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (procs[i].pid == child->ppid && &procs[i] != child &&
            (!best || procs[i].start_ns > best->start_ns) && procs[i].start_ns <= child->start_ns)
            best = &procs[i];
    return best;
}

size_t run_select_processes(char **snapshots, size_t n, long root_pid, size_t *hidden)
{
    *hidden = 0;
    proc_t *procs = calloc(n ? n : 1, sizeof *procs);
    if (!procs)
        return n;
    int root_seen = 0;
    for (size_t i = 0; i < n; i++) {
        snapshot_t *s = reader_load(snapshots[i]);
        if (!s) { /* unreadable: the report says so; kept, so that it does */
            procs[i].state = MEANT;
            continue;
        }
        procs[i] = (proc_t){s->header.pid, s->process.ppid, s->process.start_time_ns,
                            s->process.instance_id, is_shell(s->exe), UNDECIDED};
        if (s->header.pid == (uint64_t)root_pid) {
            procs[i].state = MEANT;
            root_seen = 1;
        }
        reader_free(s);
    }
    if (!root_seen) { /* the program wrote nothing itself: no tree to go by, keep everything */
        free(procs);
        return n;
    }
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < n; i++) {
            if (procs[i].state != UNDECIDED)
                continue;
            proc_t *parent = parent_of(procs, n, &procs[i]);
            int state = !parent ? NOT_MEANT : parent->state;
            if (state == MEANT && procs[i].start_ns < parent->start_ns)
                state = NOT_MEANT;
            if (state != UNDECIDED) {
                procs[i].state = state;
                changed = 1;
            }
        }
    }
    /* the ones meant first, in their order; a process with several snapshots is decided once
     * per snapshot (all the same way); the root is listed even when it is a shell script */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        int listed = procs[i].state == MEANT &&
                     (!procs[i].shell || procs[i].pid == (uint64_t)root_pid || !procs[i].pid);
        if (!listed) {
            int again = 0; /* another snapshot of the same process, counted already */
            for (size_t k = 0; k < i && !again; k++)
                again = procs[k].instance == procs[i].instance && procs[k].pid == procs[i].pid;
            *hidden += !again;
            continue;
        }
        char *path = snapshots[i];
        memmove(snapshots + kept + 1, snapshots + kept, (i - kept) * sizeof *snapshots);
        snapshots[kept++] = path;
    }
    free(procs);
    return kept;
}
