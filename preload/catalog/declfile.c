/* The handle declaration parser (see declfile.h and docs/HANDLES.md). One line, one declaration:
 *   type    NAME lib=LIB[,LIB...] [library=NAME] [refcounted] [buffer] [lenient] [replaces] [refilled]
 *   create  TYPE FUNCTION return|out=N|arg=N [ok=V|fail=V] [INPUT] [lib=LIB]
 *   destroy TYPE[,TYPE...] FUNCTION arg=N[,N...]|arg=*N[,*N...] [holds=W] [lib=LIB]
 *   ref     TYPE FUNCTION arg=N [lib=LIB]
 *   reset   TYPE[,TYPE...] FUNCTION arg=N [lib=LIB]
 *   input   FUNCTION INPUT [handle=N] lib=LIB
 *   api     TABLE FUNCTION lib=LIB       (a function table imgleak knows the layout of: OrtApi)
 * where INPUT is path=N, fd=N, stream=N or memory=N,LEN; a NAME or TYPE with spaces is quoted
 * ("png_struct (read)"); FUNCTION may also be TABLE.MEMBER, an entry of such a table.
 * '#' starts a comment. Every mistake is refused with its line: a file that is half understood
 * would give a report that is half true. Used by the shim at start, so: no allocation, no stdio. */
#include "imgleak/declfile.h"

#include <string.h>

#define TOKENS_MAX 12

const char *const decl_libc_type_names[DECL_LIBC_TYPES] = {"fd", "FILE"};
const char *const decl_libc_function_names[DECL_LIBC_FUNCTIONS] = {
    "open", "openat", "creat", "fopen", "fdopen", "socket",
    "accept", "pipe", "dup", "fcntl", "close", "fclose",
};

typedef struct {
    const char *at;
    size_t len;
} token_t;

/* ONNX Runtime's OrtApi: its members' indices, from onnxruntime_c_api.h. ORT only ever appends
 * members, so these hold for every version of the API that has them. */
static const struct {
    const char *name;
    int index;
} ort_api_members[] = {
    {"CreateEnv", 3},
    {"CreateSession", 7},
    {"CreateSessionFromArray", 8},
    {"CreateSessionOptions", 10},
    {"CreateTensorAsOrtValue", 48},
    {"CreateTensorWithDataAsOrtValue", 49},
    {"CreateCpuMemoryInfo", 69},
    {"ReleaseEnv", 92},
    {"ReleaseStatus", 93},
    {"ReleaseMemoryInfo", 94},
    {"ReleaseSession", 95},
    {"ReleaseValue", 96},
    {"ReleaseSessionOptions", 100},
};

static int api_find(const decl_set_t *set, const char *table);

int decl_table_member(const char *table, const char *member)
{
    if (strcmp(table, "OrtApi") != 0)
        return -1;
    if (!member)
        return 0;
    for (size_t i = 0; i < sizeof ort_api_members / sizeof *ort_api_members; i++)
        if (strcmp(ort_api_members[i].name, member) == 0)
            return ort_api_members[i].index;
    return -1;
}

/* A bounded formatter for the error text: %s (a NUL string), %t (a token), %u. */
static void error_put(decl_error_t *err, unsigned line, const char *fmt, const void *a,
                      const void *b)
{
    const void *args[2] = {a, b};
    int next = 0;
    size_t n = 0, cap = sizeof err->message - 1;
    err->line = line;
    for (const char *f = fmt; *f && n < cap; f++) {
        if (*f != '%' || !f[1] || next == 2) {
            err->message[n++] = *f;
            continue;
        }
        f++;
        char num[12];
        const char *s = "";
        size_t len = 0;
        if (*f == 's') {
            s = args[next++];
            len = strlen(s);
        } else if (*f == 't') {
            const token_t *t = args[next++];
            s = t->at;
            len = t->len;
        } else if (*f == 'u') {
            unsigned v = *(const unsigned *)args[next++];
            int i = (int)sizeof num;
            do
                num[--i] = (char)('0' + v % 10);
            while ((v /= 10) && i > 0);
            s = num + i;
            len = sizeof num - (size_t)i;
        }
        for (size_t i = 0; i < len && n < cap; i++)
            err->message[n++] = s[i];
    }
    err->message[n] = 0;
}

