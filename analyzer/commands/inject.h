/* Loading the shim into a running process (imgleak attach), without a debugger: ptrace borrows
 * one of its threads for three calls (dlopen, dlsym, imgleak_attach_start) and gives it back as
 * it was. */
#ifndef IMGLEAK_INJECT_H
#define IMGLEAK_INJECT_H

#include <sys/types.h>

/* Why a process cannot be attached to; each is one line and exit status 2 for the user. */
typedef enum {
    INJECT_OK = 0,
    INJECT_REFUSED, /* checked before touching it: no such process, permission, static, Go, already */
    INJECT_FAILED,  /* it went wrong on the way; the process was given back as it was */
} inject_status_t;

/* Checks that pid can be attached to (error_get() says why not). */
inject_status_t inject_check(pid_t pid, const char *shim_path);
/* Loads shim_path into pid and calls imgleak_attach_start(settings, control) there. */
inject_status_t inject_load(pid_t pid, const char *shim_path, const char *settings,
                            const char *control);

#endif
