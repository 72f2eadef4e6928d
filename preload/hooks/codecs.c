/* The codec hooks: every line of codecs.def becomes a hidden wrapper here, which bind.c points
 * the codec library's own references at (never a global name: a program's own ReadImage stays
 * its own). A wrapper calls the real function of the library instance now loaded with the guard
 * down (so the library's own mallocs are tracked as usual), and records or forgets handles
 * around it: creates after the call, when it succeeded; destroys before it, as free() does, so a
 * reused address is never confused. Handles the library makes for itself are not the program's:
 * a create called from inside the library (the caller's module matches CODEC_LIB) is not
 * recorded, and a destroy from inside is not misuse; nor does it end a handle that is the
 * program's own struct, which the library empties only to fill it again (HT_REFILLED). A call
 * made from inside another wrapper's real function counts as inside too: the wrappers never
 * tail-call (CALL_DONE), so even a library function that tail-calls another
 * (jpeg_destroy_decompress jumps to jpeg_destroy) leaves a return address in the shim. */
#define _GNU_SOURCE
#include "codecs.h"

#include "declared.h"
#include "imgleak/declfile.h"

#include "guard.h"
#include "handles.h"
#include "imgleak/format.h"
#include "inputs.h"
#include "shim_api.h"
#include "unwind.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <string.h>

#define HT_BUFFER IMGLEAK_HTYPE_BUFFER
#define HT_REFCOUNTED IMGLEAK_HTYPE_REFCOUNTED
#define HT_REPLACES 0x100u
#define HT_LENIENT 0x200u
#define HT_REFILLED 0x400u

/* ---- the lists, from codecs.def ---- */
#define CODEC_LIB(id, p1, p2)
#define HANDLE_TYPE(id, name, lib, flags)
#define CREATE(lib, type, fn, ret, params, args, handle, ok)
#define CREATE_VOID(lib, type, fn, params, args, handle)
#define DESTROY(lib, types, fn, ret, params, args, h0, h1, h2)
#define DESTROY_VOID(lib, types, fn, params, args, h0, h1, h2)
#define RESET(lib, types, fn, ret, params, args, h)
#define REF(lib, type, fn, ret, params, args, h)
#define INPUT(lib, fn, ret, params, args, kind, src, len, h)
#define INPUT_VOID(lib, fn, params, args, kind, src, len, h)
#define CREATE_INPUT(lib, type, fn, ret, params, args, handle, ok, kind, src, len)
#define LIBC_FN(fn)

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
#undef INPUT
#undef INPUT_VOID
#undef CREATE_INPUT
#undef LIBC_FN
#define CODEC_ROW(lib, fn) FN_##fn,
#define CODEC_LIBC_ROW(fn) FN_##fn,
enum {
#include "codecs_rows.h"
    FN_COUNT
};
#undef CODEC_ROW
#undef CODEC_LIBC_ROW
#define CODEC_ROW(lib, fn) #fn,
#define CODEC_LIBC_ROW(fn) #fn,
static const char *const function_names[FN_COUNT] = {
#include "codecs_rows.h"
};
#undef CODEC_ROW
#undef CODEC_LIBC_ROW

#define CODEC_ROW(lib, fn) LIB_##lib,
#define CODEC_LIBC_ROW(fn) LIB_LIBC,
static const unsigned char function_libs[FN_COUNT] = {
#include "codecs_rows.h"
};
#undef CODEC_ROW
#undef CODEC_LIBC_ROW

const codecs_libc_ids_t codecs_libc = {
    T_FD, T_STREAM, FN_open, FN_openat, FN_creat, FN_fopen, FN_fdopen, FN_socket, FN_accept,
    FN_pipe, FN_dup, FN_fcntl, FN_close, FN_fclose,
};

/* Declared types and functions (declared.c) follow codecs.def's own in one catalogue: the
 * binder and the snapshot see no difference. */
_Static_assert(T_COUNT + DECL_TYPES_MAX <= 64, "declared types share the 64-bit type masks");

int codecs_declare(void)
{
    return declared_load(T_COUNT, FN_COUNT);
}

unsigned codecs_type_count(void)
{
    return T_COUNT + declared_type_count();
}

const codec_type_info_t *codecs_type(unsigned id)
{
    return id < T_COUNT ? &types[id] : declared_type(id - T_COUNT);
}

unsigned codecs_function_count(void)
{
    return FN_COUNT + declared_function_count();
}

