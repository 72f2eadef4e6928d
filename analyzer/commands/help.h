/* imgleak's help: one text, from which `imgleak --help` prints all and `imgleak COMMAND --help`
 * the parts for COMMAND. The man page is made from `imgleak --help` (help2man), so the three
 * cannot disagree. */
#ifndef IMGLEAK_HELP_H
#define IMGLEAK_HELP_H

#include <stdio.h>

/* Writes the help for command (run, report, growth, gate, diff), or all of it for NULL. 0, or
 * -1 for a command help does not know. */
int help_write(FILE *out, const char *command);
/* The usage lines of command, or of every command for NULL (after an error). */
void help_write_usage(FILE *out, const char *command);

#endif
