/* Strings from the inputs (paths, function and type names from a snapshot, a module's DWARF or a
 * JSON report) written out safely. Such a string may hold any byte but NUL: terminal escape
 * sequences, newlines, bytes that are not UTF-8 (a file named in Latin-1).
 *
 * One reading of such bytes for every output: valid UTF-8 is kept; each byte that is not part of
 * a valid UTF-8 sequence is read as the Latin-1 character of that value (0xE9 is U+00E9 'é').
 * JSON and XML so stay valid, and a name reads the same from a snapshot and from imgleak's own JSON
 * report of it (gate and diff match them). Text for a terminal additionally shows control
 * characters (C0, DEL, C1) as \xHH (\n, \t, \r as such), so an input cannot move the cursor,
 * change colours, retitle the window or forge a line of output. */
#ifndef IMGLEAK_ESCAPE_H
#define IMGLEAK_ESCAPE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The code point at s (s[0] != 0) in the reading above; returns the bytes it took (1 to 4). */
size_t escape_decode(const char *s, uint32_t *cp);
/* s as valid UTF-8 in that reading (malloc'd; NULL when out of memory). */
char *escape_utf8_dup(const char *s);
/* s as a JSON string literal, quotes included ("null" for NULL); in_html: also <, >, & and
 * U+2028/U+2029 escaped, for a script element. */
void escape_json(FILE *out, const char *s, int in_html);
/* s for XML text or an attribute value (control characters dropped, as XML 1.0 cannot hold them). */
void escape_xml(FILE *out, const char *s);
/* s safe for a terminal: s itself when nothing needs escaping, else an escaped copy that stays
 * valid until 16 more calls (so that one printf can take several). NULL stays NULL. */
const char *escape_text(const char *s);
/* The same into a buffer (truncated to fit), for messages. */
void escape_text_to(char *out, size_t size, const char *s);

#endif
