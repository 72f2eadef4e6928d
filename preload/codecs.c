/* The codec hooks: every line of codecs.def becomes an exported wrapper here. A wrapper finds the
 * real function on its first call, calls it with the guard down (so the library's own mallocs
 * are tracked as usual), and records or forgets handles around it: creates after the call, when
 * it succeeded; destroys before it, as free() does, so a reused address is never confused.
 * Handles the library makes for itself are not the program's: a create called from inside the
 * library (the caller's module matches CODEC_LIB) is not recorded, and a destroy from inside is
 * not misuse. A call made from inside another wrapper's real function counts as inside too: the
 * wrappers never tail-call (CALL_DONE), so even a library function that tail-calls another
 * (jpeg_destroy_decompress jumps to jpeg_destroy) leaves a return address in the shim. A wrapper whose real function turns out not to live in its library (a program's
 * own ReadImage, say) only forwards. */
#define _GNU_SOURCE
#include "codecs.h"

#include "guard.h"
#include "handles.h"
#include "imgleak/format.h"
#include "os.h"
#include "shim_api.h"
#include "unwind.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))
#define HT_BUFFER IMGLEAK_HTYPE_BUFFER
#define HT_REFCOUNTED IMGLEAK_HTYPE_REFCOUNTED
#define HT_REPLACES 0x100u
#define HT_LENIENT 0x200u

/* ---- the lists, from codecs.def ---- */
#define CODEC_LIB(id, p1, p2)
#define HANDLE_TYPE(id, name, lib, flags)
#define CREATE(lib, type, fn, ret, params, args, handle, ok)
#define CREATE_VOID(lib, type, fn, params, args, handle)
#define DESTROY(lib, types, fn, ret, params, args, h0, h1, h2)
#define DESTROY_VOID(lib, types, fn, params, args, h0, h1, h2)
#define RESET(lib, types, fn, ret, params, args, h)
#define REF(lib, type, fn, ret, params, args, h)

#undef CODEC_LIB
#define CODEC_LIB(id, p1, p2) LIB_##id,
enum {
#include "codecs.def"
    LIB_COUNT
};
#undef CODEC_LIB
#define CODEC_LIB(id, p1, p2) {p1, p2},
static const char *const lib_patterns[LIB_COUNT][2] = {
#include "codecs.def"
};
#undef CODEC_LIB
#define CODEC_LIB(id, p1, p2)

#undef HANDLE_TYPE
#define HANDLE_TYPE(id, name, lib, flags) T_##id,
enum {
#include "codecs.def"
    T_COUNT
};
#undef HANDLE_TYPE
#define HANDLE_TYPE(id, name, lib, flags) {name, lib, flags},
static const codec_type_info_t types[T_COUNT] = {
#include "codecs.def"
};
#undef HANDLE_TYPE
#define HANDLE_TYPE(id, name, lib, flags)
#define TM(type) (UINT64_C(1) << T_##type)
_Static_assert(T_COUNT <= 64, "type masks are 64 bits");

#undef CREATE
#undef CREATE_VOID
#undef DESTROY
#undef DESTROY_VOID
#undef RESET
#undef REF
#define CREATE(lib, type, fn, ret, params, args, handle, ok) FN_##fn,
#define CREATE_VOID(lib, type, fn, params, args, handle) FN_##fn,
#define DESTROY(lib, types, fn, ret, params, args, h0, h1, h2) FN_##fn,
#define DESTROY_VOID(lib, types, fn, params, args, h0, h1, h2) FN_##fn,
#define RESET(lib, types, fn, ret, params, args, h) FN_##fn,
#define REF(lib, type, fn, ret, params, args, h) FN_##fn,
enum {
#include "codecs.def"
    FN_COUNT
};
#undef CREATE
#undef CREATE_VOID
#undef DESTROY
#undef DESTROY_VOID
#undef RESET
#undef REF
#define CREATE(lib, type, fn, ret, params, args, handle, ok) #fn,
#define CREATE_VOID(lib, type, fn, params, args, handle) #fn,
#define DESTROY(lib, types, fn, ret, params, args, h0, h1, h2) #fn,
#define DESTROY_VOID(lib, types, fn, params, args, h0, h1, h2) #fn,
#define RESET(lib, types, fn, ret, params, args, h) #fn,
#define REF(lib, type, fn, ret, params, args, h) #fn,
static const char *const function_names[FN_COUNT] = {
#include "codecs.def"
};
#undef CREATE
#undef CREATE_VOID
#undef DESTROY
#undef DESTROY_VOID
#undef RESET
#undef REF

unsigned codecs_type_count(void)
{
    return T_COUNT;
}

const codec_type_info_t *codecs_type(unsigned id)
{
    return id < T_COUNT ? &types[id] : NULL;
}

unsigned codecs_function_count(void)
{
    return FN_COUNT;
}

