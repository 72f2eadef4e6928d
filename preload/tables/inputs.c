/* The inputs table and each thread's current input (see inputs.h). Names are interned once,
 * in memory of the shim's own mapped on the first input, under a mutex: inputs begin a few times
 * per image, never per allocation. The hot path reads only imgleak_guard.input. */
#define _GNU_SOURCE
#include "inputs.h"

#include "guard.h"
#include "os.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NAME_MAX_LEN 255

static struct {
    pthread_mutex_t lock;
    uint32_t *offsets; /* id - 1 -> name's offset in names */
    uint32_t *index;   /* open addressing by name hash: ids, 0 = empty */
    char *names;
    size_t names_used, names_bytes, index_slots;
    _Atomic uint32_t count;
    _Atomic uint64_t unnamed;
    uint32_t limit;
    int unusable; /* no memory for the table: every input is dropped */
} in = {.lock = PTHREAD_MUTEX_INITIALIZER, .limit = 4096};

/* The thread's inputs besides the one the hot path reads: not on the hot path. */
typedef struct {
    uint32_t tag;      /* set by the program; wins */
    uint32_t automatic; /* named by a codec hook */
    uintptr_t handle;  /* the handle the automatic input was given to, 0: none yet */
    uintptr_t unclaimed[INPUTS_UNCLAIMED]; /* handles made with no input, the newest last */
    unsigned nunclaimed;
} thread_inputs_t;
static __thread thread_inputs_t mine __attribute__((tls_model("initial-exec")));

static void publish(void)
{
    imgleak_guard.input = mine.tag ? mine.tag : mine.automatic;
    imgleak_guard.frame_key = imgleak_guard.input; /* the stack cache tells inputs apart */
}

static uint64_t fnv(const void *data, size_t len, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    return h;
}

/* A buffer's digest: a word at a time (a decoder's input is read whole at least once anyway;
 * this pass costs a fraction of that), then the tail byte by byte. */
static uint64_t digest(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * UINT64_C(0x9e3779b97f4a7c15);
        h ^= h >> 29;
    }
    return fnv(p + i, len - i, h);
}

/* Mapped on the first input, sized by the limit (pages cost nothing until touched). */
static int table_ready(void)
{
    if (in.offsets || in.unusable)
        return !in.unusable;
    in.index_slots = 16;
    while (in.index_slots < 2 * (size_t)in.limit)
        in.index_slots *= 2;
    in.names_bytes = (size_t)in.limit * (NAME_MAX_LEN + 1);
    in.offsets = os_map(in.limit * sizeof *in.offsets);
    in.index = os_map(in.index_slots * sizeof *in.index);
    in.names = os_map(in.names_bytes);
    if (!in.offsets || !in.index || !in.names) {
        os_unmap(in.offsets, in.limit * sizeof *in.offsets);
        os_unmap(in.index, in.index_slots * sizeof *in.index);
        os_unmap(in.names, in.names_bytes);
        in.offsets = NULL;
        in.unusable = 1;
    }
    return !in.unusable;
}

/* The id of this name, interned on first sight; 0 when the table is full. */
static uint32_t intern(const char *name)
{
    size_t len = strnlen(name, NAME_MAX_LEN);
    uint64_t h = fnv(name, len, UINT64_C(0xcbf29ce484222325));
    uint32_t id = 0;
    pthread_mutex_lock(&in.lock);
    if (in.limit && table_ready()) {
        size_t i = (size_t)h & (in.index_slots - 1);
        for (; in.index[i]; i = (i + 1) & (in.index_slots - 1)) {
            const char *there = in.names + in.offsets[in.index[i] - 1];
            if (strncmp(there, name, len) == 0 && there[len] == '\0') {
                id = in.index[i];
                break;
            }
        }
        uint32_t n = atomic_load(&in.count);
        if (!id && n < in.limit && in.names_used + len + 1 <= in.names_bytes) {
            memcpy(in.names + in.names_used, name, len);
            in.names[in.names_used + len] = '\0';
            in.offsets[n] = (uint32_t)in.names_used;
            in.names_used += len + 1;
            id = n + 1;
            in.index[i] = id;
            atomic_store_explicit(&in.count, id, memory_order_release);
        }
    }
    pthread_mutex_unlock(&in.lock);
    if (!id)
        atomic_fetch_add_explicit(&in.unnamed, 1, memory_order_relaxed);
    return id;
}

