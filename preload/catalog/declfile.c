/* The handle declaration parser (see declfile.h and docs/HANDLES.md). One line, one declaration:
 *   type    NAME lib=LIB [refcounted] [buffer] [lenient]
 *   create  TYPE FUNCTION return|out=N|arg=N [ok=V|fail=V] [lib=LIB]
 *   destroy TYPE[,TYPE...] FUNCTION arg=N|arg=*N [lib=LIB]
 *   ref     TYPE FUNCTION arg=N [lib=LIB]
 *   reset   TYPE[,TYPE...] FUNCTION arg=N [lib=LIB]
 *   api     TABLE FUNCTION lib=LIB       (a function table imgleak knows the layout of: OrtApi)
 * where FUNCTION may also be TABLE.MEMBER, an entry of such a table.
 * '#' starts a comment. Every mistake is refused with its line: a file that is half understood
 * would give a report that is half true. Used by the shim at start, so: no allocation, no stdio. */
#include "imgleak/declfile.h"

#include <string.h>

#define TOKENS_MAX 12

/* codecs.def's function names: a declaration may not hook one a second time */
#define CODEC_LIB(id, p1, p2)
#define HANDLE_TYPE(id, name, lib, flags)
#define CODEC_ROW(lib, fn) #fn,
#define CODEC_LIBC_ROW(fn) #fn,
static const char *const codec_function_names[] = {
#include "codecs_rows.h"
};
#undef CODEC_ROW
#undef CODEC_LIBC_ROW

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

/* A type name: printable, no space, comma, '=' or '#'. */
static int is_type_name(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] <= ' ' || s[i] > '~' || s[i] == ',' || s[i] == '=')
            return 0;
    return len > 0;
}

static int parse_arg_number(const char *s, size_t len, unsigned *out)
{
    unsigned v = 0;
    if (len == 0 || len > 2)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v < 1 || v > DECL_ARG_MAX)
        return -1;
    *out = v;
    return 0;
}

/* A C int (decimal, or 0x hex), or "null". */
static int parse_value(const char *s, size_t len, int *is_null, int32_t *out)
{
    if (len == 4 && memcmp(s, "null", 4) == 0) {
        *is_null = 1;
        *out = 0;
        return 0;
    }
    int negative = len > 0 && s[0] == '-';
    size_t i = negative ? 1 : 0;
    unsigned base = 10;
    if (len - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        base = 16;
        i += 2;
    }
    if (i >= len)
        return -1;
    uint64_t v = 0;
    for (; i < len; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                     : base == 16 && c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : base == 16 && c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                          : 99;
        if (d >= base || v > UINT64_C(0xffffffff))
            return -1;
        v = v * base + d;
    }
    if (negative ? v > UINT64_C(0x80000000) : v > UINT64_C(0xffffffff))
        return -1;
    *is_null = 0;
    *out = negative ? (int32_t)(-(int64_t)v) : (int32_t)(uint32_t)v;
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

static int parse_type(decl_set_t *set, const token_t *tok, int n, unsigned line, decl_error_t *err)
{
    if (n < 3)
        return error_put(err, line, "type needs a name and lib=LIBRARY", NULL, NULL), -1;
    if (set->type_count == DECL_TYPES_MAX) {
        unsigned max = DECL_TYPES_MAX;
        return error_put(err, line, "more than %u types", &max, NULL), -1;
    }
    decl_type_t t;
    memset(&t, 0, sizeof t);
    t.line = line;
    if (!is_type_name(tok[1].at, tok[1].len) || copy_name(t.name, sizeof t.name, tok[1].at, tok[1].len) < 0)
        return error_put(err, line, "bad type name '%t'", &tok[1], NULL), -1;
    if (decl_type_find(set, t.name) >= 0)
        return error_put(err, line, "type %s is declared twice", t.name, NULL), -1;
    for (int i = 2; i < n; i++) {
        size_t len;
        const char *v;
        if ((v = token_value(&tok[i], "lib=", &len))) {
            if (memchr(v, '/', len) || copy_name(t.lib, sizeof t.lib, v, len) < 0)
                return error_put(err, line, "lib= takes a library's file name, such as libfoo.so", NULL, NULL), -1;
        } else if (token_is(&tok[i], "refcounted")) {
            t.flags |= DECL_TYPE_REFCOUNTED;
        } else if (token_is(&tok[i], "buffer")) {
            t.flags |= DECL_TYPE_BUFFER;
        } else if (token_is(&tok[i], "lenient")) {
            t.flags |= DECL_TYPE_LENIENT;
        } else {
            return error_put(err, line, "unknown word '%t' (a type takes lib=, refcounted, buffer, lenient)",
                             &tok[i], NULL), -1;
        }
    }
    if (!t.lib[0])
        return error_put(err, line, "type %s needs lib=LIBRARY", t.name, NULL), -1;
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
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *stop = comma ? comma : end;
        char name[DECL_NAME_MAX];
        token_t one = {s, (size_t)(stop - s)};
        if (copy_name(name, sizeof name, s, one.len) < 0)
            return error_put(err, line, "bad type name '%t'", &one, NULL), -1;
        int t = decl_type_find(set, name);
        if (t < 0)
            return error_put(err, line, "type %s is not declared (a type line must come first)", name, NULL), -1;
        if (*mask & (UINT64_C(1) << t))
            return error_put(err, line, "type %s is named twice", name, NULL), -1;
        if (!*mask)
            *first = (unsigned)t;
        *mask |= UINT64_C(1) << t;
        s = stop + (comma ? 1 : 0);
    }
    if (!*mask)
        return error_put(err, line, "a type name is missing", NULL, NULL), -1;
    return 0;
}

