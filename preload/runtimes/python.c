/* Python frames in native stacks (see python.h), CPython 3.11 on x86-64 and aarch64 (LP64).
 *
 * Where the frames are (Include/internal/pycore_frame.h, pystate.h of 3.11): the thread's
 * PyThreadState is the value of _PyRuntime.gilstate.autoTSSkey, a pthread key, for every thread
 * the interpreter knows, holding the GIL or not (Pillow drops it around resize and decode);
 * tstate->cframe->current_frame is the innermost _PyInterpreterFrame, and each frame's
 * `previous` leads outwards. One call of _PyEval_EvalFrameDefault runs a run of frames, the
 * outermost of which has is_entry set: that is how the runs are matched to the evaluator's native
 * frames. The frame's code object gives file and function; the line is found from prev_instr in
 * the code's location table (Objects/locations.md) at capture time, so it is right even when the
 * code object is freed before the snapshot.
 *
 * Code objects are interned here, once each, in the shim's own memory: key the code object's
 * address together with its file and name objects and first line (a code object freed and another
 * made at the same address with other names gets a slot of its own), value the names copied as
 * UTF-8. Lock-free: a slot is claimed with one compare-and-swap and published when written; a
 * reader that meets a slot being written passes it by (the worst case is a second slot for the
 * same code). Offsets below were taken from the 3.11 headers (offsetof) and hold for every 3.11
 * release: CPython keeps these structures fixed within a minor version. */
#define _GNU_SOURCE
#include "python.h"

#include "imgleak/format.h"
#include "os.h"
#include "unwind.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* CPython 3.11 layout */
#define RT_AUTO_TSS_KEY 592  /* _PyRuntime.gilstate.autoTSSkey: {int initialised; pthread_key_t} */
#define TS_CFRAME 56         /* PyThreadState.cframe */
#define CF_CURRENT_FRAME 8   /* _PyCFrame.current_frame */
#define FR_CODE 32           /* _PyInterpreterFrame.f_code */
#define FR_PREVIOUS 48
#define FR_PREV_INSTR 56
#define FR_IS_ENTRY 68
#define FR_OWNER 69
#define FR_OWNED_BY_GENERATOR 1
#define OB_TYPE 8
#define CO_FIRSTLINENO 72
#define CO_FILENAME 112
#define CO_QUALNAME 128
#define CO_LINETABLE 136
#define CO_FIRSTTRACEABLE 168
#define CO_CODE_ADAPTIVE 184 /* the bytecode, 2-byte code units */
#define BYTES_SIZE 16        /* PyVarObject.ob_size */
#define BYTES_DATA 32        /* PyBytesObject.ob_sval */
#define STR_LENGTH 16        /* PyASCIIObject.length */
#define STR_STATE 32
#define STR_ASCII_DATA 48    /* compact ASCII: the characters follow the PyASCIIObject */
#define STR_UTF8_LENGTH 48   /* PyCompactUnicodeObject.utf8_length */
#define STR_UTF8 56
#define STR_COMPACT_DATA 72

#define PY_WALK_MAX 1024 /* frames visited per stack at most (a cycle cannot hang malloc) */
#define CODE_SLOTS (1u << 16)
#define CODE_PROBES 64
#define NAME_ARENA (16u << 20)
#define NAME_MAX_BYTES 1024

enum { SLOT_EMPTY, SLOT_BUSY, SLOT_READY };

typedef struct {
    _Atomic uint32_t state;
    uint32_t first_line;
    uintptr_t code, file_obj, name_obj, table, table_size;
    uint32_t file_at, name_at;
    uint16_t file_len, name_len;
    /* where the last walk of its location table stopped (code_line), packed into one word so
     * that two threads never read halves of two walks: 0, or CURSOR_PACK */
    _Atomic uint64_t cursor;
} code_slot_t;

