/* The live table: every heap block the program holds, keyed by address, in a lock-free
 * open-addressing hash table. Insert and remove are a few atomic operations on the thread's own
 * cache lines; only growing the table briefly holds writers back (see table.c). */
#ifndef IMGLEAK_TABLE_H
#define IMGLEAK_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define TABLE_SIZE_MAX ((UINT64_C(1) << 40) - 1) /* larger sizes are stored as this */
#define TABLE_STACK_MAX ((1u << 24) - 1)         /* stack ids above this are stored as 0 */
#define TABLE_BIRTH_MAX 0xffffu                  /* seconds; later births are stored as this */

typedef struct {
    uint64_t size;
    uint32_t stack_id;
    uint32_t birth_s;
} live_info_t;

/* capacity: initial slots; max_capacity: the table never grows past it (0: no limit but memory) */
int table_init(size_t capacity, size_t max_capacity);
void table_destroy(void);
/* Most frees will be of blocks the table never saw (sampling): look before taking a mark. */
void table_set_mostly_absent(int on);
/* In a forked child: other threads are gone mid-operation, so their marks are cleared. */
void table_after_fork_child(void);
/* Forgets every block; only while no other thread can use the table (a forked child). */
void table_forget_all(void);

/* 0, or -1 when the block could not be recorded (counted in table_dropped) */
int table_insert(uint64_t addr, const live_info_t *info);
/* 1 and *out filled when addr was live, 0 when the table never saw it */
int table_remove(uint64_t addr, live_info_t *out);
int table_lookup(uint64_t addr, live_info_t *out);

typedef void (*table_visit_fn)(uint64_t addr, const live_info_t *info, void *ctx);
/* Visits every live block; other threads may go on inserting and removing meanwhile. */
void table_foreach(table_visit_fn visit, void *ctx);

size_t table_live(void);
size_t table_capacity(void);
uint64_t table_dropped(void);
uint64_t table_oversized(void);

#endif
