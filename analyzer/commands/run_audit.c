/* The LD_AUDIT half of imgleak run (see run_audit.h). Loading an audit library has one side
 * effect that would break programs: glibc then sizes the static TLS block before the program's
 * libraries are loaded, so all their initial-exec TLS must fit in the surplus (512 bytes of
 * glibc.rtld.optional_static_tls plus 1.3 KiB); jemalloc alone needs 2.6 KiB and fails to load
 * ("cannot allocate memory in static TLS block"). So the surplus is raised by what the program's
 * start-up objects need, read from their PT_TLS: the objects are those `ld.so --list` names, which
 * maps them without running any of their code. When that cannot be measured, no audit library:
 * the program then runs as it would without it, with only the libraries loaded at start hooked.
 * The shim puts LD_AUDIT and GLIBC_TUNABLES back as they were (IMGLEAK_RESTORE_*), so that the
 * program's children start as they would natively. */
#define _GNU_SOURCE
#include "run_audit.h"

#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIST_MAX (256 * 1024)
#define TLS_SLACK 512

/* Where execvp would find name. */
static int program_path(const char *name, char *out, size_t size)
{
    if (strchr(name, '/'))
        return snprintf(out, size, "%s", name) < (int)size ? 0 : -1;
    const char *path = getenv("PATH");
    for (const char *dir = path ? path : "/usr/bin:/bin"; *dir;) {
        size_t len = strcspn(dir, ":");
        if (snprintf(out, size, "%.*s%s%s", (int)len, dir, len ? "/" : "", name) < (int)size &&
            access(out, X_OK) == 0)
            return 0;
        dir += len + (dir[len] == ':');
    }
    return -1;
}

/* Adds the static TLS path's object needs to *need; copies its PT_INTERP if asked. */
static int object_tls(const char *path, size_t *need, char *interp, size_t isize)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    Elf64_Ehdr eh;
    int ok = -1;
    if (fd < 0)
        return -1;
    if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
        eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum < 256) {
        ok = 0;
        for (unsigned i = 0; i < eh.e_phnum && ok == 0; i++) {
            Elf64_Phdr ph;
            if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * sizeof ph)) != (ssize_t)sizeof ph)
                ok = -1;
            else if (ph.p_type == PT_TLS)
                *need += ph.p_memsz + ph.p_align;
            else if (ph.p_type == PT_INTERP && interp &&
                     (ph.p_filesz >= isize ||
                      pread(fd, interp, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz))
                ok = -1;
            else if (ph.p_type == PT_INTERP && interp)
                interp[ph.p_filesz] = '\0';
        }
    }
    close(fd);
    return ok;
}

/* The objects `interp --list program` names, with LD_PRELOAD as the program will see it. */
static char *list_objects(const char *interp, const char *program)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(fds[1], 1);
        if (null >= 0)
            dup2(null, 2);
        execl(interp, interp, "--list", program, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char *out = pid > 0 ? malloc(LIST_MAX) : NULL;
    size_t len = 0;
    ssize_t n = 0;
    while (out && len < LIST_MAX - 1 && (n = read(fds[0], out + len, LIST_MAX - 1 - len)) > 0)
        len += (size_t)n;
    close(fds[0]);
    int status = 1;
    if (pid > 0)
        waitpid(pid, &status, 0);
    if (out && (n < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || len == LIST_MAX - 1)) {
        free(out);
        return NULL;
    }
    if (out)
        out[len] = '\0';
    return out;
}

/* The static TLS the program's start-up objects need, or -1 when it cannot be told. */
static long startup_tls(const char *program)
{
    char path[PATH_MAX], interp[PATH_MAX] = "", line[PATH_MAX];
    size_t need = 0;
    if (program_path(program, path, sizeof path) < 0)
        return -1;
    FILE *f = fopen(path, "re");
    if (f && fgets(line, sizeof line, f) && strncmp(line, "#!", 2) == 0) { /* the interpreter's */
        char *at = line + 2 + strspn(line + 2, " \t");
        at[strcspn(at, " \t\n")] = '\0';
        snprintf(path, sizeof path, "%s", at);
    }
    if (f)
        fclose(f);
    if (object_tls(path, &need, interp, sizeof interp) < 0 || !interp[0])
        return -1;
    char *list = list_objects(interp, path);
    if (!list)
        return -1;
    for (char *l = strtok(list, "\n"); l; l = strtok(NULL, "\n")) {
        char *at = strstr(l, "=> ");
        at = at ? at + 3 : l + strspn(l, " \t");
        at[strcspn(at, " (")] = '\0'; /* "lib.so => /path (0x...)" or "/path (0x...)" */
        if (at[0] == '/' && object_tls(at, &need, NULL, 0) < 0) {
            free(list);
            return -1;
        }
    }
    free(list);
    return (long)need;
}

/* IMGLEAK_RESTORE_name: "u" when name was unset, "s" and its value when set. */
static void remember(const char *name)
{
    char var[64];
    const char *old = getenv(name);
    size_t len = (old ? strlen(old) : 0) + 2;
    char *value = malloc(len);
    if (!value)
        return;
    snprintf(value, len, "%s%s", old ? "s" : "u", old ? old : "");
    snprintf(var, sizeof var, "IMGLEAK_RESTORE_%s", name);
    setenv(var, value, 1);
    free(value);
}

void run_audit_setup(const char *shim, const char *program)
{
    char audit[PATH_MAX];
    const char *slash = strrchr(shim, '/');
    int dir_len = slash ? (int)(slash - shim) + 1 : 0;
    if (snprintf(audit, sizeof audit, "%.*slibimgleak_audit.so", dir_len, shim) >= (int)sizeof audit ||
        access(audit, R_OK) != 0)
        return;
    long tls = startup_tls(program);
    if (tls < 0)
        return;
    const char *old_audit = getenv("LD_AUDIT"), *old_tunables = getenv("GLIBC_TUNABLES");
    size_t len = strlen(audit) + (old_tunables ? strlen(old_tunables) : 0) +
                 (old_audit ? strlen(old_audit) : 0) + 64;
    char *value = malloc(len);
    if (!value)
        return;
    remember("LD_AUDIT");
    remember("GLIBC_TUNABLES");
    /* the program's own tunables first; the surplus after them, so that it is the one that holds */
    snprintf(value, len, "%s%sglibc.rtld.optional_static_tls=%ld", old_tunables ? old_tunables : "",
             old_tunables && *old_tunables ? ":" : "", 512 + tls + TLS_SLACK);
    setenv("GLIBC_TUNABLES", value, 1);
    snprintf(value, len, "%s%s%s", audit, old_audit && *old_audit ? ":" : "",
             old_audit ? old_audit : "");
    setenv("LD_AUDIT", value, 1);
    free(value);
}