const char *codecs_function_name(unsigned id)
{
    return id < FN_COUNT ? function_names[id] : NULL;
}

/* ---- finding the real functions ---- */

typedef struct {
    void *_Atomic fn;
    _Atomic int state; /* 0 unresolved, 1 tracked, 2 forward only */
} real_fn_t;

static int path_in_lib(const char *path, unsigned lib)
{
    for (int i = 0; i < 2 && path; i++)
        if (lib_patterns[lib][i] && strstr(path, lib_patterns[lib][i]))
            return 1;
    return 0;
}

#define NAMES_MAX 512
typedef struct {
    char names[NAMES_MAX][256];
    unsigned count;
    uintptr_t self;
} objects_t;

static int collect_object(struct dl_phdr_info *info, size_t size, void *data)
{
    objects_t *o = data;
    (void)size;
    if (!info->dlpi_name[0] || o->count == NAMES_MAX || strlen(info->dlpi_name) >= 256)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) { /* not ourselves */
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && o->self >= lo && o->self < lo + ph->p_memsz)
            return 0;
    }
    strcpy(o->names[o->count++], info->dlpi_name);
    return 0;
}

/* RTLD_NEXT misses a library loaded with RTLD_LOCAL (a plugin's dependency): then every loaded
 * object is asked. */
static void *find_anywhere(const char *name)
{
    static objects_t objs; /* 128 KiB: not on a program's stack; calls are serialised below */
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    void *found = NULL;
    pthread_mutex_lock(&lock);
    objs.count = 0;
    objs.self = (uintptr_t)&find_anywhere;
    dl_iterate_phdr(collect_object, &objs);
    for (unsigned i = 0; i < objs.count && !found; i++) {
        void *h = dlopen(objs.names[i], RTLD_LAZY | RTLD_NOLOAD);
        if (h) {
            found = dlsym(h, name);
            dlclose(h);
        }
    }
    pthread_mutex_unlock(&lock);
    return found;
}

__attribute__((cold, noinline)) static void *resolve(real_fn_t *real, const char *name, unsigned lib)
{
    imgleak_guard.depth++;
    void *fn = dlsym(RTLD_NEXT, name);
    if (!fn)
        fn = find_anywhere(name);
    Dl_info info;
    int in_lib = fn && dladdr(fn, &info) && path_in_lib(info.dli_fname, lib);
    if (!fn)
        os_log("%s: no real function found", name);
    else if (!in_lib)
        os_log("%s is not %s's: forwarding without tracking", name, lib_patterns[lib][0]);
    atomic_store(&real->state, in_lib ? 1 : 2);
    atomic_store_explicit(&real->fn, fn, memory_order_release);
    imgleak_guard.depth--;
    return fn;
}

static inline void *real_of(real_fn_t *real, const char *name, unsigned lib)
{
    void *fn = atomic_load_explicit(&real->fn, memory_order_acquire);
    return fn ? fn : resolve(real, name, lib);
}

/* The library calling into itself (or ImageMagick's coder modules calling MagickCore), or a
 * codec function called from within another hooked one. */
static int called_from_lib(const void *caller, unsigned lib)
{
    Dl_info info;
    if (unwind_in_shim((uintptr_t)caller))
        return 1;
    return dladdr(caller, &info) && path_in_lib(info.dli_fname, lib);
}

/* After the real call: keeps it out of tail position (see the top of the file). */
#define CALL_DONE() __asm__ volatile("" ::: "memory")

static int tracked(real_fn_t *real)
{
    return atomic_load_explicit(&real->state, memory_order_relaxed) == 1 && shim_tracking();
}

/* ---- what the wrappers record ---- */

static void created(unsigned lib, unsigned type, unsigned fn, uintptr_t handle, const void *caller)
{
    if (!handle || called_from_lib(caller, lib))
        return;
    imgleak_guard.depth++;
    unsigned flags = types[type].flags & (HT_REPLACES | HT_BUFFER) ? HANDLES_REPLACES : 0;
    handles_create(handle, type, fn, shim_stack_here(), shim_birth_now(), flags);
    imgleak_guard.depth--;
}

static void destroyed(unsigned lib, uint64_t mask, unsigned fn, const uintptr_t h[3],
                      const void *caller)
{
    if (!h[0] && !h[1] && !h[2])
        return;
    unsigned first = (unsigned)__builtin_ctzll(mask);
    int report = !(types[first].flags & HT_LENIENT) && !called_from_lib(caller, lib);
    imgleak_guard.depth++;
    for (int i = 0; i < 3; i++)
        if (h[i])
            handles_destroy(h[i], mask, fn, report, shim_stack_here, shim_birth_now());
    imgleak_guard.depth--;
}

static void reset(uint64_t mask, uintptr_t h)
{
    if (!h)
        return;
    imgleak_guard.depth++;
    handles_reset(h, mask);
    imgleak_guard.depth--;
}

