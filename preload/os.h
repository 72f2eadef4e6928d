/* Memory and output for the shim's own use, straight to the kernel: nothing here goes through
 * malloc or the interposed mmap, so the shim's bookkeeping can never recurse into itself. */
#ifndef IMGLEAK_OS_H
#define IMGLEAK_OS_H

#include <stddef.h>

/* Anonymous, private, zero-filled; pages cost nothing until touched. NULL on failure. */
void *os_map(size_t bytes);
void os_unmap(void *addr, size_t bytes);
/* Gives the pages back to the kernel; they read as zeroes afterwards. */
void os_discard(void *addr, size_t bytes);

/* Diagnostics on stderr when IMGLEAK_DEBUG is set; formats %s %d %u %zu %lu %x %p only. */
void os_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void os_log_enable(int on);
/* At start: messages go to a copy of stderr as it is now, which the program cannot close or
 * replace; a program that closes fd 2 and opens a file there never gets the shim's lines in it.
 * Without a stderr at start, they go nowhere. */
void os_log_start(void);
/* The same on stderr whatever IMGLEAK_DEBUG says: for what the user must hear (a snapshot lost,
 * a setting refused), once. */
void os_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A short text for errno values the shim meets writing files; async-signal-safe, unlike strerror. */
const char *os_errno_text(int err);

/* write(2) all of buf, retrying on EINTR and short writes; 0 or -1. */
int os_write_all(int fd, const void *buf, size_t len);

#endif