void inputs_set_tag(const char *tag)
{
    mine.tag = tag && *tag ? intern(tag) : 0;
    publish();
}

/* The path a descriptor was opened with, as the kernel has it, relative to the current directory
 * when it is under it (shorter, and the same on every machine that runs the test). */
static int name_of_fd(int fd, char *out, size_t cap)
{
    char link[32], cwd[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, cap - 1);
    if (n <= 0)
        return -1;
    out[n] = '\0';
    long c = syscall(SYS_getcwd, cwd, sizeof cwd);
    size_t cl = c > 0 ? strlen(cwd) : 0;
    if (cl > 1 && strncmp(out, cwd, cl) == 0 && out[cl] == '/')
        memmove(out, out + cl + 1, (size_t)n - cl);
    return 0;
}

void inputs_begin(int kind, const void *src, size_t len)
{
    char name[NAME_MAX_LEN + 1];
    if (mine.tag) { /* the program's name wins: the codec's is not another input */
        mine.automatic = 0;
        mine.handle = 0;
        return;
    }
    switch (kind) {
    case INPUT_PATH:
        if (!src)
            return;
        snprintf(name, sizeof name, "%s", (const char *)src);
        break;
    case INPUT_FD:
        if (name_of_fd((int)(intptr_t)src, name, sizeof name) < 0)
            snprintf(name, sizeof name, "fd %d", (int)(intptr_t)src);
        break;
    case INPUT_STREAM: {
        int fd = src ? fileno((FILE *)(uintptr_t)src) : -1;
        if (fd < 0 || name_of_fd(fd, name, sizeof name) < 0)
            snprintf(name, sizeof name, "stream %p", src);
        break;
    }
    default: /* a digest of the content and its size: the same bytes twice are one input */
        if (!src)
            return;
        snprintf(name, sizeof name, "memory:%016llx (%zu bytes)",
                 (unsigned long long)digest(src, len), len);
        break;
    }
    mine.automatic = intern(name);
    mine.handle = 0;
    publish();
}

void inputs_bind_handle(uintptr_t handle)
{
    if (mine.automatic)
        mine.handle = handle;
}

void inputs_new_handle(void)
{
    if (mine.automatic && mine.handle) {
        mine.automatic = 0;
        mine.handle = 0;
        publish();
    }
}

void inputs_end_handle(uintptr_t handle)
{
    if (handle && mine.automatic && mine.handle == handle) {
        mine.automatic = 0;
        mine.handle = 0;
        publish();
    }
}

void inputs_note_unclaimed(uintptr_t handle)
{
    if (mine.nunclaimed == INPUTS_UNCLAIMED) {
        memmove(mine.unclaimed, mine.unclaimed + 1, (INPUTS_UNCLAIMED - 1) * sizeof *mine.unclaimed);
        mine.nunclaimed--;
    }
    mine.unclaimed[mine.nunclaimed++] = handle;
}

unsigned inputs_take_unclaimed(uintptr_t out[INPUTS_UNCLAIMED])
{
    unsigned n = mine.nunclaimed;
    memcpy(out, mine.unclaimed, n * sizeof *out);
    mine.nunclaimed = 0;
    return n;
}

uint32_t inputs_current(void)
{
    return imgleak_guard.input;
}

void inputs_foreach(void (*visit)(uint32_t id, const char *name, void *ctx), void *ctx)
{
    uint32_t n = atomic_load_explicit(&in.count, memory_order_acquire);
    for (uint32_t id = 1; id <= n; id++)
        visit(id, in.names + in.offsets[id - 1], ctx);
}

uint32_t inputs_seen(void)
{
    return atomic_load(&in.count);
}

uint64_t inputs_unnamed(void)
{
    return atomic_load(&in.unnamed);
}

void inputs_set_limit(uint32_t max_inputs)
{
    in.limit = max_inputs;
}

void inputs_after_fork_child(void)
{
    pthread_mutex_init(&in.lock, NULL);
}
