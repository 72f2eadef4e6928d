/* Progress on a terminal: when reading or symbolizing takes longer than a second, one line on
 * stderr ("imgleak: symbolizing 12000/40000 stacks (30%)"), redrawn at most ten times a second
 * and erased when done. Nothing when stderr is not a terminal. */
#ifndef IMGLEAK_PROGRESS_H
#define IMGLEAK_PROGRESS_H

#include <stdint.h>

void progress_begin(const char *what, const char *unit, uint64_t total);
void progress_step(uint64_t done);
void progress_end(void);

#endif
