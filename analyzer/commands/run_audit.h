/* imgleak run's LD_AUDIT: the audit library beside the shim binds the codec hooks of libraries
 * that a dlopen brings in (preload/hooks/bind.c, preload/hooks/audit/audit.c). */
#ifndef IMGLEAK_RUN_AUDIT_H
#define IMGLEAK_RUN_AUDIT_H

/* In the child, before exec and after LD_PRELOAD is set: adds libimgleak_audit.so from beside
 * shim to LD_AUDIT, with the static TLS room the program's libraries then need; leaves the
 * environment alone when the audit library is missing or the room cannot be measured. */
void run_audit_setup(const char *shim, const char *program);

#endif