static int parse_function(decl_set_t *set, unsigned kind, const token_t *tok, int n, unsigned line,
                          decl_error_t *err)
{
    static const char *const verbs[] = {"", "create", "destroy", "ref", "reset"};
    if (n < 4)
        return error_put(err, line, "%s needs a type, a function and where the handle is",
                         verbs[kind], NULL), -1;
    if (set->function_count == DECL_FUNCTIONS_MAX) {
        unsigned max = DECL_FUNCTIONS_MAX;
        return error_put(err, line, "more than %u functions", &max, NULL), -1;
    }
    decl_function_t f;
    memset(&f, 0, sizeof f);
    f.kind = kind;
    f.line = line;
    if (parse_types(set, &tok[1], line, &f.types, &f.type, err) < 0)
        return -1;
    if ((kind == DECL_CREATE || kind == DECL_REF) && (f.types & (f.types - 1)))
        return error_put(err, line, "%s takes one type", verbs[kind], NULL), -1;
    if (kind == DECL_REF && !(set->types[f.type].flags & DECL_TYPE_REFCOUNTED))
        return error_put(err, line, "ref needs a type declared refcounted", NULL, NULL), -1;
    f.table_index = -1;
    const char *dot = memchr(tok[2].at, '.', tok[2].len);
    size_t head = dot ? (size_t)(dot - tok[2].at) : tok[2].len;
    if (!is_identifier(tok[2].at, head) || (dot && !is_identifier(dot + 1, tok[2].len - head - 1)) ||
        copy_name(f.name, sizeof f.name, tok[2].at, tok[2].len) < 0)
        return error_put(err, line, "bad function name '%t'", &tok[2], NULL), -1;
    if (dot) {
        f.name[head] = 0;
        int api = api_find(set, f.name);
        int index = decl_table_member(f.name, f.name + head + 1);
        f.name[head] = '.';
        if (api < 0)
            return error_put(err, line, "%s: its table needs an api line first", f.name, NULL), -1;
        if (index < 0)
            return error_put(err, line, "%s: imgleak does not know that member's place in the table",
                             f.name, NULL), -1;
        f.table_index = index;
    }
    int other = decl_function_find(set, f.name);
    if (other >= 0)
        return error_put(err, line, "%s is declared already, at line %u", f.name,
                         &set->functions[other].line), -1;
    for (size_t i = 0; i < sizeof codec_function_names / sizeof *codec_function_names; i++)
        if (strcmp(codec_function_names[i], f.name) == 0)
            return error_put(err, line, "%s is one of imgleak's built-in codec hooks", f.name, NULL), -1;
    memcpy(f.lib, set->types[f.type].lib, sizeof f.lib);
    for (int i = 3; i < n; i++) {
        size_t len;
        const char *v;
        if (token_is(&tok[i], "return") && kind == DECL_CREATE) {
            f.from = DECL_FROM_RETURN;
        } else if ((v = token_value(&tok[i], "out=", &len)) && kind == DECL_CREATE) {
            f.from = DECL_FROM_OUT;
            if (parse_arg_number(v, len, &f.arg) < 0)
                return error_put(err, line, "bad argument number in '%t' (1 to 16)", &tok[i], NULL), -1;
        } else if ((v = token_value(&tok[i], "arg=", &len))) {
            f.from = DECL_FROM_ARG;
            if (len > 0 && v[0] == '*' && kind == DECL_DESTROY) {
                f.from = DECL_FROM_DEREF;
                v++, len--;
            }
            if (parse_arg_number(v, len, &f.arg) < 0)
                return error_put(err, line, "bad argument number in '%t' (1 to 16)", &tok[i], NULL), -1;
        } else if (((v = token_value(&tok[i], "ok=", &len)) || (v = token_value(&tok[i], "fail=", &len))) &&
                   kind == DECL_CREATE) {
            f.check = tok[i].at[0] == 'o' ? DECL_CHECK_OK : DECL_CHECK_FAIL;
            if (parse_value(v, len, &f.null_value, &f.value) < 0)
                return error_put(err, line, "bad value in '%t' (an int, or null)", &tok[i], NULL), -1;
        } else if ((v = token_value(&tok[i], "lib=", &len))) {
            if (memchr(v, '/', len) || copy_name(f.lib, sizeof f.lib, v, len) < 0)
                return error_put(err, line, "lib= takes a library's file name, such as libfoo.so", NULL, NULL), -1;
        } else {
            return error_put(err, line, "unknown word '%t' for %s", &tok[i], verbs[kind]), -1;
        }
    }
    if (!f.from)
        return error_put(err, line, kind == DECL_CREATE ? "create needs return, out=N or arg=N"
                                                        : "%s needs arg=N", verbs[kind], NULL), -1;
    if (f.from == DECL_FROM_RETURN && f.check)
        return error_put(err, line, "ok=/fail= go with out= or arg=: with return, a NULL handle is the failure",
                         NULL, NULL), -1;
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
    decl_function_t f;
    memset(&f, 0, sizeof f);
    f.kind = DECL_API;
    f.line = line;
    f.table_index = -1;
    if (n != 4)
        return error_put(err, line, "api needs a table, the function that returns it, and lib=LIBRARY",
                         NULL, NULL), -1;
    if (set->function_count == DECL_FUNCTIONS_MAX) {
        unsigned max = DECL_FUNCTIONS_MAX;
        return error_put(err, line, "more than %u functions", &max, NULL), -1;
    }
    if (copy_name(f.table, sizeof f.table, tok[1].at, tok[1].len) < 0 || decl_table_member(f.table, NULL) < 0)
        return error_put(err, line, "imgleak knows the layout of OrtApi only, not '%t'", &tok[1], NULL), -1;
    if (api_find(set, f.table) >= 0)
        return error_put(err, line, "table %s is declared twice", f.table, NULL), -1;
    if (!is_identifier(tok[2].at, tok[2].len) || copy_name(f.name, sizeof f.name, tok[2].at, tok[2].len) < 0)
        return error_put(err, line, "bad function name '%t'", &tok[2], NULL), -1;
    int other = decl_function_find(set, f.name);
    if (other >= 0)
        return error_put(err, line, "%s is declared already, at line %u", f.name,
                         &set->functions[other].line), -1;
    size_t len;
    const char *v = token_value(&tok[3], "lib=", &len);
    if (!v || memchr(v, '/', len) || copy_name(f.lib, sizeof f.lib, v, len) < 0)
        return error_put(err, line, "api needs lib= with a library's file name, such as libfoo.so", NULL,
                         NULL), -1;
    set->functions[set->function_count++] = f;
    return 0;
}

