/* What the snapshot says about the process besides its allocations: loaded modules with their
 * build-ids, memory figures from /proc, and the allocator's own statistics. */
#ifndef IMGLEAK_PROCINFO_H
#define IMGLEAK_PROCINFO_H

#include "imgleak/format.h"

#include <stddef.h>

/* A growing string blob, for the STRINGS section. */
typedef struct {
    char *data;
    size_t len, capacity;
} strbuf_t;

uint32_t strbuf_add(strbuf_t *sb, const char *s); /* offset of s in the blob */
void strbuf_release(strbuf_t *sb);

typedef struct {
    imgleak_module_rec_t *recs;
    size_t count, capacity;
} module_list_t;

/* Fills mods from dl_iterate_phdr, plus the modules remembered as unloaded that no loaded one
 * has replaced; path strings go into sb. may_block 0: the unloaded ones only if their lock is
 * free (this thread may have been interrupted while holding it). */
int procinfo_modules(module_list_t *mods, strbuf_t *sb, int may_block);
/* Remembers the module loaded at load_bias under name before dlclose may unmap it, so that
 * frames in a library that is gone by the time of the snapshot can still be symbolized. */
void procinfo_module_unloading(uintptr_t load_bias, const char *name);
void procinfo_modules_release(module_list_t *mods);

/* RSS, peak RSS and (may_block) jemalloc's statistics, into the process record (glibc's are
 * procinfo_resident's: they need the heaps' size). */
void procinfo_memory(imgleak_process_rec_t *rec, int may_block);
/* At start (may allocate): finds the allocator's statistics functions. Looking them up at
 * snapshot time would call dlsym, which allocates, from an exit() in a signal handler that
 * interrupted malloc: a deadlock. */
void procinfo_init(void);
/* The resident set by what holds it (the 1.5 rss_* fields): malloc's heaps, its chunks mapped
 * apart, the program's tracked mappings, the shim itself, the rest; with glibc's malloc, its
 * figures (in use: what the hooks counted, table_count_chunk; free: the heaps' size less that).
 * After procinfo_memory (it needs jemalloc's figures). */
void procinfo_resident(imgleak_process_rec_t *rec);
/* Loaded into a running process (imgleak attach): the hooks did not count what was allocated
 * before, so glibc's figures come from mallinfo2(), which walks its free lists under its locks. */
void procinfo_set_attached(void);
/* 1 when reading the allocator's figures takes the allocator's locks (jemalloc's mallctl; glibc's
 * mallinfo2 when attached, or where smaps cannot be read); glibc's own counts take none. */
int procinfo_figures_lock(void);
/* Leaves the allocator's own figures out of procinfo_memory from now on: their locks (malloc's
 * arenas, jemalloc's ctl) may be held by a thread that was killed (the final-snapshot sentinel). */
void procinfo_skip_allocator(void);

#endif
