/* Which inputs leaked (format 1.6): every stack the shim recorded names the input (file, memory
 * buffer, the program's tag) its thread was working on, and so every entry and handle group
 * lists the inputs its memory and handles were made for; the report lists, per input, what it
 * leaked. */
#ifndef IMGLEAK_BYINPUT_H
#define IMGLEAK_BYINPUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name; /* in a snapshot's strings (owned by the report's snapshots) */
    uint64_t bytes, blocks, handles;
} input_use_t;

/* A list of inputs, each once, largest first once sorted. */
typedef struct {
    input_use_t *uses;
    size_t count;
} input_list_t;

/* Adds to name's line of the list (added when new). 0, or -1 out of memory. */
int input_list_add(input_list_t *list, const char *name, uint64_t bytes, uint64_t blocks,
                   uint64_t handles);
/* By bytes, then handles, then blocks, largest first; by name at equal weight. */
void input_list_sort(input_list_t *list);
void input_list_free(input_list_t *list);

struct report;
/* After the entries are built: each entry's list takes its handle groups' inputs too, and the
 * report's list gets what each input leaked (entries of leaked, possible and unscanned memory,
 * and leaked handles) and how many inputs the processes saw. 0, or -1 with error_get(). */
int model_build_inputs(struct report *rep);

#endif
