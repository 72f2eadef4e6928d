/* Memory and output for the shim's own use, straight to the kernel: nothing here goes through
 * malloc or the interposed mmap, so the shim's bookkeeping can never recurse into itself. */
#ifndef IMGLEAK_OS_H
#define IMGLEAK_OS_H

#include <stddef.h>
#include <stdint.h>

/* Anonymous, private, zero-filled; pages cost nothing until touched. NULL on failure. */
void *os_map(size_t bytes);
void os_unmap(void *addr, size_t bytes);
/* How much address space one of the shim's growing tables may take: a sixteenth of the
 * address-space limit (ulimit -v), so that the program keeps almost all of what it would have
 * without the shim; SIZE_MAX without a limit. A system call: for growth paths only. */
size_t os_budget(void);
/* Visits the mappings os_map made and os_unmap has not taken back (a slot may be seen just
 * before or after a concurrent change); returns the bytes mapped that no slot could hold. */
uint64_t os_foreach_region(void (*visit)(uintptr_t start, size_t bytes, void *ctx), void *ctx);
/* Gives the pages back to the kernel; they read as zeroes afterwards. */
void os_discard(void *addr, size_t bytes);

/* Diagnostics on stderr when IMGLEAK_DEBUG is set; formats %s %d %u %zu %lu %x %p only. */
void os_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void os_log_enable(int on);
/* At start: messages go to a copy of stderr as it is now, which the program cannot close or
 * replace; a program that closes fd 2 and opens a file there never gets the shim's lines in it.
 * Without a stderr at start, they go nowhere. */
void os_log_start(void);
/* The process the shim runs for is this one: at start, and in a forked child. */
void os_pid_now(void);
/* 1 in a vfork child (or another process made by clone(CLONE_VM) without fork's handlers): it
 * shares the parent's memory until it execs or exits, so nothing it does may change the shim's
 * state, which is the parent's. A system call: for the descriptor and signal hooks only. */
int os_in_vfork_child(void);
/* In the final-snapshot sentinel, before it writes: it closed the descriptors it was cloned with,
 * the log's copy of stderr among them, and the snapshot file could take that number; the shim's
 * descriptors are forgotten and the log goes to the sentinel's own fd 2 (stderr with
 * IMGLEAK_DEBUG, else /dev/null). */
void os_log_restart(void);
/* The same on stderr whatever IMGLEAK_DEBUG says: for what the user must hear (a snapshot lost,
 * a setting refused), once. */
void os_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A short text for errno values the shim meets writing files; async-signal-safe, unlike strerror. */
const char *os_errno_text(int err);

/* What stops the shim from tracking something: said once per kind on stderr, whatever
 * IMGLEAK_DEBUG is, because the report then holds less than the truth. */
enum {
    NOTICE_START,      /* no memory for the tables at start: not tracking at all */
    NOTICE_TABLE_FULL, /* the live table could not grow */
    NOTICE_STACKS_FULL,
    NOTICE_MAPS_FULL,
    NOTICE_MAPS_QUEUE,
    NOTICE_SCAN,       /* the reachability scan had to read another way, or could not run */
    NOTICE_SCAN_INCOMPLETE, /* it could not read some roots or blocks at all */
    NOTICE_COUNT
};
void os_notice_once(unsigned kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* write(2) all of buf, retrying on EINTR and short writes; 0 or -1. */
int os_write_all(int fd, const void *buf, size_t len);

#endif