static int token_is(const token_t *t, const char *word)
{
    return t->len == strlen(word) && memcmp(t->at, word, t->len) == 0;
}

/* "key=" at the start of the token: the value after it, or NULL. */
static const char *token_value(const token_t *t, const char *key, size_t *len)
{
    size_t k = strlen(key);
    if (t->len <= k || memcmp(t->at, key, k) != 0)
        return NULL;
    *len = t->len - k;
    return t->at + k;
}

static int copy_name(char *dst, size_t cap, const char *src, size_t len)
{
    if (len == 0 || len >= cap)
        return -1;
    memcpy(dst, src, len);
    dst[len] = 0;
    return 0;
}

static int is_identifier(const char *s, size_t len)
{
    if (len == 0 || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

/* A type name, bare (no space, comma, '=', '#' or quote) or quoted ("png_struct (read)": any
 * printable character but the quote); *name and *len are set to the name without its quotes. */
static int type_name(const char *s, size_t n, const char **name, size_t *len)
{
    int quoted = n >= 2 && s[0] == '"' && s[n - 1] == '"';
    if (quoted)
        s++, n -= 2;
    for (size_t i = 0; i < n; i++)
        if (s[i] < ' ' || s[i] > '~' || s[i] == '"' ||
            (!quoted && (s[i] == ' ' || s[i] == ',' || s[i] == '=' || s[i] == '#')))
            return -1;
    *name = s;
    *len = n;
    return n > 0 ? 0 : -1;
}

static int parse_number(const char *s, size_t len, unsigned low, unsigned high, unsigned *out)
{
    unsigned v = 0;
    if (len == 0 || len > 2)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v < low || v > high)
        return -1;
    *out = v;
    return 0;
}

static int parse_arg_number(const char *s, size_t len, unsigned *out)
{
    return parse_number(s, len, 1, DECL_ARG_MAX, out);
}

/* A C int (decimal, or 0x hex), compared in the low 32 bits of the return value; the same with an
 * L suffix (0L), or "null", compared whole, for a long, size_t or pointer. */
static int parse_value(const char *s, size_t len, int *wide, int64_t *out)
{
    if (len == 4 && memcmp(s, "null", 4) == 0) {
        *wide = 1;
        *out = 0;
        return 0;
    }
    int is_long = len > 0 && s[len - 1] == 'L';
    if (is_long)
        len--;
    int negative = len > 0 && s[0] == '-';
    size_t i = negative ? 1 : 0;
    unsigned base = 10;
    if (len - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        base = 16;
        i += 2;
    }
    if (i >= len)
        return -1;
    uint64_t v = 0, limit = is_long ? UINT64_C(0x7fffffffffffffff) : UINT64_C(0xffffffff);
    for (; i < len; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                     : base == 16 && c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : base == 16 && c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                          : 99;
        if (d >= base || v > (limit - d) / base)
            return -1;
        v = v * base + d;
    }
    if (!is_long && negative && v > UINT64_C(0x80000000))
        return -1;
    *wide = is_long;
    *out = is_long ? (negative ? -(int64_t)v : (int64_t)v)
                   : (int64_t)(negative ? (int32_t)(-(int64_t)v) : (int32_t)(uint32_t)v);
    return 0;
}

/* lib=WORD[,WORD...]: library file names (or the start of one), or NAME/ for the objects under a
 * directory whose name starts with NAME. */
static int parse_libs(char *dst, const char *v, size_t len)
{
    if (copy_name(dst, DECL_LIB_MAX, v, len) < 0)
        return -1;
    for (const char *w = dst; *w;) {
        const char *comma = strchr(w, ',');
        size_t n = comma ? (size_t)(comma - w) : strlen(w);
        const char *slash = memchr(w, '/', n);
        if (n == 0 || (slash && slash != w + n - 1) || n == 1)
            return -1;
        w += n + (comma ? 1 : 0);
        if (comma && !*w)
            return -1;
    }
    return 0;
}

static int bad_libs(decl_error_t *err, unsigned line)
{
    error_put(err, line,
              "lib= takes library file names, such as libfoo.so (or NAME/ for a directory), "
              "comma-separated", NULL, NULL);
    return -1;
}

/* path is one of libs ("libvips.so", "libMagick,ImageMagick-/"): its file name starts with a
 * word, or one of its directories starts with a word that ends in '/'. */
int decl_lib_matches(const char *path, const char *libs)
{
    if (!path)
        return 0;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (const char *w = libs; *w;) {
        size_t n = strcspn(w, ",");
        if (w[n - 1] != '/') {
            if (strncmp(base, w, n) == 0)
                return 1;
        } else {
            for (const char *p = strchr(path, '/'); p && p < base - 1; p = strchr(p + 1, '/'))
                if (strncmp(p + 1, w, n - 1) == 0)
                    return 1;
        }
        w += n + (w[n] == ',');
    }
    return 0;
}

int decl_type_find(const decl_set_t *set, const char *name)
{
    for (unsigned i = 0; i < set->type_count; i++)
        if (strcmp(set->types[i].name, name) == 0)
            return (int)i;
    return -1;
}

int decl_function_find(const decl_set_t *set, const char *name)
{
    for (unsigned i = 0; i < set->function_count; i++)
        if (strcmp(set->functions[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int is_libc_name(const char *const *names, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

static int parse_type(decl_set_t *set, const token_t *tok, int n, unsigned line, decl_error_t *err)
{
    static const struct {
        const char *word;
        unsigned flag;
    } flags[] = {
        {"refcounted", DECL_TYPE_REFCOUNTED}, {"buffer", DECL_TYPE_BUFFER},
        {"lenient", DECL_TYPE_LENIENT},       {"replaces", DECL_TYPE_REPLACES},
        {"refilled", DECL_TYPE_REFILLED},
    };
    if (n < 3)
        return error_put(err, line, "type needs a name and lib=LIBRARY", NULL, NULL), -1;
    if (set->type_count == DECL_TYPES_MAX) {
        unsigned max = DECL_TYPES_MAX;
        return error_put(err, line, "more than %u types", &max, NULL), -1;
    }
    decl_type_t t;
    memset(&t, 0, sizeof t);
    t.line = line;
    const char *name;
    size_t name_len;
    if (type_name(tok[1].at, tok[1].len, &name, &name_len) < 0 ||
        copy_name(t.name, sizeof t.name, name, name_len) < 0)
        return error_put(err, line, "bad type name '%t'", &tok[1], NULL), -1;
    if (decl_type_find(set, t.name) >= 0)
        return error_put(err, line, "type %s is declared twice", t.name, NULL), -1;
    if (is_libc_name(decl_libc_type_names, DECL_LIBC_TYPES, t.name))
        return error_put(err, line, "type %s is the C library's (imgleak tracks it)", t.name, NULL), -1;
    for (int i = 2; i < n; i++) {
        size_t len;
        const char *v;
        size_t f = 0;
        while (f < sizeof flags / sizeof *flags && !token_is(&tok[i], flags[f].word))
            f++;
        if (f < sizeof flags / sizeof *flags) {
            t.flags |= flags[f].flag;
        } else if ((v = token_value(&tok[i], "lib=", &len))) {
            if (parse_libs(t.lib, v, len) < 0)
                return bad_libs(err, line);
        } else if ((v = token_value(&tok[i], "library=", &len))) {
            if (type_name(v, len, &name, &name_len) < 0 ||
                copy_name(t.library, sizeof t.library, name, name_len) < 0)
                return error_put(err, line, "bad library name in '%t'", &tok[i], NULL), -1;
        } else {
            return error_put(err, line,
                             "unknown word '%t' (a type takes lib=, library=, refcounted, buffer, "
                             "lenient, replaces, refilled)",
                             &tok[i], NULL), -1;
        }
    }
    if (!t.lib[0])
        return error_put(err, line, "type %s needs lib=LIBRARY", t.name, NULL), -1;
    if (!t.library[0]) {
        const char *comma = strchr(t.lib, ',');
        copy_name(t.library, sizeof t.library, t.lib, comma ? (size_t)(comma - t.lib) : strlen(t.lib));
    }
    set->types[set->type_count++] = t;
    return 0;
}

/* TYPE or TYPE,TYPE,...: the mask of declared types, or an error. */
static int parse_types(const decl_set_t *set, const token_t *tok, unsigned line, uint64_t *mask,
                       unsigned *first, decl_error_t *err)
{
    *mask = 0;
    const char *s = tok->at, *end = tok->at + tok->len;
    while (s < end) {
        const char *stop = s;
        int quoted = 0;
        while (stop < end && (quoted || *stop != ',')) /* a comma inside quotes is the name's */
            quoted ^= *stop++ == '"';
        char name[DECL_NAME_MAX];
        token_t one = {s, (size_t)(stop - s)};
        const char *bare;
        size_t len;
        if (type_name(s, one.len, &bare, &len) < 0 || copy_name(name, sizeof name, bare, len) < 0)
            return error_put(err, line, "bad type name '%t'", &one, NULL), -1;
        int t = decl_type_find(set, name);
        if (t < 0)
            return error_put(err, line, "type %s is not declared (a type line must come first)", name, NULL), -1;
        if (*mask & (UINT64_C(1) << t))
            return error_put(err, line, "type %s is named twice", name, NULL), -1;
        if (!*mask)
            *first = (unsigned)t;
        *mask |= UINT64_C(1) << t;
        s = stop + (stop < end ? 1 : 0);
        if (stop < end && s == end)
            return error_put(err, line, "a type name is missing after a comma", NULL, NULL), -1;
    }
    if (!*mask)
        return error_put(err, line, "a type name is missing", NULL, NULL), -1;
    return 0;
}

/* path=N, fd=N, stream=N or memory=N,LEN: 1 when the token is one (its fields set), 0 when it is
 * not, -1 when it is one with bad numbers. */
static int parse_input_word(const token_t *t, decl_function_t *f)
{
    static const struct {
        const char *key;
        unsigned kind;
    } kinds[] = {{"path=", DECL_INPUT_PATH},
                 {"fd=", DECL_INPUT_FD},
                 {"stream=", DECL_INPUT_STREAM},
                 {"memory=", DECL_INPUT_MEMORY}};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        size_t len;
        const char *v = token_value(t, kinds[k].key, &len);
        if (!v)
            continue;
        const char *comma = memchr(v, ',', len);
        size_t head = comma ? (size_t)(comma - v) : len;
        f->input = kinds[k].kind;
        if (parse_arg_number(v, head, &f->input_arg) < 0)
            return -1;
        if ((kinds[k].kind == DECL_INPUT_MEMORY) != (comma != NULL))
            return -1;
        if (comma && parse_arg_number(comma + 1, len - head - 1, &f->input_len) < 0)
            return -1;
        return 1;
    }
    return 0;
}

/* arg=N, arg=*N, and for a destroy a list of either (arg=*1,*2,*3): the handles' arguments. */
static int parse_handle_args(decl_function_t *f, unsigned kind, const char *v, size_t len)
{
    unsigned count = 0;
    int deref = len > 0 && v[0] == '*';
    const char *end = v + len;
    while (v < end) {
        const char *comma = memchr(v, ',', (size_t)(end - v));
        const char *stop = comma ? comma : end;
        int star = v < stop && v[0] == '*';
        unsigned number;
        if (count == DECL_HANDLES_MAX || star != deref || (star && kind != DECL_DESTROY) ||
            (count && kind != DECL_DESTROY) ||
            parse_arg_number(v + star, (size_t)(stop - v - star), &number) < 0 || (comma && comma + 1 == end))
            return -1;
        if (count == 0)
            f->arg = number;
        else
            f->more[count - 1] = number;
        count++;
        v = stop + (comma ? 1 : 0);
    }
    f->from = deref ? DECL_FROM_DEREF : DECL_FROM_ARG;
    return count ? 0 : -1;
}

/* A function name (or TABLE.MEMBER), not declared before and not the C library's. */
static int parse_function_name(decl_set_t *set, decl_function_t *f, const token_t *t, unsigned line,
                               decl_error_t *err)
{
    const char *dot = memchr(t->at, '.', t->len);
    size_t head = dot ? (size_t)(dot - t->at) : t->len;
    if (!is_identifier(t->at, head) || (dot && !is_identifier(dot + 1, t->len - head - 1)) ||
        copy_name(f->name, sizeof f->name, t->at, t->len) < 0)
        return error_put(err, line, "bad function name '%t'", t, NULL), -1;
    if (dot) {
        f->name[head] = 0;
        int api = api_find(set, f->name);
        int index = decl_table_member(f->name, f->name + head + 1);
        f->name[head] = '.';
        if (api < 0)
            return error_put(err, line, "%s: its table needs an api line first", f->name, NULL), -1;
        if (index < 0)
            return error_put(err, line, "%s: imgleak does not know that member's place in the table",
                             f->name, NULL), -1;
        f->table_index = index;
    }
    int other = decl_function_find(set, f->name);
    if (other >= 0 && set->functions[other].part <= set->builtin_parts)
        return error_put(err, line, "%s is one of imgleak's built-in hooks", f->name, NULL), -1;
    if (other >= 0)
        return error_put(err, line,
                         set->functions[other].part == set->parts ? "%s is declared already, at line %u"
                                                                  : "%s is declared already, in an earlier file",
                         f->name, &set->functions[other].line), -1;
    f->part = set->parts;
    if (is_libc_name(decl_libc_function_names, DECL_LIBC_FUNCTIONS, f->name))
        return error_put(err, line, "%s is the C library's: imgleak tracks its descriptors itself",
                         f->name, NULL), -1;
    return 0;
}

static const char *const verbs[] = {"", "create", "destroy", "ref", "reset", "api", "input"};

/* Starts a function line's declaration of kind in f: -1 when the set has no room for one more. */
static int function_begin(const decl_set_t *set, decl_function_t *f, unsigned kind, unsigned line,
                          decl_error_t *err)
{
    unsigned max = DECL_FUNCTIONS_MAX;
    if (set->function_count >= DECL_FUNCTIONS_MAX)
        return error_put(err, line, "more than %u functions", &max, NULL), -1;
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->line = line;
    f->table_index = -1;
    return 0;
}

/* The words after the function name: where the handle is, when the call succeeded, what input
 * it begins, and its library. */
static int parse_words(decl_set_t *set, decl_function_t *f, const token_t *tok, int from, int n,
                       unsigned line, decl_error_t *err)
{
    unsigned kind = f->kind;
    int has_lib = 0;
    for (int i = from; i < n; i++) {
        size_t len;
        const char *v;
        int input;
        if (token_is(&tok[i], "return") && kind == DECL_CREATE) {
            f->from = DECL_FROM_RETURN;
        } else if ((v = token_value(&tok[i], "out=", &len)) && kind == DECL_CREATE) {
            f->from = DECL_FROM_OUT;
            if (parse_arg_number(v, len, &f->arg) < 0)
                return error_put(err, line, "bad argument number in '%t' (1 to 16)", &tok[i], NULL), -1;
        } else if ((v = token_value(&tok[i], "arg=", &len)) && kind != DECL_INPUT) {
            if (parse_handle_args(f, kind, v, len) < 0)
                return error_put(err, line,
                                 kind == DECL_DESTROY ? "bad argument number in '%t' (1 to 16, or *1 to *16; "
                                                        "up to 3, all alike)"
                                                      : "bad argument number in '%t' (1 to 16)",
                                 &tok[i], NULL), -1;
        } else if ((v = token_value(&tok[i], "holds=", &len)) && kind == DECL_DESTROY) {
            if (parse_number(v, len, 0, 15, &f->holds) < 0)
                return error_put(err, line, "bad word number in '%t' (0 to 15)", &tok[i], NULL), -1;
            f->holds++;
        } else if (((v = token_value(&tok[i], "ok=", &len)) || (v = token_value(&tok[i], "fail=", &len))) &&
                   kind == DECL_CREATE) {
            f->check = tok[i].at[0] == 'o' ? DECL_CHECK_OK : DECL_CHECK_FAIL;
            if (parse_value(v, len, &f->wide, &f->value) < 0)
                return error_put(err, line, "bad value in '%t' (an int, a long such as 0L, or null)",
                                 &tok[i], NULL), -1;
        } else if ((kind == DECL_CREATE || kind == DECL_INPUT) &&
                   (input = parse_input_word(&tok[i], f)) != 0) {
            if (input < 0)
                return error_put(err, line, "bad input in '%t' (path=N, fd=N, stream=N or memory=N,LEN)",
                                 &tok[i], NULL), -1;
        } else if ((v = token_value(&tok[i], "handle=", &len)) && kind == DECL_INPUT) {
            if (parse_arg_number(v, len, &f->input_handle) < 0)
                return error_put(err, line, "bad argument number in '%t' (1 to 16)", &tok[i], NULL), -1;
        } else if ((v = token_value(&tok[i], "lib=", &len))) {
            if (parse_libs(f->lib, v, len) < 0)
                return bad_libs(err, line);
            has_lib = 1;
        } else {
            return error_put(err, line, "unknown word '%t' for %s", &tok[i], verbs[kind]), -1;
        }
    }
    (void)set;
    if (kind == DECL_INPUT)
        return !f->input ? error_put(err, line, "input needs path=N, fd=N, stream=N or memory=N,LEN", NULL, NULL), -1
               : !has_lib ? error_put(err, line, "input needs lib=LIBRARY", NULL, NULL), -1
                          : 0;
    if (!f->from)
        return error_put(err, line, kind == DECL_CREATE ? "create needs return, out=N or arg=N"
                                                        : "%s needs arg=N", verbs[kind], NULL), -1;
    if (f->from == DECL_FROM_RETURN && f->check)
        return error_put(err, line, "ok=/fail= go with out= or arg=: with return, a NULL handle is the failure",
                         NULL, NULL), -1;
    return 0;
}

static int parse_function(decl_set_t *set, unsigned kind, const token_t *tok, int n, unsigned line,
                          decl_error_t *err)
{
    if (n < 4)
        return error_put(err, line, "%s needs a type, a function and where the handle is",
                         verbs[kind], NULL), -1;
    decl_function_t f;
    if (function_begin(set, &f, kind, line, err) < 0)
        return -1;
    if (parse_types(set, &tok[1], line, &f.types, &f.type, err) < 0)
        return -1;
    if ((kind == DECL_CREATE || kind == DECL_REF) && (f.types & (f.types - 1)))
        return error_put(err, line, "%s takes one type", verbs[kind], NULL), -1;
    if (kind == DECL_REF && !(set->types[f.type].flags & DECL_TYPE_REFCOUNTED))
        return error_put(err, line, "ref needs a type declared refcounted", NULL, NULL), -1;
    if (parse_function_name(set, &f, &tok[2], line, err) < 0)
        return -1;
    memcpy(f.lib, set->types[f.type].lib, sizeof f.lib);
    if (parse_words(set, &f, tok, 3, n, line, err) < 0)
        return -1;
    set->functions[set->function_count++] = f;
    return 0;
}

/* input FUNCTION INPUT [handle=N] lib=LIB: the call begins an input (its decode is charged to it). */
static int parse_input(decl_set_t *set, const token_t *tok, int n, unsigned line, decl_error_t *err)
{
    if (n < 3)
        return error_put(err, line, "input needs a function, what it reads (path=N, ...) and lib=LIBRARY",
                         NULL, NULL), -1;
    decl_function_t f;
    if (function_begin(set, &f, DECL_INPUT, line, err) < 0)
        return -1;
    if (parse_function_name(set, &f, &tok[1], line, err) < 0 || parse_words(set, &f, tok, 2, n, line, err) < 0)
        return -1;
    set->functions[set->function_count++] = f;
    return 0;
}

/* The api line of table, or -1. */
static int api_find(const decl_set_t *set, const char *table)
{
    for (unsigned i = 0; i < set->function_count; i++)
        if (set->functions[i].kind == DECL_API && strcmp(set->functions[i].table, table) == 0)
            return (int)i;
    return -1;
}

/* api TABLE FUNCTION lib=LIB: FUNCTION hands out the table (OrtGetApiBase), and is hooked by its
 * symbol, like any declared function. */
static int parse_api(decl_set_t *set, const token_t *tok, int n, unsigned line, decl_error_t *err)
{
    if (n != 4)
        return error_put(err, line, "api needs a table, the function that returns it, and lib=LIBRARY",
                         NULL, NULL), -1;
    decl_function_t f;
    if (function_begin(set, &f, DECL_API, line, err) < 0)
        return -1;
    if (copy_name(f.table, sizeof f.table, tok[1].at, tok[1].len) < 0 || decl_table_member(f.table, NULL) < 0)
        return error_put(err, line, "imgleak knows the layout of OrtApi only, not '%t'", &tok[1], NULL), -1;
    if (api_find(set, f.table) >= 0)
        return error_put(err, line, "table %s is declared twice", f.table, NULL), -1;
    if (!is_identifier(tok[2].at, tok[2].len))
        return error_put(err, line, "bad function name '%t'", &tok[2], NULL), -1;
    if (parse_function_name(set, &f, &tok[2], line, err) < 0)
        return -1;
    size_t len;
    const char *v = token_value(&tok[3], "lib=", &len);
    if (!v || parse_libs(f.lib, v, len) < 0)
        return error_put(err, line, "api needs lib= with a library's file name, such as libfoo.so", NULL,
                         NULL), -1;
    set->functions[set->function_count++] = f;
    return 0;
}

/* Splits a line into words at spaces and tabs outside quotes; '#' outside quotes ends it. */
static int split(const char *s, size_t len, token_t tok[TOKENS_MAX], unsigned line, decl_error_t *err)
{
    int n = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] == '#')
            break;
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
            i++;
            continue;
        }
        size_t start = i;
        int quoted = 0;
        while (i < len && (quoted || (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '#')))
            quoted ^= s[i++] == '"';
        if (quoted)
            return error_put(err, line, "a quote is not closed", NULL, NULL), -1;
        if (n == TOKENS_MAX)
            return error_put(err, line, "too many words", NULL, NULL), -1;
        tok[n++] = (token_t){s + start, i - start};
    }
    return n;
}

static int parse_line(decl_set_t *set, const char *s, size_t len, unsigned line, decl_error_t *err)
{
    token_t tok[TOKENS_MAX];
    int n = split(s, len, tok, line, err);
    if (n <= 0)
        return n;
    for (int i = 0; i < n; i++) /* comments may hold anything */
        for (size_t j = 0; j < tok[i].len; j++)
            if ((unsigned char)tok[i].at[j] < ' ' || (unsigned char)tok[i].at[j] > '~')
                return error_put(err, line, "a character that is not printable ASCII", NULL, NULL), -1;
    if (token_is(&tok[0], "type"))
        return parse_type(set, tok, n, line, err);
    if (token_is(&tok[0], "api"))
        return parse_api(set, tok, n, line, err);
    if (token_is(&tok[0], "input"))
        return parse_input(set, tok, n, line, err);
    for (unsigned k = DECL_CREATE; k <= DECL_RESET; k++)
        if (token_is(&tok[0], verbs[k]))
            return parse_function(set, k, tok, n, line, err);
    return error_put(err, line,
                     "unknown word '%t' (a line starts with type, create, destroy, ref, reset, input or api)",
                     &tok[0], NULL), -1;
}

int decl_parse(decl_set_t *set, const char *text, size_t len, decl_error_t *err)
{
    unsigned types_before = set->type_count, functions_before = set->function_count;
    unsigned line = 1;
    memset(err, 0, sizeof *err);
    set->parts++;
    for (size_t at = 0; at < len; line++) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (memchr(text + at, 0, end - at) ||
            parse_line(set, text + at, end - at, line, err) < 0) {
            if (!err->message[0])
                error_put(err, line, "a NUL byte", NULL, NULL);
            set->type_count = types_before;
            set->function_count = functions_before;
            return -1;
        }
        at = end + 1;
    }
    return 0;
}

int decl_parse_builtin(decl_set_t *set, decl_error_t *err, const char **file)
{
    *file = "codecs.handles";
    if (decl_parse(set, imgleak_codec_handles, strlen(imgleak_codec_handles), err) < 0)
        return -1;
    *file = "builtin.handles";
    if (decl_parse(set, imgleak_builtin_handles, strlen(imgleak_builtin_handles), err) < 0)
        return -1;
    set->builtin_parts = set->parts;
    return 0;
}
