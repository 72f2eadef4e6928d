/* The CI gate: whether what the program leaks is within limits, or within limits beyond a
 * baseline; offending sites printed as "file:line: N bytes in M blocks leaked (function)", the
 * form editors and CI annotators pick up; JUnit XML for CI systems that show test results. */
#ifndef IMGLEAK_GATE_H
#define IMGLEAK_GATE_H

#include "cli.h"
#include "summary.h"

#include <stdio.h>

/* 0: within limits; 1: not, or data was lost (now->dropped) and o->accept_dropped is not set;
 * -1 with error_get() (the JUnit file could not be written). base may be NULL. Only the
 * program's own sites (in_app) count; unattributed memory is said, not counted. */
int gate_check(const cli_opts_t *o, const summary_t *now, const summary_t *base, FILE *out);

#endif
