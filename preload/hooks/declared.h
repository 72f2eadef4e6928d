/* Handle functions built in (codecs.handles, builtin.handles) and declared in a file
 * (IMGLEAK_HANDLES): their declarations, read once at start, and the trampolines
 * (declared_stubs.S) that bind.c points a library's own definitions at. catalog.c lists them
 * after the C library's types and functions, so the binder and the snapshot see one catalogue. */
#ifndef IMGLEAK_DECLARED_H
#define IMGLEAK_DECLARED_H

#include "catalog.h"

#include <stdint.h>

#define DECLARED_STACK_WORDS 32 /* stack argument words a trampoline passes on (declared_stubs.S) */

/* Reads the built-in declarations and the file IMGLEAK_HANDLES names. Declared type i is type
 * type_base + i of the catalogue, declared function j is function function_base + j. 0, or -1
 * when a declaration is refused: the reason, with file and line, is said on stderr. */
int declared_load(unsigned type_base, unsigned function_base);

unsigned declared_type_count(void);
const catalog_type_t *declared_type(unsigned i);
unsigned declared_function_count(void);
const char *declared_function_name(unsigned i);
int declared_function_in_library(unsigned i, const char *path);
/* TABLE.MEMBER: the member's index in its table; -1 for a function bound by its symbol. */
int declared_table_index(unsigned i);
/* The return address of every trampoline's call of the real function (declared_stubs.S). A hooked
 * function called from there is the program's call, not the shim's: the real function ended in
 * a tail call to it, and it returns through the trampoline. */
extern const char declared_real_returns_here[];

/* The trampoline of declared function i. */
void *declared_hook(unsigned i);
void *declared_real(unsigned i);
void declared_set_real(unsigned i, void *address);

#endif
