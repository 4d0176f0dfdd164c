/* Whether waits yield the CPU: only on an oversubscribed node, unless
 * ROFI_YIELD says otherwise.  Launched unbound on one machine (make check),
 * every PE may use the same CPUs, so the node is oversubscribed exactly when
 * P exceeds their number.  PE 1 forces yielding and PE 2 forbids it, set
 * before init: PEs with different settings must still initialize together,
 * and the others keep the automatic decision. */
#define _GNU_SOURCE
#include <sched.h>
#include <time.h>

#include "common.h"

int main(void)
{
    FAILS_WITH(ROFI_ESTATE, rofi_yields_when_waiting());
    const char *r = getenv("PMI_RANK");
    int rank = r ? atoi(r) : 0;
    if (rank == 1)
        setenv("ROFI_YIELD", "1", 1);
    else if (rank == 2)
        setenv("ROFI_YIELD", "0", 1);
    else
        unsetenv("ROFI_YIELD");
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0, "sched_getaffinity");
    int cpus = CPU_COUNT(&set);
    test_init();
    int want = rank == 1 ? 1 : rank == 2 ? 0 : np > cpus;
    int got = rofi_yields_when_waiting();
    CHECK(got == want, "PE %d of %d on %d CPUs: yields %d, want %d", me, np, cpus, got, want);
    /* Waits work either way: everyone waits in a barrier for a late PE 0. */
    if (me == 0) {
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    OK(rofi_barrier());
    return test_finish("yield");
}
