/* overhead_pairs.h - the one input of t_overhead and t_thread_cost:
 * OVERHEAD_PAIRS, the number of pairs of batches to time per op.  Its own
 * file so that a unit test (t_overhead_pairs) checks what is accepted and
 * what is refused. */
#ifndef ROFI_TEST_OVERHEAD_PAIRS_H
#define ROFI_TEST_OVERHEAD_PAIRS_H

#include <stdlib.h>

enum { OVERHEAD_PAIRS_MIN = 20, OVERHEAD_PAIRS_MAX = 1000000 };

/* The pairs `text` asks for (unset or empty: `unset`), or -1 if it is
 * not a whole number from OVERHEAD_PAIRS_MIN to OVERHEAD_PAIRS_MAX: fewer
 * pairs give no percentiles worth printing. */
static inline long overhead_pairs(const char *text, long unset)
{
    if (!text || !*text)
        return unset;
    char *end;
    long n = strtol(text, &end, 10);
    return *end || n < OVERHEAD_PAIRS_MIN || n > OVERHEAD_PAIRS_MAX ? -1 : n;
}

#endif
