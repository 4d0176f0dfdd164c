/* ops8.h - what t_overhead and t_thread_cost share: the 8 B operations
 * they time through ROFI, pairs of batches that alternate, and the checks
 * that make each of their runs a test too (every get reads the target's
 * pattern, every fetch_add returns the count so far, and at the end the
 * target holds the last value put and the total of the adds).
 *
 * PE 0 times; its target is PE 1, or with one PE, PE 0 itself: then no
 * other process is in the loop (no cross-core traffic, no peer's polling),
 * and the difference between two ways of doing an op is the software
 * alone, to a few nanoseconds. */
#ifndef ROFI_TEST_OPS8_H
#define ROFI_TEST_OPS8_H

#include <stdlib.h>

#include "rofi_internal.h" /* rofi.prov_name */
#include "common.h"

/* Words of the symmetric buffer: the target's, then what PE 0 did. */
enum { PUT_W = 0, GET_W = 1, ADD_W = 2, FLAG_W = 16 /* and 17 */ };
static int tgt; /* the target PE (ops8_start) */
#define PATTERN 0x5eedf00dcafe1234ull

static uint64_t *buf;      /* symmetric, 4096 bytes */
static uint64_t seq, adds; /* puts issued (values written), fetch_adds done */

static void rofi_put8(void)
{
    uint64_t v = ++seq;
    OK(rofi_put(&buf[PUT_W], &v, 8, tgt));
}

static void rofi_get8(void)
{
    uint64_t v = 0;
    OK(rofi_get(&v, &buf[GET_W], 8, tgt));
    CHECK(v == PATTERN, "rofi_get read %#llx", (unsigned long long)v);
}

static void rofi_fetch_add(void)
{
    uint64_t one = 1, old = 0;
    OK(rofi_atomic(ROFI_ATOMIC_FETCH_ADD, ROFI_UINT64, &buf[ADD_W], &one, NULL, &old, tgt));
    CHECK(old == adds, "rofi fetch_add returned %llu, want %llu", (unsigned long long)old,
          (unsigned long long)adds);
    adds++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Times `pairs` pairs of batches, side 0 then side 1 (1 then 0 in every
 * other pair, so neither always runs warm), and prints one JSON line:
 *   {"op":..,"bytes":8,"provider":..,"pairs":N,BATCH_JSON,"NAME0":X,
 *    "NAME1":Y,"ratio":R,"ratio_p5":..,"ratio_p95":..}
 * with each side's median batch and the median of per-pair ratios 1/0. */
static void ops8_pairs(const char *op, long pairs, const char *batch_json,
                       double (*batch)(int side), const char *name0, const char *name1)
{
    double *t0 = malloc(3 * (size_t)pairs * sizeof *t0), *t1 = t0 + pairs, *q = t1 + pairs;
    if (!t0) {
        CHECK(0, "out of memory");
        return;
    }
    batch(0); /* warm-up */
    batch(1);
    for (long i = 0; i < pairs; i++) {
        if (i & 1) {
            t1[i] = batch(1);
            t0[i] = batch(0);
        } else {
            t0[i] = batch(0);
            t1[i] = batch(1);
        }
        q[i] = t1[i] / t0[i];
    }
    qsort(t0, (size_t)pairs, sizeof *t0, cmp_double);
    qsort(t1, (size_t)pairs, sizeof *t1, cmp_double);
    qsort(q, (size_t)pairs, sizeof *q, cmp_double);
    printf("{\"op\":\"%s\",\"bytes\":8,\"provider\":\"%s\",\"pairs\":%ld,%s,"
           "\"%s\":%.1f,\"%s\":%.1f,\"ratio\":%.3f,\"ratio_p5\":%.3f,\"ratio_p95\":%.3f}\n",
           op, rofi.prov_name, pairs, batch_json, name0, t0[pairs / 2], name1, t1[pairs / 2],
           q[pairs / 2], q[pairs / 20], q[pairs - 1 - pairs / 20]);
    fflush(stdout);
    free(t0);
}

/* Collective, after rofi_init: the buffer, with the target's pattern in
 * place. */
static void ops8_start(void)
{
    tgt = np >= 2 ? 1 : 0;
    OK(rofi_alloc(4096, (void **)&buf));
    buf[GET_W] = PATTERN;
    OK(rofi_barrier());
}

/* Collective, after the timing: PE 0 tells the target what it did; the
 * target checks that the last put and every fetch_add landed. */
static void ops8_check(void)
{
    if (me == 0) {
        uint64_t done[2] = { seq, adds };
        OK(rofi_put(&buf[FLAG_W], done, sizeof done, tgt));
    }
    OK(rofi_barrier());
    if (me == tgt) {
        CHECK(buf[PUT_W] == buf[FLAG_W] && buf[PUT_W] > 0, "last put %llu, PE 0 issued %llu",
              (unsigned long long)buf[PUT_W], (unsigned long long)buf[FLAG_W]);
        CHECK(buf[ADD_W] == buf[FLAG_W + 1] && buf[ADD_W] > 0,
              "%llu fetch_adds landed, PE 0 did %llu", (unsigned long long)buf[ADD_W],
              (unsigned long long)buf[FLAG_W + 1]);
    }
}

#endif
