/* Python programs: the frames of the script (function, file.py:line) interleaved with the native
 * ones, so that an allocation made under the interpreter is charged to the line of the script
 * that made it. CPython 3.11 (Debian 12); other versions are recognised and named in the
 * snapshot, and their stacks stay native. */
#ifndef IMGLEAK_PYTHON_H
#define IMGLEAK_PYTHON_H

#include <stdint.h>

/* Looks for CPython in the process (idempotent) (its exported _PyRuntime, Py_Version, the evaluator's
 * address range), once, at start-up; a program without it costs one test per stack after. */
void python_init(void);
/* The step after the native unwind: frames[0..depth) are return addresses, innermost first.
 * Before each return into _PyEval_EvalFrameDefault, inserts the Python frames that evaluator
 * call is running (IMGLEAK_FRAME_SCRIPT values), reading the calling thread's own frame chain
 * (no GIL needed: only this thread changes it). Returns the new depth, at most max; sets
 * *truncated when frames did not fit. Never allocates or locks. */
/* 1 when the process runs CPython (any version python_init recognised). */
int python_runtime_found(void);
unsigned python_interleave_frames(uint64_t *frames, unsigned depth, unsigned max, int *truncated);

typedef struct {
    uint32_t id, first_line;
    const char *file, *function;
    uint16_t file_len, function_len;
} python_code_t;
/* At a snapshot: the interpreter's name and version (NULL when there is none), with
 * IMGLEAK_SCRIPT_RT_* flags and PYTHONMALLOC as the program got it ("" when unset). */
const char *python_runtime(unsigned *flags, const char **pythonmalloc);
/* 1 when a pointer this far into the heap block at block is where CPython hands out what it
 * allocated: its objects sit behind a pre-header (PyGC_Head, 16 bytes; 3.11's managed dict and
 * values pointers, 16 more), an instance's attribute values behind a prefix that ends in its own
 * size. With PYTHONMALLOC=malloc every pointer to such an object is this far into its block; the
 * reachability scan counts it as a pointer to the block's start, as it counts the start. */
int python_object_start(uint64_t block, uint64_t offset);
void python_foreach_code(void (*visit)(const python_code_t *code, void *ctx), void *ctx);

#endif
