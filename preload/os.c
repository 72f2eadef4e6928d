/* The shim's direct line to the kernel: raw mmap/munmap syscalls (bypassing our own interposed
 * mmap) and a tiny allocation-free formatter for debug messages written with write(2). */
#include "os.h"

#include "ownfd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int log_on;
/* stderr as it was at start, out of the program's reach (ownfd.h); -2 before os_log_start */
static ownfd_t log_fd = -2;

void os_log_start(void)
{
    log_fd = ownfd_adopt(2);
}

void *os_map(size_t bytes)
{
    long r = syscall(SYS_mmap, NULL, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r < 0 && r > -4096)
        return NULL;
    return (void *)r;
}

void os_unmap(void *addr, size_t bytes)
{
    if (addr)
        syscall(SYS_munmap, addr, bytes);
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

void os_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}
