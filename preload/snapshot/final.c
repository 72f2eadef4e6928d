/* The final-snapshot sentinel (see final.h).
 *
 * How the sentinel learns the end: the program holds the write end of a pipe (close-on-exec), the
 * sentinel the read end; the read returns 0 once no process holds the write end any more, i.e.
 * when the program has died (all its threads gone, so its memory is final) or exec'd. Which one:
 * the exec hooks at the end of this file say an exec; otherwise /proc/<pid>/stat tells a dying
 * program (gone, a zombie, or PF_EXITING) from one that exec'd by a raw system call.
 *
 * Until the end the sentinel shares the thread pointer (and so the TLS, errno included) of the
 * thread that made it, which runs on: it must touch nothing but its own stack, so it waits with
 * raw system calls only. Once the program is gone nobody else uses that memory, and the ordinary
 * snapshot code can run. */
#define _GNU_SOURCE
#include "final.h"

#include "guard.h"

#include "ownfd.h"

#include "os.h"
#include "procinfo.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SENTINEL_NAME "imgleak-final" /* analyzer/commands/supervise.c looks for it */
#define SENTINEL_STACK (1024 * 1024) /* the snapshot (and the scan) run on it */
#define SENTINEL_FD_MIN 256          /* out of the way of programs that expect low numbers */
#define SENTINEL_FD_RESERVED 64      /* below: /dev/null in the sentinel */
#define SENTINEL_DEADLINE_S 120      /* a lock a killed thread held must not keep it forever */

static struct {
    void (*take)(long pid, long ppid);
    int keep_stderr;
    _Atomic int exec_pending; /* the program is in exec: its end is not a death */
    int watch_fd;       /* the program's end; -1 when there is no sentinel */
    ownfd_t watch_slot; /* where watch_fd is kept from the program's close calls; -1: not */
    int read_fd;  /* the sentinel's end, closed in the program */
    long pid, ppid;
    void *stack;
} final = {.watch_fd = -1, .watch_slot = -1, .read_fd = -1};

/* A system call that sets no errno (the sentinel's errno is another thread's). */
static long raw_syscall(long nr, long a, long b, long c, long d)
{
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = nr;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
#else
    long ret = syscall(nr, a, b, c, d); /* errno may be touched: harmless but not clean */
    return ret;
#endif
}

#define TASK_PF_EXITING 0x4 /* include/linux/sched.h: set first thing in do_exit */

/* 1 while pid runs on (after an exec, say); 0 once it is gone, a zombie, or on its way out: the
 * pipe reaches EOF in do_exit before the process turns zombie, so "exiting" must count. */
