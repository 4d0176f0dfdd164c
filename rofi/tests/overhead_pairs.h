/* overhead_pairs.h - the one input of t_overhead and t_thread_cost:
 * OVERHEAD_PAIRS, the number of pairs of batches to time per op.  Its own
 * file so that a unit test (t_overhead_pairs) checks what is accepted and
 * what is refused. */
#ifndef ROFI_TEST_OVERHEAD_PAIRS_H
#define ROFI_TEST_OVERHEAD_PAIRS_H

#include <stdio.h>
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

/* OVERHEAD_PAIRS from the environment for program `prog`, or -1 after
 * saying why on stderr (the caller then exits 2, before rofi_init, so every
 * PE fails alike, at once). */
static inline long overhead_pairs_env(const char *prog, long unset)
{
    const char *text = getenv("OVERHEAD_PAIRS");
    long pairs = overhead_pairs(text, unset);
    if (pairs < 0)
        fprintf(stderr, "%s: OVERHEAD_PAIRS=%s: want a number of pairs, %d to %d\n", prog,
                text, OVERHEAD_PAIRS_MIN, OVERHEAD_PAIRS_MAX);
    return pairs;
}

#endif
