/* imgleak run (see run.h). The program gets LD_PRELOAD with the shim first (anything already
 * preloaded stays, after it; with --allocator jemalloc, jemalloc right after the shim), LD_AUDIT
 * with the audit library beside the shim (run_audit.c), and IMGLEAK_OUT; the snapshots are the
 * imgleak.*.snap files that were not in the output directory before the program started.
 * While it runs, imgleak passes SIGTERM, SIGINT, SIGHUP and SIGQUIT on to it (docker stop, a CI
 * cancel and timeout signal imgleak, not the program) and reports after it ends; the program
 * dies with imgleak (PR_SET_PDEATHSIG) rather than run on unobserved. Meanwhile it asks for a
 * snapshot at each new high-water mark of the program's RSS (peaks.c): what an OOM kill leaves. */
#define _GNU_SOURCE
#include "run.h"

#include "error.h"
#include "peaks.h"
#include "reader.h"
#include "run_audit.h"
#include "supervise.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int run_find_shim(char *out, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return error_set("cannot find where imgleak is installed"), -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    *slash = '\0';
    const char *const tries[] = {"%s/libimgleak.so", "%s/../lib/imgleak/libimgleak.so"};
    for (size_t i = 0; i < sizeof tries / sizeof *tries; i++) {
        snprintf(out, size, tries[i], self);
        if (access(out, R_OK) == 0) {
            char real[PATH_MAX];
            if (realpath(out, real) && strlen(real) < size)
                strcpy(out, real);
            return 0;
        }
    }
    return error_set("libimgleak.so not found beside %s/imgleak or in %s/../lib/imgleak", self,
                     self), -1;
}

static int is_snapshot_name(const char *name)
{
    size_t n = strlen(name);
    return strncmp(name, "imgleak.", 8) == 0 && n > 13 && strcmp(name + n - 5, ".snap") == 0;
}

typedef struct {
    char **names;
    size_t count;
} name_list_t;

static int list_snapshots(const char *dir, name_list_t *list)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return error_set("%s: %s", dir, strerror(errno)), -1;
    while ((e = readdir(d))) {
        if (!is_snapshot_name(e->d_name))
            continue;
        char **grown = realloc(list->names, (list->count + 1) * sizeof *grown);
        if (!grown || !(grown[list->count] = strdup(e->d_name))) {
            closedir(d);
            free(grown ? grown : list->names);
            list->names = NULL;
            return error_set("out of memory"), -1;
        }
        list->names = grown;
        list->count++;
    }
    closedir(d);
    return 0;
}

static int contains(const name_list_t *list, const char *name)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->names[i], name) == 0)
            return 1;
    return 0;
}

static void list_free(name_list_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->names[i]);
    free(list->names);
}

