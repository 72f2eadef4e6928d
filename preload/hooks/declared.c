/* Declared handle functions (see declared.h): what the trampolines of declared_stubs.S call
 * before and after the real function, for every hooked function (the codecs of codecs.handles
 * as much as a user's). A destroy is recorded before the call, as free() is, so a reused address
 * is never confused, and a create after it, when it succeeded; the guard is down around the real
 * call (the library's mallocs are tracked as usual). Handles a library makes for itself are not
 * the program's: a call from inside the function's library or any declared type's (libvips
 * decoding a JPEG: the program's handle is the VipsImage that holds the jpeg_decompress_struct)
 * creates nothing and misuses nothing, nor does it end a handle that is the program's own struct,
 * which the library empties only to fill it again (refilled). A call made from inside another
 * hooked function counts as inside too: the trampoline calls the real function and returns
 * (never a tail call), so even a library function that tail-calls another (jpeg_destroy_decompress
 * jumps to jpeg_destroy) leaves a return address in the shim. For a refcounted type the
 * program's references are what is counted: a ref or a destroy from inside (the library keeping
 * an object in a cache, a pipeline holding its input) is the library's, and a create that
 * returns an object the program holds already (a cached one) is one more reference. A lenient
 * type's destroy or reset of an address that is no live handle (g_object_unref of any other
 * GObject) costs one look-up and nothing else. Calls that name an input (jpeg_stdio_src,
 * TIFFOpen) begin it before the real call, so that what decoding it allocates is charged to it. */
#define _GNU_SOURCE
#include "declared.h"

#include "declared_api.h"
#include "guard.h"
#include "imgleak/declfile.h"
#include "handles.h"
#include "imgleak/format.h"
#include "inputs.h"
#include "os.h"
#include "ownfd.h"
#include "shim_api.h"
#include "unwind.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FILE_BYTES_MAX (1u << 20)

/* What a trampoline saved (declared_stubs.S writes it at these offsets). */
typedef struct {
    uint64_t gp[6];   /* rdi rsi rdx rcx r8 r9: integer and pointer arguments 1..6 */
    uint64_t rax;     /* a variadic callee's count of vector registers */
    uint64_t cookie;  /* from before to after: where a create's handle is, an input's handle */
    uint64_t ret;     /* rax after the call */
    uint64_t ret2;    /* rdx */
    uint64_t active;  /* 1: after has work (a create to record, an input to bind) */
    uint64_t state;   /* CALL_*: what before found */
    unsigned char xmm[8][16];
    unsigned char xret[2][16];
} declared_regs_t;
_Static_assert(offsetof(declared_regs_t, cookie) == 56 && offsetof(declared_regs_t, ret) == 64 &&
                   offsetof(declared_regs_t, xmm) == 96 && offsetof(declared_regs_t, xret) == 224 &&
                   sizeof(declared_regs_t) == 256,
               "declared_stubs.S's offsets");

enum { CALL_INSIDE = 1, CALL_BEGAN = 2 };

static decl_set_t set;
static catalog_type_t infos[DECL_TYPES_MAX];
static unsigned type_base, function_base;
static void *_Atomic reals[DECL_FUNCTIONS_MAX];
/* Per lenient type, its creates minus its handles destroyed: never below the number live, so at
 * 0 none is, and a destroy function every object passes (g_object_unref in any GLib program)
 * returns at once, without the handle store's lock, however many WebP buffers are live. */
static _Atomic long lenient_created[DECL_TYPES_MAX];

#if defined(__x86_64__)
extern const char declared_stubs[]; /* 16 bytes per slot */
#define HAVE_TRAMPOLINES 1
#else
#define HAVE_TRAMPOLINES 0
#endif

/* ---- the catalogue ---- */

unsigned declared_type_count(void)
{
    return set.type_count;
}

const catalog_type_t *declared_type(unsigned i)
{
    return i < set.type_count ? &infos[i] : NULL;
}

unsigned declared_function_count(void)
{
    return set.function_count;
}

const char *declared_function_name(unsigned i)
{
    return i < set.function_count ? set.functions[i].name : NULL;
}

/* path is a library of a declared type. Types of one library are declared together: each
 * distinct lib= is tried once. */
static int is_type_library(const char *path)
{
    for (unsigned t = 0; t < set.type_count; t++)
        if ((t == 0 || strcmp(set.types[t].lib, set.types[t - 1].lib) != 0) &&
            decl_lib_matches(path, set.types[t].lib))
            return 1;
    return 0;
}

