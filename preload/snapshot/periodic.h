/* Snapshots while the program runs: a background thread writes one every IMGLEAK_INTERVAL and
 * whenever IMGLEAK_SIGNAL arrives. The signal handler only posts a semaphore; the work is done
 * by the thread, never inside the handler. The thread starts at once when there is an interval;
 * otherwise on first use: the first signal asks for it (wake) and the shim starts it at the
 * program's next allocation, so that a process nobody signals never gets an extra thread. A
 * handler the program installs for the same signal is kept and still called. */
#ifndef IMGLEAK_PERIODIC_H
#define IMGLEAK_PERIODIC_H

#include <signal.h>

/* take: writes one snapshot (called on the background thread); wake: called from the signal
 * handler (async-signal-safe) when the thread is not running yet. 0, or -1 (logged). */
int periodic_start(unsigned interval_ms, int signal, void (*take)(void), void (*wake)(void));
/* On the thread, for the snapshot it is about to take: 1 when imgleak run asked for it at a new
 * RSS peak (IMGLEAK_PEAK_SIGVAL queued with the signal); reading clears it. */
int periodic_take_peak(void);
/* Starts the thread if it is not running (call with the guard up). */
void periodic_ensure_thread(void);
/* Before the exit snapshot: no snapshot is taken from now on, and the thread ends (a snapshot
 * under way first, waited for up to 2 s), so that the exit's scan finds the program's thread
 * alone when it is (and scans the live table in place, reach.c) rather than the shim's own idle
 * thread beside it. */
void periodic_stop(void);
/* In a forked child: the thread did not come along; start it again. */
void periodic_after_fork_child(void);

/* For the interposed sigaction: when sig is ours, records the program's wish instead of
 * installing it, fills *old with what the program had, and returns 1. */
int periodic_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

#endif
