/* imgleak diff: what changed between two reports, site by site (matched as the gate matches
 * them: function, file name and kind, not line): new, grown, shrunk and gone, with deltas. */
#ifndef IMGLEAK_DIFF_H
#define IMGLEAK_DIFF_H

#include "summary.h"

#include <stdio.h>

int diff_write_text(const summary_t *base, const summary_t *now, FILE *out);
int diff_write_json(const summary_t *base, const summary_t *now, FILE *out);

#endif
