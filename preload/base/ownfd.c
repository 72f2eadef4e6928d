/* The shim's own descriptors, kept out of the program's reach (see ownfd.h). */
#define _GNU_SOURCE
#include "ownfd.h"

#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define OWNFD_SLOTS 12
/* Descriptors go this high, so that the program's own numbering is what it is natively */
#define OWNFD_HIGH 1000

static struct {
    pthread_mutex_t lock;
    /* slots in use or being filled: while 0, the program's close() need not take the lock */
    _Atomic int busy;
    int fd[OWNFD_SLOTS]; /* 0: free (0 is never ours: stdin is the program's); -1: lost */
    int kept[OWNFD_SLOTS]; /* held for the whole run and across fork (ownfd_adopt, _keep) */
    int lasting[OWNFD_SLOTS]; /* held until ownfd_close, not across fork (ownfd_take) */
    _Atomic int *mirror[OWNFD_SLOTS]; /* where another holder keeps the number (ownfd_keep) */
    /* the lowest number of a kept or lasting descriptor: while no other slot is busy, close() of
     * a number below it needs no lock (every such descriptor of the shim's is high) */
    _Atomic int lasting_min;
} of = {.lock = PTHREAD_MUTEX_INITIALIZER, .lasting_min = __INT_MAX__};

/* Signals are blocked while the lock is held: a handler on this thread that closes a descriptor
 * would otherwise wait for the lock its own thread holds. */
static void lock(sigset_t *saved)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, saved);
    pthread_mutex_lock(&of.lock);
}

static void unlock(const sigset_t *saved)
{
    pthread_mutex_unlock(&of.lock);
    pthread_sigmask(SIG_SETMASK, saved, NULL);
}

static int sys_close(int fd)
{
    return (int)syscall(SYS_close, fd);
}

static int slot_of(int fd)
{
    for (int i = 0; i < OWNFD_SLOTS; i++)
        if (of.fd[i] == fd && fd > 0)
            return i;
    return -1;
}

/* A free slot, or -1; under the lock. */
static int free_slot(void)
{
    for (int i = 0; i < OWNFD_SLOTS; i++)
        if (of.fd[i] == 0)
            return i;
    return -1;
}

/* After a kept or lasting descriptor came, went or changed number; under the lock. */
static void lasting_changed(void)
{
    int lowest = __INT_MAX__;
    for (int i = 0; i < OWNFD_SLOTS; i++)
        if ((of.kept[i] || of.lasting[i]) && of.fd[i] > 0 && of.fd[i] < lowest)
            lowest = of.fd[i];
    atomic_store(&of.lasting_min, lowest);
}

/* Where the shim's descriptors go: above the program's usual range, keeping the lowest numbers
 * free as they are natively; under a limit below OWNFD_HIGH, anywhere but a standard stream's
 * number (a program that closed stdin, as gnulib's close_stdin does at exit, may reopen it, and
 * 0 marks an empty slot here). */
static int high_start(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)OWNFD_HIGH + 24)
        return rl.rlim_cur > 64 ? (int)rl.rlim_cur - 24 : 3;
    return OWNFD_HIGH;
}

/* fd moved to high_start() or above, or left where it is when it is there already or cannot be
 * moved (then it may still be a standard stream's number: the callers refuse those). */
static int move_high(int fd)
{
    int at = high_start();
    if (at <= fd)
        return fd;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, at);
    if (high < 0)
        return fd;
    sys_close(fd);
    return high;
}

ownfd_t ownfd_open(const char *path, int flags, mode_t mode)
{
    sigset_t saved;
    int err = EMFILE;
    atomic_fetch_add(&of.busy, 1);
    lock(&saved);
    int slot = free_slot();
    if (slot >= 0) {
        int fd;
        do /* a FIFO or a network file system may be interrupted */
            fd = open(path, flags | O_CLOEXEC, mode);
        while (fd < 0 && errno == EINTR);
        err = errno;
        if (fd >= 0) {
            fd = move_high(fd);
            err = errno;
        }
        if (fd > 2) {
            of.fd[slot] = fd;
        } else {
            if (fd >= 0)
                sys_close(fd); /* a standard stream's number that could not be moved */
            slot = -1;
        }
    }
    unlock(&saved);
    if (slot < 0) {
        atomic_fetch_sub(&of.busy, 1);
        errno = err == 0 ? EMFILE : err;
    }
    return slot;
}

/* fd into a slot for good (ownfd_take, ownfd_keep): kept across fork or lasting until
 * ownfd_close, not busy, so that close() keeps its fast path below the number. */
