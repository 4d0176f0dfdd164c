/* With PE 0 away (no ROFI calls, no progress thread), the others' waits
 * end in ROFI_ETIMEDOUT (ROFI_TIMEOUT=2) instead of hanging: a barrier PE 0
 * never joins, and on tcp;ofi_rxm (where a put lands only while its target
 * reads its CQ) a blocking put to PE 0.  That put is still in flight when
 * its call gives up, so a quiet after it must not report completion. */
#include <time.h>

#include "common.h"

int main(void)
{
    setenv("ROFI_TIMEOUT", "2", 1);
    setenv("ROFI_PROGRESS_THREAD", "0", 1);
    test_init();
    const char *prov = getenv("ROFI_PROVIDER");
    int software = prov && strstr(prov, "ofi_rxm");
    long *heap;
    OK(rofi_alloc(64, (void **)&heap));
    if (me == 0) {
        /* Stay away until the others have given up three times (~6 s). */
        struct timespec ts = { 9, 0 };
        nanosleep(&ts, NULL);
    } else {
        time_t t0 = time(NULL);
        FAILS_WITH(ROFI_ETIMEDOUT, rofi_barrier());
        CHECK(time(NULL) - t0 < 10, "timeout took %ld s", (long)(time(NULL) - t0));
        long v = 7;
        int rc = rofi_put(heap, &v, sizeof v, 0);
        if (software)
            CHECK(rc == ROFI_ETIMEDOUT, "put to an absent PE over %s returned %d", prov, rc);
        if (rc == ROFI_ETIMEDOUT)
            FAILS_WITH(ROFI_ETIMEDOUT, rofi_quiet());
        else
            OK(rc);
    }
    /* Sequence numbers now disagree: finalize may time out too, or (PE 0)
     * find its peers gone (ROFI_EPEER); it must still return and release everything. */
    int rc = rofi_finalize();
    if (rc && rc != ROFI_ETIMEDOUT && rc != ROFI_EPEER)
        CHECK(0, "finalize returned %d", rc);
    if (failures)
        fprintf(stderr, "[pe %d] timeout: %d check(s) FAILED\n", me, failures);
    else if (me == 0)
        printf("timeout: ok (P=%d)\n", np);
    return failures ? 1 : 0;
}