static int program_alive(long pid)
{
    char path[64] = "/proc/", digits[24], stat[512];
    int n = 0;
    do
        digits[n++] = (char)('0' + pid % 10);
    while ((pid /= 10) > 0);
    size_t len = strlen(path);
    while (n > 0)
        path[len++] = digits[--n];
    memcpy(path + len, "/stat", 6);
    long fd = raw_syscall(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    long got = raw_syscall(SYS_read, fd, (long)stat, sizeof stat - 1, 0);
    raw_syscall(SYS_close, fd, 0, 0, 0);
    if (got <= 0)
        return 0;
    stat[got] = '\0';
    const char *s = NULL;
    for (const char *c = stat; *c; c++) /* the name may hold ')': the state follows the last */
        if (*c == ')')
            s = c;
    if (!s || s[1] != ' ' || s[2] == 'Z' || s[2] == 'X' || s[2] == 'x')
        return 0;
    s += 3; /* past the state, field 3 */
    for (int field = 3; field < 9 && *s; s++) /* to the start of field 9, the flags */
        if (*s == ' ')
            field++;
    unsigned long flags = 0;
    while (*s >= '0' && *s <= '9')
        flags = flags * 10 + (unsigned long)(*s++ - '0');
    return !(flags & TASK_PF_EXITING);
}

#define PROBE_WAIT_MS 2000 /* reading the allocator's figures takes microseconds */

/* 1 when the allocator's figures can be read without waiting forever: a thread killed inside
 * malloc leaves its arena's lock held, and jemalloc's mallctl would wait for it (glibc's figures
 * are the shim's own counts: procinfo_figures_lock says which). A copy of the process (fork by the
 * raw system call: no atfork handlers) reads them first; if it has not finished in time, it is
 * killed and the snapshot goes without them. */
static int allocator_readable(void)
{
    long child = raw_syscall(SYS_clone, SIGCHLD, 0, 0, 0);
    if (child == 0) {
        imgleak_process_rec_t rec;
        procinfo_memory(&rec, 1);
        raw_syscall(SYS_exit_group, 0, 0, 0, 0);
    }
    if (child < 0)
        return 0;
    for (int waited = 0; waited < PROBE_WAIT_MS; waited += 10) {
        int status;
        if (waitpid((pid_t)child, &status, WNOHANG) == child)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0;
        usleep(10000);
    }
    kill((pid_t)child, SIGKILL);
    waitpid((pid_t)child, NULL, 0);
    return 0;
}

/* Alone in its own process group (a ^C or a group kill is for the program, not for it), every
 * signal blocked, no descriptor of the program held (a pipe the program closes must reach EOF
 * for its reader). Raw system calls only: see the top of the file. */
static void sentinel_detach(int keep)
{
    uint64_t all = ~UINT64_C(0);
    raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, sizeof all);
    raw_syscall(SYS_setpgid, 0, 0, 0, 0);
    int low = final.keep_stderr ? 3 : 0;
    if (final.keep_stderr)
        raw_syscall(SYS_close_range, 0, 1, 0, 0);
    if (raw_syscall(SYS_close_range, low, keep - 1, 0, 0) < 0 ||
        raw_syscall(SYS_close_range, keep + 1, ~0U, 0, 0) < 0)
        for (int fd = low; fd < 4096; fd++) /* kernels before 5.9 */
            if (fd != keep)
                raw_syscall(SYS_close, fd, 0, 0, 0);
    /* The low numbers go to /dev/null: a stray write to 0-2 must not land in a snapshot, and
     * state the program keeps by descriptor number (libunwind's validation pipe, made after
     * the sentinel was) must not find the snapshot file under its number and close it. */
    for (int fd = low; fd < SENTINEL_FD_RESERVED; fd++)
        if (raw_syscall(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDWR, 0) < 0)
            break;
}

#define KCMP_VM_TYPE 1        /* linux/kcmp.h: KCMP_VM */
#define LOST_PIPE_CHECK_MS 10 /* how often a lost pipe's watch looks for a raw exec */

/* 1 while pid still runs on the memory the sentinel shares (no exec since), 0 when it does not
 * or that cannot be told (kcmp needs CONFIG_CHECKPOINT_RESTORE). kcmp's last argument is
 * unused for KCMP_VM. */
static int program_shares_memory(long pid)
{
    return raw_syscall(SYS_kcmp, raw_syscall(SYS_getpid, 0, 0, 0, 0), pid, KCMP_VM_TYPE, 0) == 0;
}

/* The program closed the pipe itself (a raw close or close_range system call, which no hook
 * sees) and lives on in the same memory: its end is watched another way, until it dies (1) or
 * exec's after all (0). A pidfd turns readable once every thread is gone; without pidfds
 * (Linux before 5.3) /proc is polled. */
static int sentinel_watch_lost_pipe(void)
{
    long pidfd = raw_syscall(SYS_pidfd_open, final.pid, 0, 0, 0);
    for (;;) {
        if (pidfd >= 0) {
            struct {
                int fd;
                short events, revents;
            } pfd = {(int)pidfd, 1 /* POLLIN */, 0};
            struct timespec wait = {0, LOST_PIPE_CHECK_MS * 1000000L};
            if (raw_syscall(SYS_ppoll, (long)&pfd, 1, (long)&wait, 0) > 0)
                return 1;
        } else {
            struct timespec tick = {0, 100 * 1000000L};
            raw_syscall(SYS_nanosleep, (long)&tick, 0, 0, 0);
            if (!program_alive(final.pid))
                return 1;
        }
        /* a raw execve (not through the hooks) after the pipe was lost: the image is new */
        if (atomic_load(&final.exec_pending) ||
            (!program_shares_memory(final.pid) && program_alive(final.pid)))
            return 0;
    }
}

