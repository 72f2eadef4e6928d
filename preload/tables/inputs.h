/* The inputs a process decodes (files, memory buffers, requests the program tags) and the one
 * each thread is working on now. A thread's current input is one id in its guard state
 * (guard.h), which stacks.c makes part of a stack's identity: memory allocated and handles
 * created while an input is current are charged to it at no cost per block. A tag the program
 * sets (imgleak_set_tag) wins over the name a codec hook finds; an automatic input ends when the
 * handle it was given to is destroyed or reset, another input begins on the thread, or the
 * program creates another handle or opens another file after the input was given its handle. */
#ifndef IMGLEAK_INPUTS_H
#define IMGLEAK_INPUTS_H

#include <stddef.h>
#include <stdint.h>

enum { INPUT_PATH, INPUT_FD, INPUT_STREAM, INPUT_MEMORY };

/* The program's tag for this thread (copied); NULL or "" clears it. */
void inputs_set_tag(const char *tag);
/* A codec begins an input: a path (src: const char *), a descriptor (src: the int, cast), a
 * FILE * (src), or len bytes of memory at src, named by a digest and the size. */
void inputs_begin(int kind, const void *src, size_t len);
/* The automatic input now current was handed to this handle: it ends with the handle. */
void inputs_bind_handle(uintptr_t handle);
/* The program is about to create a handle or open a descriptor: an automatic input already
 * given to its handle ends (its decode is over, or was abandoned with the handle leaked: what
 * comes next is another input's or none's). */
void inputs_new_handle(void);
/* The handle was destroyed or reset: the automatic input bound to it on this thread ends. */
void inputs_end_handle(uintptr_t handle);
/* A handle created on this thread while it had no input: the next input it begins takes it (a
 * jpeg_decompress_struct or a FILE made just before jpeg_stdio_src names the input). The last
 * INPUTS_UNCLAIMED are kept. */
#define INPUTS_UNCLAIMED 8
void inputs_note_unclaimed(uintptr_t handle);
/* The handles noted since the thread last began an input (fills out; returns how many), and
 * forgets them. */
unsigned inputs_take_unclaimed(uintptr_t out[INPUTS_UNCLAIMED]);
/* The current input of this thread (0: none). */
uint32_t inputs_current(void);

/* Inputs are numbered 1, 2, ... in the order they were first seen. */
void inputs_foreach(void (*visit)(uint32_t id, const char *name, void *ctx), void *ctx);
uint32_t inputs_seen(void);     /* distinct inputs named */
uint64_t inputs_unnamed(void);  /* inputs begun once the limit was named: charged to none */
/* At start: at most this many inputs are told apart (IMGLEAK_MAX_INPUTS; 0: none). Each input
 * can make a copy of every stack it runs through, so a service naming every request stays
 * within what the stack table holds. */
void inputs_set_limit(uint32_t max_inputs);

void inputs_after_fork_child(void);

#endif
