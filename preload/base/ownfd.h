/* The shim's own file descriptors (the snapshot being written, /proc files it reads). The program
 * must never close, replace or write through them: the interposed close, close_range, closefrom,
 * dup2 and dup3 ask here first. A descriptor is held in a slot, and every use goes through the
 * slot under one lock, so that when the program dup2()s onto its number the shim's file is moved
 * to another number in between two uses, never during one. Signals are blocked while the lock is
 * held, so that a handler calling close() on the same thread cannot wait for itself. */
#ifndef IMGLEAK_OWNFD_H
#define IMGLEAK_OWNFD_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* A slot index, or -1. */
typedef int ownfd_t;

/* open(2) into a slot, the descriptor moved above the numbers programs use. -1 (errno) on failure. */
ownfd_t ownfd_open(const char *path, int flags, mode_t mode);
/* A copy of fd (the program's stderr at start), held for the whole run and across fork, so
 * that the shim's messages never land in a file the program opens after closing fd 2. -1 when
 * fd is not open. */
ownfd_t ownfd_adopt(int fd);
/* An open descriptor that a library the shim uses holds by number (libunwind's pipe), into a
 * slot as ownfd_adopt's: moved above the numbers programs use, held across fork, and kept from the
 * program's close, close_range and closefrom. *mirror is the library's copy of the number: set
 * here, and again whenever the program dup2()s onto it and the descriptor moves. -1 when no slot
 * is free (fd and *mirror are left as they are). */
ownfd_t ownfd_keep(int fd, _Atomic int *mirror);
/* An open descriptor of the shim's into a slot (moved above the numbers programs use): from now
 * on the program cannot close or replace it; a forked child closes it as the slots it opened.
 * -1 when no slot is free (fd is left as it is). */
ownfd_t ownfd_take(int fd);
/* Closes and frees the slot; 0, or -1 (errno). */
int ownfd_close(ownfd_t slot);
/* write(2) all of it, retrying on EINTR and short writes; 0, or -1 (errno). */
int ownfd_write_all(ownfd_t slot, const void *buf, size_t len);
/* pwrite(2)/pread(2) all of it at offset; 0, or -1 (errno; EIO for a short read). */
int ownfd_pwrite_all(ownfd_t slot, const void *buf, size_t len, off_t at);
int ownfd_pread_all(ownfd_t slot, void *buf, size_t len, off_t at);
/* read(2) once, retrying on EINTR. */
ssize_t ownfd_read(ownfd_t slot, void *buf, size_t len);
off_t ownfd_seek(ownfd_t slot, off_t at);
int ownfd_stat(ownfd_t slot, struct stat *st);

/* For the interposed calls, which pass the libc function to call for the program's part. */
int ownfd_program_close(int fd, int (*real_close)(int));
/* close_range(first, last, flags) around the shim's descriptors. */
int ownfd_program_close_range(unsigned first, unsigned last, int flags);
/* closefrom(lowfd): the part above the shim's descriptors through real_closefrom. */
void ownfd_program_closefrom(int lowfd, void (*real_closefrom)(int));
/* dup3(oldfd, newfd, flags), or dup2 when real_dup2 is given: a shim descriptor at newfd is
 * moved out of the way first. */
int ownfd_program_dup(int oldfd, int newfd, int flags, int (*real_dup2)(int, int),
                      int (*real_dup3)(int, int, int));
/* In a forked child: the lock may have been held by a thread that did not come along; the
 * parent's descriptors are closed (they are the parent's files). */
/* The lock, free again: for the final snapshot, once every thread that could hold it is gone. */
void ownfd_lock_reset(void);
/* In the final-snapshot sentinel, which closed every descriptor it was cloned with: the slots
 * name numbers that are no longer the shim's (the next file opened may take one of them). */
void ownfd_forget_all(void);
void ownfd_after_fork_child(void);

#endif
