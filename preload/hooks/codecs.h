/* The codec hooks declared in codecs.def (and, after them, those of declared.c): their type and function names for the snapshot, and
 * what bind.c needs to bind them (which library defines a function, its hook, its real address). */
#ifndef IMGLEAK_CODECS_H
#define IMGLEAK_CODECS_H

#include <stdint.h>

typedef struct {
    const char *name;
    const char *library;
    unsigned flags; /* IMGLEAK_HTYPE_* */
} codec_type_info_t;

/* Reads the declared handle functions (declared.h) into the catalogue, once at start, before
 * anything is bound; -1 when a declaration is refused (said on stderr). */
int codecs_declare(void);
/* codecs.def's types and functions, then the declared ones */
unsigned codecs_type_count(void);
const codec_type_info_t *codecs_type(unsigned id);
unsigned codecs_function_count(void);
const char *codecs_function_name(unsigned id);

/* The ids of the C library's handle types and functions (fds.c). */
typedef struct {
    unsigned type_fd, type_stream;
    unsigned fn_open, fn_openat, fn_creat, fn_fopen, fn_fdopen, fn_socket, fn_accept, fn_pipe,
        fn_dup, fn_fcntl, fn_close, fn_fclose;
} codecs_libc_ids_t;
extern const codecs_libc_ids_t codecs_libc;

/* 1 when the object at path is the library that defines function fn (its CODEC_LIB patterns). */
int codecs_function_in_library(unsigned fn, const char *path);
/* The hidden wrapper of fn. */
void *codecs_hook(unsigned fn);
/* The real fn its wrapper calls: that of the library instance bound now, or NULL. */
void *codecs_real(unsigned fn);
void codecs_set_real(unsigned fn, void *address);

#endif