const char *codecs_function_name(unsigned id)
{
    return id < FN_COUNT ? function_names[id] : declared_function_name(id - FN_COUNT);
}

/* ---- the real functions: set by bind.c for the instance of each library now loaded ---- */

/* One address per function, of the instance its hook was bound for; 0 while no instance is
 * loaded. Re-set on every load and cleared on unload: never a pointer into an unmapped library. */
static void *_Atomic real_fns[FN_COUNT];

static int path_in_lib(const char *path, unsigned lib)
{
    for (int i = 0; i < 2 && path; i++)
        if (lib_patterns[lib][i] && strstr(path, lib_patterns[lib][i]))
            return 1;
    return 0;
}

int codecs_function_in_library(unsigned fn, const char *path)
{
    return fn < FN_COUNT ? path_in_lib(path, function_libs[fn])
                         : declared_function_in_library(fn - FN_COUNT, path);
}

void *codecs_real(unsigned fn)
{
    return fn < FN_COUNT ? atomic_load_explicit(&real_fns[fn], memory_order_acquire)
                         : declared_real(fn - FN_COUNT);
}

void codecs_set_real(unsigned fn, void *address)
{
    if (fn < FN_COUNT)
        atomic_store_explicit(&real_fns[fn], address, memory_order_release);
    else
        declared_set_real(fn - FN_COUNT, address);
}

static inline void *real_of(unsigned fn)
{
    return atomic_load_explicit(&real_fns[fn], memory_order_acquire);
}

/* The library calling into itself (or ImageMagick's coder modules calling MagickCore), a
 * library of a declared type calling it, or a codec function called from within another hooked
 * one. */
static int called_from_lib(const void *caller, unsigned lib)
{
    Dl_info info;
    if (unwind_in_shim((uintptr_t)caller))
        return 1;
    /* libvips decoding a JPEG: the jpeg_decompress_struct is libvips's own, and the program's
     * handle is the VipsImage that holds it (retaining its memory) */
    return dladdr(caller, &info) &&
           (path_in_lib(info.dli_fname, lib) || declared_is_type_library(info.dli_fname));
}

/* After the real call: keeps it out of tail position (see the top of the file). */
#define CALL_DONE() __asm__ volatile("" ::: "memory")

static int tracked(void)
{
    return shim_tracking();
}

/* ---- what the wrappers record ---- */

static void created(unsigned lib, unsigned type, unsigned fn, uintptr_t handle, const void *caller)
{
    if (!handle || called_from_lib(caller, lib))
        return;
    imgleak_guard.depth++;
    unsigned flags = types[type].flags & (HT_REPLACES | HT_BUFFER) ? HANDLES_REPLACES : 0;
    handles_create(handle, type, fn, shim_stack_here(), shim_birth_now(), flags);
    if (!inputs_current())
        inputs_note_unclaimed(handle);
    imgleak_guard.depth--;
}

/* Before a create: the program's new handle is not the previous input's (inputs.h). */
static void creating(unsigned lib, const void *caller)
{
    if (!called_from_lib(caller, lib))
        inputs_new_handle();
}

static void destroyed(unsigned lib, uint64_t mask, unsigned fn, const uintptr_t h[3],
                      const void *caller)
{
    if (!h[0] && !h[1] && !h[2])
        return;
    unsigned first = (unsigned)__builtin_ctzll(mask);
    int inside = called_from_lib(caller, lib);
    /* the library emptying a struct the program owns and still holds, to fill it again
     * (WebPPictureRescale frees the picture, then allocates it anew): the handle lives on */
    if (inside && (types[first].flags & HT_REFILLED))
        return;
    int report = !(types[first].flags & HT_LENIENT) && !inside;
    imgleak_guard.depth++;
    for (int i = 0; i < 3; i++) {
        if (h[i])
            handles_destroy(h[i], mask, fn, report, shim_stack_here, shim_birth_now());
        inputs_end_handle(h[i]);
    }
    imgleak_guard.depth--;
}

