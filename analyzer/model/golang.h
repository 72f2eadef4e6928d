/* Go programs in reports: which frames are cgo glue (hidden from stacks), which are the Go
 * toolchain's (never the application's), and which memory the Go runtime made for itself
 * (its own kind: never a leak, never in the gate). */
#ifndef IMGLEAK_GOLANG_H
#define IMGLEAK_GOLANG_H

#include "symbolize.h"

#include <stddef.h>

/* The frames between a Go call to C and the C function: the C stub cgo writes
 * (_cgo_<hash>_Cfunc_f, in cgo-gcc-prolog), runtime.asmcgocall, runtime.cgocall and the Go
 * wrapper (main._Cfunc_f, in _cgo_gotypes.go). */
int golang_frame_is_glue(const frame_t *f);
/* Drops the closures cgo wraps a call with Go pointer arguments in (main.encode.func1 at the
 * same line as main.encode, the frame after it); returns the new count. */
size_t golang_drop_cgo_closures(frame_t *frames, size_t n);
/* The Go runtime, runtime/cgo's C helpers (x_cgo_*) and the standard library from GOROOT. */
int golang_frame_is_runtime(const frame_t *f);
/* Memory the Go runtime made for itself: no frame of the application, some of the runtime
 * (x_cgo_mmap's heap arenas and reservations, x_cgo_thread_start's thread records). */
int golang_stack_is_runtime(const frame_t *frames, size_t n);
/* The line of an inlined call as Go's DWARF gives it (DW_AT_call_line), corrected: in a file cgo
 * rewrote (one that imports "C"), the compiler counts the three lines cgo puts before its
 * //line directive (Go 1.20 and before; 1.21 fixed it, golang/go#58648; the line table itself
 * is right). producer: the unit's
 * DW_AT_producer; file: the call's file as the DWARF names it. */
unsigned golang_call_line(const char *producer, const char *file, unsigned line);

#endif
