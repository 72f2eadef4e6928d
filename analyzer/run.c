/* imgleak run (see run.h). The program gets LD_PRELOAD with the shim first (anything already
 * preloaded stays, after it; with --allocator jemalloc, jemalloc right after the shim) and
 * IMGLEAK_OUT; the snapshots are the imgleak.*.snap files that
 * were not in the output directory before the program started. */
#define _GNU_SOURCE
#include "run.h"

#include "error.h"
#include "supervise.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

static void child_exec(const run_opts_t *opts, const char *shim, const char *dir,
                       char *const argv[])
{
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
    setenv("IMGLEAK_OUT", dir, 1);
    execvp(argv[0], argv);
    fprintf(stderr, "imgleak: %s: %s\n", argv[0], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
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
    pid_t pid = fork();
    if (pid < 0) {
        list_free(&before);
        return error_set("cannot start %s: %s", argv[0], strerror(errno)), -1;
    }
    if (pid == 0)
        child_exec(opts, shim, res->dir, argv);
    /* like system(): a ^C is for the program, imgleak still reports after it */
    struct sigaction ignore = {.sa_handler = SIG_IGN}, old_int, old_quit;
    sigaction(SIGINT, &ignore, &old_int);
    sigaction(SIGQUIT, &ignore, &old_quit);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
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
    return res->snapshots ? 0 : (error_set("out of memory"), -1);
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