static void reset(uint64_t mask, uintptr_t h)
{
    if (!h)
        return;
    imgleak_guard.depth++;
    handles_reset(h, mask);
    inputs_end_handle(h);
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

/* ---- inputs ---- */

/* An input named by a call of the program's (a library reading its own parts, or one hooked
 * call made inside another, names nothing new). 1 when it began. */
static int input_begin(unsigned lib, int kind, const void *src, size_t len, const void *caller)
{
    if (called_from_lib(caller, lib))
        return 0;
    imgleak_guard.depth++;
    inputs_begin(kind, src, len);
    imgleak_guard.depth--;
    return 1;
}

/* The input ends with this handle, and the handle and those made just before it with no input
 * (a jpeg_decompress_struct and the FILE handed to jpeg_stdio_src) are charged to it. Inputs
 * given no handle (a MagickWand reads many images) take nothing made before them: a wand made
 * at start is not the first image's. */
static void input_bind(uintptr_t handle)
{
    uintptr_t unclaimed[INPUTS_UNCLAIMED];
    unsigned n;
    imgleak_guard.depth++;
    n = inputs_take_unclaimed(unclaimed);
    if (handle) {
        inputs_bind_handle(handle);
        handles_charge_to_input(handle, inputs_current());
        for (unsigned i = 0; i < n; i++)
            handles_charge_to_input(unclaimed[i], inputs_current());
    }
    imgleak_guard.depth--;
}

/* ---- the wrappers ---- */

#define CODEC_LIB(id, p1, p2)
#define HANDLE_TYPE(id, name, lib, flags)
#define LIBC_FN(fn)

#define CREATE(lib, type, fn, ret, params, args, handle, ok)                                       \
    typedef ret(*fn##_fn) params;                                                                  \
    static ret hook_##fn params                                                                           \
    {                                                                                              \
        fn##_fn f = (fn##_fn)real_of(FN_##fn);                                                     \
        if (!f)                                                                                    \
            return (ret)0;                                                                         \
        if (tracked())                                                                             \
            creating(LIB_##lib, __builtin_return_address(0));                                      \
        ret r = f args;                                                                            \
        CALL_DONE();                                                                               \
        if (tracked() && (ok))                                                                \
            created(LIB_##lib, T_##type, FN_##fn, (uintptr_t)(handle), __builtin_return_address(0)); \
        return r;                                                                                  \
    }

#define CREATE_VOID(lib, type, fn, params, args, handle)                                           \
    typedef void (*fn##_fn) params;                                                                \
    static void hook_##fn params                                                                          \
    {                                                                                              \
        fn##_fn f = (fn##_fn)real_of(FN_##fn);                                                     \
        if (!f)                                                                                    \
            return;                                                                                \
        if (tracked())                                                                             \
            creating(LIB_##lib, __builtin_return_address(0));                                      \
        f args;                                                                                    \
        CALL_DONE();                                                                               \
        if (tracked())                                                                        \
            created(LIB_##lib, T_##type, FN_##fn, (uintptr_t)(handle), __builtin_return_address(0)); \
    }

#define DESTROY(lib, types_mask, fn, ret, params, args, h0, h1, h2)                                \
    typedef ret(*fn##_fn) params;                                                                  \
    static ret hook_##fn params                                                                           \
    {                                                                                              \
        fn##_fn f = (fn##_fn)real_of(FN_##fn);                                                     \
        if (!f)                                                                                    \
            return (ret)0;                                                                         \
        if (tracked()) {                                                                      \
            uintptr_t h[3] = {(uintptr_t)(h0), (uintptr_t)(h1), (uintptr_t)(h2)};                  \
            destroyed(LIB_##lib, types_mask, FN_##fn, h, __builtin_return_address(0));             \
        }                                                                                          \
        ret r = f args;                                                                            \
        CALL_DONE();                                                                               \
        return r;                                                                                  \
    }

#define DESTROY_VOID(lib, types_mask, fn, params, args, h0, h1, h2)                                \
    typedef void (*fn##_fn) params;                                                                \
    static void hook_##fn params                                                                          \
    {                                                                                              \
        fn##_fn f = (fn##_fn)real_of(FN_##fn);                                                     \
        if (!f)                                                                                    \
            return;                                                                                \
        if (tracked()) {                                                                      \
            uintptr_t h[3] = {(uintptr_t)(h0), (uintptr_t)(h1), (uintptr_t)(h2)};                  \
            destroyed(LIB_##lib, types_mask, FN_##fn, h, __builtin_return_address(0));             \
        }                                                                                          \
        f args;                                                                                    \
        CALL_DONE();                                                                               \
    }

#define RESET(lib, types_mask, fn, ret, params, args, handle)                                      \
    typedef ret(*fn##_fn) params;                                                                  \
    static ret hook_##fn params                                                                           \
    {                                                                                              \
        fn##_fn f = (fn##_fn)real_of(FN_##fn);                                                     \
        if (!f)                                                                                    \
            return (ret)0;                                                                         \
        if (tracked() && !called_from_lib(__builtin_return_address(0), LIB_##lib))            \
            reset(types_mask, (uintptr_t)(handle));                                                \
        ret r = f args;                                                                            \
        CALL_DONE();                                                                               \
        return r;                                                                                  \
    }

#define REF(lib, type, fn, ret, params, args, handle)                                              \
    typedef ret(*fn##_fn) params;                                                                  \
    static ret hook_##fn params                                                                           \
    {                                                                                              \
        fn##_fn f = (fn##_fn)real_of(FN_##fn);                                                     \
        if (!f)                                                                                    \
            return (ret)0;                                                                         \
        if (tracked())                                                                        \
            referenced((uintptr_t)(handle));                                                       \
        ret r = f args;                                                                            \
        CALL_DONE();                                                                               \
        return r;                                                                                  \
    }

/* Hooks that begin an input: the input begins before the real call (what decoding it allocates
 * is charged to it) and, when the call names a handle, ends with that handle. */
#define INPUT_BODY(lib, fn, call, kind, src, len)                                                  \
    int began = tracked() && input_begin(LIB_##lib, kind, (const void *)(uintptr_t)(src),          \
                                         (size_t)(len), __builtin_return_address(0));              \
    call;                                                                                          \
    CALL_DONE();

#define INPUT(lib, fn, ret, params, args, kind, src, len, handle)                                  \
    typedef ret(*fn##_fn) params;                                                                  \
    static ret hook_##fn params                                                                    \
    {                                                                                              \
        fn##_fn f = (fn##_fn)real_of(FN_##fn);                                                     \
        if (!f)                                                                                    \
            return (ret)0;                                                                         \
        ret r;                                                                                     \
        INPUT_BODY(lib, fn, r = f args, kind, src, len)                                            \
        if (began)                                                                                 \
            input_bind((uintptr_t)(handle));                                                       \
        return r;                                                                                  \
    }

#define INPUT_VOID(lib, fn, params, args, kind, src, len, handle)                                  \
    typedef void (*fn##_fn) params;                                                                \
    static void hook_##fn params                                                                   \
    {                                                                                              \
        fn##_fn f = (fn##_fn)real_of(FN_##fn);                                                     \
        if (!f)                                                                                    \
            return;                                                                                \
        INPUT_BODY(lib, fn, f args, kind, src, len)                                                \
        if (began)                                                                                 \
            input_bind((uintptr_t)(handle));                                                       \
    }

#define CREATE_INPUT(lib, type, fn, ret, params, args, handle, ok, kind, src, len)                 \
    typedef ret(*fn##_fn) params;                                                                  \
    static ret hook_##fn params                                                                    \
    {                                                                                              \
        fn##_fn f = (fn##_fn)real_of(FN_##fn);                                                     \
        if (!f)                                                                                    \
            return (ret)0;                                                                         \
        ret r;                                                                                     \
        if (tracked())                                                                             \
            creating(LIB_##lib, __builtin_return_address(0));                                      \
        INPUT_BODY(lib, fn, r = f args, kind, src, len)                                            \
        if (tracked() && (ok))                                                                     \
            created(LIB_##lib, T_##type, FN_##fn, (uintptr_t)(handle), __builtin_return_address(0)); \
        if (began)                                                                                 \
            input_bind((uintptr_t)((ok) ? (handle) : 0));                                          \
        return r;                                                                                  \
    }

#include "codecs.def"

#undef CREATE
#undef CREATE_VOID
#undef DESTROY
#undef DESTROY_VOID
#undef RESET
#undef REF
#undef INPUT
#undef INPUT_VOID
#undef CREATE_INPUT
#undef LIBC_FN
#define CODEC_ROW(lib, fn) (void *)hook_##fn,
#define CODEC_LIBC_ROW(fn) NULL,
static void *const hooks[FN_COUNT] = {
#include "codecs_rows.h"
};
#undef CODEC_ROW
#undef CODEC_LIBC_ROW

void *codecs_hook(unsigned fn)
{
    return fn < FN_COUNT ? hooks[fn] : declared_hook(fn - FN_COUNT);
}