/* Waits for the pipe's EOF; 1 when it means the program's death. */
static int sentinel_wait(int keep)
{
    char byte;
    long got;
    while ((got = raw_syscall(SYS_read, keep, (long)&byte, 1, 0)) != 0)
        if (got != -EINTR && got != 1)
            return 0;
    if (atomic_load(&final.exec_pending) || !program_alive(final.pid))
        return !atomic_load(&final.exec_pending); /* exec'd through the hooks, or gone */
    /* alive, and no exec through the hooks: a raw execve (Go's syscall.Exec) gave it a new
     * memory; the same memory means the program closed the pipe behind the shim's back */
    if (program_shares_memory(final.pid))
        return sentinel_watch_lost_pipe();
    return !program_alive(final.pid); /* gone meanwhile: its memory is what kcmp missed */
}

/* The program is gone: from here on the sentinel is the only user of the memory. */
static void sentinel_write(void)
{
    /* the thread-local state is the dead program thread's: nothing from here on is the program's
     * (the allocator probe's /proc reads go through the interposed open) */
    imgleak_guard.depth++;
    os_log_restart();
    /* the handlers are a copy of the program's at the clone: SIGALRM must end the sentinel */
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        uint64_t mask;
    } dfl = {SIG_DFL, 0, NULL, 0};
    raw_syscall(SYS_rt_sigaction, SIGALRM, (long)&dfl, 0, sizeof dfl.mask);
#ifdef SYS_alarm
    raw_syscall(SYS_alarm, SENTINEL_DEADLINE_S, 0, 0, 0);
#endif
    /* SIGALRM ends it; SIGSEGV and SIGBUS stay deliverable for the scan's borrowed handler */
    uint64_t allowed = ~((UINT64_C(1) << (SIGALRM - 1)) | (UINT64_C(1) << (SIGSEGV - 1)) |
                         (UINT64_C(1) << (SIGBUS - 1)));
    raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&allowed, 0, sizeof allowed);
    if (procinfo_figures_lock() && !allocator_readable()) {
        os_log("final: the allocator's lock is held by a killed thread; no allocator figures");
        procinfo_skip_allocator();
    }
    final.take(final.pid, final.ppid);
}

static int sentinel_main(void *arg)
{
    int keep = (int)(intptr_t)arg; /* not final.read_fd: the program clears that meanwhile */
    sentinel_detach(keep);
    if (sentinel_wait(keep))
        sentinel_write();
    return 0;
}

static int move_high(int fd)
{
    int high = fcntl(fd, F_DUPFD_CLOEXEC, SENTINEL_FD_MIN);
    close(fd);
    return high;
}

static int sentinel_spawn(void)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return os_log("final: no pipe"), -1;
    final.read_fd = move_high(fds[0]);
    final.watch_fd = move_high(fds[1]);
    if (final.read_fd < 0 || final.watch_fd < 0)
        goto fail;
    if (!final.stack && !(final.stack = os_map(SENTINEL_STACK)))
        goto fail;
    final.pid = getpid();
    final.ppid = getppid();
    /* the sentinel is born with its name (it inherits the thread's): imgleak run, which waits
     * for the children named so, must find it even if the program ends before it ever ran */
    char name[16] = {0};
    prctl(PR_GET_NAME, name);
    prctl(PR_SET_NAME, SENTINEL_NAME);
    /* exit signal 0: the program's wait() never sees the sentinel (only __WALL or __WCLONE do) */
    int child = clone(sentinel_main, (char *)final.stack + SENTINEL_STACK, CLONE_VM,
                      (void *)(intptr_t)final.read_fd);
    prctl(PR_SET_NAME, name);
    if (child < 0)
        goto fail;
    close(final.read_fd);
    final.read_fd = -1;
    /* a daemon that closes every descriptor it does not know must not close this one: the
     * sentinel would take that for the program's death */
    final.watch_slot = ownfd_take(final.watch_fd);
    return 0;
