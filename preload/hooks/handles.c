/* The handle store (see handles.h): an open-addressing map of live handles by address and a map
 * of aggregated events by (state, type, function, stack), both in memory of the shim's own,
 * under one mutex. A small ring of recently destroyed addresses tells a second destroy from a
 * destroy of something never created. */
#include "handles.h"

#include "os.h"
#include "stacks.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#define RECENT 1024

typedef struct {
    uint64_t address; /* 0 empty, 1 tombstone */
    handle_rec_t rec;
} live_slot_t;

static struct {
    pthread_mutex_t lock;
    live_slot_t *live;
    size_t live_capacity, live_used, live_count;
    handle_rec_t *events;
    size_t events_count, events_capacity;
    struct {
        uint64_t address;
        uint32_t type;
    } recent[RECENT];
    unsigned recent_next;
} hs = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Signals are blocked while the lock is held, as in ownfd.c: a handler that closes a descriptor
 * (fds.h) on a thread inside a codec hook would otherwise wait for the lock its thread holds. */
static void lock(sigset_t *saved)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, saved);
    pthread_mutex_lock(&hs.lock);
}

static void unlock(const sigset_t *saved)
{
    pthread_mutex_unlock(&hs.lock);
    pthread_sigmask(SIG_SETMASK, saved, NULL);
}

int handles_init(void)
{
    return 0;
}

void handles_after_fork_child(void)
{
    pthread_mutex_init(&hs.lock, NULL);
}

static size_t slot_of(uint64_t address, size_t capacity)
{
    return (size_t)(((address >> 4) * UINT64_C(0x9e3779b97f4a7c15)) >> 20) & (capacity - 1);
}

static live_slot_t *find(uint64_t address)
{
    if (!hs.live)
        return NULL;
    for (size_t i = slot_of(address, hs.live_capacity), n = 0; n < hs.live_capacity;
         i = (i + 1) & (hs.live_capacity - 1), n++) {
        if (hs.live[i].address == 0)
            return NULL;
        if (hs.live[i].address == address)
            return &hs.live[i];
    }
    return NULL;
}

static int grow_live(void)
{
    size_t cap = hs.live_capacity ? hs.live_capacity * 2 : 1024;
    while (cap < hs.live_count * 4)
        cap *= 2;
    live_slot_t *fresh = os_map(cap * sizeof *fresh);
    if (!fresh)
        return -1;
    for (size_t i = 0; i < hs.live_capacity; i++) {
        if (hs.live[i].address <= 1)
            continue;
        size_t j = slot_of(hs.live[i].address, cap);
        while (fresh[j].address)
            j = (j + 1) & (cap - 1);
        fresh[j] = hs.live[i];
    }
    os_unmap(hs.live, hs.live_capacity * sizeof *hs.live);
    hs.live = fresh;
    hs.live_capacity = cap;
    hs.live_used = hs.live_count;
    return 0;
}

static void insert_live(const handle_rec_t *rec)
{
    if ((hs.live_used + 1) * 2 > hs.live_capacity && grow_live() < 0)
        return;
    size_t i = slot_of(rec->address, hs.live_capacity);
    while (hs.live[i].address > 1)
        i = (i + 1) & (hs.live_capacity - 1);
    if (hs.live[i].address == 0)
        hs.live_used++;
    hs.live[i].address = rec->address;
    hs.live[i].rec = *rec;
    hs.live_count++;
}

static void remove_live(live_slot_t *slot)
{
    slot->address = 1;
    hs.live_count--;
}

/* Adds to the aggregated event (state, type, function, stack). Linear: events are few. */
static void note_event(uint32_t state, uint32_t type, uint32_t function, uint32_t stack_id,
                       uint32_t birth_s)
{
    for (size_t i = 0; i < hs.events_count; i++) {
        handle_rec_t *e = &hs.events[i];
        if (e->state == state && e->type == type && e->function == function &&
            e->stack_id == stack_id) {
            e->count++;
            return;
        }
    }
    if (hs.events_count == hs.events_capacity) {
        size_t cap = hs.events_capacity ? hs.events_capacity * 2 : 64;
        handle_rec_t *fresh = os_map(cap * sizeof *fresh);
        if (!fresh)
            return;
        if (hs.events)
            memcpy(fresh, hs.events, hs.events_count * sizeof *fresh);
        os_unmap(hs.events, hs.events_capacity * sizeof *fresh);
        hs.events = fresh;
        hs.events_capacity = cap;
    }
    hs.events[hs.events_count++] = (handle_rec_t){0, type, function, stack_id, birth_s, 0, state, 1};
}

