/* The final snapshot, however the process ends. A sentinel process shares the program's memory
 * (clone with CLONE_VM, but its own process, fds and signals): it waits for the program to be
 * gone and then writes the snapshot from the memory the program left, exactly as it was at the
 * end. That covers what no code in the program can see: exit_group straight from the Go runtime,
 * _exit, an uncaught signal, SIGKILL. Not the OOM killer: it kills every process sharing the
 * memory, the sentinel with it. A normal exit still snapshots in the shim's destructor; the
 * sentinel then finds the exit snapshot taken and writes nothing. A pipe the program closes by a
 * raw system call (close_range, which no hook sees) is noticed: the sentinel then watches a pidfd
 * of the program, and kcmp tells it from a raw exec. */
#ifndef IMGLEAK_FINAL_H
#define IMGLEAK_FINAL_H

/* take: writes the final snapshot, called in the sentinel once the program is gone, with the
 * program's pid and parent's pid. 0, or -1 (logged; the program runs on without one). */
int final_start(void (*take)(long pid, long ppid), int keep_stderr);
/* In a forked child: the parent's sentinel watches the parent; the child gets its own. */
void final_after_fork_child(void);
/* The descriptor the program must not close (it tells the sentinel the program is gone), or -1. */
int final_watch_fd(void);

#endif
