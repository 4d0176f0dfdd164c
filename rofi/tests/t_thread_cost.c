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
 * With two PEs the target is PE 1, whose own thread runs throughout, as it
 * would; with one, PE 0 itself (ops8.h).  It is also a test: the target
 * ends with the last value put and the total of the fetch_adds, every get
 * reads its pattern, and every fetch_add returns the count so far.
 *
 *   OVERHEAD_PAIRS=100 ROFI_PROVIDER='tcp;ofi_rxm' lamellar-run -n 2 --bind-to core tests/t_thread_cost
 */
#include <stdio.h>
#include <stdlib.h>

#include "rofi_internal.h" /* rofi_progress_start/stop, rofi_now */
#include "ops8.h"
#include "overhead_pairs.h"

#define BATCH_S 0.03 /* ~6 of the thread's longest naps */
#define WARM_S 0.015

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

static void (*timed_op)(void);

/* ns per op over one batch, side 0 with the thread stopped, side 1 with it
 * running.  A thread just started first gets WARM_S of traffic, unmeasured,
 * to reach its longest naps (20 us doubling to 5.12 ms: ~10 ms). */
static double side_batch(int on)
{
    if (on && !rofi.progress_thread) {
        OK(rofi_progress_start());
        run_for(timed_op, WARM_S);
    } else if (!on) {
        rofi_progress_stop();
    }
    return run_for(timed_op, BATCH_S);
}

static void compare(const char *op, void (*f)(void), long pairs)
{
    char batch[32];
    snprintf(batch, sizeof batch, "\"batch_ms\":%.0f", BATCH_S * 1e3);
    timed_op = f;
    ops8_pairs(op, pairs, batch, side_batch, "off_ns", "on_ns");
}

int main(void)
{
    /* Unset: the fewest pairs (make check runs it; each pair takes 75 ms). */
    long pairs = overhead_pairs_env("t_thread_cost", OVERHEAD_PAIRS_MIN);
    if (pairs < 0)
        return 2;
    setenv("ROFI_PROGRESS_THREAD", "1", 1); /* also where the provider progresses itself */
    test_init();
    ops8_start();
    if (me == 0) {
        compare("put", rofi_put8, pairs);
        compare("get", rofi_get8, pairs);
        compare("fetch_add", rofi_fetch_add, pairs);
        side_batch(1); /* the thread back on, as ROFI runs */
    }
    ops8_check();
    return test_finish("thread_cost");
}
