/* The descriptor and stream entry points (see fds.h). Each calls the real function, then records
 * what it created as a handle by the calling stack, or forgets it before the real close. */
#define _GNU_SOURCE
#include "fds.h"

#include "imgleak/declfile.h"
#include "declared.h"
#include "guard.h"
#include "handles.h"
#include "inputs.h"
#include "shim_api.h"
#include "os.h"
#include "ownfd.h"
#include "unwind.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define EXPORT __attribute__((visibility("default")))
#define UNLIKELY_LIBUNWIND(caller) __builtin_expect(unwind_is_libunwind((uintptr_t)(caller)), 0)
/* A descriptor's handle address: outside any address a pointer can hold, so never a codec
 * handle's or a stream's. */
#define FD_ADDRESS(fd) ((UINT64_C(0xfd) << 56) | (uint64_t)(unsigned)(fd))

/* The next definition of name, looked up on first use (open may run before the shim starts). */
static void *next(void *_Atomic *slot, const char *name)
{
    void *f = atomic_load_explicit(slot, memory_order_acquire);
    if (!f) {
        f = dlsym(RTLD_NEXT, name);
        atomic_store_explicit(slot, f, memory_order_release);
    }
    return f;
}
#define REAL(type, name, fail)                                                                     \
    static void *_Atomic real_##name;                                                              \
    __typeof__(type) fn = (type)next(&real_##name, #name);                                                  \
    if (!fn) {                                                                                     \
        errno = ENOSYS;                                                                            \
        return fail;                                                                               \
    }

static void record(uint64_t address, unsigned type, unsigned function)
{
    int saved = errno;
    imgleak_guard.depth++;
    handles_create(address, type, function, shim_stack_here(), shim_birth_now(), HANDLES_REPLACES);
    if (!inputs_current())
        inputs_note_unclaimed(address);
    imgleak_guard.depth--;
    errno = saved;
}

static void forget(uint64_t address, unsigned type, unsigned function)
{
    int saved = errno;
    imgleak_guard.depth++;
    /* lenient: closing what was never seen opened (inherited) is not misuse */
    handles_destroy(address, UINT64_C(1) << type, function, 0, shim_stack_here, shim_birth_now());
    imgleak_guard.depth--;
    errno = saved;
}

/* A call of the program's: the shim is tracking, and the caller is not the shim itself (its
 * own descriptors, ownfd.c's open, reach the interposed names too, and in the final-snapshot
 * sentinel with no guard up). A declared function's trampoline is the shim's code, but a call
 * that returns to where the trampoline called the real function is that function's tail call
 * (libtiff's TIFFClose ends in a jump to close or fclose): the program's. */
static int program_call(const void *caller)
{
    uintptr_t at = (uintptr_t)caller;
    /* a vfork child's descriptors are its own table's; the handles recorded are its parent's */
    return (!unwind_in_shim(at) || at == (uintptr_t)declared_real_returns_here) && shim_tracking() &&
           !os_in_vfork_child();
}

/* Before the program opens something: not the previous input's (inputs.h). */
static void opening(int track)
{
    if (track) {
        imgleak_guard.depth++;
        inputs_new_handle();
        imgleak_guard.depth--;
    }
}

/* A descriptor the program made: the standard streams are never leaks. */
static int opened(int fd, unsigned function, int track)
{
    if (fd > 2 && track)
        record(FD_ADDRESS(fd), DECL_LIBC_FD, function);
    return fd;
}

static FILE *stream_opened(FILE *f, unsigned function, int track)
{
    if (f && track)
        record((uintptr_t)f, DECL_LIBC_FILE, function);
    return f;
}

void fds_closing(unsigned first, unsigned last, const void *caller)
{
    if (last < 3 || !program_call(caller))
        return;
    if (first < 3)
        first = 3;
    if (last - first > 65536) /* closefrom(3): only what is recorded can be forgotten */
        handles_forget_range(FD_ADDRESS(first), FD_ADDRESS(last));
    else
        for (unsigned fd = first; fd <= last; fd++)
            forget(FD_ADDRESS(fd), DECL_LIBC_FD, DECL_LIBC_CLOSE);
}

void fds_duplicated(int r, const void *caller)
{
    opened(r, DECL_LIBC_DUP, program_call(caller));
}

void fds_after_fork_child(void)
{
    handles_forget_type(DECL_LIBC_FD);
    handles_forget_type(DECL_LIBC_FILE);
}

static mode_t mode_of(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

EXPORT int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_of(flags, ap);
    va_end(ap);
    REAL(int (*)(const char *, int, ...), open, -1);
    int track = program_call(__builtin_return_address(0));
    opening(track);
    return opened(fn(path, flags, mode), DECL_LIBC_OPEN, track);
}

EXPORT int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_of(flags, ap);
    va_end(ap);
    REAL(int (*)(const char *, int, ...), open64, -1);
    int track = program_call(__builtin_return_address(0));
    opening(track);
    return opened(fn(path, flags, mode), DECL_LIBC_OPEN, track);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_of(flags, ap);
    va_end(ap);
    REAL(int (*)(int, const char *, int, ...), openat, -1);
    int track = program_call(__builtin_return_address(0));
    opening(track);
    return opened(fn(dirfd, path, flags, mode), DECL_LIBC_OPENAT, track);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_of(flags, ap);
    va_end(ap);
    REAL(int (*)(int, const char *, int, ...), openat64, -1);
    int track = program_call(__builtin_return_address(0));
    opening(track);
    return opened(fn(dirfd, path, flags, mode), DECL_LIBC_OPENAT, track);
}

