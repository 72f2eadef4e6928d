/* How the codec hooks of codecs.c reach the program: by rewriting the codec libraries' own
 * symbols and the references bound to them (see bind.c), never by exporting a codec's name. */
#ifndef IMGLEAK_BIND_H
#define IMGLEAK_BIND_H

#include <stdint.h>

/* Once, from the shim's constructor: puts back the environment imgleak run changed for this
 * process (run_audit.c), and when hook, binds the hooks of every codec library loaded now. */
void bind_start(int hook);
/* After a dlclose: forgets the instances that are gone, so no hook calls into them. */
void bind_forget_unloaded(void);

/* Called by the audit library (audit/audit.c), in the base namespace's shim. */
extern int imgleak_bind_ready;
void imgleak_bind_rescan(void);
void imgleak_bind_opened(uintptr_t base, const char *path);
void imgleak_bind_closing(uintptr_t base, const char *path);

#endif