/* A cursor: the byte of the entry in the table (20 bits), its first code unit (22 bits) and the
 * line before its delta (22 bits, biased); a walk that does not fit is not remembered. */
#define CURSOR_OFFSET_BITS 20
#define CURSOR_ADDR_BITS 22
#define CURSOR_LINE_SHIFT (CURSOR_OFFSET_BITS + CURSOR_ADDR_BITS)
#define CURSOR_FITS(offset, addr, line)                                                           \
    ((offset) < (1u << CURSOR_OFFSET_BITS) && (addr) < (1u << CURSOR_ADDR_BITS) && (line) >= 0 && \
     (line) < (1 << (64 - CURSOR_LINE_SHIFT)) - 1)
#define CURSOR_PACK(offset, addr, line)                                                           \
    ((uint64_t)(offset) | (uint64_t)(addr) << CURSOR_OFFSET_BITS |                                \
     (uint64_t)((line) + 1) << CURSOR_LINE_SHIFT)
#define CURSOR_OFFSET(c) ((c) & ((UINT64_C(1) << CURSOR_OFFSET_BITS) - 1))
#define CURSOR_ADDR(c) ((c) >> CURSOR_OFFSET_BITS & ((UINT64_C(1) << CURSOR_ADDR_BITS) - 1))
#define CURSOR_LINE(c) ((int)((c) >> CURSOR_LINE_SHIFT) - 1)

/* Per thread, the frames met lately: a loop allocates from the same few lines over and over,
 * and walking a long location table each time is most of the capture's cost. The key holds
 * what tells two code objects at one address apart (their line table and name objects). It
 * is small: the shim's thread-local storage must fit the static TLS that glibc keeps spare for
 * a library loaded late (imgleak attach dlopens the shim), about 1.5 KiB in all. */
#define LINE_CACHE 16
typedef struct {
    uintptr_t instr, code, table, name;
    uint32_t id, line;
} line_entry_t;
static __thread line_entry_t line_cache[LINE_CACHE];

static uintptr_t runtime_addr, code_type, eval_lo, eval_hi;
static char runtime_text[64]; /* "CPython 3.11.2"; empty when there is no interpreter */
static char malloc_text[32]; /* PYTHONMALLOC as the program got it */
static int malloc_by_run;    /* imgleak run set it (IMGLEAK_PYTHONMALLOC=run) */
static int frames_readable;
static code_slot_t *code_slots;
static char *name_arena;
static _Atomic size_t name_used;

static uintptr_t word(uintptr_t addr)
{
    return *(const uintptr_t *)addr;
}

/* non-NULL, aligned and in user space: worth dereferencing on this thread's own chain */
static int plausible(uintptr_t p)
{
    return p && !(p & 7) && p < (UINT64_C(1) << 47);
}

static void put_decimal(char **at, unsigned v)
{
    char digits[12];
    int n = 0;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < 11);
    while (n)
        *(*at)++ = digits[--n];
}

