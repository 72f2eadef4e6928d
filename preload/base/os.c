/* The shim's direct line to the kernel: raw mmap/munmap syscalls (bypassing our own interposed
 * mmap) and a tiny allocation-free formatter for debug messages written with write(2). */
#include "os.h"

#include "ownfd.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static int log_on;
/* stderr as it was at start, out of the program's reach (ownfd.h); -2 before os_log_start */
static ownfd_t log_fd = -2;

/* The process the shim runs for: set at start and in a forked child (os_pid_now). A vfork child
 * runs on its parent's memory until it execs, with a pid of its own. */
static _Atomic long shim_pid;

void os_pid_now(void)
{
    atomic_store(&shim_pid, syscall(SYS_getpid));
}

int os_in_vfork_child(void)
{
    long pid = atomic_load_explicit(&shim_pid, memory_order_relaxed);
    return pid != 0 && syscall(SYS_getpid) != pid;
}

void os_log_start(void)
{
    log_fd = ownfd_adopt(2);
}

void os_log_restart(void)
{
    ownfd_forget_all();
    log_fd = ownfd_adopt(2);
}

/* The shim's own mappings, so that the snapshot can say how much of RSS is the shim's
 * (procinfo_resident): the kernel cannot name anonymous mappings everywhere (PR_SET_VMA needs
 * CONFIG_ANON_VMA_NAME). A slot is claimed with a compare-and-swap; os_map and os_unmap are
 * rare (tables growing), so a linear search is cheap. Mappings made while every slot is taken
 * are counted, not listed. */
#define OS_REGIONS 4096
static struct {
    _Atomic uintptr_t start;
    _Atomic size_t bytes;
} regions[OS_REGIONS];
static _Atomic uint64_t regions_unlisted;

static void region_add(void *addr, size_t bytes)
{
    for (size_t i = 0; i < OS_REGIONS; i++) {
        uintptr_t empty = 0;
        if (atomic_compare_exchange_strong(&regions[i].start, &empty, (uintptr_t)addr)) {
            atomic_store(&regions[i].bytes, bytes);
            return;
        }
    }
    atomic_fetch_add(&regions_unlisted, bytes);
}

static void region_remove(void *addr)
{
    for (size_t i = 0; i < OS_REGIONS; i++) {
        if (atomic_load(&regions[i].start) == (uintptr_t)addr) {
            atomic_store(&regions[i].bytes, 0);
            atomic_store(&regions[i].start, 0);
            return;
        }
    }
}

void *os_map(size_t bytes)
{
    long r = syscall(SYS_mmap, NULL, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r < 0 && r > -4096)
        return NULL;
    region_add((void *)r, bytes);
    return (void *)r;
}

void os_unmap(void *addr, size_t bytes)
{
    if (addr) {
        region_remove(addr);
        syscall(SYS_munmap, addr, bytes);
    }
}

uint64_t os_foreach_region(void (*visit)(uintptr_t start, size_t bytes, void *ctx), void *ctx)
{
    for (size_t i = 0; i < OS_REGIONS; i++) {
        uintptr_t start = atomic_load(&regions[i].start);
        size_t bytes = atomic_load(&regions[i].bytes);
        if (start && bytes)
            visit(start, bytes, ctx);
    }
    return atomic_load(&regions_unlisted);
}

size_t os_budget(void)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_AS, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY)
        return SIZE_MAX;
    return (size_t)(lim.rlim_cur / 16);
}

void os_discard(void *addr, size_t bytes)
{
    syscall(SYS_madvise, addr, bytes, MADV_DONTNEED);
}

int os_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void os_log_enable(int on)
{
    log_on = on;
}

static size_t put_unsigned(char *out, uint64_t v, unsigned base)
{
    char tmp[24];
    size_t n = 0, i;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

const char *os_errno_text(int err)
{
    /* strerror may translate, and so allocate and lock: not on the snapshot path */
    switch (err) {
    case ENOENT: return "no such file or directory";
    case EACCES: return "permission denied";
    case EPERM: return "operation not permitted";
    case ENOTDIR: return "not a directory";
    case ENAMETOOLONG: return "path too long";
    case ENOSPC: return "no space left on device";
    case EDQUOT: return "disk quota exceeded";
    case EROFS: return "read-only file system";
    case EEXIST: return "file exists";
    case EBADF: return "bad file descriptor";
    case EIO: return "input/output error";
    case EMFILE: return "too many open files";
    case ENFILE: return "too many open files in system";
    case ELOOP: return "too many levels of symbolic links";
    case EFBIG: return "file too large";
    default: return "error";
    }
}

static void vlog(const char *fmt, va_list ap)
{
    char buf[512];
    size_t n = 0;
    int saved = errno;
    const char *prefix = "imgleak: ";
    while (*prefix)
        buf[n++] = *prefix++;
    for (const char *f = fmt; *f && n < sizeof buf - 32; f++) {
        if (*f != '%') {
            buf[n++] = *f;
            continue;
        }
        f++;
        if (*f == 'z' || *f == 'l')
            f++;
        switch (*f) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            while (*s && n < sizeof buf - 32)
                buf[n++] = *s++;
            break;
        }
        case 'd': {
            long v = f[-1] == 'l' || f[-1] == 'z' ? va_arg(ap, long) : va_arg(ap, int);
            if (v < 0) {
                buf[n++] = '-';
                v = -v;
            }
            n += put_unsigned(buf + n, (uint64_t)v, 10);
            break;
        }
        case 'u':
            n += put_unsigned(buf + n, f[-1] == 'l' || f[-1] == 'z' ? va_arg(ap, unsigned long)
                                                                  : va_arg(ap, unsigned), 10);
            break;
        case 'x':
            n += put_unsigned(buf + n, f[-1] == 'l' || f[-1] == 'z' ? va_arg(ap, unsigned long)
                                                                  : va_arg(ap, unsigned), 16);
            break;
        case 'p':
            buf[n++] = '0';
            buf[n++] = 'x';
            n += put_unsigned(buf + n, (uintptr_t)va_arg(ap, void *), 16);
            break;
        default:
            buf[n++] = *f ? *f : '%';
            if (!*f)
                f--;
        }
    }
    buf[n++] = '\n';
    if (log_fd >= 0)
        ownfd_write_all(log_fd, buf, n);
    else if (log_fd == -2)
        os_write_all(2, buf, n); /* not started yet: fd 2 is still the program's stderr */
    errno = saved;
}

void os_log(const char *fmt, ...)
{
    va_list ap;
    if (!log_on)
        return;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

/* Said whatever IMGLEAK_DEBUG is: something the user must know (a snapshot lost, tracking
 * stopped). */
void os_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

static _Atomic unsigned noticed; /* one bit per NOTICE_* kind already said */

void os_notice_once(unsigned kind, const char *fmt, ...)
{
    va_list ap;
    unsigned bit = 1u << kind;
    if (atomic_fetch_or(&noticed, bit) & bit)
        return;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}