int declared_function_in_library(unsigned i, const char *path)
{
    return i < set.function_count && decl_lib_matches(path, set.functions[i].lib);
}

int declared_table_index(unsigned i)
{
    return i < set.function_count ? set.functions[i].table_index : -1;
}

void *declared_hook(unsigned i)
{
#if HAVE_TRAMPOLINES
    return i < set.function_count ? (void *)(declared_stubs + 16 * (size_t)i) : NULL;
#else
    (void)i;
    return NULL;
#endif
}

void *declared_real(unsigned i)
{
    return i < set.function_count ? atomic_load_explicit(&reals[i], memory_order_acquire) : NULL;
}

void declared_set_real(unsigned i, void *address)
{
    if (i < set.function_count)
        atomic_store_explicit(&reals[i], address, memory_order_release);
}

/* ---- reading the declarations ---- */

static int refuse(const char *file, const decl_error_t *err)
{
    os_warn("%s:%u: %s; this process runs untracked", file, err->line, err->message);
    return -1;
}

static int load_file(const char *path)
{
    decl_error_t err;
    memset(&err, 0, sizeof err);
    struct stat st;
    ownfd_t fd = ownfd_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        os_warn("%s: cannot open the handle declarations (%s); this process runs untracked", path,
                os_errno_text(errno));
        return -1;
    }
    if (ownfd_stat(fd, &st) != 0 || st.st_size > FILE_BYTES_MAX) {
        ownfd_close(fd);
        os_warn("%s: cannot read the handle declarations (more than 1 MiB?); this process runs untracked",
                path);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    char *text = os_map(size + 1);
    int ok = text && (size == 0 || ownfd_pread_all(fd, text, size, 0) == 0);
    ownfd_close(fd);
    if (!ok) {
        if (text)
            os_unmap(text, size + 1);
        os_warn("%s: cannot read the handle declarations; this process runs untracked", path);
        return -1;
    }
    int rc = decl_parse(&set, text, size, &err);
    os_unmap(text, size + 1);
    return rc < 0 ? refuse(path, &err) : 0;
}

int declared_load(unsigned types_before, unsigned functions_before)
{
    decl_error_t err;
    memset(&err, 0, sizeof err);
    type_base = types_before;
    function_base = functions_before;
    if (type_base + DECL_TYPES_MAX > 64)
        return os_warn("too many handle types for a 64-bit type mask; this process runs untracked"), -1;
    const char *path = secure_getenv("IMGLEAK_HANDLES");
    if (!HAVE_TRAMPOLINES) {
        if (path && *path)
            return os_warn("%s: declared handles need x86-64; this process runs untracked", path), -1;
        return 0;
    }
    const char *builtin;
    if (decl_parse_builtin(&set, &err, &builtin) < 0)
        return refuse(builtin, &err);
    if (path && *path && load_file(path) < 0)
        return -1;
    for (unsigned i = 0; i < set.type_count; i++) {
        const decl_type_t *t = &set.types[i];
        infos[i].name = t->name;
        infos[i].library = t->library;
        infos[i].flags = (t->flags & DECL_TYPE_REFCOUNTED ? IMGLEAK_HTYPE_REFCOUNTED : 0) |
                         (t->flags & DECL_TYPE_BUFFER ? IMGLEAK_HTYPE_BUFFER : 0);
    }
    if (path && *path)
        os_log("%u handle types, %u functions declared (%s and built in)", set.type_count,
               set.function_count, path);
    return 0;
}

/* ---- the trampolines' calls ---- */

static uint64_t argument(const declared_regs_t *r, const uint64_t *stack, unsigned n)
{
    return n <= 6 ? r->gp[n - 1] : stack[n - 7];
}

/* The library itself calling (the function's own, or any declared type's), or a call from
 * within another hook. */
static int called_from_library(const decl_function_t *d, const void *caller)
{
    Dl_info info;
    if (unwind_in_shim((uintptr_t)caller))
        return 1;
    return dladdr(caller, &info) && (decl_lib_matches(info.dli_fname, d->lib) || is_type_library(info.dli_fname));
}

/* The function's first type is lenient, and none of its types has a handle live. */
static int lenient_none_live(const decl_function_t *d)
{
    if (!(set.types[d->type].flags & DECL_TYPE_LENIENT))
        return 0;
    for (uint64_t m = d->types; m; m &= m - 1)
        if (atomic_load_explicit(&lenient_created[__builtin_ctzll(m)], memory_order_relaxed))
            return 0;
    return 1;
}

