/* Descriptors and streams as handles (types "fd" and "FILE", catalog.h), as valgrind's
 * --track-fds reports them: what the program opens and never closes. Descriptors inherited at
 * start (never seen opened) and the standard streams 0, 1, 2 are not leaks; the shim's own
 * descriptors are made with the guard up and never recorded. The entry points that only create
 * (open, fopen, socket, pipe, accept, dup, fcntl(F_DUPFD)) are in fds.c; close, close_range,
 * closefrom, dup2 and dup3 stay in shim.c, which already interposes them for ownfd.c, and call
 * the two functions below. */
#ifndef IMGLEAK_FDS_H
#define IMGLEAK_FDS_H

/* Before the program's close of fds first..last (one descriptor: first == last); caller: the
 * entry point's return address (the shim's own calls are not the program's). */
void fds_closing(unsigned first, unsigned last, const void *caller);
/* After a dup2/dup3 that made newfd a copy of another descriptor (r: its result). */
void fds_duplicated(int r, const void *caller);
/* In a forked child: descriptors it inherited are its parent's to report. */
void fds_after_fork_child(void);

#endif
