/* Handle declarations (docs/HANDLES.md): the text format in which a user names a library's
 * create/destroy pair, and in which every handle type imgleak builds in is written: the codec
 * libraries (codecs.handles), libvips, OpenCV and ONNX Runtime (builtin.handles). One parser for
 * both halves: the shim reads the built-in files and IMGLEAK_HANDLES with it at start, and
 * `imgleak run --handles` checks the file with it before the program starts. It allocates
 * nothing: a set is one fixed-size struct. */
#ifndef IMGLEAK_DECLFILE_H
#define IMGLEAK_DECLFILE_H

#include <stddef.h>
#include <stdint.h>

/* The C library's handle types and functions, which the shim interposes by name (fds.c) rather
 * than binds: a declaration may not name them. Type ids 0 and 1, function ids 0..; the declared
 * ones follow. */
enum { DECL_LIBC_FD, DECL_LIBC_FILE, DECL_LIBC_TYPES };
enum {
    DECL_LIBC_OPEN,
    DECL_LIBC_OPENAT,
    DECL_LIBC_CREAT,
    DECL_LIBC_FOPEN,
    DECL_LIBC_FDOPEN,
    DECL_LIBC_SOCKET,
    DECL_LIBC_ACCEPT,
    DECL_LIBC_PIPE,
    DECL_LIBC_DUP,
    DECL_LIBC_FCNTL,
    DECL_LIBC_CLOSE,
    DECL_LIBC_FCLOSE,
    DECL_LIBC_FUNCTIONS
};
/* With the C library's two types (fd, FILE: fds.c), within a 64-bit type mask. */
#define DECL_TYPES_MAX (64 - DECL_LIBC_TYPES)
#define DECL_FUNCTIONS_MAX 512 /* one trampoline each (declared_stubs.S) */
#define DECL_NAME_MAX 64
#define DECL_LIB_MAX 96        /* lib=: one or more words, comma-separated */
#define DECL_ARG_MAX 16        /* the highest argument number a line may name */
#define DECL_HANDLES_MAX 3     /* handles one destroy may end: arg=*1,*2,*3 */

enum { /* type flags */
    DECL_TYPE_REFCOUNTED = 1,
    DECL_TYPE_BUFFER = 2,
    DECL_TYPE_LENIENT = 4,
    DECL_TYPE_REPLACES = 8,  /* created over a live one: replaces it (not abandoned) */
    DECL_TYPE_REFILLED = 16, /* a destroy from inside the library does not end it */
};

enum { DECL_CREATE = 1, DECL_DESTROY, DECL_REF, DECL_RESET, DECL_API, DECL_INPUT };

enum {                   /* what a call that begins an input reads (path=N, fd=N, ...) */
    DECL_INPUT_NONE,
    DECL_INPUT_PATH,     /* a file name */
    DECL_INPUT_FD,       /* a descriptor */
    DECL_INPUT_STREAM,   /* a FILE * */
    DECL_INPUT_MEMORY,   /* memory=N,LEN: bytes at argument N, argument LEN long */
};

enum {                  /* where the handle is */
    DECL_FROM_RETURN = 1, /* the return value (create) */
    DECL_FROM_OUT,        /* *argument after the call (create out=N) */
    DECL_FROM_ARG,        /* the argument itself (arg=N) */
    DECL_FROM_DEREF,      /* *argument before the call (destroy arg=*N) */
};

enum {             /* when a create succeeded, by its return value */
    DECL_CHECK_NONE, /* always (a NULL handle is never recorded) */
    DECL_CHECK_OK,   /* ok=V: when it returned V */
    DECL_CHECK_FAIL, /* fail=V: unless it returned V */
};

typedef struct {
    char name[DECL_NAME_MAX];
    char lib[DECL_LIB_MAX];        /* the libraries: "libvips.so", "libMagick,ImageMagick-/" */
    char library[DECL_NAME_MAX];   /* the name reports give it (library=; else lib='s first) */
    unsigned flags;                /* DECL_TYPE_* */
    unsigned line;
} decl_type_t;

typedef struct {
    char name[DECL_NAME_MAX]; /* a symbol, or TABLE.MEMBER for an entry of a function table */
    char lib[DECL_LIB_MAX]; /* the library that defines it: lib= on the line, else the type's */
    int table_index;        /* TABLE.MEMBER: the member's index in the table; -1 for a symbol */
    char table[DECL_NAME_MAX]; /* api: the table the function hands out */
    unsigned kind;          /* DECL_CREATE .. */
    uint64_t types;         /* bit t: declared type t (a destroy or reset may take several) */
    unsigned type;          /* the first of them (an input line has none: 0) */
    unsigned from;          /* DECL_FROM_* */
    unsigned arg;           /* 1-based, counting integer and pointer parameters only */
    unsigned more[DECL_HANDLES_MAX - 1]; /* destroy arg=A,B,C: B and C, read as A is (0: none) */
    unsigned holds;         /* destroy holds=W: 1 + W, the handle's pointer-sized word W, which
                               is NULL when the destroy is a documented no-op; 0: none */
    unsigned check;         /* DECL_CHECK_* */
    int wide;               /* the return value compared whole (null, or a value written 0L) */
    int64_t value;          /* else its low 32 bits, as a C int */
    unsigned input;         /* DECL_INPUT_*: the call begins an input, read from argument */
    unsigned input_arg;
    unsigned input_len;     /* memory: the argument that holds its length */
    unsigned input_handle;  /* an input line's handle=N (0: none, the input lasts until the
                               next); a create's input ends with the handle it creates */
    unsigned line;
    unsigned part;          /* the decl_parse call that added it: 1, 2, ... */
} decl_function_t;

typedef struct {
    decl_type_t types[DECL_TYPES_MAX];
    unsigned type_count;
    decl_function_t functions[DECL_FUNCTIONS_MAX];
    unsigned function_count;
    unsigned parts;         /* decl_parse calls so far */
    unsigned builtin_parts; /* of them, decl_parse_builtin's */
} decl_set_t;

typedef struct {
    unsigned line; /* 0: not about one line (the file as a whole) */
    char message[192];
} decl_error_t;

/* Adds the declarations of text (len bytes, need not end in NUL) to set. 0, or -1 with err set
 * and set left as it was before the call. */
int decl_parse(decl_set_t *set, const char *text, size_t len, decl_error_t *err);

/* Function tables whose layout imgleak knows: `api OrtApi OrtGetApiBase lib=libonnxruntime.so`
 * hooks the function that hands the table out, and `TABLE.MEMBER` names a member of it. The
 * member's index, or -1 for a table or member imgleak does not know. */
int decl_table_member(const char *table, const char *member);

/* 1 when the object at path is one of libs (a lib= value: "libvips.so",
 * "libMagick,ImageMagick-/"): its file name starts with one of the words, or one of its
 * directories starts with a word that ends in '/'. */
int decl_lib_matches(const char *path, const char *libs);

/* The index of the type or function named name, or -1. */
int decl_type_find(const decl_set_t *set, const char *name);
int decl_function_find(const decl_set_t *set, const char *name);

/* The declarations imgleak builds in: codecs.handles, then builtin.handles (each NUL-terminated),
 * added to set by decl_parse_builtin. On a refusal (a bug of imgleak's), *file names the file. */
extern const char imgleak_codec_handles[];
extern const char imgleak_builtin_handles[];
int decl_parse_builtin(decl_set_t *set, decl_error_t *err, const char **file);

extern const char *const decl_libc_type_names[DECL_LIBC_TYPES];
extern const char *const decl_libc_function_names[DECL_LIBC_FUNCTIONS];

#endif