void python_init(void)
{
    if (runtime_text[0])
        return;
    const uint32_t *version = dlsym(RTLD_DEFAULT, "Py_Version"); /* 3.11 and later */
    void *runtime = dlsym(RTLD_DEFAULT, "_PyRuntime");
    void *eval = dlsym(RTLD_DEFAULT, "_PyEval_EvalFrameDefault");
    void *code = dlsym(RTLD_DEFAULT, "PyCode_Type");
    if (!runtime || !code)
        return; /* not CPython, or older than 3.11 (no Py_Version): nothing said about it */
    char *at = runtime_text;
    memcpy(at, "CPython ", 8);
    at += 8;
    unsigned v = version ? *version : 0;
    if (version) {
        put_decimal(&at, v >> 24);
        *at++ = '.';
        put_decimal(&at, (v >> 16) & 0xff);
        *at++ = '.';
        put_decimal(&at, (v >> 8) & 0xff);
    } else {
        memcpy(at, "3.10 or older", 13);
        at += 13;
    }
    *at = '\0';
    const char *pm = secure_getenv("PYTHONMALLOC"), *by = secure_getenv("IMGLEAK_PYTHONMALLOC");
    if (pm)
        strncpy(malloc_text, pm, sizeof malloc_text - 1);
    malloc_by_run = pm && by && strcmp(by, "run") == 0;
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (!version || (v >> 16) != 0x030b || !eval ||
        !dladdr1(eval, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym || !sym->st_size)
        return; /* another layout: named in the snapshot, frames not read */
    code_slots = os_map(sizeof(code_slot_t) * CODE_SLOTS);
    name_arena = os_map(NAME_ARENA);
    if (!code_slots || !name_arena)
        return;
    runtime_addr = (uintptr_t)runtime;
    code_type = (uintptr_t)code;
    eval_lo = (uintptr_t)eval;
    eval_hi = eval_lo + sym->st_size;
    frames_readable = 1;
    os_log("python: %s, frames from _PyEval_EvalFrameDefault %p", runtime_text, eval);
}

int python_runtime_found(void)
{
    return runtime_text[0] != 0;
}

const char *python_runtime(unsigned *flags, const char **pythonmalloc)
{
    *flags = (frames_readable ? IMGLEAK_SCRIPT_RT_FRAMES : 0) |
             (malloc_by_run ? IMGLEAK_SCRIPT_RT_MALLOC_BY_RUN : 0);
    *pythonmalloc = malloc_text;
    return runtime_text[0] ? runtime_text : NULL;
}

/* The calling thread's PyThreadState, or 0 (the key not made yet, or a thread Python never saw). */
static uintptr_t this_thread_state(void)
{
    const int *tss = (const int *)(runtime_addr + RT_AUTO_TSS_KEY);
    if (!atomic_load_explicit((const _Atomic int *)tss, memory_order_acquire))
        return 0;
    return (uintptr_t)pthread_getspecific(*(const pthread_key_t *)(tss + 1));
}

/* Copies a str object's text (UTF-8) into the arena; *len 0 when it cannot be read. */
static uint32_t copy_name(uintptr_t str, uint16_t *len)
{
    *len = 0;
    if (!plausible(str))
        return 0;
    uint32_t state = *(const uint32_t *)(str + STR_STATE);
    size_t n = (size_t)word(str + STR_LENGTH);
    const unsigned char *text = NULL;
    int latin1 = 0;
    int compact = (state >> 5) & 1, ascii = (state >> 6) & 1, kind = (state >> 2) & 7;
    if (compact && ascii) {
        text = (const unsigned char *)(str + STR_ASCII_DATA);
    } else if (compact && word(str + STR_UTF8)) { /* the UTF-8 form, when Python made one */
        text = (const unsigned char *)word(str + STR_UTF8);
        n = (size_t)word(str + STR_UTF8_LENGTH);
    } else if (compact && kind == 1) { /* Latin-1: non-ASCII shown as '?' */
        text = (const unsigned char *)(str + STR_COMPACT_DATA);
        latin1 = 1;
    }
    if (!text)
        return 0;
    if (n > NAME_MAX_BYTES)
        n = NAME_MAX_BYTES;
    size_t at = atomic_fetch_add_explicit(&name_used, n, memory_order_relaxed);
    if (at + n > NAME_ARENA)
        return 0;
    for (size_t i = 0; i < n; i++)
        name_arena[at + i] = (char)(latin1 && text[i] > 0x7f ? '?' : text[i]);
    *len = (uint16_t)n;
    return (uint32_t)at;
}

/* The id of this code object (1, 2, ...), interning it on first sight; 0 when the table is full. */
static uint32_t code_id(uintptr_t code)
{
    uintptr_t file = word(code + CO_FILENAME), name = word(code + CO_QUALNAME);
    uint32_t first = *(const uint32_t *)(code + CO_FIRSTLINENO);
    uint32_t h = (uint32_t)((code >> 4) * 0x9e3779b97f4a7c15u >> 40);
    for (uint32_t probe = 0; probe < CODE_PROBES; probe++) {
        uint32_t i = (h + probe) & (CODE_SLOTS - 1);
        code_slot_t *s = &code_slots[i];
        uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st == SLOT_READY) {
            if (s->code == code && s->file_obj == file && s->name_obj == name && s->first_line == first)
                return i + 1;
            continue;
        }
        uint32_t empty = SLOT_EMPTY;
        if (st != SLOT_EMPTY ||
            !atomic_compare_exchange_strong_explicit(&s->state, &empty, SLOT_BUSY,
                                                     memory_order_acquire, memory_order_relaxed))
            continue;
        s->code = code;
        s->file_obj = file;
        s->name_obj = name;
        s->table = word(code + CO_LINETABLE);
        s->table_size = plausible(s->table) ? word(s->table + BYTES_SIZE) : 0;
        atomic_store_explicit(&s->cursor, 0, memory_order_relaxed);
        s->first_line = first;
        s->file_at = copy_name(file, &s->file_len);
        s->name_at = copy_name(name, &s->name_len);
        atomic_store_explicit(&s->state, SLOT_READY, memory_order_release);
        return i + 1;
    }
    return 0;
}