/* ---- inputs ---- */

static void input_begin(const decl_function_t *d, declared_regs_t *r, const uint64_t *stack)
{
    static const int kinds[] = {
        [DECL_INPUT_PATH] = INPUT_PATH,
        [DECL_INPUT_FD] = INPUT_FD,
        [DECL_INPUT_STREAM] = INPUT_STREAM,
        [DECL_INPUT_MEMORY] = INPUT_MEMORY,
    };
    uint64_t src = argument(r, stack, d->input_arg);
    size_t len = d->input == DECL_INPUT_MEMORY ? (size_t)argument(r, stack, d->input_len) : 0;
    if (d->input == DECL_INPUT_FD)
        src = (uint64_t)(intptr_t)(int)(uint32_t)src; /* an int: the register's upper half is not its */
    imgleak_guard.depth++;
    inputs_begin(kinds[d->input], (const void *)(uintptr_t)src, len);
    imgleak_guard.depth--;
    r->state |= CALL_BEGAN;
}

/* The input ends with this handle, and the handle and those made just before it with no input
 * (a jpeg_decompress_struct and the FILE handed to jpeg_stdio_src) are charged to it. Inputs
 * given no handle (a MagickWand reads many images) take nothing made before them: a wand made
 * at start is not the first image's. */
static void input_bind(uintptr_t handle)
{
    uintptr_t unclaimed[INPUTS_UNCLAIMED];
    imgleak_guard.depth++;
    unsigned n = inputs_take_unclaimed(unclaimed);
    if (handle) {
        inputs_bind_handle(handle);
        handles_charge_to_input(handle, inputs_current());
        for (unsigned i = 0; i < n; i++)
            handles_charge_to_input(unclaimed[i], inputs_current());
    }
    imgleak_guard.depth--;
}

/* ---- before the call ---- */

static void create_before(const decl_function_t *d, declared_regs_t *r, const void *caller,
                          const uint64_t *stack)
{
    if (called_from_library(d, caller)) {
        r->state = CALL_INSIDE;
    } else {
        imgleak_guard.depth++;
        inputs_new_handle(); /* the program's new handle is not the previous input's (inputs.h) */
        imgleak_guard.depth--;
        if (d->input)
            input_begin(d, r, stack);
    }
    r->cookie = d->from == DECL_FROM_RETURN ? 0 : argument(r, stack, d->arg);
    r->active = 1;
}

static void input_before(const decl_function_t *d, declared_regs_t *r, const void *caller,
                         const uint64_t *stack)
{
    if (called_from_library(d, caller))
        return;
    input_begin(d, r, stack);
    r->cookie = d->input_handle ? argument(r, stack, d->input_handle) : 0;
    r->active = 1;
}

/* The handle in argument n, as the line says: the argument, or what it points at; none when
 * the destroy is a documented no-op (holds=W: the handle's word W is NULL). */
static uintptr_t handle_of(const decl_function_t *d, const declared_regs_t *r, const uint64_t *stack,
                           unsigned n)
{
    uintptr_t h = (uintptr_t)argument(r, stack, n);
    if (d->from == DECL_FROM_DEREF)
        h = h ? *(const uintptr_t *)h : 0;
    if (h && d->holds && !((const uintptr_t *)h)[d->holds - 1])
        return 0;
    return h;
}

static void destroy_before(unsigned slot, const decl_function_t *d, const declared_regs_t *r,
                           const void *caller, const uint64_t *stack)
{
    uintptr_t h[DECL_HANDLES_MAX] = {handle_of(d, r, stack, d->arg), 0, 0};
    for (unsigned i = 1; i < DECL_HANDLES_MAX && d->more[i - 1]; i++)
        h[i] = handle_of(d, r, stack, d->more[i - 1]);
    unsigned flags = set.types[d->type].flags;
    int lenient = (flags & DECL_TYPE_LENIENT) != 0, inside = -1;
    for (unsigned i = 0; i < DECL_HANDLES_MAX; i++) {
        if (!h[i])
            continue;
        if (lenient && (lenient_none_live(d) || !handles_live(h[i]))) {
            inputs_end_handle(h[i]);
            continue;
        }
        if (inside < 0) {
            inside = called_from_library(d, caller);
            /* the library emptying a struct the program owns and still holds, to fill it
             * again (WebPPictureRescale frees the picture, then allocates it anew) */
            if (inside && (flags & DECL_TYPE_REFILLED))
                return;
        }
        if (inside && (flags & DECL_TYPE_REFCOUNTED))
            continue;
        imgleak_guard.depth++;
        unsigned gone = handles_destroy(h[i], d->types << type_base, function_base + slot,
                                        !inside && !lenient, shim_stack_here, shim_birth_now());
        unsigned t = gone - 1 - type_base; /* the declared type destroyed, when gone > type_base */
        if (gone > type_base && (set.types[t].flags & DECL_TYPE_LENIENT))
            atomic_fetch_sub_explicit(&lenient_created[t], 1, memory_order_relaxed);
        inputs_end_handle(h[i]);
        imgleak_guard.depth--;
    }
}