static ownfd_t hold(int fd, int kept, _Atomic int *mirror)
{
    sigset_t saved;
    lock(&saved);
    int slot = free_slot();
    int moved = slot < 0 ? -1 : move_high(fd);
    if (moved <= 2) {
        slot = -1;
    } else {
        of.fd[slot] = moved;
        of.kept[slot] = kept;
        of.lasting[slot] = !kept;
        of.mirror[slot] = mirror;
        if (mirror)
            atomic_store(mirror, moved);
        lasting_changed();
    }
    unlock(&saved);
    return slot;
}

ownfd_t ownfd_take(int fd)
{
    return fd < 0 ? -1 : hold(fd, 0, NULL);
}

int ownfd_close(ownfd_t slot)
{
    sigset_t saved;
    if (slot < 0 || slot >= OWNFD_SLOTS)
        return 0;
    lock(&saved);
    int rc = of.fd[slot] > 0 ? sys_close(of.fd[slot]) : 0;
    int err = errno;
    of.fd[slot] = 0;
    int lasting = of.lasting[slot] || of.kept[slot];
    of.lasting[slot] = of.kept[slot] = 0;
    of.mirror[slot] = NULL;
    if (lasting)
        lasting_changed();
    unlock(&saved);
    if (!lasting)
        atomic_fetch_sub(&of.busy, 1);
    errno = err;
    return rc;
}

/* One syscall on the slot's current descriptor, under the lock, retried on EINTR. */
static ssize_t call(ownfd_t slot, int op, void *buf, size_t len, off_t at)
{
    sigset_t saved;
    ssize_t n;
    if (slot < 0 || slot >= OWNFD_SLOTS) {
        errno = EBADF;
        return -1;
    }
    lock(&saved);
    int fd = of.fd[slot];
    do {
        switch (op) {
        case 'w': n = write(fd, buf, len); break;
        case 'W': n = pwrite(fd, buf, len, at); break;
        case 'R': n = pread(fd, buf, len, at); break;
        case 'r': n = read(fd, buf, len); break;
        case 's': n = lseek(fd, at, SEEK_SET); break;
        default: n = fstat(fd, buf); break;
        }
    } while (n < 0 && errno == EINTR);
    int err = errno;
    unlock(&saved);
    errno = err;
    return n;
}

int ownfd_write_all(ownfd_t slot, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = call(slot, 'w', (void *)p, len, 0);
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* pwrite ('W') or pread ('R') of all of buf at at; a call that moves nothing is EIO. */
static int transfer_all(ownfd_t slot, int op, char *p, size_t len, off_t at)
{
    while (len > 0) {
        ssize_t n = call(slot, op, p, len, at);
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        p += n;
        at += n;
        len -= (size_t)n;
    }
    return 0;
}

int ownfd_pwrite_all(ownfd_t slot, const void *buf, size_t len, off_t at)
{
    return transfer_all(slot, 'W', (char *)buf, len, at);
}

int ownfd_pread_all(ownfd_t slot, void *buf, size_t len, off_t at)
{
    return transfer_all(slot, 'R', buf, len, at);
}

ssize_t ownfd_read(ownfd_t slot, void *buf, size_t len)
{
    return call(slot, 'r', buf, len, 0);
}

off_t ownfd_seek(ownfd_t slot, off_t at)
{
    return (off_t)call(slot, 's', NULL, 0, at);
}

int ownfd_stat(ownfd_t slot, struct stat *st)
{
    return (int)call(slot, 'f', st, 0, 0);
}

ownfd_t ownfd_adopt(int fd)
{
    sigset_t saved;
    int slot = -1;
    if (fcntl(fd, F_GETFD) < 0)
        return -1;
    lock(&saved);
    slot = free_slot();
    int copy = slot < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, high_start());
    if (copy < 0) {
        slot = -1;
    } else {
        of.fd[slot] = copy;
        of.kept[slot] = 1;
        lasting_changed();
    }
    unlock(&saved);
    return slot;
}

ownfd_t ownfd_keep(int fd, _Atomic int *mirror)
{
    return fd < 0 ? -1 : hold(fd, 1, mirror);
}

int ownfd_program_close(int fd, int (*real_close)(int))
{
    sigset_t saved;
    if (atomic_load(&of.busy) == 0 && fd < atomic_load(&of.lasting_min))
        return real_close(fd);
    lock(&saved);
    int ours = slot_of(fd) >= 0;
    unlock(&saved);
    if (ours) {
        errno = EBADF; /* as if it were not open: to the program, it is not */
        return -1;
    }
    return real_close(fd);
}