/* Whether dir holds a snapshot of pid that is not in seen. */
static int has_new_snapshot(const char *dir, pid_t pid, const name_list_t *seen)
{
    name_list_t now = {0};
    char prefix[32];
    int n = snprintf(prefix, sizeof prefix, "imgleak.%ld.", (long)pid);
    int found = 0;
    if (list_snapshots(dir, &now) == 0)
        for (size_t i = 0; i < now.count && !found; i++)
            found = strncmp(now.names[i], prefix, (size_t)n) == 0 && !contains(seen, now.names[i]);
    list_free(&now);
    return found;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int prepare_dir(const run_opts_t *opts, run_result_t *res)
{
    if (opts->out_dir) {
        if (mkdir(opts->out_dir, 0700) < 0 && errno != EEXIST)
            return error_set("%s: %s", opts->out_dir, strerror(errno)), -1;
        res->dir = realpath(opts->out_dir, NULL);
        if (!res->dir)
            return error_set("%s: %s", opts->out_dir, strerror(errno)), -1;
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    char templ[PATH_MAX];
    snprintf(templ, sizeof templ, "%s/imgleak.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(templ))
        return error_set("cannot create a temporary directory: %s", strerror(errno)), -1;
    res->dir = strdup(templ);
    res->temporary = 1;
    return res->dir ? 0 : (error_set("out of memory"), -1);
}

/* ---- passing signals on ---- */

/* Signals that end a program by default and that a supervisor, not a terminal, sends to one
 * process: docker stop (SIGTERM to PID 1), a CI cancel, timeout, a closed ssh session. */
static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
#define NFORWARDED (sizeof forwarded / sizeof *forwarded)
/* How long a program that would die of a forwarded signal gets to write a snapshot first:
 * within docker stop's 10 s grace period, with room for the report. */
#define SNAPSHOT_WAIT_MS 5000

static volatile sig_atomic_t pending[NFORWARDED];
static volatile sig_atomic_t program_ended;

typedef struct {
    struct sigaction old[NFORWARDED], old_chld;
    int installed[NFORWARDED];
    sigset_t old_mask; /* imgleak's mask before run, the program's too */
    sigset_t wait_mask; /* old_mask without the forwarded signals and SIGCHLD: for sigsuspend */
} signals_t;

static void on_forwarded(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    if (program_ended) {
        /* imgleak is writing the report. A terminal's ^C means stop; a kill() is the late echo of
         * a stop meant for the program (timeout signals imgleak, then its whole process group),
         * and the report is what whoever sent it needs */
        if (info->si_code == SI_KERNEL) {
            signal(sig, SIG_DFL);
            raise(sig); /* delivered, by default, when the handler returns */
        }
        return;
    }
    /* a terminal's ^C, ^\ or hangup (si_code SI_KERNEL) reached the program's process group
     * already; passing it on would deliver it twice */
    if (info->si_code == SI_KERNEL)
        return;
    for (size_t i = 0; i < NFORWARDED; i++)
        if (forwarded[i] == sig)
            pending[i] = 1;
}

static void on_child(int sig)
{
    (void)sig; /* only wakes sigsuspend */
}

/* Installs the handlers with the signals blocked: they are taken only inside sigsuspend, so
 * none arrives between looking at pending[] and waiting. A signal imgleak ignores (nohup, a
 * background job) stays ignored, for the program too. */
static void signals_take(signals_t *st)
{
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    for (size_t i = 0; i < NFORWARDED; i++)
        sigaddset(&block, forwarded[i]);
    sigprocmask(SIG_BLOCK, &block, &st->old_mask);
    st->wait_mask = st->old_mask;
    for (size_t i = 0; i < NFORWARDED; i++) {
        sigdelset(&st->wait_mask, forwarded[i]);
        pending[i] = 0;
        /* SA_RESTART: the report's writes and opens, after the program ended, must not fail
         * with EINTR; sigsuspend and ppoll return on a signal all the same */
        struct sigaction sa = {.sa_sigaction = on_forwarded, .sa_flags = SA_SIGINFO | SA_RESTART};
        sa.sa_mask = block;
        sigaction(forwarded[i], NULL, &st->old[i]);
        st->installed[i] = st->old[i].sa_handler != SIG_IGN &&
                           sigaction(forwarded[i], &sa, NULL) == 0;
    }
    sigdelset(&st->wait_mask, SIGCHLD);
    struct sigaction chld = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP};
    sigaction(SIGCHLD, &chld, &st->old_chld);
}

/* Puts back what imgleak had: in the child before exec, or when the program could not start. */
static void signals_restore(signals_t *st)
{
    sigaction(SIGCHLD, &st->old_chld, NULL);
    for (size_t i = 0; i < NFORWARDED; i++)
        if (st->installed[i])
            sigaction(forwarded[i], &st->old[i], NULL);
    sigprocmask(SIG_SETMASK, &st->old_mask, NULL);
}

/* Once the program has ended: the handlers stay for the rest of imgleak's life, so that the
 * signals still pending or on their way do not end imgleak before it reports (see
 * on_forwarded). */
static void signals_after_program(signals_t *st)
{
    program_ended = 1;
    sigaction(SIGCHLD, &st->old_chld, NULL);
    sigprocmask(SIG_SETMASK, &st->old_mask, NULL);
}

/* The signal the shim takes snapshots on: IMGLEAK_SIGNAL as preload/base/config.c reads it, or 0. */
static int snapshot_signal(void)
{
    const char *v = getenv("IMGLEAK_SIGNAL");
    if (!v || !*v)
        return SIGUSR2;
    if (strncmp(v, "SIG", 3) == 0)
        v += 3;
    char *end;
    long n = strtol(v, &end, 10);
    if (end != v && !*end)
        return n > 0 && n < NSIG ? (int)n : 0;
    for (int sig = 1; sig < NSIG; sig++) {
        const char *name = sigabbrev_np(sig);
        if (name && strcmp(name, v) == 0)
            return sig;
    }
    return 0;
}

/* Whether pid has a handler for sig (SigCgt in /proc/PID/status). */
static int process_catches(pid_t pid, int sig)
{
    char path[64], line[256];
    unsigned long long caught = 0;
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "SigCgt: %llx", &caught) == 1)
            break;
    fclose(f);
    return sig <= 64 && (caught >> (sig - 1) & 1);
}

