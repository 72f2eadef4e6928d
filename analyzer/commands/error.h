/* One place for the analyzer's error messages: library-style code records a message and returns
 * an error code; main prints it as one line and exits 2. */
#ifndef IMGLEAK_ERROR_H
#define IMGLEAK_ERROR_H

void error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *error_get(void);
/* Prints "imgleak: <message>" on stderr. */
void error_print(void);
/* Non-fatal: "imgleak: warning: ..." on stderr. */
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