static int signed_varint(const uint8_t *p, const uint8_t *end)
{
    unsigned read = 0, value = 0, shift = 0;
    do {
        if (p >= end || shift > 24)
            break;
        read = *p++;
        value |= (read & 63) << shift;
        shift += 6;
    } while (read & 64);
    return (value & 1) ? -(int)(value >> 1) : (int)(value >> 1);
}

/* The line being run: the 3.11 location table, walked up to the instruction (locations.md).
 * slot (its code_id's, or NULL) remembers where the walk stopped: a module's top-level code (an
 * import) runs once, allocating at one instruction after another, and a walk from the table's
 * start each time made an import's cost grow with the square of the module's length. */
static uint32_t code_line(uintptr_t code, uintptr_t prev_instr, code_slot_t *slot)
{
    int line = *(const int *)(code + CO_FIRSTLINENO);
    uintptr_t table = word(code + CO_LINETABLE), start = code + CO_CODE_ADAPTIVE;
    if (!plausible(table) || prev_instr < start)
        return (uint32_t)line;
    uintptr_t target = (prev_instr - start) / 2, addr = 0;
    const uint8_t *data = (const uint8_t *)(table + BYTES_DATA), *p = data;
    const uint8_t *end = p + (size_t)word(table + BYTES_SIZE);
    /* a code object and its table freed and others made at both addresses: not the same table */
    if (slot && (slot->table != table || slot->table_size != (uintptr_t)(end - data)))
        slot = NULL;
    uint64_t cursor = slot ? atomic_load_explicit(&slot->cursor, memory_order_relaxed) : 0;
    if (cursor && CURSOR_ADDR(cursor) <= target && data + CURSOR_OFFSET(cursor) < end) {
        p = data + CURSOR_OFFSET(cursor); /* on from where the last walk stopped */
        addr = CURSOR_ADDR(cursor);
        line = CURSOR_LINE(cursor);
    }
    while (p < end && (*p & 0x80)) {
        unsigned kind = (*p >> 3) & 15, units = (*p & 7) + 1u;
        int before = line;
        if (kind == 13 || kind == 14) /* no columns / long form: a signed line delta follows */
            line += signed_varint(p + 1, end);
        else if (kind >= 10 && kind <= 12) /* one-line forms: delta 0, 1 or 2 */
            line += (int)kind - 10;
        if (target < addr + units) {
            size_t here = (size_t)(p - data);
            if (slot && CURSOR_FITS(here, addr, before))
                atomic_store_explicit(&slot->cursor, CURSOR_PACK(here, addr, before),
                                      memory_order_relaxed);
            return kind == 15 || line < 0 ? 0 : (uint32_t)line; /* 15: no location */
        }
        addr += units;
        do
            p++;
        while (p < end && !(*p & 0x80));
    }
    return 0;
}

