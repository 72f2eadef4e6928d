/* Periodic and on-demand snapshots (see periodic.h). */
#define _GNU_SOURCE
#include "periodic.h"

#include "guard.h"
#include "imgleak/format.h"
#include "os.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

#define STOP_WAIT_S 2  /* for a snapshot under way to finish */
#define STOP_SPINS 10000

static struct {
    unsigned interval_ms;
    int signal;
    void (*take)(void);
    void (*wake_request)(void);
    sem_t wake;
    _Atomic int running;
    _Atomic int stopping; /* periodic_stop: no more snapshots, and the thread ends */
    _Atomic int tid;      /* the thread's, while it runs */
    pthread_t thread;
    _Atomic int peak; /* the last request was imgleak run's, at a new peak */
    struct sigaction program; /* what the program asked for, for our signal */
    int program_set;
} pd;

/* glibc's own name for sigaction: the shim's interposed sigaction must not see the shim's call */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

static void on_signal(int sig, siginfo_t *info, void *ctx)
{
    int saved = errno;
    if (info && info->si_code == SI_QUEUE && info->si_value.sival_int == IMGLEAK_PEAK_SIGVAL)
        atomic_store(&pd.peak, 1);
    sem_post(&pd.wake); /* async-signal-safe: the thread does the rest */
    if (!atomic_load(&pd.running))
        pd.wake_request();
    errno = saved;
    if (!pd.program_set)
        return; /* the default action would end the program: taking snapshots replaces it */
    if (pd.program.sa_flags & SA_SIGINFO) {
        if (pd.program.sa_sigaction)
            pd.program.sa_sigaction(sig, info, ctx);
    } else if (pd.program.sa_handler != SIG_DFL && pd.program.sa_handler != SIG_IGN) {
        pd.program.sa_handler(sig);
    }
}

static void *run(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* the program's signals are not ours to take */
    imgleak_guard.depth++;                  /* nothing this thread allocates is the program's */
    /* named from inside: naming another thread opens /proc/self/task/N/comm, a descriptor the
     * program's close_range could take from under it, and "imgleak" would land in its file */
    prctl(PR_SET_NAME, "imgleak", 0, 0, 0);
    atomic_store(&pd.tid, (int)syscall(SYS_gettid));
    while (!atomic_load(&pd.stopping)) {
        int rc;
        if (pd.interval_ms) {
            struct timespec until;
            /* the monotonic clock: a wall clock set back must not stop the snapshots */
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_sec += pd.interval_ms / 1000;
            until.tv_nsec += (long)(pd.interval_ms % 1000) * 1000000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            rc = sem_clockwait(&pd.wake, CLOCK_MONOTONIC, &until);
        } else {
            rc = sem_wait(&pd.wake);
        }
        if (rc < 0 && errno == EINTR)
            continue;
        /* a burst of signals is one snapshot */
        while (sem_trywait(&pd.wake) == 0)
            ;
        if (!atomic_load(&pd.stopping))
            pd.take();
    }
    return NULL;
}

static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;

static int start_thread(void)
{
    pthread_mutex_lock(&start_lock);
    if (atomic_load(&pd.running) || atomic_load(&pd.stopping)) {
        pthread_mutex_unlock(&start_lock);
        return 0;
    }
    pthread_attr_t attr;
    pthread_t th;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 512 * 1024); /* joinable: periodic_stop waits for its end */
    atomic_store(&pd.tid, 0);
    int rc = pthread_create(&th, &attr, run, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        pthread_mutex_unlock(&start_lock);
        os_log("cannot start the snapshot thread: %s", strerror(rc));
        return -1;
    }
    pd.thread = th;
    atomic_store(&pd.running, 1);
    pthread_mutex_unlock(&start_lock);
    return 0;
}

void periodic_stop(void)
{
    /* once: two threads may exit at once (exit and quick_exit), and only one may join */
    if (atomic_exchange(&pd.stopping, 1) || !atomic_load(&pd.running))
        return;
    sem_post(&pd.wake);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += STOP_WAIT_S;
    if (pthread_timedjoin_np(pd.thread, NULL, &until) != 0) {
        os_log("the snapshot thread did not end within %d s", STOP_WAIT_S);
        return;
    }
    atomic_store(&pd.running, 0);
    /* joined once the kernel cleared its thread id; it leaves /proc/self/task a moment later */
    int tid = atomic_load(&pd.tid);
    char path[48];
    snprintf(path, sizeof path, "/proc/self/task/%d", tid);
    for (int spin = 0; tid > 0 && spin < STOP_SPINS && access(path, F_OK) == 0; spin++)
        sched_yield();
}

int periodic_take_peak(void)
{
    return atomic_exchange(&pd.peak, 0);
}

void periodic_ensure_thread(void)
{
    if (pd.take && !atomic_load(&pd.running))
        start_thread();
}

int periodic_start(unsigned interval_ms, int signal, void (*take)(void), void (*wake)(void))
{
    if (!interval_ms && !signal)
        return 0;
    pd.interval_ms = interval_ms;
    pd.signal = signal;
    pd.take = take;
    pd.wake_request = wake;
    sem_init(&pd.wake, 0, 0);
    if (signal) {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_signal;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (__sigaction(signal, &sa, &old) == 0 &&
            (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO))) {
            pd.program = old; /* installed before us (a preloaded library's) */
            pd.program_set = 1;
        }
    }
    return interval_ms ? start_thread() : 0;
}

/* The thread did not come along into the child. With an interval it starts again now; a
 * signal-only child starts it on first use, like its parent did. */
void periodic_after_fork_child(void)
{
    if (!pd.take)
        return;
    atomic_store(&pd.running, 0);
    atomic_store(&pd.stopping, 0);
    /* another thread may have held it at the fork: no thread is left to release it here */
    pthread_mutex_init(&start_lock, NULL);
    sem_init(&pd.wake, 0, 0);
    if (pd.interval_ms)
        start_thread();
}

int periodic_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    /* a vfork child (Python's subprocess resets every handler before it execs) changes its own
     * handlers, in a table of its own; what the shim keeps here is its parent's */
    if (!pd.signal || sig != pd.signal || os_in_vfork_child())
        return 0;
    if (old) {
        if (pd.program_set) {
            *old = pd.program;
        } else {
            memset(old, 0, sizeof *old);
            old->sa_handler = SIG_DFL;
        }
    }
    if (act) {
        pd.program = *act;
        pd.program_set = act->sa_handler != SIG_DFL || (act->sa_flags & SA_SIGINFO);
    }
    return 1;
}
