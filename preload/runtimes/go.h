/* Go programs: the goroutine frames above a cgo call. libunwind stops at runtime.asmcgocall (Go
 * emits no .eh_frame); from there the goroutine's own stack is walked with Go's frame pointers,
 * so that a C allocation is charged to the Go function and line that called C. */
#ifndef IMGLEAK_GO_H
#define IMGLEAK_GO_H

#include <stdint.h>

/* Finds runtime.asmcgocall in the executable's symbol table, once, at start-up (reads the file;
 * nothing on the hot path). A program without it (not Go, or stripped) costs nothing after. */
void go_init(void);
/* 1 when addr is a return address inside runtime.asmcgocall: the stack went through cgo. */
int go_is_cgo_return(uint64_t addr);
/* Appends the goroutine's frames (return addresses, innermost first) to frames[0..depth) when
 * frames[depth - 1] returns into runtime.asmcgocall; returns the new depth (at most max) and sets
 * *truncated when the goroutine's stack went on beyond max. Never faults: what it reads is checked
 * against the goroutine's stack bounds, which are read with a system call that cannot fault. */
unsigned go_append_frames(uint64_t *frames, unsigned depth, unsigned max, int *truncated);
/* At a snapshot: 4 KiB pages resident in the mappings the Go runtime made through x_cgo_mmap (its heap
 * arenas, spans, goroutine stacks), by mincore; 0 when the program is not Go. */
uint32_t go_resident_pages(void);
/* At a snapshot: live C heap blocks whose address the Go runtime's resident memory holds. */
uint32_t go_heap_c_blocks(void);

#endif
