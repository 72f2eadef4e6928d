/* Memory and output for the shim's own use, straight to the kernel: nothing here goes through
 * malloc or the interposed mmap, so the shim's bookkeeping can never recurse into itself. */
#ifndef IMGLEAK_OS_H
#define IMGLEAK_OS_H

#include <stddef.h>
#include <stdint.h>

/* Anonymous, private, zero-filled; pages cost nothing until touched. NULL on failure. */
void *os_map(size_t bytes);
void os_unmap(void *addr, size_t bytes);
/* Visits the mappings os_map made and os_unmap has not taken back (a slot may be seen just
 * before or after a concurrent change); returns the bytes mapped that no slot could hold. */
uint64_t os_foreach_region(void (*visit)(uintptr_t start, size_t bytes, void *ctx), void *ctx);
/* Gives the pages back to the kernel; they read as zeroes afterwards. */
void os_discard(void *addr, size_t bytes);

/* Diagnostics on stderr when IMGLEAK_DEBUG is set; formats %s %d %u %zu %lu %x %p only. */
void os_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void os_log_enable(int on);

/* write(2) all of buf, retrying on EINTR and short writes; 0 or -1. */
int os_write_all(int fd, const void *buf, size_t len);

#endif