static void referenced(uintptr_t h)
{
    if (!h)
        return;
    imgleak_guard.depth++;
    handles_reference(h);
    imgleak_guard.depth--;
}

/* ---- the wrappers ---- */

#define CODEC_LIB(id, p1, p2)
#define HANDLE_TYPE(id, name, lib, flags)

#define CREATE(lib, type, fn, ret, params, args, handle, ok)                                       \
    typedef ret(*fn##_fn) params;                                                                  \
    EXPORT ret fn params                                                                           \
    {                                                                                              \
        static real_fn_t real;                                                                     \
        fn##_fn f = (fn##_fn)real_of(&real, #fn, LIB_##lib);                                      \
        if (!f)                                                                                    \
            return (ret)0;                                                                         \
        ret r = f args;                                                                            \
        CALL_DONE();                                                                               \
        if (tracked(&real) && (ok))                                                                \
            created(LIB_##lib, T_##type, FN_##fn, (uintptr_t)(handle), __builtin_return_address(0)); \
        return r;                                                                                  \
    }

#define CREATE_VOID(lib, type, fn, params, args, handle)                                           \
    typedef void (*fn##_fn) params;                                                                \
    EXPORT void fn params                                                                          \
    {                                                                                              \
        static real_fn_t real;                                                                     \
        fn##_fn f = (fn##_fn)real_of(&real, #fn, LIB_##lib);                                      \
        if (!f)                                                                                    \
            return;                                                                                \
        f args;                                                                                    \
        CALL_DONE();                                                                               \
        if (tracked(&real))                                                                        \
            created(LIB_##lib, T_##type, FN_##fn, (uintptr_t)(handle), __builtin_return_address(0)); \
    }

#define DESTROY(lib, types_mask, fn, ret, params, args, h0, h1, h2)                                \
    typedef ret(*fn##_fn) params;                                                                  \
    EXPORT ret fn params                                                                           \
    {                                                                                              \
        static real_fn_t real;                                                                     \
        fn##_fn f = (fn##_fn)real_of(&real, #fn, LIB_##lib);                                      \
        if (!f)                                                                                    \
            return (ret)0;                                                                         \
        if (tracked(&real)) {                                                                      \
            uintptr_t h[3] = {(uintptr_t)(h0), (uintptr_t)(h1), (uintptr_t)(h2)};                  \
            destroyed(LIB_##lib, types_mask, FN_##fn, h, __builtin_return_address(0));             \
        }                                                                                          \
        ret r = f args;                                                                            \
        CALL_DONE();                                                                               \
        return r;                                                                                  \
    }

#define DESTROY_VOID(lib, types_mask, fn, params, args, h0, h1, h2)                                \
    typedef void (*fn##_fn) params;                                                                \
    EXPORT void fn params                                                                          \
    {                                                                                              \
        static real_fn_t real;                                                                     \
        fn##_fn f = (fn##_fn)real_of(&real, #fn, LIB_##lib);                                      \
        if (!f)                                                                                    \
            return;                                                                                \
        if (tracked(&real)) {                                                                      \
            uintptr_t h[3] = {(uintptr_t)(h0), (uintptr_t)(h1), (uintptr_t)(h2)};                  \
            destroyed(LIB_##lib, types_mask, FN_##fn, h, __builtin_return_address(0));             \
        }                                                                                          \
        f args;                                                                                    \
        CALL_DONE();                                                                               \
    }

#define RESET(lib, types_mask, fn, ret, params, args, handle)                                      \
    typedef ret(*fn##_fn) params;                                                                  \
    EXPORT ret fn params                                                                           \
    {                                                                                              \
        static real_fn_t real;                                                                     \
        fn##_fn f = (fn##_fn)real_of(&real, #fn, LIB_##lib);                                      \
        if (!f)                                                                                    \
            return (ret)0;                                                                         \
        if (tracked(&real) && !called_from_lib(__builtin_return_address(0), LIB_##lib))            \
            reset(types_mask, (uintptr_t)(handle));                                                \
        ret r = f args;                                                                            \
        CALL_DONE();                                                                               \
        return r;                                                                                  \
    }

#define REF(lib, type, fn, ret, params, args, handle)                                              \
    typedef ret(*fn##_fn) params;                                                                  \
    EXPORT ret fn params                                                                           \
    {                                                                                              \
        static real_fn_t real;                                                                     \
        fn##_fn f = (fn##_fn)real_of(&real, #fn, LIB_##lib);                                      \
        if (!f)                                                                                    \
            return (ret)0;                                                                         \
        if (tracked(&real))                                                                        \
            referenced((uintptr_t)(handle));                                                       \
        ret r = f args;                                                                            \
        CALL_DONE();                                                                               \
        return r;                                                                                  \
    }

#include "codecs.def"
