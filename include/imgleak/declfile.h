/* Handle declarations (docs/HANDLES.md): the text format in which a user names a library's
 * create/destroy pair, and in which imgleak's own built-in libvips and OpenCV types are written
 * (builtin.handles). One parser for both halves: the shim reads IMGLEAK_HANDLES with it at start,
 * and `imgleak run --handles` checks the file with it before the program starts. It allocates
 * nothing: a set is one fixed-size struct. */
#ifndef IMGLEAK_DECLFILE_H
#define IMGLEAK_DECLFILE_H

#include <stddef.h>
#include <stdint.h>

#define DECL_TYPES_MAX 32      /* with codecs.def's types, within a 64-bit type mask */
#define DECL_FUNCTIONS_MAX 256 /* one trampoline each (declared_stubs.S) */
#define DECL_NAME_MAX 64
#define DECL_LIB_MAX 64
#define DECL_ARG_MAX 16 /* the highest argument number a line may name */

enum { /* type flags */
    DECL_TYPE_REFCOUNTED = 1,
    DECL_TYPE_BUFFER = 2,
    DECL_TYPE_LENIENT = 4,
};

enum { DECL_CREATE = 1, DECL_DESTROY, DECL_REF, DECL_RESET, DECL_API };

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
    char lib[DECL_LIB_MAX]; /* file name prefix of the library: "libvips.so" */
    unsigned flags;         /* DECL_TYPE_* */
    unsigned line;
} decl_type_t;

typedef struct {
    char name[DECL_NAME_MAX]; /* a symbol, or TABLE.MEMBER for an entry of a function table */
    char lib[DECL_LIB_MAX]; /* the library that defines it: lib= on the line, else the type's */
    int table_index;        /* TABLE.MEMBER: the member's index in the table; -1 for a symbol */
    char table[DECL_NAME_MAX]; /* api: the table the function hands out */
    unsigned kind;          /* DECL_CREATE .. */
    uint64_t types;         /* bit t: declared type t (a destroy or reset may take several) */
    unsigned type;          /* the first of them */
    unsigned from;          /* DECL_FROM_* */
    unsigned arg;           /* 1-based, counting integer and pointer parameters only */
    unsigned check;         /* DECL_CHECK_* */
    int null_value;         /* ok=null / fail=null: the return value compared as a pointer */
    int32_t value;          /* else compared as a C int */
    unsigned line;
} decl_function_t;

typedef struct {
    decl_type_t types[DECL_TYPES_MAX];
    unsigned type_count;
    decl_function_t functions[DECL_FUNCTIONS_MAX];
    unsigned function_count;
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

/* The index of the type or function named name, or -1. */
int decl_type_find(const decl_set_t *set, const char *name);
int decl_function_find(const decl_set_t *set, const char *name);

/* The declarations imgleak builds in (builtin.handles), NUL-terminated. */
extern const char imgleak_builtin_handles[];

#endif