EXPORT int creat(const char *path, mode_t mode)
{
    REAL(int (*)(const char *, mode_t), creat, -1);
    int track = program_call(__builtin_return_address(0));
    opening(track);
    return opened(fn(path, mode), DECL_LIBC_CREAT, track);
}

EXPORT int creat64(const char *path, mode_t mode)
{
    REAL(int (*)(const char *, mode_t), creat64, -1);
    int track = program_call(__builtin_return_address(0));
    opening(track);
    return opened(fn(path, mode), DECL_LIBC_CREAT, track);
}

EXPORT FILE *fopen(const char *path, const char *mode)
{
    REAL(FILE * (*)(const char *, const char *), fopen, NULL);
    int track = program_call(__builtin_return_address(0));
    opening(track);
    return stream_opened(fn(path, mode), DECL_LIBC_FOPEN, track);
}

EXPORT FILE *fopen64(const char *path, const char *mode)
{
    REAL(FILE * (*)(const char *, const char *), fopen64, NULL);
    int track = program_call(__builtin_return_address(0));
    opening(track);
    return stream_opened(fn(path, mode), DECL_LIBC_FOPEN, track);
}

/* The descriptor now belongs to the stream: fclose closes it. */
EXPORT FILE *fdopen(int fd, const char *mode)
{
    REAL(FILE * (*)(int, const char *), fdopen, NULL);
    int track = program_call(__builtin_return_address(0));
    opening(track);
    FILE *f = fn(fd, mode);
    if (f && fd > 2 && track)
        forget(FD_ADDRESS(fd), DECL_LIBC_FD, DECL_LIBC_FDOPEN);
    return stream_opened(f, DECL_LIBC_FDOPEN, track);
}

EXPORT int fclose(FILE *f)
{
    REAL(int (*)(FILE *), fclose, -1);
    if (f && program_call(__builtin_return_address(0)))
        forget((uintptr_t)f, DECL_LIBC_FILE, DECL_LIBC_FCLOSE);
    return fn(f);
}

EXPORT int socket(int domain, int type, int protocol)
{
    REAL(int (*)(int, int, int), socket, -1);
    int track = program_call(__builtin_return_address(0));
    opening(track);
    return opened(fn(domain, type, protocol), DECL_LIBC_SOCKET, track);
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    REAL(int (*)(int, struct sockaddr *, socklen_t *), accept, -1);
    int track = program_call(__builtin_return_address(0));
    opening(track);
    return opened(fn(fd, addr, len), DECL_LIBC_ACCEPT, track);
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    REAL(int (*)(int, struct sockaddr *, socklen_t *, int), accept4, -1);
    int track = program_call(__builtin_return_address(0));
    opening(track);
    return opened(fn(fd, addr, len, flags), DECL_LIBC_ACCEPT, track);
}

EXPORT int pipe(int fds[2])
{
    REAL(int (*)(int[2]), pipe, -1);
    int track = program_call(__builtin_return_address(0));
    opening(track);
    int r = fn(fds);
    if (r == 0) {
        opened(fds[0], DECL_LIBC_PIPE, track);
        opened(fds[1], DECL_LIBC_PIPE, track);
    }
    return r;
}

/* libunwind's pipe, which it checks memory with (a byte read from the pipe, one written from the
 * address) when it unwinds through code without CFI: made at its first use, at the lowest free
 * numbers, it would shift the program's descriptors (its first open() would not return 3), and
 * a program that dup2()s its files onto those numbers would have a byte of its input read and a
 * byte of memory written into its output. The ends go high and are the shim's own (ownfd_keep),
 * and libunwind's array of the two numbers (what it passed to pipe2) follows them if they move. */
static int libunwind_pipe(int (*fn)(int[2], int), int fds[2], int flags)
{
    int r = fn(fds, flags);
    if (r == 0)
        for (int k = 0; k < 2; k++)
            ownfd_keep(fds[k], (_Atomic int *)&fds[k]);
    return r;
}

EXPORT int pipe2(int fds[2], int flags)
{
    REAL(int (*)(int[2], int), pipe2, -1);
    if (UNLIKELY_LIBUNWIND(__builtin_return_address(0)))
        return libunwind_pipe(fn, fds, flags);
    int track = program_call(__builtin_return_address(0));
    opening(track);
    int r = fn(fds, flags);
    if (r == 0) {
        opened(fds[0], DECL_LIBC_PIPE, track);
        opened(fds[1], DECL_LIBC_PIPE, track);
    }
    return r;
}

EXPORT int dup(int fd)
{
    REAL(int (*)(int), dup, -1);
    int track = program_call(__builtin_return_address(0));
    opening(track);
    return opened(fn(fd), DECL_LIBC_DUP, track);
}

/* Every fcntl argument is an int, a long or a pointer: passed on as one word. */
static int fcntl_common(int fd, int cmd, uintptr_t arg, int (*fn)(int, int, ...), int track)
{
    int r = fn(fd, cmd, arg);
    if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
        opened(r, DECL_LIBC_FCNTL, track);
    return r;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    uintptr_t arg = va_arg(ap, uintptr_t);
    va_end(ap);
    REAL(int (*)(int, int, ...), fcntl, -1);
    /* only a copy is a new descriptor: F_GETFL and the rest end no input */
    int track = (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && program_call(__builtin_return_address(0));
    opening(track);
    return fcntl_common(fd, cmd, arg, fn, track);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    uintptr_t arg = va_arg(ap, uintptr_t);
    va_end(ap);
    REAL(int (*)(int, int, ...), fcntl64, -1);
    /* only a copy is a new descriptor: F_GETFL and the rest end no input */
    int track = (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && program_call(__builtin_return_address(0));
    opening(track);
    return fcntl_common(fd, cmd, arg, fn, track);
}