void handles_create(uint64_t address, uint32_t type, uint32_t function, uint32_t stack_id,
                    uint32_t birth_s, unsigned flags)
{
    if (address <= 1)
        return;
    sigset_t saved;
    lock(&saved);
    live_slot_t *old = find(address);
    if (old && (flags & HANDLES_SHARED) && old->rec.type == type) {
        old->rec.refs++;
        unlock(&saved); /* the signal mask too: left blocked, the thread would never take one again */
        return;
    }
    if (old) {
        /* created again over one never destroyed: the earlier one is lost for good (a
         * jpeg_decompress_struct on the stack, created anew on every call) */
        if (!(flags & HANDLES_REPLACES))
            note_event(HANDLE_ABANDONED, old->rec.type, old->rec.function, old->rec.stack_id,
                       old->rec.birth_s);
        remove_live(old);
    }
    handle_rec_t rec = {address, type, function, stack_id, birth_s, 1, HANDLE_LIVE, 1};
    insert_live(&rec);
    unlock(&saved);
}

void handles_reference(uint64_t address)
{
    sigset_t saved;
    lock(&saved);
    live_slot_t *slot = find(address);
    if (slot)
        slot->rec.refs++;
    unlock(&saved);
}

int handles_live(uint64_t address)
{
    pthread_mutex_lock(&hs.lock);
    int live = find(address) != NULL;
    pthread_mutex_unlock(&hs.lock);
    return live;
}

void handles_reset(uint64_t address, uint64_t types)
{
    sigset_t saved;
    lock(&saved);
    live_slot_t *slot = find(address);
    if (slot && (types & (UINT64_C(1) << slot->rec.type))) {
        note_event(HANDLE_ABANDONED, slot->rec.type, slot->rec.function, slot->rec.stack_id,
                   slot->rec.birth_s);
        remove_live(slot);
    }
    unlock(&saved);
}

static int recently_destroyed(uint64_t address)
{
    for (unsigned i = 0; i < RECENT; i++)
        if (hs.recent[i].address == address)
            return 1;
    return 0;
}

unsigned handles_destroy(uint64_t address, uint64_t types, uint32_t function, int report_misuse,
                         uint32_t (*stack_now)(void), uint32_t birth_s)
{
    unsigned destroyed = 0;
    if (address == 0)
        return 0; /* destroy functions accept NULL */
    sigset_t saved;
    lock(&saved);
    live_slot_t *slot = find(address);
    if (slot) {
        if (!(types & (UINT64_C(1) << slot->rec.type)) && report_misuse)
            note_event(HANDLE_DESTROY_WRONG, slot->rec.type, function, stack_now(), birth_s);
        if (--slot->rec.refs == 0) {
            hs.recent[hs.recent_next].address = address;
            hs.recent[hs.recent_next].type = slot->rec.type;
            hs.recent_next = (hs.recent_next + 1) % RECENT;
            destroyed = 1 + slot->rec.type;
            remove_live(slot);
        }
    } else if (report_misuse) {
        uint32_t type = (uint32_t)__builtin_ctzll(types ? types : 1);
        note_event(recently_destroyed(address) ? HANDLE_DESTROY_TWICE : HANDLE_DESTROY_UNKNOWN,
                   type, function, stack_now(), birth_s);
    }
    unlock(&saved);
    return destroyed;
}

void handles_charge_to_input(uint64_t address, uint32_t input)
{
    sigset_t saved;
    lock(&saved);
    live_slot_t *slot = find(address);
    stack_view_t v;
    if (slot && stacks_get(slot->rec.stack_id, &v) && v.input != input) {
        uint32_t id = stacks_intern(v.frames, v.depth, v.truncated, input);
        if (id)
            slot->rec.stack_id = id;
    }
    unlock(&saved);
}

void handles_forget_type(uint32_t type)
{
    sigset_t saved;
    lock(&saved);
    for (size_t i = 0; i < hs.live_capacity; i++)
        if (hs.live[i].address > 1 && hs.live[i].rec.type == type)
            remove_live(&hs.live[i]);
    unlock(&saved);
}

void handles_forget_range(uint64_t first, uint64_t last)
{
    sigset_t saved;
    lock(&saved);
    for (size_t i = 0; i < hs.live_capacity; i++)
        if (hs.live[i].address >= first && hs.live[i].address <= last)
            remove_live(&hs.live[i]);
    unlock(&saved);
}

void handles_foreach(void (*visit)(const handle_rec_t *, void *), void *ctx)
{
    sigset_t saved;
    lock(&saved);
    for (size_t i = 0; i < hs.live_capacity; i++)
        if (hs.live[i].address > 1)
            visit(&hs.live[i].rec, ctx);
    for (size_t i = 0; i < hs.events_count; i++)
        visit(&hs.events[i], ctx);
    unlock(&saved);
}