/* The shim's descriptors in [first, last], ascending; how many. Called under the lock. */
static int ours_in(unsigned first, unsigned last, unsigned *out)
{
    int n = 0;
    for (int i = 0; i < OWNFD_SLOTS; i++) {
        unsigned fd = (unsigned)of.fd[i];
        if (of.fd[i] > 0 && fd >= first && fd <= last) {
            int j = n++;
            while (j > 0 && out[j - 1] > fd) {
                out[j] = out[j - 1];
                j--;
            }
            out[j] = fd;
        }
    }
    return n;
}

/* The lock is held throughout, so that a descriptor the shim opens meanwhile is not closed. */
int ownfd_program_close_range(unsigned first, unsigned last, int flags)
{
    sigset_t saved;
    unsigned ours[OWNFD_SLOTS];
    int rc = 0, err = 0;
    if (first > last) {
        errno = EINVAL;
        return -1;
    }
    lock(&saved);
    int n = ours_in(first, last, ours);
    unsigned from = first;
    for (int i = 0; i <= n; i++) {
        unsigned to = i < n ? ours[i] - 1 : last;
        if ((i == n || ours[i] > from) && from <= to &&
            syscall(SYS_close_range, from, to, flags) < 0 && rc == 0) {
            rc = -1;
            err = errno;
        }
        if (i < n)
            from = ours[i] + 1;
    }
    unlock(&saved);
    errno = err;
    return rc;
}

void ownfd_program_closefrom(int lowfd, void (*real_closefrom)(int))
{
    sigset_t saved;
    unsigned ours[OWNFD_SLOTS];
    if (lowfd < 0)
        lowfd = 0;
    lock(&saved);
    int n = ours_in((unsigned)lowfd, ~0u, ours);
    unsigned from = (unsigned)lowfd;
    for (int i = 0; i < n; i++) {
        if (ours[i] > from)
            syscall(SYS_close_range, from, ours[i] - 1, 0);
        from = ours[i] + 1;
    }
    if (real_closefrom)
        real_closefrom((int)from);
    else
        syscall(SYS_close_range, from, ~0u, 0);
    unlock(&saved);
}

int ownfd_program_dup(int oldfd, int newfd, int flags, int (*real_dup2)(int, int),
                      int (*real_dup3)(int, int, int))
{
    sigset_t saved;
    /* a vfork child's table is its own: moving a descriptor there would rename the parent's slot */
    if (os_in_vfork_child())
        return real_dup2 ? real_dup2(oldfd, newfd) : real_dup3(oldfd, newfd, flags);
    lock(&saved);
    int slot = slot_of(newfd);
    if (slot_of(oldfd) >= 0 || (slot >= 0 && oldfd == newfd)) {
        unlock(&saved);
        errno = real_dup2 ? EBADF : EINVAL; /* as if not open; dup3 refuses equal numbers */
        return -1;
    }
    if (slot >= 0) {
        /* the program takes this number: the shim's file moves to another one first */
        int moved = fcntl(newfd, F_DUPFD_CLOEXEC, high_start());
        if (moved < 0)
            moved = fcntl(newfd, F_DUPFD_CLOEXEC, 3);
        /* no number left: the program's call wins, the shim's file is lost (its uses fail
         * with EBADF, the snapshot is counted as failed, never written elsewhere) */
        of.fd[slot] = moved >= 0 ? moved : -1;
        if (of.mirror[slot])
            atomic_store(of.mirror[slot], of.fd[slot]);
        if (of.kept[slot] || of.lasting[slot])
            lasting_changed();
    }
    int rc = real_dup2 ? real_dup2(oldfd, newfd) : real_dup3(oldfd, newfd, flags);
    int err = errno;
    unlock(&saved);
    errno = err;
    return rc;
}

void ownfd_forget_all(void)
{
    pthread_mutex_init(&of.lock, NULL);
    for (int i = 0; i < OWNFD_SLOTS; i++) {
        /* the holder's copy goes too: libunwind, finding its pipe gone, makes another (the
         * numbers it held may be the next files opened here) */
        if (of.mirror[i])
            atomic_store(of.mirror[i], -1);
        of.fd[i] = 0;
        of.kept[i] = of.lasting[i] = 0;
        of.mirror[i] = NULL;
    }
    atomic_store(&of.lasting_min, __INT_MAX__);
    atomic_store(&of.busy, 0);
}

void ownfd_lock_reset(void)
{
    pthread_mutex_init(&of.lock, NULL);
}

void ownfd_after_fork_child(void)
{
    pthread_mutex_init(&of.lock, NULL);
    for (int i = 0; i < OWNFD_SLOTS; i++) {
        if (of.kept[i])
            continue; /* the same stderr, in the child too */
        if (of.fd[i] > 0)
            sys_close(of.fd[i]);
        of.fd[i] = 0;
        of.lasting[i] = 0;
    }
    lasting_changed();
    atomic_store(&of.busy, 0);
}