static int frame_is_complete(uintptr_t frame, uintptr_t code)
{
    if (*(const uint8_t *)(frame + FR_OWNER) == FR_OWNED_BY_GENERATOR)
        return 1;
    int first = *(const int *)(code + CO_FIRSTTRACEABLE);
    return word(frame + FR_PREV_INSTR) >= code + CO_CODE_ADAPTIVE + 2u * (unsigned)first;
}

/* The script frame for this code at this instruction: its code id and line. */
static uint64_t frame_value(uintptr_t code, uintptr_t instr)
{
    uintptr_t table = word(code + CO_LINETABLE), name = word(code + CO_QUALNAME);
    line_entry_t *e = &line_cache[((instr >> 1) ^ (instr >> 9)) & (LINE_CACHE - 1)];
    if (e->instr != instr || e->code != code || e->table != table || e->name != name || !e->id) {
        uint32_t id = code_id(code);
        if (!id)
            return IMGLEAK_FRAME_SCRIPT_MAKE(0, code_line(code, instr, NULL));
        *e = (line_entry_t){instr, code, table, name, id, code_line(code, instr, &code_slots[id - 1])};
    }
    return IMGLEAK_FRAME_SCRIPT_MAKE(e->id, e->line);
}

unsigned python_interleave_frames(uint64_t *frames, unsigned depth, unsigned max, int *truncated)
{
    if (!frames_readable)
        return depth;
    uintptr_t tstate = this_thread_state();
    if (!plausible(tstate) || !plausible(word(tstate + TS_CFRAME)))
        return depth;
    uintptr_t frame = word(word(tstate + TS_CFRAME) + CF_CURRENT_FRAME);
    if (!plausible(frame))
        return depth;
    uint64_t native[UNWIND_DEPTH_MAX];
    memcpy(native, frames, depth * sizeof *native);
    unsigned out = 0, walked = 0;
    for (unsigned i = 0; i < depth; i++) {
        while (native[i] > eval_lo && native[i] <= eval_hi && plausible(frame) && walked++ < PY_WALK_MAX) {
            uintptr_t code = word(frame + FR_CODE);
            int entry = *(const uint8_t *)(frame + FR_IS_ENTRY);
            if (plausible(code) && word(code + OB_TYPE) == code_type && frame_is_complete(frame, code)) {
                if (out < max)
                    frames[out++] = frame_value(code, word(frame + FR_PREV_INSTR));
                else
                    *truncated = 1;
            }
            frame = word(frame + FR_PREVIOUS);
            if (entry)
                break;
        }
        if (out < max)
            frames[out++] = native[i];
        else
            *truncated = 1;
    }
    return out;
}

int python_object_start(uint64_t block, uint64_t offset)
{
    if (!runtime_text[0] || !offset || offset > 32 || (offset & 7))
        return 0;
    if (offset == 16 || offset == 32)
        return 1; /* behind PyGC_Head, or behind it and the managed-dict pointers */
    /* 3.11's _PyDictValues (an instance's attributes): the array is handed out behind a prefix
     * whose last byte holds the prefix's size (Objects/dictobject.c, new_values) */
    return *(const uint8_t *)(block + offset - 1) == offset;
}

void python_foreach_code(void (*visit)(const python_code_t *code, void *ctx), void *ctx)
{
    for (uint32_t i = 0; code_slots && i < CODE_SLOTS; i++) {
        const code_slot_t *s = &code_slots[i];
        if (atomic_load_explicit(&s->state, memory_order_acquire) != SLOT_READY)
            continue;
        python_code_t c = {i + 1, s->first_line, name_arena + s->file_at, name_arena + s->name_at,
                           s->file_len, s->name_len};
        visit(&c, ctx);
    }
}
