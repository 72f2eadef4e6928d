/* imgleak.h: the program API of imgleak (the README, "Which input leaked").
 *
 * A program can tell imgleak which input or request each thread is working on, so that the report
 * says which inputs leaked, and ask for a snapshot at a moment of its choosing:
 *
 *     void imgleak_set_tag(const char *tag);  the calling thread's current input or request;
 *                                             NULL (or "") clears it; the string is copied.
 *                                             Memory allocated and handles created on this thread
 *                                             from now on are charged to it. A tag wins over the
 *                                             name imgleak finds by itself (a file's path, a
 *                                             memory buffer's digest).
 *     int imgleak_snapshot(void);             writes a snapshot now; 0, or -1 with errno set
 *                                             (ENOSYS: the program runs without imgleak).
 *                                             Not from a signal handler (it takes the
 *                                             snapshot lock): send IMGLEAK_SIGNAL instead.
 *
 * Both are defined by libimgleak.so, which is only there when the program runs under imgleak.
 * Declared weak (as below), they are NULL otherwise, and the program runs unchanged without the
 * shim and without linking anything: call them through the IMGLEAK_SET_TAG and IMGLEAK_SNAPSHOT
 * macros, which check. Build with `pkg-config --cflags imgleak`; nothing to link. */
#ifndef IMGLEAK_H
#define IMGLEAK_H

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

void imgleak_set_tag(const char *tag) __attribute__((weak));
int imgleak_snapshot(void) __attribute__((weak));

#ifdef __cplusplus
}
#endif

/* Calls that do nothing (and, for the snapshot, fail with ENOSYS) when imgleak is not loaded. */
#define IMGLEAK_SET_TAG(tag)                                                                       \
    do {                                                                                           \
        if (imgleak_set_tag)                                                                       \
            imgleak_set_tag(tag);                                                                  \
    } while (0)
#define IMGLEAK_SNAPSHOT() (imgleak_snapshot ? imgleak_snapshot() : (errno = ENOSYS, -1))

#endif
