/* A PE that stops calling into ROFI is still served: its progress thread
 * reads the CQ for it.  PE 0 first polls for 60 ms (its own gets), so its
 * progress thread is in its longest naps (progress.c), then goes away: it
 * watches its own memory without a single ROFI call.  Meanwhile every other
 * PE puts, gets and fetch-adds on it (on tcp;ofi_rxm these complete only
 * while something reads PE 0's CQ; with ROFI_PROGRESS_THREAD=0 this test
 * fails there, its ops ending in ROFI_ETIMEDOUT), then marks its slot.
 * PE 0 checks that every put and add landed.  PE 1 prints how long its
 * first round took (bounded by the thread's nap, a few ms; not asserted:
 * speed is for benchmarks). */
#include <sched.h>
#include <time.h>

#include "common.h"

#define OPS 20
#define AWAY_S 30 /* PE 0 fails if the peers are not done by then */

enum { COUNTER = 0, SLOTS = 1 /* one per PE: the last value it put */ };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Every peer has put its last value (OPS) into its slot. */
static int all_done(volatile uint64_t *heap)
{
    for (int pe = 1; pe < np; pe++)
        if (heap[SLOTS + pe] != OPS)
            return 0;
    return 1;
}

int main(void)
{
    setenv("ROFI_TIMEOUT", "10", 0); /* a failure ends in 10 s, not 60 */
    test_init();
    uint64_t *heap;
    OK(rofi_alloc((size_t)(SLOTS + np) * sizeof(uint64_t), (void **)&heap));
    int adds = rofi_atomic_supported(ROFI_ATOMIC_FETCH_ADD, ROFI_UINT64) == 1;
    OK(rofi_barrier());
    if (me == 0) {
        uint64_t v;
        for (double end = now_s() + 0.06; now_s() < end;)
            OK(rofi_get(&v, heap, sizeof v, 1));
    }
    OK(rofi_barrier());
    if (me == 0) {
        /* Away: no ROFI call until the peers are done. */
        volatile uint64_t *h = heap;
        double end = now_s() + AWAY_S;
        while (!all_done(h) && now_s() < end)
            sched_yield(); /* P > cores: let the peers run */
        CHECK(all_done(h), "peers not done after %d s away", AWAY_S);
        uint64_t want = adds ? (uint64_t)OPS * (uint64_t)(np - 1) : 0;
        CHECK(h[COUNTER] == want, "counter %llu, want %llu", (unsigned long long)h[COUNTER],
              (unsigned long long)want);
    } else {
        double t0 = now_s();
        for (uint64_t i = 1; i <= OPS; i++) {
            add_and_read(&heap[COUNTER], 0, i - 1, adds);
            OK(rofi_put(&heap[SLOTS + me], &i, sizeof i, 0));
            if (i == 1 && me == 1)
                fprintf(stderr, "away: PE 1's first round on PE 0 took %.2f ms\n",
                        (now_s() - t0) * 1e3);
        }
    }
    OK(rofi_barrier());
    OK(rofi_release(heap));
    return test_finish("away");
}