/* 1 when some thread of pid has sig unblocked, so that a handler can run for it; 0 when every
 * thread blocks it: the program takes it from a signalfd or sigwait (or not at all), and sending
 * it would hand the program a signal it never gets natively. 1 when /proc cannot tell. */
static int process_takes(pid_t pid, int sig)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/task", (long)pid);
    DIR *d = opendir(path);
    if (!d)
        return 1;
    int threads = 0, takes = 0;
    for (struct dirent *e; !takes && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char status[128];
        snprintf(status, sizeof status, "%s/%.32s/status", path, e->d_name);
        FILE *f = fopen(status, "r");
        if (!f)
            continue;
        unsigned long long blocked = ~0ULL;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "SigBlk: %llx", &blocked) == 1)
                break;
        fclose(f);
        threads++;
        takes = sig > 64 || !(blocked >> (sig - 1) & 1);
    }
    closedir(d);
    return takes || threads == 0;
}

static int child_exited(pid_t pid)
{
    siginfo_t si = {0};
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == pid;
}

/* Asks the program's shim for a snapshot and waits until it is written, the program ends, or
 * SNAPSHOT_WAIT_MS pass. The shim renames a snapshot into place when complete, so one that
 * appears is whole. */
static void request_snapshot(pid_t pid, int snap_sig, const char *dir, const sigset_t *wait_mask)
{
    name_list_t seen = {0};
    if (list_snapshots(dir, &seen) < 0 || kill(pid, snap_sig) < 0) {
        list_free(&seen);
        return;
    }
    const struct timespec tick = {0, 20 * 1000000};
    for (int waited = 0; waited < SNAPSHOT_WAIT_MS; waited += 20) {
        if (has_new_snapshot(dir, pid, &seen) || child_exited(pid))
            break;
        ppoll(NULL, 0, &tick, wait_mask); /* SIGCHLD cuts it short */
    }
    list_free(&seen);
}

/* Passes sig on. A program that would die of it (no handler of its own, and some thread not
 * blocking it) writes no snapshot at exit, so it is asked for one first, while the shim can
 * still take it: only where the shim's handler can run, never into a program that takes the
 * snapshot signal from a signalfd. */
static void forward_signal(pid_t pid, int sig, const char *dir, const sigset_t *wait_mask)
{
    int snap_sig = snapshot_signal();
    if (!process_catches(pid, sig) && process_takes(pid, sig) && snap_sig &&
        process_catches(pid, snap_sig) && process_takes(pid, snap_sig))
        request_snapshot(pid, snap_sig, dir, wait_mask);
    kill(pid, sig);
}

/* Whether the shim is loaded in pid (set-uid programs drop LD_PRELOAD): a program of its own
 * that catches the signal (SIGUSR2 rotates some daemons' logs) must not get it from us. */
static int process_has_shim(pid_t pid, const char *shim)
{
    char path[64], line[4352];
    snprintf(path, sizeof path, "/proc/%ld/maps", (long)pid);
    FILE *f = fopen(path, "r");
    int found = 0;
    size_t len = strlen(shim);
    while (f && !found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        size_t n = strlen(line);
        found = n >= len && strcmp(line + n - len, shim) == 0;
    }
    if (f)
        fclose(f);
    return found;
}

/* A snapshot at a new peak: asked for and not waited for (the program goes on growing). */
static void watch_peaks(peaks_t *pk, pid_t pid, const char *shim)
{
    int snap_sig = snapshot_signal();
    /* a program that does not catch it yet (the shim not started, or not loaded) would die */
    if (snap_sig && peaks_due(pk, pid) && process_catches(pid, snap_sig) &&
        process_takes(pid, snap_sig) && process_has_shim(pid, shim))
        sigqueue(pid, snap_sig, (union sigval){.sival_int = IMGLEAK_PEAK_SIGVAL});
}

/* Waits for the program, passing on what imgleak is sent meanwhile. */
static void wait_forwarding(pid_t pid, const signals_t *st, const char *dir, peaks_t *pk,
                            const char *shim, int *status)
{
    const struct timespec poll = {0, PEAKS_POLL_MS * 1000000L};
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) {
            if (r < 0)
                *status = 127 << 8;
            return;
        }
        int any = 0;
        for (size_t i = 0; i < NFORWARDED; i++)
            if (pending[i]) {
                pending[i] = 0;
                any = 1;
                forward_signal(pid, forwarded[i], dir, &st->wait_mask);
            }
        if (any)
            continue;
        if (!pk->factor) {
            sigsuspend(&st->wait_mask);
        } else if (ppoll(NULL, 0, &poll, &st->wait_mask) == 0) {
            watch_peaks(pk, pid, shim);
        }
    }
}