fail:
    os_log("final: cannot start the sentinel; no snapshot at an abrupt end");
    if (final.read_fd >= 0)
        close(final.read_fd);
    if (final.watch_fd >= 0)
        close(final.watch_fd);
    final.read_fd = final.watch_fd = -1;
    return -1;
}

int final_start(void (*take)(long pid, long ppid), int keep_stderr)
{
    final.take = take;
    final.keep_stderr = keep_stderr;
    return sentinel_spawn();
}

void final_after_fork_child(void)
{
    if (!final.take)
        return;
    /* the parent's write end: held here, it would hide the parent's end from its sentinel (in
     * a slot, ownfd_after_fork_child, which runs first, has closed it already) */
    if (final.watch_slot < 0 && final.watch_fd >= 0)
        close(final.watch_fd);
    final.watch_fd = -1;
    final.watch_slot = -1;
    final.stack = NULL; /* the parent's sentinel runs on the parent's copy of it */
    sentinel_spawn();
}

int final_watch_fd(void)
{
    return final.watch_fd;
}

/* ---- exec: the sentinel must know a new image, not a death, closed its pipe ----
 * The flag lives in the memory the sentinel keeps; a vfork child (another pid, the same memory)
 * must not set it for its parent. A failed exec clears it: the program runs on. */

#define EXPORT __attribute__((visibility("default")))

static void exec_begin(void)
{
    if (final.watch_fd >= 0 && getpid() == final.pid)
        atomic_store(&final.exec_pending, 1);
}

static int exec_failed(int rc)
{
    int saved = errno;
    if (getpid() == final.pid)
        atomic_store(&final.exec_pending, 0);
    errno = saved;
    return rc;
}

#define REAL(name, type)                                                                   \
    static type real_##name;                                                              \
    if (!real_##name)                                                                     \
        real_##name = (type)dlsym(RTLD_NEXT, #name);                                      \
    if (!real_##name) {                                                                   \
        errno = ENOSYS;                                                                   \
        return -1;                                                                        \
    }

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execv_fn)(const char *, char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    REAL(execve, execve_fn);
    exec_begin();
    return exec_failed(real_execve(path, argv, envp));
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    REAL(execvpe, execve_fn);
    exec_begin();
    return exec_failed(real_execvpe(file, argv, envp));
}

EXPORT int execv(const char *path, char *const argv[])
{
    REAL(execv, execv_fn);
    exec_begin();
    return exec_failed(real_execv(path, argv));
}

EXPORT int execvp(const char *file, char *const argv[])
{
    REAL(execvp, execv_fn);
    exec_begin();
    return exec_failed(real_execvp(file, argv));
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    REAL(fexecve, fexecve_fn);
    exec_begin();
    return exec_failed(real_fexecve(fd, argv, envp));
}

/* execl, execlp, execle: glibc's call its internal execve, which no preload sees; the list
 * becomes an argv here and goes through the hooks above */
static int exec_list(int kind, const char *path, const char *arg0, va_list ap)
{
    size_t n = 0; /* arguments after arg0, up to the NULL that ends them */
    va_list count;
    va_copy(count, ap);
    if (arg0)
        while (va_arg(count, const char *))
            n++;
    va_end(count);
    const char *argv[n + 2];
    argv[0] = arg0;
    for (size_t i = 1; i <= n; i++)
        argv[i] = va_arg(ap, const char *);
    argv[n + 1] = NULL;
    if (kind == 'e') {
        if (arg0)
            (void)va_arg(ap, const char *); /* the NULL */
        char *const *envp = va_arg(ap, char *const *);
        return execve(path, (char *const *)argv, envp);
    }
    return kind == 'p' ? execvp(path, (char *const *)argv) : execv(path, (char *const *)argv);
}

EXPORT int execl(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    int rc = exec_list('v', path, arg, ap);
    va_end(ap);
    return rc;
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    int rc = exec_list('p', file, arg, ap);
    va_end(ap);
    return rc;
}

EXPORT int execle(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    int rc = exec_list('e', path, arg, ap);
    va_end(ap);
    return rc;
}
