/* Writing strings from the inputs safely (see escape.h). */
#include "escape.h"

#include <stdlib.h>
#include <string.h>

size_t escape_decode(const char *str, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[0];
    size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    uint32_t v = len == 1 ? c : len == 2 ? c & 0x1fu : len == 3 ? c & 0x0fu : c & 0x07u;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) { /* also stops at the NUL */
            len = 0;
            break;
        }
        v = v << 6 | (s[i] & 0x3fu);
    }
    /* overlong forms, surrogates and beyond U+10FFFF are not UTF-8 either */
    if (len == 0 || (len == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) ||
        (len == 4 && (v < 0x10000 || v > 0x10ffff))) {
        *cp = c; /* Latin-1 */
        return 1;
    }
    *cp = v;
    return len;
}

static size_t encode(uint32_t cp, char *out)
{
    if (cp < 0x80)
        return out[0] = (char)cp, 1;
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

char *escape_utf8_dup(const char *s)
{
    char *out = malloc(2 * strlen(s) + 1); /* a Latin-1 byte takes two bytes in UTF-8 */
    if (!out)
        return NULL;
    size_t n = 0;
    while (*s) {
        uint32_t cp;
        s += escape_decode(s, &cp);
        n += encode(cp, out + n);
    }
    out[n] = '\0';
    return out;
}

static int is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* Printable ASCII that JSON (and JSON inside HTML) takes as it is. */
static int plain_json(char c, int in_html)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' &&
           !(in_html && (c == '<' || c == '>' || c == '&'));
}

void escape_json(FILE *out, const char *s, int in_html)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    fputc('"', out);
    while (*s) {
        /* a run of printable ASCII that needs no escape, written at once: a call per character
         * was most of the time of a large JSON report */
        size_t run = 0;
        while (plain_json(s[run], in_html))
            run++;
        if (run) {
            fwrite(s, 1, run, out);
            s += run;
            continue;
        }
        uint32_t cp;
        s += escape_decode(s, &cp);
        char utf8[4];
        if (cp == '"' || cp == '\\')
            fprintf(out, "\\%c", (char)cp);
        else if (is_control(cp) ||
                 (in_html && (cp == '<' || cp == '>' || cp == '&' || cp == 0x2028 || cp == 0x2029)))
            fprintf(out, "\\u%04x", (unsigned)cp);
        else
            fwrite(utf8, 1, encode(cp, utf8), out);
    }
    fputc('"', out);
}

void escape_xml(FILE *out, const char *s)
{
    while (s && *s) {
        uint32_t cp;
        s += escape_decode(s, &cp);
        char utf8[4];
        switch (cp) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\n': fputs("&#10;", out); break;
        case '\t': fputs("&#9;", out); break;
        default:
            if (!is_control(cp))
                fwrite(utf8, 1, encode(cp, utf8), out);
        }
    }
}

/* Appends the text form of cp to out[*n], at most room bytes; 0 when it does not fit. */
static int text_put(uint32_t cp, char *out, size_t *n, size_t room)
{
    char tmp[8];
    size_t len;
    if (cp == '\n' || cp == '\t' || cp == '\r')
        len = (size_t)snprintf(tmp, sizeof tmp, "\\%c", cp == '\n' ? 'n' : cp == '\t' ? 't' : 'r');
    else if (is_control(cp))
        len = (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", (unsigned)cp);
    else
        len = encode(cp, tmp);
    if (*n + len > room)
        return 0;
    memcpy(out + *n, tmp, len);
    *n += len;
    return 1;
}

static int needs_escape(const char *s)
{
    while (*s) {
        uint32_t cp;
        size_t len = escape_decode(s, &cp);
        if (is_control(cp) || (len == 1 && cp >= 0x80))
            return 1;
        s += len;
    }
    return 0;
}

void escape_text_to(char *out, size_t size, const char *s)
{
    size_t n = 0;
    if (!size)
        return;
    while (s && *s) {
        uint32_t cp;
        size_t len = escape_decode(s, &cp);
        if (!text_put(cp, out, &n, size - 1))
            break;
        s += len;
    }
    out[n] = '\0';
}

const char *escape_text(const char *s)
{
    static char *ring[16];
    static unsigned next;
    if (!s || !needs_escape(s))
        return s;
    size_t size = 4 * strlen(s) + 1; /* \xHH is the longest form of one byte */
    char *copy = malloc(size);
    if (!copy)
        return "(unprintable)";
    escape_text_to(copy, size, s);
    free(ring[next]);
    ring[next] = copy;
    next = (next + 1) % 16;
    return copy;
}