static void child_exec(const run_opts_t *opts, const char *shim, const char *dir,
                       char *const argv[], signals_t *st, pid_t parent)
{
    /* killed with imgleak, even by SIGKILL; if imgleak died before the prctl, the parent is
     * already someone else */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        _exit(127);
    signals_restore(st);
    const char *old = getenv("LD_PRELOAD");
    /* by name: the dynamic linker finds it the way it finds any library (dlopen-ing it here to
     * learn its path fails: jemalloc's initial-exec TLS cannot be loaded late) */
    const char *alloc =
        opts->allocator && strcmp(opts->allocator, "jemalloc") == 0 ? "libjemalloc.so.2" : "";
    size_t len = strlen(shim) + strlen(alloc) + (old ? strlen(old) : 0) + 3;
    char *preload = malloc(len);
    if (!preload)
        _exit(127);
    snprintf(preload, len, "%s%s%s%s%s", shim, *alloc ? " " : "", alloc, old && *old ? " " : "",
             old ? old : "");
    setenv("LD_PRELOAD", preload, 1);
    run_audit_setup(shim, argv[0]);
    setenv("IMGLEAK_OUT", dir, 1);
    if (opts->handles)
        setenv("IMGLEAK_HANDLES", opts->handles, 1);
    /* Python's small objects would come from pymalloc's arenas, which imgleak sees only as a
     * few mappings; unless the user chose an allocator, every object is a malloc block */
    if (!getenv("PYTHONMALLOC")) {
        setenv("PYTHONMALLOC", "malloc", 1);
        setenv("IMGLEAK_PYTHONMALLOC", "run", 1);
    }
    /* GLib before 2.76 allocates GObjects and its own structures with its slice allocator: slabs
     * taken from malloc by whichever call first needs one, chunks handed out and back in
     * per-thread magazines. Every chunk its own malloc block, as GLib's leak-checking advice has
     * it (and as GLib 2.76 and later always do), charges each to the call that made it. */
    if (!getenv("G_SLICE"))
        setenv("G_SLICE", "always-malloc", 1);
    /* Node names its JIT-compiled and (with the second flag) interpreted functions in
     * /tmp/perf-PID.map, which the shim copies into the snapshot (preload/runtimes/perfmap.c) */
    const char *node = getenv("NODE_OPTIONS");
    if (!node || !strstr(node, "--perf-basic-prof")) {
        static const char flags[] = "--perf-basic-prof-only-functions --interpreted-frames-native-stack";
        size_t nlen = (node ? strlen(node) + 1 : 0) + sizeof flags;
        char *value = malloc(nlen);
        if (value) {
            snprintf(value, nlen, "%s%s%s", node ? node : "", node && *node ? " " : "", flags);
            setenv("NODE_OPTIONS", value, 1);
            free(value);
        }
    }
    execvp(argv[0], argv);
    fprintf(stderr, "imgleak: %s: %s\n", argv[0], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
}

/* Peak snapshots are insurance against an end that leaves no final snapshot: once a process has
 * its final one, its peak ones go (a report on the run would otherwise hold a growth series the
 * program never asked for). */
static void drop_peaks(run_result_t *res)
{
    size_t n = res->nsnapshots, kept = 0;
    imgleak_file_header_t *h = calloc(n ? n : 1, sizeof *h);
    if (!h)
        return;
    for (size_t i = 0; i < n; i++)
        if (reader_load_header(res->snapshots[i], &h[i]) < 0)
            memset(&h[i], 0, sizeof h[i]); /* the report will say what is wrong with it */
    for (size_t i = 0; i < n; i++) {
        int final_exists = 0;
        for (size_t k = 0; k < n && (h[i].flags & IMGLEAK_SNAP_PEAK) && !final_exists; k++)
            final_exists = h[k].pid == h[i].pid && (h[k].flags & IMGLEAK_SNAP_AT_EXIT);
        if (final_exists) {
            unlink(res->snapshots[i]);
            free(res->snapshots[i]);
        } else {
            res->snapshots[kept++] = res->snapshots[i];
        }
    }
    res->nsnapshots = kept;
    free(h);
}

int run_program(const run_opts_t *opts, char *const argv[], run_result_t *res)
{
    char shim[PATH_MAX];
    name_list_t before = {0}, after = {0};
    memset(res, 0, sizeof *res);
    if (run_find_shim(shim, sizeof shim) < 0 || prepare_dir(opts, res) < 0 ||
        list_snapshots(res->dir, &before) < 0)
        return -1;
    supervise_t sv;
    supervise_begin(&sv);
    fflush(NULL);
    signals_t st;
    signals_take(&st); /* before fork: a signal sent at once is passed on, not lost */
    pid_t parent = getpid();
    program_ended = 0;
    pid_t pid = fork();
    if (pid < 0) {
        signals_restore(&st);
        list_free(&before);
        return error_set("cannot start %s: %s", argv[0], strerror(errno)), -1;
    }
    if (pid == 0)
        child_exec(opts, shim, res->dir, argv, &st, parent);
    int status;
    peaks_t pk;
    peaks_init(&pk, opts->peak_factor);
    wait_forwarding(pid, &st, res->dir, &pk, shim, &status);
    clock_gettime(CLOCK_REALTIME, &res->ended);
    res->pid = pid;
    signals_after_program(&st);
    res->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    supervise_wait_final(); /* the snapshot of an end no code in the program saw */
    supervise_describe_end(&sv, status, res->end, sizeof res->end);
    if (list_snapshots(res->dir, &after) < 0) {
        list_free(&before);
        return -1;
    }
    qsort(after.names, after.count, sizeof *after.names, by_name);
    res->snapshots = calloc(after.count ? after.count : 1, sizeof *res->snapshots);
    for (size_t i = 0; res->snapshots && i < after.count; i++) {
        if (contains(&before, after.names[i]))
            continue;
        size_t len = strlen(res->dir) + strlen(after.names[i]) + 2;
        char *path = malloc(len);
        if (!path)
            break;
        snprintf(path, len, "%s/%s", res->dir, after.names[i]);
        res->snapshots[res->nsnapshots++] = path;
    }
    list_free(&before);
    list_free(&after);
    if (!res->snapshots)
        return error_set("out of memory"), -1;
    if (pk.asked)
        drop_peaks(res);
    return 0;
}

int run_last_snapshot(const run_result_t *res)
{
    char prefix[32];
    int n = snprintf(prefix, sizeof prefix, "imgleak.%ld.", (long)res->pid), last = -1;
    unsigned long long best = 0;
    for (size_t i = 0; i < res->nsnapshots; i++) {
        const char *name = strrchr(res->snapshots[i], '/');
        name = name ? name + 1 : res->snapshots[i];
        const char *seq = strrchr(name, '.'); /* imgleak.PID.INSTANCE.SEQ.snap */
        while (seq && seq > name && seq[-1] != '.')
            seq--;
        unsigned long long k;
        if (strncmp(name, prefix, (size_t)n) == 0 && seq && sscanf(seq, "%llu", &k) == 1 &&
            (last < 0 || k > best)) {
            best = k;
            last = (int)i;
        }
    }
    return last;
}

void run_result_release(run_result_t *res)
{
    for (size_t i = 0; i < res->nsnapshots; i++) {
        if (res->temporary)
            unlink(res->snapshots[i]);
        free(res->snapshots[i]);
    }
    if (res->temporary && res->dir)
        rmdir(res->dir);
    free(res->snapshots);
    free(res->dir);
    memset(res, 0, sizeof *res);
}

int run_prepare_dir(const char *out_dir, run_result_t *res)
{
    run_opts_t opts = {.out_dir = out_dir};
    memset(res, 0, sizeof *res);
    return prepare_dir(&opts, res);
}

int run_collect_snapshots(run_result_t *res, pid_t pid)
{
    name_list_t all = {0};
    char prefix[32];
    int n = snprintf(prefix, sizeof prefix, "imgleak.%ld.", (long)pid);
    if (list_snapshots(res->dir, &all) < 0)
        return -1;
    if (all.count)
        qsort(all.names, all.count, sizeof *all.names, by_name);
    res->snapshots = calloc(all.count ? all.count : 1, sizeof *res->snapshots);
    for (size_t i = 0; res->snapshots && i < all.count; i++) {
        if (strncmp(all.names[i], prefix, (size_t)n) != 0)
            continue;
        size_t len = strlen(res->dir) + strlen(all.names[i]) + 2;
        char *path = malloc(len);
        if (!path)
            break;
        snprintf(path, len, "%s/%s", res->dir, all.names[i]);
        res->snapshots[res->nsnapshots++] = path;
    }
    list_free(&all);
    return res->snapshots ? 0 : (error_set("out of memory"), -1);
}