static int parse_line(decl_set_t *set, const char *s, size_t len, unsigned line, decl_error_t *err)
{
    token_t tok[TOKENS_MAX];
    int n = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] == '#')
            break;
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '#')
            i++;
        if (n == TOKENS_MAX)
            return error_put(err, line, "too many words", NULL, NULL), -1;
        tok[n++] = (token_t){s + start, i - start};
    }
    if (n == 0)
        return 0;
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < tok[i].len; j++)
            if ((unsigned char)tok[i].at[j] < ' ' || (unsigned char)tok[i].at[j] > '~')
                return error_put(err, line, "a character that is not printable ASCII", NULL, NULL), -1;
    if (token_is(&tok[0], "type"))
        return parse_type(set, tok, n, line, err);
    if (token_is(&tok[0], "api"))
        return parse_api(set, tok, n, line, err);
    static const char *const verbs[] = {"create", "destroy", "ref", "reset"};
    for (unsigned k = 0; k < 4; k++)
        if (token_is(&tok[0], verbs[k]))
            return parse_function(set, DECL_CREATE + k, tok, n, line, err);
    return error_put(err, line, "unknown word '%t' (a line starts with type, create, destroy, ref, reset or api)",
                     &tok[0], NULL), -1;
}

int decl_parse(decl_set_t *set, const char *text, size_t len, decl_error_t *err)
{
    unsigned types_before = set->type_count, functions_before = set->function_count;
    unsigned line = 1;
    memset(err, 0, sizeof *err);
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