static void other_before(const decl_function_t *d, uintptr_t h, const void *caller)
{
    if (!h || lenient_none_live(d))
        return;
    if (!handles_live(h) || called_from_library(d, caller))
        return;
    imgleak_guard.depth++;
    if (d->kind == DECL_REF) {
        handles_reference(h);
    } else {
        handles_reset(h, d->types << type_base);
        inputs_end_handle(h);
    }
    imgleak_guard.depth--;
}

__attribute__((visibility("hidden"))) void *declared_before(unsigned slot, declared_regs_t *r,
                                                            const void *caller, const uint64_t *stack)
{
    void *real = slot < DECL_FUNCTIONS_MAX ? atomic_load_explicit(&reals[slot], memory_order_acquire)
                                           : NULL;
    const decl_function_t *d = slot < set.function_count ? &set.functions[slot] : NULL;
    r->active = real && d && d->kind == DECL_API; /* the table is patched whether tracking or not */
    r->state = 0;
    if (!real || r->active || !shim_tracking())
        return real;
    switch (d->kind) {
    case DECL_CREATE:
        create_before(d, r, caller, stack);
        break;
    case DECL_INPUT:
        input_before(d, r, caller, stack);
        break;
    case DECL_DESTROY:
        destroy_before(slot, d, r, caller, stack);
        break;
    default:
        other_before(d, (uintptr_t)argument(r, stack, d->arg), caller);
        break;
    }
    return real;
}

/* ---- after the call ---- */

static int succeeded(const decl_function_t *d, uint64_t ret)
{
    int same = d->wide ? (int64_t)ret == d->value : (int32_t)(uint32_t)ret == (int32_t)d->value;
    return d->check == DECL_CHECK_NONE || (d->check == DECL_CHECK_OK ? same : !same);
}

static void created(unsigned slot, const decl_function_t *d, uintptr_t h)
{
    unsigned flags = set.types[d->type].flags;
    if (flags & DECL_TYPE_LENIENT) /* before the handle exists: never fewer than live */
        atomic_fetch_add_explicit(&lenient_created[d->type], 1, memory_order_relaxed);
    imgleak_guard.depth++;
    handles_create(h, type_base + d->type, function_base + slot, shim_stack_here(), shim_birth_now(),
                   (flags & (DECL_TYPE_BUFFER | DECL_TYPE_REPLACES) ? HANDLES_REPLACES : 0) |
                       (flags & DECL_TYPE_REFCOUNTED ? HANDLES_SHARED : 0));
    if (!inputs_current())
        inputs_note_unclaimed(h);
    imgleak_guard.depth--;
}

__attribute__((visibility("hidden"))) void declared_after(unsigned slot, declared_regs_t *r,
                                                          const void *caller)
{
    const decl_function_t *d = &set.functions[slot];
    (void)caller; /* what before found of it is in r->state */
    if (!r->active)
        return;
    if (d->kind == DECL_API) {
        r->ret = declared_api_wrap((uintptr_t)r->ret); /* returned to the caller instead */
        return;
    }
    uintptr_t h = (uintptr_t)r->cookie; /* an input line's handle, or a create's arg=N */
    if (d->kind == DECL_CREATE) {
        h = !succeeded(d, r->ret)           ? 0
            : d->from == DECL_FROM_RETURN ? (uintptr_t)r->ret
            : d->from == DECL_FROM_OUT    ? (h ? *(const uintptr_t *)h : 0)
                                          : h;
        if (h && !(r->state & CALL_INSIDE) && shim_tracking())
            created(slot, d, h);
    }
    if (r->state & CALL_BEGAN)
        input_bind(h);
}
