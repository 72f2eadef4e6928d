/* Declared handle functions (see declared.h): what the trampolines of declared_stubs.S call
 * before and after the real function. As in codecs.c, a destroy is recorded before the call and a
 * create after it, with the guard down around the real call (the library's mallocs are tracked
 * as usual); a create called from inside the library is the library's own. For a refcounted type
 * the program's references are what is counted: a ref or a destroy from inside the type's
 * libraries (the library keeping an object in a cache, a pipeline holding its input) is theirs,
 * and a create that returns an object the program holds already (a cached one) is one more
 * reference. A lenient type's destroy of an address that is no live handle (g_object_unref of
 * any other GObject) costs one look-up and nothing else. */
#define _GNU_SOURCE
#include "declared.h"

#include "declared_api.h"
#include "guard.h"
#include "imgleak/declfile.h"
#include "handles.h"
#include "imgleak/format.h"
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
    uint64_t cookie;  /* from before to after: where a create's handle is */
    uint64_t ret;     /* rax after the call */
    uint64_t ret2;    /* rdx */
    uint64_t active;  /* 1: after has a create to record */
    uint64_t unused;
    unsigned char xmm[8][16];
    unsigned char xret[2][16];
} declared_regs_t;
_Static_assert(offsetof(declared_regs_t, cookie) == 56 && offsetof(declared_regs_t, ret) == 64 &&
                   offsetof(declared_regs_t, xmm) == 96 && offsetof(declared_regs_t, xret) == 224 &&
                   sizeof(declared_regs_t) == 256,
               "declared_stubs.S's offsets");

static decl_set_t set;
static codec_type_info_t infos[DECL_TYPES_MAX];
static unsigned type_base, function_base;
static void *_Atomic reals[DECL_FUNCTIONS_MAX];
/* Creates of lenient types minus their handles destroyed: never below the number live, so at 0
 * none is, and a destroy function every object passes (g_object_unref in any GLib program)
 * returns at once, without the handle store's lock. */
static _Atomic long lenient_created;

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

const codec_type_info_t *declared_type(unsigned i)
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

/* path names the library lib: its file name starts with lib ("libvips.so" for .../libvips.so.42). */
static int lib_matches(const char *path, const char *lib)
{
    size_t n = strlen(lib);
    for (const char *p = path ? strstr(path, lib) : NULL; p; p = strstr(p + 1, lib))
        if (p > path && p[-1] == '/' && !strchr(p + n, '/'))
            return 1;
    return 0;
}

int declared_function_in_library(unsigned i, const char *path)
{
    return i < set.function_count && lib_matches(path, set.functions[i].lib);
}

int declared_table_index(unsigned i)
{
    return i < set.function_count ? set.functions[i].table_index : -1;
}

