/* t_thread_cost.c - what ROFI's progress thread costs the calling thread.
 *
 * While the application keeps calling in, the progress thread naps, and each
 * nap's end is a wakeup that takes the core from the application for a
 * moment (progress.c).  PE 0 times put, get (8 B) and fetch_add (uint64)
 * through ROFI in batches of BATCH_S seconds, its progress thread running in
 * one batch and stopped in the other, alternating (each first in every
 * other pair): the host's state, which moves from second to second, is the
 * same for both halves of a pair.  Before a batch with the thread, it gets
 * time to reach its longest naps, so the batch measures its steady state.
 * One JSON line per op (medians over pairs; the ratio is the median of
 * per-pair ratios, on over off):
 *   {"op":"put","bytes":8,"provider":"shm","pairs":N,"batch_ms":30,
 *    "off_ns":X,"on_ns":Y,"ratio":R,"ratio_p5":..,"ratio_p95":..}
 * PE 1's own thread runs throughout, as it would.  It is also a test: PE 1
 * ends with the last value put and the total of the fetch_adds, every get
 * reads PE 1's pattern, and every fetch_add returns the count so far.
 *
 *   OVERHEAD_PAIRS=100 ROFI_PROVIDER='tcp;ofi_rxm' lamellar-run -n 2 --bind-to core tests/t_thread_cost
 */
#include <stdio.h>
#include <stdlib.h>

#include "rofi_internal.h" /* rofi_progress_start/stop, rofi_now */
#include "common.h"
#include "overhead_pairs.h"

enum { PUT_W = 0, GET_W = 1, ADD_W = 2, FLAG_W = 16 /* and 17 */ };
#define PATTERN 0x5eedf00dcafe1234ull
#define BATCH_S 0.03 /* ~6 of the thread's longest naps */
#define WARM_S 0.015

static uint64_t *buf; /* symmetric: target words on PE 1 */
static uint64_t seq, adds;

static void put8(void)
{
    uint64_t v = ++seq;
    OK(rofi_put(&buf[PUT_W], &v, 8, 1));
}

static void get8(void)
{
    uint64_t v = 0;
    OK(rofi_get(&v, &buf[GET_W], 8, 1));
    CHECK(v == PATTERN, "rofi_get read %#llx", (unsigned long long)v);
}

static void fetch_add(void)
{
    uint64_t one = 1, old = 0;
    OK(rofi_atomic(ROFI_ATOMIC_FETCH_ADD, ROFI_UINT64, &buf[ADD_W], &one, NULL, &old, 1));
    CHECK(old == adds, "fetch_add returned %llu, want %llu", (unsigned long long)old,
          (unsigned long long)adds);
    adds++;
}

/* Runs f for `seconds`; returns ns per op. */
static double run_for(void (*f)(void), double seconds)
{
    long n = 0;
    double t0 = rofi_now(), t;
    do {
        for (int i = 0; i < 16; i++)
            f();
        n += 16;
    } while ((t = rofi_now()) - t0 < seconds);
    return (t - t0) * 1e9 / (double)n;
}

/* ns per op over one batch, with the thread running or not.  A thread just
 * started first gets WARM_S of traffic, unmeasured, to reach its longest
 * naps (20 us doubling to 5.12 ms: ~10 ms). */
static double batch_ns(void (*f)(void), int on)
{
    if (on && !rofi.progress_thread) {
        OK(rofi_progress_start());
        run_for(f, WARM_S);
    } else if (!on) {
        rofi_progress_stop();
    }
    return run_for(f, BATCH_S);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void compare(const char *op, void (*f)(void), long pairs)
{
    double *off = malloc(3 * (size_t)pairs * sizeof *off), *on = off + pairs, *q = on + pairs;
    CHECK(off != NULL, "out of memory");
    if (!off)
        return;
    batch_ns(f, 1); /* warm-up */
    for (long i = 0; i < pairs; i++) {
        if (i & 1) {
            on[i] = batch_ns(f, 1);
            off[i] = batch_ns(f, 0);
        } else {
            off[i] = batch_ns(f, 0);
            on[i] = batch_ns(f, 1);
        }
        q[i] = on[i] / off[i];
    }
    qsort(off, (size_t)pairs, sizeof *off, cmp_double);
    qsort(on, (size_t)pairs, sizeof *on, cmp_double);
    qsort(q, (size_t)pairs, sizeof *q, cmp_double);
    printf("{\"op\":\"%s\",\"bytes\":8,\"provider\":\"%s\",\"pairs\":%ld,\"batch_ms\":%.0f,"
           "\"off_ns\":%.1f,\"on_ns\":%.1f,\"ratio\":%.3f,\"ratio_p5\":%.3f,"
           "\"ratio_p95\":%.3f}\n",
           op, rofi.prov_name, pairs, BATCH_S * 1e3, off[pairs / 2], on[pairs / 2], q[pairs / 2],
           q[pairs / 20], q[pairs - 1 - pairs / 20]);
    fflush(stdout);
    free(off);
}

int main(void)
{
    /* Unset: the fewest pairs (make check runs it; each pair takes 75 ms). */
    const char *p = getenv("OVERHEAD_PAIRS");
    long pairs = overhead_pairs(p, OVERHEAD_PAIRS_MIN);
    if (pairs < 0) {
        fprintf(stderr, "t_thread_cost: OVERHEAD_PAIRS=%s: want a number of pairs, %d to %d\n",
                p, OVERHEAD_PAIRS_MIN, OVERHEAD_PAIRS_MAX);
        return 2; /* before rofi_init: every PE fails alike, at once */
    }
    setenv("ROFI_PROGRESS_THREAD", "1", 1); /* also where the provider progresses itself */
    test_init();
    OK(rofi_alloc(4096, (void **)&buf));
    buf[GET_W] = PATTERN;
    OK(rofi_barrier());
    if (me == 0 && np >= 2) {
        compare("put", put8, pairs);
        compare("get", get8, pairs);
        compare("fetch_add", fetch_add, pairs);
        batch_ns(put8, 1); /* the thread back on, as ROFI runs */
        uint64_t done[2] = { seq, adds }; /* what PE 1 must see */
        OK(rofi_put(&buf[FLAG_W], done, sizeof done, 1));
    }
    OK(rofi_barrier());
    if (me == 1) {
        CHECK(buf[PUT_W] == buf[FLAG_W] && buf[PUT_W] > 0, "last put %llu, PE 0 issued %llu",
              (unsigned long long)buf[PUT_W], (unsigned long long)buf[FLAG_W]);
        CHECK(buf[ADD_W] == buf[FLAG_W + 1] && buf[ADD_W] > 0, "%llu fetch_adds landed, PE 0 did %llu",
              (unsigned long long)buf[ADD_W], (unsigned long long)buf[FLAG_W + 1]);
    }
    return test_finish("thread_cost");
}
