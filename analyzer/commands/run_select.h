/* imgleak run: the processes the user meant. The program imgleak started (one identity across
 * the execs of wrappers) and the processes it started, less shells; not what a wrapper ran
 * before exec'ing into the program. --all-processes skips this. */
#ifndef IMGLEAK_RUN_SELECT_H
#define IMGLEAK_RUN_SELECT_H

#include <stddef.h>

/* Reorders snapshots[0..n) so that those of the processes meant come first, in their order, and
 * returns how many they are; *hidden is the number of processes left out. When the program
 * itself (root_pid) wrote no snapshot, every snapshot is kept. */
size_t run_select_processes(char **snapshots, size_t n, long root_pid, size_t *hidden);

#endif