int declared_is_type_library(const char *path)
{
    for (unsigned t = 0; t < set.type_count; t++)
        if (lib_matches(path, set.types[t].lib))
            return 1;
    return 0;
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
        return os_warn("too many built-in handle types for declared ones; this process runs untracked"), -1;
    const char *path = secure_getenv("IMGLEAK_HANDLES");
    if (!HAVE_TRAMPOLINES) {
        if (path && *path)
            return os_warn("%s: declared handles need x86-64; this process runs untracked", path), -1;
        return 0;
    }
    if (decl_parse(&set, imgleak_builtin_handles, strlen(imgleak_builtin_handles), &err) < 0)
        return refuse("(built-in handle declarations)", &err);
    if (path && *path && load_file(path) < 0)
        return -1;
    for (unsigned i = 0; i < set.type_count; i++) {
        const decl_type_t *t = &set.types[i];
        infos[i].name = t->name;
        infos[i].library = t->lib;
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

/* The library itself calling (any library of the function's type, or the function's own), or
 * a call from within another hook. */
static int called_from_library(const decl_function_t *d, const void *caller)
{
    Dl_info info;
    if (unwind_in_shim((uintptr_t)caller))
        return 1;
    if (!dladdr(caller, &info))
        return 0;
    if (lib_matches(info.dli_fname, d->lib))
        return 1;
    for (unsigned t = 0; t < set.type_count; t++)
        if ((d->types & (UINT64_C(1) << t)) && lib_matches(info.dli_fname, set.types[t].lib))
            return 1;
    return 0;
}

static void destroy_before(unsigned slot, const decl_function_t *d, uintptr_t h, const void *caller)
{
    unsigned flags = set.types[d->type].flags;
    int lenient = (flags & DECL_TYPE_LENIENT) != 0;
    if (!h || (lenient && (!atomic_load_explicit(&lenient_created, memory_order_relaxed) || !handles_live(h))))
        return;
    int inside = called_from_library(d, caller);
    if (inside && (flags & DECL_TYPE_REFCOUNTED))
        return;
    imgleak_guard.depth++;
    if (handles_destroy(h, d->types << type_base, function_base + slot, !inside && !lenient,
                        shim_stack_here, shim_birth_now()) &&
        lenient)
        atomic_fetch_sub_explicit(&lenient_created, 1, memory_order_relaxed);
    imgleak_guard.depth--;
}

static void other_before(const decl_function_t *d, uintptr_t h, const void *caller)
{
    if (!h || ((set.types[d->type].flags & DECL_TYPE_LENIENT) &&
               !atomic_load_explicit(&lenient_created, memory_order_relaxed)))
        return;
    if (!handles_live(h) || called_from_library(d, caller))
        return;
    imgleak_guard.depth++;
    if (d->kind == DECL_REF)
        handles_reference(h);
    else
        handles_reset(h, d->types << type_base);
    imgleak_guard.depth--;
}

__attribute__((visibility("hidden"))) void *declared_before(unsigned slot, declared_regs_t *r,
                                                            const void *caller, const uint64_t *stack)
{
    void *real = slot < DECL_FUNCTIONS_MAX ? atomic_load_explicit(&reals[slot], memory_order_acquire)
                                           : NULL;
    const decl_function_t *d = slot < set.function_count ? &set.functions[slot] : NULL;
    r->active = real && d && d->kind == DECL_API; /* the table is patched whether tracking or not */
    if (!real || r->active || !shim_tracking())
        return real;
    uintptr_t a = d->from == DECL_FROM_RETURN ? 0 : (uintptr_t)argument(r, stack, d->arg);
    switch (d->kind) {
    case DECL_CREATE:
        r->cookie = a;
        r->active = 1;
        break;
    case DECL_DESTROY:
        destroy_before(slot, d, d->from == DECL_FROM_DEREF ? (a ? *(const uintptr_t *)a : 0) : a, caller);
        break;
    default:
        other_before(d, a, caller);
        break;
    }
    return real;
}

static int succeeded(const decl_function_t *d, uint64_t ret)
{
    int same = d->null_value ? ret == 0 : (int32_t)(uint32_t)ret == d->value;
    return d->check == DECL_CHECK_NONE || (d->check == DECL_CHECK_OK ? same : !same);
}

__attribute__((visibility("hidden"))) void declared_after(unsigned slot, declared_regs_t *r,
                                                          const void *caller)
{
    const decl_function_t *d = &set.functions[slot];
    if (r->active && d->kind == DECL_API) {
        r->ret = declared_api_wrap((uintptr_t)r->ret); /* returned to the caller instead */
        return;
    }
    if (!r->active || !shim_tracking())
        return;
    if (!succeeded(d, r->ret))
        return;
    uintptr_t h = d->from == DECL_FROM_RETURN ? (uintptr_t)r->ret
                  : d->from == DECL_FROM_OUT  ? (r->cookie ? *(const uintptr_t *)r->cookie : 0)
                                              : (uintptr_t)r->cookie;
    if (!h || called_from_library(d, caller))
        return;
    unsigned flags = set.types[d->type].flags;
    if (flags & DECL_TYPE_LENIENT) /* before the handle exists: never fewer than live */
        atomic_fetch_add_explicit(&lenient_created, 1, memory_order_relaxed);
    imgleak_guard.depth++;
    handles_create(h, type_base + d->type, function_base + slot, shim_stack_here(), shim_birth_now(),
                   (flags & DECL_TYPE_BUFFER ? HANDLES_REPLACES : 0) |
                       (flags & DECL_TYPE_REFCOUNTED ? HANDLES_SHARED : 0));
    imgleak_guard.depth--;
}
